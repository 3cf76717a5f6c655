import Foundation
@testable import MIL
import TestSupport
import XCTest

/// bench/mil_reference.py (the PyTorch side of the MIL benchmark) reproduces our initial
/// weights and bag order from the seed, so both trainers start alike. Needs torch: skipped
/// where it is not installed (CI).
final class BenchReferenceTests: XCTestCase {
    func testReferenceReproducesInitialWeightsAndBagOrder() throws {
        let dir = try TestEnv.scratch(self, "milbench")
        let model = try MILModel(kind: .clamSB, inputDim: 20, classes: 3, size: .big, seed: 77)
        try model.save(to: dir + "/init.safetensors")
        let script = """
        import json, struct, sys, numpy as np
        sys.path.insert(0, sys.argv[2])
        import torch
        from mil_reference import AttentionMIL, init_radiopath, epoch_order
        raw = open(sys.argv[1], "rb").read()
        n = struct.unpack("<Q", raw[:8])[0]
        head = json.loads(raw[8:8 + n])
        net = AttentionMIL("clam_sb", 20, 3, size="big")
        init_radiopath(net, 77)
        worst = {}
        for k, v in net.state_dict().items():
            b, e = head[k]["data_offsets"]
            ours = np.frombuffer(raw[8 + n + b:8 + n + e], dtype="<f4").reshape(head[k]["shape"])
            worst[k] = float(np.abs(ours - v.numpy()).max()) if v.numel() else 0.0
        print(json.dumps({"worst": worst, "order": epoch_order(77, 3, 25), "keys": sorted(head)}))
        """
        let out = try TestEnv.json(try TestEnv.runPython(script, [dir + "/init.safetensors", TestEnv.packageRoot + "/bench"])) as! [String: Any]
        let worst = out["worst"] as! [String: Double]
        XCTAssertEqual(Set(worst.keys), Set(model.layout.tensors.map(\.name)))
        for (name, w) in worst { XCTAssertLessThanOrEqual(w, 1e-7, name) }
        var shuffle = SplitMix64(seed: 77, tag: 2, index: 3)
        XCTAssertEqual(out["order"] as? [Int], shuffle.permutation(25))
    }
}
