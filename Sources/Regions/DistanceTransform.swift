import Foundation
import VolumeIO

/// Exact Euclidean distance transform on an anisotropic 3D grid (Felzenszwalb & Huttenlocher's
/// separable lower-envelope algorithm, one pass per axis with that axis's spacing).
public enum DistanceTransform {
    /// For every voxel, the distance in mm from its centre to the nearest centre of a voxel
    /// where `feature` is true (0 on feature voxels; +∞ when there is none). As
    /// `scipy.ndimage.distance_transform_edt(~feature, sampling=spacing)`. Axes listed in
    /// `skipping` are not crossed: distances stay within each slice across them (in-plane EDT).
    public static func distance(to feature: [Bool], size: SIMD3<Int>, spacing: SIMD3<Double>, skipping: Set<Int> = []) -> [Double] {
        let n = size.x * size.y * size.z
        precondition(feature.count == n, "distance transform: mask size does not match the grid")
        var f = feature.map { $0 ? 0.0 : Double.infinity }
        let strides = [1, size.x, size.x * size.y]
        let lengths = [size.x, size.y, size.z]
        for axis in 0..<3 where !skipping.contains(axis) && lengths[axis] > 1 {
            let len = lengths[axis], stride = strides[axis], s2 = spacing[axis] * spacing[axis]
            // The lines along `axis`: every start voxel whose coordinate on `axis` is 0.
            let others = n / len
            f.withUnsafeMutableBufferPointer { fB in
                let fp = fB.baseAddress!
                let lines = others
                let bands = lines >= 256 ? ProcessInfo.processInfo.activeProcessorCount : 1
                DispatchQueue.concurrentPerform(iterations: bands) { b in
                    var line = [Double](repeating: 0, count: len), out = line
                    var v = [Int](repeating: 0, count: len), z = [Double](repeating: 0, count: len + 1)
                    for l in (lines * b / bands)..<(lines * (b + 1) / bands) {
                        let start = lineStart(l, axis: axis, size: size)
                        for q in 0..<len { line[q] = fp[start + q * stride] }
                        envelope(line, len: len, s2: s2, out: &out, v: &v, z: &z)
                        for q in 0..<len { fp[start + q * stride] = out[q] }
                    }
                }
            }
        }
        return f.map { $0.squareRoot() }
    }

    /// Linear index of the first voxel of line `l` along `axis`.
    @inline(__always) static func lineStart(_ l: Int, axis: Int, size: SIMD3<Int>) -> Int {
        switch axis {
        case 0: return l * size.x
        case 1: let k = l / size.x, i = l % size.x; return i + size.x * size.y * k
        default: return l
        }
    }

    /// 1D squared-distance transform of the sampled function `f` (∞ allowed) with squared
    /// sample pitch `s2`: out[p] = min_q f[q] + s2 (p − q)².
    @inline(__always) static func envelope(_ f: [Double], len: Int, s2: Double, out: inout [Double], v: inout [Int], z: inout [Double]) {
        var k = -1
        for q in 0..<len where f[q].isFinite {
            let fq = f[q] + s2 * Double(q * q)
            if k < 0 { k = 0; v[0] = q; z[0] = -.infinity; z[1] = .infinity; continue }
            var s = 0.0
            while true {
                let p = v[k]
                // Where the parabolas rooted at p and q meet (in samples); z[0] = −∞ stops the pops.
                s = (fq - (f[p] + s2 * Double(p * p))) / (2 * s2 * Double(q - p))
                if s <= z[k] { k -= 1 } else { break }
            }
            k += 1
            v[k] = q; z[k] = s; z[k + 1] = .infinity
        }
        guard k >= 0 else { for q in 0..<len { out[q] = .infinity }; return }
        var j = 0
        for q in 0..<len {
            while z[j + 1] < Double(q) { j += 1 }
            let t = Double(q - v[j])
            out[q] = s2 * t * t + f[v[j]]
        }
    }

    /// Signed distance (mm) from the surface of `mask` (non-zero voxels): outside, the distance
    /// to the nearest mask voxel centre (> 0); inside, minus the distance to the nearest
    /// background voxel centre (< 0). Voxel centres, so the smallest magnitudes are one
    /// spacing, never 0.
    public static func signed(_ mask: Volume, skipping: Set<Int> = []) -> [Double] {
        let inside = mask.voxels.map { $0 != 0 }
        let toMask = distance(to: inside, size: mask.size, spacing: mask.spacing, skipping: skipping)
        let toBackground = distance(to: inside.map { !$0 }, size: mask.size, spacing: mask.spacing, skipping: skipping)
        return (0..<inside.count).map { inside[$0] ? -toBackground[$0] : toMask[$0] }
    }
}
