import Foundation
import VolumeIO

/// What a region stands for; one family of regions never overlaps, families may.
public enum RegionKind: String, Codable, Sendable, CaseIterable {
    case roi          // a label of a user's MRI/CT segmentation
    case habitat      // a cluster of voxel-wise features inside an ROI
    case ring         // a distance band around a lesion (inner or outer)
    case sector       // an atlas sector (e.g. prostate base/mid/apex × L/R × PZ/TZ)
    case slide        // a slide region (GeoJSON annotation, heatmap hot spot) carried to the volume
}

/// One region of a family: the label its voxels carry and how it was defined.
public struct RegionInfo: Codable, Equatable, Sendable {
    public var label: Int
    public var name: String
    public var kind: RegionKind
    /// Human-readable definition, e.g. "ring 0–3 mm outside lesion 1" (goes into the data dictionary).
    public var definition: String

    public init(label: Int, name: String, kind: RegionKind, definition: String) {
        self.label = label
        self.name = name
        self.kind = kind
        self.definition = definition
    }
}

/// A family of non-overlapping regions on one volume grid: voxel value = region label, 0 = none.
public struct RegionMap: Sendable {
    /// Family name, used in file names and columns ("sectors", "rings", "habitats", …).
    public var family: String
    public var labels: Volume
    public var regions: [RegionInfo]

    public init(family: String, labels: Volume, regions: [RegionInfo]) {
        self.family = family
        self.labels = labels
        self.regions = regions
    }

    /// Voxel indices (linear, x fastest) of one region.
    public func voxels(of label: Int) -> [Int] {
        let value = Float(label)
        var out: [Int] = []
        for (i, v) in labels.voxels.enumerated() where v == value { out.append(i) }
        return out
    }

    /// A 0/1 mask volume of one region on the same grid.
    public func mask(of label: Int) -> Volume {
        var m = labels
        let value = Float(label)
        m.voxels = labels.voxels.map { $0 == value ? 1 : 0 }
        return m
    }
}
