import CBLAS
import Foundation

/// Row-major single-precision BLAS calls (OpenBLAS picks the kernels and its thread count).
enum BLAS {
    /// C = op(A)·op(B) + beta·C with op(A) m×k and op(B) k×n.
    @inline(__always)
    static func gemm(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
                     a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                     c: UnsafeMutablePointer<Float>, ldc: Int, beta: Float = 0) {
        guard m > 0, n > 0 else { return }
        cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                    blasint(m), blasint(n), blasint(k), 1, a, blasint(lda), b, blasint(ldb), beta, c, blasint(ldc))
    }

    /// y = op(A)·x + beta·y for the m×n matrix A (op(A) = Aᵀ when `trans`).
    @inline(__always)
    static func gemv(trans: Bool = false, m: Int, n: Int, a: UnsafePointer<Float>, lda: Int,
                     x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>, beta: Float = 0) {
        guard m > 0, n > 0 else { return }
        cblas_sgemv(CblasRowMajor, trans ? CblasTrans : CblasNoTrans, blasint(m), blasint(n), 1, a, blasint(lda),
                    x, 1, beta, y, 1)
    }
}

/// A buffer that grows to the largest request and is reused (scratch per bag).
final class Scratch<T> {
    private(set) var pointer: UnsafeMutablePointer<T>
    private(set) var capacity = 0

    init() { pointer = .allocate(capacity: 1) }
    deinit { pointer.deallocate() }

    /// At least `count` elements (contents undefined after growing).
    @discardableResult func ensure(_ count: Int) -> UnsafeMutablePointer<T> {
        if count > capacity {
            pointer.deallocate()
            capacity = max(count, capacity + capacity / 2)
            pointer = .allocate(capacity: capacity)
        }
        return pointer
    }
}

/// MIL's threads. BLAS runs single-threaded and MIL splits the work itself: every GEMM by
/// rows of its output, the element-wise loops by rows, so one knob sets the cores used and
/// BLAS's idle workers do not spin against the element-wise work. (`openblas_set_num_threads(1)`
/// is process-wide, as the Embedder sets it too.)
struct Workers {
    let count: Int
    private static let singleThreadedBLAS: Void = openblas_set_num_threads(1)

    init(_ threads: Int) {
        _ = Self.singleThreadedBLAS
        count = max(1, threads)
    }

    /// body(0..<parts), concurrently when there are several.
    func parallel(_ parts: Int, _ body: (Int) -> Void) {
        if parts <= 1 || count <= 1 {
            for p in 0..<parts { body(p) }
        } else {
            DispatchQueue.concurrentPerform(iterations: parts, execute: body)
        }
    }

    /// Splits 0..<n into up to `count` contiguous ranges of at least `minRows` each.
    func rows(_ n: Int, minRows: Int = 32, _ body: (Range<Int>) -> Void) {
        guard n > 0 else { return }
        let parts = max(1, min(count, n / max(1, minRows)))
        parallel(parts) { p in body((p * n / parts)..<((p + 1) * n / parts)) }
    }

    /// C = op(A)·op(B) + beta·C split by rows of C. (OpenBLAS picks its kernels by size, so
    /// another split may round differently: results are reproducible per thread count.)
    func gemm(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
              a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
              c: UnsafeMutablePointer<Float>, ldc: Int, beta: Float = 0) {
        rows(m, minRows: 64) { r in
            BLAS.gemm(transA: transA, transB: transB, m: r.count, n: n, k: k,
                      a: a + r.lowerBound * (transA ? 1 : lda), lda: lda, b: b, ldb: ldb,
                      c: c + r.lowerBound * ldc, ldc: ldc, beta: beta)
        }
    }
}
