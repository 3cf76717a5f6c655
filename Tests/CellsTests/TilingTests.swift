@testable import Cells
import Foundation
import ImageCore
import SlideIO
import SlideSynth
import TestSupport
import XCTest

/// Tiles with overlap give the nuclei of one untiled pass: each once, identical.
final class TilingTests: XCTestCase {
    /// (centroid x, centroid y, area) of every nucleus, sorted, for set comparison.
    func key(_ nuclei: [Nucleus]) -> [[Double]] {
        nuclei.map { [$0.centroid.x, $0.centroid.y, $0.features[0]] }.sorted { ($0[0], $0[1]) < ($1[0], $1[1]) }
    }

    func testTiledRunFindsEachBorderNucleusOnceAndIdentically() throws {
        let image = try ImageFile.read(path: try TestEnv.testdata("histology/he_tumour_1000px.png"))
        var p = NucleiParameters()
        p.tileSize = 4096
        let whole = try NucleiDetector(parameters: p).detect(image: image, mpp: 0.5)
        p.tileSize = 192
        let tiled = try NucleiDetector(parameters: p).detect(image: image, mpp: 0.5)
        XCTAssertEqual(whole.info.tiles, 1)
        XCTAssertEqual(tiled.info.tiles, 36)
        XCTAssertGreaterThan(whole.nuclei.count, 200)
        XCTAssertEqual(key(tiled.nuclei), key(whole.nuclei), "tiled and untiled runs find the same nuclei")
        // Nuclei whose outline crosses a tile border (x or y = k·192) were found once each.
        let crossing = tiled.nuclei.filter { n in
            let xs = n.contour.outer.map(\.x), ys = n.contour.outer.map(\.y)
            return Int(xs.min()!) / 192 != Int(xs.max()! - 1) / 192 || Int(ys.min()!) / 192 != Int(ys.max()! - 1) / 192
        }
        XCTAssertGreaterThan(crossing.count, 20, "the test image has nuclei on tile borders")
        let centroids = Set(tiled.nuclei.map { "\($0.centroid.x),\($0.centroid.y)" })
        XCTAssertEqual(centroids.count, tiled.nuclei.count, "no nucleus reported twice")
        // Same features too, nucleus by nucleus.
        let byCentroid = Dictionary(uniqueKeysWithValues: whole.nuclei.map { ("\($0.centroid.x),\($0.centroid.y)", $0.features) })
        for n in tiled.nuclei { XCTAssertEqual(byCentroid["\(n.centroid.x),\(n.centroid.y)"], n.features) }
    }

    /// A slide region gives the nuclei of the same pixels read as an image, shifted to level 0.
    func testSlideRegionMatchesTheImageOfTheSamePixels() throws {
        let slide = try Slide.open(path: try TestEnv.testdata("slides/CMU-1-Small-Region.svs"))
        let region = PixelRect(x: 700, y: 900, width: 900, height: 700)
        let detector = try NucleiDetector()
        var fromSlide: [Nucleus] = []
        let info = try detector.detect(slide: slide, region: region) { fromSlide += $0 }
        XCTAssertEqual(info.level, 0)
        XCTAssertEqual(info.downsample, 1, "0.499 µm/px is within 2 % of 0.5: analysed as is")
        let image = try slide.readRegion(x: region.x, y: region.y, level: 0, width: region.width, height: region.height)
        let fromImage = try detector.detect(image: image, mpp: slide.scale!.mpp).nuclei
        XCTAssertGreaterThan(fromSlide.count, 50)
        XCTAssertEqual(key(fromSlide), key(fromImage).map { [$0[0] + 700, $0[1] + 900, $0[2]] })
        XCTAssertTrue(fromSlide.allSatisfy { region.x <= Int($0.centroid.x) && Int($0.centroid.x) < region.maxX })
    }

    /// A 40× slide analysed at 0.5 µm/px (area-averaged 2:1 from level 0, streamed through
    /// PatchStream): small tiles give the nuclei of one big tile exactly.
    func testResampledSlideTilesAgree() throws {
        let dir = try TestEnv.scratch(self, "tiles-synth")
        var spec = SyntheticSlideSpec(width: 3000, height: 2200)
        spec.seed = 4
        try SlideSynth.write(spec, to: dir + "/s.svs", truthDirectory: nil)
        let slide = try Slide.open(path: dir + "/s.svs")
        var p = NucleiParameters()
        var runs: [[Nucleus]] = []
        for size in [4096, 160] {
            p.tileSize = size
            var all: [Nucleus] = []
            let info = try NucleiDetector(parameters: p).detect(slide: slide) { all += $0 }
            XCTAssertEqual(info.downsample, 2)
            XCTAssertEqual(info.level, 0)
            runs.append(all)
        }
        XCTAssertGreaterThan(runs[0].count, 100)
        XCTAssertEqual(key(runs[1]), key(runs[0]))
    }

    /// Blank, black, tiny and constant inputs give no nuclei and no crash.
    func testBlankImagesGiveNoNuclei() throws {
        let d = try NucleiDetector()
        XCTAssertEqual(try d.detect(image: RGBImage(width: 300, height: 200), mpp: 0.5).nuclei.count, 0, "white glass")
        XCTAssertEqual(try d.detect(image: RGBImage(width: 300, height: 200, fill: (0, 0, 0)), mpp: 0.5).nuclei.count, 0, "black")
        XCTAssertEqual(try d.detect(image: RGBImage(width: 3, height: 2, fill: (90, 40, 140)), mpp: 0.5).nuclei.count, 0, "tiny")
        XCTAssertEqual(try d.detect(image: RGBImage(width: 1, height: 1), mpp: 0.5).nuclei.count, 0)
        let f = try NucleiDetector(parameters: .fluorescence)
        XCTAssertEqual(try f.detect(intensity: [Float](repeating: 0, count: 100 * 80), width: 100, height: 80, mpp: 0.5).nuclei.count, 0, "dark fluorescence")
        XCTAssertThrowsError(try d.detect(intensity: [0], width: 1, height: 1, mpp: 0.5), "a single channel needs single-channel parameters")
        XCTAssertThrowsError(try d.detect(image: RGBImage(width: 3, height: 3), mpp: 0), "a pixel size is required")
        var bad = NucleiParameters(); bad.minArea = 500
        XCTAssertThrowsError(try NucleiDetector(parameters: bad), "min area above max area")
    }

    /// A fluorescence image in an RGB file is not H&E: the stain check says so.
    func testNonHEImageIsFlagged() throws {
        var px = [UInt8](repeating: 0, count: 200 * 200 * 3)
        for y in 0..<200 { for x in 0..<200 {
            let v = UInt8(max(0, 255 - 8 * Int(hypot(Double(x % 40 - 20), Double(y % 40 - 20)) * 3)))
            px[(y * 200 + x) * 3 + 1] = v // bright green nuclei on black (DAPI/GFP saved as RGB)
            px[(y * 200 + x) * 3] = 30; px[(y * 200 + x) * 3 + 2] = 30
        } }
        let info = try NucleiDetector().detect(image: RGBImage(width: 200, height: 200, pixels: px), mpp: 0.5).info
        XCTAssertTrue(info.warnings.contains { $0.contains("may not be H&E") }, "\(info.warnings)")
    }
}
