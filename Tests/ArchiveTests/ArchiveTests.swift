import Foundation
import TestSupport
import XCTest
@testable import Archive

final class ArchiveTests: XCTestCase {
    func touch(_ path: String) throws {
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try Data().write(to: URL(fileURLWithPath: path))
    }

    func testFoldersManifestsAndDuplicates() throws {
        let dir = try TestEnv.scratch(self, "inputs")
        for f in ["a.svs", "b.NDPI", "notes.txt", ".hidden.svs", "sub/c.tiff"] { try touch("\(dir)/slides/\(f)") }
        try touch("\(dir)/other/a.svs")
        try "path,slide_id,mpp\nslides/b.NDPI,custom,0.5\n/abs/x.svs,,\n".write(toFile: dir + "/m.csv", atomically: true, encoding: .utf8)

        let flat = SlideInputs.expand([dir + "/slides"])
        XCTAssertEqual(flat.inputs.map(\.slideID), ["a", "b"])
        XCTAssertEqual(flat.problems, [])
        XCTAssertEqual(SlideInputs.expand([dir + "/slides"], recursive: true).inputs.map(\.slideID), ["a", "b", "c"])

        let manifest = SlideInputs.expand([dir + "/m.csv"])
        XCTAssertEqual(manifest.inputs, [SlideInput(path: dir + "/slides/b.NDPI", slideID: "custom", mpp: 0.5),
                                         SlideInput(path: "/abs/x.svs", slideID: "x")])

        let dup = SlideInputs.expand([dir + "/slides/a.svs", dir + "/other/a.svs", dir + "/slides/a.svs", dir + "/nope.svs", dir + "/other"])
        XCTAssertEqual(dup.inputs.map(\.path), [dir + "/slides/a.svs"], "the same file twice is one job")
        XCTAssertEqual(dup.problems.count, 3)
        XCTAssertTrue(dup.problems.contains { $0.reason.contains("also used by") && $0.hint.contains("slide_id") })
        XCTAssertTrue(dup.problems.contains { $0.path.hasSuffix("nope.svs") && $0.reason.contains("no such file") })
        XCTAssertTrue(SlideInputs.expand([dir + "/slides/sub/../../other/../nothing-here"]).problems.count == 1)
    }

    func testBadManifestAndMPPTableAreClearErrors() throws {
        let dir = try TestEnv.scratch(self, "manifest")
        try "file,x\na.svs,1\n".write(toFile: dir + "/bad.csv", atomically: true, encoding: .utf8)
        let r = SlideInputs.expand([dir + "/bad.csv"])
        XCTAssertEqual(r.inputs, [])
        XCTAssertTrue(r.problems.first?.reason.contains("no 'path' or 'slide' column") ?? false)

        try "slide,mpp\ns1,0.25\nb.svs,0.5\n".write(toFile: dir + "/mpp.csv", atomically: true, encoding: .utf8)
        let table = try SlideInputs.readMPPTable(path: dir + "/mpp.csv")
        XCTAssertEqual(SlideInputs.lookup(table, for: SlideInput(path: "/x/s1.svs", slideID: "s1")), 0.25)
        XCTAssertEqual(SlideInputs.lookup(table, for: SlideInput(path: "/y/b.svs", slideID: "b")), 0.5, "matched by file name")
        XCTAssertNil(SlideInputs.lookup(table, for: SlideInput(path: "/y/c.svs", slideID: "c")))
        try "slide,mpp\ns1,-3\n".write(toFile: dir + "/neg.csv", atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try SlideInputs.readMPPTable(path: dir + "/neg.csv")) { e in
            XCTAssertTrue("\(e)".contains("row 2"), "\(e)")
        }
    }

    func testBatchRunnerKeepsInputOrderAndIsolatesFailures() {
        struct Boom: Error {}
        let inputs = Array(0..<40)
        var seen: [Int] = []
        let results = BatchRunner.run(inputs, jobs: 4, work: { i -> Result<Int, Error> in
            usleep(UInt32((40 - i) * 200))
            return i % 7 == 3 ? .failure(Boom()) : .success(i * i)
        }, onResult: { i, _ in seen.append(i) })
        XCTAssertEqual(results.count, 40)
        XCTAssertEqual(seen.sorted(), inputs)
        for (i, r) in results.enumerated() {
            switch r! {
            case .success(let v): XCTAssertEqual(v, i * i)
            case .failure: XCTAssertEqual(i % 7, 3)
            }
        }
    }

    func testStaleTemporaryFilesOfDeadProcessesAreRemoved() throws {
        let dir = try TestEnv.scratch(self, "stale")
        let dead = "\(dir)/.a.h5.tmp-999999-1", mine = "\(dir)/.b.h5.tmp-\(getpid())-1", other = "\(dir)/.keep"
        for f in [dead, mine, other] { try touch(f) }
        XCTAssertEqual(BatchRunner.removeStaleTemporaryFiles(in: [dir]), 1)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir).sorted(), [".b.h5.tmp-\(getpid())-1", ".keep"])
    }

    func testProgressFormatting() {
        XCTAssertEqual(BatchProgress.clock(75), "1:15")
        XCTAssertEqual(BatchProgress.clock(3725), "1:02:05")
        XCTAssertEqual(BatchProgress.grouped(1234567), "1,234,567")
        let p = BatchProgress(total: 4, unitName: "patches", isTerminal: true)
        p.itemFinished(line: "x", units: 10)
        XCTAssertTrue(p.bar().contains("1/4 slides"), p.bar())
    }
}
