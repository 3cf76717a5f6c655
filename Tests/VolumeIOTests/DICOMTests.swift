import Foundation
import XCTest
import TestSupport
@testable import VolumeIO

final class DICOMTests: XCTestCase {
    private func ctFolder() throws -> String { try TestEnv.testdata("radiology/sts_001/dicom_ct/image") }
    private func ctFiles() throws -> [String] {
        let dir = try ctFolder()
        return try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".dcm") }.sorted().map { "\(dir)/\($0)" }
    }

    /// The real sts_001 CT series (59 implicit VR files) equals SimpleITK's ImageSeriesReader:
    /// geometry to 1e-9 mm, voxels bit-equal; the folder above (with the RTSTRUCT) gives the same.
    func testCTSeriesMatchesSimpleITK() throws {
        let folder = try ctFolder()
        let scratch = try TestEnv.scratch(self, "dcm-ct")
        let series = try DICOMSeries.read(folder: folder)
        assertSameVolume(series.volume, try SimpleITKPeer.readSeries(folder, scratch: scratch), tolerance: 1e-9, "sts_001 CT")
        XCTAssertEqual(series.volume.size, SIMD3(198, 202, 59))
        XCTAssertEqual(series.modality, "CT")
        XCTAssertEqual(series.units, "HU")
        XCTAssertEqual(series.files.count, 59)
        let parent = try DICOMSeries.read(folder: URL(fileURLWithPath: folder).deletingLastPathComponent().path)
        XCTAssertEqual(parent.volume, series.volume, "the RTSTRUCT beside the images is not an image series")
    }

    /// The DICOM CT and the IBSI team's CT_image.nii.gz are the same volume: size, spacing,
    /// origin and direction within 1e-3 mm, voxels equal.
    func testCTSeriesMatchesNIfTI() throws {
        let series = try DICOMSeries.read(folder: try ctFolder())
        let nifti = try NIfTI.read(try TestEnv.testdata("radiology/sts_001/CT_image.nii.gz"))
        XCTAssertTrue(series.volume.hasSameGrid(as: nifti, tolerance: 1e-3),
                      "DICOM \(series.volume.spacing) \(series.volume.origin) vs NIfTI \(nifti.spacing) \(nifti.origin)")
        let worst = zip(series.volume.voxels, nifti.voxels).map { abs($0 - $1) }.max() ?? .infinity
        XCTAssertEqual(worst, 0, "largest voxel difference")
    }

    /// Re-encoded copies (explicit VR; sequences of defined and undefined length) read the same.
    func testExplicitVRAndSequenceLengthsReadTheSame() throws {
        let reference = try DICOMSeries.read(folder: try ctFolder()).volume
        let scratch = try TestEnv.scratch(self, "dcm-enc")
        for (explicit, undefined) in [(true, false), (true, true), (false, false)] {
            let out = "\(scratch)/\(explicit)-\(undefined)"
            try DICOMFixtures.reencode(try ctFiles(), to: out, explicit: explicit, undefinedLengths: undefined)
            let series = try DICOMSeries.read(folder: out)
            XCTAssertEqual(series.volume, reference, "explicit \(explicit), undefined lengths \(undefined)")
            let file = try DICOMFile.parse(series.files[0], data: try Data(contentsOf: URL(fileURLWithPath: series.files[0])))
            XCTAssertEqual(file.dataSet.sequence(0x0012_0064).count, 7, "the de-identification code sequence has 7 items")
            XCTAssertEqual(file.dataSet.sequence(0x0012_0064)[6].string(0x0008_0100), "113111")
        }
    }

    /// PET: raw values (per-slice rescale slopes, oblique, files out of order) equal SimpleITK's;
    /// the SUV factor equals an independent Python computation; missing tags give a note
    /// naming what is missing and leave Bq/mL.
    func testPETSeriesAndSUV() throws {
        let scratch = try TestEnv.scratch(self, "dcm-pet")
        let expected = try DICOMFixtures.pet(scratch + "/pet")
        let raw = try DICOMSeries.read(folder: scratch + "/pet", suv: false)
        assertSameVolume(raw.volume, try SimpleITKPeer.readSeries(scratch + "/pet", scratch: scratch), tolerance: 1e-9,
                         valueTolerance: 1e-3, "synthetic PET")
        XCTAssertEqual(raw.units, "BQML")
        XCTAssertNil(raw.suvFactor)
        let suv = try DICOMSeries.read(folder: scratch + "/pet")
        XCTAssertEqual(suv.units, "SUVbw")
        XCTAssertEqual(try XCTUnwrap(suv.suvFactor), expected, accuracy: expected * 1e-12)
        for (s, r) in zip(suv.volume.voxels, raw.volume.voxels) {
            XCTAssertEqual(Double(s), Double(r) * expected, accuracy: abs(Double(r) * expected) * 1e-6)
        }
        XCTAssertTrue(suv.notes.joined().contains("SUVbw = Bq/mL"), "\(suv.notes)")

        for (variant, words) in [("weight", ["PatientWeight (0010,1030)"]), ("cnts", ["CNTS"]), ("none", ["NONE"])] {
            XCTAssertEqual(try DICOMFixtures.pet(scratch + "/" + variant, variant: variant), 0)
            let s = try DICOMSeries.read(folder: scratch + "/" + variant)
            XCTAssertNil(s.suvFactor, variant)
            XCTAssertEqual(s.volume, raw.volume, "\(variant): stored values are kept")
            for w in words { XCTAssertTrue(s.notes.joined().contains("SUV not computed") && s.notes.joined().contains(w), "\(variant): \(s.notes)") }
        }
        for variant in ["admin", "datetime"] {
            let f = try DICOMFixtures.pet(scratch + "/" + variant, variant: variant)
            XCTAssertEqual(try XCTUnwrap(DICOMSeries.read(folder: scratch + "/" + variant).suvFactor), f, accuracy: f * 1e-12, variant)
        }
    }

    /// A folder with two series: the error lists both; naming one reads it.
    func testMixedSeries() throws {
        let scratch = try TestEnv.scratch(self, "dcm-mix")
        _ = try DICOMFixtures.pet(scratch + "/pet")
        let mixed = scratch + "/mixed"
        try FileManager.default.createDirectory(atPath: mixed, withIntermediateDirectories: true)
        for f in try ctFiles() { try FileManager.default.copyItem(atPath: f, toPath: mixed + "/" + URL(fileURLWithPath: f).lastPathComponent) }
        for f in try FileManager.default.contentsOfDirectory(atPath: scratch + "/pet") {
            try FileManager.default.copyItem(atPath: scratch + "/pet/" + f, toPath: mixed + "/" + f)
        }
        let list = try DICOMSeries.list(folder: mixed)
        XCTAssertEqual(Set(list.map(\.modality)), ["CT", "PT"])
        XCTAssertEqual(list.map(\.fileCount).sorted(), [6, 59])
        let ct = list.first { $0.modality == "CT" }!
        assertVolumeError(try DICOMSeries.read(folder: mixed), names: "mixed", ["2 image series", ct.seriesInstanceUID, "seriesInstanceUID"])
        XCTAssertEqual(try DICOMSeries.read(folder: mixed, seriesInstanceUID: ct.seriesInstanceUID).volume,
                       try DICOMSeries.read(folder: try ctFolder()).volume)
        assertVolumeError(try DICOMSeries.read(folder: mixed, seriesInstanceUID: "1.2.3"), names: "mixed", ["no image series 1.2.3", ct.seriesInstanceUID])
    }

    /// A missing slice is refused naming the files around the gap (or read with a note when
    /// allowed); two slices at one position are refused.
    func testMissingAndDuplicateSlices() throws {
        let scratch = try TestEnv.scratch(self, "dcm-gap")
        let files = try ctFiles()
        let gap = scratch + "/gap"
        try FileManager.default.createDirectory(atPath: gap, withIntermediateDirectories: true)
        let sorted = try DICOMSeries.read(folder: try ctFolder()).files
        let dropped = URL(fileURLWithPath: sorted[30]).lastPathComponent
        for f in files where !f.hasSuffix(dropped) { try FileManager.default.copyItem(atPath: f, toPath: gap + "/" + URL(fileURLWithPath: f).lastPathComponent) }
        assertVolumeError(try DICOMSeries.read(folder: gap), names: "gap",
                          ["uneven", "missing", URL(fileURLWithPath: sorted[29]).lastPathComponent, URL(fileURLWithPath: sorted[31]).lastPathComponent])
        let lenient = try DICOMSeries.read(folder: gap, allowIrregularSpacing: true)
        XCTAssertEqual(lenient.volume.size.z, 58)
        XCTAssertTrue(lenient.notes.joined().contains("uneven"), "\(lenient.notes)")

        let dup = scratch + "/dup"
        try FileManager.default.createDirectory(atPath: dup, withIntermediateDirectories: true)
        for f in files { try FileManager.default.copyItem(atPath: f, toPath: dup + "/" + URL(fileURLWithPath: f).lastPathComponent) }
        try FileManager.default.copyItem(atPath: sorted[10], toPath: dup + "/copy.dcm")
        assertVolumeError(try DICOMSeries.read(folder: dup), names: "dcm", ["same position", "several volumes"])
    }

    /// Truncated, compressed, deflated and non-DICOM input: errors name the file, what is
    /// wrong and what to do.
    func testBadInput() throws {
        let scratch = try TestEnv.scratch(self, "dcm-bad")
        let files = try ctFiles()
        // Truncated pixel data inside an otherwise good series.
        let cut = scratch + "/cut"
        try FileManager.default.createDirectory(atPath: cut, withIntermediateDirectories: true)
        for f in files { try FileManager.default.copyItem(atPath: f, toPath: cut + "/" + URL(fileURLWithPath: f).lastPathComponent) }
        let victim = cut + "/" + URL(fileURLWithPath: files[5]).lastPathComponent
        let bytes = try Data(contentsOf: URL(fileURLWithPath: victim))
        try bytes.prefix(bytes.count - 5000).write(to: URL(fileURLWithPath: victim))
        assertVolumeError(try DICOMSeries.read(folder: cut), names: URL(fileURLWithPath: victim).lastPathComponent, ["truncated", "bytes of pixel data"])
        // A header cut short.
        try bytes.prefix(700).write(to: URL(fileURLWithPath: scratch + "/head.dcm"))
        assertVolumeError(try DICOMFile.parse(scratch + "/head.dcm", data: bytes.prefix(700)), names: "head.dcm", ["truncated"])
        // Compressed pixel data: the transfer syntax is named.
        let jpeg = scratch + "/jpeg"
        try FileManager.default.createDirectory(atPath: jpeg, withIntermediateDirectories: true)
        try DICOMFixtures.encapsulated(files[0], to: jpeg + "/j.dcm", syntax: "1.2.840.10008.1.2.4.50")
        assertVolumeError(try DICOMSeries.read(folder: jpeg), names: "j.dcm", ["JPEG Baseline", "1.2.840.10008.1.2.4.50", "gdcmconv"])
        try DICOMFixtures.encapsulated(files[0], to: jpeg + "/j.dcm", syntax: "1.2.840.10008.1.2.4.90")
        assertVolumeError(try DICOMSeries.read(folder: jpeg), names: "j.dcm", ["JPEG 2000 (Lossless Only)"])
        try DICOMFixtures.deflated(files[0], to: scratch + "/deflated.dcm")
        assertVolumeError(try DICOMFile.parse(scratch + "/deflated.dcm", data: try Data(contentsOf: URL(fileURLWithPath: scratch + "/deflated.dcm"))),
                          names: "deflated.dcm", ["Deflated", "convert"])
        // Folders without images.
        let empty = scratch + "/text"
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
        try Data("hello".utf8).write(to: URL(fileURLWithPath: empty + "/readme.txt"))
        assertVolumeError(try DICOMSeries.read(folder: empty), names: "text", ["no DICOM image"])
        assertVolumeError(try DICOMSeries.read(folder: try TestEnv.testdata("radiology/sts_001/dicom_ct/mask")), names: "mask", ["no DICOM image", "RTSTRUCT"])
        assertVolumeError(try DICOMSeries.read(folder: scratch + "/nowhere"), names: "nowhere", ["not a folder"])
    }

    /// Cut anywhere, a structure set (nested undefined-length sequences) or a CT file never
    /// crashes the parser: it parses what is complete or throws a VolumeError naming the file;
    /// corrupted lengths likewise.
    func testTruncatedAndCorruptFilesNeverCrash() throws {
        let rs = try TestEnv.testdata("radiology/sts_001/dicom_ct/mask/RS.dcm")
        let ct = try ctFiles()[0]
        for path in [rs, ct] {
            let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
            var thrown = 0
            for cut in stride(from: 0, to: bytes.count, by: max(1, bytes.count / 397)) {
                do { _ = try DICOMFile.parse(path, data: bytes.prefix(cut)) } catch {
                    thrown += 1
                    XCTAssertTrue(error is VolumeError && "\(error)".contains(path), "\(error)")
                }
            }
            if path == rs { XCTAssertGreaterThan(thrown, 300, "most cuts fall inside a sequence and are reported") }
            // Overwrite 4 bytes at many places with 0xFF (undefined or huge lengths, bad tags).
            for at in stride(from: 132, to: min(bytes.count - 4, 40_000), by: 97) {
                var bad = bytes
                bad.replaceSubrange(at..<(at + 4), with: [0xFF, 0xFF, 0xFF, 0xFF])
                do { _ = try DICOMFile.parse(path, data: bad) } catch {
                    XCTAssertTrue(error is VolumeError, "\(error)")
                }
            }
        }
    }

    /// 12 bits stored in 16: the unused top bits are masked off and signed values are
    /// sign-extended from bit 11, as GDCM (SimpleITK) does.
    func testStoredBitsMaskedAndSignExtendedLikeGDCM() throws {
        let scratch = try TestEnv.scratch(self, "dcm-12")
        for signed in [false, true] {
            let dir = "\(scratch)/\(signed)"
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            try DICOMFixtures.twelveBit(try ctFiles()[0], to: dir + "/s.dcm", signed: signed)
            let ours = try DICOMSeries.read(folder: dir).volume
            let theirs = try SimpleITKPeer.read(dir + "/s.dcm", scratch: scratch)
            XCTAssertEqual(ours.voxels, theirs.voxels, "signed \(signed)")
            XCTAssertEqual(ours.voxels.min(), signed ? -2048 - 1024 : -1024)
        }
    }
}
