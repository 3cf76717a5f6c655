import Foundation
import VolumeIO

/// Voxel-wise feature maps: for every voxel of the ROI, features of its (2r+1)³ neighbourhood
/// intersected with the ROI. Pre-processing and discretisation run once on the whole ROI (global
/// bins, as PyRadiomics' voxel-based extraction does), so a map value is comparable across voxels.
public enum VoxelFeatureMaps {
    /// The texture default for maps: every family, 3D aggregation only (2D and 2.5D of a
    /// 3×3×3 kernel are rarely wanted and triple the cost).
    public static var defaultTexture: TextureOptions {
        var t = TextureOptions()
        t.dimensions = [.threeD]
        return t
    }

    /// One map per feature tag (IBSI tags: `stat_mean`, `cm_joint_avg_3D_avg`, …), on the
    /// pre-processed grid cropped to the ROI's bounding box, NaN outside the intensity mask.
    /// Intensity statistics and the texture families of `texture` are computed, as far as
    /// `parameters.families` allows (`.statistics`, `.texture`); `features` keeps only the
    /// listed tags (nil: all), and families none of them need are skipped. The texture
    /// convention is `parameters.convention`.
    public static func compute(image: Volume, mask: Volume, label: Int? = nil, parameters: RadiomicsParameters,
                               texture: TextureOptions = defaultTexture, kernelRadius: Int = 1,
                               features: [String]? = nil) throws -> [(tag: String, volume: Volume)] {
        guard kernelRadius >= 1 else {
            throw RadiomicsError("voxel maps: kernel radius \(kernelRadius) must be ≥ 1", hint: "use 1 for a 3×3×3 neighbourhood")
        }
        guard texture.glcmDistance >= 1, texture.neighbourhoodDistance >= 1, texture.ngldmCoarseness >= 0 else {
            throw RadiomicsError("voxel maps: texture distances must be ≥ 1 and the NGLDM coarseness ≥ 0")
        }
        let roi = try PreparedROI(image: image, mask: mask, label: label, parameters: parameters)
        guard !roi.isEmpty, roi.intensityMask.contains(true) else {
            throw RadiomicsError("voxel maps: the ROI is empty after pre-processing",
                                 hint: "check the label and the re-segmentation range")
        }
        var plan = Plan(parameters: parameters, texture: texture, radius: kernelRadius, wanted: features.map(Set.init))
        let levels = roi.discretised(parameters.discretisation, convention: parameters.convention)
        plan.globalMaxLevel = Int(levels.levels.max() ?? 0)
        let values = roiIntensities(roi)
        let centres = (0..<levels.levels.count).filter { levels.levels[$0] > 0 }

        // The tags come from the first voxel; every voxel yields them in the same order.
        let first = plan.tagged(at: centres[0], levels, values)
        let tags = first.map(\.tag)
        if let wanted = features {
            let unknown = wanted.filter { !tags.contains($0) }
            guard unknown.isEmpty else {
                throw RadiomicsError("voxel maps: no feature \(unknown.joined(separator: ", ")) with these settings",
                                     hint: "use IBSI tags such as stat_mean or cm_joint_avg_3D_avg, and enable their family and aggregation")
            }
            plan.keep = tags.map { wanted.contains($0) }
        }
        let kept = plan.keep.map { zip(tags, $0).filter(\.1).map(\.0) } ?? tags

        // Feature-major output buffer; voxel chunks write disjoint cells.
        let box = levels.levels.count
        let out = MapBuffer(count: kept.count * box)
        let chunk = 64
        let chunks = (centres.count + chunk - 1) / chunk
        let p = plan
        DispatchQueue.concurrentPerform(iterations: chunks) { c in
            for v in centres[(c * chunk)..<min(centres.count, (c + 1) * chunk)] {
                for (f, value) in p.features(at: v, levels, values).enumerated() { out.set(f * box + v, value) }
            }
        }

        // The maps start at the ROI's bounding box; only the geometry of `grid` matters.
        let grid = Volume(size: SIMD3(1, 1, 1), spacing: roi.spacing, origin: roi.origin, direction: roi.direction, voxels: [0])
        let origin = grid.point(ofIndex: SIMD3<Double>(roi.roiLower))
        return kept.enumerated().map { f, tag in
            (tag, Volume(size: levels.size, spacing: roi.spacing, origin: origin, direction: roi.direction,
                         voxels: Array(out.values[(f * box)..<((f + 1) * box)])))
        }
    }

    /// Intensities on the discretised ROI's box (the morphological mask's bounding box), NaN
    /// outside the intensity mask.
    private static func roiIntensities(_ roi: PreparedROI) -> [Double] {
        let lo = roi.roiLower, box = roi.roiUpper &- lo &+ 1
        var out = [Double](repeating: .nan, count: box.x * box.y * box.z)
        for k in 0..<box.z { for j in 0..<box.y { for i in 0..<box.x {
            let v = roi.index(lo.x + i, lo.y + j, lo.z + k)
            if roi.intensityMask[v] { out[i + box.x * (j + box.y * k)] = roi.intensities[v] }
        } } }
        return out
    }
}

/// What to compute per voxel.
private struct Plan: Sendable {
    let convention: Convention
    let statistics: Bool
    let jobs: [(TextureFamily, TextureDimension)]
    let texture: TextureOptions
    let radius: Int
    let padding: Int
    /// Which of the tags (in output order) to keep; nil keeps all.
    var keep: [Bool]? = nil
    /// The highest grey level of the whole ROI.
    var globalMaxLevel = 0

