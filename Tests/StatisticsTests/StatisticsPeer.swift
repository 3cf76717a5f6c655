import Foundation
import XCTest
import TestSupport

/// Runs a NumPy/scikit-learn script on float64 arrays passed bit-exactly (hex of the raw
/// little-endian bytes both ways), so "exactly equal" comparisons mean the same doubles.
/// The script reads inputs with `inp(name)` and stores results with `out(name, array)`.
enum StatisticsPeer {
    static let prelude = """
    import sys, json, numpy as np
    _in = json.load(open(sys.argv[1]))
    _out = {}
    def inp(name): return np.frombuffer(bytes.fromhex(_in[name]), dtype='<f8').copy()
    def out(name, x): _out[name] = np.ascontiguousarray(np.asarray(x, dtype='<f8').ravel()).tobytes().hex()

    """

    static func run(_ test: XCTestCase, _ body: String, inputs: [String: [Double]]) throws -> [String: [Double]] {
        let dir = try TestEnv.scratch(test, "stats-peer")
        let path = dir + "/inputs.json"
        let enc = inputs.mapValues { hex($0) }
        try JSONSerialization.data(withJSONObject: enc).write(to: URL(fileURLWithPath: path))
        let data = try TestEnv.runPython(prelude + body + "\nprint(json.dumps(_out))\n", [path])
        guard let obj = try TestEnv.json(data) as? [String: String] else {
            XCTFail("peer printed no JSON object"); return [:]
        }
        return obj.mapValues { unhex($0) }
    }

    static func hex(_ a: [Double]) -> String {
        var s = ""
        s.reserveCapacity(a.count * 16)
        for v in a {
            var bits = v.bitPattern.littleEndian
            withUnsafeBytes(of: &bits) { for b in $0 { s += String(format: "%02x", b) } }
        }
        return s
    }

    static func unhex(_ s: String) -> [Double] {
        let bytes = Array(s.utf8)
        func nib(_ c: UInt8) -> UInt64 { UInt64(c <= 57 ? c - 48 : c - 87) }
        return stride(from: 0, to: bytes.count, by: 16).map { o in
            var bits: UInt64 = 0
            for k in 0..<8 { bits |= (nib(bytes[o + 2 * k]) << 4 | nib(bytes[o + 2 * k + 1])) << (8 * UInt64(k)) }
            return Double(bitPattern: bits)
        }
    }
}

/// Deterministic test data: uniforms and Box–Muller normals from the seeded generator.
extension SeededRNG {
    mutating func uniform() -> Double { Double(next() >> 11) / Double(1 << 53) }
    mutating func normal() -> Double {
        let u = max(uniform(), 1e-300), v = uniform()
        return (-2 * log(u)).squareRoot() * cos(2 * .pi * v)
    }
}

/// A named binary data set.
struct BinaryCase {
    var name: String
    var scores: [Double]
    var labels: [Bool]
}

/// Binormal scores: negatives N(0, 1), positives N(shift, 1), optionally rounded to make ties.
func binormal(_ name: String, negatives: Int, positives: Int, shift: Double, round: Double? = nil, seed: UInt64) -> BinaryCase {
    var rng = SeededRNG(seed)
    var s: [Double] = [], y: [Bool] = []
    for i in 0..<(negatives + positives) {
        let pos = i >= negatives
        var v = rng.normal() + (pos ? shift : 0)
        if let r = round { v = (v / r).rounded() * r }
        s.append(v); y.append(pos)
    }
    // Interleave so classes are not in blocks (order must not matter, but test it anyway).
    var order = Array(0..<s.count)
    for i in stride(from: order.count - 1, to: 0, by: -1) { order.swapAt(i, Int(rng.next() % UInt64(i + 1))) }
    return BinaryCase(name: name, scores: order.map { s[$0] }, labels: order.map { y[$0] })
}

/// Hand-made and generated cases covering ties, constant scores, separation and tiny sets.
func binaryCases() -> [BinaryCase] {
    var rng = SeededRNG(99)
    let ints = (0..<150).map { _ in Double(rng.next() % 5) }
    let intLabels = ints.map { v in rng.uniform() < 0.15 + 0.15 * v }
    return [
        binormal("continuous", negatives: 120, positives: 80, shift: 1.0, seed: 1),
        binormal("ties01", negatives: 170, positives: 130, shift: 0.8, round: 0.1, seed: 2),
        BinaryCase(name: "integers", scores: ints, labels: intLabels),
        BinaryCase(name: "allEqual", scores: [Double](repeating: 0.5, count: 20), labels: (0..<20).map { $0 % 3 == 0 }),
        BinaryCase(name: "separated", scores: [0.1, 0.2, 0.3, 0.8, 0.9, 0.95], labels: [false, false, false, true, true, true]),
        BinaryCase(name: "inverse", scores: [0.9, 0.8, 0.7, 0.1, 0.2], labels: [false, false, false, true, true]),
        BinaryCase(name: "two", scores: [0.3, 0.7], labels: [false, true]),
        BinaryCase(name: "three", scores: [0.4, 0.4, 0.2], labels: [true, false, true]),
        binormal("large", negatives: 3500, positives: 1500, shift: 1.2, round: 0.01, seed: 3),
        binormal("wideRange", negatives: 40, positives: 60, shift: 0.5, seed: 4).scaled(1e6),
        binormal("imbalanced", negatives: 190, positives: 10, shift: 1.5, seed: 5),
    ]
}

extension BinaryCase {
    func scaled(_ f: Double) -> BinaryCase { BinaryCase(name: name, scores: scores.map { $0 * f - 3 * f }, labels: labels) }
    var labelDoubles: [Double] { labels.map { $0 ? 1 : 0 } }
}

/// Inputs s_<name>, y_<name> for every case.
func peerInputs(_ cases: [BinaryCase]) -> [String: [Double]] {
    var d: [String: [Double]] = [:]
    for c in cases { d["s_" + c.name] = c.scores; d["y_" + c.name] = c.labelDoubles }
    return d
}

/// Python list literal of the case names.
func pyNames(_ cases: [BinaryCase]) -> String { "[" + cases.map { "'\($0.name)'" }.joined(separator: ", ") + "]" }
