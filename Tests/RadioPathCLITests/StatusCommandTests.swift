import Foundation
import TestSupport
import XCTest

/// `radiopath status` over folders written by tile and embed.
final class StatusCommandTests: XCTestCase {
    func testStatusSummarisesJobsAndFailures() throws {
        let slides = try TestEnv.testdata("slides")
        let dir = try TestEnv.scratch(self, "status")
        let out = dir + "/out"
        let t = try radiopath(["tile", slides + "/CMU-1-Small-Region.svs", slides + "/broken.svs", "--out", out])
        XCTAssertEqual(t.status, 1, t.stderr)
        let e = try radiopath(["embed", slides + "/CMU-1-Small-Region.svs", "--out", out])
        XCTAssertEqual(e.status, 0, e.stderr)

        let text = try radiopath(["status", out])
        XCTAssertEqual(text.status, 0, text.stderr)
        XCTAssertTrue(text.stdout.contains("2 slides"), text.stdout)
        XCTAssertTrue(text.stdout.contains("tile      1 done, 1 failed, 0 running, 0 pending"), text.stdout)
        XCTAssertTrue(text.stdout.contains("embed:pathomic-v1  1 done, 0 failed"), text.stdout)
        XCTAssertTrue(text.stdout.contains("✗ tile broken (\(slides)/broken.svs, 1 attempt): the name says an Aperio SVS file"), text.stdout)

        let json = try radiopath(["status", out, "--json"])
        XCTAssertEqual(json.status, 0, json.stderr)
        let s = try XCTUnwrap(try TestEnv.json(Data(json.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(s["slides"] as? Int, 2)
        XCTAssertEqual(s["schemaVersion"] as? Int, 2)
        let kinds = try XCTUnwrap(s["kinds"] as? [[String: Any]])
        XCTAssertEqual(kinds.map { $0["kind"] as? String }, ["embed:pathomic-v1", "tile"])
        XCTAssertEqual(kinds[1]["done"] as? Int, 1)
        XCTAssertEqual(kinds[1]["failed"] as? Int, 1)
        XCTAssertGreaterThan(kinds[1]["units"] as? Int ?? 0, 20, "patches of the done slide")
        XCTAssertEqual(kinds[0]["units"] as? Int, kinds[1]["units"] as? Int, "every tiled patch embedded")
        let failures = try XCTUnwrap(s["failures"] as? [[String: Any]])
        XCTAssertEqual(failures.map { $0["slideID"] as? String }, ["broken"])
        XCTAssertTrue((failures[0]["error"] as? String)?.contains("OpenSlide does not recognise") ?? false)
    }

    func testNoCatalogIsAClearError() throws {
        let dir = try TestEnv.scratch(self, "status-none")
        let r = try radiopath(["status", dir])
        XCTAssertEqual(r.status, 2)
        XCTAssertTrue(r.stderr.contains("radiopath.sqlite: no catalog here") && r.stderr.contains("--out"), r.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/radiopath.sqlite"), "status creates nothing")
    }
}
