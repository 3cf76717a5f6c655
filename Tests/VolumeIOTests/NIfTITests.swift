import Foundation
import XCTest
import TestSupport
import ZlibIO
@testable import VolumeIO

final class NIfTITests: XCTestCase {
    /// The IBSI digital phantom: 5×4×4 voxels of 2 mm, grey levels 1, 3, 4, 6 inside the
    /// 74-voxel mask and 9 outside it; geometry as SimpleITK reads it (origin 0, identity).
    func testReadsIBSIPhantom() throws {
        let image = try NIfTI.read(try TestEnv.testdata("ibsi/digital_phantom_image.nii.gz"))
        let mask = try NIfTI.read(try TestEnv.testdata("ibsi/digital_phantom_mask.nii.gz"))
        XCTAssertEqual(image.size, SIMD3(5, 4, 4))
        XCTAssertTrue(image.hasSameGrid(as: mask))
        XCTAssertEqual(mask.voxels.filter { $0 > 0 }.count, 74)
        XCTAssertEqual(Set(image.voxels.map { Int($0) }), Set([1, 3, 4, 6, 9]))
        XCTAssertEqual(Set(zip(image.voxels, mask.voxels).filter { $1 > 0 }.map { Int($0.0) }), Set([1, 3, 4, 6]))
        XCTAssertEqual(image.spacing, SIMD3(2, 2, 2))
        XCTAssertEqual(image.origin, SIMD3(0, 0, 0))
        XCTAssertEqual(image.direction, Volume.identityDirection)
    }

    /// The real sts_001 CT, MR and PET with their masks read exactly as SimpleITK reads them.
    func testRealVolumesMatchSimpleITK() throws {
        let dir = try TestEnv.testdata("radiology/sts_001")
        let scratch = try TestEnv.scratch(self, "nii-sts")
        let paths = ["CT_image", "CT_mask", "MR_T1_image", "MR_T1_mask", "PET_image", "PET_mask"].map { "\(dir)/\($0).nii.gz" }
        for (path, reference) in zip(paths, try SimpleITKPeer.read(paths, scratch: scratch)) {
            assertSameVolume(try NIfTI.read(path), reference, tolerance: 1e-9, path)
        }
    }

    /// qform/sform choice: every combination of codes, equal and different matrices, a
    /// non-orthogonal sform, qfac −1 and µm units, each compared with SimpleITK.
    func testQformSformChoiceMatchesSimpleITK() throws {
        let scratch = try TestEnv.scratch(self, "nii-xform")
        let q = SIMD3(0.1, -0.2, 0.3)                    // an oblique rotation
        let r = NIfTIHeader.rotation(fromQuaternion: q)
        let spacing = [0.8, 0.9, 2.5]
        // The sform that the qform describes, and a different oblique one.
        func srow(_ rot: [Double], _ off: SIMD3<Double>) -> [Double] {
            var out: [Double] = []
            for i in 0..<3 {
                for j in 0..<3 { out.append(rot[3 * i + j] * spacing[j]) }
                out.append(off[i])
            }
            return out
        }
        let qoff = SIMD3(-11.5, 20.25, -3.0)
        let sameS = srow(r, qoff)
        let otherR = NIfTIHeader.rotation(fromQuaternion: SIMD3(-0.3, 0.1, 0.05))
        let otherS = srow(otherR, SIMD3(7, -8, 9))
        var nearS = sameS
        nearS[3] += 8e-5                                  // 8e-5 mm off: "very close" (< 1e-4)
        var shear = sameS
        shear[1] += 0.3                                   // not orthonormal
        let cases: [(String, Int, Int, [Double], Double, Int)] = [
            ("q1 s0", 1, 0, otherS, 1, 2),
            ("q0 s1", 0, 1, otherS, 1, 2),
            ("q0 s0", 0, 0, otherS, 1, 2),
            ("q1 s1 different: sform (scanner) wins", 1, 1, otherS, 1, 2),
            ("q1 s2 different: qform wins", 1, 2, otherS, 1, 2),
            ("q2 s3 equal", 2, 3, sameS, 1, 2),
            ("q2 s4 within 1e-4: sform", 2, 4, nearS, 1, 2),
            ("q1 s1 sheared sform: qform", 1, 1, shear, 1, 2),
            ("q1 s0 qfac -1", 1, 0, otherS, -1, 2),
            ("q1 s2 µm units", 1, 2, otherS, 1, 3),
            ("q1 s1 m units", 1, 1, otherS, 1, 1),
        ]
        var paths: [String] = []
        for (k, (_, qc, sc, s, qfac, units)) in cases.enumerated() {
            var f = NIfTIFixture()
            f.qformCode = qc; f.sformCode = sc; f.quatern = q; f.qoffset = qoff; f.srow = s
            f.pixdim = [qfac, spacing[0], spacing[1], spacing[2], 1, 1, 1, 1]; f.xyztUnits = units
            paths.append(scratch + "/x\(k).nii")
            try f.write(paths[k])
        }
        for (k, reference) in try SimpleITKPeer.read(paths, scratch: scratch).enumerated() {
            assertSameVolume(try NIfTI.read(paths[k]), reference, tolerance: 1e-6, cases[k].0)
        }
        // Which matrix won is visible in the origin: check the interesting ones outright.
        func origin(_ qc: Int, _ sc: Int, _ s: [Double]) throws -> SIMD3<Double> {
            var f = NIfTIFixture()
            f.qformCode = qc; f.sformCode = sc; f.quatern = q; f.qoffset = qoff; f.srow = s
            try f.write(scratch + "/o.nii")
            return try NIfTI.read(scratch + "/o.nii").origin
        }
        XCTAssertEqual(try origin(1, 1, otherS), SIMD3(-7, 8, 9), "sform code 1 wins")
        XCTAssertEqual(try origin(1, 2, otherS), SIMD3(11.5, -20.25, -3), "qform wins over a different aligned sform")
        XCTAssertEqual(try origin(1, 4, nearS).x, -Double(Float(-11.5 + 8e-5)), accuracy: 1e-9, "a very close sform wins")
    }

