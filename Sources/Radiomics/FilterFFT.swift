import Foundation

/// In-place radix-2 complex FFT (split real/imaginary arrays), for the Gabor filter's
/// large non-separable kernels. The inverse is unnormalised.
struct FFT: Sendable {
    let n: Int
    private let cosines: [Double]
    private let sines: [Double]
    private let reversed: [Int]

    /// `n` must be a power of two.
    init(_ n: Int) {
        precondition(n > 0 && n & (n - 1) == 0, "FFT length must be a power of two")
        self.n = n
        cosines = (0..<max(1, n / 2)).map { cos(2 * Double.pi * Double($0) / Double(n)) }
        sines = (0..<max(1, n / 2)).map { sin(2 * Double.pi * Double($0) / Double(n)) }
        var bits = 0
        while (1 << bits) < n { bits += 1 }
        reversed = (0..<n).map { i in
            var r = 0
            for b in 0..<bits where i & (1 << b) != 0 { r |= 1 << (bits - 1 - b) }
            return r
        }
    }

    static func size(atLeast m: Int) -> Int {
        var n = 1
        while n < m { n <<= 1 }
        return n
    }

    /// Transforms `n` contiguous values in place.
    func transform(_ re: UnsafeMutablePointer<Double>, _ im: UnsafeMutablePointer<Double>, inverse: Bool) {
        for i in 0..<n {
            let j = reversed[i]
            if j > i {
                swap(&re[i], &re[j])
                swap(&im[i], &im[j])
            }
        }
        let sign: Double = inverse ? 1 : -1
        var half = 1
        while half < n {
            let step = n / (2 * half)
            var start = 0
            while start < n {
                for k in 0..<half {
                    let wr = cosines[k * step], wi = sign * sines[k * step]
                    let a = start + k, b = a + half
                    let tr = re[b] * wr - im[b] * wi
                    let ti = re[b] * wi + im[b] * wr
                    re[b] = re[a] - tr
                    im[b] = im[a] - ti
                    re[a] += tr
                    im[a] += ti
                }
                start += 2 * half
            }
            half *= 2
        }
    }
}

/// A 2-D FFT over an n1 × n2 array, n1 fastest, with its own column scratch.
struct FFT2D {
    let rows: FFT
    let columns: FFT
    private let scratchRe: UnsafeMutablePointer<Double>
    private let scratchIm: UnsafeMutablePointer<Double>

    init(_ n1: Int, _ n2: Int) {
        rows = FFT(n1)
        columns = FFT(n2)
        scratchRe = .allocate(capacity: n2)
        scratchIm = .allocate(capacity: n2)
    }

    func free() {
        scratchRe.deallocate()
        scratchIm.deallocate()
    }

    func transform(_ re: UnsafeMutablePointer<Double>, _ im: UnsafeMutablePointer<Double>, inverse: Bool) {
        let n1 = rows.n, n2 = columns.n
        for r in 0..<n2 { rows.transform(re + r * n1, im + r * n1, inverse: inverse) }
        for c in 0..<n1 {
            for r in 0..<n2 {
                scratchRe[r] = re[c + r * n1]
                scratchIm[r] = im[c + r * n1]
            }
            columns.transform(scratchRe, scratchIm, inverse: inverse)
            for r in 0..<n2 {
                re[c + r * n1] = scratchRe[r]
                im[c + r * n1] = scratchIm[r]
            }
        }
    }
}
