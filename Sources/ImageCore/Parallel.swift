import Foundation

/// Splits `0..<count` into contiguous bands and runs `body` on them concurrently (all cores) when the
/// job is big enough to pay for the threads; otherwise runs one band inline. `body` must only write
/// to memory owned by its band.
@inline(__always)
public func parallelBands(count: Int, workPerItem: Int, minBand: Int = 1, _ body: (Range<Int>) -> Void) {
    guard count > 0 else { return }
    let cores = ProcessInfo.processInfo.activeProcessorCount
    // Below ~256k units of work the dispatch overhead dominates.
    let byWork = max(1, (count * max(1, workPerItem)) / 262_144)
    let bands = min(cores * 2, byWork, max(1, count / max(1, minBand)))
    if bands <= 1 {
        body(0..<count)
        return
    }
    DispatchQueue.concurrentPerform(iterations: bands) { b in
        let lo = count * b / bands, hi = count * (b + 1) / bands
        if lo < hi { body(lo..<hi) }
    }
}
