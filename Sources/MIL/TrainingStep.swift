import SeededRandom
import Foundation

/// One bag's forward and backward pass in training mode: the loss and its analytic gradient
/// with respect to every parameter. GEMMs and GEMVs go to BLAS; the element-wise steps run
/// row by row on 8-lane vectors. Scratch is kept between bags (memory O(N × hidden), no N×N).
///
/// With h = dropout(relu(x·W1ᵀ + b1)), a = dropout(tanh(h·Waᵀ + ba)), b = dropout(σ(h·Wbᵀ + bb)),
/// s = (a ⊙ b)·wcᵀ + bc (CLAM's A_raw), α = softmax(s), M = αᵀh, logits = Wcls·M + bcls:
///   loss = scale · [w·CE(logits, y) + (1 − w)·instance loss]   (ABMIL: w = 1)
/// where the instance loss (CLAM-SB, `subtyping` off, `inst_loss ce`) is the mean CE of the
/// in-class classifier `instance_classifiers[y]` on the k patches of highest attention
/// (target 1) and the k of lowest (target 0). k = min(k_sample, N): CLAM's `topk` fails when a
/// bag has fewer than k_sample patches; taking all of them keeps such bags usable, and with
/// N < 2·k_sample the two sets overlap, as they already do in CLAM for k_sample ≤ N < 2·k_sample.
final class TrainingStep {
    struct Result {
        var bagLoss: Float          // CE of the bag, unweighted
        var instanceLoss: Float     // mean instance CE (0 for ABMIL)
        var probabilities: [Float]
        /// The instance classifier that received a gradient (nil for ABMIL); the others have
        /// none this step, and PyTorch's Adam leaves parameters without a gradient untouched.
        var instanceClassifier: Int?
    }

    let layout: MILLayout
    let workers: Workers
    private let hBuf = Scratch<Float>(), dhBuf = Scratch<Float>(), taBuf = Scratch<Float>(), sbBuf = Scratch<Float>()
    private let maBuf = Scratch<Float>(), mbBuf = Scratch<Float>(), maskBuf = Scratch<UInt8>()
    private let sBuf = Scratch<Float>(), alphaBuf = Scratch<Float>(), dAlphaBuf = Scratch<Float>(), partialBuf = Scratch<Float>()
    /// The last step's dropout masks (h: keep flags; a, b: multipliers 0 or 1/(1−p)) and the
    /// patches chosen for the instance loss; tests read them to recompute the loss independently.
    private(set) var lastMasks: (h: [UInt8], a: [Float], b: [Float])? = nil
    private(set) var lastSelection: (top: [Int], bottom: [Int]) = ([], [])
    var keepMasks = false

    /// Rows per block of the attention-weight gradient's partial sums (fixed, so the sum's
    /// order does not depend on the thread count).
    static let block = 256

    init(layout: MILLayout, threads: Int = 1) {
        self.layout = layout
        workers = Workers(threads)
    }

