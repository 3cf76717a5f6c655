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

    /// Σ_d w(d)·c(d) for the correlations c of z·z, m·m and z²·m via Parseval: one complex FFT
    /// carries z (real part) and m (imaginary part), another z²; the weights' spectrum is real and
    /// even, so it comes from separable cosine sums over one octant of offsets.
    static func transformed(_ z: [Double], _ m: [Double], _ box: SIMD3<Int>, _ spacing: SIMD3<Double>) -> PairSums {
        let P = SIMD3(FFT.paddedLength(2 * box.x - 1), FFT.paddedLength(2 * box.y - 1), FFT.paddedLength(2 * box.z - 1))
        let total = P.x * P.y * P.z
        var re1 = [Double](repeating: 0, count: total), im1 = re1, re2 = re1, im2 = re1
        for k in 0..<box.z { for j in 0..<box.y { for i in 0..<box.x {
            let b = i + box.x * (j + box.y * k), t = i + P.x * (j + P.y * k)
            re1[t] = z[b]; im1[t] = m[b]; re2[t] = z[b] * z[b]
        } } }
        FFT.transform3D(&re1, &im1, P, extent: box)
        FFT.transform3D(&re2, &im2, P, extent: box)
        let h = SIMD3(P.x / 2 + 1, P.y / 2 + 1, P.z / 2 + 1)
        let weights = weightSpectrum(box, spacing, P)
        var s = PairSums()
        re1.withUnsafeBufferPointer { r1 in im1.withUnsafeBufferPointer { i1 in
        re2.withUnsafeBufferPointer { r2 in im2.withUnsafeBufferPointer { i2 in
        weights.withUnsafeBufferPointer { wh in
            for k in 0..<P.z {
                let kr = (P.z - k) % P.z, kw = min(k, kr)
                for j in 0..<P.y {
                    let jr = (P.y - j) % P.y, jw = min(j, jr)
                    let row = P.x * (j + P.y * k), rowR = P.x * (jr + P.y * kr), roww = h.x * (jw + h.y * kw)
                    for i in 0..<P.x {
                        let t = row + i, r = rowR + (P.x - i) % P.x
                        let w = wh[roww + min(i, P.x - i)]
                        // Split the packed spectrum: Z = (F(k) + F*(−k))/2, M = (F(k) − F*(−k))/(2i).
                        let zr = 0.5 * (r1[t] + r1[r]), zi = 0.5 * (i1[t] - i1[r])
                        let mr = 0.5 * (i1[t] + i1[r]), mi = -0.5 * (r1[t] - r1[r])
                        s.zz += w * (zr * zr + zi * zi)
                        s.weights += w * (mr * mr + mi * mi)
                        s.squaredDifferences += w * (r2[t] * mr + i2[t] * mi)   // Re(conj(Q)·M)
                    }
                }
            }
        } } } } }
        let scale = 1 / Double(total)
        s.zz *= scale; s.weights *= scale
        // Σ w (z_i − z_j)² = 2 Σ w z_i² m_j − 2 Σ w z_i z_j.
        s.squaredDifferences = 2 * s.squaredDifferences * scale - 2 * s.zz
        return s
    }

    /// Ŵ(k) for k in [0, P/2] per axis (the spectrum is even): w(d) = 1/‖d ∘ spacing‖ for offsets
    /// |d_a| < box_a, w(0) = 0, summed as Σ_octant w(d) Π_a c_a(d_a, k_a) with c(0, k) = 1 and
    /// c(d, k) = 2·cos(2πkd/P), one axis at a time.
    static func weightSpectrum(_ box: SIMD3<Int>, _ spacing: SIMD3<Double>, _ P: SIMD3<Int>) -> [Double] {
        let h = SIMD3(P.x / 2 + 1, P.y / 2 + 1, P.z / 2 + 1)
        func table(_ a: Int) -> [Double] {   // [k * box + d]
            var t = [Double](repeating: 0, count: h[a] * box[a])
            for k in 0..<h[a] { for d in 0..<box[a] {
                t[k * box[a] + d] = d == 0 ? 1 : 2 * cos(2 * Double.pi * Double(k * d % P[a]) / Double(P[a]))
            } }
            return t
        }
        let cx = table(0), cy = table(1), cz = table(2)
        // Along x: T1[kx, dy, dz].
        var t1 = [Double](repeating: 0, count: h.x * box.y * box.z)
        var w = [Double](repeating: 0, count: box.x)
        for dz in 0..<box.z { for dy in 0..<box.y {
            for dx in 0..<box.x {
                let d = SIMD3(Double(dx), Double(dy), Double(dz)) * spacing
                let l = (d * d).sum()
                w[dx] = l > 0 ? 1 / l.squareRoot() : 0
            }
            for kx in 0..<h.x {
                var acc = 0.0
                for dx in 0..<box.x { acc += w[dx] * cx[kx * box.x + dx] }
                t1[kx + h.x * (dy + box.y * dz)] = acc
            }
        } }
        // Along y: T2[kx, ky, dz].
        var t2 = [Double](repeating: 0, count: h.x * h.y * box.z)
        for dz in 0..<box.z { for ky in 0..<h.y {
            for dy in 0..<box.y {
                let c = cy[ky * box.y + dy], src = h.x * (dy + box.y * dz), dst = h.x * (ky + h.y * dz)
                for kx in 0..<h.x { t2[dst + kx] += c * t1[src + kx] }
            }
        } }
        // Along z.
        var out = [Double](repeating: 0, count: h.x * h.y * h.z)
        for kz in 0..<h.z { for dz in 0..<box.z {
            let c = cz[kz * box.z + dz], src = h.x * h.y * dz, dst = h.x * h.y * kz
            for q in 0..<(h.x * h.y) { out[dst + q] += c * t2[src + q] }
        } }
        return out
    }
}

