import Foundation
import TestSupport
import XCTest
@testable import Archive

/// Several `radiopath tile` processes on one output folder, killed workers and bad slides,
/// through the built binary and the catalog it keeps.
final class WorkerFaultTests: XCTestCase {
    func binary() throws -> String {
        let candidates = [Bundle.main.bundleURL.path + "/radiopath", TestEnv.packageRoot + "/.build/debug/radiopath"]
        guard let bin = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            XCTFail("radiopath executable not found in \(candidates); build it with `swift build`")
            throw XCTSkip("no binary")
        }
        return bin
    }

    /// Names with spaces and non-ASCII letters, all links to the small real SVS.
    static let names = ["a one", "b twö", "c ünïcode", "d 4", "e five", "f 6", "g sieben", "h 8"]

    func slideFolder(_ dir: String, count: Int) throws -> String {
        let cmu = try TestEnv.testdata("slides/CMU-1-Small-Region.svs")
        let folder = dir + "/slides in here"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        for n in Self.names.prefix(count) { try FileManager.default.createSymbolicLink(atPath: "\(folder)/\(n).svs", withDestinationPath: cmu) }
        return folder
    }

    func start(_ args: [String]) throws -> (Process, Pipe) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: try binary())
        p.arguments = args
        let err = Pipe()
        p.standardError = err
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        return (p, err)
    }

    func finish(_ w: (Process, Pipe)) -> (status: Int32, stderr: String) {
        let data = w.1.fileHandleForReading.readDataToEndOfFile()
        w.0.waitUntilExit()
        return (w.0.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// Every file under `root` (relative path → bytes), except the run records and the catalog.
    func files(_ root: String) -> [String: Data] {
        var out: [String: Data] = [:]
        let skip: Set<String> = ["tile_summary.csv", "tile_run.json", RunReport.fileName, Catalog.fileName, Catalog.fileName + "-wal", Catalog.fileName + "-shm"]
        for rel in (FileManager.default.enumerator(atPath: root)?.allObjects as? [String]) ?? [] where !skip.contains(rel) {
            var isDir: ObjCBool = false
            if FileManager.default.fileExists(atPath: "\(root)/\(rel)", isDirectory: &isDir), !isDir.boolValue {
                out[rel] = FileManager.default.contents(atPath: "\(root)/\(rel)")
            }
        }
        return out
    }

    /// A single-worker run's files, made in `out` and moved aside so a later run writes the
    /// same paths (bags record the output folder).
    func reference(_ slides: String, out: String, extra: [String] = []) throws -> [String: Data] {
        let r = finish(try start(["tile", slides, "--out", out, "--jobs", "1"] + extra))
        XCTAssertEqual(r.status, 0, r.stderr)
        let ref = files(out)
        try FileManager.default.removeItem(atPath: out)
        return ref
    }

    func assertSame(_ got: [String: Data], _ ref: [String: Data], file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(got.keys.sorted(), ref.keys.sorted(), "same files, no leftovers", file: file, line: line)
        for (k, v) in ref where got[k] != v { XCTFail("\(k) differs from the single-worker run", file: file, line: line) }
    }

    func testTwoWorkersRacingDoEachSlideOnceWithIdenticalOutputs() throws {
        let dir = try TestEnv.scratch(self, "race")
        let slides = try slideFolder(dir, count: 6)
        let out = dir + "/out ü"
        let ref = try reference(slides, out: out)
        XCTAssertEqual(ref.keys.filter { $0.hasPrefix("patches/") }.count, 6)

        let a = try start(["tile", slides, "--out", out, "--jobs", "1"])
        let b = try start(["tile", slides, "--out", out, "--jobs", "2"])
        let ra = finish(a), rb = finish(b)
        XCTAssertEqual(ra.status, 0, ra.stderr)
        XCTAssertEqual(rb.status, 0, rb.stderr)

        let jobs = try Catalog(folder: out, readOnly: true).jobs(kind: "tile")
        XCTAssertEqual(jobs.map(\.slideID), Self.names.prefix(6).sorted())
        XCTAssertTrue(jobs.allSatisfy { $0.status == .done && $0.attempts == 1 }, "each slide done once: \(jobs.map { ($0.slideID, $0.status, $0.attempts) })")
        XCTAssertTrue(Set(jobs.compactMap { $0.holder?.pid }).isSubset(of: [Int(a.0.processIdentifier), Int(b.0.processIdentifier)]))
        XCTAssertTrue(jobs.allSatisfy { $0.outputs.count == 4 && $0.outputs.allSatisfy { $0.sha256?.count == 64 } })
        let slideRows = try Catalog(folder: out, readOnly: true).slides()
        XCTAssertEqual(slideRows.count, 6)
        XCTAssertTrue(slideRows.allSatisfy { $0.mpp == 0.499 && $0.mppSource == "openslide-property" && $0.quickhash?.isEmpty == false && ($0.size ?? 0) > 0 })
        assertSame(files(out), ref)
    }

    func testKilledWorkerLeavesNoHalfFilesAndARerunTakesItsSlideOver() throws {
        let dir = try TestEnv.scratch(self, "kill")
        let slides = try slideFolder(dir, count: 8)
        let out = dir + "/out"
        let args = ["tile", slides, "--out", out, "--jobs", "1", "--save-patches"]
        let ref = try reference(slides, out: out, extra: ["--save-patches"])

        let w = try start(Array(args.dropFirst(0)))
        var victim: String?
        while w.0.isRunning && victim == nil {
            usleep(5_000)
            guard Catalog.exists(in: out), let jobs = try? Catalog(folder: out, readOnly: true).jobs(kind: "tile") else { continue }
            if jobs.contains(where: { $0.status == .done }), let running = jobs.first(where: { $0.status == .running }) {
                kill(w.0.processIdentifier, SIGKILL)
                victim = running.slideID
            }
        }
        _ = finish(w)
        let killed = try XCTUnwrap(victim, "the worker finished before it could be killed mid-run")
        XCTAssertEqual(w.0.terminationReason, .uncaughtSignal)
        let before = try Catalog(folder: out, readOnly: true).jobs(kind: "tile")
        let row = try XCTUnwrap(before.first { $0.slideID == killed })
        XCTAssertEqual(row.status, .running)
        XCTAssertEqual(row.stale, true, "its worker is gone")
        for (k, v) in files(out) where k.hasPrefix("patches/") && !k.contains(".tmp-") {
            XCTAssertEqual(v, ref[k], "\(k): a bag on disk is complete, never half written")
        }

        let r = finish(try start(args))
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("took over from"), r.stderr)
        let after = try Catalog(folder: out, readOnly: true).jobs(kind: "tile")
        XCTAssertTrue(after.allSatisfy { $0.status == .done }, "nothing lost")
        XCTAssertEqual(after.first { $0.slideID == killed }?.attempts, 2)
        XCTAssertEqual(after.filter { $0.attempts != 1 }.map(\.slideID), [killed], "nothing done twice but the killed one")
        assertSame(files(out), ref)
    }

    func testFailedSlideIsRecordedSkippedAndRetried() throws {
        let dir = try TestEnv.scratch(self, "failed")
        let slides = try slideFolder(dir, count: 1)
        let broken = slides + "/z broken.svs"
        try FileManager.default.copyItem(atPath: try TestEnv.testdata("slides/broken.svs"), toPath: broken)
        let out = dir + "/out"
        let first = finish(try start(["tile", slides, "--out", out]))
        XCTAssertEqual(first.status, 1, first.stderr)
        var job = try XCTUnwrap(try Catalog(folder: out, readOnly: true).jobs(kind: "tile").first { $0.slideID == "z broken" })
        XCTAssertEqual(job.status, .failed)
        XCTAssertTrue(job.error?.contains("OpenSlide does not recognise") ?? false, job.error ?? "no error")
        XCTAssertNotNil(job.hint)

        let again = finish(try start(["tile", slides, "--out", out]))
        XCTAssertEqual(again.status, 1, "the folder still has a failure\n\(again.stderr)")
        XCTAssertTrue(again.stderr.contains("z broken: failed in an earlier run") && again.stderr.contains("--retry-failed"), again.stderr)
        XCTAssertEqual(try Catalog(folder: out, readOnly: true).jobs(kind: "tile").first { $0.slideID == "z broken" }?.attempts, 1, "not retried")

        // The user replaces the file and retries.
        try FileManager.default.removeItem(atPath: broken)
        try FileManager.default.createSymbolicLink(atPath: broken, withDestinationPath: try TestEnv.testdata("slides/CMU-1-Small-Region.svs"))
        let retried = finish(try start(["tile", slides, "--out", out, "--retry-failed"]))
        XCTAssertEqual(retried.status, 0, retried.stderr)
        job = try XCTUnwrap(try Catalog(folder: out, readOnly: true).jobs(kind: "tile").first { $0.slideID == "z broken" })
        XCTAssertEqual(job.status, .done)
        XCTAssertEqual(job.attempts, 2)
        XCTAssertNil(job.error)
        XCTAssertEqual(try Catalog(folder: out, readOnly: true).jobs(kind: "tile").first { $0.slideID == "a one" }?.attempts, 1)
    }

    func testShardsSplitTheSlidesAmongWorkers() throws {
        let dir = try TestEnv.scratch(self, "shards")
        let slides = try slideFolder(dir, count: 7)
        let out = dir + "/out"
        var seen: [String] = []
        for i in 1...3 {
            let r = finish(try start(["tile", slides, "--out", out, "--shard", "\(i)/3"]))
            XCTAssertEqual(r.status, 0, r.stderr)
            XCTAssertTrue(r.stderr.contains("(shard \(i)/3: \(i == 1 ? 3 : 2) slides)"), r.stderr)
            let done = try Catalog(folder: out, readOnly: true).jobs(kind: "tile").map(\.slideID)
            let new = done.filter { !seen.contains($0) }
            XCTAssertEqual(new.count, i == 1 ? 3 : 2, "shard \(i) adds only its own slides")
            seen += new
        }
        XCTAssertEqual(seen.sorted(), Self.names.prefix(7).sorted())
        XCTAssertTrue(try Catalog(folder: out, readOnly: true).jobs().allSatisfy { $0.status == .done && $0.attempts == 1 })
        let bad = finish(try start(["tile", slides, "--out", out, "--shard", "4/3"]))
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.stderr.contains("shard number must be 1 to 3"), bad.stderr)
    }

    func testReadOnlyOutputFolderIsAClearError() throws {
        let dir = try TestEnv.scratch(self, "readonly")
        let slides = try slideFolder(dir, count: 1)
        let out = dir + "/locked"
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        chmod(out, 0o555)
        addTeardownBlock { chmod(out, 0o755) }
        if FileManager.default.createFile(atPath: out + "/probe", contents: Data()) {
            // Root writes through permissions; an immutable folder stops it.
            try? FileManager.default.removeItem(atPath: out + "/probe")
            _ = try? TestEnv.run("/usr/bin/chattr", ["+i", out])
            addTeardownBlock { _ = try? TestEnv.run("/usr/bin/chattr", ["-i", out]) }
            if FileManager.default.createFile(atPath: out + "/probe", contents: Data()) {
                try? FileManager.default.removeItem(atPath: out + "/probe")
                throw XCTSkip("SKIPPED: cannot make a folder read-only here (root without chattr)")
            }
        }
        let r = finish(try start(["tile", slides, "--out", out]))
        XCTAssertEqual(r.status, 2, r.stderr)
        XCTAssertTrue(r.stderr.contains("\(out): the output folder is not writable"), r.stderr)
        let e = finish(try start(["embed", slides, "--out", out]))
        XCTAssertEqual(e.status, 2, e.stderr)
        XCTAssertTrue(e.stderr.contains(out) && e.stderr.contains("permissions"), e.stderr)
    }
}
