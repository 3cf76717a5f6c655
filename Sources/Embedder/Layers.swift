import CBLAS
import Foundation

/// Row-major C[m×n] = alpha·A[m×k]·op(B) + beta·C on OpenBLAS; B is k×n (`transB` false)
/// or n×k (`transB` true, PyTorch's Linear layout used as is).
@inline(__always) func sgemm(m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int,
                             b: UnsafePointer<Float>, ldb: Int, transB: Bool,
                             c: UnsafeMutablePointer<Float>, ldc: Int, alpha: Float = 1, beta: Float = 0) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
}

/// A growable float buffer reused from batch to batch, so steady-state inference allocates
/// nothing.
final class Buffer {
    private(set) var pointer: UnsafeMutablePointer<Float>
    private(set) var capacity: Int

    init() { pointer = .allocate(capacity: 1); capacity = 1 }
    deinit { pointer.deallocate() }

    /// At least `count` floats (contents undefined after growth).
    func reserve(_ count: Int) -> UnsafeMutablePointer<Float> {
        if count > capacity {
            pointer.deallocate()
            pointer = .allocate(capacity: count)
            capacity = count
        }
        return pointer
    }
}

/// A 2-D convolution over NHWC activations with batch norm folded in at load time, run as
/// GEMM: pixels × (kh·kw·Cin) patches times a (kh·kw·Cin) × Cout weight matrix.
struct Conv2D {
    let cin: Int, cout: Int, kernel: Int, stride: Int, pad: Int
    /// (ky, kx, cin) × cout, row-major: the im2col row order.
    let weight: [Float]
    let bias: [Float]

    /// Loads `prefix.weight` [Cout, Cin, k, k] (torch layout) and folds the batch norm
    /// `bn.{weight,bias,running_mean,running_var}` into it: w·γ/√(var+ε), β − mean·γ/√(var+ε).
    init(_ w: WeightStore, _ prefix: String, bn: String, cin: Int, cout: Int, kernel: Int, stride: Int, pad: Int, eps: Double = 1e-5) {
        self.cin = cin; self.cout = cout; self.kernel = kernel; self.stride = stride; self.pad = pad
        let raw = w.take(prefix + ".weight", [cout, cin, kernel, kernel])
        let gamma = w.take(bn + ".weight", [cout]), beta = w.take(bn + ".bias", [cout])
        let mean = w.take(bn + ".running_mean", [cout]), variance = w.take(bn + ".running_var", [cout])
        w.ignore { $0 == bn + ".num_batches_tracked" }
        var scale = [Double](repeating: 1, count: cout)
        var b = [Float](repeating: 0, count: cout)
        for o in 0..<cout {
            scale[o] = Double(gamma[o]) / (Double(variance[o]) + eps).squareRoot()
            b[o] = Float(Double(beta[o]) - Double(mean[o]) * scale[o])
        }
        weight = Self.reorder(raw, cin: cin, cout: cout, kernel: kernel, scale: scale)
        bias = b
    }

    /// Plain convolution with its own bias (ViT patch embedding).
    init(weight raw: [Float], bias: [Float], cin: Int, cout: Int, kernel: Int, stride: Int, pad: Int) {
        self.cin = cin; self.cout = cout; self.kernel = kernel; self.stride = stride; self.pad = pad
        weight = Self.reorder(raw, cin: cin, cout: cout, kernel: kernel, scale: nil)
        self.bias = bias
    }

    /// [Cout, Cin, ky, kx] → [(ky, kx, Cin), Cout], each output channel scaled.
    private static func reorder(_ raw: [Float], cin: Int, cout: Int, kernel: Int, scale: [Double]?) -> [Float] {
        var out = [Float](repeating: 0, count: raw.count)
        for o in 0..<cout {
            let s = scale?[o] ?? 1
            for c in 0..<cin { for ky in 0..<kernel { for kx in 0..<kernel {
                let v = raw[((o * cin + c) * kernel + ky) * kernel + kx]
                out[((ky * kernel + kx) * cin + c) * cout + o] = scale == nil ? v : Float(Double(v) * s)
            } } }
        }
        return out
    }

    func outputSide(_ side: Int) -> Int { (side + 2 * pad - kernel) / stride + 1 }

    var macsPerOutputPixel: Int { kernel * kernel * cin * cout }

