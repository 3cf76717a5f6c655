import Foundation
import TestSupport
import Tabular
import VolumeIO
import XCTest

final class RadiomicsCommandTests: XCTestCase {
    /// One case from the IBSI phantom: the table has the provenance columns and IBSI-tagged
    /// features with the reference values; the dictionary names every column.
    func testSingleCaseIBSIPhantom() throws {
        let out = try TestEnv.scratch(self, "radiomics-one")
        try "setting:\n  binWidth: 1\n  ivhIntensityStep: 1\n".write(toFile: out + "/phantom.yaml", atomically: true, encoding: .utf8)
        let r = try radiopath(["radiomics", "--image", try TestEnv.testdata("ibsi/digital_phantom_image.nii.gz"),
                               "--mask", try TestEnv.testdata("ibsi/digital_phantom_mask.nii.gz"),
                               "--params", out + "/phantom.yaml", "--out", out + "/r", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let table = try CSVTable.read(path: out + "/r/radiomics.csv")
        XCTAssertEqual(table.rows.count, 1)
        XCTAssertEqual(table.rows[0][table.column("id")!], "digital_phantom_image")
        for column in ["radiopath_version", "mode", "parameters_sha256", "image_sha256", "mask_sha256"] {
            XCTAssertNotNil(table.column(column), column)
        }
        let value = { (name: String) in Double(table.rows[0][table.column(name)!])! }
        XCTAssertEqual(value("original_morph_volume"), 556, accuracy: 4)          // IBSI reference ± tolerance
        XCTAssertEqual(value("original_cm_joint_max_3D_avg"), 0.503, accuracy: 0.0005)
        XCTAssertGreaterThan(table.header.count, 482)
        let dictionary = try CSVTable.read(path: out + "/r/radiomics_features.csv")
        let row = dictionary.rows.first { $0[0] == "original_stat_mean" }
        XCTAssertEqual(row?[2], "stat_mean")
        XCTAssertEqual(row?[3], "firstorder_Mean")
        let summary = try TestEnv.json(Data(r.stdout.utf8)) as? [String: Any]
        XCTAssertEqual(summary?["done"] as? Int, 1)
    }

    /// The real sarcoma CT as NIfTI + NIfTI mask and as a DICOM series + RTSTRUCT give the same
    /// features; a case with a missing file fails alone, named in the failures table; a rerun
    /// skips the finished cases.
    func testBatchNIfTIAndDICOMAgreeAndFailuresStayAlone() throws {
        let sts = try TestEnv.testdata("radiology/sts_001")
        let rtstruct = try FileManager.default.contentsOfDirectory(atPath: sts + "/dicom_ct/mask").sorted().first.map { sts + "/dicom_ct/mask/" + $0 }
        let out = try TestEnv.scratch(self, "radiomics-batch")
        let csv = """
        id,image,mask
        nifti,\(sts)/CT_image.nii.gz,\(sts)/CT_mask.nii.gz
        dicom,\(sts)/dicom_ct/image,\(rtstruct ?? "missing")
        broken,\(out)/absent.nii.gz,\(sts)/CT_mask.nii.gz
        """
        try csv.write(toFile: out + "/cases.csv", atomically: true, encoding: .utf8)
        try "featureClass: {firstorder: , shape: , glcm: }\nsetting: {binWidth: 25}\n".write(toFile: out + "/p.yaml", atomically: true, encoding: .utf8)
        let args = ["radiomics", "--batch", out + "/cases.csv", "--params", out + "/p.yaml", "--out", out + "/r", "--jobs", "2"]
        let r = try radiopath(args)
        XCTAssertEqual(r.status, 1, "one case failed: \(r.stderr)")
        let table = try CSVTable.read(path: out + "/r/radiomics.csv")
        XCTAssertEqual(Set(table.rows.map { $0[0] }), ["nifti", "dicom"])
        let nifti = table.rows.first { $0[0] == "nifti" }!, dicom = table.rows.first { $0[0] == "dicom" }!
        var compared = 0
        for (i, name) in table.header.enumerated() where name.hasPrefix("original_") {
            guard let a = Double(nifti[i]), let b = Double(dicom[i]) else { continue }
            XCTAssertEqual(a, b, accuracy: 1e-6 * max(1, abs(a)), name)
            compared += 1
        }
        XCTAssertGreaterThan(compared, 40)
        let failures = try CSVTable.read(path: out + "/r/radiomics_failures.csv")
        XCTAssertEqual(failures.rows.map { $0[0] }, ["broken"])
        XCTAssertTrue(failures.rows[0][3].contains("absent.nii.gz"), failures.rows[0][3])

        let again = try radiopath(args)
        XCTAssertTrue(again.stderr.contains("nifti: already done"), again.stderr)
        XCTAssertEqual(try CSVTable.read(path: out + "/r/radiomics.csv").rows.count, 2, "skipped cases stay in the table")
    }

    /// --mode pyradiomics writes PyRadiomics' column names.
    func testPyRadiomicsModeNames() throws {
        let base = try TestEnv.testdata("radiology/pyradiomics")
        let out = try TestEnv.scratch(self, "radiomics-py")
        let r = try radiopath(["radiomics", "--image", base + "/breast1_image.nrrd", "--mask", base + "/breast1_label.nrrd",
                               "--mode", "pyradiomics", "--out", out])
        XCTAssertEqual(r.status, 0, r.stderr)
        let header = try CSVTable.read(path: out + "/radiomics.csv").header
        for name in ["original_firstorder_Mean", "original_shape_MeshVolume", "original_glcm_Idn", "original_gldm_DependenceEntropy"] {
            XCTAssertTrue(header.contains(name), name)
        }
        XCTAssertFalse(header.contains { $0.hasSuffix("_2D_avg") }, "PyRadiomics mode reports its own aggregation only")
    }

    /// --maps writes one NIfTI per requested feature on the image grid: NaN outside the ROI,
    /// and inside it the mean of the voxel's 3×3×3 neighbourhood within the ROI.
    func testMapsAreNIfTIOnTheImageGrid() throws {
        let imagePath = try TestEnv.testdata("ibsi/digital_phantom_image.nii.gz")
        let maskPath = try TestEnv.testdata("ibsi/digital_phantom_mask.nii.gz")
        let out = try TestEnv.scratch(self, "radiomics-maps")
        let r = try radiopath(["radiomics", "--image", imagePath, "--mask", maskPath, "--out", out, "--id", "phantom",
                               "--maps", "--map-features", "stat_mean", "stat_max"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let map = try NIfTI.read(out + "/maps/phantom/stat_mean.nii.gz")
        XCTAssertTrue(FileManager.default.fileExists(atPath: out + "/maps/phantom/stat_max.nii.gz"))
        let image = try NIfTI.read(imagePath), mask = try NIfTI.read(maskPath)
        var checked = 0
        for k in 0..<map.size.z { for j in 0..<map.size.y { for i in 0..<map.size.x {
            // The map covers the ROI's bounding box; find the image voxel at the same point.
            let p = image.continuousIndex(ofPoint: map.point(ofIndex: SIMD3(Double(i), Double(j), Double(k))))
            let (a, b, c) = (Int(p.x.rounded()), Int(p.y.rounded()), Int(p.z.rounded()))
            let v = map[i, j, k]
            guard mask[a, b, c] > 0 else { XCTAssertTrue(v.isNaN); continue }
            var sum = 0.0, n = 0.0
            for dc in -1...1 { for db in -1...1 { for da in -1...1 {
                let (x, y, z) = (a + da, b + db, c + dc)
                guard x >= 0, y >= 0, z >= 0, x < image.size.x, y < image.size.y, z < image.size.z, mask[x, y, z] > 0 else { continue }
                sum += Double(image[x, y, z]); n += 1
            } } }
            XCTAssertEqual(Double(v), sum / n, accuracy: 1e-5)
            checked += 1
        } } }
        XCTAssertEqual(checked, 74, "every ROI voxel has a value")
    }

    func testBadParameterFileIsAClearError() throws {
        let out = try TestEnv.scratch(self, "radiomics-bad")
        try "setting:\n  binWidht: 25\n".write(toFile: out + "/p.yaml", atomically: true, encoding: .utf8)
        let r = try radiopath(["radiomics", "--image", "x.nii", "--mask", "y.nii", "--params", out + "/p.yaml", "--out", out])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("p.yaml") && r.stderr.contains("binWidht"), r.stderr)
    }
}
