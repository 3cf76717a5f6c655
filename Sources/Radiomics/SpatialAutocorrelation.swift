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

/// Mixed-radix (2, 3, 4, 5) complex FFT, forward, along every axis of a 3-D grid; four lines at
/// a time in SIMD lanes. Lengths with only these factors keep zero padding close to 2n − 1.
enum MixedRadixFFT {
    /// The smallest 2^a·3^b·5^c ≥ n.
    static func paddedLength(_ n: Int) -> Int {
        var best = 1
        while best < n { best <<= 1 }
        var p5 = 1
        while p5 < 2 * n {
            var p35 = p5
            while p35 < 2 * n {
                var v = p35
                while v < n { v <<= 1 }
                best = min(best, v)
                p35 *= 3
            }
            p5 *= 5
        }
        return best
    }

    /// Transforms along the axes in `order`. The input is zero outside [0, extentIn) and only
    /// [0, extentOut) of the output is wanted, so each pass skips lines that are still all zero
    /// (along axes not yet transformed) or never read (along axes already transformed).
    static func transform3D(_ re: inout [Double], _ im: inout [Double], _ size: SIMD3<Int>,
                            order: [Int], extentIn: SIMD3<Int>, extentOut: SIMD3<Int>) {
        var done = SIMD3<Int>(0, 0, 0)
        for axis in order {
            defer { done[axis] = 1 }
            guard size[axis] > 1 else { continue }
            let n = size[axis]
            let stride = axis == 0 ? 1 : (axis == 1 ? size.x : size.x * size.y)
            var live = extentIn
            for b in 0..<3 where done[b] == 1 { live[b] = extentOut[b] }
            live[axis] = 1
            // Four lines per batch: lanes are adjacent x, or adjacent y for passes along x.
            let laneAxis = axis == 0 ? 1 : 0
            let laneStride = laneAxis == 0 ? 1 : size.x
            let plan = Plan(n)
            var ar = [SIMD4<Double>](repeating: .zero, count: n), ai = ar, sr = ar, si = ar
            re.withUnsafeMutableBufferPointer { r in
                im.withUnsafeMutableBufferPointer { m in
                    ar.withUnsafeMutableBufferPointer { a in
                    ai.withUnsafeMutableBufferPointer { b in
                    sr.withUnsafeMutableBufferPointer { c in
                    si.withUnsafeMutableBufferPointer { d in
                        var outer = live
                        outer[laneAxis] = 1
                        for k in 0..<outer.z { for j in 0..<outer.y { for i in 0..<outer.x {
                            var lane = 0
                            while lane < live[laneAxis] {
                                let lanes = min(4, live[laneAxis] - lane)
                                let base = i + size.x * (j + size.y * k) + lane * laneStride
                                for q in 0..<n {
                                    let o = base + q * stride
                                    if lanes == 4 && laneStride == 1 {
                                        a[q] = SIMD4(r[o], r[o + 1], r[o + 2], r[o + 3]); b[q] = SIMD4(m[o], m[o + 1], m[o + 2], m[o + 3])
                                    } else {
                                        var vr = SIMD4<Double>.zero, vi = SIMD4<Double>.zero
                                        for l in 0..<lanes { vr[l] = r[o + l * laneStride]; vi[l] = m[o + l * laneStride] }
                                        a[q] = vr; b[q] = vi
                                    }
                                }
                                plan.run(a, b, c, d)
                                for q in 0..<n {
                                    let o = base + q * stride
                                    if lanes == 4 && laneStride == 1 {
                                        let cr = c[q], ci = d[q]
                                        r[o] = cr.x; r[o + 1] = cr.y; r[o + 2] = cr.z; r[o + 3] = cr.w
                                        m[o] = ci.x; m[o + 1] = ci.y; m[o + 2] = ci.z; m[o + 3] = ci.w
                                    } else {
                                        for l in 0..<lanes { r[o + l * laneStride] = c[q][l]; m[o + l * laneStride] = d[q][l] }
                                    }
                                }
                                lane += 4
                            }
                        } } }
                    } } } }
                }
            }
        }
    }

