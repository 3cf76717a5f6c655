import Foundation
import XCTest
@testable import PatchBag

final class AtomicityTests: XCTestCase {
    private func assertNotWritable(_ body: () throws -> Void, path: String, line: UInt = #line) {
        XCTAssertThrowsError(try body(), line: line) { e in
            guard let e = e as? PatchBagError else { return XCTFail("not a PatchBagError: \(e)", line: line) }
            XCTAssertEqual(e.kind, .notWritable, "\(e)", line: line)
            XCTAssertTrue(e.description.contains(path), "error must name the bag: \(e)", line: line)
            XCTAssertTrue(e.description.contains("choose another --out"), "error must say what to do: \(e)", line: line)
        }
    }

    /// A parent that cannot be created (a regular file sits where a folder should be; this
    /// fails for root too).
    func testUncreatableParentFolderThrowsAndLeavesNothing() throws {
        let dir = try makeScratchDir(self, "blocked")
        try Data("x".utf8).write(to: URL(fileURLWithPath: dir + "/blocker"))
        let path = dir + "/blocker/sub/bag.h5"
        assertNotWritable({
            try PatchBag.write(path: path, coords: [0, 0], coordsAttributes: clamAttributes, tissueFraction: nil, fileAttributes: [:])
        }, path: path)
        XCTAssertEqual(try listing(dir), ["blocker"])
        XCTAssertFalse(PatchBag.isComplete(path: path))
    }

    /// A folder nobody may create files in. /proc refuses new files even for root; a 0555
    /// folder is checked too when the tests do not run as root (root ignores mode bits).
    func testNonWritableFolderThrowsAndLeavesNoTemporaryFile() throws {
        var checked = 0
        if FileManager.default.fileExists(atPath: "/proc/self") {
            let name = "rp-bag-\(UUID().uuidString).h5"
            let path = "/proc/" + name
            assertNotWritable({
                try PatchBag.write(path: path, coords: [0, 0], coordsAttributes: [:], tissueFraction: nil, fileAttributes: [:])
            }, path: path)
            XCTAssertFalse(try listing("/proc").contains { $0.contains(name) })
            checked += 1
        }
        if geteuid() != 0 {
            let dir = try makeScratchDir(self, "readonly")
            let ro = dir + "/ro"
            try FileManager.default.createDirectory(atPath: ro, withIntermediateDirectories: false)
            chmod(ro, 0o555)
            defer { chmod(ro, 0o755) }
            let path = ro + "/bag.h5"
            assertNotWritable({
                try PatchBag.write(path: path, coords: [0, 0], coordsAttributes: [:], tissueFraction: nil, fileAttributes: [:])
            }, path: path)
            XCTAssertEqual(try listing(ro), [])
            checked += 1
        }
        if checked == 0 { throw XCTSkip("no non-writable location available (root without /proc)") }
    }

    /// HDF5 itself fails half way through (an attribute over the 64 KiB object-header limit):
    /// the error names the bag and the attribute, no temporary file stays, and the good bag
    /// already at the target is untouched.
    func testFailedWriteKeepsTheExistingBag() throws {
        let dir = try makeScratchDir(self, "keep")
        let path = dir + "/bag.h5"
        try PatchBag.write(path: path, coords: [10, 20, 30, 40], coordsAttributes: clamAttributes,
                           tissueFraction: [0.9, 0.8], fileAttributes: ["run": .int(1)])
        let before = try Data(contentsOf: URL(fileURLWithPath: path))

        XCTAssertThrowsError(try PatchBag.write(
            path: path, coords: [1, 1], coordsAttributes: ["huge": .doubles([Double](repeating: 1, count: 20_000))],
            tissueFraction: nil, fileAttributes: [:])) { e in
            guard let e = e as? PatchBagError else { return XCTFail("not a PatchBagError: \(e)") }
            XCTAssertEqual(e.kind, .hdf5)
            XCTAssertTrue(e.description.contains(path), "\(e)")
            XCTAssertTrue(e.description.contains("'huge'"), "\(e)")
            XCTAssertFalse(e.description.contains(".tmp-"), "the error must name the bag, not the temp file: \(e)")
            XCTAssertNotNil(e.reason)
        }
        XCTAssertEqual(try listing(dir), ["bag.h5"])
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path)), before)
        XCTAssertEqual(try PatchBag.read(path: path).coords, [10, 20, 30, 40])

        // Invalid input never gets as far as a temporary file.
        XCTAssertThrowsError(try PatchBag.write(path: path, coords: [1, 1], coordsAttributes: [:],
                                                tissueFraction: [1, 2, 3], fileAttributes: [:]))
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path)), before)
        XCTAssertEqual(try listing(dir), ["bag.h5"])
    }

    /// The rename itself fails (a folder has the bag's name): the finished temp file is removed.
    func testFailedRenameLeavesNoTemporaryFile() throws {
        let dir = try makeScratchDir(self, "rename")
        let path = dir + "/bag.h5"
        try FileManager.default.createDirectory(atPath: path + "/inside", withIntermediateDirectories: true)
        XCTAssertThrowsError(try PatchBag.write(path: path, coords: [0, 0], coordsAttributes: [:],
                                                tissueFraction: nil, fileAttributes: [:])) { e in
            XCTAssertTrue("\(e)".contains(path), "\(e)")
            XCTAssertTrue("\(e)".contains("move the finished bag"), "\(e)")
        }
        XCTAssertEqual(try listing(dir), ["bag.h5"])
        XCTAssertEqual(try listing(path), ["inside"])
    }
}
