import Foundation
import Registration
import TestSupport
import VolumeIO
import XCTest

/// `radiopath register --moving-volume`: the prostate T2 against a copy moved by a known affine.
final class Register3DTests: XCTestCase {
    func testVolumeRegistrationWritesTheKnownAffine() throws {
        let mriPath = try TestEnv.testdata("radiology/prostate/aaa0060_T2_axial.nii.gz")
        let labelPath = try TestEnv.testdata("radiology/prostate/aaa0060_T2_axial_prostate_label.nii.gz")
        let mri = try VolumeFile.read(mriPath), label = try VolumeFile.read(labelPath)
        let dir = try TestEnv.scratch(self, "vol")
        let c = mri.point(ofIndex: SIMD3(160, 150, 14))
        let a = -5 * Double.pi / 180
        let truth = AffineTransform3D(center: c, parameters: [cos(a), -sin(a), 0, sin(a), cos(a), 0, 0, 0, 0.97, -2, 2.5, 1])
        try VolumeFile.write(truth.inverted.resample(mri, onto: mri), to: dir + "/moving.nii")
        try VolumeFile.write(truth.inverted.resample(label, onto: label, nearest: true), to: dir + "/moving_mask.nii")
        let out = dir + "/reg"
        let r = try radiopath(["register", "--fixed", mriPath, "--fixed-mask", labelPath, "--moving-volume", dir + "/moving.nii",
                               "--moving-volume-mask", dir + "/moving_mask.nii", "--volume-metric", "mi", "--out", out])
        print(r.stderr)
        XCTAssertEqual(r.status, 0, r.stderr)
        let text = try String(contentsOfFile: out + "/volume_affine.tfm", encoding: .utf8)
        XCTAssertTrue(text.contains("AffineTransform_double_3_3"))
        func numbers(_ key: String) -> [Double] {
            text.split(separator: "\n").first { $0.hasPrefix(key) }.map { $0.dropFirst(key.count).split(separator: " ").compactMap { Double($0) } } ?? []
        }
        let p = numbers("Parameters:"), f = numbers("FixedParameters:")
        XCTAssertEqual(p.count, 12); XCTAssertEqual(f.count, 3)
        let found = AffineTransform3D(center: SIMD3(f[0], f[1], f[2]), parameters: p)
        var err = 0.0, n = 0.0
        for k in 0..<label.size.z { for j in stride(from: 0, to: label.size.y, by: 4) { for i in stride(from: 0, to: label.size.x, by: 4) where label[i, j, k] > 0.5 {
            let x = label.point(ofIndex: SIMD3(Double(i), Double(j), Double(k)))
            let d = (found.map(x) - truth.map(x)) / mri.spacing
            err += (d * d).sum().squareRoot(); n += 1
        } } }
        print(String(format: "CLI 3D: mean gland-point error %.3f voxels", err / n))
        XCTAssertLessThanOrEqual(err / n, 1.0)

        // B-spline on by default: the field, per-stage Dice/HD95 and the QC pictures.
        XCTAssertTrue(FileManager.default.fileExists(atPath: out + "/volume_displacement.nii.gz"))
        let report = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/report.json"))) as? [String: Any])
        let stages = try XCTUnwrap(report["stages"] as? [[String: Any]])
        XCTAssertEqual(stages.compactMap { $0["stage"] as? String }, ["initial", "translation", "rigid", "affine", "bspline"])
        for st in stages {
            let hd = try XCTUnwrap(st["hausdorff95Mm"] as? Double, "\(st)")
            XCTAssertTrue(hd >= 0 && hd < 20, "\(st)")
        }
        let finalDice = try XCTUnwrap(stages.last?["dice"] as? Double), affineDice = try XCTUnwrap(stages[3]["dice"] as? Double)
        XCTAssertGreaterThanOrEqual(finalDice, 0.95)
        XCTAssertGreaterThanOrEqual(finalDice, affineDice - 0.005)
        let qc = try XCTUnwrap(report["qc"] as? [String])
        XCTAssertEqual(qc.count, 10)
        for name in qc {
            let png = try Data(contentsOf: URL(fileURLWithPath: out + "/" + name))
            XCTAssertEqual(Array(png.prefix(4)), [0x89, 0x50, 0x4E, 0x47], name)
        }

        // An empty moving mask: exit 2, no transform.
        try VolumeFile.write(Volume(size: label.size, spacing: label.spacing, origin: label.origin, direction: label.direction,
                                    voxels: [Float](repeating: 0, count: label.count)), to: dir + "/empty.nii")
        let bad = try radiopath(["register", "--fixed", mriPath, "--fixed-mask", labelPath, "--moving-volume", dir + "/moving.nii",
                                 "--moving-volume-mask", dir + "/empty.nii", "--out", out])
        XCTAssertEqual(bad.status, 2)
        XCTAssertTrue(bad.stderr.contains("mask is empty"), bad.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out + "/volume_affine.tfm"))
        XCTAssertFalse(FileManager.default.fileExists(atPath: out + "/volume_displacement.nii.gz"))
    }
}
