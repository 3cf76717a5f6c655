import Foundation
import TestSupport
import XCTest
@testable import PatchBag

final class RoundTripTests: XCTestCase {
    /// Every attribute kind, with edge values: extremes, empty arrays, non-ASCII, empty string.
    let everyKind: [String: HDF5Value] = [
        "i": .int(-42), "imax": .int(.max), "imin": .int(.min),
        "d": .double(0.1), "dneg": .double(-1e300), "dinf": .double(.infinity),
        "s": .string("hello"), "s_utf8": .string("Ünïcødé µm ✓"), "s_empty": .string(""),
        "ia": .ints([1, -2, 3_000_000_000_000]), "ia_empty": .ints([]), "ia_one": .ints([7]),
        "da": .doubles([0.5, -0.25, 1e-300]), "da_empty": .doubles([]),
    ]

    func testFullBagRoundTrip() throws {
        let dir = try makeScratchDir(self, "roundtrip")
        let path = dir + "/slide.h5"
        let n = 10_000  // crosses the 4096-row chunk of coords
        var coords = [Int64](repeating: 0, count: n * 2)
        for i in 0..<n { coords[2 * i] = Int64(i % 97) * 256; coords[2 * i + 1] = Int64(i / 97) * 256 + 3_000_000_000 }
        let tf = (0..<n).map { Float($0 % 101) / 100 }
        let dim = 7
        let features = (0..<(n * dim)).map { Float($0) * 0.001 - 3 }
        let coordsAttrs = clamAttributes.merging(tridentAttributes) { a, _ in a }.merging(everyKind) { a, _ in a }
        let fileAttrs: [String: HDF5Value] = ["radiopath_version": .string("0.1.0"), "seed": .int(1234),
                                              "target_mpp": .double(0.5), "params": .string("{\"a\": 1}")]
        try PatchBag.write(path: path, coords: coords, coordsAttributes: coordsAttrs, tissueFraction: tf,
                           features: features, featureDim: dim, fileAttributes: fileAttrs)

        let back = try PatchBag.read(path: path)
        XCTAssertEqual(back.count, n)
        XCTAssertEqual(back.coords, coords)
        XCTAssertEqual(back.tissueFraction, tf)
        XCTAssertEqual(back.features, features)
        XCTAssertEqual(back.featureDim, dim)
        XCTAssertEqual(back.coordsAttributes, coordsAttrs)
        XCTAssertEqual(back.fileAttributes, fileAttrs)
        XCTAssertEqual(try listing(dir), ["slide.h5"], "no temporary file may remain")
        XCTAssertTrue(PatchBag.isComplete(path: path))
    }

    func testOptionalDatasetsStayAbsent() throws {
        let dir = try makeScratchDir(self, "optional")
        let path = dir + "/a.h5"
        try PatchBag.write(path: path, coords: [1, 2, 3, 4], coordsAttributes: ["patch_size": .int(224)],
                           tissueFraction: nil, fileAttributes: [:])
        let back = try PatchBag.read(path: path)
        XCTAssertEqual(back, PatchBagContents(coords: [1, 2, 3, 4], coordsAttributes: ["patch_size": .int(224)]))
        XCTAssertNil(back.tissueFraction)
        XCTAssertNil(back.features)
        XCTAssertNil(back.featureDim)
    }

    func testEmptyBagIsAValidFile() throws {
        let dir = try makeScratchDir(self, "empty")
        let path = dir + "/nested/deeper/empty.h5"  // parents are created
        try PatchBag.write(path: path, coords: [], coordsAttributes: clamAttributes, tissueFraction: [],
                           features: [], featureDim: 4, fileAttributes: ["note": .string("no tissue")])
        XCTAssertTrue(PatchBag.isComplete(path: path))
        let back = try PatchBag.read(path: path)
        XCTAssertEqual(back.count, 0)
        XCTAssertEqual(back.coords, [])
        XCTAssertEqual(back.tissueFraction, [])
        XCTAssertEqual(back.features, [])
        XCTAssertEqual(back.featureDim, 4)
        XCTAssertEqual(back.coordsAttributes, clamAttributes)
        XCTAssertEqual(back.fileAttributes, ["note": .string("no tissue")])
    }

    func testOverwriteReplacesTheOldBag() throws {
        let dir = try makeScratchDir(self, "overwrite")
        let path = dir + "/a.h5"
        try PatchBag.write(path: path, coords: [1, 2], coordsAttributes: ["v": .int(1)], tissueFraction: [0.5],
                           fileAttributes: [:])
        try PatchBag.write(path: path, coords: [5, 6, 7, 8], coordsAttributes: ["v": .int(2)], tissueFraction: nil,
                           fileAttributes: [:])
        let back = try PatchBag.read(path: path)
        XCTAssertEqual(back.coords, [5, 6, 7, 8])
        XCTAssertEqual(back.coordsAttributes, ["v": .int(2)])
        XCTAssertNil(back.tissueFraction)
        XCTAssertEqual(try listing(dir), ["a.h5"])
    }

    /// Same input, same bytes: no timestamps, attributes in key order.
    func testWritingIsDeterministic() throws {
        let dir = try makeScratchDir(self, "determinism")
        let attrs = clamAttributes.merging(everyKind) { a, _ in a }
        for name in ["a.h5", "b.h5"] {
            try PatchBag.write(path: dir + "/" + name, coords: [0, 0, 256, 0, 0, 256], coordsAttributes: attrs,
                               tissueFraction: [1, 0.5, 0.25], features: [1, 2, 3, 4, 5, 6], featureDim: 2,
                               fileAttributes: ["tool": .string("radiopath")])
            Thread.sleep(forTimeInterval: 1.1)  // a stored timestamp would differ
        }
        let a = try Data(contentsOf: URL(fileURLWithPath: dir + "/a.h5"))
        let b = try Data(contentsOf: URL(fileURLWithPath: dir + "/b.h5"))
        XCTAssertEqual(a, b)
    }

