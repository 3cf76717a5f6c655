import Foundation

/// Separable resampling of one volume onto a cropped target grid: per axis, each target position
/// reads a few source voxels (1 nearest, 2 linear, 4 cubic B-spline) with fixed weights.
/// Positions outside the source are clamped to its edge (linear, nearest) or mirrored (spline).
struct Resampler {
    let grids: [AxisGrid]
    let crop: SIMD3<Int>
    let size: SIMD3<Int>
    let source: SIMD3<Int>
    let interpolator: Interpolator
    /// Positions outside the image's extent [−½, n − ½) read 0 (SimpleITK, hence PyRadiomics)
    /// instead of the nearest edge value.
    var outsideIsZero = false

    /// Extra source voxels around the block that the spline prefilter sees, so cutting the
    /// block out changes coefficients by less than 0.27^16 ≈ 7·10⁻¹⁰ of the signal.
    private static let splineMargin = 16

    /// Resamples `voxels` (the whole source grid), each value first passed through `map`.
    func apply(_ voxels: [Float], _ map: (Float) -> Double) -> [Double] {
        // Which source voxels the taps touch, per axis.
        var taps: [InterpolationTaps] = []
        var b0 = SIMD3<Int>(0, 0, 0), b1 = SIMD3<Int>(0, 0, 0)
        for a in 0..<3 {
            let g = grids[a]
            let positions = (0..<size[a]).map { g.position(crop[a] + $0) }
            let kind: Interpolator = positions.allSatisfy({ $0 == $0.rounded() && $0 >= 0 && $0 <= Double(source[a] - 1) }) ? .nearest : interpolator
            let lo = Int(positions.first!.rounded(.down)) - 2, hi = Int(positions.last!.rounded(.up)) + 2
            let pad = kind == .cubicSpline ? Self.splineMargin : 0
            b0[a] = max(0, lo - pad); b1[a] = min(source[a] - 1, hi + pad)
            taps.append(InterpolationTaps(positions: positions, n: source[a], blockStart: b0[a], kind: kind, outsideIsZero: outsideIsZero))
        }
        let bs = b1 &- b0 &+ 1
        var block = [Double](repeating: 0, count: bs.x * bs.y * bs.z)
        voxels.withUnsafeBufferPointer { s in
            block.withUnsafeMutableBufferPointer { o in
                for k in 0..<bs.z { for j in 0..<bs.y {
                    let from = b0.x + source.x * (b0.y + j + source.y * (b0.z + k)), to = bs.x * (j + bs.y * k)
                    for i in 0..<bs.x { o[to + i] = map(s[from + i]) }
                } }
            }
        }
        for a in 0..<3 where taps[a].kind == .cubicSpline { BSpline.prefilter(&block, size: bs, axis: a) }

        // Separable passes: x, then y, then z, each shrinking one axis to the target size.
        var cur = block, cs = bs
        for a in 0..<3 {
            var ns = cs
            ns[a] = size[a]
            cur = Self.pass(cur, cs, ns, axis: a, taps: taps[a])
            cs = ns
        }
        return cur
    }

    private static func pass(_ src: [Double], _ ss: SIMD3<Int>, _ ds: SIMD3<Int>, axis: Int, taps t: InterpolationTaps) -> [Double] {
        var out = [Double](repeating: 0, count: ds.x * ds.y * ds.z)
        let stride = axis == 0 ? 1 : (axis == 1 ? ss.x : ss.x * ss.y)
        let dstride = axis == 0 ? 1 : (axis == 1 ? ds.x : ds.x * ds.y)
        let T = t.count
        src.withUnsafeBufferPointer { s in
            out.withUnsafeMutableBufferPointer { o in
                t.index.withUnsafeBufferPointer { ti in
                    t.weight.withUnsafeBufferPointer { tw in
                        // Iterate over the lines along `axis` in the destination.
                        var other = ds
                        other[axis] = 1
                        for k in 0..<other.z { for j in 0..<other.y { for i in 0..<other.x {
                            let sBase = i + ss.x * (j + ss.y * k)
                            let dBase = i + ds.x * (j + ds.y * k)
                            for q in 0..<ds[axis] {
                                var acc = 0.0
                                for u in 0..<T { acc += tw[q * T + u] * s[sBase + ti[q * T + u] * stride] }
                                o[dBase + q * dstride] = acc
                            }
                        } } }
                    }
                }
            }
        }
        return out
    }
}