    /// Forward and backward for `n` patches at `x` (n × input). Writes the gradient of the
    /// loss into `grad` (layout.count floats, overwritten). `dropout` p in [0, 1) draws masks
    /// from `rng`; p = 0 is evaluation-mode arithmetic.
    func run(params P: UnsafePointer<Float>, grad G: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, n: Int,
             label y: Int, bagWeight: Float, lossScale: Float, kSample: Int, dropout: Float,
             rng: inout SplitMix64) -> Result {
        let L = layout, D = L.input, H = L.hidden, A = L.attention, C = L.classes, W = workers
        let h = hBuf.ensure(n * H), dh = dhBuf.ensure(n * H)
        let ta = taBuf.ensure(n * A), sb = sbBuf.ensure(n * A)
        let s = sBuf.ensure(n), alpha = alphaBuf.ensure(n), dAlpha = dAlphaBuf.ensure(n)
        let useDropout = dropout > 0
        let keep: Float = useDropout ? 1 / (1 - dropout) : 1
        G.initialize(repeating: 0, count: L.count)

        // Dropout masks first, in one sequential stream: fc, then the tanh and sigmoid branches.
        let maskH = maskBuf.ensure(useDropout ? n * H : 1)
        let ma = maBuf.ensure(useDropout ? n * A : 1), mb = mbBuf.ensure(useDropout ? n * A : 1)
        if useDropout {
            Self.fillMask(maskH, n * H, p: dropout, rng: &rng)
            Self.fillMultipliers(ma, n * A, p: dropout, keep: keep, rng: &rng)
            Self.fillMultipliers(mb, n * A, p: dropout, keep: keep, rng: &rng)
        }
        if keepMasks {
            lastMasks = useDropout ? (Array(UnsafeBufferPointer(start: maskH, count: n * H)),
                                      Array(UnsafeBufferPointer(start: ma, count: n * A)),
                                      Array(UnsafeBufferPointer(start: mb, count: n * A))) : nil
        }

        // fc: h = dropout(relu(x·W1ᵀ + b1))
        W.gemm(transB: true, m: n, n: H, k: D, a: x, lda: D, b: P + L.w1, ldb: D, c: h, ldc: H)
        let b1 = P + L.b1
        W.rows(n) { rows in
            for r in rows {
                let row = h + r * H
                if useDropout {
                    let m = maskH + r * H
                    for j in 0..<H { row[j] = m[j] != 0 ? max(row[j] + b1[j], 0) * keep : 0 }
                } else {
                    for j in 0..<H { row[j] = max(row[j] + b1[j], 0) }
                }
            }
        }

        // Gated attention: s = (dropout(tanh) ⊙ dropout(σ))·wcᵀ + bc
        W.gemm(transB: true, m: n, n: A, k: H, a: h, lda: H, b: P + L.wa, ldb: H, c: ta, ldc: A)
        W.gemm(transB: true, m: n, n: A, k: H, a: h, lda: H, b: P + L.wb, ldb: H, c: sb, ldc: A)
        W.rows(n) { rows in
            for r in rows {
                s[r] = P[L.bc] + Self.gateRow(ta: ta + r * A, sb: sb + r * A, ma: useDropout ? ma + r * A : nil,
                                              mb: useDropout ? mb + r * A : nil, ba: P + L.ba, bb: P + L.bb, wc: P + L.wc, count: A)
            }
        }

        // Attention pooling and the bag classifier.
        softmax(s, n, into: alpha)
        var M = [Float](repeating: 0, count: H), logits = [Float](repeating: 0, count: C)
        BLAS.gemv(trans: true, m: n, n: H, a: h, lda: H, x: alpha, y: &M)
        logits.withUnsafeMutableBufferPointer { lg in
            for c in 0..<C { lg[c] = P[L.bCls + c] }
            BLAS.gemv(m: C, n: H, a: P + L.wCls, lda: H, x: M, y: lg.baseAddress!, beta: 1)
        }
        let (probs, bagLoss) = Self.crossEntropy(logits, y)
        let bagScale = (L.instance ? bagWeight : 1) * lossScale

        // Backward through the bag classifier and the pooling.
        var dLogits = probs.map { $0 * bagScale }
        dLogits[y] -= bagScale
        for c in 0..<C {
            G[L.bCls + c] = dLogits[c]
            let gw = G + L.wCls + c * H
            for j in 0..<H { gw[j] = dLogits[c] * M[j] }
        }
        var dM = [Float](repeating: 0, count: H)
        BLAS.gemv(trans: true, m: C, n: H, a: P + L.wCls, lda: H, x: dLogits, y: &dM)
        BLAS.gemv(m: n, n: H, a: h, lda: H, x: dM, y: dAlpha)
        var dot: Float = 0
        for r in 0..<n { dot += alpha[r] * dAlpha[r] }
        let ds = dAlpha   // reused in place: ds = α ⊙ (dα − α·dα)
        for r in 0..<n { ds[r] = alpha[r] * (dAlpha[r] - dot) }
        dM.withUnsafeBufferPointer { dM in
            W.rows(n) { rows in
                for r in rows {
                    let a = alpha[r], row = dh + r * H
                    for j in 0..<H { row[j] = a * dM[j] }
                }
            }
        }

        // Instance loss on the top/bottom attended patches (CLAM-SB only).
        var instanceLoss: Float = 0
        if L.instance {
            let k = min(kSample, n)
            let top = Array((0..<n).sorted { s[$0] > s[$1] || (s[$0] == s[$1] && $0 < $1) }.prefix(k))
            let bottom = Array((0..<n).sorted { s[$0] < s[$1] || (s[$0] == s[$1] && $0 < $1) }.prefix(k))
            lastSelection = (top, bottom)
            let w = P + L.wInst[y], b = P + L.bInst[y], gw = G + L.wInst[y], gb = G + L.bInst[y]
            let instScale = (1 - bagWeight) * lossScale / Float(2 * k)
            for (row, target) in top.map({ ($0, 1) }) + bottom.map({ ($0, 0) }) {
                let hr = h + row * H, dhr = dh + row * H
                var z = [b[0], b[1]]
                for j in 0..<H { z[0] += w[j] * hr[j]; z[1] += w[H + j] * hr[j] }
                let (p, loss) = Self.crossEntropy(z, target)
                instanceLoss += loss
                for c in 0..<2 {
                    let g = (p[c] - (c == target ? 1 : 0)) * instScale
                    gb[c] += g
                    for j in 0..<H { gw[c * H + j] += g * hr[j]; dhr[j] += g * w[c * H + j] }
                }
            }
            instanceLoss /= Float(2 * k)
        }

        // Backward through the gate: ta ← ∂/∂(pre-tanh), sb ← ∂/∂(pre-sigmoid); wc's gradient
        // as per-block partial sums added in block order.
        let blocks = (n + Self.block - 1) / Self.block
        let partial = partialBuf.ensure(blocks * A)
        partial.initialize(repeating: 0, count: blocks * A)
        W.rows(blocks, minRows: 1) { range in
            for blk in range {
                for r in (blk * Self.block)..<min(n, (blk + 1) * Self.block) {
                    Self.gateBackwardRow(ds: ds[r], ta: ta + r * A, sb: sb + r * A, ma: useDropout ? ma + r * A : nil,
                                         mb: useDropout ? mb + r * A : nil, wc: P + L.wc, gwc: partial + blk * A, count: A)
                }
            }
        }
        for blk in 0..<blocks { for j in 0..<A { G[L.wc + j] += partial[blk * A + j] } }
        var gbc: Float = 0
        for r in 0..<n { gbc += ds[r] }
        G[L.bc] = gbc
        columnSums(ta, rows: n, cols: A, into: G + L.ba)
        columnSums(sb, rows: n, cols: A, into: G + L.bb)
        W.gemm(transA: true, m: A, n: H, k: n, a: ta, lda: A, b: h, ldb: H, c: G + L.wa, ldc: H)
        W.gemm(transA: true, m: A, n: H, k: n, a: sb, lda: A, b: h, ldb: H, c: G + L.wb, ldc: H)
        W.gemm(m: n, n: H, k: A, a: ta, lda: A, b: P + L.wa, ldb: H, c: dh, ldc: H, beta: 1)
        W.gemm(m: n, n: H, k: A, a: sb, lda: A, b: P + L.wb, ldb: H, c: dh, ldc: H, beta: 1)

        // Through dropout and ReLU: h > 0 exactly where the pre-activation was positive and kept.
        W.rows(n) { rows in
            for i in (rows.lowerBound * H)..<(rows.upperBound * H) { dh[i] = h[i] > 0 ? dh[i] * keep : 0 }
        }
        columnSums(dh, rows: n, cols: H, into: G + L.b1)
        W.gemm(transA: true, m: H, n: D, k: n, a: dh, lda: H, b: x, ldb: D, c: G + L.w1, ldc: D)

        return Result(bagLoss: bagLoss, instanceLoss: instanceLoss, probabilities: probs,
                      instanceClassifier: L.instance ? y : nil)
    }