    /// Along `axis`, each line x[0..<L) extended evenly to the period (x[P − d] = x[d]) and
    /// transformed; the spectrum is real and even, so outputs 0..<outCount replace the line.
    static func evenTransform(_ data: [Double], _ size: SIMD3<Int>, axis: Int, period: Int, outCount: Int) -> [Double] {
        var outSize = size
        outSize[axis] = outCount
        var out = [Double](repeating: 0, count: outSize.x * outSize.y * outSize.z)
        let L = size[axis], inStride = axis == 0 ? 1 : (axis == 1 ? size.x : size.x * size.y)
        let outStride = axis == 0 ? 1 : (axis == 1 ? outSize.x : outSize.x * outSize.y)
        var others: [Int] = []   // base offsets (input, output) of every line
        var outBases: [Int] = []
        for k in 0..<(axis == 2 ? 1 : size.z) { for j in 0..<(axis == 1 ? 1 : size.y) { for i in 0..<(axis == 0 ? 1 : size.x) {
            others.append(i + size.x * (j + size.y * k)); outBases.append(i + outSize.x * (j + outSize.y * k))
        } } }
        let plan = Plan(period)
        var ar = [SIMD4<Double>](repeating: .zero, count: period), ai = ar, cr = ar, ci = ar
        ar.withUnsafeMutableBufferPointer { a in ai.withUnsafeMutableBufferPointer { b in
        cr.withUnsafeMutableBufferPointer { c in ci.withUnsafeMutableBufferPointer { d in
            var line = 0
            while line < others.count {
                let lanes = min(4, others.count - line)
                for q in 0..<period { a[q] = .zero; b[q] = .zero }
                for l in 0..<lanes {
                    let base = others[line + l]
                    for q in 0..<L {
                        let v = data[base + q * inStride]
                        a[q][l] = v
                        if q > 0 { a[period - q][l] = v }
                    }
                }
                plan.run(a, b, c, d)
                for l in 0..<lanes {
                    let base = outBases[line + l]
                    for q in 0..<outCount { out[base + q * outStride] = c[q][l] }
                }
                line += 4
            }
        } } } }
        return out
    }

    /// Decimation in time, unrolled: n = p₀·p₁·…; the input is read in mixed-radix digit-reversed
    /// order, then each stage combines p interleaved transforms of length m with twiddles and a
    /// p-point DFT, in place.
    struct Plan {
        let n: Int
        let factors: [Int]
        let order: [Int]                          // output slot j reads input order[j]
        let cosines: [Double], sines: [Double]   // e^(−2πij/n)

        init(_ n: Int) {
            self.n = n
            var f: [Int] = [], rest = n
            for p in [4, 2, 3, 5] { while rest % p == 0 { f.append(p); rest /= p } }
            precondition(rest == 1, "FFT length \(n) has factors other than 2, 3, 5")
            factors = f
            // Slot order of the recursive formulation: transform (off, stride, len) writes its
            // p sub-transforms (off + t·stride, stride·p, len/p) to consecutive blocks.
            var order = [Int](repeating: 0, count: n)
            func place(_ off: Int, _ stride: Int, _ len: Int, _ out: Int, _ level: Int) {
                if len == 1 { order[out] = off; return }
                let p = f[level], m = len / p
                for t in 0..<p { place(off + t * stride, stride * p, m, out + t * m, level + 1) }
            }
            place(0, 1, n, 0, 0)
            self.order = order
            cosines = (0..<n).map { cos(-2 * Double.pi * Double($0) / Double(n)) }
            sines = (0..<n).map { sin(-2 * Double.pi * Double($0) / Double(n)) }
        }

        typealias Lines = UnsafeMutableBufferPointer<SIMD4<Double>>

        /// (inRe, inIm) → (outRe, outIm).
        func run(_ xr: Lines, _ xi: Lines, _ yr: Lines, _ yi: Lines) {
            order.withUnsafeBufferPointer { o in
                for j in 0..<n { yr[j] = xr[o[j]]; yi[j] = xi[o[j]] }
            }
            cosines.withUnsafeBufferPointer { cs in
                sines.withUnsafeBufferPointer { sn in
                    var len = 1
                    for level in stride(from: factors.count - 1, through: 0, by: -1) {
                        let p = factors[level]
                        let m = len
                        len *= p
                        var out = 0
                        while out < n {
                            combine(p, m, len, yr, yi, out, cs, sn)
                            out += len
                        }
                    }
                }
            }
        }

