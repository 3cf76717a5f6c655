import Foundation
@testable import Heatmap
import ImageCore
import SlideIO
import TestSupport
import XCTest

final class OverlayTests: XCTestCase {
    override class func tearDown() { SlideFixture.cleanUp() }

    private func writeOverlay(_ configure: (inout HeatmapOverlayWriter) -> Void = { _ in })
        throws -> (slide: Slide, overlay: Slide, path: String, patches: PatchSet, values: [Double], report: HeatmapOverlayWriter.Report) {
        let slide = try Slide.open(path: SlideFixture.shared.path)
        let (patches, scores) = overlapGrid()
        let values = try ScoreNormalisation.percentile().apply(scores)
        let map = ScoreMap.compact(patches: patches, values: values, slideWidth: slide.width, slideHeight: slide.height)
        var writer = HeatmapOverlayWriter(colormap: try Colormap.named("jet"))
        configure(&writer)
        let path = try TestEnv.scratch(self, "overlay") + "/overlay.tiff"
        let report = try writer.write(slide: slide, scores: map, to: path)
        return (slide, try Slide.open(path: path), path, patches, values, report)
    }

    /// Same pyramid and scale as the slide; untouched tiles are the slide's own bytes;
    /// blended tiles equal the documented blend of the slide's pixels and the brute-force
    /// overlap average, up to the JPEG re-encoding (mean |diff| ≤ 1.5, 99.5th pct ≤ 12; alpha 0.45 instead of 0.4 gives a mean of 5).
    func testOverlayMatchesExpectedBlend() throws {
        let r = try writeOverlay()
        XCTAssertEqual(r.overlay.format, "aperio")
        XCTAssertEqual(r.overlay.levels.map { [$0.width, $0.height] }, r.slide.levels.map { [$0.width, $0.height] })
        XCTAssertEqual(try XCTUnwrap(r.overlay.scale?.mpp), try XCTUnwrap(r.slide.scale?.mpp), accuracy: 1e-9)
        XCTAssertGreaterThan(r.report.copied, 0)
        XCTAssertGreaterThan(r.report.blended, 0)
        XCTAssertEqual(r.report.reencoded, 0)
        XCTAssertEqual(r.report.tiles, r.slide.levels.reduce(0) { $0 + (($1.width + 255) / 256) * (($1.height + 255) / 256) })

        // An all-glass tile far from the patches: bit-identical.
        XCTAssertEqual(try r.overlay.readRegion(x: 0, y: 0, level: 0, width: 256, height: 256),
                       try r.slide.readRegion(x: 0, y: 0, level: 0, width: 256, height: 256))

        // A tile inside the grid (patch corners and overlaps cross it).
        let cmap = try Colormap.named("jet")
        for (x0, y0) in [(1024, 1024), (512, 768), (2304, 1792)] {
            let src = try r.slide.readRegion(x: x0, y: y0, level: 0, width: 256, height: 256)
            let got = try r.overlay.readRegion(x: x0, y: y0, level: 0, width: 256, height: 256)
            var diffs: [Int] = []
            var painted = 0
            for y in 0..<256 { for x in 0..<256 {
                let v = bruteForceScore(r.patches, r.values, Double(x0 + x) + 0.5, Double(y0 + y) + 0.5)
                if !v.isNaN { painted += 1 }
                let want = expectedBlend(src[x, y], v, cmap, alpha: 0.4)
                let g = got[x, y]
                diffs += [abs(Int(g.0) - Int(want.0)), abs(Int(g.1) - Int(want.1)), abs(Int(g.2) - Int(want.2))]
            }}
            XCTAssertGreaterThan(painted, 0)
            diffs.sort()
            let mean = Double(diffs.reduce(0, +)) / Double(diffs.count)
            XCTAssertLessThanOrEqual(mean, 1.5, "tile at (\(x0), \(y0))")
            XCTAssertLessThanOrEqual(diffs[diffs.count * 995 / 1000], 12, "tile at (\(x0), \(y0))")
        }

        // A coarser level: scores land at the level's pixel centres (level 1 = 4×).
        let l1 = try r.overlay.readRegion(x: 1024, y: 1024, level: 1, width: 64, height: 64)
        let s1 = try r.slide.readRegion(x: 1024, y: 1024, level: 1, width: 64, height: 64)
        var total = 0
        for y in 0..<64 { for x in 0..<64 {
            let v = bruteForceScore(r.patches, r.values, 1024 + (Double(x) + 0.5) * 4, 1024 + (Double(y) + 0.5) * 4)
            let want = expectedBlend(s1[x, y], v, cmap, alpha: 0.4)
            let g = l1[x, y]
            total += abs(Int(g.0) - Int(want.0)) + abs(Int(g.1) - Int(want.1)) + abs(Int(g.2) - Int(want.2))
        }}
        XCTAssertLessThanOrEqual(Double(total) / Double(64 * 64 * 3), 2.0)
    }

