import Foundation

/// Progress for batches over slides: on a terminal a bar that redraws in place (slides done,
/// units per second, ETA) under the per-slide status lines; elsewhere (logs, CI, pipes) plain
/// lines only. Writes to standard error so standard output stays parseable (`--json`).
/// With `follow(_:kind:)` the bar shows the whole archive from the catalog — every worker
/// sharing the output folder — polled at most once a second with one aggregate query.
public final class BatchProgress: @unchecked Sendable {
    private let total: Int
    private let unitName: String
    private let isTerminal: Bool
    private let start = DispatchTime.now()
    private var done = 0
    private var units = 0
    private var barShown = false
    private let lock = NSLock()
    /// Units expected over the whole batch, when known: the ETA then follows units, not items.
    private let unitsTotal: Int?
    private var lastDraw = DispatchTime.now()
    private var lastPlainLine = DispatchTime.now()
    /// The archive view: the catalog's counts now and when this worker started following.
    private var archive: (kind: String, first: JobCounts, firstAt: Double, now: JobCounts, at: Double)?
    private var archiveTimer: DispatchSourceTimer?
    private weak var followed: Catalog?
    private var lastArchiveLine = ""
    /// Seconds between plain archive lines when standard error is not a terminal.
    var plainInterval: Double = 10

    public init(total: Int, unitName: String, unitsTotal: Int? = nil, isTerminal: Bool = isatty(STDERR_FILENO) != 0) {
        self.total = total
        self.unitName = unitName
        self.unitsTotal = unitsTotal
        self.isTerminal = isTerminal
    }

    /// Records units produced inside an item still running (e.g. patches of a long slide):
    /// redraws the bar at most 4 times a second on a terminal (once a second when following a
    /// catalog, which refreshes it too), and elsewhere writes a plain line about every 10 s
    /// (`label`, e.g. the slide) so logs show the job is alive.
    public func advance(units produced: Int, label: String) {
        lock.lock(); defer { lock.unlock() }
        units += produced
        let now = DispatchTime.now().uptimeNanoseconds
        if isTerminal {
            guard now - lastDraw.uptimeNanoseconds > (archive == nil ? 250_000_000 : 1_000_000_000) else { return }
            lastDraw = DispatchTime.now()
            write("\r\u{1B}[2K" + bar())
            barShown = true
        } else if now - lastPlainLine.uptimeNanoseconds > 10_000_000_000 {
            lastPlainLine = DispatchTime.now()
            write("  … \(label): " + bar() + "\n")
        }
    }

    /// Records one finished item with its status line and the units (e.g. patches) it produced.
    public func itemFinished(line: String, units produced: Int) {
        // The slide is in the catalog by now: refresh the archive view soon (at most 4 queries a
        // second however fast slides finish), not up to a second late.
        if archive != nil { pollQueue.async { [weak self] in self?.poll(olderThan: 0.25) } }
        lock.lock(); defer { lock.unlock() }
        done += 1
        units += produced
        if isTerminal {
            write("\r\u{1B}[2K" + line + "\n" + bar())
            barShown = true
        } else {
            write(line + "\n")
        }
    }

    /// A message between status lines (e.g. "stopping after the current slides").
    public func note(_ message: String) {
        lock.lock(); defer { lock.unlock() }
        write((isTerminal && barShown ? "\r\u{1B}[2K" : "") + message + "\n" + (isTerminal && barShown ? bar() : ""))
    }

    /// Clears the bar at the end; when following a catalog, stops polling and writes one
    /// last line with the archive as it stands.
    public func finish() {
        archiveTimer?.cancel()
        archiveTimer = nil
        if let c = followed, let kind = archive?.kind, let counts = try? c.counts(kind: kind) {
            lock.lock(); archive?.now = counts; archive?.at = elapsedSeconds; lock.unlock()
        }
        lock.lock(); defer { lock.unlock() }
        if isTerminal && barShown { write("\r\u{1B}[2K") }
        if let a = archive { write("archive: " + Self.archiveText(a.now, kind: a.kind, rate: archiveRates(), final: true) + "\n") }
    }

    /// Shows the whole archive (jobs of `kind` in `catalog`, from every worker) instead of this
    /// worker's share alone, refreshed about once a second by a background poll.
    public func follow(_ catalog: Catalog, kind: String) {
        guard let first = try? catalog.counts(kind: kind) else { return }
        let t = elapsedSeconds
        lock.lock()
        archive = (kind, first, t, first, t)
        followed = catalog
        lastPoll = t
        lock.unlock()
        let timer = DispatchSource.makeTimerSource(queue: pollQueue)
        timer.schedule(deadline: .now() + 0.25, repeating: 1)
        timer.setEventHandler { [weak self] in self?.poll(olderThan: 0.5) }
        timer.resume()
        archiveTimer = timer
    }

    private let pollQueue = DispatchQueue(label: "radiopath.progress.poll", qos: .utility)
    private var lastPoll = 0.0