    /// out[b, ho, wo, Cout] = conv(input[b, h, w, Cin]) without bias (callers fuse bias and
    /// activation, or accumulate into `out` with `beta` 1 for a residual). `scratch` holds
    /// im2col rows, at most `Conv2D.im2colBudget` floats at a time.
    func forward(_ input: UnsafePointer<Float>, batch: Int, side: Int,
                 into out: UnsafeMutablePointer<Float>, beta: Float = 0, scratch: Buffer) {
        let so = outputSide(side)
        let rows = batch * so * so
        let k = kernel * kernel * cin
        if kernel == 1 && stride == 1 && pad == 0 {
            weight.withUnsafeBufferPointer { w in
                sgemm(m: rows, n: cout, k: cin, a: input, lda: cin, b: w.baseAddress!, ldb: cout, transB: false,
                      c: out, ldc: cout, beta: beta)
            }
            return
        }
        let chunkRows = max(64, min(rows, Self.im2colBudget / k))
        let cols = scratch.reserve(chunkRows * k)
        var r0 = 0
        while r0 < rows {
            let r1 = min(rows, r0 + chunkRows)
            im2col(input, side: side, outSide: so, rows: r0..<r1, into: cols)
            weight.withUnsafeBufferPointer { w in
                sgemm(m: r1 - r0, n: cout, k: k, a: cols, lda: k, b: w.baseAddress!, ldb: cout, transB: false,
                      c: out + r0 * cout, ldc: cout, beta: beta)
            }
            r0 = r1
        }
    }

    /// 4 Mi floats (16 MiB) of im2col rows per GEMM: large enough for BLAS efficiency, small
    /// enough to stay in the last-level cache and keep memory independent of the batch.
    static let im2colBudget = 4 << 20

    /// Rows `rows` (output pixels, batch-major) of the im2col matrix, zero-padded.
    private func im2col(_ input: UnsafePointer<Float>, side: Int, outSide so: Int, rows: Range<Int>,
                        into cols: UnsafeMutablePointer<Float>) {
        let k = kernel * kernel * cin
        let (cin, kernel, stride, pad) = (self.cin, self.kernel, self.stride, self.pad)
        let base = rows.lowerBound
        Compute.parallelRanges(rows.count, minChunk: max(1, 8192 / k)) { part in
            for r in part {
                let row = base + r
                let b = row / (so * so), p = row % (so * so)
                let oy = p / so, ox = p % so
                let dst = cols + r * k
                let image = input + b * side * side * cin
                for ky in 0..<kernel {
                    let iy = oy * stride - pad + ky
                    let tap = dst + ky * kernel * cin
                    guard iy >= 0 && iy < side else { tap.update(repeating: 0, count: kernel * cin); continue }
                    let ix0 = ox * stride - pad
                    if ix0 >= 0 && ix0 + kernel <= side {
                        // The whole kernel row is inside: one contiguous copy.
                        tap.update(from: image + (iy * side + ix0) * cin, count: kernel * cin)
                    } else {
                        for kx in 0..<kernel {
                            let ix = ix0 + kx
                            if ix >= 0 && ix < side {
                                (tap + kx * cin).update(from: image + (iy * side + ix) * cin, count: cin)
                            } else {
                                (tap + kx * cin).update(repeating: 0, count: cin)
                            }
                        }
                    }
                }
            }
        }
    }
}

/// A PyTorch `nn.Linear` (weight [out, in], bias [out]) applied as X·Wᵀ.
struct Linear {
    let inFeatures: Int, outFeatures: Int
    var weight: [Float]
    var bias: [Float]

    init(_ w: WeightStore, _ prefix: String, in i: Int, out o: Int) {
        inFeatures = i; outFeatures = o
        weight = w.take(prefix + ".weight", [o, i])
        bias = w.take(prefix + ".bias", [o])
    }

    /// Folds a per-output scale (LayerScale γ) into the weights and bias.
    mutating func scaleOutputs(by gamma: [Float]) {
        for o in 0..<outFeatures {
            for i in 0..<inFeatures { weight[o * inFeatures + i] *= gamma[o] }
            bias[o] *= gamma[o]
        }
    }

    /// out[m × out] = x[m × in]·Wᵀ (+ beta·out); bias is left to the caller's fused pass.
    func forward(_ x: UnsafePointer<Float>, rows m: Int, into out: UnsafeMutablePointer<Float>, beta: Float = 0) {
        weight.withUnsafeBufferPointer { w in
            sgemm(m: m, n: outFeatures, k: inFeatures, a: x, lda: inFeatures, b: w.baseAddress!, ldb: inFeatures,
                  transB: true, c: out, ldc: outFeatures, beta: beta)
        }
    }
}
