import Foundation
import XCTest
@testable import PatchBag

final class FeatureBagWriterTests: XCTestCase {
    // MARK: helpers

    /// Level-0 corner of bag row `r` (values past 2^32 to catch a 32-bit path).
    static func coord(_ r: Int) -> (Int64, Int64) { (Int64(r % 101) * 256, Int64(r / 101) * 256 + 5_000_000_000) }

    /// Feature (r, c): varied signs and magnitudes, plus -0, the largest finite and a subnormal,
    /// so a lossy or reordering path shows up in an exact comparison.
    static func feature(_ r: Int, _ c: Int) -> Float {
        switch (r * 31 + c) % 97 {
        case 0: return -0.0
        case 1: return .greatestFiniteMagnitude
        case 2: return .leastNonzeroMagnitude
        default:
            let h = UInt32(truncatingIfNeeded: r &* 2_654_435_761 ^ c &* 40_503)
            return Float(Int32(bitPattern: h)) / 65_536
        }
    }

    static func rows(_ range: Range<Int>, dim: Int) -> (coords: [Int64], features: [Float]) {
        var coords: [Int64] = []
        var features: [Float] = []
        coords.reserveCapacity(range.count * 2)
        features.reserveCapacity(range.count * dim)
        for r in range {
            let (x, y) = coord(r)
            coords += [x, y]
            for c in 0..<dim { features.append(feature(r, c)) }
        }
        return (coords, features)
    }

    func append(_ w: FeatureBagWriter, _ coords: [Int64], _ features: [Float], count: Int) throws {
        try coords.withUnsafeBufferPointer { c in
            try features.withUnsafeBufferPointer { f in try w.append(coords: c, features: f, count: count) }
        }
    }

    /// Writes rows 0..<sum(batches) in the given batch sizes; returns the full arrays.
    @discardableResult
    func writeBag(_ path: String, dim: Int, batches: [Int], expectedCount: Int? = nil, gzipLevel: Int? = nil,
                  coordsAttributes: [String: HDF5Value] = clamAttributes,
                  fileAttributes: [String: HDF5Value] = ["tool": .string("radiopath")],
                  extra: [String: HDF5Value] = ["encoder": .string("test-encoder")]) throws -> (coords: [Int64], features: [Float]) {
        let w = try FeatureBagWriter(path: path, featureDim: dim, coordsAttributes: coordsAttributes,
                                     fileAttributes: fileAttributes, expectedCount: expectedCount, gzipLevel: gzipLevel)
        var start = 0
        for n in batches {
            let b = Self.rows(start..<(start + n), dim: dim)
            try append(w, b.coords, b.features, count: n)
            start += n
        }
        XCTAssertEqual(w.count, start)
        try w.finish(fileAttributes: extra)
        return Self.rows(0..<start, dim: dim)
    }

    func assertBitEqual(_ a: [Float]?, _ b: [Float], _ message: String, line: UInt = #line) {
        XCTAssertEqual(a?.map(\.bitPattern), b.map(\.bitPattern), message, line: line)
    }

    func expectError(_ kind: PatchBagError.Kind, _ fragments: [String], path: String, line: UInt = #line,
                     _ body: () throws -> Void) {
        XCTAssertThrowsError(try body(), line: line) { e in
            guard let e = e as? PatchBagError else { return XCTFail("not a PatchBagError: \(e)", line: line) }
            XCTAssertEqual(e.kind, kind, "\(e)", line: line)
            XCTAssertTrue(e.description.contains(path), "the error must name the bag: \(e)", line: line)
            XCTAssertFalse(e.description.contains(".tmp-"), "the error must not name the temp file: \(e)", line: line)
            for f in fragments { XCTAssertTrue(e.description.contains(f), "missing '\(f)' in: \(e)", line: line) }
        }
    }

    // MARK: round trip

