import Foundation
import Radiomics
import VolumeIO

/// How habitats are clustered.
public struct HabitatOptions: Sendable {
    public enum Method: Sendable, Equatable {
        case kMeans
        case gaussianMixture(GaussianMixture.Covariance)
    }
    public var k = 3
    public var method: Method = .kMeans
    public var seed: UInt64 = 1
    /// k-means restarts (k-means++ each); the lowest inertia wins.
    public var restarts = 10
    /// IBSI tags of voxel-wise feature maps used besides the intensity (e.g. `stat_var`,
    /// `cm_joint_entr_3D_avg`); empty: intensity only.
    public var features: [String] = []
    /// Pre-processing and discretisation of the feature maps (no resampling: the maps must
    /// stay on the image grid).
    public var parameters = RadiomicsParameters()
    public var kernelRadius = 1
    public init() {}
}

/// What a habitat run found, for the family's JSON.
public struct HabitatSummary: Codable, Sendable {
    public var method: String
    public var seed: UInt64
    public var features: [String]
    /// Mean and standard deviation of each feature inside the ROI (the z-scoring).
    public var featureMeans: [Double]
    public var featureSDs: [Double]
    /// Per habitat (label order): voxels, and the mean of each raw feature.
    public var voxelCounts: [Int]
    public var habitatMeans: [[Double]]
    /// k-means inertia (z-scored space) or the mixture's mean log-likelihood.
    public var objective: Double
    public var iterations: Int
    /// ROI voxels left out because a feature map had no value there.
    public var skippedVoxels: Int
}

