import Foundation
import SafeTensors
import TestSupport
import XCTest

/// The writer: what it writes reads back exactly (ours and numpy's parser), the bytes are the
/// same run to run whatever order the tensors come in, and bad input is refused.
final class SafeTensorsWriterTests: XCTestCase {
    let tensors: [SafeTensorsWriter.Tensor] = [
        ("b.weight", [2, 3], [0, -1.5, 3.25, .greatestFiniteMagnitude, 1e-3, -.leastNonzeroMagnitude]),
        ("a", [], [7]),
        ("c.empty", [0, 4], []),
        ("d\"quoted\\name", [3], [1, 2, 3]),
    ]

    func testRoundTripAndDeterministicBytes() throws {
        let dir = try TestEnv.scratch(self, "stw")
        let meta = ["kind": "clam_sb", "n_classes": "2", "note": "line\nbreak"]
        try SafeTensorsWriter.write(path: dir + "/x.safetensors", tensors: tensors, metadata: meta)
        let f = try SafeTensorsFile(path: dir + "/x.safetensors")
        XCTAssertEqual(f.metadata, meta)
        XCTAssertEqual(Set(f.entries.keys), Set(tensors.map(\.name)))
        for t in tensors {
            XCTAssertEqual(f.entries[t.name]?.shape, t.shape)
            XCTAssertEqual(f.entries[t.name]?.dtype, "F32")
            XCTAssertEqual(try f.floats(t.name), t.values, t.name)
        }
        // Reversed input order, written over the first file: the same bytes.
        let first = try Data(contentsOf: URL(fileURLWithPath: dir + "/x.safetensors"))
        try SafeTensorsWriter.write(path: dir + "/x.safetensors", tensors: tensors.reversed(), metadata: meta)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: dir + "/x.safetensors")), first)
        XCTAssertEqual(first.prefix(8).withUnsafeBytes { Int(UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self))) } % 8, 0)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), ["x.safetensors"], "no temporary file left")
    }

    /// numpy parses the header and data by the format's rules (no safetensors package in CI).
    func testNumpyReadsWhatWasWritten() throws {
        let dir = try TestEnv.scratch(self, "stw")
        try SafeTensorsWriter.write(path: dir + "/x.safetensors", tensors: tensors, metadata: ["format": "pt"])
        let script = """
        import json, struct, sys, numpy as np
        raw = open(sys.argv[1], "rb").read()
        n = struct.unpack("<Q", raw[:8])[0]
        head = json.loads(raw[8:8 + n])
        out = {}
        for k, v in head.items():
            if k == "__metadata__": out[k] = v; continue
            b, e = v["data_offsets"]
            a = np.frombuffer(raw[8 + n + b:8 + n + e], dtype="<f4").reshape(v["shape"])
            out[k] = {"shape": list(a.shape), "values": [float(x) for x in a.ravel()]}
        print(json.dumps(out))
        """
        let got = try TestEnv.json(try TestEnv.runPython(script, [dir + "/x.safetensors"])) as! [String: Any]
        XCTAssertEqual(got["__metadata__"] as? [String: String], ["format": "pt"])
        for t in tensors {
            let e = got[t.name] as! [String: Any]
            XCTAssertEqual(e["shape"] as? [Int], t.shape)
            XCTAssertEqual((e["values"] as! [Double]).map(Float.init), t.values, t.name)
        }
    }

    func testBadInputIsRefused() throws {
        let dir = try TestEnv.scratch(self, "stw")
        let path = dir + "/bad.safetensors"
        XCTAssertThrowsError(try SafeTensorsWriter.write(path: path, tensors: [("w", [2, 2], [1, 2, 3])])) {
            XCTAssertTrue("\($0)".contains("3 values for shape [2, 2]"), "\($0)")
        }
        XCTAssertThrowsError(try SafeTensorsWriter.write(path: path, tensors: [("w", [1], [1]), ("w", [1], [2])])) {
            XCTAssertTrue("\($0)".contains("given twice"), "\($0)")
        }
        XCTAssertThrowsError(try SafeTensorsWriter.write(path: dir + "/no/such/dir/x.safetensors", tensors: [("w", [1], [1])])) {
            XCTAssertTrue("\($0)".contains("cannot write"), "\($0)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: path))
    }
}