/// Mixed-radix (2, 3, 4, 5) complex FFT, forward, along every axis of a 3-D grid; four lines at
/// a time in SIMD lanes. Lengths with only these factors keep zero padding close to 2n − 1.
enum FFT {
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

    /// `extent`: the input is zero outside [0, extent) per axis, so the first passes skip the
    /// lines that are still all zero.
    static func transform3D(_ re: inout [Double], _ im: inout [Double], _ size: SIMD3<Int>, extent: SIMD3<Int>) {
        for axis in 0..<3 where size[axis] > 1 {
            let n = size[axis]
            let stride = axis == 0 ? 1 : (axis == 1 ? size.x : size.x * size.y)
            // Lines along `axis` that may hold non-zeros: axes already transformed are full.
            var live = extent
            for b in 0..<axis { live[b] = size[b] }
            live[axis] = 1
            // Four lines per batch: along y and z the lanes are adjacent x; along x, adjacent y.
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
                                    for l in 0..<lanes { r[o + l * laneStride] = c[q][l]; m[o + l * laneStride] = d[q][l] }
                                }
                                lane += 4
                            }
                        } } }
                    } } } }
                }
            }
        }
    }

    /// Decimation in time, unrolled: n = p₀·p₁·…; the input is read in mixed-radix digit-reversed
    /// order, then each stage combines p interleaved transforms of length m with twiddles and a
    /// p-point DFT, in place.
    struct Plan {
        let n: Int
        let factors: [Int]
        let order: [Int]                          // output slot j reads input order[j]
        let cosines: [Double], sines: [Double]   // e^(−2πij/n)
        let small: [Int: (c: [Double], s: [Double])]   // e^(−2πitq/p) for p = 3, 5

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
            var sm: [Int: (c: [Double], s: [Double])] = [:]
            for p in [3, 5] {
                sm[p] = ((0..<(p * p)).map { cos(-2 * Double.pi * Double($0 / p * ($0 % p)) / Double(p)) },
                         (0..<(p * p)).map { sin(-2 * Double.pi * Double($0 / p * ($0 % p)) / Double(p)) })
            }
            small = sm
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
            if p == 3 || p == 5 { combineOdd(p, m, yr, yi, out, tw, cs, sn); return }
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
                default:
                    preconditionFailure("radix \(p)")
                }
            }
        }

        /// Twiddles and p-point DFTs for p = 3 or 5.
        private func combineOdd(_ p: Int, _ m: Int, _ yr: Lines, _ yi: Lines, _ out: Int, _ tw: Int,
                                _ cs: UnsafeBufferPointer<Double>, _ sn: UnsafeBufferPointer<Double>) {
            let w = small[p]!
            var ar = [SIMD4<Double>](repeating: .zero, count: p), ai = ar
            for k in 0..<m {
                for t in 0..<p {
                    let idx = out + k + t * m, e = (t * k * tw) % n
                    ar[t] = yr[idx] * cs[e] - yi[idx] * sn[e]; ai[t] = yr[idx] * sn[e] + yi[idx] * cs[e]
                }
                for q in 0..<p {
                    var sr = SIMD4<Double>.zero, si = SIMD4<Double>.zero
                    for t in 0..<p {
                        let c = w.c[t * p + q], s = w.s[t * p + q]
                        sr += ar[t] * c - ai[t] * s; si += ar[t] * s + ai[t] * c
                    }
                    yr[out + k + q * m] = sr; yi[out + k + q * m] = si
                }
            }
        }
    }
}
