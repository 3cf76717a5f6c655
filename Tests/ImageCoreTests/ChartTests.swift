import Foundation
import XCTest
import ImageCore

final class ChartTests: XCTestCase {
    static let blue: (UInt8, UInt8, UInt8) = (31, 119, 180)
    static let orange: (UInt8, UInt8, UInt8) = (255, 127, 14)

    /// A ROC-like chart: curve, step curve, points, chance diagonal and a legend with an en dash.
    private func rocChart() -> LineChart {
        var c = LineChart(width: 640, height: 480, title: "ROC, test set", xLabel: "1 - specificity",
                          yLabel: "Sensitivity", xRange: 0...1, yRange: 0...1)
        c.add(series: .reference(from: Point(x: 0, y: 0), to: Point(x: 1, y: 1)))
        c.add(series: ChartSeries("AUC 0.93 (95% CI 0.88\u{2013}0.97)", x: [0, 0, 0.1, 0.1, 0.4, 1], y: [0, 0.5, 0.5, 0.9, 1, 1]))
        c.add(series: ChartSeries("step", x: [0, 0.2, 0.6, 1], y: [0.1, 0.3, 0.7, 0.8], style: .step, color: Self.orange))
        c.add(series: ChartSeries("points", x: [0.25, 0.75], y: [0.75, 0.25], style: .points, color: (44, 160, 44)))
        return c
    }

    /// Polyline pixels lie where the data map: vertices, midpoints of segments and step corners
    /// carry the series colour; the layout's mapping puts the range corners at the plot corners.
    func testSeriesPixelsLieWhereDataMap() throws {
        let chart = rocChart()
        let img = chart.render()
        XCTAssertEqual(img.width, 640); XCTAssertEqual(img.height, 480)
        let L = chart.layout()
        func at(_ x: Double, _ y: Double) -> (UInt8, UInt8, UInt8) {
            let p = L.pixel(x: x, y: y); return img[Int(p.x), Int(p.y)]
        }
        // Blue polyline: vertices and midpoints of its segments (away from the legend, bottom right).
        for (x, y) in [(0.0, 0.25), (0.05, 0.5), (0.1, 0.9), (0.1, 0.7), (0.25, 0.95), (0.4, 1.0), (0.7, 1.0)] {
            XCTAssertTrue(at(x, y) == Self.blue, "blue at (\(x), \(y)): \(at(x, y))")
        }
        // Orange steps: horizontal then vertical, so (0.4, 0.3) is on it and (0.4, 0.5) is not.
        for (x, y) in [(0.1, 0.1), (0.2, 0.2), (0.4, 0.3), (0.6, 0.5), (0.8, 0.7)] {
            XCTAssertTrue(at(x, y) == Self.orange, "orange at (\(x), \(y)): \(at(x, y))")
        }
        XCTAssertFalse(at(0.4, 0.5) == Self.orange)
        XCTAssertTrue(at(0.25, 0.75) == (44, 160, 44))
        XCTAssertTrue(at(0.75, 0.25) == (44, 160, 44))
        // Dashed diagonal: grey on part of the way, background in the gaps.
        var grey = 0, gaps = 0
        for i in 0...200 {
            let v = 0.45 + 0.1 * Double(i) / 200
            let c = at(v, v)
            if c == (128, 128, 128) { grey += 1 } else if c == (255, 255, 255) || c == (225, 225, 225) { gaps += 1 }
        }
        XCTAssertGreaterThan(grey, 40); XCTAssertGreaterThan(gaps, 20)
        // The corners of the data range sit `inset` inside the plot frame.
        let a = L.plotArea
        XCTAssertEqual(Int(L.pixel(x: 0, y: 1).x), a.x + L.inset)
        XCTAssertEqual(Int(L.pixel(x: 0, y: 1).y), a.y + L.inset)
        XCTAssertEqual(Int(L.pixel(x: 1, y: 0).x), a.maxX - 1 - L.inset)
        XCTAssertEqual(Int(L.pixel(x: 1, y: 0).y), a.maxY - 1 - L.inset)
        XCTAssertTrue(img[a.x - 1, a.y + 10] == (0, 0, 0), "frame")
        XCTAssertEqual(L.xTicks.first, 0); XCTAssertEqual(L.xTicks.last, 1)
        if let dir = ProcessInfo.processInfo.environment["RADIOPATH_CHART_DIR"] {
            try PNGCodec.encode(img).write(to: URL(fileURLWithPath: dir + "/roc-chart.png"))
        }
    }