    /// A non-orthogonal sform with no qform is refused, as ITK does.
    func testRefusesSkewedSformWithoutQform() throws {
        let scratch = try TestEnv.scratch(self, "nii-skew")
        var f = NIfTIFixture()
        f.qformCode = 0; f.sformCode = 2; f.srow = [1, 0.4, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0]
        try f.write(scratch + "/skew.nii")
        assertVolumeError(try NIfTI.read(scratch + "/skew.nii"), names: "skew.nii", ["not an orthonormal", "qform"])
    }

    /// Every scalar datatype, scl_slope/scl_inter (also slope 0: the intercept alone, as ITK)
    /// and big-endian files, each against SimpleITK. SimpleITK 2.5 does not read NIfTI-2, so
    /// each NIfTI-2 twin must read like SimpleITK's reading of the NIfTI-1 file (geometry to
    /// 1e-5: NIfTI-1 stores it in float, NIfTI-2 in double).
    func testDatatypesScalingEndianAndNIfTI2MatchSimpleITK() throws {
        let scratch = try TestEnv.scratch(self, "nii-types")
        var cases: [(label: String, fixture: NIfTIFixture, path: String)] = []
        for (datatype, bits) in [(2, 8), (256, 8), (4, 16), (512, 16), (8, 32), (768, 32), (16, 32), (64, 64), (1024, 64)] {
            for (slope, inter) in [(1.0, 0.0), (0.5, -10.0), (0.0, 3.0)] {
                for big in [false, true] {
                    var f = NIfTIFixture()
                    f.datatype = datatype; f.bitpix = bits; f.sclSlope = slope; f.sclInter = inter
                    f.bigEndian = big
                    f.quatern = SIMD3(0.2, 0.1, -0.1); f.qoffset = SIMD3(1, 2, 3)
                    let path = scratch + "/t\(cases.count).nii"
                    try f.write(path)
                    cases.append(("datatype \(datatype) slope \(slope) inter \(inter) big \(big)", f, path))
                }
            }
        }
        let references = try SimpleITKPeer.read(cases.map(\.path), scratch: scratch)
        for (c, reference) in zip(cases, references) {
            assertSameVolume(try NIfTI.read(c.path), reference, tolerance: 1e-9, c.label)
            var f = c.fixture
            f.version = 2
            try f.write(c.path + "2.nii")
            assertSameVolume(try NIfTI.read(c.path + "2.nii"), reference, tolerance: 1e-5, c.label + " NIfTI-2")
        }
    }

