import XCTest
@testable import ImageCore

final class CodecTests: XCTestCase {
    func testPNGRoundTripIsLossless() throws {
        var img = RGBImage(width: 7, height: 5, fill: (10, 20, 30))
        img[3, 2] = (200, 100, 50)
        let back = try PNGCodec.decodeRGB(try PNGCodec.encode(img))
        XCTAssertEqual(back, img)
        let mask = GrayImage(width: 4, height: 3, pixels: [0, 255, 0, 255, 255, 0, 0, 0, 255, 255, 255, 0])
        XCTAssertEqual(try PNGCodec.decodeGray(try PNGCodec.encode(mask)), mask)
    }

    func testJPEGRoundTripIsClose() throws {
        var img = RGBImage(width: 32, height: 32, fill: (230, 180, 200))
        for y in 8..<24 { for x in 8..<24 { img[x, y] = (120, 60, 160) } }
        let codec = JPEGCodec()
        let back = try codec.decode(try codec.encode(img, quality: 95, subsampling: .s444))
        XCTAssertEqual(back.width, 32)
        var maxDiff = 0
        for i in 0..<img.pixels.count { maxDiff = max(maxDiff, abs(Int(img.pixels[i]) - Int(back.pixels[i]))) }
        XCTAssertLessThan(maxDiff, 24)
        XCTAssertEqual(back[16, 16].0, 120, accuracy: 4)
    }

    func testGarbageIsAClearError() {
        XCTAssertThrowsError(try PNGCodec.decodeRGB(Data([1, 2, 3]), path: "x.png")) { e in
            XCTAssertTrue("\(e)".contains("x.png"))
        }
        XCTAssertThrowsError(try JPEGCodec().decode(Data([0xFF, 0xD8, 0xFF, 0]), path: "y.jpg"))
    }

    func testAtomicWriteLeavesNoTemporaryFiles() throws {
        let dir = NSTemporaryDirectory() + "rp-atomic-\(UUID().uuidString)"
        let path = dir + "/sub/out.bin"
        try AtomicFile.write(Data([1, 2, 3]), to: path)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path)), Data([1, 2, 3]))
        struct Boom: Error {}
        XCTAssertThrowsError(try AtomicFile.produce(dir + "/sub/failed.bin") { tmp in
            try Data([9]).write(to: URL(fileURLWithPath: tmp)); throw Boom()
        })
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir + "/sub"), ["out.bin"])
    }
}
