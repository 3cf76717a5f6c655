import Foundation
import ImageCore
import VolumeIO

extension RegionMap {
    /// A score volume on the family's grid: each voxel of a region with a value carries it;
    /// other voxels (no region, or a region without a finite value) carry `outside`.
    public func scoreVolume(_ values: [Int: Double], outside: Float = 0) -> Volume {
        var out = labels
        out.voxels = labels.voxels.map { v in
            guard v != 0, let x = values[Int(v)], x.isFinite else { return outside }
            return Float(x)
        }
        return out
    }
}

/// Region-level values (e.g. mean attention of the patches that fall in each region) painted
/// back on the MRI, as files 3D Slicer and any viewer read.
public enum MapsBack {
    public struct Files: Sendable {
        /// Float32 NIfTI: the region's value in each voxel, 0 elsewhere.
        public var scores: String
        /// Int16 NIfTI: the region labels of the regions that have a value.
        public var labels: String
        /// The montage PNG: grey MRI, regions coloured by value, outlines, colour bar.
        public var png: String
    }

    /// Writes `<folder>/<name>_scores.nii.gz`, `<name>_labels.nii.gz` and `<name>.png`.
    /// Values of labels that are not regions of `map` are an error (a mismatched table).
    public static func write(_ map: RegionMap, image: Volume, values: [Int: Double], folder: String, name: String,
                             colormap: String = "viridis", range: ClosedRange<Double>? = nil) throws -> Files {
        let known = Set(map.regions.map(\.label))
        let unknown = values.keys.filter { !known.contains($0) }.sorted()
        guard unknown.isEmpty else {
            throw RegionsError("maps: values for labels \(unknown) that are not regions of family '\(map.family)'",
                               hint: "give values keyed by the family's region labels")
        }
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let files = Files(scores: "\(folder)/\(name)_scores.nii.gz", labels: "\(folder)/\(name)_labels.nii.gz", png: "\(folder)/\(name).png")
        try NIfTI.write(map.scoreVolume(values), to: files.scores, as: .float32)
        var labels = map.labels
        labels.voxels = labels.voxels.map { v in v != 0 && (values[Int(v)]?.isFinite ?? false) ? v : 0 }
        try NIfTI.write(labels, to: files.labels, as: .int16)
        let png = try RegionPainter.scores(map, image: image, values: values, colormap: try RegionColormap.named(colormap), range: range,
                                           title: "\(name) (\(map.family))")
        try AtomicFile.write(try PNGCodec.encode(png), to: files.png)
        return files
    }
}
