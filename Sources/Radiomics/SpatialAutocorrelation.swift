import Foundation

/// Moran's I and Geary's C (IBSI 3.1.26–27) over the intensity mask with inverse-distance
/// weights w_ij = 1/‖x_i − x_j‖ between all voxel pairs. Small ROIs sum the pairs directly; large
/// ones use the fact that w depends only on the offset, so the pair sums are correlations that
/// a zero-padded FFT evaluates exactly (to rounding) in O(M log M) instead of O(N²).
enum SpatialAutocorrelation {
    /// Below this many voxels the direct O(N²) sum is cheaper than the transforms.
    static let directLimit = 2000

    static func compute(_ roi: PreparedROI, forceDirect: Bool = false) -> (moran: Double, geary: Double) {
        guard !roi.isEmpty else { return (.nan, .nan) }
        // The intensity mask's box.
        var lo = roi.size, hi = SIMD3<Int>(-1, -1, -1)
        var n = 0, sum = 0.0
        for k in 0..<roi.size.z { for j in 0..<roi.size.y { for i in 0..<roi.size.x {
            let v = roi.index(i, j, k)
            if roi.intensityMask[v] {
                lo = pointwiseMin(lo, SIMD3(i, j, k)); hi = pointwiseMax(hi, SIMD3(i, j, k))
                n += 1; sum += roi.intensities[v]
            }
        } } }
        guard n > 1 else { return (.nan, .nan) }
        let mean = sum / Double(n)
        let box = hi &- lo &+ 1
        var z = [Double](repeating: 0, count: box.x * box.y * box.z)
        var m = [Double](repeating: 0, count: z.count)
        for k in 0..<box.z { for j in 0..<box.y { for i in 0..<box.x {
            let v = roi.index(lo.x + i, lo.y + j, lo.z + k)
            if roi.intensityMask[v] {
                let b = i + box.x * (j + box.y * k)
                z[b] = roi.intensities[v] - mean; m[b] = 1
            }
        } } }
        var sumSquares = 0.0
        for v in z { sumSquares += v * v }
        guard sumSquares > 0 else { return (.nan, .nan) }

        let sums = (forceDirect || n <= directLimit)
            ? direct(z, m, box, roi.spacing)
            : transformed(z, m, box, roi.spacing)
        let nd = Double(n)
        let moran = nd / sums.weights * sums.zz / sumSquares
        let geary = (nd - 1) / (2 * sums.weights) * sums.squaredDifferences / sumSquares
        return (moran, geary)
    }

    struct PairSums { var weights = 0.0, zz = 0.0, squaredDifferences = 0.0 }

    static func direct(_ z: [Double], _ m: [Double], _ box: SIMD3<Int>, _ spacing: SIMD3<Double>) -> PairSums {
        var pos: [SIMD3<Double>] = [], val: [Double] = []
        for k in 0..<box.z { for j in 0..<box.y { for i in 0..<box.x {
            let b = i + box.x * (j + box.y * k)
            if m[b] > 0 { pos.append(SIMD3(Double(i), Double(j), Double(k)) * spacing); val.append(z[b]) }
        } } }
        var s = PairSums()
        pos.withUnsafeBufferPointer { p in
            val.withUnsafeBufferPointer { x in
                for a in 0..<p.count {
                    var w = 0.0, zz = 0.0, dd = 0.0
                    for b in (a + 1)..<p.count {
                        let d = p[a] - p[b]
                        let wab = 1 / (d * d).sum().squareRoot()
                        w += wab; zz += wab * x[b]; dd += wab * (x[a] - x[b]) * (x[a] - x[b])
                    }
                    s.weights += 2 * w; s.zz += 2 * zz * x[a]; s.squaredDifferences += 2 * dd
                }
            }
        }
        return s
    }

