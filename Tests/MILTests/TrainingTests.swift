import Foundation
@testable import MIL
import TestSupport
import XCTest

/// Training end to end on a synthetic MIL task: bags of Gaussian patches where positive bags
/// hold 2–4 planted patches shifted by +2 on 8 of 32 dimensions. The model must separate
/// held-out bags (AUC ≥ 0.95) and put its highest attention on the planted patches (≥ 80 %
/// of the top-m patches of positive bags, m = the number planted). Same seed, same bytes.
final class TrainingTests: XCTestCase {
    struct Synthetic { var bags: [MILBag] = []; var labels: [Int] = []; var planted: [Set<Int>] = [] }

    static func synthetic(count: Int, seed: UInt64, dim: Int = 32) throws -> Synthetic {
        var rng = TestRNG(state: seed)
        var s = Synthetic()
        for b in 0..<count {
            let n = 30 + Int(rng.next() % 51)
            var x = rng.normals(n * dim)
            let label = b % 2
            var planted = Set<Int>()
            if label == 1 {
                while planted.count < 2 + Int(rng.next() % 3) { planted.insert(Int(rng.next() % UInt64(n))) }
                for p in planted { for d in 0..<8 { x[p * dim + d] += 2 } }
            }
            s.bags.append(try MILBag(features: x, patches: n, dim: dim))
            s.labels.append(label)
            s.planted.append(planted)
        }
        return s
    }

    func learns(_ kind: MILModel.Kind) throws {
        let train = try Self.synthetic(count: 60, seed: 1), val = try Self.synthetic(count: 30, seed: 2), test = try Self.synthetic(count: 60, seed: 3)
        var config = MILTrainingConfig()
        config.kind = kind
        config.maxEpochs = 25
        config.earlyStopping = .init(patience: 5, stopEpoch: 10)
        config.seed = 42
        var seen: [MILEpochRecord] = []
        let result = try MILTrainer(config: config).train(try MILBagSet(bags: train.bags, labels: train.labels),
                                                          validation: try MILBagSet(bags: val.bags, labels: val.labels)) { seen.append($0) }
        XCTAssertEqual(seen.count, result.history.count)
        XCTAssertTrue(result.history.allSatisfy { $0.validationLoss != nil && $0.validationAUC != nil && $0.seconds > 0 })
        // The kept model is the epoch of lowest validation loss, and scores as it was recorded.
        let losses = result.history.map { $0.validationLoss! }
        XCTAssertEqual(losses[result.bestEpoch], losses.min())
        XCTAssertTrue(result.history[result.bestEpoch].isBest)
        let reval = try MILTrainer.evaluate(result.model, try MILBagSet(bags: val.bags, labels: val.labels))
        XCTAssertEqual(reval.loss, losses[result.bestEpoch], accuracy: 1e-6)
        XCTAssertLessThan(losses.min()!, losses[0], "validation loss went down")

        let scores = try test.bags.map { try result.model.score($0) }
        let testAUC = auc(scores: scores.map { $0.probabilities[1] }, positive: test.labels.map { $0 == 1 })!
        XCTAssertGreaterThanOrEqual(testAUC, 0.95, "\(kind) held-out AUC")
        var hits = 0, total = 0
        for (i, s) in scores.enumerated() where test.labels[i] == 1 {
            let m = test.planted[i].count
            let top = s.attention.indices.sorted { s.attention[$0] > s.attention[$1] }.prefix(m)
            hits += top.filter { test.planted[i].contains($0) }.count
            total += m
            XCTAssertEqual(s.attention.reduce(0, +), 1, accuracy: 1e-4)
            XCTAssertEqual(s.attentionRaw.count, test.bags[i].patches)
        }
        let recall = Double(hits) / Double(total)
        XCTAssertGreaterThanOrEqual(recall, 0.8, "\(kind): planted patches among the top attention")
        print("\(kind): \(result.history.count) epochs, best \(result.bestEpoch), test AUC \(testAUC), planted recall \(recall)")
    }

    func testCLAMLearnsAndAttendsToPlantedPatches() throws { try learns(.clamSB) }

    func testABMILLearnsAndAttendsToPlantedPatches() throws { try learns(.abmil) }

    /// Same seed and thread count → identical checkpoint bytes (dropout and shuffling
    /// included); another seed → different weights.
    func testSameSeedSameBytes() throws {
        let dir = try TestEnv.scratch(self, "mildet")
        let data = try Self.synthetic(count: 12, seed: 9)
        let set = try MILBagSet(bags: data.bags, labels: data.labels)
        func run(_ seed: UInt64, _ name: String, threads: Int = 2) throws -> (Data, [Float]) {
            var config = MILTrainingConfig()
            config.maxEpochs = 3
            config.seed = seed
            config.threads = threads
            config.classWeighted = true
            let r = try MILTrainer(config: config).train(set, validation: set)
            try r.model.save(to: dir + "/" + name)
            return (try Data(contentsOf: URL(fileURLWithPath: dir + "/" + name)), r.history.map(\.trainLoss))
        }
        let (a, lossA) = try run(7, "a.safetensors"), (b, lossB) = try run(7, "b.safetensors"), (c, _) = try run(8, "c.safetensors")
        XCTAssertEqual(a, b)
        XCTAssertEqual(lossA, lossB)
        XCTAssertNotEqual(a, c)
        XCTAssertEqual(try run(7, "d.safetensors", threads: 1).0, try run(7, "e.safetensors", threads: 1).0, "1 thread")
    }

    func testAUCHandlesTies() {
        XCTAssertEqual(auc(scores: [0.1, 0.4, 0.35, 0.8], positive: [false, false, true, true]), 0.75)
        XCTAssertEqual(auc(scores: [0.5, 0.5, 0.5], positive: [false, true, true]), 0.5)
        XCTAssertNil(auc(scores: [0.5, 0.2], positive: [true, true]))
        // Three classes: mean of the one-vs-rest AUCs.
        let p: [[Float]] = [[0.8, 0.1, 0.1], [0.2, 0.7, 0.1], [0.1, 0.2, 0.7], [0.6, 0.15, 0.25]]
        XCTAssertEqual(meanAUC(labels: [0, 1, 2, 1], probabilities: p, classes: 3)!, (1 + 0.75 + 1) / 3, accuracy: 1e-6)
    }
}