    /// .nii.gz and a two-file .hdr/.img pair read like the single .nii.
    func testGzipAndHeaderImagePair() throws {
        let scratch = try TestEnv.scratch(self, "nii-pair")
        var f = NIfTIFixture()
        f.quatern = SIMD3(0, 0, 1); f.qoffset = SIMD3(5, 6, 7)
        try f.write(scratch + "/a.nii")
        let plain = try NIfTI.read(scratch + "/a.nii")
        try Gzip.compress(f.bytes()).write(to: URL(fileURLWithPath: scratch + "/a.nii.gz"))
        XCTAssertEqual(try NIfTI.read(scratch + "/a.nii.gz"), plain)
        f.magic = "ni1"
        let bytes = f.bytes()
        try bytes.prefix(352).write(to: URL(fileURLWithPath: scratch + "/b.hdr"))
        try bytes.dropFirst(352).write(to: URL(fileURLWithPath: scratch + "/b.img"))
        // A pair's vox_offset is where the voxels start in the .img: 352 here, so rewrite it as 0.
        var header = [UInt8](bytes.prefix(352))
        withUnsafeBytes(of: Float(0).bitPattern.littleEndian) { for (k, b) in $0.enumerated() { header[108 + k] = b } }
        try Data(header).write(to: URL(fileURLWithPath: scratch + "/b.hdr"))
        XCTAssertEqual(try NIfTI.read(scratch + "/b.hdr"), plain)
        assertSameVolume(plain, try SimpleITKPeer.read(scratch + "/b.hdr", scratch: scratch), tolerance: 1e-6, "hdr/img pair")
    }

    /// 4-D: one volume reads as 3-D, several are refused with what to do.
    func testFourD() throws {
        let scratch = try TestEnv.scratch(self, "nii-4d")
        var f = NIfTIFixture()
        f.dims = [4, 4, 3, 2, 1, 1, 1, 1]
        try f.write(scratch + "/one.nii")
        XCTAssertEqual(try NIfTI.read(scratch + "/one.nii").size, SIMD3(4, 3, 2))
        f.dims = [4, 4, 3, 2, 3, 1, 1, 1]
        try f.write(scratch + "/three.nii")
        assertVolumeError(try NIfTI.read(scratch + "/three.nii"), names: "three.nii", ["3 volumes", "extract"])
    }

    func testBadInput() throws {
        let dir = try TestEnv.scratch(self, "nii-bad")
        try Data(repeating: 7, count: 400).write(to: URL(fileURLWithPath: dir + "/x.nii"))
        assertVolumeError(try NIfTI.read(dir + "/x.nii"), names: "x.nii", ["not NIfTI"])
        var f = NIfTIFixture()
        try f.bytes().dropLast(5).write(to: URL(fileURLWithPath: dir + "/short.nii"))
        assertVolumeError(try NIfTI.read(dir + "/short.nii"), names: "short.nii", ["truncated"])
        try f.bytes().prefix(200).write(to: URL(fileURLWithPath: dir + "/head.nii"))
        assertVolumeError(try NIfTI.read(dir + "/head.nii"), names: "head.nii", ["too short"])
        try Gzip.compress(f.bytes()).dropLast(30).write(to: URL(fileURLWithPath: dir + "/cut.nii.gz"))
        assertVolumeError(try NIfTI.read(dir + "/cut.nii.gz"), names: "cut.nii.gz", ["truncated"])
        f.datatype = 128; f.bitpix = 24
        try f.write(dir + "/rgb.nii")
        assertVolumeError(try NIfTI.read(dir + "/rgb.nii"), names: "rgb.nii", ["RGB24", "grey"])
        f = NIfTIFixture(); f.magic = "xx1"
        try f.write(dir + "/analyze.nii")
        assertVolumeError(try NIfTI.read(dir + "/analyze.nii"), names: "analyze.nii", ["ANALYZE"])
        assertVolumeError(try NIfTI.read(dir + "/missing.nii"), names: "missing.nii", ["no such file"])
    }

