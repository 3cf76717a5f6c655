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

    /// out[b, ho, wo, Cout] = act(conv(input[b, h, w, Cin]) + beta·out + bias): beta 1
    /// accumulates into `out` (a residual), `bias` nil leaves the bias to a later call.
    /// Output rows (pixels) are split over the threads; each thread builds im2col rows for a
    /// chunk in its own scratch, multiplies them and applies the epilogue while the chunk is
    /// still in cache.
    func forward(_ input: UnsafePointer<Float>, batch: Int, side: Int, into out: UnsafeMutablePointer<Float>,
                 beta: Float = 0, bias: [Float]?, activation: Kernels.Activation = .none, scratch: ScratchPool) {
        let so = outputSide(side)
        let rows = batch * so * so
        let k = kernel * kernel * cin
        let direct = kernel == 1 && stride == 1 && pad == 0
        // About 256 Ki floats of A rows per chunk (L2-sized), never fewer than 128 rows.
        let chunkRows = max(128, (256 << 10) / max(k, cout))
        weight.withUnsafeBufferPointer { w in
            let w = w.baseAddress!
            Compute.parallelRows(rows, minRows: 64) { part, mine in
                let cols = direct ? nil : scratch[part].reserve(chunkRows * k)
                var r0 = mine.lowerBound
                while r0 < mine.upperBound {
                    let r1 = min(mine.upperBound, r0 + chunkRows)
                    var a = input + r0 * cin
                    if let cols {
                        im2col(input, side: side, outSide: so, rows: r0..<r1, into: cols)
                        a = UnsafePointer(cols)
                    }
                    sgemm(m: r1 - r0, n: cout, k: k, a: a, lda: direct ? cin : k, b: w, ldb: cout, transB: false,
                          c: out + r0 * cout, ldc: cout, beta: beta)
                    if let bias {
                        bias.withUnsafeBufferPointer { b in
                            Kernels.biasActivationRows(out + r0 * cout, m: r1 - r0, n: cout, ld: cout, bias: b.baseAddress!, activation)
                        }
                    }
                    r0 = r1
                }
            }
        }
    }

    /// Rows `rows` (output pixels, batch-major) of the im2col matrix, zero-padded, on the
    /// calling thread.
    private func im2col(_ input: UnsafePointer<Float>, side: Int, outSide so: Int, rows: Range<Int>,
                        into cols: UnsafeMutablePointer<Float>) {
        let k = kernel * kernel * cin
        for row in rows {
            let b = row / (so * so), p = row % (so * so)
            let oy = p / so, ox = p % so
            let dst = cols + (row - rows.lowerBound) * k
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

/// One scratch buffer per GEMM thread (by the part index of `Compute.parallelRows`).
final class ScratchPool {
    private var buffers: [Buffer] = []
    private let lock = NSLock()

    subscript(part: Int) -> Buffer {
        lock.lock(); defer { lock.unlock() }
        while buffers.count <= part { buffers.append(Buffer()) }
        return buffers[part]
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

    /// out[m × out] = act(x[m × in]·Wᵀ + beta·out + bias), rows split over the threads with
    /// the epilogue fused per thread.
    func forward(_ x: UnsafePointer<Float>, rows m: Int, into out: UnsafeMutablePointer<Float>, beta: Float = 0,
                 activation: Kernels.Activation = .none) {
        let (n, k) = (outFeatures, inFeatures)
        weight.withUnsafeBufferPointer { w in bias.withUnsafeBufferPointer { b in
            let (w, b) = (w.baseAddress!, b.baseAddress!)
            Compute.parallelRows(m, minRows: 32) { _, r in
                sgemm(m: r.count, n: n, k: k, a: x + r.lowerBound * k, lda: k, b: w, ldb: k, transB: true,
                      c: out + r.lowerBound * n, ldc: n, beta: beta)
                Kernels.biasActivationRows(out + r.lowerBound * n, m: r.count, n: n, ld: n, bias: b, activation)
            }
        } }
    }
}

/// torchvision's ToTensor + Normalize, in the same float operations: (p/255 − mean)/std,
/// interleaved RGB in, NHWC out.
func normalise(_ pixels: UnsafePointer<UInt8>, count: Int, mean: [Float], std: [Float], into out: UnsafeMutablePointer<Float>) {
    let (m0, m1, m2) = (mean[0], mean[1], mean[2]), (s0, s1, s2) = (std[0], std[1], std[2])
    Compute.parallelRanges(count, minChunk: 1 << 14) { r in
        for i in r {
            out[3 * i] = (Float(pixels[3 * i]) / 255 - m0) / s0
            out[3 * i + 1] = (Float(pixels[3 * i + 1]) / 255 - m1) / s1
            out[3 * i + 2] = (Float(pixels[3 * i + 2]) / 255 - m2) / s2
        }
    }
}

/// 3×3 max pool, stride 2, padding 1 (padding never wins), NHWC; returns the output side.
func maxPool3x3s2(_ x: UnsafePointer<Float>, batch: Int, side: Int, channels c: Int, into out: UnsafeMutablePointer<Float>) -> Int {
    let so = (side + 2 - 3) / 2 + 1
    Compute.parallelRanges(batch * so, minChunk: 1) { r in
        for row in r {
            let b = row / so, oy = row % so
            for ox in 0..<so {
                let dst = out + ((b * so + oy) * so + ox) * c
                dst.update(repeating: -.infinity, count: c)
                for iy in max(0, 2 * oy - 1)...min(side - 1, 2 * oy + 1) {
                    for ix in max(0, 2 * ox - 1)...min(side - 1, 2 * ox + 1) {
                        let src = x + ((b * side + iy) * side + ix) * c
                        for ch in 0..<c { dst[ch] = max(dst[ch], src[ch]) }
                    }
                }
            }
        }
    }
    return so
}

/// Mean over the `pixels` positions of each image: [batch, pixels, c] → [batch, c].
func globalAveragePool(_ x: UnsafePointer<Float>, batch: Int, pixels: Int, channels c: Int, into out: UnsafeMutablePointer<Float>) {
    for b in 0..<batch {
        let dst = out + b * c
        dst.update(repeating: 0, count: c)
        for p in 0..<pixels {
            let src = x + (b * pixels + p) * c
            for ch in 0..<c { dst[ch] += src[ch] }
        }
        let inv = 1 / Float(pixels)
        for ch in 0..<c { dst[ch] *= inv }
    }
}
