import Foundation
import XCTest
import TestSupport
import ZlibIO
@testable import VolumeIO

final class NRRDTests: XCTestCase {
    /// PyRadiomics' brain1 and breast1 MR volumes and labels (gzip, LPS) read as SimpleITK does.
    func testRealVolumesMatchSimpleITK() throws {
        let dir = try TestEnv.testdata("radiology/pyradiomics")
        let scratch = try TestEnv.scratch(self, "nrrd-real")
        let paths = ["brain1_image", "brain1_label", "breast1_image", "breast1_label"].map { "\(dir)/\($0).nrrd" }
        for (path, reference) in zip(paths, try SimpleITKPeer.read(paths, scratch: scratch)) {
            assertSameVolume(try NRRD.read(path), reference, tolerance: 1e-12, path)
        }
        let brain = try NRRD.read(paths[0])
        XCTAssertEqual(brain.size, SIMD3(256, 256, 25))
        XCTAssertEqual(brain.direction[4], -1, "brain1's j axis points anterior")
    }

    /// Little-endian int16 ramp of 4×3×2 voxels, as the synthetic files below store it.
    private static let size = SIMD3(4, 3, 2)
    private static func ramp(_ type: ScalarType, bigEndian: Bool = false) -> Data {
        var d = Data()
        for n in 0..<24 {
            let v = n * 5 - 40
            func add<T: FixedWidthInteger>(_ x: T) { withUnsafeBytes(of: bigEndian ? x.bigEndian : x.littleEndian) { d.append(contentsOf: $0) } }
            switch type {
            case .int8: add(Int8(v))
            case .uint8: add(UInt8(v + 40))
            case .int16: add(Int16(v))
            case .uint16: add(UInt16(v + 40))
            case .int32: add(Int32(v))
            case .uint32: add(UInt32(v + 40))
            case .int64: add(Int64(v))
            case .uint64: add(UInt64(v + 40))
            case .float32: add(Float(Double(v) + 0.5).bitPattern)
            case .float64: add((Double(v) + 0.25).bitPattern)
            }
        }
        return d
    }

    private static func header(_ lines: [String]) -> Data { Data((["NRRD0004"] + lines).joined(separator: "\n").utf8 + [0x0A]) }

