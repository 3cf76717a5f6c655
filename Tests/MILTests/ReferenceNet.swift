import Foundation
@testable import MIL

/// A plain Double-precision forward pass of the MIL loss, written loop by loop from the
/// model's definition and independent of the BLAS engine: the finite-difference reference.
/// Dropout multipliers and the instance-loss patches are given (fixed), so the loss is a
/// smooth function of the parameters.
struct ReferenceNet {
    let layout: MILLayout
    let x: [Double]          // n × input
    let n: Int
    let label: Int
    var bagWeight = 0.7
    var lossScale = 1.0
    var maskH: [Double]? = nil, maskA: [Double]? = nil, maskB: [Double]? = nil
    var top: [Int] = [], bottom: [Int] = []

    struct Forward { var logits: [Double]; var raw: [Double]; var attention: [Double]; var loss: Double; var h: [[Double]] }

    func forward(_ p: [Double]) -> Forward {
        let L = layout, D = L.input, H = L.hidden, A = L.attention, C = L.classes
        var h = [[Double]](repeating: [Double](repeating: 0, count: H), count: n)
        var raw = [Double](repeating: 0, count: n)
        for r in 0..<n {
            for j in 0..<H {
                var z = p[L.b1 + j]
                for d in 0..<D { z += p[L.w1 + j * D + d] * x[r * D + d] }
                h[r][j] = max(z, 0) * (maskH?[r * H + j] ?? 1)
            }
            var s = p[L.bc]
            for k in 0..<A {
                var za = p[L.ba + k], zb = p[L.bb + k]
                for j in 0..<H { za += p[L.wa + k * H + j] * h[r][j]; zb += p[L.wb + k * H + j] * h[r][j] }
                let a = Foundation.tanh(za) * (maskA?[r * A + k] ?? 1)
                let b = 1 / (1 + Foundation.exp(-zb)) * (maskB?[r * A + k] ?? 1)
                s += p[L.wc + k] * a * b
            }
            raw[r] = s
        }
        let mx = raw.max()!
        let e = raw.map { Foundation.exp($0 - mx) }
        let attention = e.map { $0 / e.reduce(0, +) }
        var logits = [Double](repeating: 0, count: C)
        for c in 0..<C {
            logits[c] = p[L.bCls + c]
            for j in 0..<H {
                var m = 0.0
                for r in 0..<n { m += attention[r] * h[r][j] }
                logits[c] += p[L.wCls + c * H + j] * m
            }
        }
        var loss = Self.ce(logits, label) * (L.instance ? bagWeight : 1)
        if L.instance {
            var inst = 0.0
            for (r, t) in top.map({ ($0, 1) }) + bottom.map({ ($0, 0) }) {
                var z = [p[L.bInst[label]], p[L.bInst[label] + 1]]
                for c in 0..<2 { for j in 0..<H { z[c] += p[L.wInst[label] + c * H + j] * h[r][j] } }
                inst += Self.ce(z, t)
            }
            loss += (1 - bagWeight) * inst / Double(top.count + bottom.count)
        }
        return Forward(logits: logits, raw: raw, attention: attention, loss: loss * lossScale, h: h)
    }

    static func ce(_ z: [Double], _ t: Int) -> Double {
        let mx = z.max()!
        return Foundation.log(z.map { Foundation.exp($0 - mx) }.reduce(0, +)) + mx - z[t]
    }

    /// Central differences of the loss for parameters `indices` (step h·max(1, |p|)).
    func numericGradient(_ p: [Double], indices: [Int], h: Double = 1e-5) -> [Double] {
        indices.map { i in
            var q = p
            let step = h * max(1, abs(p[i]))
            q[i] = p[i] + step
            let up = forward(q).loss
            q[i] = p[i] - step
            return (up - forward(q).loss) / (2 * step)
        }
    }
}

/// Deterministic test data (not the library's generator, so tests do not lean on it).
struct TestRNG {
    var state: UInt64
    mutating func next() -> UInt64 {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        var z = state
        z = (z ^ (z >> 33)) &* 0xff51afd7ed558ccd
        return z ^ (z >> 29)
    }
    mutating func uniform() -> Double { Double(next() >> 11) * 0x1p-53 }
    mutating func normal() -> Double {
        (-2 * Foundation.log(1 - uniform())).squareRoot() * Foundation.cos(2 * .pi * uniform())
    }
    mutating func normals(_ n: Int, scale: Double = 1) -> [Float] { (0..<n).map { _ in Float(normal() * scale) } }
}
