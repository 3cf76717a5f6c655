import ImageCore
import XCTest

final class SHA256Tests: XCTestCase {
    func testSHA256KnownVectorsAndChunking() throws {
        func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }
        func digest(_ d: [UInt8], pieces: Int) -> String {
            var h = SHA256()
            var i = 0
            while i < d.count {
                let j = min(d.count, i + pieces)
                d[i..<j].withUnsafeBytes { h.update($0) }
                i = j
            }
            return hex(h.finish())
        }
        XCTAssertEqual(digest([], pieces: 1), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        XCTAssertEqual(digest(Array("abc".utf8), pieces: 3), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        let two = Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8) // 56 bytes: padding spills a block
        XCTAssertEqual(digest(two, pieces: 5), "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        let long = (0..<1000).map { UInt8(truncatingIfNeeded: $0 * 7) }
        XCTAssertEqual(digest(long, pieces: 7), digest(long, pieces: 1000))
        XCTAssertEqual(digest(long, pieces: 64), digest(long, pieces: 129))
    }
}
