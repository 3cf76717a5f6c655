import Foundation

/// The end-of-run summary of an output folder, in Markdown (`<out>/run_report.md`): totals
/// per job kind, failures with their error and what to do, the workers seen, tool versions
/// and parameters, and per-slide timings. Built from the catalog alone, so whichever worker
/// writes it last (or `radiopath status --markdown`) writes the whole archive.
public enum RunReport {
    public static let fileName = "run_report.md"

    /// The report for `catalog`'s folder; `now` is its timestamp.
    public static func markdown(catalog: Catalog, now: Date = Date()) throws -> String {
        let t0 = CatalogTiming.now()
        defer { CatalogTiming.add(.report, since: t0) }
        let jobs = try catalog.jobs()
        let slides = Dictionary(try catalog.slides().map { ($0.slideID, $0) }, uniquingKeysWith: { a, _ in a })
        let params = try catalog.parameterSets()
        let kinds = Array(Set(jobs.map(\.kind))).sorted()
        let folder = (catalog.path as NSString).deletingLastPathComponent

        var md = ["# RadioPath run report", "",
                  "Folder `\(folder)` · \(Set(jobs.map(\.slideID)).count) slides · written \(utc(now.timeIntervalSince1970)) by \(catalog.host) pid \(catalog.pid)."
                  + " Built from the catalog (`\(Catalog.fileName)`), so it covers every worker.", ""]

        md += ["## Totals", "",
               "| job | slides | done | failed | running | pending | patches | work time | per done slide | wall clock | slides/hour |",
               "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for k in kinds {
            let js = jobs.filter { $0.kind == k }
            let count = { (s: JobStatus) in js.filter { $0.status == s }.count }
            let done = count(.done)
            let work = js.reduce(0) { $0 + ($1.seconds ?? 0) }
            let starts = js.compactMap { $0.holder?.started }.filter { $0 > 0 }
            let ends = js.compactMap(\.finished)
            let wall = (starts.min()).flatMap { s in ends.max().map { $0 - s } } ?? 0
            let perHour = wall > 0 ? Double(count(.done) + count(.failed)) / wall * 3600 : 0
            let stale = js.filter { $0.stale == true }.count
            md.append("| \(k) | \(js.count) | \(done) | \(count(.failed)) | \(count(.running))\(stale > 0 ? " (\(stale) stale)" : "") | \(count(.pending)) | "
                      + "\(js.filter { $0.status == .done }.reduce(0) { $0 + ($1.units ?? 0) }) | \(duration(work)) | "
                      + (done > 0 ? String(format: "%.2f s", js.filter { $0.status == .done }.reduce(0) { $0 + ($1.seconds ?? 0) } / Double(done)) : "—")
                      + " | \(duration(wall)) | " + (perHour > 0 ? String(format: "%.0f", perHour) : "—") + " |")
        }
        if kinds.isEmpty { md.append("| — | 0 | 0 | 0 | 0 | 0 | 0 | — | — | — | — |") }
        md.append("")
        md.append("Work time adds the seconds each slide took; wall clock runs from the first start to the last finish (all workers).")
        md.append("")

        let failures = jobs.filter { $0.status == .failed }
        md += ["## Failures", ""]
        if failures.isEmpty {
            md.append("None.")
        } else {
            md += ["Fix the cause, then rerun the same command with `--retry-failed` (a changed per-slide scale, e.g. `--mpp-csv`, retries by itself).", "",
                   "| job | slide | input | attempts | error | what to do |", "|---|---|---|---:|---|---|"]
            for f in failures {
                md.append("| \(f.kind) | \(cell(f.slideID)) | \(cell(f.input ?? slides[f.slideID]?.path ?? "")) | \(f.attempts) | \(cell(f.error ?? "no error text")) | \(cell(f.hint ?? "")) |")
            }
        }
        let stale = jobs.filter { $0.stale == true }
        if !stale.isEmpty {
            md += ["", "Running under a worker that is gone (rerun to take them over): " + stale.map { "\($0.kind) \($0.slideID)" }.joined(separator: ", ") + "."]
        }
        md.append("")

        md += ["## Workers", "", "| host | pid | done | failed | running | work time | first start | last finish |", "|---|---:|---:|---:|---:|---:|---|---|"]
        var workers: [String: [JobRecord]] = [:]
        for j in jobs { if let h = j.holder { workers["\(h.host)\u{0}\(h.pid)", default: []].append(j) } }
        for key in workers.keys.sorted() {
            let js = workers[key]!, h = js[0].holder!
            let starts = js.compactMap { $0.holder?.started }.filter { $0 > 0 }
            md.append("| \(cell(h.host)) | \(h.pid) | \(js.filter { $0.status == .done }.count) | \(js.filter { $0.status == .failed }.count) | "
                      + "\(js.filter { $0.status == .running }.count) | \(duration(js.reduce(0) { $0 + ($1.seconds ?? 0) })) | "
                      + "\(starts.min().map(utc) ?? "—") | \(js.compactMap(\.finished).max().map(utc) ?? "—") |")
        }
        if workers.isEmpty { md.append("| — | — | 0 | 0 | 0 | — | — | — |") }
        md.append("")

        md += ["## Tool versions and parameters", ""]
        let used = Dictionary(grouping: jobs.filter { $0.paramsHash != nil }, by: { "\($0.kind)\u{0}\($0.toolVersion ?? "?")\u{0}\($0.paramsHash!)" })
        if used.isEmpty { md.append("No job has run yet.") }
        for key in used.keys.sorted() {
            let js = used[key]!, j = js[0]
            md.append("- `\(j.kind)` · radiopath \(j.toolVersion ?? "?") · parameters `\(j.paramsHash!.prefix(12))` · \(js.count) slide\(js.count == 1 ? "" : "s")")
            if let p = params.first(where: { $0.paramsHash == j.paramsHash }) {
                md += ["", "  ```", p.text.split(separator: "\n", omittingEmptySubsequences: false).map { "  " + $0 }.joined(separator: "\n"), "  ```"]
            }
        }
        md.append("")

        md += ["## Per-slide timings", ""]
        for k in kinds {
            md += ["### \(k)", "", "| slide | status | attempts | seconds | patches | patches/s | worker | finished |", "|---|---|---:|---:|---:|---:|---|---|"]
            for j in jobs where j.kind == k {
                let s = j.seconds ?? 0
                md.append("| \(cell(j.slideID)) | \(j.status.rawValue)\(j.stale == true ? " (stale)" : "") | \(j.attempts) | "
                          + (j.seconds.map { String(format: "%.2f", $0) } ?? "—") + " | " + (j.units.map(String.init) ?? "—") + " | "
                          + (s > 0 && j.units != nil ? String(format: "%.0f", Double(j.units!) / s) : "—") + " | "
                          + (j.holder.map { cell("\($0.host) \($0.pid)") } ?? "—") + " | " + (j.finished.map(utc) ?? "—") + " |")
                for w in j.warnings { md.append("| ↳ | \(cell("warning: " + w)) | | | | | | |") }
            }
            md.append("")
        }
        return md.joined(separator: "\n")
    }

