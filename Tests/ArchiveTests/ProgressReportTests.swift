import Foundation
import TestSupport
import XCTest
@testable import Archive

/// The archive-wide progress, the Markdown run report, the disk-full wording and the schema
/// migration, on catalogs filled by hand (several "workers" as rows naming other pids).
final class ProgressReportTests: XCTestCase {
    let params = JobParameters(toolVersion: "test", paramsHash: "p1", text: "patch_size = 256\ntarget_mpp = 0.5")

    /// A catalog with slides done and failed by two other workers, one running, two pending.
    func archive(_ dir: String) throws -> Catalog {
        let c = try Catalog(folder: dir, toolVersion: "test")
        let now = Date().timeIntervalSince1970
        try c.execute("""
            INSERT INTO jobs(kind, slide_id, input, status, attempts, host, pid, started, heartbeat, finished, seconds, units, error, hint, tool_version, params_hash, warnings) VALUES
              ('tile', 's1', '/in/s1.svs', 'done', 1, 'node-a', 101, \(now - 30), \(now - 20), \(now - 20), 10, 40, NULL, NULL, 'test', 'p1', NULL),
              ('tile', 's2', '/in/s2.svs', 'done', 1, 'node-b', 202, \(now - 30), \(now - 18), \(now - 18), 12, 60, NULL, NULL, 'test', 'p1', 'scale estimated'),
              ('tile', 's3', '/in/s3 | x.svs', 'failed', 2, 'node-b', 202, \(now - 15), \(now - 14), \(now - 14), 1, NULL, 'cannot read | tile 3' || char(10) || 'second line', 're-export it', 'test', 'p1', NULL),
              ('tile', 's4', '/in/s4.svs', 'running', 1, 'node-a', 101, \(now - 5), \(now), NULL, NULL, NULL, NULL, NULL, 'test', 'p1', NULL),
              ('tile', 's5', '/in/s5.svs', 'pending', 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
              ('tile', 's6', '/in/s6.svs', 'pending', 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
              ('embed:x', 's1', '/in/s1.svs', 'done', 1, 'node-a', 101, \(now - 10), \(now - 9), \(now - 9), 1, 40, NULL, NULL, 'test', NULL, NULL);
            INSERT INTO parameters VALUES ('p1', 'tile', 'test', 'patch_size = 256', \(now - 30));
            """)
        return c
    }

    func testCountsComeFromOneAggregateOverAllWorkers() throws {
        let c = try archive(try TestEnv.scratch(self, "counts"))
        let t = try c.counts(kind: "tile")
        XCTAssertEqual([t.total, t.done, t.failed, t.running, t.pending, t.unitsDone, t.workers], [6, 2, 1, 1, 2, 100, 1])
        XCTAssertEqual(t.seconds, 23, accuracy: 1e-9, "seconds of finished jobs")
        XCTAssertEqual(t.remaining, 3)
        XCTAssertEqual(try c.counts().total, 7, "all kinds")
        XCTAssertEqual(try c.counts(kind: "nothing"), JobCounts(), "an unknown kind counts nothing")
        XCTAssertEqual(try c.jobKinds(), ["embed:x", "tile"])
    }

    func testProgressShowsTheWholeArchiveAndItsRate() throws {
        let c = try archive(try TestEnv.scratch(self, "progress"))
        let p = BatchProgress(total: 2, unitName: "patches", isTerminal: false)
        p.plainInterval = 0
        p.follow(c, kind: "tile")
        XCTAssertTrue(p.bar().contains("tile 2/6 done, 1 failed, 1 running on 1 worker, 2 pending"), p.bar())
        XCTAssertTrue(p.bar().contains("this worker 0/2"), p.bar())
        // Another worker finishes two slides (50 patches): the archive moves, this worker did nothing.
        try c.execute("UPDATE jobs SET status = 'done', units = 25, seconds = 1, finished = 0 WHERE slide_id IN ('s4', 's5') AND kind = 'tile'")
        p.archiveUpdated(try c.counts(kind: "tile"))
        let bar = p.bar()
        XCTAssertTrue(bar.contains("tile 4/6 done, 1 failed, 0 running, 1 pending"), bar)
        XCTAssertTrue(bar.contains("patches/s") && bar.contains("slides/h") && bar.contains("ETA "), "rates from the other worker's slides: \(bar)")
        XCTAssertFalse(bar.contains("ETA —"), bar)
        p.finish()

        let counts = JobCounts(total: 10, pending: 4, running: 2, done: 3, failed: 1, unitsDone: 300, workers: 2)
        XCTAssertEqual(BatchProgress.archiveText(counts, kind: "tile", rate: (units: 1500, slides: 0.5, eta: 12), final: false),
                       "tile 3/10 done, 1 failed, 2 running on 2 workers, 4 pending · 1,500 patches/s · 1800 slides/h · ETA 0:12")
        XCTAssertEqual(BatchProgress.archiveText(counts, kind: "tile", rate: (units: 0, slides: 0, eta: nil), final: false),
                       "tile 3/10 done, 1 failed, 2 running on 2 workers, 4 pending · ETA —", "no slide finished yet: no ETA")
    }

