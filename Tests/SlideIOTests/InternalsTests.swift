import Foundation
@testable import SlideIO
import XCTest

/// The small pieces every read goes through.
final class SlideInternalsTests: XCTestCase {
    func testPremultipliedARGBOverWhite() {
        // Native-endian 0xAARRGGBB, premultiplied (what openslide_read_region returns).
        var words: [UInt32] = [0xFF10_2030, 0x0000_0000, 0x8040_4040, 0x80FF_0000, 0x0112_3456]
        let n = words.count
        let rgb: [UInt8] = words.withUnsafeMutableBytes { raw in
            PixelConvert.premultipliedARGBToRGBInPlace(raw.baseAddress!, count: n)
            return Array(raw.prefix(n * 3))
        }
        XCTAssertEqual(rgb, [0x10, 0x20, 0x30,      // opaque: copied
                             255, 255, 255,         // transparent: white
                             0x40 + 127, 0x40 + 127, 0x40 + 127, // half alpha: c + 255 - a
                             255, 127, 127,         // clamped
                             255, 255, 255])        // alpha 1: 0x12 + 254 clamps to 255; 0x34+254, 0x56+254 too
    }

    func testAxisBoxesWeights() {
        // 3 boxes of 2.5 px over 7 source px: [0,2.5) [2.5,5) [5,7) (clipped).
        let b = AxisBoxes(count: 3, box: 2.5, sourceSize: 7)
        XCTAssertEqual(b.start, [0, 2, 5])
        XCTAssertEqual(b.end, [3, 5, 7])
        XCTAssertEqual(b.firstWeight, [1, 0.5, 1])
        XCTAssertEqual(b.lastWeight, [0.5, 1, 1])
        XCTAssertEqual(b.total, [2.5, 2.5, 2])
        // Boxes smaller than a pixel.
        let s = AxisBoxes(count: 4, box: 0.75, sourceSize: 3)
        XCTAssertEqual(s.start, [0, 0, 1, 2])
        XCTAssertEqual(s.end, [1, 2, 3, 3])
        XCTAssertEqual(s.total, [0.75, 0.75, 0.75, 0.75])
        XCTAssertEqual(s.firstWeight[0], 0.75)
        XCTAssertEqual(s.firstWeight[1], 0.25)
        XCTAssertEqual(s.lastWeight[1], 0.5)
    }
}
