/// Vectorised tanh, sigmoid and exp for the attention branch (8 lanes; the loops over a
/// bag's N×attention elements would otherwise be libm calls one by one).
enum Vec {
    typealias V = SIMD8<Float>

    @inline(__always) static func load(_ p: UnsafePointer<Float>) -> V {
        UnsafeRawPointer(p).loadUnaligned(as: V.self)
    }

    @inline(__always) static func store(_ v: V, _ p: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: V.self)
    }

    /// The first `n` (< 8) floats at `p`, zero-padded.
    @inline(__always) static func loadTail(_ p: UnsafePointer<Float>, _ n: Int) -> V {
        var v = V(repeating: 0)
        for i in 0..<n { v[i] = p[i] }
        return v
    }

    @inline(__always) static func storeTail(_ v: V, _ p: UnsafeMutablePointer<Float>, _ n: Int) {
        for i in 0..<n { p[i] = v[i] }
    }

    /// e^x, Cephes-style: x = n·ln2 + r with |r| ≤ ln2/2, a degree-5 polynomial for e^r and
    /// 2^n built in the exponent bits; relative error ~2 ulp. x is clamped to [−87.3, 88.7].
    @inline(__always) static func exp(_ x: V) -> V {
        var x = x.replacing(with: V(repeating: -87.3), where: x .< -87.3)
        x = x.replacing(with: V(repeating: 88.7), where: x .> 88.7)
        let shifter = V(repeating: 12_582_912)                    // 1.5·2^23: adds round to integer
        let t = x * V(repeating: 1.442_695_04) + shifter
        let n = t - shifter
        let r = (x - n * V(repeating: 0.693_359_375)) - n * V(repeating: -2.121_944_4e-4)
        var p = V(repeating: 1.987_569_15e-4)
        p = p * r + V(repeating: 1.398_199_95e-3)
        p = p * r + V(repeating: 8.333_451_9e-3)
        p = p * r + V(repeating: 4.166_579_59e-2)
        p = p * r + V(repeating: 1.666_666_55e-1)
        p = p * r + V(repeating: 5.000_000_12e-1)
        let er = p * r * r + r + V(repeating: 1)
        let k = unsafeBitCast(t, to: SIMD8<Int32>.self) &- unsafeBitCast(shifter, to: SIMD8<Int32>.self)
        return er * unsafeBitCast((k &+ 127) &<< 23, to: V.self)
    }

    @inline(__always) static func sigmoid(_ x: V) -> V {
        V(repeating: 1) / (V(repeating: 1) + exp(-x))
    }

    /// tanh: an odd polynomial for |x| < 0.625 (Cephes tanhf; no cancellation near 0),
    /// 1 − 2/(e^{2|x|} + 1) with the sign restored elsewhere.
    @inline(__always) static func tanh(_ x: V) -> V {
        let ax = x.replacing(with: -x, where: x .< 0)
        let z = x * x
        var p = V(repeating: -5.704_988_727_45e-3)
        p = p * z + V(repeating: 2.063_908_879_54e-2)
        p = p * z + V(repeating: -5.373_971_555_31e-2)
        p = p * z + V(repeating: 1.333_144_220_36e-1)
        p = p * z + V(repeating: -3.333_328_194_22e-1)
        let small = p * z * x + x
        let big = V(repeating: 1) - V(repeating: 2) / (exp(ax + ax) + V(repeating: 1))
        let signed = big.replacing(with: -big, where: x .< 0)
        return signed.replacing(with: small, where: ax .< 0.625)
    }
}