    func testRunReportCoversEveryWorkerFailureAndParameterSet() throws {
        let dir = try TestEnv.scratch(self, "report")
        let c = try archive(dir)
        let md = try RunReport.markdown(catalog: c)
        for section in ["## Totals", "## Failures", "## Workers", "## Tool versions and parameters", "## Per-slide timings", "### tile", "### embed:x"] {
            XCTAssertTrue(md.contains(section), "\(section) missing:\n\(md)")
        }
        XCTAssertTrue(md.contains("| tile | 6 | 2 | 1 | 1 | 2 | 100 | 23.0 s | 11.00 s |"), md)
        XCTAssertTrue(md.contains("| tile | s3 | /in/s3 \\| x.svs | 2 | cannot read \\| tile 3<br>second line | re-export it |"),
                      "a failure's error and hint in one table row, pipes and newlines escaped:\n\(md)")
        XCTAssertTrue(md.contains("| node-a | 101 | 2 | 0 | 1 |") && md.contains("| node-b | 202 | 1 | 1 | 0 |"), md)
        XCTAssertTrue(md.contains("`tile` · radiopath test · parameters `p1` · 4 slides") && md.contains("  patch_size = 256"), md)
        XCTAssertTrue(md.contains("| s2 | done | 1 | 12.00 | 60 | 5 | node-b 202 |") && md.contains("warning: scale estimated"), md)
        XCTAssertTrue(md.contains("| s5 | pending | 0 | — | — | — | — | — |"), md)

        let path = try RunReport.write(catalog: c)
        XCTAssertEqual(path, dir + "/run_report.md")
        // Everything after the heading and the "written <time>" line.
        XCTAssertEqual(Array(try String(contentsOfFile: path, encoding: .utf8).components(separatedBy: "\n").dropFirst(3)),
                       Array(md.components(separatedBy: "\n").dropFirst(3)))
        XCTAssertFalse(try FileManager.default.contentsOfDirectory(atPath: dir).contains { $0.contains(".tmp-") }, "no temporary file left")
        XCTAssertThrowsError(try RunReport.write(catalog: c, to: dir + "/no/such/folder/r.md")) { e in
            XCTAssertTrue("\(e)".contains(dir + "/no/such/folder/r.md") && "\(e)".contains("No such file"), "\(e)")
        }
    }

    func testDiskFullErrorsAreRecognisedAndNameTheFinalFile() throws {
        let out = "/data/out ü"
        let foundation = "Error Domain=NSCocoaErrorDomain Code=640 \"There isn’t enough space.\"UserInfo={NSFilePath=\(out)/previews/.b c.png.tmp-1665-3563711712, NSUnderlyingError=Error Domain=NSPOSIXErrorDomain Code=28 \"No space left on device\"}"
        let f = try XCTUnwrap(DiskFull.classify(foundation, folder: out))
        XCTAssertEqual(f.error, "disk full: no space left on device writing \(out)/previews/b c.png")
        XCTAssertTrue(f.hint.contains("free space on the disk holding \(out)") && f.hint.contains("rerun"), f.hint)

        let bag = "\(out)/patches/s 1.h5: cannot create a file in \(out)/patches (No space left on device): the disk is full: free space or choose another --out"
        XCTAssertEqual(DiskFull.classify(bag, folder: out)?.error, "disk full: no space left on device writing \(out)/patches/s 1.h5")
        let hdf5 = "\(out)/features_x/s.h5: cannot write dataset features (file write failed: errno = 28, error message = 'No space left on device')"
        XCTAssertEqual(DiskFull.classify(hdf5, folder: out)?.error, "disk full: no space left on device writing \(out)/features_x/s.h5")
        XCTAssertEqual(DiskFull.classify("database or disk is full", folder: out)?.error, "disk full: no space left on device under \(out)")
        XCTAssertNil(DiskFull.classify("OpenSlide does not recognise the file", folder: out))
        XCTAssertNil(DiskFull.classify("Permission denied", folder: out))
        XCTAssertEqual(DiskFull.finalName("/a/b/.x.h5.tmp-12-34"), "/a/b/x.h5")
        XCTAssertEqual(DiskFull.finalName("/a/b/x.h5"), "/a/b/x.h5")
        XCTAssertNotNil(DiskFull.freeBytes(NSTemporaryDirectory()))
    }

