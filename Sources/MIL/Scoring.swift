import Foundation

/// A bag's score: class probabilities and per-patch attention (in the bag's patch order).
public struct MILScore: Sendable {
    public let logits: [Float]
    public let probabilities: [Float]
    /// Attention before the softmax, as CLAM returns `A_raw` (what CLAM's heatmaps draw).
    public let attentionRaw: [Float]
    /// softmax(attentionRaw) over the bag's patches: the pooling weights, summing to 1.
    public let attention: [Float]

    public var predictedClass: Int { probabilities.indices.max { probabilities[$0] < probabilities[$1] }! }
}

extension MILModel {
    /// Scores one bag (evaluation mode: no dropout) on `threads` cores. Raises for an empty
    /// bag, a feature width other than `inputDim`, or NaN/Inf features.
    public func score(_ bag: MILBag, id: String = "bag",
                      threads: Int = ProcessInfo.processInfo.activeProcessorCount) throws -> MILScore {
        try bag.validate(dim: inputDim, id: id)
        return bag.features.withUnsafeBufferPointer { x in
            parameters.withUnsafeBufferPointer { p in
                Evaluator(layout: layout, threads: threads).score(params: p.baseAddress!, x: x.baseAddress!, n: bag.patches)
            }
        }
    }
}

/// The evaluation-mode forward pass, `chunk` patches at a time: the attention-weighted sum
/// is accumulated with a running maximum (online softmax), so memory is O(chunk × hidden + N)
/// whatever the bag size.
final class Evaluator {
    let layout: MILLayout
    let chunk: Int
    let workers: Workers
    private let hBuf = Scratch<Float>(), taBuf = Scratch<Float>(), sbBuf = Scratch<Float>(), eBuf = Scratch<Float>()

    init(layout: MILLayout, threads: Int, chunk: Int = 2048) {
        self.layout = layout; self.chunk = chunk
        workers = Workers(threads)
    }

    func score(params P: UnsafePointer<Float>, x: UnsafePointer<Float>, n: Int) -> MILScore {
        let L = layout, W = workers, D = L.input, H = L.hidden, A = L.attention, C = L.classes
        let rows = min(chunk, n)
        let h = hBuf.ensure(rows * H), ta = taBuf.ensure(rows * A), sb = sbBuf.ensure(rows * A), e = eBuf.ensure(rows)
        var raw = [Float](repeating: 0, count: n)
        var acc = [Float](repeating: 0, count: H)   // Σ e^{s−running max} · h
        var total: Double = 0, runningMax = -Float.infinity
        var start = 0
        while start < n {
            let m = min(rows, n - start)
            W.gemm(transB: true, m: m, n: H, k: D, a: x + start * D, lda: D, b: P + L.w1, ldb: D, c: h, ldc: H)
            let b1 = P + L.b1
            W.rows(m) { rows in
                for r in rows {
                    let row = h + r * H
                    for j in 0..<H { row[j] = max(row[j] + b1[j], 0) }
                }
            }
            W.gemm(transB: true, m: m, n: A, k: H, a: h, lda: H, b: P + L.wa, ldb: H, c: ta, ldc: A)
            W.gemm(transB: true, m: m, n: A, k: H, a: h, lda: H, b: P + L.wb, ldb: H, c: sb, ldc: A)
            raw.withUnsafeMutableBufferPointer { raw in
                let out = raw.baseAddress! + start
                W.rows(m) { rows in
                    for r in rows {
                        out[r] = P[L.bc] + TrainingStep.gateRow(ta: ta + r * A, sb: sb + r * A, ma: nil, mb: nil,
                                                                 ba: P + L.ba, bb: P + L.bb, wc: P + L.wc, count: A)
                    }
                }
            }
            let chunkMax = raw[start..<(start + m)].max()!
            if chunkMax > runningMax {
                let rescale = Foundation.exp(runningMax - chunkMax)   // 0 on the first chunk
                for j in 0..<H { acc[j] *= rescale }
                total *= Double(rescale)
                runningMax = chunkMax
            }
            for r in 0..<m { e[r] = Foundation.exp(raw[start + r] - runningMax); total += Double(e[r]) }
            BLAS.gemv(trans: true, m: m, n: H, a: h, lda: H, x: e, y: &acc, beta: 1)
            start += m
        }
        let inv = Float(1 / total)
        let pooled = acc.map { $0 * inv }
        var logits = (0..<C).map { P[L.bCls + $0] }
        BLAS.gemv(m: C, n: H, a: P + L.wCls, lda: H, x: pooled, y: &logits, beta: 1)
        let (probs, _) = TrainingStep.crossEntropy(logits, 0)
        var attention = [Float](repeating: 0, count: n)
        softmax(raw, n, into: &attention)
        return MILScore(logits: logits, probabilities: probs, attentionRaw: raw, attention: attention)
    }
}
