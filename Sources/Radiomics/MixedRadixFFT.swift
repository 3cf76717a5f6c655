import Foundation

/// Mixed-radix (2, 3, 4, 5) complex FFT along the axes of a 2-D or 3-D grid, four lines at a
/// time in SIMD lanes. Lengths with only these factors keep zero padding close to what is
/// needed (270 for 257, where radix 2 needs 512). The one FFT of the module: Moran's I /
/// Geary's C and the Gabor filter.
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
        re.withUnsafeMutableBufferPointer { r in
            im.withUnsafeMutableBufferPointer { m in
                transform(r.baseAddress!, m.baseAddress!, size, plans: (0..<3).map { Plan(size[$0]) },
                          scratch: Scratch(size.max()), order: order, extentIn: extentIn, extentOut: extentOut, inverse: false)
            }
        }
    }

    /// `transform3D` on raw storage with prebuilt plans (one per axis) and scratch. `inverse`
    /// gives the unnormalised inverse (conj ∘ forward ∘ conj).
    static func transform(_ re: UnsafeMutablePointer<Double>, _ im: UnsafeMutablePointer<Double>, _ size: SIMD3<Int>,
                          plans: [Plan], scratch: Scratch, order: [Int], extentIn: SIMD3<Int>, extentOut: SIMD3<Int>,
                          inverse: Bool) {
        var done = SIMD3<Int>(0, 0, 0)
        for axis in order {
            defer { done[axis] = 1 }
            guard size[axis] > 1 else { continue }
            var live = extentIn
            for b in 0..<3 where done[b] == 1 { live[b] = extentOut[b] }
            live[axis] = 1
            pass(re, im, size, axis: axis, live: live, plan: plans[axis], scratch: scratch, inverse: inverse)
        }
    }

    /// Working lines for `Plan.run`: four buffers of SIMD4 lanes. One per thread.
    final class Scratch {
        let a, b, c, d: UnsafeMutableBufferPointer<SIMD4<Double>>
        init(_ n: Int) {
            a = .allocate(capacity: n); b = .allocate(capacity: n); c = .allocate(capacity: n); d = .allocate(capacity: n)
        }
        deinit { a.deallocate(); b.deallocate(); c.deallocate(); d.deallocate() }
    }

    /// A 2-D grid n1 × n2 (n1 fastest) with its plans built once; `Scratch(max(n1, n2))` per
    /// thread. Forward runs rows then columns, inverse columns then rows, so the zero padding
    /// of the input and the unread part of the output are both skipped.
    struct Grid2D {
        let n1: Int, n2: Int
        let plans: [Plan]

        init(_ n1: Int, _ n2: Int) {
            self.n1 = n1; self.n2 = n2
            let rows = Plan(n1)
            plans = [rows, n2 == n1 ? rows : Plan(n2), Plan(1)]
        }

        /// In place. The input is zero outside [0, extentIn); only [0, extentOut) of the output
        /// is wanted. The inverse is unnormalised (divide by n1·n2).
        func transform(_ re: UnsafeMutablePointer<Double>, _ im: UnsafeMutablePointer<Double>, scratch: Scratch,
                       inverse: Bool, extentIn: (Int, Int), extentOut: (Int, Int)) {
            MixedRadixFFT.transform(re, im, SIMD3(n1, n2, 1), plans: plans, scratch: scratch, order: inverse ? [1, 0] : [0, 1],
                                    extentIn: SIMD3(extentIn.0, extentIn.1, 1), extentOut: SIMD3(extentOut.0, extentOut.1, 1),
                                    inverse: inverse)
        }
    }

    /// One pass along `axis` over the lines whose other coordinates lie in [0, live). Four lines
    /// per batch: lanes are adjacent x, or adjacent y for passes along x. `inverse` conjugates
    /// each line on the way in and out.
    private static func pass(_ r: UnsafeMutablePointer<Double>, _ m: UnsafeMutablePointer<Double>, _ size: SIMD3<Int>,
                             axis: Int, live: SIMD3<Int>, plan: Plan, scratch: Scratch, inverse: Bool) {
        let n = size[axis]
        let stride = axis == 0 ? 1 : (axis == 1 ? size.x : size.x * size.y)
        let laneAxis = axis == 0 ? 1 : 0
        let laneStride = laneAxis == 0 ? 1 : size.x
        let a = scratch.a, b = scratch.b, c = scratch.c, d = scratch.d
        let sign: Double = inverse ? -1 : 1
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
                        a[q] = SIMD4(r[o], r[o + 1], r[o + 2], r[o + 3]); b[q] = sign * SIMD4(m[o], m[o + 1], m[o + 2], m[o + 3])
                    } else {
                        var vr = SIMD4<Double>.zero, vi = SIMD4<Double>.zero
                        for l in 0..<lanes { vr[l] = r[o + l * laneStride]; vi[l] = sign * m[o + l * laneStride] }
                        a[q] = vr; b[q] = vi
                    }
                }
                plan.run(a, b, c, d)
                for q in 0..<n {
                    let o = base + q * stride
                    if lanes == 4 && laneStride == 1 {
                        let cr = c[q], ci = sign * d[q]
                        r[o] = cr.x; r[o + 1] = cr.y; r[o + 2] = cr.z; r[o + 3] = cr.w
                        m[o] = ci.x; m[o + 1] = ci.y; m[o + 2] = ci.z; m[o + 3] = ci.w
                    } else {
                        for l in 0..<lanes { r[o + l * laneStride] = c[q][l]; m[o + l * laneStride] = sign * d[q][l] }
                    }
                }
                lane += 4
            }
        } } }
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
