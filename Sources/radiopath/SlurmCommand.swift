import Archive
import ArgumentParser
import Foundation
import ImageCore

/// `radiopath slurm -- tile …`: a Slurm job array whose tasks each do one shard of a tile or
/// embed job into one output folder, plus a check job that runs after them.
struct SlurmCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "slurm",
        abstract: "Write (and with --submit, submit) a Slurm job array for a tile or embed job, plus a check job.",
        discussion: """
        The job and its arguments follow --:
          radiopath slurm --tasks 8 --partition cpu --time 2:00:00 --mem 8G \\
              --cpus 4 -- tile /data/slides --out /data/out --jobs 4
        writes, under the job's --out:
          slurm/radiopath-<job>.sbatch        the array (--array=0-<tasks-1>);
                                              each task runs the job as given,
                                              taking its shard from
                                              SLURM_ARRAY_TASK_ID/COUNT
          slurm/radiopath-<job>-check.sbatch  `radiopath status --check`: fails
                                              unless every slide is done
          slurm/radiopath-<job>.expected      the slide ids the check expects
          slurm/logs/<array job>_<task>.out   one log per task (and the check's)
        and prints the sbatch commands; --submit runs them (the check with
        --dependency=afterany on the array) and prints both job ids.
        Tasks share the catalog (DIR/radiopath.sqlite), so resubmitting the
        same array after a failure does only what is missing (add
        --retry-failed to the job to retry failed slides). Give tile --jobs or
        embed --threads equal to --cpus.
        Exit status: 0 written (and submitted), 2 an unwritable folder, or
        sbatch missing or refusing the job, 64 bad arguments (usage).
        """)

    @Option(help: "Array tasks (shards of the slides).")
    var tasks: Int

    @Option(help: "Slurm partition (sbatch --partition).")
    var partition: String?

    @Option(help: "Time limit per task (sbatch --time), e.g. 2:00:00.")
    var time: String?

    @Option(help: "Memory per task (sbatch --mem), e.g. 8G.")
    var mem: String?

    @Option(help: "CPUs per task (sbatch --cpus-per-task).")
    var cpus: Int?

    @Option(help: "Account to charge (sbatch --account).")
    var account: String?

    @Option(help: "Run at most this many tasks at once (--array=…%N).")
    var throttle: Int?

    @Option(name: .customLong("sbatch-option"), help: "Any other sbatch option for both scripts, e.g. --sbatch-option=--qos=long (repeatable).")
    var sbatchOptions: [String] = []

    @Option(help: "Output folder of the job (default: the job's --out; must be the same folder).")
    var out: String?

    @Option(help: "The radiopath executable the tasks run (default: this one; it must be at that path on the nodes).")
    var radiopath: String?

    @Flag(help: "Submit with sbatch: the array, then the check job depending on it.")
    var submit = false

    @Flag(help: "Print what was written (and the job ids) as JSON on standard output.")
    var json = false

    @Argument(parsing: .postTerminator, help: "After --: tile … or embed … with its arguments.")
    var job: [String] = []

    func validate() throws {
        guard tasks >= 1 else { throw ValidationError("--tasks must be at least 1") }
        if let cpus, cpus < 1 { throw ValidationError("--cpus must be at least 1") }
        if let throttle, throttle < 1 { throw ValidationError("--throttle must be at least 1") }
        guard let name = job.first else {
            throw ValidationError("no job given: put it after --, e.g. radiopath slurm --tasks 8 -- tile SLIDES --out DIR")
        }
        guard ["tile", "embed"].contains(name) else {
            throw ValidationError("the job must be tile or embed (got '\(name)'): radiopath slurm --tasks 8 -- tile SLIDES --out DIR")
        }
    }

    func run() throws {
        let plan = try jobPlan()
        let root = plan.root
        if let out, URL(fileURLWithPath: out).standardizedFileURL.path != root {
            fail("--out \(out) is not the job's --out (\(root)): the check reads the job's catalog",
                 hint: "leave --out off, or give the same folder to both")
        }
        if root.contains("%") {
            fail("--out \(root): Slurm reads % in log file names as a pattern", hint: "choose an output folder without %")
        }
        let dir = "\(root)/slurm"
        let names = (array: "\(dir)/radiopath-\(plan.name).sbatch", check: "\(dir)/radiopath-\(plan.name)-check.sbatch",
                     expected: "\(dir)/radiopath-\(plan.name).expected")
        let executable = radiopath.map { URL(fileURLWithPath: $0).standardizedFileURL.path } ?? Self.ownExecutable()
        let cwd = FileManager.default.currentDirectoryPath
        let scripts = SlurmScripts(jobName: "radiopath-\(plan.name)", tasks: tasks, throttle: throttle,
                                   directives: directives(), logs: "\(dir)/logs", workingDirectory: cwd,
                                   command: [executable] + job,
                                   check: [executable, "status", root, "--check", "--kind", plan.kind, "--expect", names.expected])
        do {
            try FileManager.default.createDirectory(atPath: "\(dir)/logs", withIntermediateDirectories: true)
            try AtomicFile.write(Data((plan.expected.joined(separator: "\n") + "\n").utf8), to: names.expected)
            try AtomicFile.write(Data(scripts.arrayScript.utf8), to: names.array)
            try AtomicFile.write(Data(scripts.checkScript.utf8), to: names.check)
        } catch {
            fail("--out \(root): cannot write \(dir) (\(error.localizedDescription))", hint: "choose another --out or fix its permissions")
        }
        for p in plan.problems { note("! \(p.path): \(p.reason) — its task will report it and the check will fail (\(p.hint))") }
        if cpus != nil, !job.contains(where: { $0.hasPrefix(plan.name == "tile" ? "--jobs" : "--threads") }) {
            note("note: give the job \(plan.name == "tile" ? "--jobs" : "--threads") \(cpus!) so a task uses the CPUs it was given")
        }

        var report = Report(job: plan.name, kind: plan.kind, tasks: tasks, slides: plan.expected.count,
                            script: names.array, checkScript: names.check, expected: names.expected,
                            submit: "jid=$(sbatch --parsable \(Shell.quote(names.array))) && sbatch --parsable --dependency=afterany:${jid%%;*} \(Shell.quote(names.check))")
        if submit {
            let sbatch = try Self.findSbatch()
            let arrayJob = try Self.sbatch(sbatch, [names.array])
            report.arrayJob = arrayJob
            let checkJob = try Self.sbatch(sbatch, ["--dependency=afterany:\(arrayJob)", names.check])
            report.checkJob = checkJob
            note("submitted array job \(arrayJob) (\(tasks) task\(tasks == 1 ? "" : "s"), \(plan.expected.count) slide\(plan.expected.count == 1 ? "" : "s")) and check job \(checkJob) (runs after it)\n"
                 + "  watch: squeue -j \(arrayJob),\(checkJob) · logs: \(dir)/logs · progress: radiopath status \(Shell.quote(root))")
        } else {
            note("wrote \(names.array) (\(tasks) task\(tasks == 1 ? "" : "s"), \(plan.expected.count) slide\(plan.expected.count == 1 ? "" : "s")) and \(names.check)\nsubmit with:\n  \(report.submit)")
        }
        if json { print(String(decoding: try TileCommand.encoder.encode(report), as: UTF8.self)) }
    }

    struct Report: Encodable {
        var job: String, kind: String, tasks: Int, slides: Int
        var script: String, checkScript: String, expected: String, submit: String
        var arrayJob: String?, checkJob: String?
    }

    /// What the job will do, found by parsing its arguments as that subcommand would
    /// (so bad job arguments fail here, not on the cluster).
    struct JobPlan { var name: String; var kind: String; var root: String; var expected: [String]; var problems: [InputProblem] }

    func jobPlan() throws -> JobPlan {
        let name = job[0]
        var args = Array(job.dropFirst())
        if name == "embed", args.first == "run" { args.removeFirst() }
        if args.contains(where: { $0 == "--shard" || $0.hasPrefix("--shard=") }) {
            fail("the job has --shard: each array task takes its own shard from SLURM_ARRAY_TASK_ID", hint: "leave --shard off")
        }
        do {
            if name == "tile" {
                let t = try TileCommand.parse(args)
                let (slides, problems) = SlideInputs.expand(t.inputs, recursive: t.recursive)
                return JobPlan(name: name, kind: TileCommand.jobKind, root: URL(fileURLWithPath: t.out).standardizedFileURL.path,
                               expected: Self.unique(slides.map(\.slideID) + problems.map { SlideInputs.slideID(for: $0.path) }), problems: problems)
            }
            let e = try EmbedRunCommand.parse(args)
            let (bags, slides, problems) = EmbedRunCommand.classify(e.inputs, recursive: e.recursive)
            let ids = bags.map { URL(fileURLWithPath: $0).deletingPathExtension().lastPathComponent } + slides.map(\.slideID)
                + problems.map { SlideInputs.slideID(for: $0.path) }
            return JobPlan(name: name, kind: "embed:\(e.encoder)", root: URL(fileURLWithPath: e.out).standardizedFileURL.path,
                           expected: Self.unique(ids), problems: problems)
        } catch {
            let message = name == "tile" ? TileCommand.message(for: error) : EmbedRunCommand.message(for: error)
            fail("the \(name) job's arguments: \(message)", hint: "radiopath \(name) --help")
        }
    }

    func directives() -> [String] {
        var d: [String] = []
        if let partition { d.append("--partition=\(partition)") }
        if let account { d.append("--account=\(account)") }
        if let time { d.append("--time=\(time)") }
        if let mem { d.append("--mem=\(mem)") }
        if let cpus { d.append("--cpus-per-task=\(cpus)") }
        return d + sbatchOptions
    }

    static func unique(_ ids: [String]) -> [String] { Array(Set(ids)).sorted() }

    static func ownExecutable() -> String {
        if let p = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") { return p }
        return URL(fileURLWithPath: CommandLine.arguments[0]).standardizedFileURL.path
    }

    static func findSbatch() throws -> String {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        for d in path.split(separator: ":") where FileManager.default.isExecutableFile(atPath: "\(d)/sbatch") { return "\(d)/sbatch" }
        fail("sbatch not found on PATH (\(path))", hint: "run this on a Slurm login node (module load slurm?), or drop --submit and submit the written scripts there")
    }

    /// Runs sbatch --parsable and returns the job id ("id" or "id;cluster" → id).
    static func sbatch(_ sbatch: String, _ args: [String]) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: sbatch)
        p.arguments = ["--parsable"] + args
        let out = Pipe(), err = Pipe()
        p.standardOutput = out; p.standardError = err
        do { try p.run() } catch { fail("cannot run \(sbatch): \(error.localizedDescription)", hint: "check the Slurm installation") }
        let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        let text = String(decoding: o, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        let id = text.split(separator: ";").first.map(String.init) ?? ""
        guard p.terminationStatus == 0, !id.isEmpty, id.allSatisfy(\.isNumber) else {
            fail("sbatch \(args.joined(separator: " ")) failed (exit \(p.terminationStatus)): "
                 + String(decoding: e, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) + (text.isEmpty ? "" : " [\(text)]"),
                 hint: "fix the sbatch options (--partition, --time, --mem, --sbatch-option) and rerun")
        }
        return id
    }
}

