import VectorMath

/// Vectorised tanh, sigmoid and exp for the attention branch (8 lanes; the loops over a
/// bag's N×attention elements would otherwise be libm calls one by one).
enum Vec {
    typealias V = VectorMath.V

    @inline(__always) static func load(_ p: UnsafePointer<Float>) -> V { VectorMath.load(p) }
    @inline(__always) static func store(_ v: V, _ p: UnsafeMutablePointer<Float>) { VectorMath.store(v, p) }
    @inline(__always) static func loadTail(_ p: UnsafePointer<Float>, _ n: Int) -> V { VectorMath.loadTail(p, n) }
    @inline(__always) static func storeTail(_ v: V, _ p: UnsafeMutablePointer<Float>, _ n: Int) { VectorMath.storeTail(v, p, n) }
    @inline(__always) static func exp(_ x: V) -> V { VectorMath.exp(x) }

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
