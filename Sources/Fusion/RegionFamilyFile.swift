import Foundation
import ImageCore
import Regions
import VolumeIO

/// `<family>.nii.gz` (labels on the MRI grid) + `<family>.json` (`{"family": …, "regions":
/// [RegionInfo…]}`), as `radiopath regions` writes them. Fusion's own reader, so it depends on
/// the `RegionMap` interface only.
public enum RegionFamilyFile {
    struct Document: Codable { var family: String; var regions: [RegionInfo] }

    /// Family names in `folder`: every `<name>.json` with a `<name>.nii.gz` (or `.nii`) beside it, sorted.
    public static func families(in folder: String) throws -> [String] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder) else {
            throw FusionError("\(folder): cannot list the regions folder", hint: "give the output folder of `radiopath regions`")
        }
        let set = Set(names)
        return names.filter { $0.hasSuffix(".json") }.map { String($0.dropLast(5)) }
            .filter { set.contains($0 + ".nii.gz") || set.contains($0 + ".nii") }.sorted()
    }

    public static func read(folder: String, family: String) throws -> RegionMap {
        let json = folder + "/" + family + ".json"
        guard let data = FileManager.default.contents(atPath: json) else {
            throw FusionError("\(json): not found", hint: "rerun `radiopath regions`")
        }
        let doc: Document
        do { doc = try JSONDecoder().decode(Document.self, from: data) } catch {
            throw FusionError("\(json): not a region family file (\(error))", hint: "expected {\"family\": …, \"regions\": [{label, name, kind, definition}…]}")
        }
        let nii = FileManager.default.fileExists(atPath: folder + "/" + family + ".nii.gz") ? folder + "/" + family + ".nii.gz" : folder + "/" + family + ".nii"
        let labels = try VolumeFile.read(nii)
        var seen = Set<Int>()
        for r in doc.regions where !seen.insert(r.label).inserted || r.label <= 0 {
            throw FusionError("\(json): region label \(r.label) is repeated or not positive", hint: "labels are unique integers ≥ 1; 0 is background")
        }
        return RegionMap(family: doc.family, labels: labels, regions: doc.regions)
    }

    /// Writes both files (atomic each).
    public static func write(_ map: RegionMap, folder: String) throws {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try VolumeFile.write(map.labels, to: folder + "/" + map.family + ".nii.gz")
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try AtomicFile.write(try enc.encode(Document(family: map.family, regions: map.regions)), to: folder + "/" + map.family + ".json")
    }
}