private func note(_ s: String) { FileHandle.standardError.write(Data((s + "\n").utf8)) }

private func fail(_ what: String, hint: String) -> Never {
    note("✗ \(what)\n  → \(hint)")
    SlurmCommand.exit(withError: ExitCode(2))
}

/// The two sbatch scripts. Every value the shell or sbatch reads is quoted, so paths with
/// spaces, quotes or non-ASCII letters arrive unchanged.
struct SlurmScripts {
    var jobName: String
    var tasks: Int
    var throttle: Int?
    /// Resources and options of the array tasks (the check keeps all but CPUs, time and memory).
    var directives: [String]
    var logs: String
    var workingDirectory: String
    var command: [String]
    var check: [String]

    var arrayScript: String {
        header(["--job-name=\(jobName)", "--array=0-\(tasks - 1)" + (throttle.map { "%\($0)" } ?? ""),
                "--output=\(logs)/%A_%a.out"] + directives,
               about: ["\(tasks) array task\(tasks == 1 ? "" : "s"). Each does its shard of the slides (radiopath reads",
                       "SLURM_ARRAY_TASK_ID and SLURM_ARRAY_TASK_COUNT); all share the output folder's",
                       "catalog, so resubmitting this script does only what is missing."])
            + body(command)
    }

    /// The check is quick: one CPU and a short limit, whatever the tasks need.
    var checkScript: String {
        header(["--job-name=\(jobName)-check", "--output=\(logs)/%j-check.out", "--cpus-per-task=1", "--time=0:15:00"]
                + directives.filter { d in !["--cpus-per-task=", "--time=", "--mem="].contains { d.hasPrefix($0) } },
               about: ["The check after the array, submitted with --dependency=afterany:<array job>:",
                       "fails, listing them, unless every slide is done."])
            + body(check)
    }