    /// Batches of uneven sizes (0, 1, across chunk edges, never a chunk multiple) read back bit
    /// for bit, with every attribute; the same rows written at once by `PatchBag.write` read
    /// back identical.
    func testRoundTripOverSeveralAppends() throws {
        let dir = try makeScratchDir(self, "fbw-roundtrip")
        // D = 768: 341-row feature chunks. Without expectedCount coords use 4096-row chunks,
        // crossed here too (9001 rows).
        for (name, dim, batches, expected) in [("a.h5", 768, [0, 1, 340, 2, 400, 257, 0], Optional(1000)),
                                               ("b.h5", 3, [4095, 2, 0, 4904], nil)] {
            let path = dir + "/" + name
            let total = batches.reduce(0, +)
            let (coords, features) = try writeBag(path, dim: dim, batches: batches, expectedCount: expected)
            let back = try PatchBag.read(path: path)
            XCTAssertEqual(back.count, total, name)
            XCTAssertEqual(back.coords, coords, name)
            XCTAssertEqual(back.featureDim, dim, name)
            assertBitEqual(back.features, features, name)
            XCTAssertNil(back.tissueFraction)
            XCTAssertEqual(back.coordsAttributes, clamAttributes, name)
            XCTAssertEqual(back.fileAttributes, ["tool": .string("radiopath"), "encoder": .string("test-encoder")], name)
            XCTAssertTrue(PatchBag.isComplete(path: path))

            let once = dir + "/once-" + name
            try PatchBag.write(path: once, coords: coords, coordsAttributes: clamAttributes, tissueFraction: nil,
                               features: features, featureDim: dim, fileAttributes: back.fileAttributes)
            XCTAssertEqual(try PatchBag.read(path: once), back, "streamed and one-shot bags must hold the same")
        }
        XCTAssertEqual(try listing(dir), ["a.h5", "b.h5", "once-a.h5", "once-b.h5"], "no temporary file may remain")
    }

    func testEmptyBagRoundTrip() throws {
        let dir = try makeScratchDir(self, "fbw-empty")
        for (name, expected) in [("none.h5", Optional<Int>.none), ("zero.h5", 0)] {
            let path = dir + "/" + name
            try writeBag(path, dim: 16, batches: [0, 0], expectedCount: expected)
            let back = try PatchBag.read(path: path)
            XCTAssertEqual(back.count, 0)
            XCTAssertEqual(back.coords, [])
            XCTAssertEqual(back.features, [])
            XCTAssertEqual(back.featureDim, 16, "the width survives an empty bag")
            XCTAssertEqual(back.coordsAttributes, clamAttributes)
            XCTAssertTrue(PatchBag.isComplete(path: path))
        }
        // Missing parent folders are created, like PatchBag.write.
        let nested = dir + "/x/y/bag.h5"
        try writeBag(nested, dim: 1, batches: [])
        XCTAssertEqual(try PatchBag.read(path: nested).featureDim, 1)
    }

    // MARK: h5py

