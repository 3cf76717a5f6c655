import Foundation
import ImageCore

extension ScoreMap {
    /// Gaussian smoothing with standard deviation `sigma` raster pixels, as
    /// `scipy.ndimage.gaussian_filter(v, sigma, mode='reflect', truncate=4)` on a map with no
    /// gaps. Gaps (NaN) take no part: each present pixel becomes the Gaussian-weighted mean
    /// of the PRESENT pixels around it (normalised convolution), and gaps stay gaps, so the
    /// map's edges neither fade towards zero nor spread onto glass.
    public func blurred(sigma: Double) -> ScoreMap {
        guard sigma > 0, width > 0, height > 0 else { return self }
        let kernel = GaussianKernel(sigma: sigma)
        let n = width * height
        // Weighted values and weights, blurred along x, then along y.
        var num = [Float](repeating: 0, count: n), den = [Float](repeating: 0, count: n)
        for k in 0..<n where !values[k].isNaN { num[k] = values[k]; den[k] = 1 }
        kernel.apply(&num, width: width, height: height)
        kernel.apply(&den, width: width, height: height)
        var out = values
        for k in 0..<n where !values[k].isNaN { out[k] = den[k] > 0 ? num[k] / den[k] : values[k] }
        var r = self
        r.values = out
        return r
    }
}

/// A sampled, normalised 1-D Gaussian of radius ⌊4σ + 0.5⌋ (scipy's), applied separably
/// with scipy's 'reflect' border (d c b a | a b c d | d c b a).
struct GaussianKernel {
    let radius: Int
    let weights: [Double]

    init(sigma: Double) {
        radius = Int(4 * sigma + 0.5)
        var w = (-radius...radius).map { x in exp(-0.5 * Double(x * x) / (sigma * sigma)) }
        let total = w.reduce(0, +)
        w = w.map { $0 / total }
        weights = w
    }

    /// Index `i` reflected into 0..<n (half-sample symmetric, repeating for far indices).
    @inline(__always) static func reflect(_ i: Int, _ n: Int) -> Int {
        let period = 2 * n
        var m = i % period
        if m < 0 { m += period }
        return m < n ? m : period - 1 - m
    }

    /// Rows (into a scratch plane) then columns (back into `plane`); accumulation in Double.
    func apply(_ plane: inout [Float], width w: Int, height h: Int) {
        var tmp = [Float](repeating: 0, count: w * h)
        let r = radius
        weights.withUnsafeBufferPointer { wB in
            plane.withUnsafeBufferPointer { inB in
                tmp.withUnsafeMutableBufferPointer { tB in
                    let wp = wB.baseAddress!, ip = inB.baseAddress!, tp = tB.baseAddress!
                    parallelBands(count: h, workPerItem: w * (2 * r + 1), minBand: 4) { rows in
                        let line = UnsafeMutablePointer<Float>.allocate(capacity: w + 2 * r)
                        defer { line.deallocate() }
                        for y in rows {
                            for i in 0..<(w + 2 * r) { line[i] = ip[y * w + GaussianKernel.reflect(i - r, w)] }
                            for x in 0..<w {
                                var acc = 0.0
                                for t in 0...(2 * r) { acc += wp[t] * Double(line[x + t]) }
                                tp[y * w + x] = Float(acc)
                            }
                        }
                    }
                }
            }
            tmp.withUnsafeBufferPointer { tB in
                plane.withUnsafeMutableBufferPointer { oB in
                    let wp = wB.baseAddress!, tp = tB.baseAddress!, op = oB.baseAddress!
                    parallelBands(count: h, workPerItem: w * (2 * r + 1), minBand: 4) { rows in
                        let acc = UnsafeMutablePointer<Double>.allocate(capacity: w)
                        defer { acc.deallocate() }
                        for y in rows {
                            acc.initialize(repeating: 0, count: w)
                            for t in 0...(2 * r) {
                                let src = tp + GaussianKernel.reflect(y + t - r, h) * w
                                let wt = wp[t]
                                for x in 0..<w { acc[x] += wt * Double(src[x]) }
                            }
                            for x in 0..<w { op[y * w + x] = Float(acc[x]) }
                        }
                    }
                }
            }
        }
    }
}
