import Foundation
@testable import MIL
import TestSupport
import XCTest

/// Training steps against PyTorch (Fixtures/mil_adam_steps.json, made by
/// Fixtures/make_mil_fixture.py with torch 2.13): the losses, autograd's gradients and
/// torch.optim.Adam's updates over five one-bag steps, with weight decay, for CLAM-SB and
/// ABMIL. The labels 2, 0, 2, 1, 0 leave each instance classifier idle on some steps, which
/// PyTorch's Adam skips (no gradient), so its per-tensor step counts are tested too.
///
/// Tolerances: losses 1e-5 relative; gradients per tensor ‖Δ‖ ≤ 1e-5·‖g‖ + 1e-7 (the floor
/// is rounding noise: attention_c.bias has no gradient in exact arithmetic); parameters
/// |Δ| ≤ 2e-7 + 1e-6·|p| (Adam steps are lr = 1e-3, so this is ≤ 0.02 % of a step).
final class TorchStepTests: XCTestCase {
    func fixture() throws -> [String: Any] {
        let path = TestEnv.packageRoot + "/Tests/MILTests/Fixtures/mil_adam_steps.json"
        return try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as! [String: Any]
    }

    func floats(_ any: Any?) -> [Float] { (any as! [Double]).map(Float.init) }

    func check(_ kind: MILModel.Kind) throws {
        let f = try fixture()
        let (D, H, A, C, K) = (f["D"] as! Int, f["H"] as! Int, f["A"] as! Int, f["C"] as! Int, f["k_sample"] as! Int)
        let run = f[kind.rawValue] as! [String: Any]
        let labels = f["labels"] as! [Int]
        var model = try MILModel(kind: kind, inputDim: D, hiddenDim: H, attentionDim: A, classes: C, seed: 0)
        let initial = run["initial"] as! [String: Any]
        XCTAssertEqual(Set(initial.keys), Set(model.layout.tensors.map(\.name)), "state_dict names")
        for t in model.layout.tensors {
            XCTAssertEqual((run["shapes"] as! [String: [Int]])[t.name], t.shape, t.name)
            model.parameters.replaceSubrange(t.range, with: floats(initial[t.name]))
        }
        var adam = Adam(layout: model.layout, lr: Float(f["lr"] as! Double), weightDecay: Float(f["weight_decay"] as! Double))
        let step = TrainingStep(layout: model.layout)
        var grad = [Float](repeating: 0, count: model.layout.count)
        var rng = SplitMix64(seed: 0)
        let bags = (run["bags"] as! [Any]).map(floats)
        for (i, want) in (run["steps"] as! [[String: Any]]).enumerated() {
            let n = bags[i].count / D
            let r = model.parameters.withUnsafeBufferPointer { p in
                grad.withUnsafeMutableBufferPointer { g in
                    step.run(params: p.baseAddress!, grad: g.baseAddress!, x: bags[i], n: n, label: labels[i], bagWeight: 0.7,
                             lossScale: 1, kSample: K, dropout: 0, rng: &rng)
                }
            }
            XCTAssertEqual(Double(r.bagLoss), want["bag_loss"] as! Double, accuracy: 1e-5 * (want["bag_loss"] as! Double), "step \(i)")
            XCTAssertEqual(Double(r.instanceLoss), want["instance_loss"] as! Double, accuracy: 1e-5 * (want["instance_loss"] as! Double) + 1e-9, "step \(i)")
            if let grads = want["grad"] as? [String: Any] {
                for t in model.layout.tensors {
                    let g = Array(grad[t.range])
                    guard let ref = grads[t.name] else {
                        // No gradient in PyTorch: an idle instance classifier; ours is zero.
                        XCTAssertTrue(t.name.hasPrefix("instance_classifiers.") && g.allSatisfy { $0 == 0 }, "step \(i) \(t.name)")
                        continue
                    }
                    let w = floats(ref)
                    let norm = w.map { $0 * $0 }.reduce(0, +).squareRoot()
                    let diff = zip(g, w).map { ($0 - $1) * ($0 - $1) }.reduce(0, +).squareRoot()
                    XCTAssertLessThanOrEqual(diff, 1e-5 * norm + 1e-7, "step \(i) \(t.name): ‖Δ‖ \(diff), ‖g‖ \(norm)")
                }
            }
            grad.withUnsafeBufferPointer { g in
                adam.step(params: &model.parameters, grad: g.baseAddress!) { ti in
                    let name = model.layout.tensors[ti].name
                    return !name.hasPrefix("instance_classifiers.") || name.hasPrefix("instance_classifiers.\(labels[i]).")
                }
            }
            if let params = want["params"] as? [String: Any] {
                var worst: Float = 0
                for t in model.layout.tensors {
                    for (a, b) in zip(model.parameters[t.range], floats(params[t.name])) where abs(a - b) > 2e-7 + 1e-6 * abs(b) {
                        XCTFail("step \(i) \(t.name): \(a) vs torch \(b)")
                        break
                    }
                    let initialT = floats(initial[t.name]), now = floats(params[t.name])
                    worst = max(worst, zip(initialT, now).map { abs($0 - $1) }.max()!)
                }
                XCTAssertGreaterThan(worst, 1e-4, "the steps moved the parameters")
            }
        }
    }

    func testCLAMStepsMatchPyTorch() throws { try check(.clamSB) }

    func testABMILStepsMatchPyTorch() throws { try check(.abmil) }
}