    /// openslide-python opens the file as a slide with the right scale and pixels; libtiff's
    /// own JPEG decoder (ImageFile.read) accepts level 0 too (chroma tags match the tiles).
    func testOverlayOpensInOpenSlidePythonAndLibtiff() throws {
        let r = try writeOverlay { $0.quality = 92 }
        let script = """
        import json, sys
        import numpy as np
        import openslide
        s = openslide.OpenSlide(sys.argv[1])
        a = np.asarray(s.read_region((1024, 1024), 0, (256, 256)).convert("RGB"), dtype=np.int64)
        print(json.dumps({"vendor": s.properties.get("openslide.vendor"), "mpp": float(s.properties["openslide.mpp-x"]),
                          "levels": s.level_count, "dims": s.level_dimensions[0], "sum": int(a.sum())}))
        """
        let info = try XCTUnwrap(try TestEnv.json(try TestEnv.runPython(script, [r.path])) as? [String: Any])
        XCTAssertEqual(info["vendor"] as? String, "aperio")
        XCTAssertEqual(info["levels"] as? Int, r.slide.levels.count)
        XCTAssertEqual(info["dims"] as? [Int], [r.slide.width, r.slide.height])
        XCTAssertEqual(try XCTUnwrap(info["mpp"] as? Double), r.slide.scale!.mpp, accuracy: 1e-9)
        let ours = try r.overlay.readRegion(x: 1024, y: 1024, level: 0, width: 256, height: 256)
        XCTAssertEqual(info["sum"] as? Int, ours.pixels.reduce(0) { $0 + Int($1) })

        let viaLibtiff = try ImageFile.read(path: r.path)
        let viaOpenSlide = try r.overlay.readRegion(x: 0, y: 0, level: 0, width: r.slide.width, height: r.slide.height)
        XCTAssertEqual(viaLibtiff.width, r.slide.width)
        var worst = 0
        for i in stride(from: 0, to: viaLibtiff.pixels.count, by: 7) { worst = max(worst, abs(Int(viaLibtiff.pixels[i]) - Int(viaOpenSlide.pixels[i]))) }
        XCTAssertLessThanOrEqual(worst, 2)
    }

    /// Starting at level 1, bilinear sampling and a tissue mask; outside the mask the slide
    /// shows through unchanged.
    func testStartLevelBilinearAndMask() throws {
        // Tissue only in the left half of the slide.
        var mask = GrayImage(width: 30, height: 24)
        for y in 0..<24 { for x in 0..<15 { mask.pixels[y * 30 + x] = 255 } }
        let r = try writeOverlay { w in w.startLevel = 1; w.sampling = .bilinear; w.tissueMask = mask }
        XCTAssertEqual(r.overlay.levels.count, r.slide.levels.count - 1)
        XCTAssertEqual(r.overlay.width, r.slide.levels[1].width)
        XCTAssertEqual(try XCTUnwrap(r.overlay.scale?.mpp), r.slide.scale!.mpp * r.slide.levels[1].downsample, accuracy: 1e-9)
        // The overlay's level-0 pixels are the slide's level-1 pixels. Glass: copied as it is.
        let glass = try r.overlay.readRegion(x: 0, y: 0, level: 0, width: 100, height: 100)
        XCTAssertEqual(glass, try r.slide.readRegion(x: 0, y: 0, level: 1, width: 100, height: 100))
        // Right half (x ≥ 1500 level-0 = 375 at level 1), inside the grid: unpainted, equal to
        // the slide up to re-encoding.
        let a = try r.overlay.readRegion(x: 400, y: 300, level: 0, width: 64, height: 64)
        let b = try r.slide.readRegion(x: 400 * 4, y: 300 * 4, level: 1, width: 64, height: 64)
        let meanRight = zip(a.pixels, b.pixels).reduce(0) { $0 + abs(Int($1.0) - Int($1.1)) }
        XCTAssertLessThanOrEqual(Double(meanRight) / Double(a.pixels.count), 1.5, "masked-out pixels keep the slide")
        // Left half inside the grid: coloured (differs from the slide clearly).
        let c = try r.overlay.readRegion(x: 200, y: 300, level: 0, width: 64, height: 64)
        let d = try r.slide.readRegion(x: 200 * 4, y: 300 * 4, level: 1, width: 64, height: 64)
        let meanLeft = zip(c.pixels, d.pixels).reduce(0) { $0 + abs(Int($1.0) - Int($1.1)) }
        XCTAssertGreaterThan(Double(meanLeft) / Double(c.pixels.count), 10)
    }

