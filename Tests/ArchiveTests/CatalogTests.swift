import Foundation
import TestSupport
import XCTest
@testable import Archive

final class CatalogTests: XCTestCase {
    let params = JobParameters(toolVersion: "test", paramsHash: "abc")

    /// A pid that belonged to a process that has exited.
    func deadPID() throws -> Int {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/true")
        try p.run()
        p.waitUntilExit()
        return Int(p.processIdentifier)
    }

    func testJobLifecycleOutputsAndSlides() throws {
        let dir = try TestEnv.scratch(self, "catalog")
        let c = try Catalog(folder: dir, toolVersion: "test")
        XCTAssertEqual(try c.storedSchemaVersion(), Catalog.schemaVersion)
        try c.addPending(kind: "tile", jobs: [("a", "/s/a.svs"), ("b ü", "/s/b ü.svs")])
        try c.addPending(kind: "tile", jobs: [("a", "/s/a.svs")])
        XCTAssertEqual(try c.jobs().map(\.status), [.pending, .pending], "adding again keeps one row")

        XCTAssertEqual(try c.claim(kind: "tile", slideID: "a", input: "/s/a.svs", outputsComplete: false, parameters: params),
                       .granted(attempt: 1, reclaimed: nil))
        // A second worker (here: a second connection; same pid, so only the lock row decides).
        let other = try Catalog(folder: dir)
        guard case .heldElsewhere(let h) = try other.claim(kind: "tile", slideID: "a", input: "/s/a.svs", outputsComplete: false, parameters: params) else {
            return XCTFail("a live lock must hold")
        }
        XCTAssertEqual(h.pid, Int(getpid()))

        let outputs = [OutputRecord(path: dir + "/patches/a.h5", size: 10, sha256: String(repeating: "0", count: 64))]
        XCTAssertTrue(try c.finish(kind: "tile", slideID: "a", outcome: JobOutcome(status: .done, seconds: 1.5, units: 37, outputs: outputs),
                                   slide: SlideRecord(slideID: "a", path: "/s/a.svs", size: 99, quickhash: "q", mpp: 0.5, mppSource: "property", label: "tumour")))
        let a = try XCTUnwrap(try other.jobs(kind: "tile").first { $0.slideID == "a" })
        XCTAssertEqual(a.status, .done)
        XCTAssertEqual(a.attempts, 1)
        XCTAssertEqual(a.units, 37)
        XCTAssertEqual(a.seconds, 1.5)
        XCTAssertEqual(a.outputs, outputs)
        XCTAssertEqual(a.paramsHash, "abc")
        XCTAssertEqual(a.toolVersion, "test")
        XCTAssertEqual(try other.slides(), [SlideRecord(slideID: "a", path: "/s/a.svs", size: 99, quickhash: "q", mpp: 0.5, mppSource: "property", label: "tumour")])

        XCTAssertEqual(try c.claim(kind: "tile", slideID: "a", input: "", outputsComplete: true, parameters: params), .alreadyDone)
        XCTAssertEqual(try c.claim(kind: "tile", slideID: "a", input: "", outputsComplete: false, parameters: params),
                       .granted(attempt: 2, reclaimed: nil), "done but its outputs are gone: redo")
        XCTAssertTrue(try c.finish(kind: "tile", slideID: "a", outcome: JobOutcome(status: .failed, seconds: 0.1, error: "boom", hint: "fix it")))
        XCTAssertTrue(try c.jobs(kind: "tile").first!.outputs.isEmpty, "a failed run has no outputs")
        XCTAssertEqual(try c.claim(kind: "tile", slideID: "a", input: "", outputsComplete: false, parameters: params), .failedBefore(error: "boom"))
        XCTAssertEqual(try c.claim(kind: "tile", slideID: "a", input: "", outputsComplete: false, retryFailed: true, parameters: params),
                       .granted(attempt: 3, reclaimed: nil))
        XCTAssertTrue(try c.finish(kind: "tile", slideID: "a", outcome: JobOutcome(status: .failed, seconds: 0.1, error: "no scale")))
        XCTAssertEqual(try c.claim(kind: "tile", slideID: "a", input: "", outputsComplete: false,
                                   parameters: JobParameters(toolVersion: "test", paramsHash: "with a scale")),
                       .granted(attempt: 4, reclaimed: nil), "changed parameters (a fix) retry a failed job")
        XCTAssertFalse(try other.finish(kind: "embed", slideID: "a", outcome: JobOutcome(status: .done, seconds: 0)), "no lock held: nothing recorded")

        let s = try CatalogSummary(catalog: c)
        XCTAssertEqual(s.slides, 2)
        XCTAssertEqual(s.kinds.count, 1)
        XCTAssertEqual(s.kinds[0].running, 1)
        XCTAssertEqual(s.kinds[0].pending, 1)
        XCTAssertEqual(s.kinds[0].stale, 0)
    }