    func testAFullDiskFailureIsRetriedWithoutRetryFailedOthersAreNot() throws {
        let c = try Catalog(folder: try TestEnv.scratch(self, "transient"))
        for id in ["full", "broken"] {
            XCTAssertEqual(try c.claim(kind: "tile", slideID: id, input: "", outputsComplete: false, parameters: params), .granted(attempt: 1, reclaimed: nil))
        }
        XCTAssertTrue(try c.finish(kind: "tile", slideID: "full", outcome: JobOutcome(status: .failed, seconds: 1, error: "disk full: …",
                                                                                   details: [DiskFull.transientKey: "disk full"])))
        XCTAssertTrue(try c.finish(kind: "tile", slideID: "broken", outcome: JobOutcome(status: .failed, seconds: 1, error: "corrupt")))
        XCTAssertEqual(try c.claim(kind: "tile", slideID: "full", input: "", outputsComplete: false, parameters: params), .granted(attempt: 2, reclaimed: nil))
        XCTAssertEqual(try c.claim(kind: "tile", slideID: "broken", input: "", outputsComplete: false, parameters: params), .failedBefore(error: "corrupt"))
        XCTAssertEqual(try c.parameterSets().map(\.text), [params.text!], "the parameter text is recorded once")
    }

    /// The schema-1 tables exactly as radiopath 0.1 created them.
    static let schemaV1 = """
    CREATE TABLE schema_version(version INTEGER NOT NULL, tool_version TEXT, created REAL NOT NULL);
    CREATE TABLE slides(slide_id TEXT PRIMARY KEY, path TEXT NOT NULL, size INTEGER, mtime REAL, quickhash TEXT,
        mpp REAL, mpp_source TEXT, label TEXT, updated REAL NOT NULL);
    CREATE TABLE jobs(kind TEXT NOT NULL, slide_id TEXT NOT NULL, input TEXT,
        status TEXT NOT NULL CHECK (status IN ('pending', 'running', 'done', 'failed')), attempts INTEGER NOT NULL DEFAULT 0,
        host TEXT, pid INTEGER, started REAL, heartbeat REAL, finished REAL, seconds REAL, units INTEGER,
        error TEXT, hint TEXT, tool_version TEXT, params_hash TEXT, PRIMARY KEY (kind, slide_id));
    CREATE TABLE outputs(kind TEXT NOT NULL, slide_id TEXT NOT NULL, path TEXT NOT NULL, size INTEGER, sha256 TEXT,
        PRIMARY KEY (kind, slide_id, path), FOREIGN KEY (kind, slide_id) REFERENCES jobs(kind, slide_id) ON DELETE CASCADE);
    INSERT INTO schema_version VALUES (1, '0.1.0', 0);
    INSERT INTO jobs(kind, slide_id, input, status, attempts, seconds, units) VALUES ('tile', 'old', '/in/old.svs', 'done', 1, 2.5, 37);
    INSERT INTO outputs VALUES ('tile', 'old', '/out/patches/old.h5', 10, 'abc');
    """

    func testASchema1CatalogIsMigratedKeepingItsJobs() throws {
        let dir = try TestEnv.scratch(self, "migrate")
        try SQLiteDB(path: Catalog.path(in: dir), readOnly: false).exec(Self.schemaV1)
        XCTAssertThrowsError(try Catalog(folder: dir, readOnly: true)) { e in
            XCTAssertTrue("\(e)".contains("older RadioPath (catalog schema 1") && "\(e)".contains("run a job into this folder to migrate it"), "\(e)")
        }
        let c = try Catalog(folder: dir, toolVersion: "new")
        XCTAssertEqual(try c.storedSchemaVersion(), 2)
        let old = try XCTUnwrap(try c.jobs(kind: "tile").first)
        XCTAssertEqual([old.slideID, old.status.rawValue], ["old", "done"])
        XCTAssertEqual(old.units, 37)
        XCTAssertEqual(old.outputs.map(\.path), ["/out/patches/old.h5"])
        XCTAssertEqual(old.warnings, [])
        // The new columns and table work on the migrated file.
        XCTAssertEqual(try c.claim(kind: "tile", slideID: "new", input: "", outputsComplete: false, parameters: params), .granted(attempt: 1, reclaimed: nil))
        XCTAssertTrue(try c.finish(kind: "tile", slideID: "new", outcome: JobOutcome(status: .done, seconds: 1, warnings: ["w1", "w2"], details: ["k": "v"])))
        let new = try XCTUnwrap(try c.jobs(kind: "tile").first { $0.slideID == "new" })
        XCTAssertEqual(new.warnings, ["w1", "w2"])
        XCTAssertEqual(new.details, ["k": "v"])
        XCTAssertEqual(try c.parameterSets().count, 1)
        XCTAssertEqual(try Catalog(folder: dir, readOnly: true).storedSchemaVersion(), 2, "opens read-only once migrated")
    }
}
