import Archive
import ArgumentParser
import Foundation
import ImageCore

/// `radiopath status DIR`: what the catalog of an output folder says.
struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Summarise an output folder's catalog: slides, jobs done/failed/running/pending, failures.",
        discussion: """
        Reads DIR/\(Catalog.fileName), which `tile` and `embed` keep up to date
        (also while they run, from any number of workers). Shows per job kind
        how many slides are pending, running (and whether their worker is
        gone), done or failed, the time spent, and every failure with its
        error; --json prints the same as JSON on standard output.
        --check also fails (exit 1) unless every job is done, listing the rest.
        --markdown writes the run report (totals, failures with what to do,
        workers, versions and parameters, per-slide timings) to FILE, or to
        DIR/\(RunReport.fileName) without one (`-`: standard output); tile and
        embed write that file at the end of every run.
        --watch redraws the progress of every job kind (all workers) until
        nothing is pending or running.
        Exit status: 0 read, 1 --check found work not done, 2 no catalog or an
        unreadable one.
        """)

    @Argument(help: "Output folder (the --out of tile or embed).")
    var dir: String

    @Flag(help: "Print JSON on standard output.")
    var json = false

    @Argument(help: "With --markdown: the report file (default DIR/\(RunReport.fileName); - for standard output).")
    var markdownFile: String?

    @Option(name: .customLong("stale-after"), help: "Seconds without a heartbeat after which a running job counts as stale.")
    var staleAfter: Double = 1800

    @OptionGroup var completion: CompletionCheck

    @Flag(help: "Write the run report in Markdown (to FILE, default DIR/\(RunReport.fileName)).")
    var markdown = false

    @Flag(help: "Refresh the progress until every job is done or failed.")
    var watch = false

    @Option(help: "Seconds between refreshes with --watch.")
    var interval: Double = 1

    func validate() throws {
        if markdownFile != nil && !markdown { throw ValidationError("a second argument is the --markdown file: add --markdown") }
        guard interval > 0 else { throw ValidationError("--interval must be positive seconds") }
    }

    func run() throws {
        if watch { try watchProgress() }
        if markdown { return try writeMarkdown() }
        let catalog = try openReadOnly()
        let summary: CatalogSummary
        do {
            summary = try CatalogSummary(catalog: catalog)
        } catch {
            FileHandle.standardError.write(Data("✗ \(error)\n".utf8))
            throw ExitCode(2)
        }
        if json {
            print(String(decoding: try TileCommand.encoder.encode(summary), as: UTF8.self))
        } else {
            print(Self.text(summary))
        }
        if completion.check { try completion.run(catalog: catalog, json: json) }
    }

    /// Opens the catalog read-only, or says why not and exits 2.
    func openReadOnly() throws -> Catalog {
        do {
            let c = try Catalog(folder: URL(fileURLWithPath: dir).standardizedFileURL.path, readOnly: true)
            c.staleAfter = staleAfter
            return c
        } catch {
            FileHandle.standardError.write(Data("✗ \(error)\n".utf8))
            throw ExitCode(2)
        }
    }

    func writeMarkdown() throws {
        let catalog = try openReadOnly()
        do {
            if markdownFile == "-" {
                print(try RunReport.markdown(catalog: catalog))
            } else {
                // The default file is the one workers write: take their lock so reports never interleave.
                let folder = (catalog.path as NSString).deletingLastPathComponent
                let path = try RunReport.serialized(in: folder) {
                    try RunReport.write(catalog: catalog, to: markdownFile.map { URL(fileURLWithPath: $0).standardizedFileURL.path })
                }
                FileHandle.standardError.write(Data("report: \(path)\n".utf8))
            }
        } catch {
            FileHandle.standardError.write(Data("✗ \(error)\n".utf8))
            throw ExitCode(2)
        }
    }

    /// Polls the catalog (one aggregate query per job kind) every --interval seconds and shows
    /// each kind's progress: redrawn in place on a terminal, a line per change elsewhere.
    /// Returns when nothing is pending or running (stale rows included: nobody works on them).
    func watchProgress() throws {
        let catalog = try openReadOnly()
        let terminal = isatty(STDOUT_FILENO) != 0
        var first: [String: (counts: JobCounts, at: Double)] = [:]
        var last = ""
        let start = Date().timeIntervalSince1970
        while true {
            let now = Date().timeIntervalSince1970
            let kinds = (try? catalog.jobKinds()) ?? []
            var lines: [String] = []
            var busy = false, pending = 0, key = ""
            for k in kinds {
                guard let c = try? catalog.counts(kind: k) else { continue }
                let f = first[k] ?? (c, now)
                first[k] = f
                let dt = now - f.at, finished = c.finished - f.counts.finished
                let slideRate = dt > 0 && finished > 0 ? Double(finished) / dt : 0
                let unitRate = dt > 0 ? Double(c.unitsDone - f.counts.unitsDone) / dt : 0
                let rate = (units: unitRate, slides: slideRate, eta: slideRate > 0 ? Double(c.remaining) / slideRate : nil)
                lines.append(BatchProgress.archiveText(c, kind: k, rate: rate, final: c.remaining == 0))
                busy = busy || c.remaining > 0
                key += "\(k) \(c.done) \(c.failed) \(c.running) \(c.pending);"
                pending += c.pending
            }
            if kinds.isEmpty { lines.append("no jobs recorded yet") }
            let text = lines.joined(separator: "\n")
            if terminal {
                print("\u{1B}[H\u{1B}[2J" + "\(catalog.path) · " + BatchProgress.clock(now - start) + "\n" + text)
            } else if key != last {
                print(text)  // logs get a line when the counts change, not every tick
            }
            fflush(stdout)
            last = key
            if !busy && !kinds.isEmpty { break }
            // Stale rows never finish on their own: say so instead of waiting for ever.
            if busy, pending == 0, let jobs = try? catalog.jobs(), !jobs.contains(where: { $0.status == .running && $0.stale != true }) {
                print("only stale jobs are left (their workers are gone): rerun the job to take them over")
                break
            }
            usleep(useconds_t(interval * 1_000_000))
        }
    }

    static func text(_ s: CatalogSummary) -> String {
        var lines = ["\(s.catalog): \(s.slides) slides"]
        for k in s.kinds {
            var l = "  \(k.kind.padding(toLength: max(8, k.kind.count), withPad: " ", startingAt: 0))  \(k.done) done, \(k.failed) failed, \(k.running) running"
            if k.stale > 0 { l += " (\(k.stale) stale: worker gone; a rerun takes them over)" }
            l += ", \(k.pending) pending · \(k.units) patches · " + String(format: "%.1f s of work", k.seconds)
            if k.done > 0 { l += String(format: " (%.2f s per done slide)", k.seconds / Double(k.done)) }
            lines.append(l)
        }
        if s.kinds.isEmpty { lines.append("  no jobs recorded yet") }
        for r in s.running {
            lines.append("  ▸ \(r.kind) \(r.slideID): running on \(r.holder?.description ?? "?")" + (r.stale == true ? " — stale" : ""))
        }
        if !s.failures.isEmpty { lines.append("failures (rerun with --retry-failed after fixing):") }
        for f in s.failures {
            lines.append("  ✗ \(f.kind) \(f.slideID) (\(f.input ?? "?"), \(f.attempts) attempt\(f.attempts == 1 ? "" : "s")): \(f.error ?? "no error text")")
            if let h = f.hint { lines.append("    → \(h)") }
        }
        return lines.joined(separator: "\n")
    }
}

