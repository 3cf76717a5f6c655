import Foundation
import ImageCore
import VolumeIO

extension RegionMap {
    /// Voxels per region label (labels of `regions` only; 0 when a region is empty).
    public func voxelCounts() -> [Int: Int] {
        var counts = Dictionary(uniqueKeysWithValues: regions.map { ($0.label, 0) })
        for v in labels.voxels where v != 0 { if let c = counts[Int(v)] { counts[Int(v)] = c + 1 } }
        return counts
    }

    /// Writes `<folder>/<family>.nii.gz` (int16 labels on the grid, 0 = none) and
    /// `<folder>/<family>.json` (format, grid, regions with voxel counts and mm³, and
    /// `provenance`, any JSON values). Both atomic.
    public func write(folder: String, provenance: [String: Any] = [:]) throws {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let nifti = "\(family).nii.gz"
        try NIfTI.write(labels, to: folder + "/" + nifti, as: .int16)
        let counts = voxelCounts()
        let voxelMM3 = labels.spacing.x * labels.spacing.y * labels.spacing.z
        let doc: [String: Any] = [
            "format": "radiopath-regions/1",
            "family": family,
            "labels_file": nifti,
            "space": "LPS mm; voxel value = region label, 0 = no region",
            "grid": ["size": [labels.size.x, labels.size.y, labels.size.z], "spacing": [labels.spacing.x, labels.spacing.y, labels.spacing.z],
                     "origin": [labels.origin.x, labels.origin.y, labels.origin.z], "direction": labels.direction],
            "regions": regions.map { r -> [String: Any] in
                ["label": r.label, "name": r.name, "kind": r.kind.rawValue, "definition": r.definition,
                 "voxels": counts[r.label] ?? 0, "volume_mm3": Double(counts[r.label] ?? 0) * voxelMM3]
            },
            "provenance": provenance,
        ]
        let data = try JSONSerialization.data(withJSONObject: doc, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        try AtomicFile.write(data, to: folder + "/\(family).json")
    }

    /// Family names in `folder`: every `<name>.json` with a `<name>.nii.gz` (or `.nii`) beside it, sorted.
    public static func families(in folder: String) throws -> [String] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder) else {
            throw RegionsError("\(folder): cannot list the regions folder", hint: "give the output folder of `radiopath regions`")
        }
        let set = Set(names)
        return names.filter { $0.hasSuffix(".json") }.map { String($0.dropLast(5)) }
            .filter { set.contains($0 + ".nii.gz") || set.contains($0 + ".nii") }.sorted()
    }

    /// Reads what `write(folder:provenance:)` wrote.
    public static func read(folder: String, family: String) throws -> RegionMap {
        let path = folder + "/\(family).json"
        guard let data = FileManager.default.contents(atPath: path),
              let doc = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let list = doc["regions"] as? [[String: Any]] else {
            throw RegionsError("\(path): missing or not a RadioPath region family", hint: "write it with `radiopath regions`")
        }
        let regions = try list.map { r -> RegionInfo in
            guard let label = r["label"] as? Int, let name = r["name"] as? String, let kind = (r["kind"] as? String).flatMap(RegionKind.init) else {
                throw RegionsError("\(path): a region lacks label, name or kind", hint: "rewrite it with `radiopath regions`")
            }
            return RegionInfo(label: label, name: name, kind: kind, definition: r["definition"] as? String ?? "")
        }
        var seen = Set<Int>()
        for r in regions where !seen.insert(r.label).inserted || r.label <= 0 {
            throw RegionsError("\(path): region label \(r.label) is repeated or not positive", hint: "labels are unique integers ≥ 1; 0 is background")
        }
        let labels = try NIfTI.read(folder + "/" + (doc["labels_file"] as? String ?? "\(family).nii.gz"))
        return RegionMap(family: doc["family"] as? String ?? family, labels: labels, regions: regions)
    }
}