    func header(_ directives: [String], about: [String]) -> String {
        var s = "#!/bin/bash\n# Written by `radiopath slurm` (RadioPath \(RadioPath.version)).\n"
        for line in about { s += "# \(line)\n" }
        for d in directives { s += "#SBATCH \(Shell.quoteDirective(d))\n" }
        return s
    }

    func body(_ argv: [String]) -> String {
        "set -eu\ncd \(Shell.quote(workingDirectory))\nexec \(argv.map(Shell.quote).joined(separator: " "))\n"
    }
}

enum Shell {
    /// A word bash reads back as `s`: bare when it is plain, else in single quotes.
    static func quote(_ s: String) -> String {
        let plain = !s.isEmpty && s.unicodeScalars.allSatisfy { $0.isASCII && (CharacterSet.alphanumerics.contains($0) || "@%+=:,./-_".unicodeScalars.contains($0)) }
        return plain ? s : "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }

    /// `--name=value` for an #SBATCH line: sbatch splits those lines at blanks and strips
    /// double quotes, so a value with blanks goes in double quotes.
    static func quoteDirective(_ d: String) -> String {
        guard d.contains(where: { $0 == " " || $0 == "\t" }), let eq = d.firstIndex(of: "=") else { return d }
        return d[...eq] + "\"" + d[d.index(after: eq)...] + "\""
    }
}

/// `radiopath status DIR --check`: is the batch finished? For the end of a run or of a
/// Slurm array (the check job `radiopath slurm` writes).
struct CompletionCheck: ParsableArguments {
    @Flag(help: "Exit 1 unless every job is done (and every slide in --expect has one); print what is not.")
    var check = false

