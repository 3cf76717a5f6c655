import Foundation
import Registration
import TestSupport
import VolumeIO
import XCTest

/// Issue 8, item 3: the slice a section was cut along, found by search over position and
/// out-of-plane tilt. Truth: sections rendered from oblique planes of the real prostate T2.
final class SliceSearchTests: XCTestCase {
    func testObliquePlaneAtZeroTiltIsTheSlice() throws {
        let mri = try NIfTI.read(try TestEnv.testdata("radiology/prostate/aaa0060_T2_axial.nii.gz"))
        let axial = try Image2D(slice: 14, of: mri)
        let z = mri.point(ofIndex: SIMD3(0, 0, 14)).z
        let p = ObliquePlane(center: SIMD3(-5, 10, z))
        let r = p.resample(mri, onto: Image2D(width: axial.width, height: axial.height, spacing: axial.spacing, origin: axial.origin))
        XCTAssertEqual(zip(r.pixels, axial.pixels).map { abs($0 - $1) }.max()!, 0, accuracy: 1e-3)
        // A tilted plane's point moves out of the slice by (u − cx)·sin(angleY) along z.
        let t = ObliquePlane(center: SIMD3(-5, 10, z), angleXDegrees: 0, angleYDegrees: 5)
        XCTAssertEqual(t.point(SIMD2(15, 10)).z - z, -20 * sin(5 * Double.pi / 180), accuracy: 1e-9)
        let n = t.axes.normal, u = t.axes.u, v = t.axes.v
        XCTAssertEqual((n * u).sum(), 0, accuracy: 1e-12)
        XCTAssertEqual((n * v).sum(), 0, accuracy: 1e-12)
    }

    func testSearchRecoversPositionAndTilt() throws {
        let mri = try NIfTI.read(try TestEnv.testdata("radiology/prostate/aaa0060_T2_axial.nii.gz"))
        let label = try NIfTI.read(try TestEnv.testdata("radiology/prostate/aaa0060_T2_axial_prostate_label.nii.gz"))
        let grid = SliceSearch.cropGrid(mri, label, margin: 20)
        let z14 = mri.point(ofIndex: SIMD3(0, 0, 14)).z, dz = mri.spacing.z
        // Gland centroid (x, y) as the tilt centre, as the search uses.
        var c = SIMD3<Double>.zero, n = 0.0
        for k in 0..<label.size.z { for j in 0..<label.size.y { for i in 0..<label.size.x where label[i, j, k] > 0.5 {
            c += label.point(ofIndex: SIMD3(Double(i), Double(j), Double(k))); n += 1
        } } }
        c /= n
        for (dzTrue, ax, ay, seed) in [(1.3, 3.0, -2.0, 21 as UInt64), (-0.9, -4.0, 2.5, 22)] {
            let truth = ObliquePlane(center: SIMD3(c.x, c.y, z14 + dzTrue), angleXDegrees: ax, angleYDegrees: ay)
            let fixed = truth.resample(mri, onto: grid), fixedMask = truth.resample(label, onto: grid)
            let p = SyntheticSection.parameters(slice: 14, seed: seed)
            let s = try SyntheticSection(fixed: fixed, fixedMask: fixedMask, p)
            let r = try SliceSearch.search(mri: mri, mask: label, moving: s.moving, movingMask: s.movingMask, settings: Registration2DSettings()) { print("  " + $0) }
            print(String(format: "SLICE SEARCH truth z %+.2f mm, tilt %.1f°, %.1f° → found z %+.2f mm, tilt %.2f°, %.2f° (%d evaluations, %.1f s)",
                         dzTrue, ax, ay, r.zMm - z14, r.angleXDegrees, r.angleYDegrees, r.evaluations, r.seconds))
            XCTAssertEqual(r.zMm, z14 + dzTrue, accuracy: dz / 2, "position within half a slice spacing")
            XCTAssertEqual(r.angleXDegrees, ax, accuracy: 2)
            XCTAssertEqual(r.angleYDegrees, ay, accuracy: 2)
        }
    }
}
