import ImageCore
import SlideIO
import XCTest
@testable import Tiler

final class PatchGridTests: XCTestCase {
    func levels(_ w: Int, _ h: Int, _ ds: [Double]) -> [SlideLevel] {
        ds.enumerated().map { SlideLevel(index: $0.offset, width: Int(Double(w) / $0.element), height: Int(Double(h) / $0.element), downsample: $0.element) }
    }

    func fullTissue(_ w: Int, _ h: Int, ds: Double) -> TissueMask {
        let mw = Int((Double(w) / ds).rounded(.up)), mh = Int((Double(h) / ds).rounded(.up))
        return TissueMask(mask: GrayImage(width: mw, height: mh, fill: 255), downsampleX: ds, downsampleY: ds, polygons: [],
                          image: RGBImage(width: mw, height: mh), tissueAreaMM2: 0, droppedPieces: 0, inkPixels: 0)
    }

    func testScaleFromMagnificationUsesObjectivePower() {
        var g = GridParameters()
        g.magnification = 20
        let (d, mpp, mag) = PatchGridBuilder.downsample(params: g, slideMPP: 0.2527, objectivePower: 40)
        XCTAssertEqual(d, 2)
        XCTAssertEqual(mpp, 0.5054, accuracy: 1e-9)
        XCTAssertEqual(mag, 20)
        let (d2, mpp2, _) = PatchGridBuilder.downsample(params: g, slideMPP: 0.25, objectivePower: nil)
        XCTAssertEqual(d2, 2, accuracy: 1e-12)
        XCTAssertEqual(mpp2, 0.5)
    }

    func testReadLevelIsFinestNotCoarserThanTarget() throws {
        let lv = levels(40_000, 30_000, [1, 4, 16])
        let tissue = fullTissue(40_000, 30_000, ds: 64)
        var g = GridParameters()
        for (mpp, level, readSize, size0) in [(0.5, 0, 512, 512), (1.0, 1, 256, 1024), (2.0, 1, 512, 2048), (4.0, 2, 256, 4096)] {
            g.targetMPP = mpp
            let grid = try PatchGridBuilder.build(slideWidth: 40_000, slideHeight: 30_000, levels: lv, slideMPP: 0.25,
                                                  objectivePower: 40, params: g, tissue: tissue)
            XCTAssertEqual(grid.readLevel, level, "target \(mpp)")
            XCTAssertEqual(grid.readSize, readSize, "target \(mpp)")
            XCTAssertEqual(grid.patchSizeLevel0, size0, "target \(mpp)")
        }
    }

    func testGridCoversSlideRowMajorWithOverlap() throws {
        var g = GridParameters()
        g.patchSize = 100
        g.targetMPP = 0.5
        g.overlap = 20
        g.minTissueFraction = 0
        let grid = try PatchGridBuilder.build(slideWidth: 1000, slideHeight: 500, levels: levels(1000, 500, [1]), slideMPP: 0.5,
                                              objectivePower: nil, params: g, tissue: fullTissue(1000, 500, ds: 4))
        XCTAssertEqual(grid.stepLevel0, 80)
        let xs = Set(stride(from: 0, to: grid.coords.count, by: 2).map { grid.coords[$0] })
        let ys = Set(stride(from: 1, to: grid.coords.count, by: 2).map { grid.coords[$0] })
        XCTAssertEqual(xs.sorted(), Array(stride(from: 0, to: 1000, by: 80)).map(Int64.init))
        XCTAssertEqual(ys.sorted(), Array(stride(from: 0, to: 500, by: 80)).map(Int64.init))
        XCTAssertEqual(Array(grid.coords.prefix(4)), [0, 0, 80, 0], "row-major order")
        // Edge patches reach past the slide: the outside counts as glass.
        let last = grid.count - 1
        XCTAssertEqual(grid.coords[2 * last], 960)
        XCTAssertEqual(Double(grid.tissueFraction[last]), (40.0 / 100) * (20.0 / 100), accuracy: 1e-6)
    }

    func testTissueFractionIsExactArea() throws {
        // Left half of the slide is tissue; a patch straddling the border by a quarter.
        var mask = GrayImage(width: 100, height: 100)
        for y in 0..<100 { for x in 0..<50 { mask[x, y] = 255 } }
        let tissue = TissueMask(mask: mask, downsampleX: 10, downsampleY: 10, polygons: [], image: RGBImage(width: 100, height: 100),
                                tissueAreaMM2: 0, droppedPieces: 0, inkPixels: 0)
        var g = GridParameters()
        g.patchSize = 200
        g.targetMPP = 1
        g.minTissueFraction = 0.25
        let grid = try PatchGridBuilder.build(slideWidth: 1000, slideHeight: 1000, levels: levels(1000, 1000, [1]), slideMPP: 1,
                                              objectivePower: nil, params: g, tissue: tissue)
        // Columns at x = 0, 200, 400 (fraction 1, 1, 0.5); x = 600 is glass.
        let xs = Set(stride(from: 0, to: grid.coords.count, by: 2).map { grid.coords[$0] })
        XCTAssertEqual(xs.sorted(), [0, 200, 400])
        for i in 0..<grid.count where grid.coords[2 * i] == 400 { XCTAssertEqual(grid.tissueFraction[i], 0.5, accuracy: 1e-6) }
        XCTAssertTrue(grid.tissueFraction.allSatisfy { $0 >= 0.25 })
    }

    func testTargetFinerThanSlideIsRefused() {
        var g = GridParameters()
        g.targetMPP = 0.25
        XCTAssertThrowsError(try PatchGridBuilder.build(slideWidth: 100, slideHeight: 100, levels: levels(100, 100, [1]), slideMPP: 0.5,
                                                        objectivePower: nil, params: g, tissue: fullTissue(100, 100, ds: 1))) { e in
            XCTAssertTrue("\(e)".contains("does not upsample"), "\(e)")
        }
    }
}