    /// Queries the catalog unless the last query is younger than `age` seconds (so a slide
    /// finishing right after a poll waits for the next tick: at most about one query a second).
    private func poll(olderThan age: Double) {
        lock.lock()
        let due = elapsedSeconds - lastPoll >= age
        if due { lastPoll = elapsedSeconds }
        let kind = archive?.kind
        lock.unlock()
        guard due, let kind, let c = followed, let counts = try? c.counts(kind: kind) else { return }
        archiveUpdated(counts)
    }

    /// Stores new counts and redraws: on a terminal the bar; elsewhere a plain line every
    /// `plainInterval` seconds when something changed.
    func archiveUpdated(_ counts: JobCounts) {
        lock.lock(); defer { lock.unlock() }
        guard var a = archive else { return }
        a.now = counts
        a.at = elapsedSeconds
        archive = a
        if isTerminal {
            if barShown || done > 0 || units > 0 || counts.finished > 0 {
                write("\r\u{1B}[2K" + bar())
                barShown = true
            }
        } else if a.at - Double(lastPlainLine.uptimeNanoseconds - start.uptimeNanoseconds) / 1e9 >= plainInterval {
            let text = Self.archiveText(counts, kind: a.kind, rate: archiveRates(), final: false)
            guard text != lastArchiveLine else { return }
            lastArchiveLine = text
            lastPlainLine = DispatchTime.now()
            write("archive: " + text + "\n")
        }
    }

    /// Patches/s and slides/s across the archive since this worker started following: slides
    /// finished by every worker; until one has, this worker's own patches (in-flight too).
    private func archiveRates() -> (units: Double, slides: Double, eta: Double?) {
        guard let a = archive else { return (0, 0, nil) }
        let dt = max(a.at - a.firstAt, 1e-9)
        let local = elapsedSeconds > 0 ? Double(units) / elapsedSeconds : 0
        let finished = a.now.finished - a.first.finished
        let unitRate = max(Double(a.now.unitsDone - a.first.unitsDone) / dt, local)
        guard finished > 0 else { return (unitRate, 0, nil) }
        let slideRate = Double(finished) / dt
        return (unitRate, slideRate, Double(a.now.remaining) / slideRate)
    }

    public static func archiveText(_ c: JobCounts, kind: String, rate: (units: Double, slides: Double, eta: Double?), final: Bool) -> String {
        var s = "\(kind) \(c.done)/\(c.total) done, \(c.failed) failed, \(c.running) running"
        if c.workers > 0 { s += " on \(c.workers) worker\(c.workers == 1 ? "" : "s")" }
        s += ", \(c.pending) pending"
        if rate.units > 0 { s += " · \(grouped(Int(rate.units))) patches/s" }
        if rate.slides > 0 { s += String(format: " · %.0f slides/h", rate.slides * 3600) }
        if !final, c.remaining > 0 { s += " · ETA " + (rate.eta.map(clock) ?? "—") }
        return s
    }

    public var elapsedSeconds: Double { Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9 }

    func bar() -> String {
        if let a = archive {
            // The archive across workers; this worker's share at the end.
            let width = 24
            let frac = a.now.total > 0 ? Double(a.now.finished) / Double(a.now.total) : 1
            let filled = Int((frac * Double(width)).rounded(.down))
            return "[" + String(repeating: "█", count: filled) + String(repeating: "░", count: width - filled) + "] "
                + Self.archiveText(a.now, kind: a.kind, rate: archiveRates(), final: false) + " · this worker \(done)/\(total)"
        }
        let width = 24
        let t = elapsedSeconds
        let rate = t > 0 ? Double(units) / t : 0
        var eta = done > 0 && done < total ? t / Double(done) * Double(total - done) : 0
        var frac = total > 0 ? Double(done) / Double(total) : 1
        var unitsText = ""
        if let all = unitsTotal, all > 0 {
            frac = min(1, Double(units) / Double(all))
            eta = rate > 0 ? Double(max(0, all - units)) / rate : 0
            unitsText = " · \(Self.grouped(units))/\(Self.grouped(all)) \(unitName)"
        }
        let filled = Int((frac * Double(width)).rounded(.down))
        return "[" + String(repeating: "█", count: filled) + String(repeating: "░", count: width - filled) + "] "
            + "\(done)/\(total) slides\(unitsText) · \(Self.grouped(Int(rate))) \(unitName)/s · ETA \(Self.clock(eta))"
    }

    public static func clock(_ s: Double) -> String {
        let t = Int(s.rounded())
        return t >= 3600 ? String(format: "%d:%02d:%02d", t / 3600, t / 60 % 60, t % 60) : String(format: "%d:%02d", t / 60, t % 60)
    }

    static func grouped(_ n: Int) -> String {
        let s = String(n)
        var out = ""
        for (i, c) in s.reversed().enumerated() { if i > 0 && i % 3 == 0 { out.append(",") }; out.append(c) }
        return String(out.reversed())
    }

    private func write(_ s: String) { FileHandle.standardError.write(Data(s.utf8)) }
}
