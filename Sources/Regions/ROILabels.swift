import Foundation
import VolumeIO

/// Regions from a user's label volume: each distinct non-zero integer label is a region.
public enum ROILabels {
    /// `names` maps labels to names (default "roi_<label>"). Values must be integers.
    public static func make(_ labels: Volume, names: [Int: String] = [:], family: String = "roi") throws -> RegionMap {
        var present = Set<Int>()
        for v in labels.voxels where v != 0 {
            guard v == v.rounded(), abs(v) < 32768 else {
                throw RegionsError("roi: the label volume holds the non-integer value \(v)", hint: "give an integer label map (0 = background)")
            }
            present.insert(Int(v))
        }
        guard !present.isEmpty else { throw RegionsError("roi: the label volume is empty", hint: "give a mask with non-zero labels") }
        let regions = present.sorted().map {
            RegionInfo(label: $0, name: names[$0] ?? "roi_\($0)", kind: .roi, definition: "voxels with value \($0) in the given label volume")
        }
        return RegionMap(family: family, labels: labels, regions: regions)
    }
}
