import Foundation

/// Surface distances between two binary masks on grids placed in mm.
public enum MaskDistance {
    /// Centres (mm) of the boundary pixels: mask pixels (> 0.5) with a 4-neighbour outside the
    /// mask or beyond the image edge.
    public static func boundary(_ m: Image2D) -> [SIMD2<Double>] {
        var out: [SIMD2<Double>] = []
        let w = m.width, h = m.height
        @inline(__always) func on(_ i: Int, _ j: Int) -> Bool { i >= 0 && j >= 0 && i < w && j < h && m.pixels[j * w + i] > 0.5 }
        for j in 0..<h {
            for i in 0..<w where on(i, j) {
                if !on(i - 1, j) || !on(i + 1, j) || !on(i, j - 1) || !on(i, j + 1) {
                    out.append(m.point(ofIndex: SIMD2(Double(i), Double(j))))
                }
            }
        }
        return out
    }

    /// For every point of `a`, the distance (mm) to the nearest point of `b`.
    public static func directed(_ a: [SIMD2<Double>], to b: [SIMD2<Double>]) -> [Double] {
        var out = [Double](repeating: 0, count: a.count)
        b.withUnsafeBufferPointer { bb in
            out.withUnsafeMutableBufferPointer { o in
                let n = a.count, chunks = max(1, min(n, 64))
                DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
                    let lo = chunk * n / chunks, hi = (chunk + 1) * n / chunks
                    guard lo < hi else { return }
                    for k in lo..<hi {
                        var best = Double.infinity
                        let p = a[k]
                        for q in bb { let d = p - q; best = min(best, d.x * d.x + d.y * d.y) }
                        o[k] = best.squareRoot()
                    }
                }
            }
        }
        return out
    }

    /// Percentile `q` (0…100) with linear interpolation between order statistics (numpy's default).
    public static func percentile(_ v: [Double], _ q: Double) -> Double {
        guard !v.isEmpty else { return .nan }
        let s = v.sorted(), pos = q / 100 * Double(s.count - 1)
        let lo = Int(pos.rounded(.down)), hi = min(lo + 1, s.count - 1)
        return s[lo] + (s[hi] - s[lo]) * (pos - Double(lo))
    }

    /// 95 % Hausdorff distance (mm): the larger of the two directed 95th percentiles of boundary
    /// distances. nil when either mask is empty.
    public static func hausdorff95(_ a: Image2D, _ b: Image2D) -> Double? {
        let ba = boundary(a), bb = boundary(b)
        guard !ba.isEmpty, !bb.isEmpty else { return nil }
        return max(percentile(directed(ba, to: bb), 95), percentile(directed(bb, to: ba), 95))
    }
}

extension Image2D {
    /// A mask pulled onto `grid` through `t` (grid → self) and thresholded at 0.5: 1 or 0.
    public func warpedMask<T: Transform2D>(onto grid: Image2D, through t: T) -> Image2D {
        var w = resampled(onto: grid, through: t, outside: 0)
        for k in 0..<w.pixels.count { w.pixels[k] = w.pixels[k] >= 0.5 ? 1 : 0 }
        return w
    }
}
