import Foundation
import XCTest
import TestSupport
@testable import ZlibIO

final class GzipTests: XCTestCase {
    /// Round trip on compressible and random bytes; Python's gzip reads what we write and we
    /// read what it writes (including two concatenated members).
    func testRoundTripAndPythonAgreement() throws {
        var g = SystemRandomNumberGenerator()
        let random = Data((0..<300_000).map { _ in UInt8.random(in: 0...255, using: &g) })
        let text = Data(String(repeating: "RadioPath nuclei ", count: 50_000).utf8)
        for payload in [random, text, Data([7])] {
            let gz = try Gzip.compress(payload)
            XCTAssertTrue(Gzip.isGzip(gz))
            XCTAssertEqual(try Gzip.decompress(gz), payload)
        }
        XCTAssertLessThan(try Gzip.compress(text).count, text.count / 50)
        XCTAssertEqual(try Gzip.compress(text), try Gzip.compress(text), "deterministic bytes")

        let dir = try TestEnv.scratch(self, "gzip")
        try Gzip.compress(text).write(to: URL(fileURLWithPath: dir + "/ours.gz"))
        let py = """
        import gzip, sys
        a = gzip.open(sys.argv[1] + '/ours.gz').read()
        assert a == b'RadioPath nuclei ' * 50000, 'python read different bytes'
        open(sys.argv[1] + '/theirs.gz', 'wb').write(gzip.compress(b'abc' * 1000) + gzip.compress(b'xyz'))
        print('ok')
        """
        XCTAssertEqual(String(decoding: try TestEnv.runPython(py, [dir]), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines), "ok")
        let theirs = try Gzip.decompress(Data(contentsOf: URL(fileURLWithPath: dir + "/theirs.gz")))
        XCTAssertEqual(theirs, Data((String(repeating: "abc", count: 1000) + "xyz").utf8))
    }

    func testCorruptAndTruncatedInputThrow() throws {
        let gz = try Gzip.compress(Data(String(repeating: "x", count: 10_000).utf8))
        XCTAssertThrowsError(try Gzip.decompress(gz.prefix(gz.count / 2)))
        var bad = gz
        bad[12] ^= 0xFF
        XCTAssertThrowsError(try Gzip.decompress(bad))
        XCTAssertThrowsError(try Gzip.decompress(Data()))
    }
}
