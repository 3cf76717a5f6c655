import Foundation
import SafeTensors
import TestSupport
import XCTest

/// The reader against files written by numpy (scripts/embed_weights.py's writer, which the
/// safetensors package reads identically): F32, F16, BF16 and I64, shapes, metadata.
final class SafeTensorsFileTests: XCTestCase {
    func testEveryDtypeReadsTheValuesNumpyWrote() throws {
        let dir = try TestEnv.scratch(self, "st")
        let script = """
        import sys, numpy as np
        sys.path.insert(0, sys.argv[2])
        from embed_weights import write_safetensors
        v = np.array([0.0, -1.5, 3.25, 65504.0, 1e-3, -2.0 ** -20], dtype=np.float64)
        write_safetensors(sys.argv[1], {"f32": ("F32", v.astype(np.float32).reshape(2, 3)), "f16": ("F16", v.astype(np.float16)),
                                        "bf16": ("BF16", np.array([0x3FC0, 0xC020], dtype=np.uint16)),
                                        "i64": ("I64", np.array(7, dtype=np.int64))}, {"format": "pt"})
        """
        _ = try TestEnv.runPython(script, [dir + "/t.safetensors", TestEnv.packageRoot + "/scripts"])
        let f = try SafeTensorsFile(path: dir + "/t.safetensors")
        XCTAssertEqual(f.entries["f32"]?.shape, [2, 3])
        XCTAssertEqual(f.entries["i64"]?.shape, [])
        XCTAssertEqual(f.metadata["format"], "pt")
        let exact: [Float] = [0, -1.5, 3.25, 65504, 1e-3, -Float(pow(2.0, -20.0))]
        XCTAssertEqual(try f.floats("f32"), exact)
        XCTAssertEqual(try f.floats("bf16"), [1.5, -2.5])   // bit patterns 0x3FC0, 0xC020
        XCTAssertEqual(try f.floats("f16"), exact.map { Float(Float16($0)) })
        XCTAssertEqual(try f.floats("i64"), [7])
        XCTAssertThrowsError(try f.floats("absent"))
    }
}
