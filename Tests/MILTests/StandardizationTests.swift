import Foundation
import MIL
import TestSupport
import XCTest

/// `foldingInputStandardization`: the folded model reads raw features and answers exactly as
/// the original model does on standardised ones, so `train` can save one self-contained model.
final class StandardizationTests: XCTestCase {
    let dim = 16

    /// Deterministic features whose scale differs per dimension (what hand-made features look like).
    func rawBag(patches: Int, mean: [Float], std: [Float], seed: UInt64) throws -> MILBag {
        var rng = SeededRNG(seed)
        func uniform() -> Float { Float(rng.next() >> 40) / Float(1 << 24) }   // [0, 1)
        var f = [Float](repeating: 0, count: patches * dim)
        for r in 0..<patches { for j in 0..<dim { f[r * dim + j] = mean[j] + std[j] * (uniform() * 4 - 2) } }
        return try MILBag(features: f, patches: patches, dim: dim)
    }

    func standardised(_ bag: MILBag, mean: [Float], std: [Float]) throws -> MILBag {
        var f = bag.features
        for r in 0..<bag.patches { for j in 0..<dim { f[r * dim + j] = (f[r * dim + j] - mean[j]) / std[j] } }
        return try MILBag(features: f, patches: bag.patches, dim: dim)
    }

    /// Largest |a − b| relative to `scale` (or to |b| per element when scale is nil).
    func maxRelative(_ a: [Float], _ b: [Float], scale: Float? = nil) -> Float {
        XCTAssertEqual(a.count, b.count)
        return zip(a, b).map { abs($0 - $1) / max(scale ?? abs($1), .leastNormalMagnitude) }.max() ?? 0
    }

    func testFoldedModelOnRawFeaturesMatchesOriginalOnStandardisedFeatures() throws {
        // Means up to ±3 and stds from 0.05 to 4: raw and standardised features differ a lot.
        let mean: [Float] = (0..<dim).map { Float($0 % 7) - 3 + 0.25 * Float($0) / Float(dim) }
        let std: [Float] = (0..<dim).map { [0.05, 0.5, 1, 2.5, 4][$0 % 5] }
        for kind in MILModel.Kind.allCases {
            let model = try MILModel(kind: kind, inputDim: dim, classes: 2, seed: 11)
            let folded = try model.foldingInputStandardization(mean: mean, std: std)
            XCTAssertEqual(folded.inputDim, dim)
            for (patches, seed) in [(1, UInt64(1)), (37, 2), (300, 3)] {
                let raw = try rawBag(patches: patches, mean: mean, std: std, seed: seed)
                let want = try model.score(try standardised(raw, mean: mean, std: std))
                let got = try folded.score(raw)
                XCTAssertLessThan(maxRelative(got.probabilities, want.probabilities), 1e-5, "\(kind), \(patches) patches")
                XCTAssertLessThan(maxRelative(got.attention, want.attention), 1e-5, "\(kind), \(patches) patches")
                // Raw attention can cross zero: relative to the bag's largest magnitude.
                let scale = want.attentionRaw.map(abs).max()!
                XCTAssertLessThan(maxRelative(got.attentionRaw, want.attentionRaw, scale: scale), 1e-5, "\(kind), \(patches) patches")
                XCTAssertEqual(got.attention.reduce(0, +), 1, accuracy: 1e-5)

                // The check can fail: the original model on raw features answers differently.
                if patches > 1 {
                    let unfolded = try model.score(raw)
                    XCTAssertGreaterThan(maxRelative(unfolded.attention, want.attention), 1e-2, "\(kind): raw features must matter")
                }
            }
            // Identity standardisation leaves every weight as it was.
            let same = try model.foldingInputStandardization(mean: [Float](repeating: 0, count: dim), std: [Float](repeating: 1, count: dim))
            for name in ["attention_net.0.weight", "attention_net.0.bias"] {
                XCTAssertEqual(same.tensor(name)?.values, model.tensor(name)?.values, name)
            }
            // Only the first layer changes.
            XCTAssertEqual(folded.tensor("classifiers.weight")?.values, model.tensor("classifiers.weight")?.values)
            XCTAssertNotEqual(folded.tensor("attention_net.0.weight")?.values, model.tensor("attention_net.0.weight")?.values)
        }
    }

    func testBadStandardisationIsRefused() throws {
        let model = try MILModel(kind: .clamSB, inputDim: dim, classes: 2, seed: 1)
        let zeros = [Float](repeating: 0, count: dim), ones = [Float](repeating: 1, count: dim)
        func refused(_ mean: [Float], _ std: [Float], _ why: String) {
            XCTAssertThrowsError(try model.foldingInputStandardization(mean: mean, std: std), why) { error in
                guard let e = error as? MILError else { return XCTFail("\(why): not a MILError: \(error)") }
                XCTAssertEqual(e.kind, .badConfig, why)
                XCTAssertTrue(e.what.contains("\(dim)"), "\(why): the message names the width it needs: \(e)")
            }
        }
        refused(Array(zeros.dropLast()), ones, "mean too short")
        refused(zeros, ones + [1], "std too long")
        refused([], [], "empty")
        var s = ones; s[3] = 0
        refused(zeros, s, "std 0")
        s[3] = -1
        refused(zeros, s, "negative std")
        s[3] = .nan
        refused(zeros, s, "NaN std")
        s[3] = .infinity
        refused(zeros, s, "infinite std")
        var m = zeros; m[5] = .nan
        refused(m, ones, "NaN mean")
        m[5] = -.infinity
        refused(m, ones, "infinite mean")
    }
}
