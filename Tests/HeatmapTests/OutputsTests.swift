import Foundation
@testable import Heatmap
import ImageCore
import SlideIO
import TestSupport
import XCTest

/// The PNG heatmap, the top-k gallery and the QuPath GeoJSON.
final class OutputsTests: XCTestCase {
    override class func tearDown() { SlideFixture.cleanUp() }

    func testSlideHeatmapIsTheMapOverTheDownsampledSlideWithALegend() throws {
        let slide = try Slide.open(path: SlideFixture.shared.path)
        let (patches, scores) = overlapGrid()
        let values = try ScoreNormalisation.minMax.apply(scores)
        let cmap = try Colormap.named("coolwarm")
        var h = SlideHeatmap(colormap: cmap)
        h.downsample = 16
        let plain = try h.render(slide: slide, patches: patches, values: values)
        let bg = try slide.downsampledImage(downsample: 16).image
        XCTAssertEqual([plain.width, plain.height], [bg.width, bg.height])
        for (x, y) in [(70, 70), (40, 40), (100, 90), (5, 5), (150, 120)] {
            let v = bruteForceScore(patches, values, (Double(x) + 0.5) * 16, (Double(y) + 0.5) * 16)
            XCTAssertTrue(plain[x, y] == expectedBlend(bg[x, y], v, cmap, alpha: 0.4), "(\(x), \(y))")
        }

        h.legend = HeatmapLegend(title: "synthetic — min-max", ticks: HeatmapLegend.ticks(for: .minMax, scores: scores))
        let framed = try h.render(slide: slide, patches: patches, values: values)
        XCTAssertGreaterThan(framed.width, plain.width)
        XCTAssertGreaterThan(framed.height, plain.height)
        // The image sits under the title band, unchanged.
        let band = framed.height - plain.height
        XCTAssertTrue(framed[70, 70 + band] == plain[70, 70])
        // The colour bar beside it runs from the map's top colour to its bottom colour.
        let ticks = HeatmapLegend.ticks(for: .minMax, scores: scores)
        XCTAssertEqual(ticks.first?.label, HeatmapLegend.format(scores.min()!))
        XCTAssertEqual(ticks.last?.label, HeatmapLegend.format(scores.max()!))
        var barColours = Set<[UInt8]>()
        let barX = plain.width + 6 + 3
        for y in band..<framed.height { let c = framed[barX, y]; barColours.insert([c.0, c.1, c.2]) }
        let top = cmap.color(1)!, bottom = cmap.color(0)!
        XCTAssertTrue(barColours.contains([top.0, top.1, top.2]))
        XCTAssertTrue(barColours.contains([bottom.0, bottom.1, bottom.2]))
        // Some text was drawn in the band.
        XCTAssertTrue((0..<band).contains { y in (0..<min(200, framed.width)).contains { framed[$0, y] == (0, 0, 0) } })

        // Smoothing in µm needs a scale; the synthetic slide has one.
        h.smoothing = .micrometres(32)
        h.legend = nil
        let smooth = try h.render(slide: slide, patches: patches, values: values)
        XCTAssertNotEqual(smooth, plain)

        let dir = try TestEnv.scratch(self, "png")
        try SlideHeatmap.save(framed, to: dir + "/h.png")
        XCTAssertEqual(try PNGCodec.decodeRGB(try Data(contentsOf: URL(fileURLWithPath: dir + "/h.png"))), framed)
    }

    func testGallerySelectionOrder() {
        let s: [Double] = [0.5, .nan, 0.9, 0.1, 0.9, 0.3, 0.0]
        XCTAssertEqual(PatchGallery.select(scores: s, k: 3, order: .highest), [2, 4, 0])
        XCTAssertEqual(PatchGallery.select(scores: s, k: 2, order: .lowest), [6, 3])
        XCTAssertEqual(PatchGallery.select(scores: s, k: 50, order: .highest).count, 6)
        XCTAssertEqual(PatchGallery.ranks(s)[4], 2)
        XCTAssertTrue(PatchGallery.ranks(s)[1].isNaN)
    }