    /// Synthetic files covering types, endianness, encodings, spaces, detached data with line
    /// and byte skips, spaceless grids and a size-1 list axis; each against SimpleITK.
    func testVariantsMatchSimpleITK() throws {
        let dir = try TestEnv.scratch(self, "nrrd-var")
        let oblique = "space directions: (0.6,0.8,0) (-1.6,1.2,0) (0,0,2.5)"
        let geometry = ["dimension: 3", "sizes: 4 3 2", oblique, "space origin: (-10.5,20,-300.25)"]
        var files: [(String, Data)] = []
        func attached(_ name: String, _ lines: [String], _ payload: Data) {
            var d = NRRDTests.header(lines)
            d.append(0x0A)
            d.append(payload)
            files.append((name, d))
        }
        let types: [(String, ScalarType)] = [("signed char", .int8), ("uchar", .uint8), ("short", .int16), ("unsigned short", .uint16),
                                              ("int", .int32), ("uint", .uint32), ("float", .float32), ("double", .float64)]
        for (name, type) in types {
            for big in [false, true] {
                attached("t-\(name.replacingOccurrences(of: " ", with: "_"))-\(big).nrrd",
                         ["type: \(name)", "space: left-posterior-superior"] + geometry + ["endian: \(big ? "big" : "little")", "encoding: raw"],
                         NRRDTests.ramp(type, bigEndian: big))
            }
        }
        for space in ["right-anterior-superior", "left-anterior-superior", "scanner-xyz", "RAS"] {
            attached("s-\(space).nrrd", ["type: short", "space: \(space)"] + geometry + ["endian: little", "encoding: raw"], NRRDTests.ramp(.int16))
        }
        attached("gzip.nrrd", ["type: short", "space: left-posterior-superior"] + geometry + ["endian: little", "encoding: gzip"],
                 try Gzip.compress(NRRDTests.ramp(.int16)))
        let text = (0..<24).map { String($0 * 5 - 40) }.joined(separator: " ") + "\n"
        attached("ascii.nrrd", ["type: short", "space: left-posterior-superior"] + geometry + ["encoding: ascii"], Data(text.utf8))
        attached("nospace.nrrd", ["type: short", "dimension: 3", "sizes: 4 3 2", "spacings: 0.5 2 3", "axis mins: 10 20 30",
                                  "endian: little", "encoding: raw"], NRRDTests.ramp(.int16))
        attached("list1.nrrd", ["type: short", "dimension: 4", "space: left-posterior-superior", "sizes: 1 4 3 2",
                                "space directions: none (0.6,0.8,0) (-1.6,1.2,0) (0,0,2.5)", "kinds: list domain domain domain",
                                "space origin: (-10.5,20,-300.25)", "endian: little", "encoding: raw"], NRRDTests.ramp(.int16))
        // Detached: raw with 2 skipped lines and 5 skipped bytes; gzip; raw with byte skip -1.
        var raw = Data("junk line one\njunk line two\n12345".utf8)
        raw.append(NRRDTests.ramp(.int16))
        files.append(("skip.raw", raw))
        files.append(("skip.nhdr", NRRDTests.header(["type: short", "space: left-posterior-superior"] + geometry +
            ["endian: little", "encoding: raw", "line skip: 2", "byte skip: 5", "data file: skip.raw"])))
        files.append(("d.raw.gz", try Gzip.compress(NRRDTests.ramp(.int16))))
        files.append(("d.nhdr", NRRDTests.header(["type: short", "space: left-posterior-superior"] + geometry +
            ["endian: little", "encoding: gzip", "data file: d.raw.gz"])))
        var tail = Data(repeating: 9, count: 17)
        tail.append(NRRDTests.ramp(.int16))
        files.append(("tail.raw", tail))
        files.append(("tail.nhdr", NRRDTests.header(["type: short", "space: left-posterior-superior"] + geometry +
            ["endian: little", "encoding: raw", "byte skip: -1", "data file: tail.raw"])))

        for (name, data) in files { try data.write(to: URL(fileURLWithPath: "\(dir)/\(name)")) }
        let headers = files.map(\.0).filter { !$0.hasSuffix(".raw") && !$0.hasSuffix(".gz") }.map { "\(dir)/\($0)" }
        let references = try SimpleITKPeer.read(headers, scratch: dir)
        for (path, reference) in zip(headers, references) {
            assertSameVolume(try NRRD.read(path), reference, tolerance: 1e-12, path)
        }
    }

    func testBadInput() throws {
        let dir = try TestEnv.scratch(self, "nrrd-bad")
        func write(_ name: String, _ lines: [String], _ payload: Data) throws {
            var d = NRRDTests.header(lines)
            d.append(0x0A)
            d.append(payload)
            try d.write(to: URL(fileURLWithPath: "\(dir)/\(name)"))
        }
        let geometry = ["space: left-posterior-superior", "space directions: (1,0,0) (0,1,0) (0,0,1)", "space origin: (0,0,0)"]
        try write("vector.nrrd", ["type: short", "dimension: 4", "sizes: 3 4 3 2", "kinds: vector domain domain domain",
                                  "space: left-posterior-superior", "space directions: none (1,0,0) (0,1,0) (0,0,1)",
                                  "endian: little", "encoding: raw"], Data(count: 144))
        assertVolumeError(try NRRD.read(dir + "/vector.nrrd"), names: "vector.nrrd", ["vector axis of 3", "one component"])
        try write("4d.nrrd", ["type: short", "dimension: 4", "sizes: 4 3 2 5", "endian: little", "encoding: raw"], Data(count: 240))
        assertVolumeError(try NRRD.read(dir + "/4d.nrrd"), names: "4d.nrrd", ["4 spatial axes", "extract"])
        try write("short.nrrd", ["type: short", "dimension: 3", "sizes: 4 3 2"] + geometry + ["endian: little", "encoding: raw"], Data(count: 40))
        assertVolumeError(try NRRD.read(dir + "/short.nrrd"), names: "short.nrrd", ["truncated"])
        try write("cut.nrrd", ["type: short", "dimension: 3", "sizes: 4 3 2"] + geometry + ["endian: little", "encoding: gzip"],
                  try Gzip.compress(Data(count: 48)).dropLast(12))
        assertVolumeError(try NRRD.read(dir + "/cut.nrrd"), names: "cut.nrrd", ["truncated"])
        try write("bz.nrrd", ["type: short", "dimension: 3", "sizes: 4 3 2"] + geometry + ["endian: little", "encoding: bzip2"], Data(count: 48))
        assertVolumeError(try NRRD.read(dir + "/bz.nrrd"), names: "bz.nrrd", ["bzip2", "gzip"])
        try write("skew.nrrd", ["type: short", "dimension: 3", "sizes: 4 3 2", "space: left-posterior-superior",
                                "space directions: (1,0,0) (0.5,1,0) (0,0,1)", "endian: little", "encoding: raw"], Data(count: 48))
        assertVolumeError(try NRRD.read(dir + "/skew.nrrd"), names: "skew.nrrd", ["not orthogonal", "resample"])
        try write("notype.nrrd", ["dimension: 3", "sizes: 4 3 2", "encoding: raw"], Data(count: 48))
        assertVolumeError(try NRRD.read(dir + "/notype.nrrd"), names: "notype.nrrd", ["'type'"])
        try NRRDTests.header(["type: short", "dimension: 3", "sizes: 4 3 2", "endian: little", "encoding: raw", "data file: gone.raw"])
            .write(to: URL(fileURLWithPath: dir + "/gone.nhdr"))
        assertVolumeError(try NRRD.read(dir + "/gone.nhdr"), names: "gone.raw", ["no such file"])
        try Data("P5 4 3 255\n".utf8).write(to: URL(fileURLWithPath: dir + "/x.nrrd"))
        assertVolumeError(try NRRD.read(dir + "/x.nrrd"), names: "x.nrrd", ["not NRRD"])
    }

