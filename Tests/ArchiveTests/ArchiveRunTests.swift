import Foundation
import TestSupport
import XCTest
@testable import Archive

/// Whole runs of the built `radiopath`: a full output disk, workers sharing progress and the
/// summaries, `status --watch/--markdown`, bad manifests and catalogs of other versions.
final class ArchiveRunTests: XCTestCase {
    func executable() throws -> String {
        let candidates = [Bundle.main.bundleURL.path + "/radiopath", TestEnv.packageRoot + "/.build/debug/radiopath"]
        guard let bin = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            XCTFail("radiopath executable not found in \(candidates); build it with `swift build`")
            throw XCTSkip("no binary")
        }
        return bin
    }

    func start(_ args: [String], cwd: String? = nil, env: [String: String] = [:]) throws -> (Process, Pipe, Pipe) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: try executable())
        p.arguments = args
        if let cwd { p.currentDirectoryURL = URL(fileURLWithPath: cwd) }
        p.environment = ProcessInfo.processInfo.environment.merging(env) { $1 }
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        return (p, out, err)
    }

    func finish(_ w: (Process, Pipe, Pipe)) -> (status: Int32, stdout: String, stderr: String) {
        final class Sink: @unchecked Sendable { var data = Data() }
        let sink = Sink(), group = DispatchGroup(), handle = w.1.fileHandleForReading
        DispatchQueue.global().async(group: group) { sink.data = handle.readDataToEndOfFile() }
        let err = w.2.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        w.0.waitUntilExit()
        return (w.0.terminationStatus, String(decoding: sink.data, as: UTF8.self), String(decoding: err, as: UTF8.self))
    }

    func run(_ args: [String], cwd: String? = nil, env: [String: String] = [:]) throws -> (status: Int32, stdout: String, stderr: String) {
        finish(try start(args, cwd: cwd, env: env))
    }

    /// `names` as links to the small real SVS in `folder`.
    func slides(_ folder: String, _ names: [String]) throws -> String {
        let cmu = try TestEnv.testdata("slides/CMU-1-Small-Region.svs")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        for n in names { try FileManager.default.createSymbolicLink(atPath: "\(folder)/\(n).svs", withDestinationPath: cmu) }
        return folder
    }

    func leftovers(_ root: String) -> [String] {
        ((FileManager.default.enumerator(atPath: root)?.allObjects as? [String]) ?? []).filter { $0.contains(".tmp-") }
    }

    // MARK: disk full

    func testFullOutputDiskFailsTheSlideClearlyKeepsTheCatalogAndARerunCompletes() throws {
        let dir = try TestEnv.scratch(self, "diskfull")
        let input = try slides(dir + "/slides", ["a", "b ü", "c", "d"])
        let out = dir + "/out on tmpfs"
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        // A real small filesystem that fills up: 2 MiB of tmpfs (needs root or CAP_SYS_ADMIN).
        let mount = try TestEnv.run("/bin/mount", ["-t", "tmpfs", "-o", "size=2m", "tmpfs", out])
        guard mount.status == 0 else {
            throw XCTSkip("SKIPPED: cannot mount a 2 MiB tmpfs to fill up (\(mount.stderr.trimmingCharacters(in: .whitespacesAndNewlines))); run the tests as root")
        }
        addTeardownBlock { _ = try? TestEnv.run("/bin/umount", [out]) }
        let args = ["tile", input, "--out", out, "--jobs", "1", "--save-patches"]

        let full = try run(args)
        XCTAssertEqual(full.status, 1, full.stderr)
        let catalog = try Catalog(folder: out, readOnly: true)
        let jobs = try catalog.jobs(kind: "tile")
        XCTAssertEqual(jobs.count, 4)
        XCTAssertFalse(jobs.contains { $0.status == .running || $0.status == .pending }, "every slide ended: \(jobs.map { ($0.slideID, $0.status) })")
        let failed = jobs.filter { $0.status == .failed }
        XCTAssertFalse(failed.isEmpty, "2 MiB cannot hold four slides with patch images")
        XCTAssertTrue(jobs.contains { $0.status == .done }, "the first slide fits")
        for f in failed {
            let e = f.error ?? ""
            XCTAssertTrue(e.hasPrefix("disk full: no space left on device writing \(out)/"), "clear error naming the file: \(e)")
            XCTAssertFalse(e.contains(".tmp-"), "the file's final name, not the temporary one: \(e)")
            XCTAssertTrue(f.hint?.contains("free space on the disk holding \(out)") ?? false, f.hint ?? "no hint")
            XCTAssertTrue(full.stderr.contains("✗ \(input)/\(f.slideID).svs: disk full"), full.stderr)
            XCTAssertFalse(FileManager.default.fileExists(atPath: "\(out)/patches/\(f.slideID).h5"), "no bag for a failed slide")
            XCTAssertTrue(f.outputs.isEmpty)
        }
        XCTAssertEqual(leftovers(out), [], "no half file under any name")
        for j in jobs where j.status == .done {
            for o in j.outputs where o.size != nil {
                let size = (try FileManager.default.attributesOfItem(atPath: o.path)[.size] as? NSNumber)?.intValue
                XCTAssertEqual(size, o.size, "\(o.path): complete, as recorded")
            }
        }
        let status = try run(["status", out])
        XCTAssertEqual(status.status, 0, status.stderr)
        XCTAssertTrue(status.stdout.contains("\(jobs.count - failed.count) done, \(failed.count) failed, 0 running") && status.stdout.contains("disk full"), status.stdout)

        // Space is freed (the filesystem grows): a plain rerun finishes the rest.
        XCTAssertEqual(try TestEnv.run("/bin/mount", ["-o", "remount,size=64m", out]).status, 0)
        let again = try run(args)
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertFalse(again.stderr.contains("failed in an earlier run"), "a full disk is retried without --retry-failed\n\(again.stderr)")
        let after = try Catalog(folder: out, readOnly: true).jobs(kind: "tile")
        XCTAssertTrue(after.allSatisfy { $0.status == .done && $0.error == nil }, "\(after.map { ($0.slideID, $0.status) })")
        XCTAssertEqual(after.filter { $0.attempts == 2 }.map(\.slideID), failed.map(\.slideID), "only the failed slides were redone")
        XCTAssertEqual(leftovers(out), [])
        let summary = try String(contentsOfFile: out + "/tile_summary.csv", encoding: .utf8)
        XCTAssertEqual(summary.split(separator: "\n").filter { $0.contains(",done,") }.count, 4, summary)
    }

    func testEmbedOntoAFullDiskReportsItAndARerunAfterFreeingSpaceCompletes() throws {
        let dir = try TestEnv.scratch(self, "diskfull-embed")
        let input = try slides(dir + "/slides", ["e1", "e2", "e3"])
        let tiled = dir + "/tiled"
        XCTAssertEqual(try run(["tile", input, "--out", tiled, "--patch-size", "224"]).status, 0)
        let out = dir + "/out"
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        let mount = try TestEnv.run("/bin/mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", out])
        guard mount.status == 0 else {
            throw XCTSkip("SKIPPED: cannot mount a 1 MiB tmpfs to fill up (\(mount.stderr.trimmingCharacters(in: .whitespacesAndNewlines))); run the tests as root")
        }
        addTeardownBlock { _ = try? TestEnv.run("/bin/umount", [out]) }
        // Another program filled the disk: about 100 KiB are left.
        try Data(count: 900_000).write(to: URL(fileURLWithPath: out + "/filler"))

        let full = try run(["embed", tiled + "/patches", "--out", out])
        XCTAssertEqual(full.status, 1, full.stderr)
        XCTAssertTrue(full.stderr.contains("disk full") || full.stderr.contains("database or disk is full"), full.stderr)
        XCTAssertFalse(full.stderr.contains(".tmp-"), "errors name final files:\n\(full.stderr)")
        XCTAssertEqual(leftovers(out), [], "no half file")
        let status = try run(["status", out])
        XCTAssertEqual(status.status, 0, "the catalog stays readable\n\(status.stderr)")
        XCTAssertFalse(try Catalog(folder: out, readOnly: true).jobs().contains { $0.status == .done && $0.outputs.isEmpty },
                       "nothing is recorded done without its output")

        try FileManager.default.removeItem(atPath: out + "/filler")
        let again = try run(["embed", tiled + "/patches", "--out", out])
        XCTAssertEqual(again.status, 0, again.stderr)
        let jobs = try Catalog(folder: out, readOnly: true).jobs(kind: "embed:pathomic-v1")
        XCTAssertEqual(jobs.map(\.slideID), ["e1", "e2", "e3"])
        XCTAssertTrue(jobs.allSatisfy { $0.status == .done && $0.outputs.count == 1 }, "\(jobs.map { ($0.slideID, $0.status, $0.error ?? "") })")
        for j in jobs { XCTAssertTrue(FileManager.default.fileExists(atPath: "\(out)/features_pathomic-v1/\(j.slideID).h5")) }
    }

    // MARK: several workers

    func testWorkersSeeTheWholeArchiveAndTheLastWritesTheCompleteSummaryAndReport() throws {
        let dir = try TestEnv.scratch(self, "shared")
        let names = ["a one", "b twö", "c ünïcode", "d 4", "e five", "f 6"]
        let input = try slides(dir + "/slides", names)
        let out = dir + "/out"
        let a = try start(["tile", input, "--out", out, "--jobs", "1"], env: ["RADIOPATH_CATALOG_TIMING": "1"])
        let b = try start(["tile", input, "--out", out, "--jobs", "1"])
        let ra = finish(a), rb = finish(b)
        XCTAssertEqual(ra.status, 0, ra.stderr)
        XCTAssertEqual(rb.status, 0, rb.stderr)

        // Each worker's last progress line counts the whole archive, not its share.
        var finalDone: [Int] = []
        for r in [ra, rb] {
            let line = try XCTUnwrap(r.stderr.split(separator: "\n").last { $0.hasPrefix("archive: tile ") }, r.stderr)
            XCTAssertTrue(line.contains("/6 done"), String(line))
            finalDone.append(Int(line.dropFirst("archive: tile ".count).prefix { $0.isNumber }) ?? -1)
        }
        XCTAssertEqual(finalDone.max(), 6, "the worker that ended last saw every slide done: \(finalDone)")
        XCTAssertTrue(ra.stderr.contains("catalog timing: ") && ra.stderr.contains("ms per slide"), ra.stderr)

        let summary = try String(contentsOfFile: out + "/tile_summary.csv", encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(summary.count, 7, "header + every slide, whichever worker wrote last:\n\(summary.joined(separator: "\n"))")
        XCTAssertEqual(summary.dropFirst().filter { $0.contains(",done,") }.count, 6)

        let jobs = try Catalog(folder: out, readOnly: true).jobs(kind: "tile")
        let report = try String(contentsOfFile: out + "/run_report.md", encoding: .utf8)
        XCTAssertTrue(report.contains("| tile | 6 | 6 | 0 | 0 | 0 |"), report)
        for n in names { XCTAssertTrue(report.contains("| \(n) | done | 1 |"), "\(n) in the per-slide table:\n\(report)") }
        for pid in Set(jobs.compactMap { $0.holder?.pid }) {
            XCTAssertTrue(report.contains("| \(Catalog.hostName()) | \(pid) |"), "worker \(pid) listed:\n\(report)")
        }
        XCTAssertTrue(report.contains("target_mpp = 0.5"), "the parameters in words")
        XCTAssertEqual(leftovers(out), [])
    }

    // MARK: status --watch, --markdown

    func testWatchFollowsARunningWorkerAndMarkdownWritesTheReport() throws {
        let dir = try TestEnv.scratch(self, "watch")
        let input = try slides(dir + "/slides", ["w1", "w2", "w3", "w4"])
        let out = dir + "/out"
        let worker = try start(["tile", input, "--out", out, "--jobs", "1"])
        while worker.0.isRunning && !Catalog.exists(in: out) { usleep(2_000) }
        let watch = try start(["status", out, "--watch", "--interval", "0.1"])
        let w = finish(watch), t = finish(worker)
        XCTAssertEqual(t.status, 0, t.stderr)
        XCTAssertEqual(w.status, 0, w.stderr)
        let lines = w.stdout.split(separator: "\n")
        XCTAssertTrue(lines.contains { $0.hasPrefix("tile 4/4 done, 0 failed, 0 running, 0 pending") }, "watch returns once nothing is left:\n\(w.stdout)")
        XCTAssertTrue(lines.last?.hasPrefix("  tile      4 done") ?? false, "then the summary:\n\(w.stdout)")

        try FileManager.default.copyItem(atPath: try TestEnv.testdata("slides/broken.svs"), toPath: input + "/zz broken.svs")
        XCTAssertEqual(try run(["tile", input, "--out", out]).status, 1)
        let md = try run(["status", out, "--markdown"])
        XCTAssertEqual(md.status, 0, md.stderr)
        let report = try String(contentsOfFile: out + "/run_report.md", encoding: .utf8)
        XCTAssertTrue(report.contains("| tile | zz broken | \(input)/zz broken.svs | 1 | ") && report.contains("OpenSlide does not recognise"), report)
        XCTAssertTrue(report.contains("| tile | 5 | 4 | 1 | 0 | 0 |"), report)
        let toFile = try run(["status", out, "--markdown", dir + "/r ü.md"])
        XCTAssertEqual(toFile.status, 0, toFile.stderr)
        XCTAssertTrue(try String(contentsOfFile: dir + "/r ü.md", encoding: .utf8).hasPrefix("# RadioPath run report"))
        let toStdout = try run(["status", out, "--markdown", "-"])
        XCTAssertTrue(toStdout.stdout.contains("## Failures") && toStdout.stdout.contains("zz broken"), toStdout.stdout)
        let stray = try run(["status", out, dir + "/x.md"])
        XCTAssertNotEqual(stray.status, 0)
        XCTAssertTrue(stray.stderr.contains("--markdown"), stray.stderr)

        // Only a dead worker's slide is left: watch says so instead of waiting for ever.
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/true")
        try p.run()
        p.waitUntilExit()
        try Catalog(folder: out).execute("UPDATE jobs SET status = 'running', host = '\(Catalog.hostName())', pid = \(p.processIdentifier) WHERE slide_id = 'w1'")
        let stale = try run(["status", out, "--watch", "--interval", "0.1"])
        XCTAssertEqual(stale.status, 0, stale.stderr)
        XCTAssertTrue(stale.stdout.contains("only stale jobs are left"), stale.stdout)
    }

    // MARK: bad input

    func testManifestWithMissingDuplicateRelativeAndNonASCIIPaths() throws {
        let dir = try TestEnv.scratch(self, "manifest")
        _ = try slides(dir + "/sl dir", ["ä b", "c"])
        _ = try slides(dir + "/other", ["c"])
        try FileManager.default.createDirectory(atPath: dir + "/elsewhere", withIntermediateDirectories: true)
        try "path,label\nsl dir/ä b.svs,x\nsl dir/ä b.svs,x\nsl dir/missing.svs,y\nsl dir/c.svs,z\nother/c.svs,z\n"
            .write(toFile: dir + "/m.csv", atomically: true, encoding: .utf8)
        // Run from another folder: relative paths follow the manifest, not the working folder.
        let r = try run(["tile", "../m.csv", "--out", "../out"], cwd: dir + "/elsewhere")
        XCTAssertEqual(r.status, 1, r.stderr)
        XCTAssertTrue(r.stderr.contains("\(dir)/other/c.svs: slide id 'c' is also used by \(dir)/sl dir/c.svs"), r.stderr)
        let jobs = try Catalog(folder: dir + "/out", readOnly: true).jobs(kind: "tile")
        XCTAssertEqual(jobs.map(\.slideID), ["c", "missing", "ä b"], "a repeated row is one job; the clashing id is refused")
        XCTAssertEqual(jobs.map(\.input), ["\(dir)/sl dir/c.svs", "\(dir)/sl dir/missing.svs", "\(dir)/sl dir/ä b.svs"], "absolute paths")
        XCTAssertEqual(jobs.map(\.status), [.done, .failed, .done])
        XCTAssertTrue(jobs[1].error?.contains("no such file") ?? false, jobs[1].error ?? "")
        XCTAssertEqual(try Catalog(folder: dir + "/out", readOnly: true).slides().first { $0.slideID == "ä b" }?.label, "x")
        let summary = try String(contentsOfFile: dir + "/out/tile_summary.csv", encoding: .utf8)
        XCTAssertEqual(summary.split(separator: "\n").count, 5, "three jobs and the refused duplicate:\n\(summary)")
        XCTAssertTrue(summary.contains("\(dir)/other/c.svs,failed"), summary)
    }

    func testCatalogsOfOtherVersionsAreMigratedOrRefused() throws {
        let dir = try TestEnv.scratch(self, "versions")
        let input = try slides(dir + "/slides", ["v"])
        let old = dir + "/old"
        try FileManager.default.createDirectory(atPath: old, withIntermediateDirectories: true)
        try SQLiteDB(path: Catalog.path(in: old), readOnly: false).exec(ProgressReportTests.schemaV1)
        let r = try run(["tile", input, "--out", old])
        XCTAssertEqual(r.status, 0, r.stderr)
        let c = try Catalog(folder: old, readOnly: true)
        XCTAssertEqual(try c.storedSchemaVersion(), 2)
        XCTAssertEqual(try c.jobs(kind: "tile").map(\.slideID), ["old", "v"], "the old rows are kept")

        let newer = dir + "/newer"
        try FileManager.default.createDirectory(atPath: newer, withIntermediateDirectories: true)
        try Catalog(folder: newer).execute("INSERT INTO schema_version VALUES (7, 'future', 0)")
        let refused = try run(["tile", input, "--out", newer])
        XCTAssertEqual(refused.status, 2, refused.stderr)
        XCTAssertTrue(refused.stderr.contains("\(newer)/radiopath.sqlite: written by a newer RadioPath (catalog schema 7"), refused.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: newer + "/patches/v.h5"), "nothing done")
        let status = try run(["status", newer])
        XCTAssertEqual(status.status, 2)
        XCTAssertTrue(status.stderr.contains("newer RadioPath"), status.stderr)
    }
}