    /// The pair sums via one zero-padded transform of z + i·m: Parseval gives Σ w·(z⋆z) and
    /// Σ w·(m⋆m) from the spectra; the spectrum of w·m, transformed back, gives each voxel's
    /// weight sum W_x = Σ_y w(y − x)·m(y), and Σ w z_x² m_y = Σ_x z_x²·W_x. Two grid-sized arrays;
    /// the weights' spectrum is real and even, so it is built on one octant.
    static func transformed(_ z: [Double], _ m: [Double], _ box: SIMD3<Int>, _ spacing: SIMD3<Double>) -> PairSums {
        let P = SIMD3(MixedRadixFFT.paddedLength(2 * box.x - 1), MixedRadixFFT.paddedLength(2 * box.y - 1), MixedRadixFFT.paddedLength(2 * box.z - 1))
        let total = P.x * P.y * P.z
        var re = [Double](repeating: 0, count: total), im = re
        for k in 0..<box.z { for j in 0..<box.y { for i in 0..<box.x {
            let b = i + box.x * (j + box.y * k), t = i + P.x * (j + P.y * k)
            re[t] = z[b]; im[t] = m[b]
        } } }
        MixedRadixFFT.transform3D(&re, &im, P, order: [0, 1, 2], extentIn: box, extentOut: P)
        let h = SIMD3(P.x / 2 + 1, P.y / 2 + 1, P.z / 2 + 1)
        let weights = weightSpectrum(box, spacing, P)
        var s = PairSums()
        re.withUnsafeMutableBufferPointer { r in im.withUnsafeMutableBufferPointer { q in
        weights.withUnsafeBufferPointer { wh in
            for k in 0..<P.z {
                let kr = k == 0 ? 0 : P.z - k, kw = min(k, kr)
                for j in 0..<P.y {
                    let jr = j == 0 ? 0 : P.y - j, jw = min(j, jr)
                    let row = P.x * (j + P.y * k), rowR = P.x * (jr + P.y * kr), roww = h.x * (jw + h.y * kw)
                    for i in 0..<P.x {
                        let ir = i == 0 ? 0 : P.x - i
                        let t = row + i, u = rowR + ir
                        if u < t { continue }   // each pair (k, −k) once
                        let w = wh[roww + min(i, ir)]
                        // Split the packed spectrum: Z = (F(k) + F*(−k))/2, M = (F(k) − F*(−k))/(2i).
                        let zr = 0.5 * (r[t] + r[u]), zi = 0.5 * (q[t] - q[u])
                        let mr = 0.5 * (q[t] + q[u]), mi = -0.5 * (r[t] - r[u])
                        let pair = u == t ? 1.0 : 2.0   // −k contributes the same (conjugates)
                        s.zz += pair * w * (zr * zr + zi * zi)
                        s.weights += pair * w * (mr * mr + mi * mi)
                        // Ŵ·M at k and at −k (where M is conjugated).
                        r[t] = w * mr; q[t] = w * mi
                        r[u] = w * mr; q[u] = -w * mi
                    }
                }
            }
        } } }
        let scale = 1 / Double(total)
        s.zz *= scale; s.weights *= scale
        // Back to space, only the box is needed: inverse = conj ∘ forward ∘ conj.
        for v in 0..<total { im[v] = -im[v] }
        MixedRadixFFT.transform3D(&re, &im, P, order: [2, 1, 0], extentIn: P, extentOut: box)
        var zW = 0.0
        for k in 0..<box.z { for j in 0..<box.y { for i in 0..<box.x {
            let b = i + box.x * (j + box.y * k)
            if m[b] > 0 { zW += z[b] * z[b] * re[i + P.x * (j + P.y * k)] }
        } } }
        // Σ w (z_i − z_j)² = 2 Σ w z_i² m_j − 2 Σ w z_i z_j.
        s.squaredDifferences = 2 * zW * scale - 2 * s.zz
        return s
    }

    /// Ŵ(k) for k in [0, P/2] per axis (the spectrum is even): w(d) = 1/‖d ∘ spacing‖ for offsets
    /// |d_a| < box_a, w(0) = 0. One axis at a time, each line evenly extended to its period and
    /// transformed; the octant of offsets, then of frequencies, is all that is stored.
    static func weightSpectrum(_ box: SIMD3<Int>, _ spacing: SIMD3<Double>, _ P: SIMD3<Int>) -> [Double] {
        let h = SIMD3(P.x / 2 + 1, P.y / 2 + 1, P.z / 2 + 1)
        var cur = [Double](repeating: 0, count: box.x * box.y * box.z)
        for dz in 0..<box.z { for dy in 0..<box.y { for dx in 0..<box.x {
            let d = SIMD3(Double(dx), Double(dy), Double(dz)) * spacing
            let l = (d * d).sum()
            cur[dx + box.x * (dy + box.y * dz)] = l > 0 ? 1 / l.squareRoot() : 0
        } } }
        var size = box
        for axis in 0..<3 {
            var next = size
            next[axis] = h[axis]
            cur = MixedRadixFFT.evenTransform(cur, size, axis: axis, period: P[axis], outCount: h[axis])
            size = next
        }
        return cur
    }
}
