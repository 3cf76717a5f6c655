import Foundation

/// Runs one job per input on `jobs` worker threads, isolating failures: a job reports its
/// own outcome and the rest go on. Results come back in input order whatever the finishing
/// order, so summaries are deterministic.
public enum BatchRunner {
    /// Set by the first Ctrl-C: workers finish the slides they hold and take no new ones.
    nonisolated(unsafe) private static var stopRequested = false
    private static let stopLock = NSLock()

    public static var isStopRequested: Bool { stopLock.lock(); defer { stopLock.unlock() }; return stopRequested }

    /// Installs the interrupt policy for a batch: first SIGINT/SIGTERM stops taking new work
    /// (outputs are written atomically, so nothing half-written stays), a second one exits.
    public static func installInterruptHandler(onFirst: @escaping @Sendable () -> Void) {
        for sig in [SIGINT, SIGTERM] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler {
                stopLock.lock()
                let again = stopRequested
                stopRequested = true
                stopLock.unlock()
                if again { exit(130) }
                onFirst()
            }
            source.resume()
            retained.append(source)
        }
    }
    nonisolated(unsafe) private static var retained: [DispatchSourceSignal] = []

    /// Runs `work` for every input; `onResult` is called (serially) as each finishes.
    /// Inputs not started because of an interrupt get `nil`.
    public static func run<Input, Output>(_ inputs: [Input], jobs: Int,
                                          work: @escaping (Input) -> Output,
                                          onResult: @escaping (Int, Output) -> Void) -> [Output?] {
        var results = [Output?](repeating: nil, count: inputs.count)
        let lock = NSLock()
        var next = 0
        let workers = max(1, min(jobs, inputs.count))
        DispatchQueue.concurrentPerform(iterations: workers) { _ in
            while true {
                lock.lock()
                if next >= inputs.count || isStopRequested { lock.unlock(); return }
                let i = next
                next += 1
                lock.unlock()
                let r = work(inputs[i])
                lock.lock()
                results[i] = r
                onResult(i, r)
                lock.unlock()
            }
        }
        return results
    }

    /// Removes temporary files (`.NAME.tmp-PID-…`) left in `folders` by processes that no
    /// longer run (a killed earlier run), so a rerun starts clean.
    @discardableResult
    public static func removeStaleTemporaryFiles(in folders: [String]) -> Int {
        var removed = 0
        let fm = FileManager.default
        for folder in folders {
            for name in (try? fm.contentsOfDirectory(atPath: folder)) ?? [] where name.hasPrefix(".") {
                guard let r = name.range(of: ".tmp-") else { continue }
                let pidText = name[r.upperBound...].prefix { $0.isNumber }
                guard let pid = Int32(pidText) else { continue }
                if pid == getpid() { continue }
                if kill(pid, 0) == 0 || errno == EPERM { continue } // still running
                if (try? fm.removeItem(atPath: folder + "/" + name)) != nil { removed += 1 }
            }
        }
        return removed
    }
}
