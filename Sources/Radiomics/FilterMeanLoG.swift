import Foundation
import VolumeIO

/// Mean and Laplacian-of-Gaussian filters, both as separable passes.
enum MeanLoGFilter {
    static func mean(_ volume: Volume, support m: Int, dimension: FilterDimension, padding: PaddingMode) -> [Float] {
        let box = Taps(centred: [Double](repeating: 1 / Double(m), count: m))
        let axes = dimension == .threeD ? [2, 1, 0] : [1, 0]
        return Separable.apply(volume.voxels, size: volume.size, passes: axes.map { ($0, box) }, padding: padding)
    }

    /// Σₐ g''ₐ ⊗ ∏_{b≠a} g_b: the IBSI LoG kernel is exactly this sum of separable terms
    /// (σ per axis in voxels, derivatives in voxel units). The PyRadiomics convention scales
    /// each g''ₐ by σ²/spacingₐ², the scale-normalised Laplacian in mm.
    static func log(_ volume: Volume, sigma: Double, truncate: Double, dimension: FilterDimension,
                    padding: PaddingMode, convention: Convention) -> [Float] {
        let size = volume.size
        let spacing = [volume.spacing.x, volume.spacing.y, volume.spacing.z]
        var g: [Taps] = [], d2: [Taps] = []
        for a in 0..<3 {
            var (ga, da) = FilterKernels.gaussian(sigma: sigma / spacing[a], truncate: truncate)
            if convention == .pyradiomics {
                let s = sigma * sigma / (spacing[a] * spacing[a])
                da.weights = da.weights.map { $0 * s }
            }
            g.append(ga)
            d2.append(da)
        }
        let input = volume.voxels
        if dimension == .twoD {
            // D2ᵢ(Gⱼ I) + Gᵢ(D2ⱼ I)
            var out = Separable.apply(input, size: size, passes: [(1, g[1]), (0, d2[0])], padding: padding)
            let dy = Separable.apply(input, size: size, passes: [(1, d2[1])], padding: padding)
            Separable.accumulate(dy, into: &out, size: size, axis: 0, taps: g[0], padding: padding)
            return out
        }
        // Shares the k and j passes between the three terms: 7 passes instead of 9.
        let a = Separable.apply(input, size: size, passes: [(2, g[2])], padding: padding)     // Gk I
        let d = Separable.apply(input, size: size, passes: [(2, d2[2])], padding: padding)    // D2k I
        let b = Separable.apply(a, size: size, passes: [(1, g[1])], padding: padding)         // Gj Gk I
        var c = Separable.apply(a, size: size, passes: [(1, d2[1])], padding: padding)        // D2j Gk I
        Separable.accumulate(d, into: &c, size: size, axis: 1, taps: g[1], padding: padding)  // + Gj D2k I
        var out = Separable.apply(b, size: size, passes: [(0, d2[0])], padding: padding)
        Separable.accumulate(c, into: &out, size: size, axis: 0, taps: g[0], padding: padding)
        return out
    }
}
