import Foundation

/// Progress for batches over slides: on a terminal a bar that redraws in place (slides done,
/// units per second, ETA) under the per-slide status lines; elsewhere (logs, CI, pipes) plain
/// lines only. Writes to standard error so standard output stays parseable (`--json`).
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

    public init(total: Int, unitName: String, unitsTotal: Int? = nil, isTerminal: Bool = isatty(STDERR_FILENO) != 0) {
        self.total = total
        self.unitName = unitName
        self.unitsTotal = unitsTotal
        self.isTerminal = isTerminal
    }

    /// Records units produced inside an item still running (e.g. patches of a long slide):
    /// redraws the bar at most 4 times a second on a terminal, and elsewhere writes a plain
    /// line about every 10 s (`label`, e.g. the slide) so logs show the job is alive.
    public func advance(units produced: Int, label: String) {
        lock.lock(); defer { lock.unlock() }
        units += produced
        let now = DispatchTime.now().uptimeNanoseconds
        if isTerminal {
            guard now - lastDraw.uptimeNanoseconds > 250_000_000 else { return }
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

    /// Clears the bar at the end.
    public func finish() {
        lock.lock(); defer { lock.unlock() }
        if isTerminal && barShown { write("\r\u{1B}[2K") }
    }

    public var elapsedSeconds: Double { Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9 }

    func bar() -> String {
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

    static func clock(_ s: Double) -> String {
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
