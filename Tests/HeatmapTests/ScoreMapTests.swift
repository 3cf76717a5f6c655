import Foundation
@testable import Heatmap
import ImageCore
import TestSupport
import XCTest

final class ScoreMapTests: XCTestCase {
    /// 4×4-pixel patches every 2 pixels (50 % overlap): each 2×2 quarter is the mean of the
    /// patches over it, written out by hand for a few pixels and by brute force for all.
    func testOverlapAveragingIsExact() {
        // 3 × 3 patches at x, y ∈ {0, 2, 4}, score = 0.1·(col + 3·row)
        var coords: [Int64] = [], values: [Double] = []
        for r in 0..<3 { for c in 0..<3 { coords += [Int64(2 * c), Int64(2 * r)]; values.append(0.1 * Double(c + 3 * r)) } }
        let patches = PatchSet(coords: coords, patchSizeLevel0: 4)
        XCTAssertEqual(patches.stepLevel0, 2)
        let map = ScoreMap(patches: patches, values: values, width: 9, height: 9, cellWidth: 1, cellHeight: 1)
        func at(_ x: Int, _ y: Int) -> Float { map.values[y * 9 + x] }
        XCTAssertEqual(at(0, 0), Float(0.0))                          // patch (0,0) alone
        XCTAssertEqual(at(2, 0), Float((0.0 + 0.1) / 2))              // patches 0 and 1
        XCTAssertEqual(at(3, 3), Float((0.0 + 0.1 + 0.3 + 0.4) / 4))  // four patches
        XCTAssertEqual(at(4, 4), Float((0.4 + 0.5 + 0.7 + 0.8) / 4))
        XCTAssertEqual(at(7, 7), Float(0.8))
        XCTAssertTrue(at(8, 8).isNaN)                                 // past the last patch
        for y in 0..<9 { for x in 0..<9 {
            let want = bruteForceScore(patches, values, Double(x) + 0.5, Double(y) + 0.5)
            if want.isNaN { XCTAssertTrue(at(x, y).isNaN) } else { XCTAssertEqual(at(x, y), Float(want), "(\(x), \(y))") }
        }}
        // Downsampled raster (cell 2): pixel centres at 1, 3, 5, ...
        let coarse = ScoreMap(patches: patches, values: values, width: 4, height: 4, cellWidth: 2, cellHeight: 2)
        for y in 0..<4 { for x in 0..<4 {
            let want = bruteForceScore(patches, values, Double(2 * x) + 1, Double(2 * y) + 1)
            XCTAssertEqual(coarse.values[y * 4 + x], Float(want))
        }}
    }

    /// NaN patches are left out of the average, not counted as zero.
    func testNaNPatchesAreSkipped() {
        let p = PatchSet(coords: [0, 0, 2, 0], patchSizeLevel0: 4)
        let map = ScoreMap(patches: p, values: [.nan, 0.6], width: 6, height: 4, cellWidth: 1, cellHeight: 1)
        XCTAssertTrue(map.values[0].isNaN)
        XCTAssertEqual(map.values[3], Float(0.6))
    }

    /// The compact grid of a lattice (offset from the origin) holds exactly the full-resolution
    /// map's values at the same places.
    func testCompactGridOnLatticeEqualsFullResolution() {
        let (grid, scores) = overlapGrid()
        var coords = grid.coords
        for i in 0..<coords.count { coords[i] += 37 } // off the origin
        let patches = PatchSet(coords: coords, patchSizeLevel0: 256, stepLevel0: 128)
        let compact = ScoreMap.compact(patches: patches, values: scores, slideWidth: 3000, slideHeight: 2400)
        XCTAssertEqual(compact.cellWidth, 128)
        XCTAssertEqual(compact.originX, 37 - 128)
        for (px, py) in [(600.0, 700.0), (549.0, 549.0), (548.9, 600.0), (1900.5, 1111.0), (2596.0, 2084.0), (100.0, 100.0)] {
            let i = Int(((px - compact.originX) / compact.cellWidth).rounded(.down))
            let j = Int(((py - compact.originY) / compact.cellHeight).rounded(.down))
            let got = compact.values[j * compact.width + i]
            let want = bruteForceScore(patches, scores, px, py)
            if want.isNaN { XCTAssertTrue(got.isNaN, "(\(px), \(py))") } else { XCTAssertEqual(got, Float(want), "(\(px), \(py))") }
        }
        // Off-lattice patches fall back to quarter-step cells.
        var mixed = coords
        mixed[0] += 5
        let fallback = ScoreMap.compact(patches: PatchSet(coords: mixed, patchSizeLevel0: 256, stepLevel0: 128),
                                        values: scores, slideWidth: 3000, slideHeight: 2400)
        XCTAssertEqual(fallback.cellWidth, 32)
        XCTAssertEqual(fallback.originX, 0)
    }

