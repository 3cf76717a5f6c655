/// 8-lane float loads, stores and e^x shared by the inference engine and the MIL trainer
/// (inlinable, so each module's loops compile them in place).
public enum VectorMath {
    public typealias V = SIMD8<Float>

    @inlinable @inline(__always) public static func load(_ p: UnsafePointer<Float>) -> V {
        UnsafeRawPointer(p).loadUnaligned(as: V.self)
    }

    @inlinable @inline(__always) public static func store(_ v: V, _ p: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: V.self)
    }

    /// The first `n` (< 8) floats at `p`, zero-padded.
    @inlinable @inline(__always) public static func loadTail(_ p: UnsafePointer<Float>, _ n: Int) -> V {
        var v = V(repeating: 0)
        for i in 0..<n { v[i] = p[i] }
        return v
    }

    @inlinable @inline(__always) public static func storeTail(_ v: V, _ p: UnsafeMutablePointer<Float>, _ n: Int) {
        for i in 0..<n { p[i] = v[i] }
    }

    /// e^x, Cephes-style: x = n·ln2 + r with |r| ≤ ln2/2, a degree-5 polynomial for e^r and
    /// 2^n built in the exponent bits; relative error ~2 ulp. x is clamped to [−87.3, 88.7].
    @inlinable @inline(__always) public static func exp(_ x: V) -> V {
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
}
