@testable import Cells
import Foundation
import ImageCore
import TestSupport
import XCTest

/// The per-tile building blocks against SciPy on the same data.
final class FiltersTests: XCTestCase {
    /// Random blobs as a 0/1 mask and a float image, written by NumPy.
    func fixtures(_ dir: String, w: Int, h: Int) throws -> (mask: [UInt8], image: [Float]) {
        let script = """
        import sys, numpy as np
        from scipy import ndimage as ndi
        w, h = int(sys.argv[2]), int(sys.argv[3])
        rng = np.random.default_rng(5)
        img = ndi.gaussian_filter(rng.uniform(0, 1, (h, w)), 3).astype(np.float32)
        (img > np.percentile(img, 60)).astype(np.uint8).tofile(sys.argv[1] + '/mask.u8')
        img.tofile(sys.argv[1] + '/img.f32')
        """
        _ = try TestEnv.runPython(script, [dir, "\(w)", "\(h)"])
        return (try Raw.read(dir + "/mask.u8", as: UInt8.self), try Raw.read(dir + "/img.f32", as: Float.self))
    }

    func testDistanceTransformIsScipysExactly() throws {
        let dir = try TestEnv.scratch(self, "edt")
        let (w, h) = (173, 121)
        let (mask, _) = try fixtures(dir, w: w, h: h)
        var out = [Int32](repeating: 0, count: w * h), col = out
        var f = [Double](repeating: 0, count: 200), z = f
        var v = [Int32](repeating: 0, count: 200)
        mask.withUnsafeBufferPointer { m in out.withUnsafeMutableBufferPointer { o in col.withUnsafeMutableBufferPointer { c in
            f.withUnsafeMutableBufferPointer { fp in z.withUnsafeMutableBufferPointer { zp in v.withUnsafeMutableBufferPointer { vp in
                DistanceTransform.squared(m.baseAddress!, width: w, height: h, into: o.baseAddress!, column: c.baseAddress!,
                                          f: fp.baseAddress!, v: vp.baseAddress!, z: zp.baseAddress!)
            } } } } } }
        let script = """
        import sys, numpy as np
        from scipy import ndimage as ndi
        w, h = int(sys.argv[2]), int(sys.argv[3])
        m = np.fromfile(sys.argv[1] + '/mask.u8', dtype=np.uint8).reshape(h, w)
        np.rint(ndi.distance_transform_edt(m) ** 2).astype(np.int32).tofile(sys.argv[1] + '/edt.i32')
        """
        _ = try TestEnv.runPython(script, [dir, "\(w)", "\(h)"])
        let ref = try Raw.read(dir + "/edt.i32", as: Int32.self)
        XCTAssertEqual(out, ref, "squared EDT identical to scipy.ndimage.distance_transform_edt² (pixels beyond the image are not background)")
        XCTAssertGreaterThan(out.max() ?? 0, 4)
    }

    func testGaussianAndOpeningMatchScipy() throws {
        let dir = try TestEnv.scratch(self, "filters")
        let (w, h) = (150, 97)
        let (_, img) = try fixtures(dir, w: w, h: h)
        let sigma = 2.7, r = 6
        let kernel = PlaneFilters.gaussianKernel(sigma: sigma)
        var smooth = [Float](repeating: 0, count: w * h), scratch = smooth
        var lineA = [Float](repeating: 0, count: 400)
        img.withUnsafeBufferPointer { s in smooth.withUnsafeMutableBufferPointer { d in scratch.withUnsafeMutableBufferPointer { t in
            lineA.withUnsafeMutableBufferPointer { la in
                PlaneFilters.gaussian(s.baseAddress!, d.baseAddress!, width: w, height: h, kernel: kernel, scratch: t.baseAddress!, line: la.baseAddress!)
            } } } }
        var opened = img
        var padded = [Float](repeating: 0, count: w * (h + 2 * r))
        opened.withUnsafeMutableBufferPointer { o in padded.withUnsafeMutableBufferPointer { t in
            lineA.withUnsafeMutableBufferPointer { la in
                PlaneFilters.opening(o.baseAddress!, width: w, height: h, radius: r, padded: t.baseAddress!, line: la.baseAddress!)
            } } }
        let script = """
        import sys, numpy as np
        from scipy import ndimage as ndi
        w, h, s, r = int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])
        a = np.fromfile(sys.argv[1] + '/img.f32', dtype=np.float32).reshape(h, w).astype(np.float64)
        ndi.gaussian_filter(a, s, mode='nearest', truncate=4.0).astype(np.float32).tofile(sys.argv[1] + '/g.f32')
        k = 2 * r + 1
        e = ndi.grey_erosion(a, size=(k, k), mode='constant', cval=np.inf)
        ndi.grey_dilation(e, size=(k, k), mode='constant', cval=-np.inf).astype(np.float32).tofile(sys.argv[1] + '/o.f32')
        """
        _ = try TestEnv.runPython(script, [dir, "\(w)", "\(h)", "\(sigma)", "\(r)"])
        let g = try Raw.read(dir + "/g.f32", as: Float.self), o = try Raw.read(dir + "/o.f32", as: Float.self)
        XCTAssertLessThan(zip(g, smooth).map { abs($0 - $1) }.max()!, 2e-6, "Gaussian vs scipy gaussian_filter(mode='nearest', truncate=4)")
        XCTAssertEqual(opened, o, "opening vs scipy grey_erosion/grey_dilation with outside ignored")
    }

