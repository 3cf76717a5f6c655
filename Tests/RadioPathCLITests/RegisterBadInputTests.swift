import Foundation
import ImageCore
import TestSupport
import VolumeIO
import XCTest

/// Issue 8's bad inputs that the other register tests do not cover: a volume without
/// orientation and an empty section mask. Each exits 2 with the file named and writes no
/// transform.
final class RegisterBadInputTests: XCTestCase {
    func testVolumeWithoutOrientationAndEmptyMaskAreRefused() throws {
        let mriPath = try TestEnv.testdata("radiology/prostate/aaa0060_T2_axial.nii.gz")
        let labelPath = try TestEnv.testdata("radiology/prostate/aaa0060_T2_axial_prostate_label.nii.gz")
        let dir = try TestEnv.scratch(self, "badin")
        // The T2 with its qform and sform codes zeroed (NIfTI-1 bytes 252–255).
        try VolumeFile.write(try VolumeFile.read(mriPath), to: dir + "/t2.nii")
        var bytes = try Data(contentsOf: URL(fileURLWithPath: dir + "/t2.nii"))
        for o in 252..<256 { bytes[o] = 0 }
        try bytes.write(to: URL(fileURLWithPath: dir + "/noorient.nii"))
        var section = RGBImage(width: 200, height: 200)
        for k in 0..<section.pixels.count { section.pixels[k] = k % 3 == 1 ? 120 : 200 }
        try PNGCodec.encode(section).write(to: URL(fileURLWithPath: dir + "/section.png"))
        try PNGCodec.encode(GrayImage(width: 200, height: 200)).write(to: URL(fileURLWithPath: dir + "/black.png"))

        let out = dir + "/o"
        var r = try radiopath(["register", "--fixed", dir + "/noorient.nii", "--fixed-mask", labelPath, "--slice", "14",
                               "--moving", dir + "/section.png", "--moving-mpp", "50", "--out", out])
        XCTAssertEqual(r.status, 2)
        XCTAssertTrue(r.stderr.contains("noorient.nii") && r.stderr.contains("no orientation"), r.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out + "/transform.json"))
        // The same file with its codes intact is accepted as far as reading goes (control).
        r = try radiopath(["register", "--fixed", dir + "/t2.nii", "--fixed-mask", labelPath, "--slice", "14",
                           "--moving", dir + "/section.png", "--moving-mpp", "50", "--moving-mask", dir + "/black.png", "--out", out])
        XCTAssertEqual(r.status, 2)
        XCTAssertFalse(r.stderr.contains("no orientation"), r.stderr)
        XCTAssertTrue(r.stderr.contains("black.png") && r.stderr.contains("mask is empty"), r.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out + "/transform.json"))
    }
}