    /// Reads the bags the way CLAM (`f['features'][:]`, `f['coords'][:]`) and TRIDENT
    /// (`f['coords'].attrs[...]`) do and reports shapes, dtypes, exact bytes, chunking and
    /// attributes as JSON.
    static let h5pyScript = #"""
import json, sys
import h5py, numpy as np

def attr(v):
    if isinstance(v, np.ndarray):
        return {"type": "ndarray", "dtype": str(v.dtype), "value": v.tolist()}
    return {"type": type(v).__name__, "value": v.item() if isinstance(v, np.generic) else v}

out = {}
for p in sys.argv[1:]:
    with h5py.File(p, "r") as f:
        features = f["features"][:]
        coords = f["coords"][:]
        r = {"keys": sorted(f.keys()),
             "features": {"shape": list(features.shape), "dtype": str(features.dtype),
                          "bytes": np.ascontiguousarray(features).astype("<f4").tobytes().hex()},
             "coords": {"shape": list(coords.shape), "dtype": str(coords.dtype), "value": coords.tolist()},
             "coords_attrs": {k: attr(v) for k, v in f["coords"].attrs.items()},
             "features_attrs": sorted(f["features"].attrs.keys()),
             "file_attrs": {k: attr(v) for k, v in f.attrs.items()},
             "patch_size": int(f["coords"].attrs["patch_size"])}
        for name in ("coords", "features"):
            d = f[name]
            r[name]["chunks"] = list(d.chunks)
            r[name]["maxshape"] = [-1 if m is None else m for m in d.maxshape]
            r[name]["compression"] = d.compression
            r[name]["shuffle"] = d.shuffle
        out[p] = r
print(json.dumps(out))
"""#

    func testH5pyReadsLikeCLAMAndTRIDENT() throws {
        _ = try pythonOrSkip()
        let dir = try makeScratchDir(self, "fbw-h5py")
        let plain = dir + "/plain.h5", small = dir + "/small.h5", gz = dir + "/gzip.h5", empty = dir + "/empty.h5"
        let dim = 768
        let coordsAttrs = tridentAttributes.merging(["mpp": .double(0.5), "level_dim": .ints([46000, 32914])]) { a, _ in a }
        let provenance: [String: HDF5Value] = ["tool": .string("radiopath"), "seed": .int(7)]
        let bags: [(String, [Int], Int?, Int?)] = [(plain, [100, 300, 11], nil, nil), (small, [4, 6], 10, nil),
                                                  (gz, [200, 211], nil, 4), (empty, [], nil, nil)]
        var written: [String: (coords: [Int64], features: [Float])] = [:]
        for (path, batches, expected, gzip) in bags {
            written[path] = try writeBag(path, dim: dim, batches: batches, expectedCount: expected, gzipLevel: gzip,
                                         coordsAttributes: coordsAttrs, fileAttributes: provenance,
                                         extra: ["encoder": .string("test-encoder"), "seed": .int(8)])
        }
        let out = try jsonObject(try runPython(Self.h5pyScript, bags.map(\.0)))

        for (path, batches, expected, gzip) in bags {
            let n = batches.reduce(0, +)
            let r = try XCTUnwrap(out[path] as? [String: Any], path)
            let f = try XCTUnwrap(r["features"] as? [String: Any])
            let c = try XCTUnwrap(r["coords"] as? [String: Any])
            XCTAssertEqual(r["keys"] as? [String], ["coords", "features"], path)
            XCTAssertEqual(f["shape"] as? [Int], [n, dim], path)
            XCTAssertEqual(f["dtype"] as? String, "float32", path)
            XCTAssertEqual(c["shape"] as? [Int], [n, 2], path)
            XCTAssertEqual(c["dtype"] as? String, "int64", path)

            let w = try XCTUnwrap(written[path])
            let hex = w.features.withUnsafeBytes { $0.map { String(format: "%02x", $0) }.joined() }
            XCTAssertTrue(f["bytes"] as? String == hex, "\(path): h5py must see the exact float32 bits")
            let rows = try XCTUnwrap(c["value"] as? [[NSNumber]])
            XCTAssertEqual(rows.flatMap { $0.map(\.int64Value) }, w.coords, path)

            // Chunks: 1 MiB of features (341 rows at D = 768), 4096 coords rows, both capped at
            // expectedCount; rows appendable; gzip + shuffle only when asked.
            let featureRows = expected.map { min(341, max(1, $0)) } ?? 341
            XCTAssertEqual(f["chunks"] as? [Int], [featureRows, dim], path)
            XCTAssertEqual(c["chunks"] as? [Int], [expected.map { min(4096, max(1, $0)) } ?? 4096, 2], path)
            XCTAssertEqual(f["maxshape"] as? [Int], [-1, dim], path)
            XCTAssertEqual(c["maxshape"] as? [Int], [-1, 2], path)
            XCTAssertEqual(f["compression"] as? String, gzip == nil ? nil : "gzip", path)
            XCTAssertEqual(f["shuffle"] as? Bool, gzip != nil, path)
            XCTAssertEqual(c["compression"] as? String, gzip == nil ? nil : "gzip", path)

            XCTAssertEqual(r["patch_size"] as? Int, 256, "TRIDENT-style attribute read")
            let ca = try XCTUnwrap(r["coords_attrs"] as? [String: [String: Any]])
            XCTAssertEqual(Set(ca.keys), Set(coordsAttrs.keys), path)
            XCTAssertEqual(ca["patch_size_level0"]?["type"] as? String, "int64")
            XCTAssertEqual(ca["patch_size_level0"]?["value"] as? Int, 512)
            XCTAssertEqual(ca["name"]?["type"] as? String, "str", "strings must come back as str, not bytes")
            XCTAssertEqual(ca["name"]?["value"] as? String, "slide-µm-Ü")
            XCTAssertEqual(ca["mpp"]?["type"] as? String, "float64")
            XCTAssertEqual(ca["mpp"]?["value"] as? Double, 0.5)
            XCTAssertEqual(ca["level_dim"]?["dtype"] as? String, "int64")
            XCTAssertEqual(ca["level_dim"]?["value"] as? [Int], [46000, 32914])
            XCTAssertEqual(r["features_attrs"] as? [String], [])
            let fa = try XCTUnwrap(r["file_attrs"] as? [String: [String: Any]])
            XCTAssertEqual(Set(fa.keys), ["tool", "seed", "encoder"], path)
            XCTAssertEqual(fa["seed"]?["value"] as? Int, 8, "finish's attributes win over init's")
            XCTAssertEqual(fa["encoder"]?["value"] as? String, "test-encoder")
            XCTAssertEqual(fa["tool"]?["type"] as? String, "str")
        }
    }

    // MARK: atomicity

    /// An existing bag stays byte-identical while a writer streams to its path and after the
    /// writer is abandoned (explicitly or by being dropped); only `finish` replaces it.
    func testExistingBagUntouchedUntilFinish() throws {
        let dir = try makeScratchDir(self, "fbw-atomic")
        let path = dir + "/bag.h5"
        try PatchBag.write(path: path, coords: [10, 20], coordsAttributes: [:], tissueFraction: [1], fileAttributes: [:])
        let before = try Data(contentsOf: URL(fileURLWithPath: path))

        let w = try FeatureBagWriter(path: path, featureDim: 4, coordsAttributes: clamAttributes)
        let b = Self.rows(0..<50, dim: 4)
        try append(w, b.coords, b.features, count: 50)
        let during = try listing(dir)
        XCTAssertEqual(during.count, 2, "the bag and one temporary file: \(during)")
        XCTAssertTrue(during.contains { $0.hasPrefix(".bag.h5.tmp-") }, "\(during)")
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path)), before)
        w.abandon()
        w.abandon()  // idempotent
        XCTAssertEqual(try listing(dir), ["bag.h5"])
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path)), before)
        expectError(.invalidInput, ["abandoned"], path: path) { try self.append(w, b.coords, b.features, count: 50) }
        expectError(.invalidInput, ["abandoned"], path: path) { try w.finish() }

        // Dropped without finish (an interrupted job): deinit abandons.
        do {
            let dropped = try FeatureBagWriter(path: path, featureDim: 4)
            try append(dropped, b.coords, b.features, count: 50)
            XCTAssertEqual(try listing(dir).count, 2)
        }
        XCTAssertEqual(try listing(dir), ["bag.h5"])
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path)), before)

        let done = try FeatureBagWriter(path: path, featureDim: 4, coordsAttributes: clamAttributes)
        try append(done, b.coords, b.features, count: 50)
        try done.finish()
        done.abandon()  // a no-op after finish
        XCTAssertEqual(try listing(dir), ["bag.h5"])
        let back = try PatchBag.read(path: path)
        XCTAssertEqual(back.coords, b.coords)
        assertBitEqual(back.features, b.features, "finish replaces the old bag")
        XCTAssertNil(back.tissueFraction)
        expectError(.invalidInput, ["already finished"], path: path) { try done.finish() }
    }

    /// A new path: abandoning leaves neither the bag nor a temporary file.
    func testAbandonedNewBagLeavesNothing() throws {
        let dir = try makeScratchDir(self, "fbw-abandon")
        let path = dir + "/new.h5"
        let w = try FeatureBagWriter(path: path, featureDim: 2, expectedCount: 3)
        try append(w, [0, 0, 1, 1], [1, 2, 3, 4], count: 2)
        w.abandon()
        XCTAssertEqual(try listing(dir), [])
        XCTAssertFalse(PatchBag.isComplete(path: path))
    }

    /// Failures inside `finish` (HDF5 refuses an attribute; the rename meets a folder) abandon
    /// the writer: no temporary file stays and the existing bag is untouched.
    func testFailedFinishLeavesNoTemporaryFile() throws {
        let dir = try makeScratchDir(self, "fbw-finish-fail")
        let path = dir + "/bag.h5"
        try PatchBag.write(path: path, coords: [1, 2], coordsAttributes: [:], tissueFraction: nil, fileAttributes: [:])
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        let w = try FeatureBagWriter(path: path, featureDim: 2)
        try append(w, [0, 0], [1, 2], count: 1)
        expectError(.hdf5, ["'huge'", "64 KiB"], path: path) {
            try w.finish(fileAttributes: ["huge": .doubles([Double](repeating: 1, count: 20_000))])
        }
        XCTAssertEqual(try listing(dir), ["bag.h5"])
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path)), before)

        let other = dir + "/other.h5"
        let v = try FeatureBagWriter(path: other, featureDim: 2)
        try FileManager.default.createDirectory(atPath: other + "/inside", withIntermediateDirectories: true)
        expectError(.notWritable, ["move the finished bag"], path: other) { try v.finish() }
        XCTAssertEqual(try listing(dir), ["bag.h5", "other.h5"])
        XCTAssertEqual(try listing(other), ["inside"])
        // A folder already at the path is refused before anything is written.
        expectError(.notWritable, ["is a folder"], path: other) { _ = try FeatureBagWriter(path: other, featureDim: 2) }
        XCTAssertEqual(try listing(dir), ["bag.h5", "other.h5"])
    }

    // MARK: validation

    /// NaN and ±Inf are refused with the bag row, batch row and column; the batch is not
    /// written and the writer carries on.
    func testNonFiniteFeaturesAreRejected() throws {
        let dir = try makeScratchDir(self, "fbw-nan")
        let path = dir + "/bag.h5"
        let dim = 5
        let w = try FeatureBagWriter(path: path, featureDim: dim, expectedCount: 20)
        let good = Self.rows(0..<10, dim: dim)
        try append(w, good.coords, good.features, count: 10)
        for bad in [Float.nan, -Float.nan, .infinity, -.infinity, Float(bitPattern: 0x7fc0_1234)] {
            var next = Self.rows(10..<14, dim: dim)
            next.features[2 * dim + 3] = bad
            next.features[3 * dim + 1] = .nan  // a later one is not the one reported
            expectError(.invalidInput, ["features row 12 ", "row 2 of this batch", "column 3", "non-finite",
                                        "nothing of this batch was written"], path: path) {
                try self.append(w, next.coords, next.features, count: 4)
            }
            XCTAssertEqual(w.count, 10)
        }
        let rest = Self.rows(10..<20, dim: dim)
        try append(w, rest.coords, rest.features, count: 10)
        try w.finish()
        let back = try PatchBag.read(path: path)
        XCTAssertEqual(back.coords, good.coords + rest.coords)
        assertBitEqual(back.features, good.features + rest.features, "the refused batch must not be in the bag")
    }

    /// The block-wise scan finds the first bad value anywhere, including past the first block,
    /// and passes the extremes of the finite range.
    func testFirstNonFiniteScan() {
        var x = [Float](repeating: 1, count: 10_000)
        x[0] = .greatestFiniteMagnitude
        x[1] = -.greatestFiniteMagnitude
        x[2] = .leastNonzeroMagnitude
        x[3] = -0.0
        XCTAssertNil(x.withUnsafeBufferPointer { FeatureBagWriter.firstNonFinite($0) })
        x[9_500] = -.infinity
        x[9_000] = .nan
        XCTAssertEqual(x.withUnsafeBufferPointer { FeatureBagWriter.firstNonFinite($0) }, 9_000)
        x[4_096] = .infinity
        XCTAssertEqual(x.withUnsafeBufferPointer { FeatureBagWriter.firstNonFinite($0) }, 4_096)
        x[4_095] = -.nan
        XCTAssertEqual(x.withUnsafeBufferPointer { FeatureBagWriter.firstNonFinite($0) }, 4_095)
        XCTAssertNil([Float]().withUnsafeBufferPointer { FeatureBagWriter.firstNonFinite($0) })
    }

    func testInvalidUseIsRejected() throws {
        let dir = try makeScratchDir(self, "fbw-invalid")
        let path = dir + "/bag.h5"
        expectError(.invalidInput, ["featureDim is 0"], path: path) { _ = try FeatureBagWriter(path: path, featureDim: 0) }
        expectError(.invalidInput, ["gzipLevel is 10"], path: path) {
            _ = try FeatureBagWriter(path: path, featureDim: 1, gzipLevel: 10)
        }
        expectError(.invalidInput, ["expectedCount is -1"], path: path) {
            _ = try FeatureBagWriter(path: path, featureDim: 1, expectedCount: -1)
        }
        expectError(.invalidInput, ["empty name"], path: path) {
            _ = try FeatureBagWriter(path: path, featureDim: 1, fileAttributes: ["": .int(1)])
        }
        XCTAssertEqual(try listing(dir), [], "invalid arguments never create a temporary file")

        let w = try FeatureBagWriter(path: path, featureDim: 3, expectedCount: 4)
        expectError(.invalidInput, ["coords has 3 values", "2 x, y pairs"], path: path) {
            try self.append(w, [1, 2, 3], [1, 2, 3, 4, 5, 6], count: 2)
        }
        expectError(.invalidInput, ["features has 5 values", "needs 6"], path: path) {
            try self.append(w, [1, 2, 3, 4], [1, 2, 3, 4, 5], count: 2)
        }
        expectError(.invalidInput, ["a batch of -1 rows"], path: path) { try self.append(w, [], [], count: -1) }
        try append(w, [1, 2, 3, 4, 5, 6], [Float](repeating: 0.5, count: 9), count: 3)
        expectError(.invalidInput, ["would make 5 rows", "expects 4"], path: path) {
            try self.append(w, [1, 2, 3, 4], [Float](repeating: 0, count: 6), count: 2)
        }
        expectError(.invalidInput, ["holds 3 rows but 4 were expected", "allowFewer"], path: path) { try w.finish() }
        expectError(.invalidInput, ["empty name"], path: path) { try w.finish(fileAttributes: ["": .int(1)], allowFewer: true) }
        XCTAssertFalse(FileManager.default.fileExists(atPath: path), "refused finishes must not publish the bag")
        try w.finish(fileAttributes: ["skipped": .int(1)], allowFewer: true)
        let back = try PatchBag.read(path: path)
        XCTAssertEqual(back.count, 3)
        XCTAssertEqual(back.fileAttributes, ["skipped": .int(1)])
    }

    // MARK: determinism

    /// Same calls, same bytes, also across a clock tick and with gzip.
    func testIdenticalInputGivesIdenticalBytes() throws {
        let dir = try makeScratchDir(self, "fbw-determinism")
        for gzip in [nil, 6] as [Int?] {
            for name in ["a.h5", "b.h5"] {
                try writeBag(dir + "/" + name, dim: 64, batches: [7, 500, 0, 93], gzipLevel: gzip,
                             fileAttributes: ["tool": .string("radiopath"), "run": .doubles([1.5, 2])])
                Thread.sleep(forTimeInterval: 1.1)  // a stored timestamp would differ
            }
            let a = try Data(contentsOf: URL(fileURLWithPath: dir + "/a.h5"))
            let b = try Data(contentsOf: URL(fileURLWithPath: dir + "/b.h5"))
            XCTAssertGreaterThan(a.count, 600 * 64 * (gzip == nil ? 4 : 1))
            XCTAssertEqual(a, b, "gzip \(String(describing: gzip))")
        }
    }

    // MARK: memory

    /// Resident memory of this process, from /proc/self/statm.
    static func residentBytes() throws -> Int {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else {
            throw XCTSkip("SKIPPED: /proc/self/statm not available")
        }
        let fields = text.split(separator: " ")
        guard fields.count > 1, let pages = Int(fields[1]) else { throw XCTSkip("SKIPPED: unexpected statm: \(text)") }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }

    /// 200k rows × 64 (51 MB of features) streamed in 2000-row batches from reused buffers:
    /// the resident set, sampled after every batch, never grows by more than 16 MiB — a
    /// writer that kept the rows would grow by at least the 54 MB written.
    func testMemoryStaysBoundedByTheBatch() throws {
        let dir = try makeScratchDir(self, "fbw-memory")
        let dim = 64, total = 200_000, batch = 2_000
        var coords = [Int64](repeating: 0, count: batch * 2)
        var features = [Float](repeating: 0, count: batch * dim)
        // Warm up the HDF5 library, its free lists and this code path before the baseline.
        try writeBag(dir + "/warm.h5", dim: dim, batches: [batch, batch])

        let path = dir + "/big.h5"
        let baseline = try Self.residentBytes()
        var peak = baseline
        let w = try FeatureBagWriter(path: path, featureDim: dim, expectedCount: total)
        for start in stride(from: 0, to: total, by: batch) {
            for i in 0..<batch {
                (coords[2 * i], coords[2 * i + 1]) = Self.coord(start + i)
                for c in 0..<dim { features[i * dim + c] = Float(start + i) + Float(c) / 64 }
            }
            try append(w, coords, features, count: batch)
            peak = max(peak, try Self.residentBytes())
        }
        try w.finish()
        peak = max(peak, try Self.residentBytes())

        let dataBytes = total * (dim * 4 + 16)
        let growth = peak - baseline
        print("FeatureBagWriter memory: wrote \(dataBytes >> 20) MiB, resident growth \(growth >> 10) KiB")
        XCTAssertLessThan(growth, 16 << 20, "resident memory grew by \(growth) bytes writing \(dataBytes) bytes")

        let size = try XCTUnwrap(FileManager.default.attributesOfItem(atPath: path)[.size] as? Int)
        XCTAssertGreaterThanOrEqual(size, dataBytes, "the rows must be in the file")
        let back = try PatchBag.read(path: path)
        XCTAssertEqual(back.count, total)
        XCTAssertEqual(Array(back.coords.suffix(2)), [Self.coord(total - 1).0, Self.coord(total - 1).1])
        XCTAssertEqual(back.features?[(total - 1) * dim + 63], Float(total - 1) + 63 / 64)
        XCTAssertEqual(back.features?[12_345 * dim + 7], Float(12_345) + 7 / 64)
    }
}
