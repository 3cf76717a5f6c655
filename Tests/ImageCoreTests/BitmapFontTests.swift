import XCTest
import ImageCore

final class BitmapFontTests: XCTestCase {
    static let printable: [Character] = (32...126).map { Character(UnicodeScalar(UInt8($0))) }
    static let extras: [Character] = ["\u{00B5}", "\u{00D7}", "\u{2013}", "\u{00B1}", "\u{2265}", "\u{2264}", "\u{00B0}"]

    /// Renders one character at scale 1 into a cell and returns the ink as a bit string.
    private func ink(_ ch: Character) -> [Bool] {
        var img = RGBImage(width: 5, height: 9)
        BitmapFont.draw(String(ch), into: &img, x: 0, y: 0)
        return stride(from: 0, to: img.pixels.count, by: 3).map { img.pixels[$0] == 0 }
    }

    func testEveryGlyphHasInkAndGlyphsAreDistinct() {
        var seen: [[Bool]: Character] = [:]
        for ch in Self.printable + Self.extras {
            let bits = ink(ch)
            if ch == " " { XCTAssertFalse(bits.contains(true), "space draws ink"); continue }
            XCTAssertTrue(bits.contains(true), "glyph '\(ch)' is empty")
            if let other = seen[bits] { XCTFail("glyphs '\(ch)' and '\(other)' are identical") }
            seen[bits] = ch
        }
        // Unknown characters draw a visible placeholder, not nothing.
        XCTAssertTrue(ink("\u{263A}").contains(true))
        XCTAssertNotEqual(ink("\u{263A}"), ink("O"))
    }

    /// Everything draw() touches lies inside size(), and the ink reaches the box's far edges.
    func testSizeMatchesDrawnInk() {
        let cases: [(String, Int)] = [("|", 1), ("A|", 2), ("AUC 0.93 (95% CI 0.88\u{2013}0.97)", 1),
                                      ("x\n|gy|", 3), ("|\n\n|", 1), ("Hello, µm ±2°", 2)]
        for (text, scale) in cases {
            let (w, h) = BitmapFont.size(of: text, scale: scale)
            let ox = 7, oy = 5
            var img = RGBImage(width: w + 20, height: h + 20)
            BitmapFont.draw(text, into: &img, x: ox, y: oy, scale: scale, color: (200, 0, 0))
            var minX = Int.max, minY = Int.max, maxX = -1, maxY = -1
            for y in 0..<img.height { for x in 0..<img.width where img[x, y] != (255, 255, 255) {
                XCTAssertEqual(img[x, y].0, 200)
                minX = min(minX, x); maxX = max(maxX, x); minY = min(minY, y); maxY = max(maxY, y)
            } }
            XCTAssertGreaterThanOrEqual(minX, ox, text); XCTAssertGreaterThanOrEqual(minY, oy, text)
            XCTAssertLessThan(maxX, ox + w, text); XCTAssertLessThan(maxY, oy + h, text)
            // Every case ends a longest line with "|" or ")" or starts with a full-height glyph,
            // so the box is tight on the right and bottom where the text reaches it.
            if text.hasSuffix("|") { XCTAssertEqual(maxY, oy + h - 1, text) }
        }
        XCTAssertEqual(BitmapFont.size(of: "").width, 0)
        XCTAssertEqual(BitmapFont.size(of: "").height, 0)
        XCTAssertEqual(BitmapFont.size(of: "ab").width, 11)
        XCTAssertEqual(BitmapFont.size(of: "ab", scale: 2).width, 22)
        XCTAssertEqual(BitmapFont.size(of: "ab\nabc").width, 17)
        XCTAssertEqual(BitmapFont.size(of: "ab\nabc").height, 19)
    }

    /// "|" fills one column of its cell at full height: the scale-3 glyph is a 3-px wide bar.
    func testScaleAndPosition() {
        var img = RGBImage(width: 40, height: 40)
        BitmapFont.draw("||", into: &img, x: 4, y: 2, scale: 3)
        for y in 0..<40 { for x in 0..<40 {
            let inBar = y >= 2 && y < 2 + 27 && ((x >= 4 + 6 && x < 4 + 9) || (x >= 4 + 18 + 6 && x < 4 + 18 + 9))
            XCTAssertEqual(img[x, y] == (0, 0, 0), inBar, "(\(x), \(y))")
        } }
    }

    /// Text partly or wholly outside the image is clipped, not a crash.
    func testClipping() {
        var img = RGBImage(width: 10, height: 6)
        BitmapFont.draw("WWWW\nWW", into: &img, x: -8, y: -3, scale: 2)
        BitmapFont.draw("M", into: &img, x: 1000, y: -1000)
        XCTAssertTrue(img.pixels.contains(0))
        var empty = RGBImage(width: 0, height: 0)
        BitmapFont.draw("A", into: &empty, x: 0, y: 0)
    }
}
