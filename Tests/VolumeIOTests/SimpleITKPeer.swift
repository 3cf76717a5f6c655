import Foundation
import XCTest
import TestSupport
@testable import VolumeIO

/// SimpleITK (ITK 5.4) run live as the reference reader: it is LPS like `Volume`, so sizes,
/// spacings, origins, directions and voxels compare directly.
enum SimpleITKPeer {
    private static let script = """
    import sys, json
    import numpy as np
    import SimpleITK as sitk
    out, kind, args = sys.argv[1], sys.argv[2], sys.argv[3:]
    sitk.ProcessObject_SetGlobalWarningDisplay(False)
    if kind == "files":
        images = [sitk.ReadImage(a) for a in args]
    else:
        uids = sitk.ImageSeriesReader.GetGDCMSeriesIDs(args[0])
        uid = args[1] if len(args) > 1 else uids[0]
        images = [sitk.ReadImage(sitk.ImageSeriesReader.GetGDCMSeriesFileNames(args[0], uid))]
    result = []
    for n, image in enumerate(images):
        sitk.GetArrayFromImage(image).astype(np.float32).tofile(f"{out}.{n}")
        result.append({"size": image.GetSize(), "spacing": image.GetSpacing(), "origin": image.GetOrigin(),
                       "direction": image.GetDirection(), "type": image.GetPixelIDTypeAsString()})
    print(json.dumps(result))
    """

    /// SimpleITK's reading of a file (NIfTI, NRRD, a single DICOM file).
    static func read(_ path: String, scratch: String) throws -> Volume { try run("files", [path], scratch)[0] }

    /// SimpleITK's readings of several files in one Python run.
    static func read(_ paths: [String], scratch: String) throws -> [Volume] { try run("files", paths, scratch) }

    /// SimpleITK's reading of a DICOM series (GDCM sorting) from a folder.
    static func readSeries(_ folder: String, uid: String? = nil, scratch: String) throws -> Volume {
        try run("series", [folder] + (uid.map { [$0] } ?? []), scratch)[0]
    }

    private static func run(_ kind: String, _ args: [String], _ scratch: String) throws -> [Volume] {
        let out = scratch + "/sitk-\(UUID().uuidString)"
        let list = try TestEnv.json(try TestEnv.runPython(script, [out, kind] + args)) as! [[String: Any]]
        return try list.enumerated().map { n, json in
            let size = (json["size"] as! [Int]) + [1, 1]
            let spacing = (json["spacing"] as! [Double]) + [1, 1]
            let origin = (json["origin"] as! [Double]) + [0, 0]
            var direction = json["direction"] as! [Double]
            if direction.count == 4 { direction = [direction[0], direction[1], 0, direction[2], direction[3], 0, 0, 0, 1] }
            if direction.count == 16 { direction = [0, 1, 2, 4, 5, 6, 8, 9, 10].map { direction[$0] } }
            let data = try Data(contentsOf: URL(fileURLWithPath: "\(out).\(n)"))
            let voxels = data.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
            return Volume(size: SIMD3(size[0], size[1], size[2]), spacing: SIMD3(spacing[0], spacing[1], spacing[2]),
                          origin: SIMD3(origin[0], origin[1], origin[2]), direction: direction, voxels: voxels)
        }
    }
}

/// Asserts same size, geometry within `tolerance` (mm; unitless for direction cosines) and
/// voxels within `valueTolerance` (absolute) — 0 means bit-equal.
func assertSameVolume(_ ours: Volume, _ theirs: Volume, tolerance: Double = 1e-6, valueTolerance: Float = 0,
                      _ what: String, file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(ours.size, theirs.size, "\(what): size", file: file, line: line)
    for k in 0..<3 {
        XCTAssertEqual(ours.spacing[k], theirs.spacing[k], accuracy: tolerance, "\(what): spacing[\(k)]", file: file, line: line)
        XCTAssertEqual(ours.origin[k], theirs.origin[k], accuracy: tolerance, "\(what): origin[\(k)]", file: file, line: line)
    }
    for k in 0..<9 {
        XCTAssertEqual(ours.direction[k], theirs.direction[k], accuracy: tolerance, "\(what): direction[\(k)]", file: file, line: line)
    }
    guard ours.voxels.count == theirs.voxels.count else { return }
    var worst = (index: -1, diff: Float(0))
    for n in 0..<ours.voxels.count {
        let a = ours.voxels[n], b = theirs.voxels[n]
        let d = a.isNaN && b.isNaN ? 0 : abs(a - b)
        if !(d <= worst.diff) { worst = (n, d.isNaN ? .infinity : d) }
    }
    XCTAssertTrue(worst.diff <= valueTolerance,
                  "\(what): voxel \(worst.index) differs by \(worst.diff) (ours \(worst.index >= 0 ? ours.voxels[worst.index] : 0), SimpleITK \(worst.index >= 0 ? theirs.voxels[worst.index] : 0))",
                  file: file, line: line)
}

/// Asserts that `body` throws a VolumeError whose text names `file` and contains each of `words`.
func assertVolumeError<T>(_ body: @autoclosure () throws -> T, names file: String, _ words: [String],
                          sourceFile: StaticString = #filePath, line: UInt = #line) {
    XCTAssertThrowsError(try body(), file: sourceFile, line: line) { error in
        let text = "\(error)"
        XCTAssertTrue(error is VolumeError, "not a VolumeError: \(text)", file: sourceFile, line: line)
        XCTAssertTrue(text.contains(file), "the error names the file (\(file)): \(text)", file: sourceFile, line: line)
        for w in words { XCTAssertTrue(text.lowercased().contains(w.lowercased()), "the error says '\(w)': \(text)", file: sourceFile, line: line) }
    }
}
