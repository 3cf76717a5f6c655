import Dispatch
import Foundation

/// Runs `body` over contiguous bands of `0..<count` on all cores (a few bands per core,
/// so uneven rows balance); `body` must only write memory owned by its band.
func parallelBands(_ count: Int, minBand: Int = 16, _ body: (Range<Int>) -> Void) {
    guard count > 0 else { return }
    let bands = min(ProcessInfo.processInfo.activeProcessorCount * 4, max(1, count / max(1, minBand)))
    if bands <= 1 { body(0..<count); return }
    DispatchQueue.concurrentPerform(iterations: bands) { b in
        let lo = count * b / bands, hi = count * (b + 1) / bands
        if lo < hi { body(lo..<hi) }
    }
}