    /// Writes the report to `path` (default `<folder>/run_report.md`) atomically.
    @discardableResult
    public static func write(catalog: Catalog, to path: String? = nil) throws -> String {
        let target = path ?? ((catalog.path as NSString).deletingLastPathComponent as NSString).appendingPathComponent(fileName)
        try writeAtomically(Data(try markdown(catalog: catalog).utf8), to: target)
        return target
    }

    /// Runs `body` holding an exclusive lock on `<folder>/.summary.lock`, so workers that end
    /// together write the folder's summaries one after another: each reads the catalog after
    /// the previous one wrote, and the last to write has seen every finished slide.
    public static func serialized<T>(in folder: String, _ body: () throws -> T) rethrows -> T {
        let fd = open((folder as NSString).appendingPathComponent(".summary.lock"), O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        // No lock file (read-only or full disk): write anyway; the rename keeps each file whole.
        if fd >= 0 { while flock(fd, LOCK_EX) != 0 && errno == EINTR {} }
        defer { if fd >= 0 { flock(fd, LOCK_UN); close(fd) } }
        return try body()
    }

    /// Temp file beside `path`, fsync, rename: readers see the old report or the new one.
    /// Errors name the file and, for a full disk, say so.
    public static func writeAtomically(_ data: Data, to path: String) throws {
        let url = URL(fileURLWithPath: path)
        let tmp = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))").path
        let fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw OutputError(path: path, errno: errno) }
        var failed: Int32 = 0
        data.withUnsafeBytes { raw in
            var off = 0
            while off < raw.count {
                let n = Foundation.write(fd, raw.baseAddress! + off, raw.count - off)
                if n < 0 { if errno == EINTR { continue }; failed = errno; return }
                off += n
            }
        }
        if failed == 0 && fsync(fd) != 0 { failed = errno }
        close(fd)
        if failed == 0 && rename(tmp, path) != 0 { failed = errno }
        if failed != 0 {
            unlink(tmp)
            throw OutputError(path: path, errno: failed)
        }
    }

    static func cell(_ s: String) -> String {
        s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "|", with: "\\|")
            .replacingOccurrences(of: "\r", with: " ").replacingOccurrences(of: "\n", with: "<br>")
    }

    /// One formatter for the whole report: building one per cell costs more than the table.
    nonisolated(unsafe) private static let utcFormatter: DateFormatter = {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "yyyy-MM-dd HH:mm:ss 'UTC'"
        return f
    }()
    private static let formatterLock = NSLock()

    static func utc(_ t: Double) -> String {
        formatterLock.lock(); defer { formatterLock.unlock() }
        return utcFormatter.string(from: Date(timeIntervalSince1970: t))
    }

    static func duration(_ s: Double) -> String {
        if s <= 0 { return "—" }
        if s < 60 { return String(format: "%.1f s", s) }
        let t = Int(s.rounded())
        return t >= 3600 ? String(format: "%d h %02d min", t / 3600, t / 60 % 60) : String(format: "%d min %02d s", t / 60, t % 60)
    }
}

/// A file that could not be written: which one, the system's reason, and what to do — a full
/// disk says so in words.
public struct OutputError: Error, CustomStringConvertible, Sendable {
    public var path: String
    public var code: Int32
    public init(path: String, errno code: Int32) { self.path = path; self.code = code }
    public var isDiskFull: Bool { code == ENOSPC || code == EDQUOT }
    public var description: String {
        let reason = String(cString: strerror(code))
        if isDiskFull { return "\(path): disk full (\(reason)) — free space on that disk or choose another --out, then rerun" }
        return "\(path): cannot write (\(reason)) — check the folder's permissions or choose another --out"
    }
}
