import Foundation
@testable import MIL
import SafeTensors
import TestSupport
import XCTest

/// Input that cannot work is refused with an error naming what is wrong.
final class BadInputTests: XCTestCase {
    func model() throws -> MILModel { try MILModel(kind: .clamSB, inputDim: 4, hiddenDim: 8, attentionDim: 8, classes: 2, seed: 1) }

    func assertMILError(_ kind: MILError.Kind, _ words: [String], file: StaticString = #filePath, line: UInt = #line,
                        _ body: () throws -> Void) {
        XCTAssertThrowsError(try body(), file: file, line: line) { error in
            guard let e = error as? MILError else { return XCTFail("not a MILError: \(error)", file: file, line: line) }
            XCTAssertEqual(e.kind, kind, "\(e)", file: file, line: line)
            for w in words { XCTAssertTrue("\(e)".contains(w), "'\(w)' not in: \(e)", file: file, line: line) }
        }
    }

    func testBadBagsAreRefusedWhenScoring() throws {
        let m = try model()
        assertMILError(.badBag, ["slide-7", "no patches"]) { _ = try m.score(try MILBag(features: [], patches: 0, dim: 4), id: "slide-7") }
        assertMILError(.badBag, ["5-dimensional", "takes 4"]) { _ = try m.score(try MILBag(features: [Float](repeating: 1, count: 10), patches: 2, dim: 5)) }
        var x = [Float](repeating: 0.5, count: 40)
        x[4 * 6 + 3] = .nan
        assertMILError(.badBag, ["feature 3 of patch 6", "nan"]) { _ = try m.score(try MILBag(features: x, patches: 10, dim: 4)) }
        x[4 * 6 + 3] = 0; x[37] = -.infinity
        assertMILError(.badBag, ["feature 1 of patch 9", "-inf"]) { _ = try m.score(try MILBag(features: x, patches: 10, dim: 4)) }
        assertMILError(.badBag, ["7 feature values for 2 patches × 4 dims"]) { _ = try MILBag(features: [Float](repeating: 0, count: 7), patches: 2, dim: 4) }
    }

    func testBadTrainingSetsAreRefused() throws {
        let bag = try MILBag(features: [Float](repeating: 0.1, count: 12), patches: 3, dim: 4)
        var config = MILTrainingConfig()
        config.maxEpochs = 1
        let trainer = MILTrainer(config: config)
        assertMILError(.badTrainingSet, ["all 3 training bags are class 1"]) {
            _ = try trainer.train(try MILBagSet(bags: [bag, bag, bag], labels: [1, 1, 1]))
        }
        assertMILError(.badTrainingSet, ["bag-1", "label 2 is outside 0..<2"]) {
            _ = try trainer.train(try MILBagSet(bags: [bag, bag], labels: [0, 2]))
        }
        assertMILError(.badTrainingSet, ["no bags"]) { _ = try trainer.train(try MILBagSet(bags: [], labels: [])) }
        assertMILError(.badTrainingSet, ["2 bag ids but 1 labels"]) { _ = try MILBagSet(bags: [bag, bag], labels: [0]) }
        let empty = try MILBag(features: [], patches: 0, dim: 4)
        assertMILError(.badBag, ["bag-1", "no patches"]) { _ = try trainer.train(try MILBagSet(bags: [bag, empty], labels: [0, 1])) }
        let wide = try MILBag(features: [Float](repeating: 0, count: 10), patches: 2, dim: 5)
        assertMILError(.badBag, ["bag-2", "5-dimensional"]) { _ = try trainer.train(try MILBagSet(bags: [bag, bag, wide], labels: [0, 1, 0])) }
        // A loader's own failure names the bag.
        struct Gone: Error {}
        let failing = try MILBagSet(ids: ["a", "b"], labels: [0, 1]) { i in if i == 1 { throw Gone() }; return bag }
        assertMILError(.badBag, ["b", "cannot load"]) { _ = try trainer.train(failing) }
        config.dropout = 1
        assertMILError(.badConfig, ["dropout 1.0"]) { _ = try MILTrainer(config: config).train(try MILBagSet(bags: [bag, bag], labels: [0, 1])) }
    }

    func testCheckpointThatDoesNotFitListsEveryProblem() throws {
        let dir = try TestEnv.scratch(self, "milckpt")
        let m = try model()
        var tensors = m.layout.tensors.filter { $0.name != "instance_classifiers.1.bias" }.map { t -> SafeTensorsWriter.Tensor in
            t.name == "attention_net.3.attention_c.weight" ? (t.name, [1, 7], [Float](repeating: 0, count: 7))
                                                           : (t.name, t.shape, Array(m.parameters[t.range]))
        }
        tensors.append(("attention_net.3.extra", [2], [1, 2]))
        try SafeTensorsWriter.write(path: dir + "/bad.safetensors", tensors: tensors)
        assertMILError(.badCheckpoint, ["bad.safetensors", "missing instance_classifiers.1.bias", "unexpected attention_net.3.extra",
                                        "attention_net.3.attention_c.weight is [1, 7], expected [1, 8]"]) {
            _ = try MILModel(contentsOf: dir + "/bad.safetensors")
        }
        // CLAM-MB names its bag classifiers classifiers.0, classifiers.1, …
        try SafeTensorsWriter.write(path: dir + "/mb.safetensors", tensors: [("attention_net.0.weight", [8, 4], [Float](repeating: 0, count: 32)),
                                                                             ("classifiers.0.weight", [1, 8], [Float](repeating: 0, count: 8))])
        assertMILError(.badCheckpoint, ["cannot size the model", "CLAM-MB"]) { _ = try MILModel(contentsOf: dir + "/mb.safetensors") }
        // Metadata saying ABMIL, tensors of CLAM-SB: the instance classifiers are unexpected.
        let named = m.layout.tensors.map { ($0.name, $0.shape, Array(m.parameters[$0.range])) }
        try SafeTensorsWriter.write(path: dir + "/meta.safetensors", tensors: named, metadata: ["radiopath.mil.model": "abmil"])
        assertMILError(.badCheckpoint, ["do not fit abmil", "unexpected instance_classifiers.0.bias"]) { _ = try MILModel(contentsOf: dir + "/meta.safetensors") }
        assertMILError(.badCheckpoint, ["not found"]) { _ = try MILModel(contentsOf: dir + "/absent.safetensors") }
    }
}
