import Foundation
import Registration
import TestSupport
import VolumeIO
import XCTest

/// The pieces behind `radiopath register`/`warp`: HD95 against numpy/scipy, RAPSODI's stack
/// JSON, the landmark reader, slide-px folding of the affine, field and .npy round trips.
final class SectionToolsTests: XCTestCase {
    func testHausdorff95MatchesScipyWithinOnePixel() throws {
        let label = try NIfTI.read(try TestEnv.testdata("radiology/prostate/aaa0060_T2_axial_prostate_label.nii.gz"))
        var a = try Image2D(slice: 14, of: label)
        for k in 0..<a.pixels.count { a.pixels[k] = a.pixels[k] > 0.5 ? 1 : 0 }
        let b13 = try Image2D(slice: 13, of: label)
        var b = a
        // Another gland outline, shifted by 3 px and 1 px, so the distances spread.
        for j in 0..<a.height { for i in 0..<a.width {
            let si = i - 3, sj = j - 1
            b[i, j] = si >= 0 && sj >= 0 && b13[si, sj] > 0.5 ? 1 : 0
        } }
        let ours = try XCTUnwrap(MaskDistance.hausdorff95(a, b))
        let dir = try TestEnv.scratch(self, "hd95")
        for (name, m) in [("a", a), ("b", b)] {
            try Data(m.pixels.map { UInt8($0) }).write(to: URL(fileURLWithPath: "\(dir)/\(name).raw"))
        }
        let out = try TestEnv.runPython("""
        import sys, numpy as np
        from scipy import ndimage as ndi
        d, w, h, s = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
        a = np.fromfile(d + '/a.raw', np.uint8).reshape(h, w) > 0
        b = np.fromfile(d + '/b.raw', np.uint8).reshape(h, w) > 0
        cross = ndi.generate_binary_structure(2, 1)
        sa = a & ~ndi.binary_erosion(a, cross, border_value=0)
        sb = b & ~ndi.binary_erosion(b, cross, border_value=0)
        da = ndi.distance_transform_edt(~sb, sampling=(s, s))[sa]
        db = ndi.distance_transform_edt(~sa, sampling=(s, s))[sb]
        print(max(np.percentile(da, 95), np.percentile(db, 95)))
        """, [dir, "\(a.width)", "\(a.height)", "\(a.spacing.x)"])
        let peer = try XCTUnwrap(Double(String(decoding: out, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)))
        print("HD95 ours \(ours) mm, scipy \(peer) mm (pixel \(a.spacing.x) mm)")
        XCTAssertGreaterThan(peer, a.spacing.x, "the case must not be trivial")
        XCTAssertEqual(ours, peer, accuracy: a.spacing.x)
    }

    func testStackJSONGivesOrientationHints() throws {
        let st = try HistologyStack.read(try TestEnv.testdata("radiology/prostate/aaa0060_histology_stack.json"))
        XCTAssertEqual(st.sections.map(\.key), ["slice1", "slice2", "slice3"])
        let s2 = try st.section("2", file: "stack")
        XCTAssertEqual(s2.mppX, 7.2004639175257745, accuracy: 1e-12)
        XCTAssertTrue(s2.flip)
        XCTAssertEqual(s2.rotationDegrees, -5)
        XCTAssertEqual(s2.regions.count, 2)
        XCTAssertEqual(s2.registrationHints.rotationDegrees, 5) // mirrored: fixed → moving angle is −α
        XCTAssertTrue(s2.resolvedPath(root: "/data").hasSuffix("/data/Histopathology/aaa0060/images/aaa0060 D1D2D3D4.tiff"))
        XCTAssertThrowsError(try st.section("9", file: "stack")) { XCTAssertTrue("\($0)".contains("slice1")) }
    }