    /// The writer: float32, int16 and uint8, .nii and .nii.gz, an oblique left-handed
    /// direction; SimpleITK reads back our geometry (within float precision, 1e-5) and values.
    func testWriterRoundTripsThroughSimpleITK() throws {
        let scratch = try TestEnv.scratch(self, "nii-write")
        let rot = NIfTIHeader.rotation(fromQuaternion: SIMD3(0.15, -0.05, 0.2))
        let leftHanded = [rot[0], rot[1], -rot[2], rot[3], rot[4], -rot[5], rot[6], rot[7], -rot[8]]
        var written: [(label: String, volume: Volume, path: String)] = []
        for (k, direction) in [Volume.identityDirection, rot, leftHanded].enumerated() {
            for type in VoxelType.allCases {
                for ext in [".nii", ".nii.gz"] {
                    let size = SIMD3(7, 5, 3)
                    let voxels = (0..<105).map { (n: Int) -> Float in
                        switch type {
                        case .float32: return Float(n) * 0.37 - 12.5
                        case .int16: return Float(n * 311 % 6000 - 3000)
                        case .uint8: return Float(n * 7 % 256)
                        }
                    }
                    let volume = Volume(size: size, spacing: SIMD3(0.7, 1.3, 3.1), origin: SIMD3(-101.25, 37.5, -812.75),
                                        direction: direction, voxels: voxels)
                    let path = scratch + "/w\(k)-\(type.rawValue)\(ext)"
                    try NIfTI.write(volume, to: path, as: type)
                    written.append(("direction \(k) \(type) \(ext)", volume, path))
                }
            }
        }
        let references = try SimpleITKPeer.read(written.map(\.path), scratch: scratch)
        for (w, reference) in zip(written, references) {
            assertSameVolume(w.volume, reference, tolerance: 1e-5, w.label)
            assertSameVolume(w.volume, try NIfTI.read(w.path), tolerance: 1e-5, w.label + " (our reader)")
        }
    }

    /// Writes go through a temporary file: nothing is left behind, and a failed write (values
    /// that uint8 cannot hold) leaves the existing file untouched and says what to do.
    func testWriterIsAtomicAndRefusesOutOfRangeValues() throws {
        let scratch = try TestEnv.scratch(self, "nii-atomic")
        let good = Volume(size: SIMD3(2, 2, 1), spacing: SIMD3(1, 1, 1), voxels: [0, 1, 2, 3])
        try NIfTI.write(good, to: scratch + "/m.nii.gz", as: .uint8)
        let before = try Data(contentsOf: URL(fileURLWithPath: scratch + "/m.nii.gz"))
        let bad = Volume(size: SIMD3(2, 2, 1), spacing: SIMD3(1, 1, 1), voxels: [0, 1, 300, 3])
        assertVolumeError(try NIfTI.write(bad, to: scratch + "/m.nii.gz", as: .uint8), names: "m.nii.gz", ["300", "float32"])
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: scratch + "/m.nii.gz")), before)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: scratch), ["m.nii.gz"])
        assertVolumeError(try NIfTI.write(good, to: scratch + "/no/such/dir/m.nii", as: .uint8), names: "m.nii", ["folder"])
    }

    /// Any header field overwritten with 0xFF or 0x7F bytes (NaN, huge or negative values) is
    /// either read or refused with a VolumeError; never a crash.
    func testCorruptHeadersNeverCrash() throws {
        let scratch = try TestEnv.scratch(self, "nii-fuzz")
        for version in [1, 2] {
            var f = NIfTIFixture()
            f.version = version
            let good = f.bytes()
            for at in stride(from: 0, to: version == 1 ? 348 : 540, by: 2) {
                for pattern: [UInt8] in [[0xFF, 0xFF, 0xFF, 0xFF], [0x7F, 0xFF, 0xFF, 0x7F]] {
                    var bad = good
                    bad.replaceSubrange(at..<(at + 4), with: pattern)
                    try bad.write(to: URL(fileURLWithPath: scratch + "/f.nii"))
                    do { _ = try NIfTI.read(scratch + "/f.nii") } catch {
                        XCTAssertTrue(error is VolumeError && "\(error)".contains("f.nii"), "\(error)")
                    }
                }
            }
        }
    }
}
