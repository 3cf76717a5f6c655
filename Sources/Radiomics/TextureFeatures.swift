import Foundation

/// The IBSI chapter 1 texture families.
public enum TextureFamily: String, CaseIterable, Sendable {
    case glcm, glrlm, glszm, gldzm, ngtdm, ngldm
}

/// IBSI aggregation space: per slice (2D), slices pooled (2.5D) or the volume (3D). The slice
/// axis is k.
public enum TextureDimension: String, CaseIterable, Sendable {
    case twoD = "2D", twoAndHalfD = "2_5D", threeD = "3D"
}

/// How GLCM and GLRLM combine their directional matrices: features per matrix then averaged
/// (`_avg`), or one feature set from the merged (summed) matrix (`_comb`). In 2D, "merged"
/// merges the directions of each slice; in 2.5D, "averaged" merges slices per direction.
public enum TextureMerging: String, CaseIterable, Sendable {
    case averaged = "avg", merged = "comb"
}

/// Whose definitions to follow where IBSI and PyRadiomics 3.0.1 differ (see
/// docs/radiomics-texture.md): normalised inverse differences use the highest grey level present
/// instead of Ng, and undefined values take PyRadiomics' fixed stand-ins instead of NaN.
public struct TextureOptions: Sendable {
    public var families: [TextureFamily] = TextureFamily.allCases
    public var dimensions: [TextureDimension] = TextureDimension.allCases
    /// GLCM and GLRLM only; the other families have one matrix per slice or volume.
    public var merging: [TextureMerging] = TextureMerging.allCases
    /// GLCM neighbour offset (Chebyshev distance δ along the 13 directions).
    public var glcmDistance = 1
    /// Count each pair both ways (IBSI and PyRadiomics default).
    public var glcmSymmetric = true
    /// NGTDM and NGLDM neighbourhood: Chebyshev distance δ.
    public var neighbourhoodDistance = 1
    /// NGLDM coarseness α: a neighbour depends on the centre when |Δlevel| ≤ α.
    public var ngldmCoarseness = 0
    public var convention: Convention = .ibsi

    public init() {}
}

public struct TextureError: Error, CustomStringConvertible, Sendable {
    public let description: String
}

/// IBSI texture features (GLCM, GLRLM, GLSZM, GLDZM, NGTDM, NGLDM) of a discretised ROI.
public enum TextureFeatures {
    /// All requested features, tagged with their IBSI identifiers (`cm_joint_max_3D_avg`,
    /// `szm_sze_2_5D`, …), in family → aggregation → feature order. Undefined values (empty
    /// ROI, a flat matrix) are NaN. Families and aggregations run in parallel.
    public static func compute(_ roi: DiscretisedROI, _ options: TextureOptions = TextureOptions()) throws -> [FeatureValue] {
        guard options.glcmDistance >= 1, options.neighbourhoodDistance >= 1, options.ngldmCoarseness >= 0 else {
            throw TextureError(description: "texture options: distances must be ≥ 1 and the NGLDM coarseness ≥ 0 "
                               + "(got GLCM δ=\(options.glcmDistance), neighbourhood δ=\(options.neighbourhoodDistance), α=\(options.ngldmCoarseness))")
        }
        let grid = try TextureGrid(roi, padding: max(options.glcmDistance, options.neighbourhoodDistance, 1))
        var jobs: [() -> [FeatureValue]] = []
        // Canonical order (the IBSI table's) whatever the order of the options.
        for family in TextureFamily.allCases where options.families.contains(family) {
            for dimension in TextureDimension.allCases where options.dimensions.contains(dimension) {
                jobs.append { job(family, dimension, grid, options) }
            }
        }
        let results = TextureResultSlots<[FeatureValue]>(jobs.count)
        DispatchQueue.concurrentPerform(iterations: jobs.count) { results.set($0, jobs[$0]()) }
        return results.all.flatMap { $0 }
    }

    private static func job(_ family: TextureFamily, _ dimension: TextureDimension, _ grid: TextureGrid,
                            _ options: TextureOptions) -> [FeatureValue] {
        switch family {
        case .glcm: return GLCM.features(grid, dimension, options)
        case .glrlm: return GLRLM.features(grid, dimension, options)
        case .glszm: return GLSZM.features(grid, dimension, options)
        case .gldzm: return GLDZM.features(grid, dimension, options)
        case .ngtdm: return NGTDM.features(grid, dimension, options)
        case .ngldm: return NGLDM.features(grid, dimension, options)
        }
    }
}

/// One slot per parallel job; each job writes only its own slot.
final class TextureResultSlots<T>: @unchecked Sendable {
    private var slots: [T?]
    private let lock = NSLock()
    init(_ n: Int) { slots = Array(repeating: nil, count: n) }
    func set(_ i: Int, _ value: T) { lock.lock(); slots[i] = value; lock.unlock() }
    var all: [T] { slots.map { $0! } }
}

/// Tags a family's per-aggregation feature values: `prefix_name_suffix`.
func textureTagged(_ prefix: String, _ names: [String], _ suffix: String, _ values: [Double]) -> [FeatureValue] {
    zip(names, values).map { FeatureValue("\(prefix)_\($0)_\(suffix)", $1) }
}

/// Mean of each feature over several matrices, skipping the matrices where it is undefined
/// (as PyRadiomics' nanmean); NaN when no matrix defines it.
func textureFeatureMean(_ rows: [[Double]], count: Int) -> [Double] {
    var sum = [Double](repeating: 0, count: count), n = [Int](repeating: 0, count: count)
    for row in rows {
        for f in 0..<count where !row[f].isNaN {
            sum[f] += row[f]
            n[f] += 1
        }
    }
    return (0..<count).map { n[$0] > 0 ? sum[$0] / Double(n[$0]) : .nan }
}
