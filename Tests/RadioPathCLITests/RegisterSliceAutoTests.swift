import Foundation
import ImageCore
import Registration
import TestSupport
import VolumeIO
import XCTest

/// `radiopath register --slice auto` and `warp` on a section cut along a tilted plane of the real
/// prostate T2 (known position, tilt and in-plane map).
final class RegisterSliceAutoTests: XCTestCase {
    func testSliceAutoFindsTheTiltedPlaneAndWarpLandsOnIt() throws {
        let mriPath = try TestEnv.testdata("radiology/prostate/aaa0060_T2_axial.nii.gz")
        let labelPath = try TestEnv.testdata("radiology/prostate/aaa0060_T2_axial_prostate_label.nii.gz")
        let mri = try VolumeFile.read(mriPath), label = try VolumeFile.read(labelPath)
        let dir = try TestEnv.scratch(self, "auto")
        let z14 = mri.point(ofIndex: SIMD3(0, 0, 14)).z
        let grid = try Image2D(slice: 14, of: mri)
        var c = SIMD3<Double>.zero, n = 0.0
        for k in 0..<label.size.z { for j in 0..<label.size.y { for i in 0..<label.size.x where label[i, j, k] > 0.5 {
            c += label.point(ofIndex: SIMD3(Double(i), Double(j), Double(k))); n += 1
        } } }
        c /= n
        let truthPlane = ObliquePlane(center: SIMD3(c.x, c.y, z14 - 1.2), angleXDegrees: -3, angleYDegrees: 3.5)
        // A 75 mm section at 50 µm/px, in slide mm (pixel centres at i + ½).
        let sp = 0.05
        let s = try SyntheticSection(fixed: truthPlane.resample(mri, onto: grid), fixedMask: truthPlane.resample(label, onto: grid),
                                     SyntheticSection.parameters(slice: 14, seed: 31), spacing: sp, size: 1500, movingOrigin: SIMD2(sp, sp) / 2)
        var rgb = RGBImage(width: 1500, height: 1500), mask = GrayImage(width: 1500, height: 1500)
        for k in 0..<s.moving.pixels.count {
            let v = UInt8(max(0, min(255, (s.moving.pixels[k] * 255).rounded())))
            rgb.pixels[3 * k] = v; rgb.pixels[3 * k + 1] = v; rgb.pixels[3 * k + 2] = v
            mask.pixels[k] = s.movingMask.pixels[k] > 0.5 ? 255 : 0
        }
        try PNGCodec.encode(rgb).write(to: URL(fileURLWithPath: dir + "/section.png"))
        try PNGCodec.encode(mask).write(to: URL(fileURLWithPath: dir + "/mask.png"))

        let out = dir + "/reg"
        let r = try radiopath(["register", "--fixed", mriPath, "--fixed-mask", labelPath, "--slice", "auto", "--moving", dir + "/section.png",
                               "--moving-mpp", "50", "--moving-mask", dir + "/mask.png", "--working-mpp", "250", "--out", out])
        print(r.stderr)
        XCTAssertEqual(r.status, 0, r.stderr)
        let report = try XCTUnwrap(try TestEnv.json(try Data(contentsOf: URL(fileURLWithPath: out + "/report.json"))) as? [String: Any])
        let plane = try XCTUnwrap(report["plane"] as? [String: Any])
        let z = try XCTUnwrap(plane["zMm"] as? Double), ax = try XCTUnwrap(plane["angleXDegrees"] as? Double), ay = try XCTUnwrap(plane["angleYDegrees"] as? Double)
        print(String(format: "CLI SLICE AUTO: z %+.2f mm (truth −1.20), tilt %.2f° (−3), %.2f° (3.5)", z - z14, ax, ay))
        XCTAssertEqual(z, z14 - 1.2, accuracy: mri.spacing.z / 2)
        XCTAssertEqual(ax, -3, accuracy: 2)
        XCTAssertEqual(ay, 3.5, accuracy: 2)
        let final = try XCTUnwrap(report["result"] as? [String: Any])
        XCTAssertGreaterThanOrEqual(try XCTUnwrap(final["dice"] as? Double), 0.97)

        // Slide points → 3D MRI mm through the found plane, against the truth plane.
        var csv = "x,y\n", truth: [SIMD3<Double>] = []
        for q in s.points.prefix(30) {
            let px = s.truth.inverse(q) / sp
            csv += "\(px.x),\(px.y)\n"
            truth.append(truthPlane.point(q))
        }
        try csv.write(toFile: dir + "/points.csv", atomically: true, encoding: .utf8)
        let w = try radiopath(["warp", "--transform", out, "--direction", "to-mri", "--points", dir + "/points.csv", "--out", dir + "/mri.csv"])
        XCTAssertEqual(w.status, 0, w.stderr)
        let rows = try String(contentsOfFile: dir + "/mri.csv", encoding: .utf8).split(separator: "\n").dropFirst().map { $0.split(separator: ",").compactMap { Double($0) } }
        XCTAssertEqual(rows.count, truth.count)
        let errors = zip(rows, truth).map { (row, t) -> Double in
            guard row.count == 3 else { return .infinity }
            let d = SIMD3(row[0], row[1], row[2]) - t
            return (d * d).sum().squareRoot()
        }
        let mean = errors.reduce(0, +) / Double(errors.count)
        print(String(format: "CLI SLICE AUTO: 3D point error mean %.3f mm, max %.3f mm", mean, errors.max()!))
        XCTAssertLessThanOrEqual(mean, 2.0, "3D error: in-plane TRE plus the plane's position/tilt error")

        // The section mask as a label map onto the MRI grid: voxels nearest the found plane, which
        // crosses slices 13 and 14 (truth z = slice 14 − 1.2 mm, tilted), and about the gland's area.
        let lw = try radiopath(["warp", "--transform", out, "--direction", "to-mri", "--label", dir + "/mask.png", "--out", dir + "/label.nii"])
        XCTAssertEqual(lw.status, 0, lw.stderr)
        let lv = try VolumeFile.read(dir + "/label.nii")
        var perSlice = [Int](repeating: 0, count: lv.size.z)
        for k in 0..<lv.size.z { for j in 0..<lv.size.y { for i in 0..<lv.size.x where lv[i, j, k] > 0 { perSlice[k] += 1 } } }
        print("CLI SLICE AUTO: label voxels per slice \(perSlice.enumerated().filter { $0.element > 0 })")
        XCTAssertGreaterThan(perSlice[13] + perSlice[14], 0)
        XCTAssertEqual(perSlice.reduce(0, +), perSlice[13] + perSlice[14], "only the slices the plane crosses")
        let planeMask = truthPlane.resample(label, onto: grid).pixels.filter { $0 > 0.5 }.count
        XCTAssertEqual(Double(perSlice.reduce(0, +)), Double(planeMask), accuracy: 0.1 * Double(planeMask))
    }
}
