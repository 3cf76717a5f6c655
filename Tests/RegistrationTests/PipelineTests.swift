import Foundation
@testable import Registration
import XCTest

/// The pipeline on synthetic data the project generates itself (runs without shared data).
final class PipelineTests: XCTestCase {
    /// A textured ellipse "organ" on a plain background, and its mask.
    func organ(_ center: SIMD2<Double>) -> (Image2D, Image2D) {
        let tex = blobImage(size: 120, spacing: 0.5, seed: 8, blobs: 25)
        var img = tex, mask = tex
        for j in 0..<tex.height {
            for i in 0..<tex.width {
                let p = tex.point(ofIndex: SIMD2(Double(i), Double(j))) - center
                let r = (p.x * p.x) / (16 * 16) + (p.y * p.y) / (11 * 11)
                let inside: Float = r <= 1 ? 1 : 0
                mask[i, j] = inside
                img[i, j] = inside * (0.3 + tex[i, j]) + (1 - inside) * 0.05
            }
        }
        return (img, mask)
    }

    func testKnownFlippedSimilarityIsRecovered() throws {
        let (fixed, fixedMask) = organ(SIMD2(20, 25))
        // Moving = fixed seen through a known mirrored similarity (fixed → moving).
        let truth = MatrixTransform2D(kind: .similarity, center: SIMD2(20, 25), flipped: true, parameters: [0.9, 2.4, 3, -2])
        let inverse = MatrixTransform2D(kind: .affine, center: .zero, parameters: {
            let m = truth.linear.inverse, t = truth.map(.zero)
            let o = m * (-t)
            return [m.a, m.b, m.c, m.d, o.x, o.y]
        }())
        let moving = fixed.resampled(onto: fixed, through: inverse, outside: 0.05)
        let movingMask = fixedMask.resampled(onto: fixedMask, through: inverse, outside: 0)
        var settings = Registration2DSettings()
        settings.linearOnly = true
        let r = try Registration2D(settings: settings).register(fixed: fixed, fixedMask: fixedMask, moving: moving, movingMask: movingMask)
        XCTAssertTrue(r.similarity.flipped, "the mirror is found")
        var worst = 0.0
        for p in [SIMD2(12.0, 20.0), SIMD2(28, 30), SIMD2(20, 25), SIMD2(25, 18)] {
            let d = r.affine.map(p) - truth.map(p)
            worst = max(worst, (d * d).sum().squareRoot())
        }
        XCTAssertLessThan(worst, 0.25, "affine stage error (mm) at the organ's points")
        XCTAssertGreaterThan(r.stages.last!.dice, 0.97)
        XCTAssertEqual(r.stages.map(\.stage), ["initial", "rigid", "similarity", "affine"])
    }

    func testBadMasksGiveClearErrors() {
        let (img, mask) = organ(SIMD2(20, 25))
        let empty = Image2D(width: mask.width, height: mask.height, spacing: mask.spacing, origin: mask.origin)
        XCTAssertThrowsError(try Registration2D().register(fixed: img, fixedMask: empty, moving: img, movingMask: mask)) {
            XCTAssertTrue("\($0)".contains("mask is empty"), "\($0)")
        }
        let small = Image2D(width: 10, height: 10, fill: 1)
        XCTAssertThrowsError(try Registration2D().register(fixed: img, fixedMask: mask, moving: img, movingMask: small)) {
            XCTAssertTrue("\($0)".contains("size differs"), "\($0)")
        }
    }

    /// Two pieces far apart on the moving side: the centroids match in the gap between them, so
    /// the masks do not overlap after initialisation — a clear error, no result.
    func testMasksThatDoNotOverlapAfterInitialisationAreRefused() {
        let (img, mask) = organ(SIMD2(30, 30))
        var split = Image2D(width: 120, height: 120, spacing: SIMD2(0.5, 0.5))
        for j in 0..<120 { for i in 0..<120 where (j >= 50 && j < 70) && (i < 8 || i >= 112) { split[i, j] = 1 } }
        XCTAssertThrowsError(try Registration2D().register(fixed: img, fixedMask: mask, moving: split, movingMask: split)) {
            XCTAssertTrue("\($0)".contains("do not overlap after initialisation"), "\($0)")
        }
    }

    /// Same inputs, same seed: the same transform, bit for bit.
    func testDeterministic() throws {
        let (fixed, fixedMask) = organ(SIMD2(20, 25))
        let shift = MatrixTransform2D(kind: .rigid, center: SIMD2(20, 25), parameters: [0.2, 1, -1])
        let moving = fixed.resampled(onto: fixed, through: shift, outside: 0.05)
        let movingMask = fixedMask.resampled(onto: fixedMask, through: shift, outside: 0)
        var s = Registration2DSettings()
        s.samplingFraction = 0.5
        s.seed = 3
        s.deformableLevels = [2, 1]
        let a = try Registration2D(settings: s).register(fixed: fixed, fixedMask: fixedMask, moving: moving, movingMask: movingMask)
        let b = try Registration2D(settings: s).register(fixed: fixed, fixedMask: fixedMask, moving: moving, movingMask: movingMask)
        XCTAssertEqual(a.deformable!.parameters, b.deformable!.parameters)
        XCTAssertEqual(a.affine, b.affine)
    }
}