/// Habitats: clusters of voxel-wise feature vectors inside an ROI, as regions. Labels are
/// ordered by each cluster's mean raw intensity (1 = darkest), so runs with other seeds or
/// methods are comparable label by label.
public enum Habitats {
    public static func make(image: Volume, mask: Volume, options: HabitatOptions, family: String = "habitats") throws -> (RegionMap, HabitatSummary) {
        guard mask.hasSameGrid(as: image, tolerance: 1e-3 * max(1, image.spacing.max())) else {
            throw RegionsError("habitats: the mask is on another grid than the image", hint: "resample the mask onto the image grid")
        }
        let roi = mask.voxels.indices.filter { mask.voxels[$0] != 0 }
        guard !roi.isEmpty else { throw RegionsError("habitats: the ROI mask is empty", hint: "give a mask with the ROI's voxels non-zero") }
        guard options.k >= 1 else { throw RegionsError("habitats: k = \(options.k) must be ≥ 1") }
        guard options.k <= roi.count else {
            throw RegionsError("habitats: k = \(options.k) is larger than the ROI's \(roi.count) voxels", hint: "use a smaller k")
        }
        var names = ["intensity"]
        var columns: [[Float]] = [roi.map { image.voxels[$0] }]
        if !options.features.isEmpty {
            guard options.parameters.resampledSpacing == nil else {
                throw RegionsError("habitats: feature maps must stay on the image grid", hint: "drop the resampling from the radiomics parameters")
            }
            let maps: [(tag: String, volume: Volume)]
            do {
                maps = try VoxelFeatureMaps.compute(image: image, mask: mask.binarised(), label: 1, parameters: options.parameters,
                                                    kernelRadius: options.kernelRadius, features: options.features)
            } catch { throw RegionsError("habitats: feature maps failed: \(error)") }
            for (tag, map) in maps {
                names.append(tag)
                columns.append(try onImageGrid(map, image: image, at: roi))
            }
        }
        // Voxels where every feature has a value.
        let keep = (0..<roi.count).filter { t in columns.allSatisfy { $0[t].isFinite } }
        let d = columns.count
        guard keep.count >= options.k else {
            throw RegionsError("habitats: only \(keep.count) ROI voxels have every feature, fewer than k = \(options.k)", hint: "use a smaller k or other features")
        }
        var means = [Double](repeating: 0, count: d), sds = [Double](repeating: 0, count: d)
        for f in 0..<d {
            var s = 0.0
            for t in keep { s += Double(columns[f][t]) }
            means[f] = s / Double(keep.count)
            var q = 0.0
            for t in keep { let x = Double(columns[f][t]) - means[f]; q += x * x }
            sds[f] = (q / Double(keep.count)).squareRoot()
        }
        var x = [Double](repeating: 0, count: keep.count * d)
        for (r, t) in keep.enumerated() { for f in 0..<d {
            x[r * d + f] = sds[f] > 0 ? (Double(columns[f][t]) - means[f]) / sds[f] : 0
        } }
        var distinct = Set<[Double]>()
        for r in 0..<keep.count where distinct.count < options.k { distinct.insert(Array(x[(r * d)..<(r * d + d)])) }
        guard distinct.count >= options.k else {
            throw RegionsError("habitats: the ROI has only \(distinct.count) distinct feature vectors, fewer than k = \(options.k)", hint: "use a smaller k")
        }

        let labels: [Int], objective: Double, iterations: Int, method: String
        switch options.method {
        case .kMeans:
            let r = try KMeans.fit(x, dimension: d, k: options.k, seed: options.seed, restarts: options.restarts)
            (labels, objective, iterations, method) = (r.labels, r.inertia, r.iterations, "k-means (k-means++, \(options.restarts) restarts, Lloyd)")
        case .gaussianMixture(let c):
            let r = try GaussianMixture.fit(x, dimension: d, k: options.k, covariance: c, seed: options.seed)
            (labels, objective, iterations, method) = (r.labels, r.logLikelihood, r.iterations, "Gaussian mixture (\(c.rawValue) covariance, EM)")
        }
        // Order clusters by mean raw intensity (then by cluster index).
        var sums = [[Double]](repeating: [Double](repeating: 0, count: d), count: options.k)
        var counts = [Int](repeating: 0, count: options.k)
        for (r, t) in keep.enumerated() {
            counts[labels[r]] += 1
            for f in 0..<d { sums[labels[r]][f] += Double(columns[f][t]) }
        }
        let clusterMeans = (0..<options.k).map { c in sums[c].map { counts[c] > 0 ? $0 / Double(counts[c]) : .nan } }
        let order = (0..<options.k).sorted { a, b in
            let ma = clusterMeans[a][0], mb = clusterMeans[b][0]
            return ma != mb && !(ma.isNaN || mb.isNaN) ? ma < mb : a < b
        }
        var rank = [Int](repeating: 0, count: options.k)
        for (r, c) in order.enumerated() { rank[c] = r + 1 }
        var out = image
        out.voxels = [Float](repeating: 0, count: image.count)
        for (r, t) in keep.enumerated() { out.voxels[roi[t]] = Float(rank[labels[r]]) }
        let featureList = names.joined(separator: ", ")
        let regions = (1...options.k).map { h in
            RegionInfo(label: h, name: "habitat_\(h)", kind: .habitat,
                       definition: "\(method) cluster \(h) of \(options.k), numbered by mean intensity (1 = lowest), on z-scored [\(featureList)] inside the ROI, seed \(options.seed)")
        }
        let summary = HabitatSummary(method: method, seed: options.seed, features: names, featureMeans: means, featureSDs: sds,
                                     voxelCounts: order.map { counts[$0] }, habitatMeans: order.map { clusterMeans[$0] },
                                     objective: objective, iterations: iterations, skippedVoxels: roi.count - keep.count)
        return (RegionMap(family: family, labels: out, regions: regions), summary)
    }

    /// A feature map (cropped box on the image's grid) sampled at the image voxels `at`; NaN
    /// where the box does not reach.
    static func onImageGrid(_ map: Volume, image: Volume, at indices: [Int]) throws -> [Float] {
        guard (map.spacing - image.spacing).max() < 1e-6, (image.spacing - map.spacing).max() < 1e-6 else {
            throw RegionsError("habitats: a feature map is not on the image grid (spacing \(map.spacing) vs \(image.spacing))")
        }
        let o = image.continuousIndex(ofPoint: map.origin)
        let off = SIMD3(Int(o.x.rounded()), Int(o.y.rounded()), Int(o.z.rounded()))
        let n = image.size, m = map.size
        return indices.map { v in
            let i = v % n.x - off.x, j = (v / n.x) % n.y - off.y, k = v / (n.x * n.y) - off.z
            guard i >= 0, j >= 0, k >= 0, i < m.x, j < m.y, k < m.z else { return .nan }
            return map.voxels[i + m.x * (j + m.y * k)]
        }
    }
}

extension Volume {
    /// 1 where non-zero, else 0.
    func binarised() -> Volume {
        var v = self
        v.voxels = voxels.map { $0 != 0 ? 1 : 0 }
        return v
    }
}