    /// out[j] = Σ_r m[r, j] in row order (overwrites out); columns split over the workers.
    func columnSums(_ m: UnsafePointer<Float>, rows: Int, cols: Int, into out: UnsafeMutablePointer<Float>) {
        workers.rows(cols, minRows: 64) { cr in
            out.advanced(by: cr.lowerBound).initialize(repeating: 0, count: cr.count)
            for r in 0..<rows {
                let row = m + r * cols
                for j in cr { out[j] += row[j] }
            }
        }
    }

    // MARK: element-wise pieces

    /// One row of the gate, in place: ta ← tanh(ta + ba), sb ← σ(sb + bb) (both without
    /// dropout, kept for the backward pass); returns Σ_j (ta·ma)(sb·mb)·wc.
    @inline(__always)
    static func gateRow(ta: UnsafeMutablePointer<Float>, sb: UnsafeMutablePointer<Float>, ma: UnsafePointer<Float>?,
                        mb: UnsafePointer<Float>?, ba: UnsafePointer<Float>, bb: UnsafePointer<Float>,
                        wc: UnsafePointer<Float>, count: Int) -> Float {
        var acc = Vec.V(repeating: 0)
        var j = 0
        while j < count {
            let w = min(8, count - j), o = j
            let full = w == 8
            let ld = { (p: UnsafePointer<Float>) in full ? Vec.load(p + o) : Vec.loadTail(p + o, w) }
            let t = Vec.tanh(ld(ta) + ld(ba)), g = Vec.sigmoid(ld(sb) + ld(bb))
            var prod = t * g * ld(wc)
            if let ma, let mb { prod = prod * ld(ma) * ld(mb) }
            if full { Vec.store(t, ta + j); Vec.store(g, sb + j) } else { Vec.storeTail(t, ta + j, w); Vec.storeTail(g, sb + j, w) }
            // Padding lanes hold tanh(0)·σ(0)·0 = 0.
            acc += prod
            j += 8
        }
        return acc.sum()
    }

