import SeededRandom
import Foundation
@testable import MIL
import XCTest

/// The analytic gradients (float32, BLAS) against central finite differences of an
/// independent Double-precision forward pass, for every element of every parameter tensor.
///
/// Tolerance (float32 gradient vs Double differences): per tensor ‖g − g_fd‖₂ ≤ 1e-4·‖g_fd‖₂ (measured ≤ 6e-7),
/// and per element |g − g_fd| ≤ 1e-2·|g_fd| + 1e-4·‖g_fd‖∞ (so elements whose gradient is
/// ~0 are held to an absolute bound).
final class GradientTests: XCTestCase {
    /// Sizes with full 8-lane blocks and tails (hidden 16, attention 12) and odd input width.
    func model(_ kind: MILModel.Kind, seed: UInt64) throws -> MILModel {
        var m = try MILModel(kind: kind, inputDim: 5, hiddenDim: 16, attentionDim: 12, classes: 3, seed: seed)
        var rng = TestRNG(state: seed)
        m.parameters = rng.normals(m.parameters.count, scale: 0.5)   // non-zero biases too
        return m
    }

    func check(_ kind: MILModel.Kind, n: Int, label: Int, dropout: Float, kSample: Int = 3, lossScale: Float = 1,
               threads: Int = 1, every: Int = 1, file: StaticString = #filePath, line: UInt = #line) throws {
        let m = try model(kind, seed: 11 + UInt64(n))
        var rng = TestRNG(state: 99 + UInt64(n))
        let x = rng.normals(n * 5)
        let step = TrainingStep(layout: m.layout, threads: threads)
        step.keepMasks = true
        var grad = [Float](repeating: .nan, count: m.layout.count)
        var drop = SplitMix64(seed: 5)
        let r = m.parameters.withUnsafeBufferPointer { p in
            grad.withUnsafeMutableBufferPointer { g in
                step.run(params: p.baseAddress!, grad: g.baseAddress!, x: x, n: n, label: label, bagWeight: 0.7,
                         lossScale: lossScale, kSample: kSample, dropout: dropout, rng: &drop)
            }
        }
        var ref = ReferenceNet(layout: m.layout, x: x.map(Double.init), n: n, label: label)
        ref.lossScale = Double(lossScale)
        if dropout > 0, let masks = step.lastMasks {
            let keep = 1 / (1 - Double(dropout))
            ref.maskH = masks.h.map { $0 != 0 ? keep : 0 }
            ref.maskA = masks.a.map(Double.init)
            ref.maskB = masks.b.map(Double.init)
            XCTAssertTrue(masks.h.contains(0) && masks.a.contains(0), "dropout drew no zeros", file: file, line: line)
        }
        let p = m.parameters.map(Double.init)
        if kind == .clamSB {
            // The selection is the reference's own ranking of its attention scores.
            let raw = ref.forward(p).raw
            let k = min(kSample, n)
            ref.top = Array(raw.indices.sorted { raw[$0] > raw[$1] }.prefix(k))
            ref.bottom = Array(raw.indices.sorted { raw[$0] < raw[$1] }.prefix(k))
            XCTAssertEqual(step.lastSelection.top, ref.top, file: file, line: line)
            XCTAssertEqual(step.lastSelection.bottom, ref.bottom, file: file, line: line)
        }
        let f = ref.forward(p)
        let expectedLoss = (kind == .clamSB ? 0.7 * Double(r.bagLoss) + 0.3 * Double(r.instanceLoss) : Double(r.bagLoss)) * Double(lossScale)
        XCTAssertEqual(expectedLoss, f.loss, accuracy: 1e-5 * max(1, f.loss), file: file, line: line)

        for t in m.layout.tensors {
            let indices = Array(stride(from: t.range.lowerBound, to: t.range.upperBound, by: t.count > 4 ? every : 1))
            let fd = ref.numericGradient(p, indices: indices)
            let g = indices.map { Double(grad[$0]) }
            if kind == .clamSB, t.name.hasPrefix("instance_classifiers."), t.name != "instance_classifiers.\(label).weight",
               t.name != "instance_classifiers.\(label).bias" {
                XCTAssertTrue(g.allSatisfy { $0 == 0 } && fd.allSatisfy { $0 == 0 }, t.name, file: file, line: line)
                continue
            }
            let norm = fd.map { $0 * $0 }.reduce(0, +).squareRoot(), inf = fd.map(abs).max()!
            let diff = zip(g, fd).map { ($0 - $1) * ($0 - $1) }.reduce(0, +).squareRoot()
            if norm < 1e-9 {
                // Exactly zero in theory: attention_c.bias (softmax ignores a shift) and, in a
                // one-patch bag, the whole attention branch.
                XCTAssertLessThanOrEqual(g.map(abs).max()!, 1e-6, "\(kind) \(t.name) should have no gradient", file: file, line: line)
                continue
            }
            XCTAssertLessThanOrEqual(diff, 1e-4 * norm, "\(kind) \(t.name): ‖Δ‖ \(diff) vs ‖g‖ \(norm)", file: file, line: line)
            for (i, (a, b)) in zip(g, fd).enumerated() where abs(a - b) > 1e-2 * abs(b) + 1e-4 * inf {
                XCTFail("\(kind) \(t.name)[\(i)]: analytic \(a), numeric \(b)", file: file, line: line)
                break
            }
        }
    }

    func testCLAMGradientsWithoutDropout() throws {
        try check(.clamSB, n: 11, label: 2, dropout: 0)
    }

    func testCLAMGradientsWithDropoutMasks() throws {
        try check(.clamSB, n: 13, label: 0, dropout: 0.25, lossScale: 1.7)
    }

    /// Fewer patches than k_sample: all patches are both the positive and the negative set.
    func testCLAMGradientsOnATinyBag() throws {
        try check(.clamSB, n: 2, label: 1, dropout: 0)
        try check(.clamSB, n: 1, label: 0, dropout: 0)
    }

    /// A bag large enough for the work split: rows over 2 threads, several partial-sum blocks.
    func testCLAMGradientsSplitOverThreads() throws {
        try check(.clamSB, n: 300, label: 1, dropout: 0.25, threads: 2, every: 7)
    }

    func testABMILGradients() throws {
        try check(.abmil, n: 9, label: 1, dropout: 0)
        try check(.abmil, n: 10, label: 2, dropout: 0.25)
    }
}
