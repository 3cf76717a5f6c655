import Foundation
import ImageCore
import VolumeIO

/// A sector atlas defined as data (`Atlases/<name>-sectors.json`): levels along one patient
/// axis, sides along another, zones (a peripheral shell or a zone label volume), optionally
/// split anterior/posterior. Directions are patient directions (LPS), never voxel axes.
public struct SectorAtlas: Codable, Sendable {
    public struct Axis: Codable, Sendable {
        public var axis: String
        public var names: [String]
        public var rule: String?
    }
    public struct Approximation: Codable, Sendable {
        public var shell_thickness_mm: Double
        public var in_plane: Bool
        public var posterior_of_centroid: Bool
        public var rule: String
    }
    public struct Zones: Codable, Sendable {
        public var names: [String]
        public var peripheral: String
        public var other: String
        public var approximation: Approximation
        public var zone_labels: [String: Int]
    }
    public struct Split: Codable, Sendable {
        public var split_zones: [String]
        public var names: [String]
        public var rule: String?
    }
    public var format: String
    public var name: String
    public var title: String
    public var levels: Axis
    public var sides: Axis
    public var zones: Zones
    public var anterior_posterior: Split
    public var name_pattern: String

    /// A shipped atlas by name ("prostate" → `Atlases/prostate-sectors.json`) or a JSON path.
    public static func named(_ nameOrPath: String) throws -> SectorAtlas {
        let path: String
        if nameOrPath.hasSuffix(".json") || nameOrPath.contains("/") {
            path = nameOrPath
        } else {
            let folders = PackageResources.folders("Atlases", environment: "RADIOPATH_ATLASES")
            guard let found = folders.map({ "\($0)/\(nameOrPath)-sectors.json" }).first(where: { FileManager.default.fileExists(atPath: $0) }) else {
                throw RegionsError("sectors: no atlas '\(nameOrPath)-sectors.json' in \(folders.joined(separator: ", "))",
                                   hint: "use 'prostate', give an atlas JSON path, or set RADIOPATH_ATLASES to the package's Atlases folder")
            }
            path = found
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw RegionsError("\(path): cannot read the sector atlas", hint: "check the path")
        }
        let atlas: SectorAtlas
        do { atlas = try JSONDecoder().decode(SectorAtlas.self, from: data) } catch {
            throw RegionsError("\(path): not a sector atlas (\(error))", hint: "follow the layout of Atlases/prostate-sectors.json")
        }
        try atlas.validate(path)
        return atlas
    }

    func validate(_ path: String) throws {
        for a in [levels.axis, sides.axis] where Self.direction(a) == nil {
            throw RegionsError("\(path): unknown axis '\(a)'", hint: "use superior, inferior, left, right, posterior or anterior")
        }
        guard !levels.names.isEmpty, !sides.names.isEmpty, sides.names.count <= 2, zones.names.contains(zones.peripheral),
              zones.names.contains(zones.other), anterior_posterior.names.count == 2, zones.approximation.shell_thickness_mm > 0 else {
            throw RegionsError("\(path): levels/sides/zones are incomplete", hint: "follow the layout of Atlases/prostate-sectors.json")
        }
    }

    /// LPS unit vector of a patient direction.
    static func direction(_ name: String) -> SIMD3<Double>? {
        switch name.lowercased() {
        case "left": return SIMD3(1, 0, 0)
        case "right": return SIMD3(-1, 0, 0)
        case "posterior": return SIMD3(0, 1, 0)
        case "anterior": return SIMD3(0, -1, 0)
        case "superior": return SIMD3(0, 0, 1)
        case "inferior": return SIMD3(0, 0, -1)
        default: return nil
        }
    }

    /// Zone names after the anterior/posterior split.
    var zoneNames: [String] {
        zones.names.flatMap { z in anterior_posterior.split_zones.contains(z) ? anterior_posterior.names.map { z + $0 } : [z] }
    }

    /// The sector names in label order (label = index + 1).
    public var sectorNames: [String] {
        levels.names.flatMap { l in sides.names.flatMap { s in zoneNames.map { z in
            name_pattern.replacingOccurrences(of: "{level}", with: l).replacingOccurrences(of: "{side}", with: s).replacingOccurrences(of: "{zone}", with: z)
        } } }
    }
}