    /// One row of the gate's backward pass, in place: given ∂loss/∂s = ds, ta becomes
    /// ∂/∂(pre-tanh) and sb ∂/∂(pre-sigmoid); adds this row's share of ∂/∂wc into gwc.
    @inline(__always)
    static func gateBackwardRow(ds: Float, ta: UnsafeMutablePointer<Float>, sb: UnsafeMutablePointer<Float>,
                                ma: UnsafePointer<Float>?, mb: UnsafePointer<Float>?, wc: UnsafePointer<Float>,
                                gwc: UnsafeMutablePointer<Float>, count: Int) {
        let one = Vec.V(repeating: 1), dsv = Vec.V(repeating: ds)
        var j = 0
        while j < count {
            let w = min(8, count - j), o = j
            let full = w == 8
            let ld = { (p: UnsafePointer<Float>) in full ? Vec.load(p + o) : Vec.loadTail(p + o, w) }
            let t = ld(ta), g = ld(sb)
            let mA = ma.map(ld) ?? one, mB = mb.map(ld) ?? one
            let tm = t * mA, gm = g * mB
            let dg = dsv * ld(wc)                       // ∂loss/∂(a⊙b)
            let dPreT = dg * gm * mA * (one - t * t)
            let dPreS = dg * tm * mB * g * (one - g)
            let gw = ld(UnsafePointer(gwc)) + dsv * tm * gm
            if full {
                Vec.store(dPreT, ta + j); Vec.store(dPreS, sb + j); Vec.store(gw, gwc + j)
            } else {
                Vec.storeTail(dPreT, ta + j, w); Vec.storeTail(dPreS, sb + j, w); Vec.storeTail(gw, gwc + j, w)
            }
            j += 8
        }
    }

    /// Softmax probabilities and −log p[target], via log-sum-exp.
    static func crossEntropy(_ z: [Float], _ target: Int) -> ([Float], Float) {
        let mx = z.max()!
        let e = z.map { Foundation.exp($0 - mx) }
        let sum = e.reduce(0, +)
        return (e.map { $0 / sum }, Foundation.log(sum) - (z[target] - mx))
    }

    /// Dropout keep-flags: 1 with probability 1 − p (each from 32 random bits).
    static func fillMask(_ m: UnsafeMutablePointer<UInt8>, _ count: Int, p: Float, rng: inout SplitMix64) {
        let threshold = UInt64(Double(p) * 4_294_967_296)
        var i = 0
        while i < count {
            let r = rng.next()
            m[i] = (r & 0xFFFF_FFFF) >= threshold ? 1 : 0
            if i + 1 < count { m[i + 1] = (r >> 32) >= threshold ? 1 : 0 }
            i += 2
        }
    }

    /// Dropout multipliers: `keep` (= 1/(1−p)) with probability 1 − p, else 0.
    static func fillMultipliers(_ m: UnsafeMutablePointer<Float>, _ count: Int, p: Float, keep: Float, rng: inout SplitMix64) {
        let threshold = UInt64(Double(p) * 4_294_967_296)
        var i = 0
        while i < count {
            let r = rng.next()
            m[i] = (r & 0xFFFF_FFFF) >= threshold ? keep : 0
            if i + 1 < count { m[i + 1] = (r >> 32) >= threshold ? keep : 0 }
            i += 2
        }
    }
}

/// out = softmax(v) over n values.
func softmax(_ v: UnsafePointer<Float>, _ n: Int, into out: UnsafeMutablePointer<Float>) {
    var mx = -Float.infinity
    for i in 0..<n { mx = max(mx, v[i]) }
    var sum: Double = 0
    for i in 0..<n { out[i] = Foundation.exp(v[i] - mx); sum += Double(out[i]) }
    let inv = Float(1 / sum)
    for i in 0..<n { out[i] *= inv }
}