    func testDeadAndSilentHoldersAreReclaimedLiveOnesAreNot() throws {
        let dir = try TestEnv.scratch(self, "catalog-stale")
        let c = try Catalog(folder: dir)
        let now = Date().timeIntervalSince1970
        let dead = try deadPID()
        try c.execute("""
            INSERT INTO jobs(kind, slide_id, status, attempts, host, pid, started, heartbeat) VALUES
              ('tile', 'dead', 'running', 1, '\(c.host)', \(dead), \(now), \(now)),
              ('tile', 'far-silent', 'running', 1, 'node-7', 1, \(now - 7200), \(now - 7200)),
              ('tile', 'far-alive', 'running', 1, 'node-7', 1, \(now - 7200), \(now - 5)),
              ('tile', 'here-alive', 'running', 1, '\(c.host)', 1, \(now), \(now))
            """)
        XCTAssertEqual(try c.jobs().filter { $0.stale == true }.map(\.slideID).sorted(), ["dead", "far-silent"])
        guard case .granted(2, let h?) = try c.claim(kind: "tile", slideID: "dead", input: "", outputsComplete: false, parameters: params) else {
            return XCTFail("a dead pid on this host is reclaimed")
        }
        XCTAssertEqual(h.pid, dead)
        guard case .granted(2, _?) = try c.claim(kind: "tile", slideID: "far-silent", input: "", outputsComplete: false, parameters: params) else {
            return XCTFail("a silent worker on another host is reclaimed after --stale-after")
        }
        guard case .heldElsewhere = try c.claim(kind: "tile", slideID: "far-alive", input: "", outputsComplete: false, parameters: params) else {
            return XCTFail("another host with a fresh heartbeat keeps its lock")
        }
        guard case .heldElsewhere = try c.claim(kind: "tile", slideID: "here-alive", input: "", outputsComplete: false, parameters: params) else {
            return XCTFail("pid 1 is alive")
        }
        c.staleAfter = 1
        guard case .granted = try c.claim(kind: "tile", slideID: "far-alive", input: "", outputsComplete: false, parameters: params) else {
            return XCTFail("silent past a shorter timeout")
        }
        // The heartbeat keeps this worker's own locks fresh.
        try c.execute("UPDATE jobs SET heartbeat = 0 WHERE pid = \(getpid())")
        try c.heartbeat()
        XCTAssertTrue(try c.jobs().filter { $0.holder?.pid == Int(getpid()) }.allSatisfy { ($0.holder?.heartbeat ?? 0) > now - 60 })
    }

    func testNewerOlderAndForeignCatalogsAreRefusedClearly() throws {
        let dir = try TestEnv.scratch(self, "catalog-version")
        try Catalog(folder: dir).execute("INSERT INTO schema_version VALUES (99, 'future', 0)")
        XCTAssertThrowsError(try Catalog(folder: dir)) { e in
            XCTAssertTrue("\(e)".contains("newer RadioPath (catalog schema 99; this radiopath reads schema 2)"), "\(e)")
            XCTAssertTrue("\(e)".contains(Catalog.fileName), "the message names the file: \(e)")
        }
        XCTAssertThrowsError(try Catalog(folder: dir, readOnly: true)) { XCTAssertTrue("\($0)".contains("newer"), "\($0)") }

        let old = try TestEnv.scratch(self, "catalog-old")
        try Catalog(folder: old).execute("DELETE FROM schema_version; INSERT INTO schema_version VALUES (0, 'old', 0)")
        XCTAssertThrowsError(try Catalog(folder: old)) { e in
            XCTAssertTrue("\(e)".contains("older RadioPath (catalog schema 0") && "\(e)".contains("cannot be migrated"), "\(e)")
            XCTAssertTrue("\(e)".contains("move the catalog aside"), "the message says what to do: \(e)")
        }

        let foreign = try TestEnv.scratch(self, "catalog-foreign")
        try Catalog(folder: foreign).execute("DROP TABLE outputs; DROP TABLE schema_version")
        XCTAssertThrowsError(try Catalog(folder: foreign)) { XCTAssertTrue("\($0)".contains("not a RadioPath catalog"), "\($0)") }

        let none = try TestEnv.scratch(self, "catalog-none")
        XCTAssertThrowsError(try Catalog(folder: none, readOnly: true)) { XCTAssertTrue("\($0)".contains("no catalog here"), "\($0)") }
        XCTAssertFalse(Catalog.exists(in: none), "read-only opening creates nothing")

        try "not sqlite at all, just text that is long enough to have a header".write(toFile: Catalog.path(in: none), atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try Catalog(folder: none)) { XCTAssertTrue("\($0)".contains(Catalog.fileName), "\($0)") }
    }

    func testShardsPartitionAndBalance() throws {
        let ids = (0..<23).map { "slide-\($0)" }.shuffled()
        for n in [1, 2, 3, 7, 30] {
            let parts = try (1...n).map { try Shard(parsing: "\($0)/\(n)").select(ids) { $0 } }
            XCTAssertEqual(parts.flatMap { $0 }.sorted(), ids.sorted(), "shards of \(n) cover every slide once")
            XCTAssertLessThanOrEqual(parts.map(\.count).max()! - parts.map(\.count).min()!, 1, "balanced to one slide")
            for p in parts { XCTAssertEqual(p, ids.filter { p.contains($0) }, "input order kept") }
            XCTAssertEqual(try Shard(parsing: "1/\(n)").select(ids.reversed()) { $0 }.sorted(), parts[0].sorted(), "independent of input order")
        }
        for bad in ["0/4", "5/4", "2", "a/b", "1/0", "-1/3"] {
            XCTAssertThrowsError(try Shard(parsing: bad), bad) { XCTAssertTrue("\($0)".contains("--shard \(bad)"), "\($0)") }
        }
    }

    func testManifestLabelAndPerSlideMPP() throws {
        let dir = try TestEnv.scratch(self, "manifest-label")
        try "path,mpp,label\nslides/a b.svs,0.25,tumour\nslides/ü.svs,,normal\n".write(toFile: dir + "/m.csv", atomically: true, encoding: .utf8)
        XCTAssertEqual(try SlideInputs.readManifest(path: dir + "/m.csv"),
                       [SlideInput(path: dir + "/slides/a b.svs", slideID: "a b", mpp: 0.25, label: "tumour"),
                        SlideInput(path: dir + "/slides/ü.svs", slideID: "ü", mpp: nil, label: "normal")])
    }
}