        @inline(__always)
        private func combine(_ p: Int, _ m: Int, _ len: Int, _ yr: Lines, _ yi: Lines, _ out: Int,
                             _ cs: UnsafeBufferPointer<Double>, _ sn: UnsafeBufferPointer<Double>) {
            let tw = n / len   // twiddle e^(−2πi·t·k/len) = table[t·k·tw]
            for k in 0..<m {
                switch p {
                case 2:
                    let i0 = out + k, i1 = i0 + m
                    let c = cs[k * tw], s = sn[k * tw]
                    let br = yr[i1] * c - yi[i1] * s, bi = yr[i1] * s + yi[i1] * c
                    yr[i1] = yr[i0] - br; yi[i1] = yi[i0] - bi
                    yr[i0] += br; yi[i0] += bi
                case 4:
                    let i0 = out + k, i1 = i0 + m, i2 = i1 + m, i3 = i2 + m
                    let c1 = cs[k * tw], s1 = sn[k * tw], c2 = cs[2 * k * tw], s2 = sn[2 * k * tw], c3 = cs[3 * k * tw], s3 = sn[3 * k * tw]
                    let a0r = yr[i0], a0i = yi[i0]
                    let a1r = yr[i1] * c1 - yi[i1] * s1, a1i = yr[i1] * s1 + yi[i1] * c1
                    let a2r = yr[i2] * c2 - yi[i2] * s2, a2i = yr[i2] * s2 + yi[i2] * c2
                    let a3r = yr[i3] * c3 - yi[i3] * s3, a3i = yr[i3] * s3 + yi[i3] * c3
                    let s02r = a0r + a2r, s02i = a0i + a2i, d02r = a0r - a2r, d02i = a0i - a2i
                    let s13r = a1r + a3r, s13i = a1i + a3i, d13r = a1r - a3r, d13i = a1i - a3i
                    yr[i0] = s02r + s13r; yi[i0] = s02i + s13i
                    yr[i2] = s02r - s13r; yi[i2] = s02i - s13i
                    // y1 = d02 − i·d13, y3 = d02 + i·d13
                    yr[i1] = d02r + d13i; yi[i1] = d02i - d13r
                    yr[i3] = d02r - d13i; yi[i3] = d02i + d13r
                case 3:
                    let i0 = out + k, i1 = i0 + m, i2 = i1 + m
                    let c1 = cs[k * tw], s1 = sn[k * tw], c2 = cs[2 * k * tw], s2 = sn[2 * k * tw]
                    let a1r = yr[i1] * c1 - yi[i1] * s1, a1i = yr[i1] * s1 + yi[i1] * c1
                    let a2r = yr[i2] * c2 - yi[i2] * s2, a2i = yr[i2] * s2 + yi[i2] * c2
                    let tr = a1r + a2r, ti = a1i + a2i
                    let hr = yr[i0] - 0.5 * tr, hi = yi[i0] - 0.5 * ti
                    let dr = Self.sin60 * (a1r - a2r), di = Self.sin60 * (a1i - a2i)
                    yr[i0] += tr; yi[i0] += ti
                    yr[i1] = hr + di; yi[i1] = hi - dr   // h − i·d
                    yr[i2] = hr - di; yi[i2] = hi + dr
                case 5:
                    let i0 = out + k, i1 = i0 + m, i2 = i1 + m, i3 = i2 + m, i4 = i3 + m
                    @inline(__always) func tw5(_ i: Int, _ t: Int) -> (SIMD4<Double>, SIMD4<Double>) {
                        let c = cs[t * k * tw], s = sn[t * k * tw]
                        return (yr[i] * c - yi[i] * s, yr[i] * s + yi[i] * c)
                    }
                    let (a0r, a0i) = (yr[i0], yi[i0])
                    let (a1r, a1i) = tw5(i1, 1), (a2r, a2i) = tw5(i2, 2), (a3r, a3i) = tw5(i3, 3), (a4r, a4i) = tw5(i4, 4)
                    let b1r = a1r + a4r, b1i = a1i + a4i, d1r = a1r - a4r, d1i = a1i - a4i
                    let b2r = a2r + a3r, b2i = a2i + a3i, d2r = a2r - a3r, d2i = a2i - a3i
                    let tar = a0r + Self.c5a * b1r + Self.c5b * b2r, tai = a0i + Self.c5a * b1i + Self.c5b * b2i
                    let tbr = a0r + Self.c5b * b1r + Self.c5a * b2r, tbi = a0i + Self.c5b * b1i + Self.c5a * b2i
                    let tcr = Self.s5a * d1r + Self.s5b * d2r, tci = Self.s5a * d1i + Self.s5b * d2i
                    let tdr = Self.s5b * d1r - Self.s5a * d2r, tdi = Self.s5b * d1i - Self.s5a * d2i
                    yr[i0] = a0r + b1r + b2r; yi[i0] = a0i + b1i + b2i
                    yr[i1] = tar + tci; yi[i1] = tai - tcr   // ta − i·tc
                    yr[i4] = tar - tci; yi[i4] = tai + tcr
                    yr[i2] = tbr + tdi; yi[i2] = tbi - tdr   // tb − i·td
                    yr[i3] = tbr - tdi; yi[i3] = tbi + tdr
                default:
                    preconditionFailure("radix \(p)")
                }
            }
        }

        static let sin60 = 3.0.squareRoot() / 2
        static let c5a = cos(2 * Double.pi / 5), c5b = cos(4 * Double.pi / 5)
        static let s5a = sin(2 * Double.pi / 5), s5b = sin(4 * Double.pi / 5)
    }
}