    func testInvalidInputIsRejectedBeforeWriting() throws {
        let dir = try makeScratchDir(self, "invalid")
        let path = dir + "/x.h5"
        func expectInvalid(_ fragment: String, _ body: () throws -> Void, line: UInt = #line) {
            XCTAssertThrowsError(try body(), line: line) { e in
                guard let e = e as? PatchBagError else { return XCTFail("not a PatchBagError: \(e)", line: line) }
                XCTAssertEqual(e.kind, .invalidInput, line: line)
                XCTAssertTrue(e.description.contains(path), "\(e)", line: line)
                XCTAssertTrue(e.description.contains(fragment), "\(e)", line: line)
            }
        }
        expectInvalid("x, y pairs") {
            try PatchBag.write(path: path, coords: [1, 2, 3], coordsAttributes: [:], tissueFraction: nil, fileAttributes: [:])
        }
        expectInvalid("tissue_fraction has 1 values for 2 patches") {
            try PatchBag.write(path: path, coords: [1, 2, 3, 4], coordsAttributes: [:], tissueFraction: [1], fileAttributes: [:])
        }
        expectInvalid("needs 6") {
            try PatchBag.write(path: path, coords: [1, 2, 3, 4], coordsAttributes: [:], tissueFraction: nil,
                               features: [1, 2, 3], featureDim: 3, fileAttributes: [:])
        }
        expectInvalid("without featureDim") {
            try PatchBag.write(path: path, coords: [1, 2], coordsAttributes: [:], tissueFraction: nil,
                               features: [1], fileAttributes: [:])
        }
        expectInvalid("empty name") {
            try PatchBag.write(path: path, coords: [1, 2], coordsAttributes: ["": .int(1)], tissueFraction: nil, fileAttributes: [:])
        }
        XCTAssertEqual(try listing(dir), [])
    }

    func testReadErrorsAreClear() throws {
        let dir = try makeScratchDir(self, "readerrors")
        let missing = dir + "/missing.h5"
        XCTAssertThrowsError(try PatchBag.read(path: missing)) { e in
            XCTAssertEqual((e as? PatchBagError)?.kind, .notFound)
            XCTAssertTrue("\(e)".contains(missing), "\(e)")
        }
        XCTAssertFalse(PatchBag.isComplete(path: missing))

        let garbage = dir + "/garbage.h5"
        try Data("not hdf5 at all".utf8).write(to: URL(fileURLWithPath: garbage))
        XCTAssertThrowsError(try PatchBag.read(path: garbage)) { e in
            XCTAssertEqual((e as? PatchBagError)?.kind, .notAPatchBag)
            XCTAssertTrue("\(e)".contains(garbage) && "\(e)".contains("not an HDF5 file"), "\(e)")
        }
        XCTAssertFalse(PatchBag.isComplete(path: garbage))

        // A real bag cut short (what a non-atomic writer would leave after a crash).
        let good = dir + "/good.h5"
        try PatchBag.write(path: good, coords: [Int64](repeating: 5, count: 20_000), coordsAttributes: clamAttributes,
                           tissueFraction: nil, fileAttributes: [:])
        let bytes = try Data(contentsOf: URL(fileURLWithPath: good))
        let cut = dir + "/cut.h5"
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: cut))
        XCTAssertFalse(PatchBag.isComplete(path: cut))
        XCTAssertThrowsError(try PatchBag.read(path: cut)) { e in
            XCTAssertTrue("\(e)".contains(cut), "\(e)")
        }
        XCTAssertThrowsError(try PatchBag.read(path: dir)) { e in
            XCTAssertEqual((e as? PatchBagError)?.kind, .notAPatchBag)
        }
        XCTAssertFalse(PatchBag.isComplete(path: dir))
    }
}

final class ScoreColumnTests: XCTestCase {
    /// Per-patch columns (a MIL model's attention) travel with the coordinates; h5py sees
    /// them as plain float32 datasets.
    func testScoreColumnsRoundTripAndReachH5py() throws {
        let path = try TestEnv.scratch(self, "scores") + "/a.h5"
        let coords: [Int64] = [0, 0, 256, 0, 512, 256]
        try PatchBag.write(path: path, coords: coords, coordsAttributes: ["patch_size": .int(256)], tissueFraction: [1, 0.5, 0.75],
                           scores: ["attention": [0.2, 0.5, 0.3], "attention_raw": [-1, 0.5, 0]], fileAttributes: [:])
        let back = try PatchBag.read(path: path, scores: ["attention", "attention_raw", "absent"])
        XCTAssertEqual(back.scores["attention"], [0.2, 0.5, 0.3])
        XCTAssertEqual(back.scores["attention_raw"], [-1, 0.5, 0])
        XCTAssertNil(back.scores["absent"])
        XCTAssertEqual(back.tissueFraction, [1, 0.5, 0.75])
        XCTAssertTrue(try PatchBag.read(path: path).scores.isEmpty, "only columns asked for are loaded")
        let out = try TestEnv.runPython("""
        import h5py, sys
        f = h5py.File(sys.argv[1], "r")
        print(f["attention"].dtype, f["attention"].shape, round(float(f["attention"][1]), 6))
        """, [path])
        XCTAssertEqual(String(decoding: out, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines), "float32 (3,) 0.5")
        XCTAssertThrowsError(try PatchBag.write(path: path + "2", coords: coords, coordsAttributes: [:], tissueFraction: nil,
                                                scores: ["attention": [1]], fileAttributes: [:]))
    }
}
