import Foundation
import VectorMath

/// Element-wise kernels on row-major float matrices, vectorised with Swift SIMD and split
/// over `Compute.threads`. GEMMs go to BLAS (`GEMM.swift`); everything between them is here.
enum Kernels {
    typealias V = SIMD8<Float>
    static let lanes = 8

    @inline(__always) static func load(_ p: UnsafePointer<Float>) -> V { VectorMath.load(p) }
    @inline(__always) static func store(_ v: V, _ p: UnsafeMutablePointer<Float>) { VectorMath.store(v, p) }
    /// e^x to about 2 ulp; inputs below −87 give ~1e-38, not 0.
    @inline(__always) static func exp(_ x: V) -> V { VectorMath.exp(x) }

    /// Exact-form GELU, x·Φ(x) = ½x·erfc(−x/√2), as PyTorch's default `gelu` (not the tanh
    /// approximation). erfc is the Chebyshev fit of Numerical Recipes (`erfcc`), whose error is
    /// below 1.2e-7 *relative* everywhere, so the small negative tail stays accurate too.
    @inline(__always) static func gelu(_ x: V) -> V {
        let z = x.replacing(with: -x, where: x .< 0) * V(repeating: 0.707_106_78)   // |x|/√2
        let t = V(repeating: 1) / (V(repeating: 1) + V(repeating: 0.5) * z)
        var p = V(repeating: 0.170_872_77)
        p = p * t + V(repeating: -0.822_152_23)
        p = p * t + V(repeating: 1.488_515_87)
        p = p * t + V(repeating: -1.135_203_98)
        p = p * t + V(repeating: 0.278_868_07)
        p = p * t + V(repeating: -0.186_288_06)
        p = p * t + V(repeating: 0.096_784_18)
        p = p * t + V(repeating: 0.374_091_96)
        p = p * t + V(repeating: 1.000_023_68)
        p = p * t + V(repeating: -1.265_512_23)
        let erfcAbs = t * Kernels.exp(p - z * z)                  // erfc(|x|/√2)
        // Φ(x) = ½erfc(|x|/√2) for x < 0, 1 − ½erfc(|x|/√2) for x ≥ 0.
        let half = V(repeating: 0.5) * erfcAbs
        let phi = (V(repeating: 1) - half).replacing(with: half, where: x .< 0)
        return x * phi
    }

    /// Runs `body(row)` for each of `rows` rows in parallel (rows grouped into chunks).
    @inline(__always) static func rows(_ rows: Int, work: Int, _ body: @escaping (Int) -> Void) {
        Compute.parallelRanges(rows, minChunk: max(1, (1 << 15) / max(1, work))) { r in for i in r { body(i) } }
    }

    enum Activation { case none, relu, gelu }

    /// c[i, j] = act(c[i, j] + bias[j]) over an m × n matrix with row stride `ld`, on the
    /// calling thread (the epilogue of one thread's GEMM rows).
    static func biasActivationRows(_ c: UnsafeMutablePointer<Float>, m: Int, n: Int, ld: Int,
                                   bias: UnsafePointer<Float>, _ act: Activation) {
        for i in 0..<m {
            let row = c + i * ld
            var j = 0
            while j + lanes <= n {
                var v = load(row + j) + load(bias + j)
                switch act {
                case .none: break
                case .relu: v = v.replacing(with: 0, where: v .< 0)
                case .gelu: v = gelu(v)
                }
                store(v, row + j)
                j += lanes
            }
            while j < n {
                var v = row[j] + bias[j]
                switch act {
                case .none: break
                case .relu: v = max(v, 0)
                case .gelu: v = gelu(V(repeating: v))[0]
                }
                row[j] = v
                j += 1
            }
        }
    }

    /// Layer norm of each of `m` rows of length `n`: (x − mean)/√(var + eps)·w + b, written
    /// to `out` (may equal `x`). Two-pass mean/variance, as PyTorch.
    static func layerNorm(_ x: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, m: Int, n: Int,
                          weight: UnsafePointer<Float>, bias: UnsafePointer<Float>, eps: Float) {
        rows(m, work: n) { i in
            let row = x + i * n, dst = out + i * n
            var acc = V(repeating: 0)
            var j = 0
            while j + lanes <= n { acc += load(row + j); j += lanes }
            var sum = acc.sum()
            while j < n { sum += row[j]; j += 1 }
            let mean = sum / Float(n)
            acc = V(repeating: 0)
            j = 0
            let vm = V(repeating: mean)
            while j + lanes <= n { let d = load(row + j) - vm; acc += d * d; j += lanes }
            var sq = acc.sum()
            while j < n { let d = row[j] - mean; sq += d * d; j += 1 }
            let inv = 1 / (sq / Float(n) + eps).squareRoot()
            let vi = V(repeating: inv)
            j = 0
            while j + lanes <= n { store((load(row + j) - vm) * vi * load(weight + j) + load(bias + j), dst + j); j += lanes }
            while j < n { dst[j] = (row[j] - mean) * inv * weight[j] + bias[j]; j += 1 }
        }
    }

    /// Softmax of one row of `n` floats in place (max-subtracted).
    @inline(__always) static func softmaxRow(_ row: UnsafeMutablePointer<Float>, _ n: Int) {
        var mx = -Float.infinity
        for j in 0..<n { mx = max(mx, row[j]) }
        let vm = V(repeating: mx)
        var acc = V(repeating: 0)
        var j = 0
        while j + lanes <= n { let e = Kernels.exp(load(row + j) - vm); store(e, row + j); acc += e; j += lanes }
        var sum = acc.sum()
        while j < n { let e = Kernels.exp(V(repeating: row[j] - mx))[0]; row[j] = e; sum += e; j += 1 }
        let inv = V(repeating: 1 / sum)
        j = 0
        while j + lanes <= n { store(load(row + j) * inv, row + j); j += lanes }
        while j < n { row[j] *= inv[0]; j += 1 }
    }
}