    /// A slide OpenSlide cannot give raw tiles for (a plain PNG) goes through readRegion.
    func testPlainImageSlideGoesThroughOpenSlidePath() throws {
        let dir = try TestEnv.scratch(self, "plain")
        var img = RGBImage(width: 700, height: 500, fill: (230, 200, 220))
        img.fillRect(PixelRect(x: 0, y: 0, width: 350, height: 500), color: (40, 60, 200), alpha: 1)
        try PNGCodec.encode(img).write(to: URL(fileURLWithPath: dir + "/plain.png"))
        let slide = try Slide.open(path: dir + "/plain.png", mppOverride: 0.5)
        let patches = PatchSet(coords: [0, 0, 256, 0], patchSizeLevel0: 256)
        let map = ScoreMap.compact(patches: patches, values: [0, 1], slideWidth: 700, slideHeight: 500)
        let writer = HeatmapOverlayWriter(colormap: try Colormap.named("viridis"))
        let report = try writer.write(slide: slide, scores: map, to: dir + "/o.tiff")
        XCTAssertEqual(report.copied, 0)
        XCTAssertEqual(report.blended, 2)
        XCTAssertEqual(report.reencoded, 4)
        let o = try Slide.open(path: dir + "/o.tiff")
        let px = try o.readRegion(x: 100, y: 100, level: 0, width: 1, height: 1)
        let want = expectedBlend((40, 60, 200), 0, try Colormap.named("viridis"), alpha: 0.4)
        XCTAssertLessThanOrEqual(abs(Int(px.pixels[0]) - Int(want.0)) + abs(Int(px.pixels[1]) - Int(want.1)) + abs(Int(px.pixels[2]) - Int(want.2)), 9)
    }

    /// The tile blend itself, before any JPEG: exact against the brute-force overlap average
    /// (nearest) or an independent bilinear interpolation of the compact grid, with a mask,
    /// at level 0 and level 1 (4×).
    func testTileBlendIsExact() throws {
        let slide = try Slide.open(path: SlideFixture.shared.path)
        let (patches, scores) = overlapGrid()
        let values = try ScoreNormalisation.percentile().apply(scores)
        let map = ScoreMap.compact(patches: patches, values: values, slideWidth: slide.width, slideHeight: slide.height)
        var mask = GrayImage(width: 30, height: 24, fill: 255)
        for y in 0..<24 { for x in 0..<30 where (x * 7 + y * 3) % 5 == 0 { mask.pixels[y * 30 + x] = 0 } }
        let cmap = try Colormap.named("jet")
        let blend = Blend(colormap: cmap, alpha: 0.4)
        let phases = Blend.phases(blend.front)
        let sampler = MaskSampler(mask: mask, slideWidth: slide.width, slideHeight: slide.height)

        func bilinear(_ px: Double, _ py: Double) -> Double {
            let u = (px - map.originX) / map.cellWidth - 0.5, w = (py - map.originY) / map.cellHeight - 0.5
            let i = Int(floor(u)), j = Int(floor(w))
            let fx = u - Double(i), fy = w - Double(j)
            var acc = 0.0, sum = 0.0
            for (di, dj, wt) in [(0, 0, (1 - fx) * (1 - fy)), (1, 0, fx * (1 - fy)), (0, 1, (1 - fx) * fy), (1, 1, fx * fy)] {
                let a = i + di, b = j + dj
                guard a >= 0, a < map.width, b >= 0, b < map.height, wt > 0 else { continue }
                let v = Double(map.values[b * map.width + a])
                if !v.isNaN { acc += wt * v; sum += wt }
            }
            return acc / sum
        }

        for sampling in [HeatmapOverlayWriter.Sampling.nearest, .bilinear] {
            for (level, col, row) in [(0, 4, 4), (0, 2, 3), (1, 1, 1), (1, 0, 0), (0, 0, 0)] {
                let plan = LevelPlan(slide: slide, level: level, source: nil, scores: map, valid: ValidCells(map), sampling: sampling)
                let ts = plan.tileSize
                var tile = (0..<(ts * ts * 3)).map { UInt8(truncatingIfNeeded: $0 &* 2654435761 >> 7) }
                let original = tile
                tile.withUnsafeMutableBufferPointer { t in
                    map.values.withUnsafeBufferPointer { v in
                        blend.front.withUnsafeBufferPointer { f in
                            phases.withUnsafeBufferPointer { ph in
                                mask.pixels.withUnsafeBufferPointer { m in
                                    plan.blend(col: col, row: row, tile: t.baseAddress!, scores: v.baseAddress!, front: f.baseAddress!,
                                               phases: ph.baseAddress!, back: blend.back, mask: sampler, maskPixels: m.baseAddress!)
                                }
                            }
                        }
                    }
                }
                var painted = 0, mismatches = 0
                for y in stride(from: 0, to: ts, by: 5) { for x in 0..<ts { // every pixel of every 5th row
                    let px = (Double(col * ts + x) + 0.5) * plan.ratioX, py = (Double(row * ts + y) + 0.5) * plan.ratioY
                    var v = bruteForceScore(patches, values, px, py)
                    if mask[sampler.column(level0X: px), sampler.row(level0Y: py)] == 0 { v = .nan }
                    if sampling == .bilinear && !v.isNaN { v = bilinear(px, py) }
                    if !v.isNaN { painted += 1 }
                    let k = 3 * (y * ts + x)
                    let bg = (original[k], original[k + 1], original[k + 2]), got = (tile[k], tile[k + 1], tile[k + 2])
                    // Bilinear runs in Float here and Double in the test: a value on an entry
                    // boundary may fall either side of it.
                    let slack = sampling == .bilinear ? 1e-5 : 0
                    if got != expectedBlend(bg, v, cmap, alpha: 0.4) && got != expectedBlend(bg, v - slack, cmap, alpha: 0.4)
                        && got != expectedBlend(bg, v + slack, cmap, alpha: 0.4) { mismatches += 1 }
                }}
                XCTAssertEqual(mismatches, 0, "\(sampling) level \(level) tile (\(col), \(row))")
                let glass = (level, col, row) == (0, 0, 0)
                XCTAssertEqual(painted > 200, !glass, "\(sampling) level \(level) tile (\(col), \(row))")
                XCTAssertEqual(plan.touched(col: col, row: row), !glass)
            }
        }
    }

