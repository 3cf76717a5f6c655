import Foundation
import ImageCore
import SlideIO
import SlideSynth
import TestSupport
import XCTest
@testable import Tiler

/// Tissue detection and patch selection against slides whose truth is known.
final class TissueDetectionTests: XCTestCase {
    /// One synthetic 40x slide shared by the tests of this class (generation is the slow part).
    static var cached: (path: String, truth: SyntheticTruth)?
    static let lock = NSLock()

    func syntheticSlide() throws -> (Slide, SyntheticTruth) {
        Self.lock.lock(); defer { Self.lock.unlock() }
        if Self.cached == nil {
            let dir = NSTemporaryDirectory() + "rp-tiler-synth-\(getpid())"
            var spec = SyntheticSlideSpec(width: 12_000, height: 9_000)
            spec.seed = 11
            spec.writeNucleiTruth = false
            let path = dir + "/synthetic.tiff"
            let truth = try SlideSynth.write(spec, to: path, truthDirectory: nil)
            Self.cached = (path, truth)
        }
        return (try Slide.open(path: Self.cached!.path), Self.cached!.truth)
    }

    override class func tearDown() {
        if let c = cached { try? FileManager.default.removeItem(atPath: URL(fileURLWithPath: c.path).deletingLastPathComponent().path) }
    }

    func iou(_ a: GrayImage, _ b: GrayImage) -> Double {
        precondition(a.width == b.width && a.height == b.height)
        var inter = 0, union = 0
        for i in 0..<a.pixels.count {
            let x = a.pixels[i] != 0, y = b.pixels[i] != 0
            if x && y { inter += 1 }
            if x || y { union += 1 }
        }
        return union == 0 ? 1 : Double(inter) / Double(union)
    }

    func truthMask(_ truth: SyntheticTruth, like m: TissueMask) -> GrayImage {
        var out = GrayImage(width: m.mask.width, height: m.mask.height)
        for y in 0..<out.height {
            for x in 0..<out.width where truth.isTissue(x: (Double(x) + 0.5) * m.downsampleX, y: (Double(y) + 0.5) * m.downsampleY) {
                out[x, y] = 255
            }
        }
        return out
    }

    func testTissueMaskMatchesTruthAndRejectsPenMark() throws {
        let (slide, truth) = try syntheticSlide()
        let preset = try PresetLibrary.load("default")
        let found = try TissueDetector.detect(slide: slide, mpp: 0.25, params: preset.tissue)
        let expected = truthMask(truth, like: found)
        let score = iou(found.mask, expected)
        XCTAssertGreaterThanOrEqual(score, 0.95, "tissue mask IoU against the synthetic truth")
        XCTAssertGreaterThan(found.inkPixels, 0, "the synthetic pen mark was seen as ink")

        var noRejection = preset.tissue
        noRejection.rejectPenMarks = false
        let withPen = try TissueDetector.detect(slide: slide, mpp: 0.25, params: noRejection)
        XCTAssertLessThan(iou(withPen.mask, expected), score, "without ink rejection the pen mark counts as tissue")
        XCTAssertGreaterThan(withPen.mask.foregroundCount, found.mask.foregroundCount)

        // The polygons are the mask: rasterising them at mask scale gives the mask back.
        let scaled = found.polygons.map { p in
            PolygonWithHoles(outer: p.outer.map { Point(x: $0.x / found.downsampleX, y: $0.y / found.downsampleY) },
                             holes: p.holes.map { $0.map { Point(x: $0.x / found.downsampleX, y: $0.y / found.downsampleY) } })
        }
        XCTAssertEqual(Polygon.fill(scaled, width: found.mask.width, height: found.mask.height), found.mask)
    }

