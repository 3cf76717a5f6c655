import CBLAS
import Foundation

/// The one thread knob of inference, chosen by the caller together with its patch-decoding
/// threads so the two do not fight for the cores.
///
/// OpenBLAS itself is kept single-threaded: the engine splits every GEMM by rows over its own
/// threads, each running im2col, its BLAS call and the fused bias/activation on its rows.
/// (OpenBLAS's own workers spin in sched_yield between calls and took ~12 % of the cores
/// from the element-wise work in between.)
public enum Compute {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var current = ProcessInfo.processInfo.activeProcessorCount
    private static let singleThreadedBLAS: Void = openblas_set_num_threads(1)

    /// Threads used by BLAS and the element-wise kernels (≥ 1).
    public static var threads: Int {
        lock.lock(); defer { lock.unlock() }
        return current
    }

    /// Sets the thread count for GEMMs and the element-wise kernels.
    public static func setThreads(_ n: Int) {
        lock.lock(); current = max(1, n); lock.unlock()
    }

    /// Runs `body(chunk)` for chunks 0..<chunks on up to `threads` threads.
    static func parallel(_ chunks: Int, _ body: (Int) -> Void) {
        _ = singleThreadedBLAS
        if chunks <= 1 || threads <= 1 {
            for c in 0..<chunks { body(c) }
        } else {
            DispatchQueue.concurrentPerform(iterations: chunks, execute: body)
        }
    }

    /// Splits 0..<n into `threads` contiguous ranges of at least `minRows` (fewer ranges when
    /// n is small) and runs `body(part, range)` on them in parallel: the GEMM split.
    static func parallelRows(_ n: Int, minRows: Int, _ body: (_ part: Int, _ rows: Range<Int>) -> Void) {
        guard n > 0 else { return }
        let parts = max(1, min(threads, n / max(1, minRows)))
        parallel(parts) { p in body(p, (p * n / parts)..<((p + 1) * n / parts)) }
    }

    /// Splits 0..<n into about `threads × 4` contiguous ranges (at least `minChunk` each)
    /// and runs `body(range)` on them in parallel.
    static func parallelRanges(_ n: Int, minChunk: Int = 4096, _ body: (Range<Int>) -> Void) {
        guard n > 0 else { return }
        let pieces = max(1, min(threads * 4, n / max(1, minChunk)))
        let step = (n + pieces - 1) / pieces
        parallel(pieces) { p in
            let lo = p * step, hi = min(n, lo + step)
            if lo < hi { body(lo..<hi) }
        }
    }
}

extension Compute {
    /// The machine's attainable single-precision GEMM rate at the current thread count:
    /// the best of `repeats` square `size`³ products, split by rows over the threads as the
    /// engine splits its own (one `cblas_sgemm` per thread), in GFLOP/s (2·size³ each).
    public static func measureSGEMMPeak(size: Int = 2048, repeats: Int = 5) -> Double {
        let a = [Float](repeating: 0.5, count: size * size), b = [Float](repeating: 0.25, count: size * size)
        var c = [Float](repeating: 0, count: size * size)
        var best = Double.infinity
        for _ in 0..<repeats {
            let t0 = DispatchTime.now().uptimeNanoseconds
            a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in c.withUnsafeMutableBufferPointer { pc in
                let (pa, pb, pc) = (pa.baseAddress!, pb.baseAddress!, pc.baseAddress!)
                parallelRows(size, minRows: 64) { _, r in
                    sgemm(m: r.count, n: size, k: size, a: pa + r.lowerBound * size, lda: size, b: pb, ldb: size,
                          transB: false, c: pc + r.lowerBound * size, ldc: size)
                }
            } } }
            best = min(best, Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
        }
        return 2 * pow(Double(size), 3) / best / 1e9
    }
}

extension Compute {
    /// The OpenBLAS kernel family in use (e.g. "Haswell", "Cooperlake"): OpenBLAS picks it from
    /// the CPU when it loads, unless `OPENBLAS_CORETYPE` names one.
    public static var blasCore: String { String(cString: openblas_get_corename()) }
}
