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

final class GeoJSONTests: XCTestCase {
    func testNumbersAreShortestTwoDecimalText() {
        let cases: [(Double, String)] = [(12, "12"), (12.5, "12.5"), (12.05, "12.05"), (-0.25, "-0.25"), (0.004, "0"),
                                         (63.979526, "63.98"), (-7.1, "-7.1"), (100000, "100000"), (0.999, "1")]
        for (v, text) in cases { XCTAssertEqual(QuPathGeoJSON.number(v), text, "\(v)") }
    }

    func testFeatureCollectionIsClosedAndOriented() throws {
        // A square with a square hole, in image coordinates (y down).
        let outer = [Point(x: 0, y: 0), Point(x: 10, y: 0), Point(x: 10, y: 10), Point(x: 0, y: 10)]
        let hole = [Point(x: 3, y: 3), Point(x: 3, y: 6), Point(x: 6, y: 6), Point(x: 6, y: 3)]
        let data = QuPathGeoJSON.encode([.init(id: QuPathGeoJSON.stableID("a"), polygon: PolygonWithHoles(outer: outer, holes: [hole]),
                                               name: "T \"1\"", className: "Tissue", color: (1, 2, 3), measurements: [("Area", 91)])])
        let obj = try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let feature = try XCTUnwrap((obj["features"] as? [[String: Any]])?.first)
        let rings = try XCTUnwrap((feature["geometry"] as? [String: Any])?["coordinates"] as? [[[Double]]])
        XCTAssertEqual(rings.count, 2)
        for r in rings { XCTAssertEqual(r.first, r.last, "closed ring") }
        func area(_ r: [[Double]]) -> Double { // shoelace, y up as GeoJSON reads it
            zip(r, r.dropFirst()).reduce(0) { $0 + $1.0[0] * $1.1[1] - $1.1[0] * $1.0[1] } / 2
        }
        XCTAssertGreaterThan(area(rings[0]), 0, "outer ring counter-clockwise (RFC 7946)")
        XCTAssertLessThan(area(rings[1]), 0, "hole clockwise")
        let props = try XCTUnwrap(feature["properties"] as? [String: Any])
        XCTAssertEqual(props["objectType"] as? String, "annotation")
        XCTAssertEqual(props["name"] as? String, "T \"1\"")
        XCTAssertEqual((props["classification"] as? [String: Any])?["color"] as? [Int], [1, 2, 3])
        XCTAssertEqual(QuPathGeoJSON.stableID("a"), QuPathGeoJSON.stableID("a"))
        XCTAssertNotEqual(QuPathGeoJSON.stableID("a"), QuPathGeoJSON.stableID("b"))
        XCTAssertNotNil(UUID(uuidString: QuPathGeoJSON.stableID("a")), "QuPath reads ids as UUIDs")
    }
}