    /// A real Aperio SVS (240-px tiles with shared JPEGTables): untouched tiles are copied and
    /// read back bit-identical through OpenSlide, blended tiles are the expected blend.
    func testRealAperioSlide() throws {
        let slide = try Slide.open(path: try TestEnv.testdata("slides/CMU-1-Small-Region.svs"))
        var coords: [Int64] = []
        for y in stride(from: 480, to: 1440, by: 240) { for x in stride(from: 480, to: 1440, by: 240) { coords += [Int64(x), Int64(y)] } }
        let patches = PatchSet(coords: coords, patchSizeLevel0: 240)
        let values = (0..<patches.count).map { Double($0) / Double(patches.count - 1) }
        let map = ScoreMap.compact(patches: patches, values: values, slideWidth: slide.width, slideHeight: slide.height)
        let cmap = try Colormap.named("viridis")
        let path = try TestEnv.scratch(self, "svs") + "/o.tiff"
        let report = try HeatmapOverlayWriter(colormap: cmap).write(slide: slide, scores: map, to: path)
        XCTAssertEqual(report.levels.map(\.directTiles), [true], "\(report.notes)")
        XCTAssertEqual(report.levels.first?.tileSize, 240)
        XCTAssertEqual(report.blended, 16)
        XCTAssertEqual(report.copied, report.tiles - 16)
        let overlay = try Slide.open(path: path)
        let copied = try overlay.readRegion(x: 1680, y: 2160, level: 0, width: 480, height: 480)
        XCTAssertTrue(copied == (try slide.readRegion(x: 1680, y: 2160, level: 0, width: 480, height: 480)), "copied tiles read back unchanged")
        let src = try slide.readRegion(x: 720, y: 960, level: 0, width: 240, height: 240)
        let got = try overlay.readRegion(x: 720, y: 960, level: 0, width: 240, height: 240)
        var total = 0
        for y in 0..<240 { for x in 0..<240 {
            let want = expectedBlend(src[x, y], bruteForceScore(patches, values, Double(720 + x) + 0.5, Double(960 + y) + 0.5), cmap, alpha: 0.4)
            let g = got[x, y]
            total += abs(Int(g.0) - Int(want.0)) + abs(Int(g.1) - Int(want.1)) + abs(Int(g.2) - Int(want.2))
        }}
        XCTAssertLessThanOrEqual(Double(total) / Double(240 * 240 * 3), 1.5)
        // libtiff's own decoder reads the RGB-coded level (copied and re-encoded tiles) as OpenSlide does.
        let viaLibtiff = try ImageFile.read(path: path)
        let whole = try overlay.readRegion(x: 0, y: 0, level: 0, width: slide.width, height: slide.height)
        var worst = 0
        for i in stride(from: 0, to: whole.pixels.count, by: 5) { worst = max(worst, abs(Int(viaLibtiff.pixels[i]) - Int(whole.pixels[i]))) }
        XCTAssertLessThanOrEqual(worst, 2)
    }
}
