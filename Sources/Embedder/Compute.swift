import CBLAS
import Foundation

/// The one thread knob of inference: BLAS threads and the element-wise loops use the same
/// count, which the caller chooses together with its patch-decoding threads so the two do
/// not fight for the cores.
public enum Compute {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var current = ProcessInfo.processInfo.activeProcessorCount

    /// Threads used by BLAS and the element-wise kernels (≥ 1).
    public static var threads: Int {
        lock.lock(); defer { lock.unlock() }
        return current
    }

    /// Sets the thread count for BLAS and the element-wise kernels.
    public static func setThreads(_ n: Int) {
        let n = max(1, n)
        lock.lock(); current = n; lock.unlock()
        openblas_set_num_threads(Int32(n))
    }

    /// Runs `body(chunk)` for chunks 0..<chunks on up to `threads` threads.
    static func parallel(_ chunks: Int, _ body: (Int) -> Void) {
        if chunks <= 1 || threads <= 1 {
            for c in 0..<chunks { body(c) }
        } else {
            DispatchQueue.concurrentPerform(iterations: chunks, execute: body)
        }
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
    /// the best of `repeats` square `size`³ `cblas_sgemm` calls, in GFLOP/s (2·size³ each).
    public static func measureSGEMMPeak(size: Int = 2048, repeats: Int = 5) -> Double {
        let a = [Float](repeating: 0.5, count: size * size), b = [Float](repeating: 0.25, count: size * size)
        var c = [Float](repeating: 0, count: size * size)
        var best = Double.infinity
        for _ in 0..<repeats {
            let t0 = DispatchTime.now().uptimeNanoseconds
            a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in c.withUnsafeMutableBufferPointer { pc in
                sgemm(m: size, n: size, k: size, a: pa.baseAddress!, lda: size, b: pb.baseAddress!, ldb: size,
                      transB: false, c: pc.baseAddress!, ldc: size)
            } } }
            best = min(best, Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
        }
        return 2 * pow(Double(size), 3) / best / 1e9
    }
}