    /// The hint convention against the engine: a section made from an MRI-view image by the
    /// inverse of "mirror, then turn α CCW as displayed" maps back with fixed → moving R(α')F,
    /// α' from `registrationHints`.
    func testHintAngleConvention() {
        let alpha = 20.0
        let s = HistologyStack.Section(key: "s", id: "s", filename: "f", mppX: 1, mppY: 1, flip: true, rotationDegrees: alpha, regions: [])
        let hint = s.registrationHints
        // Histology h → MRI view: mirror x, then CCW by α on screen (y down) = R(−α) in math.
        func toView(_ h: SIMD2<Double>) -> SIMD2<Double> {
            let m = SIMD2(-h.x, h.y), a = -alpha * .pi / 180
            return SIMD2(cos(a) * m.x - sin(a) * m.y, sin(a) * m.x + cos(a) * m.y)
        }
        let t = MatrixTransform2D(kind: .rigid, flipped: hint.flip, parameters: [hint.rotationDegrees * .pi / 180, 0, 0])
        for h in [SIMD2(1.0, 0), SIMD2(0.3, -2)] {
            let back = t.map(toView(h))
            XCTAssertEqual(back.x, h.x, accuracy: 1e-12)
            XCTAssertEqual(back.y, h.y, accuracy: 1e-12)
        }
    }

    func testLandmarkReaderNamesTheBadRow() throws {
        let dir = try TestEnv.scratch(self, "lm")
        try "moving_x,moving_y,fixed_x,fixed_y\n10,20,1.5,2.5\n".write(toFile: dir + "/ok.csv", atomically: true, encoding: .utf8)
        let l = try SectionRegistration.Landmarks.read(dir + "/ok.csv")
        XCTAssertEqual(l.fixed, [SIMD2(1.5, 2.5)])
        XCTAssertEqual(l.moving, [SIMD2(10, 20)])
        try "fixed_x,fixed_y,moving_x,moving_y\n1,2,3,4\n5,6,,8\n".write(toFile: dir + "/bad.csv", atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try SectionRegistration.Landmarks.read(dir + "/bad.csv")) { XCTAssertTrue("\($0)".contains("row 3"), "\($0)") }
        try "x,y\n1,2\n".write(toFile: dir + "/cols.csv", atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try SectionRegistration.Landmarks.read(dir + "/cols.csv")) { XCTAssertTrue("\($0)".contains("fixed_x"), "\($0)") }
    }

    func testPixelFoldingAndFilesRoundTrip() throws {
        let t = MatrixTransform2D(kind: .similarity, center: SIMD2(3, -4), flipped: true, parameters: [1.1, 0.4, 2, -1])
        let px = SectionTransform.toPixels(t, mppX: 8, mppY: 10)
        for p in [SIMD2(0.0, 0), SIMD2(12, -7)] {
            let want = t.map(p) * 1000 / SIMD2(8, 10), got = px.map(p)
            XCTAssertEqual(got.x, want.x, accuracy: 1e-9)
            XCTAssertEqual(got.y, want.y, accuracy: 1e-9)
        }
        let dir = try TestEnv.scratch(self, "files")
        let grid = Image2D(width: 7, height: 5, spacing: SIMD2(0.5, 0.75), origin: SIMD2(-3, 2))
        let field = DisplacementField2D(sampling: t, on: grid)
        try field.writeNIfTI(to: dir + "/f.nii")
        let back = try DisplacementField2D.readNIfTI(dir + "/f.nii")
        XCTAssertEqual(back.grid, field.grid)
        XCTAssertEqual(back.dx.pixels, field.dx.pixels)
        XCTAssertEqual(back.dy.pixels, field.dy.pixels)
        let values: [Float] = (0..<12).map { Float($0) * 0.5 }
        try NPY.write(values, width: 4, height: 3, to: dir + "/a.npy")
        let r = try NPY.read(dir + "/a.npy")
        XCTAssertEqual(r.values, values)
        XCTAssertEqual(r.width, 4)
        XCTAssertEqual(r.height, 3)
    }
}