    @Option(help: "With --check: only jobs of this kind (tile, embed:<encoder>).")
    var kind: String?

    @Option(help: "With --check: a file of slide ids, one per line, that must each have a done job.")
    var expect: String?

    func validate() throws {
        if !check, kind != nil || expect != nil { throw ValidationError("--kind and --expect go with --check") }
    }

    func run(catalog: Catalog, json: Bool) throws {
        let jobs: [JobRecord]
        var expected: [String] = []
        do {
            jobs = try catalog.jobs().filter { kind == nil || $0.kind == kind }
            if let expect {
                guard let text = try? String(contentsOfFile: expect, encoding: .utf8) else {
                    throw InputProblem(path: expect, reason: "cannot read the --expect file", hint: "give a file of slide ids, one per line")
                }
                expected = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            }
        } catch {
            FileHandle.standardError.write(Data("✗ \(error)\n".utf8))
            throw ExitCode(2)
        }
        let kinds = kind.map { [$0] } ?? Array(Set(jobs.map(\.kind))).sorted()
        var lines: [String] = [], complete = true
        for k in kinds {
            let mine = jobs.filter { $0.kind == k }
            let have = Set(mine.map(\.slideID))
            let missing = expected.filter { !have.contains($0) }
            let notDone = mine.filter { $0.status != .done }.sorted { $0.slideID < $1.slideID }
            let total = mine.count + missing.count
            guard notDone.isEmpty && missing.isEmpty && total > 0 else {
                complete = false
                lines.append("check: \(k) \(mine.count - notDone.count) of \(total) done — not complete")
                for j in notDone {
                    switch j.status {
                    case .failed: lines.append("  ✗ \(j.slideID) failed: \(j.error ?? "no error text")" + (j.hint.map { " → \($0)" } ?? ""))
                    case .running: lines.append("  ▸ \(j.slideID) running on \(j.holder?.description ?? "?")" + (j.stale == true ? " (stale: worker gone)" : ""))
                    default: lines.append("  · \(j.slideID) pending (never started: its task stopped early?)")
                    }
                }
                for m in missing { lines.append("  ? \(m) not in the catalog (its task did not run, or its input is missing: see the task logs)") }
                if total == 0 { lines.append("  no jobs recorded") }
                continue
            }
            lines.append("check: \(k) \(mine.count) of \(total) done")
        }
        if kinds.isEmpty { complete = false; lines.append("check: no jobs recorded" + (expected.isEmpty ? "" : " (\(expected.count) expected)")) }
        if !complete { lines.append("rerun the same job (add --retry-failed for failed slides) to finish it") }
        let text = lines.joined(separator: "\n") + "\n"
        if json { FileHandle.standardError.write(Data(text.utf8)) } else { print(text, terminator: "") }
        if !complete { throw ExitCode(1) }
    }
}
