import Foundation
import Registration
import TestSupport
import XCTest

/// `radiopath synth section` (the bench cases) and `register` on one of them: the files agree
/// with each other, and the registration meets the targets on the case's landmarks.
final class RegisterSynthCaseTests: XCTestCase {
    func testSynthSectionCaseIsConsistentAndRegisters() throws {
        let mriPath = try TestEnv.testdata("radiology/prostate/aaa0060_T2_axial.nii.gz")
        let labelPath = try TestEnv.testdata("radiology/prostate/aaa0060_T2_axial_prostate_label.nii.gz")
        let dir = try TestEnv.scratch(self, "synthcase")
        var r = try radiopath(["synth", "section", "--mri", mriPath, "--label", labelPath, "--slices", "14", "--cases", "1", "--seed", "7", "--out", dir])
        XCTAssertEqual(r.status, 0, r.stderr)
        let c = dir + "/case0"
        for f in ["fixed.nii", "fixed_mask.nii", "section.png", "section_mask.png", "fixed.mha", "fixed_mask.mha", "moving.mha",
                  "moving_mask.mha", "region.mha", "truth_displacement.nii", "landmarks.csv", "case.json"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: c + "/" + f), f)
        }
        // The true field carries each landmark's MRI point to its slide point (mm = px × 0.05).
        let field = try DisplacementField2D.readNIfTI(c + "/truth_displacement.nii")
        let rows = try String(contentsOfFile: c + "/landmarks.csv", encoding: .utf8).split(separator: "\n").dropFirst()
            .map { $0.split(separator: ",").compactMap { Double($0) } }
        XCTAssertEqual(rows.count, 60)
        var worst = 0.0
        for v in rows {
            let d = field.map(SIMD2(v[0], v[1])) - SIMD2(v[2], v[3]) * 0.05
            worst = max(worst, (d * d).sum().squareRoot())
        }
        print(String(format: "SYNTH CASE: field vs landmarks max %.4f mm", worst))
        XCTAssertLessThanOrEqual(worst, 0.05, "bilinear field vs exact inverse")

        r = try radiopath(["register", "--fixed", c + "/fixed.nii", "--fixed-mask", c + "/fixed_mask.nii", "--slice", "0",
                           "--moving", c + "/section.png", "--moving-mpp", "50", "--moving-mask", c + "/section_mask.png",
                           "--working-mpp", "250", "--landmarks", c + "/landmarks.csv", "--out", c + "/reg"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let report = try XCTUnwrap(try TestEnv.json(try Data(contentsOf: URL(fileURLWithPath: c + "/reg/report.json"))) as? [String: Any])
        let final = try XCTUnwrap(report["result"] as? [String: Any])
        let dice = try XCTUnwrap(final["dice"] as? Double), tre = try XCTUnwrap(final["treMeanMm"] as? Double)
        print(String(format: "SYNTH CASE: register Dice %.4f, landmark TRE %.3f mm", dice, tre))
        XCTAssertGreaterThanOrEqual(dice, 0.97)
        XCTAssertLessThanOrEqual(tre, 1.0)
    }
}
