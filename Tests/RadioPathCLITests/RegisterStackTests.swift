import Foundation
import ImageCore
import Registration
import TestSupport
import VolumeIO
import XCTest

/// `radiopath register --stack` without --section: every section of a RAPSODI-style stack (three
/// H&E-coloured sections rendered from slices 13–15 with known maps), one report.
final class RegisterStackTests: XCTestCase {
    func testWholeStackRunRegistersEverySection() throws {
        let mriPath = try TestEnv.testdata("radiology/prostate/aaa0060_T2_axial.nii.gz")
        let labelPath = try TestEnv.testdata("radiology/prostate/aaa0060_T2_axial_prostate_label.nii.gz")
        let mri = try VolumeFile.read(mriPath), label = try VolumeFile.read(labelPath)
        let dir = try TestEnv.scratch(self, "stack")
        let sp = 0.05, size = 1500
        var json: [String: Any] = [:]
        var cases: [SyntheticSection] = []
        for (n, k) in [13, 14, 15].enumerated() {
            let p = SyntheticSection.parameters(slice: k, seed: UInt64(40 + n))
            let s = try SyntheticSection(mri: mri, label: label, p, spacing: sp, size: size, movingOrigin: SIMD2(sp, sp) / 2)
            cases.append(s)
            var rgb = RGBImage(width: size, height: size)
            for q in 0..<s.moving.pixels.count {
                let v = Double(s.moving.pixels[q]), t = Double(s.movingMask.pixels[q])
                // Eosin-pink tissue (luminance monotone in v), near-white glass.
                let c = (t * 255 * v + (1 - t) * 240, t * 170 * v + (1 - t) * 240, t * 215 * v + (1 - t) * 242)
                rgb.pixels[3 * q] = UInt8(min(255, c.0)); rgb.pixels[3 * q + 1] = UInt8(min(255, c.1)); rgb.pixels[3 * q + 2] = UInt8(min(255, c.2))
            }
            try FileManager.default.createDirectory(atPath: dir + "/images", withIntermediateDirectories: true)
            try PNGCodec.encode(rgb).write(to: URL(fileURLWithPath: dir + "/images/section\(n + 1).png"))
            // RAPSODI's hint: mirror, then α CCW as displayed; the truth turns by θ after the
            // mirror, so α = −θ (SectionToolsTests.testHintAngleConvention).
            json["slice\(n + 1)"] = ["filename": "images\\section\(n + 1).png", "id": "S\(n + 1)", "resolution_x_um": 50.0, "resolution_y_um": 50.0,
                                     "transform": ["flip": p.flipped ? 1 : 0, "rotation_angle": -p.angleDegrees], "regions": [:] as [String: Any]]
        }
        let stack = dir + "/stack.json"
        try JSONSerialization.data(withJSONObject: json).write(to: URL(fileURLWithPath: stack))

        // One slice per section is required.
        let bad = try radiopath(["register", "--fixed", mriPath, "--fixed-mask", labelPath, "--stack", stack, "--slice-range", "12:15", "--out", dir + "/bad"])
        XCTAssertEqual(bad.status, 2)
        XCTAssertTrue(bad.stderr.contains("3 sections") && bad.stderr.contains("spans 4 slices"), bad.stderr)

        let out = dir + "/reg"
        let r = try radiopath(["register", "--fixed", mriPath, "--fixed-mask", labelPath, "--stack", stack, "--slice-range", "13:15",
                               "--working-mpp", "250", "--out", out])
        print(r.stderr)
        XCTAssertEqual(r.status, 0, r.stderr)
        for n in 1...3 { XCTAssertTrue(r.stderr.contains("section \(n)/3"), "progress for section \(n)") }
        let report = try XCTUnwrap(try TestEnv.json(try Data(contentsOf: URL(fileURLWithPath: out + "/stack_report.json"))) as? [String: Any])
        let rows = try XCTUnwrap(report["sections"] as? [[String: Any]])
        XCTAssertEqual(rows.count, 3)
        for (n, row) in rows.enumerated() {
            XCTAssertEqual(row["status"] as? String, "ok")
            XCTAssertEqual(row["slice"] as? Int, 13 + n)
            let dice = try XCTUnwrap((row["result"] as? [String: Any])?["dice"] as? Double)
            print(String(format: "STACK section %d: Dice %.4f", n + 1, dice))
            XCTAssertGreaterThanOrEqual(dice, 0.97)
            // Each section's transform maps its interior points as the truth does (TRE ≤ 1 mm).
            let t = try SectionTransform.read(folder: out + "/slice\(n + 1)")
            let e = cases[n].tre { t.map($0) * sp }
            print(String(format: "STACK section %d: TRE mean %.3f mm", n + 1, e.mean))
            XCTAssertLessThanOrEqual(e.mean, 1.0)
        }
    }
}
