import Foundation
import Registration
import TestSupport
import VolumeIO
import XCTest

final class Image2DTests: XCTestCase {
    /// A ramp whose value is 2x − y in mm: bilinear sampling reproduces it exactly.
    func ramp(_ w: Int, _ h: Int, spacing: SIMD2<Double>, origin: SIMD2<Double>) -> Image2D {
        var img = Image2D(width: w, height: h, spacing: spacing, origin: origin)
        for j in 0..<h { for i in 0..<w {
            let p = img.point(ofIndex: SIMD2(Double(i), Double(j)))
            img[i, j] = Float(2 * p.x - p.y)
        } }
        return img
    }

    func testSamplingAndPyramidKeepPhysicalPositions() {
        let img = ramp(64, 48, spacing: SIMD2(0.5, 0.25), origin: SIMD2(-7, 3))
        XCTAssertEqual(Double(img.value(at: SIMD2(1.3, 5.55))!), 2 * 1.3 - 5.55, accuracy: 1e-5)
        XCTAssertNil(img.value(at: SIMD2(-7.1, 5)), "left of the first pixel centre")
        XCTAssertEqual(img.value(at: SIMD2(-100, 5), outside: 7), 7)
        for f in [2, 4, 8] {
            let d = img.downsampled(by: f)
            XCTAssertEqual(d.spacing, img.spacing * Double(f))
            // Away from the clamped edges (3σ of the blur) a smoothed ramp is the ramp: positions hold.
            var checked = 0
            for j in 0..<d.height { for i in 0..<d.width {
                let p = d.point(ofIndex: SIMD2(Double(i), Double(j)))
                let u = img.continuousIndex(ofPoint: p)
                let m = 1.5 * Double(f) + 2
                guard u.x > m, u.y > m, u.x < Double(img.width - 1) - m, u.y < Double(img.height - 1) - m else { continue }
                XCTAssertEqual(Double(d[i, j]), 2 * p.x - p.y, accuracy: 1e-3, "factor \(f) at \(p)")
                checked += 1
            } }
            XCTAssertGreaterThan(checked, 0, "factor \(f)")
        }
    }

    func testResamplingPullsMovingValuesThroughTheTransform() {
        let moving = ramp(80, 80, spacing: SIMD2(0.5, 0.5), origin: .zero)
        let grid = Image2D(width: 20, height: 20, spacing: SIMD2(1, 1), origin: SIMD2(5, 5))
        let t = MatrixTransform2D(kind: .rigid, center: SIMD2(15, 15), parameters: [0.4, 2, -1])
        let out = moving.resampled(onto: grid, through: t)
        for (i, j) in [(0, 0), (7, 12), (19, 19)] {
            let y = t.map(grid.point(ofIndex: SIMD2(Double(i), Double(j))))
            XCTAssertEqual(Double(out[i, j]), 2 * y.x - y.y, accuracy: 1e-4)
        }
    }

    func testSliceOfTheProstateVolumeKeepsLPSGeometry() throws {
        let mri = try NIfTI.read(try TestEnv.testdata("radiology/prostate/aaa0060_T2_axial.nii.gz"))
        let s = try Image2D(slice: 14, of: mri)
        XCTAssertEqual(s.width, mri.size.x)
        XCTAssertEqual(s.height, mri.size.y)
        let p = mri.point(ofIndex: SIMD3(10, 20, 14))
        XCTAssertEqual(s.point(ofIndex: SIMD2(10, 20)).x, p.x, accuracy: 1e-9)
        XCTAssertEqual(s.point(ofIndex: SIMD2(10, 20)).y, p.y, accuracy: 1e-9)
        XCTAssertEqual(s[10, 20], mri[10, 20, 14])
        XCTAssertThrowsError(try Image2D(slice: 99, of: mri))
        var oblique = mri
        oblique.direction = [0, 1, 0, 1, 0, 0, 0, 0, 1]
        XCTAssertThrowsError(try Image2D(slice: 1, of: oblique)) { XCTAssertTrue("\($0)".contains("resample"), "\($0)") }
    }
}
