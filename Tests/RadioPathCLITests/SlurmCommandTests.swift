import Foundation
import TestSupport
import XCTest

/// `radiopath slurm` writes scripts that bash and sbatch read back exactly; `status --check`
/// and the SLURM_ARRAY_TASK_* shard. No Slurm needed: a stub stands in for radiopath on the
/// nodes and for sbatch (the real cluster is `make test-slurm`).
final class SlurmCommandTests: XCTestCase {
    /// A folder whose path needs quoting: blank, apostrophe, non-ASCII.
    func awkwardFolder(_ label: String) throws -> String {
        let dir = try TestEnv.scratch(self, label) + "/run d'été ü"
        try FileManager.default.createDirectory(atPath: dir + "/slides", withIntermediateDirectories: true)
        for name in ["x y.svs", "é.svs"] { FileManager.default.createFile(atPath: "\(dir)/slides/\(name)", contents: Data()) }
        return dir
    }

    /// An executable that records its arguments (NUL-separated) and working folder.
    func recorder(_ path: String) throws {
        try "#!/bin/bash\npwd > \"$RECORD.pwd\"\nprintf '%s\\0' \"$@\" > \"$RECORD\"\necho \"$SLURM_ARRAY_TASK_ID\" > \"$RECORD.task\"\n"
            .write(toFile: path, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: path)
    }

    func recorded(_ record: String) throws -> [String] {
        let data = try Data(contentsOf: URL(fileURLWithPath: record))
        return data.split(separator: 0, omittingEmptySubsequences: false).dropLast().map { String(decoding: $0, as: UTF8.self) }
    }