    /// Two overlapping disks are split; one ellipse with a noisy outline is not.
    func testWatershedSplitsTouchingDisksButNotAnEllipse() {
        let w = 80, h = 50
        func run(_ inside: (Int, Int) -> Bool) -> [Int32] {
            var mask = [UInt8](repeating: 0, count: w * h)
            for y in 0..<h { for x in 0..<w where inside(x, y) { mask[y * w + x] = 1 } }
            var sq = [Int32](repeating: 0, count: w * h), col = sq, labels = sq
            var f = [Double](repeating: 0, count: 100), z = f
            var v = [Int32](repeating: 0, count: 100)
            mask.withUnsafeBufferPointer { m in sq.withUnsafeMutableBufferPointer { o in col.withUnsafeMutableBufferPointer { c in
                f.withUnsafeMutableBufferPointer { fp in z.withUnsafeMutableBufferPointer { zp in v.withUnsafeMutableBufferPointer { vp in
                    DistanceTransform.squared(m.baseAddress!, width: w, height: h, into: o.baseAddress!, column: c.baseAddress!,
                                              f: fp.baseAddress!, v: vp.baseAddress!, z: zp.baseAddress!)
                } } } } } }
            _ = sq.withUnsafeBufferPointer { s in labels.withUnsafeMutableBufferPointer { l in
                Watershed().run(s.baseAddress!, width: w, height: h, depth: 1, minSeparation: 4, into: l.baseAddress!)
            } }
            return labels
        }
        let disks = run { x, y in hypot(Double(x - 28), Double(y - 25)) < 12 || hypot(Double(x - 50), Double(y - 25)) < 12 }
        XCTAssertEqual(Set(disks).subtracting([0]).count, 2)
        XCTAssertNotEqual(disks[25 * w + 28], disks[25 * w + 50])
        let ellipse = run { x, y in
            let dx = Double(x - 40), dy = Double(y - 25)
            return (dx * dx) / 900 + (dy * dy) / 144 < 1 + 0.04 * sin(Double(x) * 1.3)
        }
        XCTAssertEqual(Set(ellipse).subtracting([0]).count, 1)
    }

    /// Macenko recovers the stain vectors an image was made with (Beer–Lambert mixing), and
    /// Ruifrok-like vectors from real H&E.
    func testMacenkoRecoversKnownStainVectors() throws {
        let hv = SIMD3<Double>(0.60, 0.75, 0.28), ev = SIMD3<Double>(0.10, 0.95, 0.30)
        let hn = hv / (hv * hv).sum().squareRoot(), en = ev / (ev * ev).sum().squareRoot()
        var rng = SystemRandomNumberGenerator()
        var px: [UInt8] = []
        for _ in 0..<40_000 {
            let ch = Double.random(in: 0...1.2, using: &rng), ce = Double.random(in: 0...0.9, using: &rng)
            let od = hn * ch + en * ce
            for c in 0..<3 { px.append(UInt8(max(0, min(255, (255 * pow(10, -od[c])).rounded())))) }
        }
        let est = try Macenko.estimate(RGBImage(width: 200, height: 200, pixels: px))
        XCTAssertLessThan(StainVectors.angle(est.hematoxylin, hn), 3)
        // Eosin's red OD is small, so nearly pure-eosin pixels fail Macenko's β test (every channel
        // ≥ 0.15) and the 1st percentile sits a few degrees inside the true direction.
        XCTAssertLessThan(StainVectors.angle(est.eosin, en), 6)
        let he = try ImageFile.read(path: try TestEnv.testdata("histology/he_tumour_1000px.png"))
        let real = try Macenko.estimate(he)
        XCTAssertLessThan(real.hematoxylinAngleToRuifrok, 25, "real H&E: haematoxylin near Ruifrok's")
        XCTAssertThrowsError(try Macenko.estimate(RGBImage(width: 50, height: 50)), "a white image has no stain to estimate")
    }
}