/// Source indices (relative to the block) and weights of each target position along one axis.
struct InterpolationTaps {
    let kind: Interpolator
    let count: Int
    var index: [Int] = []
    var weight: [Double] = []

    init(positions: [Double], n: Int, blockStart: Int, kind: Interpolator, outsideIsZero: Bool = false) {
        self.kind = kind
        count = kind == .nearest ? 1 : (kind == .linear ? 2 : 4)
        for p in positions {
            if outsideIsZero && !(p >= -0.5 && p < Double(n) - 0.5) {
                index += repeatElement(min(max(0, Int(p.rounded())), n - 1) - blockStart, count: count)
                weight += repeatElement(0, count: count)
                continue
            }
            switch kind {
            case .nearest:
                let i = min(max(Int((p + 0.5).rounded(.down)), 0), n - 1)
                index.append(i - blockStart); weight.append(1)
            case .linear:
                let c = min(max(p, 0), Double(n - 1))
                let i0 = n > 1 ? min(Int(c.rounded(.down)), n - 2) : 0
                let w = n > 1 ? c - Double(i0) : 0
                index.append(i0 - blockStart); weight.append(1 - w)
                index.append(min(i0 + 1, n - 1) - blockStart); weight.append(w)
            case .cubicSpline:
                let c = min(max(p, 0), Double(n - 1))
                let i = Int(c.rounded(.down)), t = c - Double(i)
                let w = BSpline.weights(t)
                for u in 0..<4 {
                    index.append(BSpline.mirror(i - 1 + u, n) - blockStart); weight.append(w[u])
                }
            }
        }
    }
}

/// Cubic B-spline interpolation (Unser's recursive prefilter, whole-sample mirror boundaries).
enum BSpline {
    static let pole = 3.0.squareRoot() - 2

    @inline(__always) static func mirror(_ i: Int, _ n: Int) -> Int {
        if n == 1 { return 0 }
        let period = 2 * (n - 1)
        var m = i % period
        if m < 0 { m += period }
        return m < n ? m : period - m
    }

    @inline(__always) static func weights(_ t: Double) -> SIMD4<Double> {
        let t2 = t * t, t3 = t2 * t, u = 1 - t
        return SIMD4(u * u * u / 6, (4 - 6 * t2 + 3 * t3) / 6, (1 + 3 * t + 3 * t2 - 3 * t3) / 6, t3 / 6)
    }

    /// Replaces samples with B-spline coefficients along one axis.
    static func prefilter(_ data: inout [Double], size s: SIMD3<Int>, axis: Int) {
        let n = s[axis]
        guard n > 1 else { return }
        let stride = axis == 0 ? 1 : (axis == 1 ? s.x : s.x * s.y)
        var other = s
        other[axis] = 1
        var line = [Double](repeating: 0, count: n)
        data.withUnsafeMutableBufferPointer { d in
            line.withUnsafeMutableBufferPointer { c in
                for k in 0..<other.z { for j in 0..<other.y { for i in 0..<other.x {
                    let base = i + s.x * (j + s.y * k)
                    for q in 0..<n { c[q] = d[base + q * stride] }
                    filterLine(c)
                    for q in 0..<n { d[base + q * stride] = c[q] }
                } } }
            }
        }
    }

    static func filterLine(_ c: UnsafeMutableBufferPointer<Double>) {
        let n = c.count, z = pole
        for q in 0..<n { c[q] *= 6 }   // gain (1 − z)(1 − 1/z)
        // Causal initial value for a mirror-symmetric extension.
        var sum = c[0]
        let horizon = 40
        if n > horizon {
            var zk = z
            for q in 1..<horizon { sum += zk * c[q]; zk *= z }
        } else {
            let z2n = pow(z, Double(2 * n - 2))
            // Period 2n−2: c_q appears at z^q and z^(2n−2−q), c_(n−1) once.
            var zk = z, zr = pow(z, Double(2 * n - 3))
            sum = c[0] + pow(z, Double(n - 1)) * c[n - 1]
            for q in 1..<(n - 1) { sum += (zk + zr) * c[q]; zk *= z; zr /= z }
            sum /= (1 - z2n)
        }
        c[0] = sum
        for q in 1..<n { c[q] += z * c[q - 1] }
        c[n - 1] = z / (z * z - 1) * (c[n - 1] + z * c[n - 2])
        for q in stride(from: n - 2, through: 0, by: -1) { c[q] = z * (c[q + 1] - c[q]) }
    }
}