    /// Patches of distinct flat colours: the gallery shows them in score order.
    func testGalleryShowsPatchesInScoreOrder() throws {
        let dir = try TestEnv.scratch(self, "gallery")
        let colours: [(UInt8, UInt8, UInt8)] = [(200, 30, 30), (30, 200, 30), (30, 30, 200), (200, 200, 30), (30, 200, 200)]
        var img = RGBImage(width: 5 * 128, height: 128)
        for (i, c) in colours.enumerated() { img.fillRect(PixelRect(x: i * 128, y: 0, width: 128, height: 128), color: c, alpha: 1) }
        try PNGCodec.encode(img).write(to: URL(fileURLWithPath: dir + "/s.png"))
        let slide = try Slide.open(path: dir + "/s.png", mppOverride: 0.5)
        let patches = PatchSet(coords: (0..<5).flatMap { [Int64($0 * 128), 0] }, patchSizeLevel0: 128)
        let scores = [0.2, 0.9, 0.5, 0.95, 0.1]
        var g = PatchGallery(k: 3, order: .highest)
        g.tileSize = 64
        g.columns = 2
        let out = try g.render(slide: slide, patches: patches, scores: scores)
        // Cells in reading order: patch 3, patch 1, patch 2.
        let pad = 8, caption = BitmapFont.size(of: "0\n0", scale: 1).height + pad
        let centres = [(pad + 32, pad + 32), (pad + 64 + pad + 32, pad + 32), (pad + 32, pad + 64 + caption + pad + pad + 32)]
        for (cell, want) in zip(centres, [3, 1, 2]) {
            let c = out[cell.0, cell.1]
            XCTAssertTrue(c == colours[want], "cell \(cell): \(c), want patch \(want)")
        }
        var low = PatchGallery(k: 1, order: .lowest)
        low.tileSize = 32
        let l = try low.render(slide: slide, patches: patches, scores: scores)
        XCTAssertTrue(l[8 + 16, 8 + 16] == colours[4])
    }

    func testGeoJSONHasOneDetectionPerPatchWithMeasurements() throws {
        let patches = PatchSet(coords: [0, 0, 512, 0, 512, 512], patchSizeLevel0: 512)
        let scores = [1.234567e-4, .nan, 0.75]
        let pct = try ScoreNormalisation.percentile().apply(scores).map { $0 * 100 }
        let data = HeatmapGeoJSON.encode(patches: patches, scores: scores, percentiles: pct, slideID: "s1")
        let doc = try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let features = try XCTUnwrap(doc["features"] as? [[String: Any]])
        XCTAssertEqual(features.count, 3)
        let props = features.map { $0["properties"] as! [String: Any] }
        XCTAssertEqual(props[0]["objectType"] as? String, "detection")
        let m0 = try XCTUnwrap(props[0]["measurements"] as? [String: Double])
        XCTAssertEqual(m0["score"], 1.234567e-4)
        XCTAssertEqual(m0["percentile"], 50)
        XCTAssertNil(props[1]["measurements"])
        XCTAssertEqual((props[2]["measurements"] as? [String: Double])?["percentile"], 100)
        let ring = try XCTUnwrap((features[2]["geometry"] as? [String: Any])?["coordinates"] as? [[[Double]]])
        XCTAssertEqual(ring[0], [[512, 512], [1024, 512], [1024, 1024], [512, 1024], [512, 512]])
        XCTAssertEqual(Set(features.map { $0["id"] as! String }).count, 3)
        XCTAssertEqual(data, HeatmapGeoJSON.encode(patches: patches, scores: scores, percentiles: pct, slideID: "s1"), "deterministic")

        // gzip: Python's gzip + json read it back.
        let dir = try TestEnv.scratch(self, "geojson")
        try HeatmapGeoJSON.write(patches: patches, scores: scores, percentiles: pct, slideID: "s1", to: dir + "/p.geojson.gz")
        let script = """
        import gzip, json, sys
        d = json.load(gzip.open(sys.argv[1]))
        f = d["features"]
        print(json.dumps([len(f), f[2]["properties"]["measurements"]["score"], f[0]["properties"]["name"]]))
        """
        let back = try XCTUnwrap(try TestEnv.json(try TestEnv.runPython(script, [dir + "/p.geojson.gz"])) as? [Any])
        XCTAssertEqual(back[0] as? Int, 3)
        XCTAssertEqual(back[1] as? Double, 0.75)
        XCTAssertEqual(back[2] as? String, "patch 0")
    }
}
