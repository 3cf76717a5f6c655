import Foundation
@testable import MIL
import SafeTensors
import TestSupport
import XCTest

/// Scoring against a NumPy forward pass (float64) on the same weights: NumPy writes a
/// CLAM-named safetensors file without our metadata (as a converted CLAM checkpoint), we
/// load it and score the same bag.
///
/// Tolerance: every output (logits, probabilities, raw and softmaxed attention) within
/// 1e-5 relative to the largest magnitude of its vector.
final class ForwardPeerTests: XCTestCase {
    static let script = """
    import json, struct, sys, numpy as np
    out, kind, D, H, A, C, N, seed = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:9])
    rng = np.random.default_rng(seed)
    def lin(o, i):   # Xavier-normal weights, small random biases
        return (rng.normal(0, np.sqrt(2 / (o + i)), (o, i)).astype(np.float32), rng.normal(0, 0.1, o).astype(np.float32))
    t = {}
    for name, (o, i) in [("attention_net.0", (H, D)), ("attention_net.3.attention_a.0", (A, H)),
                         ("attention_net.3.attention_b.0", (A, H)), ("attention_net.3.attention_c", (1, A)),
                         ("classifiers", (C, H))] + ([(f"instance_classifiers.{c}", (2, H)) for c in range(C)] if kind == "clam_sb" else []):
        t[name + ".weight"], t[name + ".bias"] = lin(o, i)
    # safetensors by its spec: 8-byte header length, JSON header, raw little-endian data.
    head, blobs, off = {}, [], 0
    for k in sorted(t):
        b = t[k].astype("<f4").tobytes(); head[k] = {"dtype": "F32", "shape": list(t[k].shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b); off += len(b)
    hb = json.dumps(head).encode()
    with open(out + "/ckpt.safetensors", "wb") as f:
        f.write(struct.pack("<Q", len(hb))); f.write(hb); f.write(b"".join(blobs))
    x = (rng.normal(0, 1, (N, D)) + rng.normal(0, 1, D)).astype(np.float32)
    x.astype("<f4").tofile(out + "/bag.f32")
    p = {k: v.astype(np.float64) for k, v in t.items()}
    lin64 = lambda z, n: z @ p[n + ".weight"].T + p[n + ".bias"]
    h = np.maximum(lin64(x.astype(np.float64), "attention_net.0"), 0)
    a = np.tanh(lin64(h, "attention_net.3.attention_a.0"))
    b = 1 / (1 + np.exp(-lin64(h, "attention_net.3.attention_b.0")))
    raw = lin64(a * b, "attention_net.3.attention_c")[:, 0]
    att = np.exp(raw - raw.max()); att /= att.sum()
    logits = lin64(att @ h, "classifiers")
    probs = np.exp(logits - logits.max()); probs /= probs.sum()
    print(json.dumps({"logits": logits.tolist(), "probabilities": probs.tolist(), "raw": raw.tolist(), "attention": att.tolist()}))
    """

    func compare(kind: MILModel.Kind, D: Int, H: Int, A: Int, C: Int, N: Int, file: StaticString = #filePath, line: UInt = #line) throws {
        let dir = try TestEnv.scratch(self, "milfwd")
        let args = [dir, kind.rawValue] + [D, H, A, C, N, 7].map(String.init)
        let ref = try TestEnv.json(try TestEnv.runPython(Self.script, args)) as! [String: [Double]]
        let model = try MILModel(contentsOf: dir + "/ckpt.safetensors")
        XCTAssertEqual(model.kind, kind, file: file, line: line)
        XCTAssertEqual([model.inputDim, model.hiddenDim, model.attentionDim, model.classes], [D, H, A, C], file: file, line: line)
        let raw = try Data(contentsOf: URL(fileURLWithPath: dir + "/bag.f32"))
        let x = raw.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        let score = try model.score(try MILBag(features: x, patches: N, dim: D))
        for (name, got) in [("logits", score.logits), ("probabilities", score.probabilities),
                            ("raw", score.attentionRaw), ("attention", score.attention)] {
            let want = ref[name]!
            XCTAssertEqual(got.count, want.count, name, file: file, line: line)
            let scale = want.map(abs).max()!
            let worst = zip(got, want).map { abs(Double($0) - $1) }.max()!
            XCTAssertLessThanOrEqual(worst, 1e-5 * scale, "\(kind) \(name): max |Δ| \(worst), scale \(scale)", file: file, line: line)
        }

        // Saving and reloading keeps every bit, and adds the metadata.
        try model.save(to: dir + "/again.safetensors")
        let again = try MILModel(contentsOf: dir + "/again.safetensors")
        XCTAssertEqual(again.parameters, model.parameters, file: file, line: line)
        let meta = try SafeTensorsFile(path: dir + "/again.safetensors").metadata
        XCTAssertEqual(meta["radiopath.mil.model"], kind.rawValue, file: file, line: line)
        XCTAssertEqual(meta["embed_dim"], "\(D)", file: file, line: line)
    }

    /// CLAM "small" sizes, a bag larger than the scoring chunk (2048) so the running-max
    /// pooling crosses chunks.
    func testCLAMSmallMatchesNumpy() throws {
        try compare(kind: .clamSB, D: 96, H: 512, A: 256, C: 3, N: 4500)
    }

    func testABMILBigMatchesNumpy() throws {
        try compare(kind: .abmil, D: 40, H: 512, A: 384, C: 2, N: 700)
    }

    /// Odd sizes exercise the vector tails; one patch is a valid bag.
    func testOddSizesAndOnePatch() throws {
        try compare(kind: .clamSB, D: 7, H: 13, A: 5, C: 2, N: 1)
        try compare(kind: .abmil, D: 3, H: 9, A: 11, C: 4, N: 37)
    }
}
