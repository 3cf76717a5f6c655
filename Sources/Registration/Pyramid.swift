import Foundation

extension Image2D {
    /// Separable Gaussian blur with σ in mm (edges clamped); σ ≤ 0 returns the image unchanged.
    public func smoothed(sigma: Double) -> Image2D {
        guard sigma > 0 else { return self }
        var out = self
        let tmp = Image2D.blur1D(pixels, width, height, sigma / spacing.x, alongX: true)
        out.pixels = Image2D.blur1D(tmp, width, height, sigma / spacing.y, alongX: false)
        return out
    }

    private static func blur1D(_ src: [Float], _ w: Int, _ h: Int, _ sigmaPx: Double, alongX: Bool) -> [Float] {
        guard sigmaPx > 0.05 else { return src }
        let r = max(1, Int((3 * sigmaPx).rounded(.up)))
        var k = (-r...r).map { exp(-0.5 * Double($0 * $0) / (sigmaPx * sigmaPx)) }
        let sum = k.reduce(0, +)
        k = k.map { $0 / sum }
        var dst = [Float](repeating: 0, count: src.count)
        let lines = alongX ? h : w, n = alongX ? w : h
        let stride = alongX ? 1 : w
        src.withUnsafeBufferPointer { s in
            dst.withUnsafeMutableBufferPointer { d in
                let sp = s.baseAddress!, dp = d.baseAddress!
                k.withUnsafeBufferPointer { kb in
                    DispatchQueue.concurrentPerform(iterations: lines) { line in
                        let base = alongX ? line * w : line
                        for t in 0..<n {
                            var acc = 0.0
                            for o in -r...r {
                                let q = min(max(t + o, 0), n - 1)
                                acc += kb[o + r] * Double(sp[base + q * stride])
                            }
                            dp[base + t * stride] = Float(acc)
                        }
                    }
                }
            }
        }
        return dst
    }

    /// The image on a grid `factor` times coarser, covering the same extent, after a Gaussian
    /// with σ = factor/2 pixels (elastix's default pyramid schedule).
    public func downsampled(by factor: Int) -> Image2D {
        guard factor > 1 else { return self }
        let f = Double(factor)
        let blurred = smoothed(sigma: 0.5 * f * min(spacing.x, spacing.y))
        let w = max(1, Int((Double(width) / f).rounded(.up))), h = max(1, Int((Double(height) / f).rounded(.up)))
        let sp = spacing * f
        // Centre the coarse grid on the fine one.
        let extent = SIMD2(Double(width - 1), Double(height - 1)) * spacing
        let coarseExtent = SIMD2(Double(w - 1), Double(h - 1)) * sp
        let o = origin + (extent - coarseExtent) * 0.5
        let grid = Image2D(width: w, height: h, spacing: sp, origin: o)
        return blurred.resampled(onto: grid, through: MatrixTransform2D.identity, outside: edgeValue)
    }

    /// Mean of the border pixels, used as the value beyond the edge when resampling.
    var edgeValue: Float {
        var s = 0.0, n = 0
        for i in 0..<width { s += Double(self[i, 0]) + Double(self[i, height - 1]); n += 2 }
        for j in 0..<height { s += Double(self[0, j]) + Double(self[width - 1, j]); n += 2 }
        return Float(s / Double(max(n, 1)))
    }
}