    func testScriptsRunTheJobVerbatimAndTheCheck() throws {
        let dir = try awkwardFolder("slurm-script")
        let out = dir + "/out dir", stub = dir + "/radiopath stub", record = dir + "/record"
        try recorder(stub)
        let r = try radiopath(["slurm", "--tasks", "3", "--partition", "p", "--time", "2:00:00", "--mem", "8G", "--cpus", "2",
                               "--throttle", "2", "--sbatch-option=--qos=long", "--radiopath", stub, "--json",
                               "--", "tile", dir + "/slides", "--out", out, "--jobs", "2"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let report = try XCTUnwrap(try TestEnv.json(Data(r.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(report["script"] as? String, out + "/slurm/radiopath-tile.sbatch")
        XCTAssertEqual(report["slides"] as? Int, 2)
        XCTAssertNil(report["arrayJob"], "nothing submitted without --submit")
        let submit = try XCTUnwrap(report["submit"] as? String)
        XCTAssertTrue(submit.contains("--dependency=afterany:${jid%%;*} "), submit)
        XCTAssertTrue(r.stderr.contains(submit), "the command to run is printed")

        let script = try String(contentsOfFile: out + "/slurm/radiopath-tile.sbatch", encoding: .utf8)
        let directives = script.split(separator: "\n").filter { $0.hasPrefix("#SBATCH ") }.map { String($0.dropFirst(8)) }
        XCTAssertEqual(directives, ["--job-name=radiopath-tile", "--array=0-2%2", "--output=\"\(out)/slurm/logs/%A_%a.out\"",
                                    "--partition=p", "--time=2:00:00", "--mem=8G", "--cpus-per-task=2", "--qos=long"])
        XCTAssertTrue(script.hasPrefix("#!/bin/bash\n"))
        XCTAssertEqual(try TestEnv.run("/bin/bash", ["-n", out + "/slurm/radiopath-tile.sbatch"]).status, 0, "valid bash")

        // What a task runs: exactly the job's arguments, from the folder radiopath slurm ran in.
        let task = try TestEnv.run("/bin/bash", [out + "/slurm/radiopath-tile.sbatch"],
                                   environment: ["RECORD": record, "SLURM_ARRAY_TASK_ID": "1", "SLURM_ARRAY_TASK_COUNT": "3"])
        XCTAssertEqual(task.status, 0, task.stderr)
        XCTAssertEqual(try recorded(record), ["tile", dir + "/slides", "--out", out, "--jobs", "2"])
        XCTAssertEqual(try String(contentsOfFile: record + ".pwd", encoding: .utf8), FileManager.default.currentDirectoryPath + "\n")
        XCTAssertEqual(try String(contentsOfFile: record + ".task", encoding: .utf8), "1\n")

        let check = try String(contentsOfFile: out + "/slurm/radiopath-tile-check.sbatch", encoding: .utf8)
        XCTAssertEqual(check.split(separator: "\n").filter { $0.hasPrefix("#SBATCH ") }.map { String($0.dropFirst(8)) },
                       ["--job-name=radiopath-tile-check", "--output=\"\(out)/slurm/logs/%j-check.out\"", "--cpus-per-task=1",
                        "--time=0:15:00", "--partition=p", "--qos=long"], "one CPU, short, no array; partition and extra options kept")
        XCTAssertEqual(try TestEnv.run("/bin/bash", [out + "/slurm/radiopath-tile-check.sbatch"], environment: ["RECORD": record]).status, 0)
        XCTAssertEqual(try recorded(record), ["status", out, "--check", "--kind", "tile", "--expect", out + "/slurm/radiopath-tile.expected"])
        XCTAssertEqual(try String(contentsOfFile: out + "/slurm/radiopath-tile.expected", encoding: .utf8), "x y\né\n")
        XCTAssertTrue(FileManager.default.fileExists(atPath: out + "/slurm/logs"))
    }

    func testEmbedJobChecksItsEncoderKind() throws {
        let dir = try awkwardFolder("slurm-embed")
        let r = try radiopath(["slurm", "--tasks", "1", "--json", "--", "embed", dir + "/slides", "--out", dir + "/o"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let check = try String(contentsOfFile: dir + "/o/slurm/radiopath-embed-check.sbatch", encoding: .utf8)
        XCTAssertTrue(check.contains("--check --kind embed:pathomic-v1 --expect"), check)
        XCTAssertTrue(try String(contentsOfFile: dir + "/o/slurm/radiopath-embed.sbatch", encoding: .utf8).contains("#SBATCH --array=0-0\n"))
    }

    func testSubmitRunsSbatchThenTheCheckAfterTheArray() throws {
        let dir = try awkwardFolder("slurm-submit")
        let bin = dir + "/bin", log = dir + "/sbatch.log"
        try FileManager.default.createDirectory(atPath: bin, withIntermediateDirectories: true)
        // Prints ids 4241, 4242, … with a cluster name, as sbatch --parsable does on federated clusters.
        try """
        #!/bin/bash
        n=$(wc -l < "$SBATCH_LOG" 2>/dev/null || echo 0)
        printf '%s\\n' "$*" >> "$SBATCH_LOG"
        echo "$((4241 + n));main"
        """.write(toFile: bin + "/sbatch", atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: bin + "/sbatch")
        let out = dir + "/out"
        let env = ["PATH": bin + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? ""), "SBATCH_LOG": log]
        let r = try TestEnv.run(try binary(), ["slurm", "--tasks", "2", "--submit", "--json", "--", "tile", dir + "/slides", "--out", out],
                                environment: env)
        XCTAssertEqual(r.status, 0, r.stderr)
        let report = try XCTUnwrap(try TestEnv.json(r.stdout) as? [String: Any])
        XCTAssertEqual(report["arrayJob"] as? String, "4241")
        XCTAssertEqual(report["checkJob"] as? String, "4242")
        XCTAssertEqual(try String(contentsOfFile: log, encoding: .utf8),
                       "--parsable \(out)/slurm/radiopath-tile.sbatch\n--parsable --dependency=afterany:4241 \(out)/slurm/radiopath-tile-check.sbatch\n")
        XCTAssertTrue(r.stderr.contains("submitted array job 4241 (2 tasks, 2 slides) and check job 4242"), r.stderr)

        // The command printed without --submit does the same in a shell.
        try FileManager.default.removeItem(atPath: log)
        let submit = try XCTUnwrap(report["submit"] as? String)
        XCTAssertEqual(try TestEnv.run("/bin/bash", ["-c", submit], environment: env).status, 0)
        XCTAssertEqual(try String(contentsOfFile: log, encoding: .utf8),
                       "--parsable \(out)/slurm/radiopath-tile.sbatch\n--parsable --dependency=afterany:4241 \(out)/slurm/radiopath-tile-check.sbatch\n")

        // sbatch refusing the job: its message, exit 2.
        try "#!/bin/bash\necho 'sbatch: error: invalid partition specified: nope' >&2\nexit 1\n"
            .write(toFile: bin + "/sbatch", atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: bin + "/sbatch")
        let refused = try TestEnv.run(try binary(), ["slurm", "--tasks", "2", "--submit", "--", "tile", dir + "/slides", "--out", out], environment: env)
        XCTAssertEqual(refused.status, 2)
        XCTAssertTrue(refused.stderr.contains("invalid partition specified: nope") && refused.stderr.contains("--partition"), refused.stderr)
    }

    func testClearErrors() throws {
        let dir = try awkwardFolder("slurm-errors")
        let noSbatch = try TestEnv.run(try binary(), ["slurm", "--tasks", "2", "--submit", "--", "tile", dir + "/slides", "--out", dir + "/o"],
                                       environment: ["PATH": dir + "/nowhere"])
        XCTAssertEqual(noSbatch.status, 2)
        XCTAssertTrue(noSbatch.stderr.contains("sbatch not found on PATH") && noSbatch.stderr.contains("login node"), noSbatch.stderr)

        let cells = try radiopath(["slurm", "--tasks", "2", "--", "cells", dir + "/slides", "--out", dir + "/o"])
        XCTAssertNotEqual(cells.status, 0)
        XCTAssertTrue(cells.stderr.contains("the job must be tile or embed (got 'cells')"), cells.stderr)

        let none = try radiopath(["slurm", "--tasks", "2"])
        XCTAssertNotEqual(none.status, 0)
        XCTAssertTrue(none.stderr.contains("no job given"), none.stderr)

        let sharded = try radiopath(["slurm", "--tasks", "2", "--", "tile", dir + "/slides", "--out", dir + "/o", "--shard", "1/2"])
        XCTAssertEqual(sharded.status, 2)
        XCTAssertTrue(sharded.stderr.contains("leave --shard off"), sharded.stderr)

        let badArgs = try radiopath(["slurm", "--tasks", "2", "--", "tile", dir + "/slides"])
        XCTAssertEqual(badArgs.status, 2)
        XCTAssertTrue(badArgs.stderr.contains("the tile job's arguments") && badArgs.stderr.contains("--out"), badArgs.stderr)

        let otherOut = try radiopath(["slurm", "--tasks", "2", "--out", dir + "/elsewhere", "--", "tile", dir + "/slides", "--out", dir + "/o"])
        XCTAssertEqual(otherOut.status, 2)
        XCTAssertTrue(otherOut.stderr.contains("is not the job's --out"), otherOut.stderr)

        FileManager.default.createFile(atPath: dir + "/file", contents: Data("x".utf8))
        let unwritable = try radiopath(["slurm", "--tasks", "2", "--", "tile", dir + "/slides", "--out", dir + "/file/o"])
        XCTAssertEqual(unwritable.status, 2)
        XCTAssertTrue(unwritable.stderr.contains("cannot write \(dir)/file/o/slurm"), unwritable.stderr)
    }

    /// Tasks take their shard from SLURM_ARRAY_TASK_*; --check says what is not done.
    func testArrayTaskShardAndStatusCheck() throws {
        let slides = try TestEnv.testdata("slides")
        let dir = try TestEnv.scratch(self, "slurm-check")
        let out = dir + "/out", expect = dir + "/expected"
        try "CMU-1-Small-Region\nbroken\n".write(toFile: expect, atomically: true, encoding: .utf8)
        let inputs = [slides + "/CMU-1-Small-Region.svs", slides + "/broken.svs"]
        // Sorted ids: CMU-1-Small-Region, broken → task 0 of 2 takes the first.
        let first = try TestEnv.run(try binary(), ["tile"] + inputs + ["--out", out],
                                    environment: ["SLURM_ARRAY_TASK_ID": "0", "SLURM_ARRAY_TASK_COUNT": "2", "SLURM_ARRAY_TASK_MIN": "0"])
        XCTAssertEqual(first.status, 0, first.stderr)
        XCTAssertTrue(first.stderr.contains("(shard 1/2: 1 slides)"), first.stderr)

        let allDone = try radiopath(["status", out, "--check"])
        XCTAssertEqual(allDone.status, 0, allDone.stdout + allDone.stderr)
        XCTAssertTrue(allDone.stdout.contains("check: tile 1 of 1 done\n"), allDone.stdout)
        let missing = try radiopath(["status", out, "--check", "--kind", "tile", "--expect", expect])
        XCTAssertEqual(missing.status, 1)
        XCTAssertTrue(missing.stdout.contains("check: tile 1 of 2 done — not complete") && missing.stdout.contains("? broken not in the catalog"), missing.stdout)

        // An explicit --shard wins over the environment.
        let second = try TestEnv.run(try binary(), ["tile"] + inputs + ["--out", out, "--shard", "2/2"],
                                     environment: ["SLURM_ARRAY_TASK_ID": "0", "SLURM_ARRAY_TASK_COUNT": "2"])
        XCTAssertEqual(second.status, 1, second.stderr)
        XCTAssertTrue(second.stderr.contains("(shard 2/2: 1 slides)"), second.stderr)
        let failed = try radiopath(["status", out, "--check", "--kind", "tile", "--expect", expect])
        XCTAssertEqual(failed.status, 1)
        XCTAssertTrue(failed.stdout.contains("  ✗ broken failed: the name says an Aperio SVS file"), failed.stdout)
        XCTAssertFalse(failed.stdout.contains("not in the catalog"), failed.stdout)
        let json = try radiopath(["status", out, "--json", "--check"])
        XCTAssertEqual(json.status, 1)
        XCTAssertNotNil(try TestEnv.json(Data(json.stdout.utf8)), "stdout stays JSON; the check goes to stderr")
        XCTAssertTrue(json.stderr.contains("✗ broken failed"), json.stderr)

        let badTask = try TestEnv.run(try binary(), ["tile"] + inputs + ["--out", out],
                                      environment: ["SLURM_ARRAY_TASK_ID": "5", "SLURM_ARRAY_TASK_COUNT": "2"])
        XCTAssertNotEqual(badTask.status, 0)
        XCTAssertTrue(badTask.stderr.contains("SLURM_ARRAY_TASK_ID=5"), badTask.stderr)
        XCTAssertEqual(try radiopath(["status", out, "--kind", "tile"]).status, 64, "--kind only with --check")
    }
}