    func testMaskingByWholeSlideMask() {
        let p = PatchSet(coords: [0, 0], patchSizeLevel0: 8)
        let map = ScoreMap(patches: p, values: [0.5], width: 4, height: 4, cellWidth: 2, cellHeight: 2)
        // 2×2 mask over the 8×8 slide: only the top-left quarter is tissue.
        let mask = GrayImage(width: 2, height: 2, pixels: [255, 0, 0, 0])
        let m = map.masked(by: mask, slideWidth: 8, slideHeight: 8)
        for y in 0..<4 { for x in 0..<4 {
            XCTAssertEqual(m.values[y * 4 + x].isNaN, !(x < 2 && y < 2), "(\(x), \(y))")
        }}
    }

    /// Against scipy.ndimage.gaussian_filter (mode 'reflect', truncate 4) on a gap-free map,
    /// and against its normalised convolution on a map with gaps; tolerance 2e-6 (float32).
    func testBlurMatchesScipy() throws {
        let w = 37, h = 23
        var v = [Float](repeating: 0, count: w * h)
        var state: UInt64 = 42
        for i in 0..<v.count { state = state &* 6364136223846793005 &+ 1442695040888963407; v[i] = Float(state >> 40) / Float(1 << 24) }
        var gaps = v
        for y in 5..<12 { for x in 10..<30 { gaps[y * w + x] = .nan } }
        let sigmas = [0.7, 2.5, 9.0]
        let path = try writeJSON(["w": w, "h": h, "v": v.map(Double.init), "gaps": gaps.map { $0.isNaN ? -1 : Double($0) }, "sigmas": sigmas], self)
        let script = """
        import json, sys
        import numpy as np
        from scipy.ndimage import gaussian_filter
        d = json.load(open(sys.argv[1]))
        v = np.array(d["v"], dtype=np.float64).reshape(d["h"], d["w"])
        g = np.array(d["gaps"], dtype=np.float64).reshape(d["h"], d["w"])
        m = (g >= 0).astype(np.float64); g[g < 0] = 0
        out = {}
        for i, s in enumerate(d["sigmas"]):
            out[str(i)] = {"full": gaussian_filter(v, s, mode='reflect', truncate=4.0).flatten().tolist(),
                           "gaps": np.nan_to_num(gaussian_filter(g * m, s) / gaussian_filter(m, s), nan=-1).flatten().tolist()}
        print(json.dumps(out))
        """
        let peer = try XCTUnwrap(try TestEnv.json(try TestEnv.runPython(script, [path])) as? [String: [String: [Double]]])
        for (si, s) in sigmas.enumerated() {
            let full = ScoreMap(width: w, height: h, cellWidth: 1, cellHeight: 1, values: v).blurred(sigma: s)
            let want = try XCTUnwrap(peer[String(si)])
            var worst: Float = 0
            for i in 0..<v.count { worst = max(worst, abs(full.values[i] - Float(want["full"]![i]))) }
            XCTAssertLessThan(worst, 2e-6, "sigma \(s) full")
            let holed = ScoreMap(width: w, height: h, cellWidth: 1, cellHeight: 1, values: gaps).blurred(sigma: s)
            worst = 0
            for i in 0..<v.count {
                if gaps[i].isNaN { XCTAssertTrue(holed.values[i].isNaN); continue }
                worst = max(worst, abs(holed.values[i] - Float(want["gaps"]![i])))
            }
            XCTAssertLessThan(worst, 2e-6, "sigma \(s) with gaps")
        }
    }

    func testRenderBlendsWhereScoresArePresent() throws {
        let cmap = try Colormap.named("viridis")
        var bgPixels = [UInt8]()
        for i in 0..<(4 * 3) { bgPixels += [UInt8(i * 20), 200, UInt8(255 - i * 7)] }
        let bg = RGBImage(width: 4, height: 3, pixels: bgPixels)
        let values: [Float] = [0, 0.25, .nan, 1, 0.5, 0.999, -1, 2, .nan, 0.1, 0.75, 0.5]
        let map = ScoreMap(width: 4, height: 3, cellWidth: 8, cellHeight: 8, values: values)
        for alpha in [0.0, 0.4, 0.73, 1.0] {
            let out = map.render(over: bg, colormap: cmap, alpha: alpha)
            for y in 0..<3 { for x in 0..<4 {
                let want = expectedBlend(bg[x, y], Double(values[y * 4 + x]), cmap, alpha: alpha)
                let got = out[x, y]
                XCTAssertTrue(got == want, "alpha \(alpha) (\(x), \(y)): \(got) vs \(want)")
            }}
        }
    }
}
