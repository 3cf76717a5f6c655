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
            let len = lengths[axis], s2 = spacing[axis] * spacing[axis]
            f.withUnsafeMutableBufferPointer { fB in
                let fp = fB.baseAddress!
                if axis == 0 {
                    // Rows are contiguous: transform them in place.
                    let rows = n / len
                    DispatchQueue.concurrentPerform(iterations: rows >= 256 ? ProcessInfo.processInfo.activeProcessorCount : 1) { b in
                        let scratch = Scratch(len)
                        defer { scratch.free() }
                        let bands = rows >= 256 ? ProcessInfo.processInfo.activeProcessorCount : 1
                        for r in (rows * b / bands)..<(rows * (b + 1) / bands) { scratch.run(fp + r * len, stride: 1, len: len, s2: s2) }
                    }
                } else {
                    // Along y or z, a slab (fixed z, or fixed y) holds size.x lines whose samples
                    // are contiguous rows: copy the slab once, so the strided walk stays in cache.
                    let slabs = axis == 1 ? size.z : size.y
                    let slabStride = axis == 1 ? size.x * size.y : size.x
                    let stride = strides[axis], nx = size.x
                    DispatchQueue.concurrentPerform(iterations: min(slabs, ProcessInfo.processInfo.activeProcessorCount)) { b in
                        let bands = min(slabs, ProcessInfo.processInfo.activeProcessorCount)
                        let scratch = Scratch(len)
                        let block = UnsafeMutablePointer<Double>.allocate(capacity: len * nx)
                        defer { scratch.free(); block.deallocate() }
                        for slab in (slabs * b / bands)..<(slabs * (b + 1) / bands) {
                            let base = fp + slab * slabStride
                            for q in 0..<len { (block + q * nx).update(from: base + q * stride, count: nx) }
                            for i in 0..<nx { scratch.run(block + i, stride: nx, len: len, s2: s2) }
                            for q in 0..<len { (base + q * stride).update(from: block + q * nx, count: nx) }
                        }
                    }
                }
            }
        }
        return f.map { $0.squareRoot() }
    }

    /// Per-thread buffers of the 1D transform.
    struct Scratch {
        let line: UnsafeMutablePointer<Double>, out: UnsafeMutablePointer<Double>
        let v: UnsafeMutablePointer<Int>, z: UnsafeMutablePointer<Double>
        init(_ len: Int) {
            line = .allocate(capacity: len); out = .allocate(capacity: len); v = .allocate(capacity: len); z = .allocate(capacity: len + 1)
        }
        func free() { line.deallocate(); out.deallocate(); v.deallocate(); z.deallocate() }

        /// Transforms the `len` samples at p, p + stride, … in place.
        @inline(__always) func run(_ p: UnsafeMutablePointer<Double>, stride: Int, len: Int, s2: Double) {
            var any = false
            for q in 0..<len { let x = p[q * stride]; line[q] = x; any = any || x.isFinite }
            guard any else { return }   // all +∞ stays +∞
            envelope(line, len: len, s2: s2, out: out, v: v, z: z)
            for q in 0..<len { p[q * stride] = out[q] }
        }
    }

    /// 1D squared-distance transform of the sampled function `f` (∞ allowed) with squared
    /// sample pitch `s2`: out[p] = min_q f[q] + s2 (p − q)².
    @inline(__always) static func envelope(_ f: UnsafeMutablePointer<Double>, len: Int, s2: Double, out: UnsafeMutablePointer<Double>,
                                           v: UnsafeMutablePointer<Int>, z: UnsafeMutablePointer<Double>) {
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