    /// The writer (gzip, LPS, attached .nrrd and detached .nhdr): SimpleITK reads back the same
    /// geometry (doubles written in full, so to 1e-12) and values; our reader too.
    func testWriterRoundTripsThroughSimpleITK() throws {
        let dir = try TestEnv.scratch(self, "nrrd-write")
        let rot = NIfTIHeader.rotation(fromQuaternion: SIMD3(0.15, -0.05, 0.2))
        var written: [(Volume, String)] = []
        for type in VoxelType.allCases {
            for ext in [".nrrd", ".nhdr"] {
                let voxels = (0..<105).map { (n: Int) -> Float in
                    switch type {
                    case .float32: return Float(n) * 0.37 - 12.5
                    case .int16: return Float(n * 311 % 6000 - 3000)
                    case .uint8: return Float(n * 7 % 256)
                    }
                }
                let volume = Volume(size: SIMD3(7, 5, 3), spacing: SIMD3(0.7, 1.3, 3.1), origin: SIMD3(-101.25, 37.5, -812.75),
                                    direction: rot, voxels: voxels)
                let path = "\(dir)/w-\(type.rawValue)\(ext)"
                try NRRD.write(volume, to: path, as: type)
                written.append((volume, path))
            }
        }
        for ((volume, path), reference) in zip(written, try SimpleITKPeer.read(written.map(\.1), scratch: dir)) {
            assertSameVolume(volume, reference, tolerance: 1e-12, path)
            assertSameVolume(volume, try NRRD.read(path), tolerance: 1e-12, path + " (our reader)")
        }
        XCTAssertFalse(try FileManager.default.contentsOfDirectory(atPath: dir).contains { $0.contains(".tmp-") })
    }
}

final class VolumeFileTests: XCTestCase {
    /// Reading and writing by path dispatch on the extension (or the folder / content).
    func testDispatchByPath() throws {
        let scratch = try TestEnv.scratch(self, "vf")
        let volume = Volume(size: SIMD3(3, 2, 2), spacing: SIMD3(0.5, 0.5, 2), origin: SIMD3(1, 2, 3),
                            voxels: (0..<12).map { Float($0) })
        for ext in [".nii", ".nii.gz", ".nrrd", ".nhdr"] {
            try VolumeFile.write(volume, to: scratch + "/v" + ext, as: .int16)
            XCTAssertEqual(try VolumeFile.read(scratch + "/v" + ext), volume, ext)
        }
        try FileManager.default.copyItem(atPath: scratch + "/v.nrrd", toPath: scratch + "/v.data")
        XCTAssertEqual(try VolumeFile.read(scratch + "/v.data"), volume, "NRRD recognised by its magic")
        assertVolumeError(try VolumeFile.write(volume, to: scratch + "/v.png"), names: "v.png", ["extension"])
        let ct = try TestEnv.testdata("radiology/sts_001/dicom_ct/image")
        XCTAssertEqual(try VolumeFile.read(ct).size, SIMD3(198, 202, 59))
        assertVolumeError(try VolumeFile.read(ct + "/000000.dcm"), names: "000000.dcm", ["single DICOM file", "folder"])
    }
}