    init(parameters p: RadiomicsParameters, texture: TextureOptions, radius: Int, wanted: Set<String>?) {
        convention = p.convention
        var t = texture
        t.convention = p.convention
        self.texture = t
        self.radius = radius
        padding = max(t.glcmDistance, t.neighbourhoodDistance, 1)
        statistics = p.families.contains(.statistics) && (wanted?.contains { $0.hasPrefix("stat_") } ?? true)
        var jobs: [(TextureFamily, TextureDimension)] = []
        if p.families.contains(.texture) {
            for family in TextureFamily.allCases where t.families.contains(family) {
                let prefix = Self.prefix(family)
                for dimension in TextureDimension.allCases where t.dimensions.contains(dimension) {
                    let needed = wanted?.contains { $0.hasPrefix(prefix) && $0.contains("_\(dimension.rawValue)") } ?? true
                    if needed { jobs.append((family, dimension)) }
                }
            }
        }
        self.jobs = jobs
    }

    /// `cm_`, `rlm_`, …: the tag prefix of a family.
    static func prefix(_ family: TextureFamily) -> String {
        let stem = TextureFeatures.catalog.first { $0.family == family }!.stem
        return String(stem.prefix { $0 != "_" }) + "_"
    }

    /// The features of the neighbourhood of box voxel `v`: statistics, then texture in canonical
    /// order; families run serially here because the voxels already run in parallel.
    func features(at v: Int, _ roi: DiscretisedROI, _ intensities: [Double]) -> [Double] {
        let all = tagged(at: v, roi, intensities)
        guard let keep else { return all.map(\.value) }
        return zip(all, keep).compactMap { $1 ? $0.value : nil }
    }

    func tagged(at v: Int, _ roi: DiscretisedROI, _ intensities: [Double]) -> [FeatureValue] {
        let n = roi.size
        let c = SIMD3(v % n.x, (v / n.x) % n.y, v / (n.x * n.y))
        let lo = pointwiseMax(c &- radius, .zero), hi = pointwiseMin(c &+ radius, n &- 1)
        let size = hi &- lo &+ 1
        var out: [FeatureValue] = []
        if statistics {
            var values: [Double] = []
            values.reserveCapacity(size.x * size.y * size.z)
            for k in lo.z...hi.z { for j in lo.y...hi.y { for i in lo.x...hi.x {
                let x = intensities[roi.index(i, j, k)]
                if !x.isNaN { values.append(x) }
            } } }
            out += IntensityStatistics.features(values, convention: convention)
        }
        if !jobs.isEmpty {
            let kernel = Self.kernel(roi, lo, size)
            // Cannot throw: the levels come from a valid DiscretisedROI.
            var grid = try! TextureGrid(kernel, padding: padding)
            // PyRadiomics' voxel mode keeps the whole ROI's N_g (highest level) in Idn/Idmn.
            if convention == .pyradiomics { grid = grid.withMaxLevel(globalMaxLevel) }
            for (family, dimension) in jobs {
                switch family {
                case .glcm: out += GLCM.features(grid, dimension, texture)
                case .glrlm: out += GLRLM.features(grid, dimension, texture)
                case .glszm: out += GLSZM.features(grid, dimension, texture)
                case .gldzm: out += GLDZM.features(grid, dimension, texture)
                case .ngtdm: out += NGTDM.features(grid, dimension, texture)
                case .ngldm: out += NGLDM.features(grid, dimension, texture)
                }
            }
        }
        return out
    }

    /// The block [lo, lo + size) of the discretised ROI as a ROI of its own (global levels and N_g).
    static func kernel(_ roi: DiscretisedROI, _ lo: SIMD3<Int>, _ size: SIMD3<Int>) -> DiscretisedROI {
        var levels = [Int32](repeating: 0, count: size.x * size.y * size.z)
        var morph = [Bool](repeating: false, count: levels.count)
        var b = 0
        for k in 0..<size.z { for j in 0..<size.y { for i in 0..<size.x {
            let v = roi.index(lo.x + i, lo.y + j, lo.z + k)
            levels[b] = roi.levels[v]; morph[b] = roi.morphologicalMask[v]
            b += 1
        } } }
        return DiscretisedROI(size: size, spacing: roi.spacing, levels: levels, levelCount: roi.levelCount, morphologicalMask: morph)
    }
}

/// The maps under construction, written from several threads at disjoint indices.
private final class MapBuffer: @unchecked Sendable {
    private let pointer: UnsafeMutableBufferPointer<Float>
    init(count: Int) {
        pointer = .allocate(capacity: count)
        pointer.initialize(repeating: .nan)
    }
    deinit { pointer.deallocate() }
    @inline(__always) func set(_ i: Int, _ v: Double) { pointer[i] = Float(v) }
    var values: UnsafeMutableBufferPointer<Float> { pointer }
}

extension TextureGrid {
    /// This grid with another "highest level present" (PyRadiomics' N_g).
    func withMaxLevel(_ level: Int) -> TextureGrid {
        TextureGrid(nx: nx, ny: ny, nz: nz, pad: pad, levels: levels, morph: morph, ng: ng, roi: roi,
                    sliceStart: sliceStart, maxLevel: level, presentLevels: presentLevels)
    }

    private init(nx: Int, ny: Int, nz: Int, pad: Int, levels: [Int32], morph: [UInt8], ng: Int, roi: [Int32],
                 sliceStart: [Int], maxLevel: Int, presentLevels: Int) {
        self.nx = nx; self.ny = ny; self.nz = nz; self.pad = pad
        self.levels = levels; self.morph = morph; self.ng = ng; self.roi = roi
        self.sliceStart = sliceStart; self.maxLevel = maxLevel; self.presentLevels = presentLevels
    }
}