/// Catalog options shared by the batch commands (tile, embed).
struct ArchiveOptions: ParsableArguments {
    @Option(help: "Do only shard i of n (1 to n) of the slides, dealt by sorted slide id: --shard 2/8.")
    var shard: String?

    @Flag(name: .customLong("retry-failed"), help: "Retry slides the catalog records as failed (otherwise they are skipped with a note).")
    var retryFailed = false

    @Option(name: .customLong("stale-after"), help: "Seconds without a heartbeat before another worker's slide is taken over (on this host: as soon as its process is gone).")
    var staleAfter: Double = 1800

    func validate() throws {
        if let shard { do { _ = try Shard(parsing: shard) } catch { throw ValidationError("\(error)") } }
        else { do { _ = try Shard.slurmArrayTask(environment: ProcessInfo.processInfo.environment) } catch { throw ValidationError("\(error)") } }
        guard staleAfter > 0 else { throw ValidationError("--stale-after must be positive seconds") }
    }

    /// --shard, else the Slurm array task's shard (an explicit --shard wins).
    var parsedShard: Shard? {
        if let shard { return try? Shard(parsing: shard) }
        return (try? Shard.slurmArrayTask(environment: ProcessInfo.processInfo.environment)) ?? nil
    }

    /// Opens the output folder's catalog with a heartbeat, or says why not and exits 2.
    func openCatalog(_ root: String) throws -> Catalog {
        do {
            let c = try Catalog(folder: root, toolVersion: RadioPath.version)
            c.staleAfter = staleAfter
            c.startHeartbeat(every: min(60, staleAfter / 4))
            return c
        } catch {
            FileHandle.standardError.write(Data("✗ \(error)\n".utf8))
            throw ExitCode(2)
        }
    }

    /// Writes `<out>/run_report.md` from the catalog (the whole folder, every worker) and, with
    /// RADIOPATH_CATALOG_TIMING=1, the catalog's time for this run's `claimed` slides.
    static func writeReport(_ catalog: Catalog, claimed: Int) {
        do {
            let path = try RunReport.write(catalog: catalog)
            FileHandle.standardError.write(Data("report: \(path)\n".utf8))
        } catch {
            FileHandle.standardError.write(Data("! run report not written: \(error)\n".utf8))
        }
        if CatalogTiming.requested { FileHandle.standardError.write(Data((CatalogTiming.line(slides: claimed) + "\n").utf8)) }
    }

    /// Size and SHA-256 of each output that exists (folders: path only).
    static func outputs(_ paths: [String]) -> [OutputRecord] {
        CatalogTiming.measure(.hashOutputs) { hashedOutputs(paths) }
    }

    private static func hashedOutputs(_ paths: [String]) -> [OutputRecord] {
        paths.compactMap { p in
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: p, isDirectory: &isDir) else { return nil }
            if isDir.boolValue { return OutputRecord(path: p) }
            let size = ((try? FileManager.default.attributesOfItem(atPath: p))?[.size] as? NSNumber)?.intValue
            return OutputRecord(path: p, size: size, sha256: try? SHA256.hexDigest(ofFile: p))
        }
    }

    static func hash(_ text: String) -> String {
        var h = SHA256()
        Array(text.utf8).withUnsafeBytes { h.update($0) }
        return h.finish().map { String(format: "%02x", $0) }.joined()
    }
}

/// A batch command's per-slide result plus what the catalog said when it was claimed.
struct CatalogOutcome<Result> {
    enum ClaimNote { case worked, failedBefore, elsewhere }
    var result: Result
    var claim: ClaimNote = .worked
    /// Status line replacing the command's usual one.
    var note: String?
}
