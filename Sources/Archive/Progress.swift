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

    public init(total: Int, unitName: String, isTerminal: Bool = isatty(STDERR_FILENO) != 0) {
        self.total = total
        self.unitName = unitName
        self.isTerminal = isTerminal
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
        let frac = total > 0 ? Double(done) / Double(total) : 1
        let filled = Int((frac * Double(width)).rounded(.down))
        let t = elapsedSeconds
        let rate = t > 0 ? Double(units) / t : 0
        let eta = done > 0 && done < total ? t / Double(done) * Double(total - done) : 0
        return "[" + String(repeating: "█", count: filled) + String(repeating: "░", count: width - filled) + "] "
            + "\(done)/\(total) slides · \(Self.grouped(Int(rate))) \(unitName)/s · ETA \(Self.clock(eta))"
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