    func testPatchesMeetTheTissueThresholdAndNoneAreMissed() throws {
        let (slide, truth) = try syntheticSlide()
        let preset = try PresetLibrary.load("default")
        let tissue = try TissueDetector.detect(slide: slide, mpp: 0.25, params: preset.tissue)
        let grid = try PatchGridBuilder.build(slideWidth: slide.width, slideHeight: slide.height, levels: slide.levels, slideMPP: 0.25,
                                              objectivePower: slide.objectivePower, params: preset.grid, tissue: tissue)
        XCTAssertEqual(grid.patchSizeLevel0, 512)
        XCTAssertGreaterThan(grid.count, 50)
        let t = preset.grid.minTissueFraction
        XCTAssertTrue(grid.tissueFraction.allSatisfy { Double($0) >= t - 1e-6 })

        func truthFraction(_ x: Int, _ y: Int) -> Double {
            var n = 0
            for j in 0..<16 { for i in 0..<16 where truth.isTissue(x: Double(x) + (Double(i) + 0.5) * 32, y: Double(y) + (Double(j) + 0.5) * 32) { n += 1 } }
            return Double(n) / 256
        }
        // The mask is 12,000/1,024 ≈ 11.7 level-0 px per pixel; a 512 px patch edge moves its
        // fraction by at most a few percent, so 0.1 either side of the threshold is decided.
        var kept = Set<Int64>()
        for i in 0..<grid.count {
            let x = grid.coords[2 * i], y = grid.coords[2 * i + 1]
            kept.insert(x << 32 | y)
            XCTAssertGreaterThanOrEqual(truthFraction(Int(x), Int(y)), t - 0.1, "patch at \(x),\(y) is mostly glass")
        }
        var missed = 0
        for y in stride(from: 0, to: slide.height, by: 512) {
            for x in stride(from: 0, to: slide.width, by: 512) where truthFraction(x, y) >= t + 0.1 {
                if !kept.contains(Int64(x) << 32 | Int64(y)) { missed += 1 }
            }
        }
        XCTAssertEqual(missed, 0, "tissue patches of the truth missing from the grid")
    }

    func testBlankSlideGivesNoTissue() {
        let white = RGBImage(width: 400, height: 300, fill: (242, 242, 240))
        let m = TissueDetector.detect(image: white, downsampleX: 64, downsampleY: 64, mpp: 0.25, params: TissueParameters())
        XCTAssertTrue(m.polygons.isEmpty)
        XCTAssertEqual(m.mask.foregroundCount, 0)
    }

    func testSmallPiecesAndHolesAreFilteredByPhysicalArea() {
        // 4 µm/px mask pixels (0.25 µm/px at 16x): 1 px = 16e-6 mm².
        var img = RGBImage(width: 300, height: 200, fill: (240, 240, 240))
        for y in 20..<180 { for x in 20..<180 { img[x, y] = (220, 120, 170) } }   // 160² px = 0.41 mm²
        for y in 60..<120 { for x in 60..<120 { img[x, y] = (240, 240, 240) } }   // hole 60² = 0.058 mm²
        for y in 150..<154 { for x in 150..<154 { img[x, y] = (240, 240, 240) } } // hole 4² px: filled
        for y in 20..<30 { for x in 250..<260 { img[x, y] = (220, 120, 170) } }   // debris 10² = 0.0016 mm²
        var p = TissueParameters()
        p.medianSize = 1
        p.closeSize = 0
        p.minTissueAreaMM2 = 0.01
        p.minHoleAreaMM2 = 0.01
        let m = TissueDetector.detect(image: img, downsampleX: 16, downsampleY: 16, mpp: 0.25, params: p)
        XCTAssertEqual(m.polygons.count, 1, "debris dropped")
        XCTAssertEqual(m.droppedPieces, 1)
        XCTAssertEqual(m.polygons.first?.holes.count, 1, "small hole filled, large hole kept")
        XCTAssertEqual(m.mask.foregroundCount, 160 * 160 - 60 * 60)
        XCTAssertEqual(m.tissueAreaMM2, Double(160 * 160 - 60 * 60) * 16e-6, accuracy: 1e-9)
        XCTAssertEqual(m.polygons[0].outer.map(\.x).max(), 180 * 16, "contours are in level-0 px")
    }
}