    /// Title, axis titles, tick labels and legend text are drawn where they belong: each
    /// string's exact glyph pattern is found in the image (the y title turned upwards).
    func testTextIsPresent() {
        let chart = rocChart()
        let img = chart.render()
        let L = chart.layout()
        for text in ["ROC, test set", "1 - specificity", "AUC 0.93 (95% CI 0.88\u{2013}0.97)", "0.0", "0.2", "0.8", "1.0"] {
            XCTAssertNotNil(find(text, in: img, rotated: false), "'\(text)' not found")
        }
        let y = find("Sensitivity", in: img, rotated: true)
        XCTAssertNotNil(y, "rotated y title not found")
        if let y { XCTAssertLessThan(y.x, L.plotArea.x) }
        if let t = find("ROC, test set", in: img, rotated: false) { XCTAssertLessThan(t.y, L.plotArea.y) }
        // 0.2 appears on both axes: once below the plot, once to its left.
        let hits = findAll("0.2", in: img)
        XCTAssertTrue(hits.contains { $0.y > L.plotArea.maxY })
        XCTAssertTrue(hits.contains { $0.x < L.plotArea.x })
    }

    /// Automatic ranges cover the data with whole ticks; odd ranges get readable labels;
    /// non-finite points are skipped; an empty chart still renders a frame.
    func testAutoRangesAndEdgeCases() {
        var c = LineChart(width: 400, height: 300, title: "Decision curve", xLabel: "threshold", yLabel: "net benefit")
        c.add(series: ChartSeries("model", x: [0.013, 0.5, .nan, 0.97], y: [-0.031, 0.2, 5, 0.41]))
        let L = c.layout()
        XCTAssertLessThanOrEqual(L.xRange.lowerBound, 0.013); XCTAssertGreaterThanOrEqual(L.xRange.upperBound, 0.97)
        XCTAssertLessThanOrEqual(L.yRange.lowerBound, -0.031); XCTAssertGreaterThanOrEqual(L.yRange.upperBound, 0.41)
        XCTAssertLessThan(L.yRange.upperBound, 1, "the NaN point's y = 5 must not widen the range")
        XCTAssertGreaterThanOrEqual(L.xTicks.count, 3)
        let img = c.render()
        XCTAssertTrue(img.pixels.contains(0))
        let m = L.pixel(x: 0.5, y: 0.2)
        XCTAssertTrue(img[Int(m.x), Int(m.y)] == Self.blue)
        XCTAssertEqual(LineChart(width: 100, height: 80).render().width, 100)
        var flat = LineChart(width: 200, height: 150)
        flat.add(series: ChartSeries(x: [3, 3], y: [7, 7], style: .points))
        let f = flat.layout()
        XCTAssertTrue(f.xRange.contains(3) && f.xRange.upperBound > f.xRange.lowerBound)
        _ = flat.render()
    }

    // MARK: template search for text

    private func mask(_ text: String, rotated: Bool) -> (w: Int, h: Int, ink: [Bool]) {
        let sz = BitmapFont.size(of: text)
        var t = RGBImage(width: sz.width, height: sz.height)
        BitmapFont.draw(text, into: &t, x: 0, y: 0)
        let ink = stride(from: 0, to: t.pixels.count, by: 3).map { t.pixels[$0] == 0 }
        guard rotated else { return (sz.width, sz.height, ink) }
        // Counter-clockwise: (x, y) → (y, w − 1 − x).
        var r = [Bool](repeating: false, count: ink.count)
        for y in 0..<sz.height { for x in 0..<sz.width { r[(sz.width - 1 - x) * sz.height + y] = ink[y * sz.width + x] } }
        return (sz.height, sz.width, r)
    }

    private func findAll(_ text: String, in img: RGBImage, rotated: Bool = false) -> [(x: Int, y: Int)] {
        let m = mask(text, rotated: rotated)
        var hits: [(x: Int, y: Int)] = []
        for y in 0...(img.height - m.h) {
            xs: for x in 0...(img.width - m.w) {
                for j in 0..<m.h { for i in 0..<m.w where (img[x + i, y + j] == (0, 0, 0)) != m.ink[j * m.w + i] { continue xs } }
                hits.append((x, y))
            }
        }
        return hits
    }

    private func find(_ text: String, in img: RGBImage, rotated: Bool) -> (x: Int, y: Int)? {
        findAll(text, in: img, rotated: rotated).first
    }
}
