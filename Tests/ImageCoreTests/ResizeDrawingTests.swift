import XCTest
import Foundation
import ImageCore
import TestSupport

final class ResizeDrawingTests: XCTestCase {
    /// Area resize within ±1 of cv2.resize(INTER_AREA) for integer and fractional downscales.
    func testAreaResizeMatchesOpenCV() throws {
        let peer = try PythonPeer(modules: ["cv2"])
        var rng = SeededRNG(3)
        let he = try realHE() // 500×300
        let rand = randomRGB(97, 61, &rng)
        try peer.put("he", he)
        try peer.put("rand", rand)
        let targets: [(String, RGBImage, [(Int, Int)])] = [
            ("he", he, [(250, 150), (125, 75), (100, 60), (50, 30), (333, 200), (170, 101), (7, 3), (499, 299), (1, 1)]),
            ("rand", rand, [(97, 61), (48, 30), (31, 20), (10, 9), (96, 60), (13, 61)]),
        ]
        var script = "import cv2\n"
        for (n, _, sizes) in targets {
            for (w, h) in sizes {
                script += "save('\(n)_\(w)x\(h)', cv2.resize(load('\(n)'), (\(w), \(h)), interpolation=cv2.INTER_AREA))\n"
            }
        }
        try peer.run(script)
        for (n, img, sizes) in targets {
            for (w, h) in sizes {
                let ours = img.resizedArea(width: w, height: h)
                let ref = [UInt8](try peer.output("\(n)_\(w)x\(h)"))
                XCTAssertEqual(ours.pixels.count, ref.count)
                var maxDiff = 0, differing = 0
                for i in 0..<min(ref.count, ours.pixels.count) {
                    let d = abs(Int(ours.pixels[i]) - Int(ref[i]))
                    maxDiff = max(maxDiff, d); if d != 0 { differing += 1 }
                }
                XCTAssertLessThanOrEqual(maxDiff, 1, "\(n) → \(w)x\(h): max difference \(maxDiff)")
                XCTAssertLessThanOrEqual(differing, max(2, ref.count / 20), "\(n) → \(w)x\(h): \(differing) values off by one")
            }
        }
    }

    /// Integer factors are exact block means (rounded half up).
    func testAreaResizeIntegerFactorIsBlockMean() {
        var rng = SeededRNG(8)
        let img = randomRGB(12, 9, &rng)
        let small = img.resizedArea(width: 4, height: 3)
        for y in 0..<3 { for x in 0..<4 { for c in 0..<3 {
            var s = 0
            for dy in 0..<3 { for dx in 0..<3 { s += Int(img.pixels[3 * ((3 * y + dy) * 12 + 3 * x + dx) + c]) } }
            XCTAssertEqual(Int(small.pixels[3 * (y * 4 + x) + c]), (2 * s + 9) / 18)
        } } }
    }

    func testDrawRectBorderAndUntouchedInterior() {
        let bg: (UInt8, UInt8, UInt8) = (10, 20, 30), red: (UInt8, UInt8, UInt8) = (255, 0, 0)
        for t in [1, 2, 3] {
            var img = RGBImage(width: 30, height: 20, fill: bg)
            let r = PixelRect(x: 4, y: 3, width: 15, height: 11)
            img.drawRect(r, color: red, thickness: t)
            for y in 0..<20 { for x in 0..<30 {
                let inRect = x >= r.x && x < r.maxX && y >= r.y && y < r.maxY
                let inInterior = x >= r.x + t && x < r.maxX - t && y >= r.y + t && y < r.maxY - t
                let expectRed = inRect && !inInterior
                XCTAssertTrue(img[x, y] == (expectRed ? red : bg), "t=\(t) pixel (\(x), \(y))")
            } }
        }
        // Clipped at the border without trapping.
        var img = RGBImage(width: 5, height: 5, fill: bg)
        img.drawRect(PixelRect(x: -2, y: -2, width: 5, height: 5), color: red)
        XCTAssertTrue(img[2, 0] == red && img[0, 2] == red && img[1, 1] == bg && img[3, 3] == bg)
    }

    func testLinesAndPolygons() {
        var img = RGBImage(width: 20, height: 20, fill: (0, 0, 0))
        img.drawLine(from: Point(x: 2.5, y: 3.2), to: Point(x: 15.9, y: 3.7), color: (0, 255, 0))
        for x in 0..<20 { XCTAssertTrue(img[x, 3] == ((2...15).contains(x) ? (0, 255, 0) : (0, 0, 0)), "x=\(x)") }
        XCTAssertEqual(img.pixels.filter { $0 != 0 }.count, 14)
        // Diagonal: exactly one pixel per column, on the diagonal.
        var d = RGBImage(width: 10, height: 10, fill: (0, 0, 0))
        d.drawLine(from: Point(x: 0, y: 0), to: Point(x: 9, y: 9), color: (1, 2, 3))
        for i in 0..<10 { XCTAssertTrue(d[i, i] == (1, 2, 3)) }
        XCTAssertEqual(d.pixels.filter { $0 != 0 }.count, 30)
        // Thick line far outside does nothing; thick line covers a band.
        var t = RGBImage(width: 10, height: 10, fill: (0, 0, 0))
        t.drawLine(from: Point(x: -1e9, y: -50), to: Point(x: 1e9, y: -50), color: (9, 9, 9), thickness: 3)
        XCTAssertEqual(t.pixels.filter { $0 != 0 }.count, 0)
        t.drawLine(from: Point(x: 0, y: 5), to: Point(x: 9, y: 5), color: (9, 9, 9), thickness: 3)
        for y in 0..<10 { XCTAssertTrue(t[4, y] == ((4...6).contains(y) ? (9, 9, 9) : (0, 0, 0)), "y=\(y)") }
        // Polygon outline is closed: all four edges of a square drawn.
        var p = RGBImage(width: 10, height: 10, fill: (0, 0, 0))
        p.drawPolygon([Point(x: 1, y: 1), Point(x: 8, y: 1), Point(x: 8, y: 8), Point(x: 1, y: 8)], color: (5, 5, 5))
        for i in 1...8 { XCTAssertTrue(p[i, 1] == (5, 5, 5) && p[i, 8] == (5, 5, 5) && p[1, i] == (5, 5, 5) && p[8, i] == (5, 5, 5)) }
        XCTAssertTrue(p[4, 4] == (0, 0, 0))
    }

    func testBlendingFillAndOverlay() {
        var img = RGBImage(width: 4, height: 2, fill: (100, 200, 0))
        img.fillRect(PixelRect(x: 1, y: 0, width: 2, height: 5), color: (200, 0, 255), alpha: 0.25)
        XCTAssertTrue(img[0, 0] == (100, 200, 0))
        XCTAssertTrue(img[1, 1] == (125, 150, 64)) // 0.75·v + 0.25·c, rounded
        XCTAssertTrue(img[3, 1] == (100, 200, 0))
        var o = RGBImage(width: 3, height: 1, fill: (0, 0, 0))
        o.overlay(mask: GrayImage(width: 3, height: 1, pixels: [0, 255, 1]), color: (255, 100, 10), alpha: 0.5)
        XCTAssertTrue(o[0, 0] == (0, 0, 0))
        XCTAssertTrue(o[1, 0] == (128, 50, 5) && o[2, 0] == (128, 50, 5))
        var solid = RGBImage(width: 2, height: 2, fill: (1, 2, 3))
        solid.overlay(mask: GrayImage(width: 2, height: 2, fill: 255), color: (7, 8, 9), alpha: 1)
        XCTAssertEqual(solid, RGBImage(width: 2, height: 2, fill: (7, 8, 9)))
    }
}
