import Foundation

/// Float-plane filters of the per-tile pipeline. All run on the calling thread (tiles are the
/// unit of parallelism) into caller-owned memory, so a worker allocates nothing per tile.
enum PlaneFilters {
    /// Normalised Gaussian taps k[0...r] (k[i] weighs offsets ±i), r = Int(4σ + 0.5) as SciPy's
    /// `gaussian_filter` (truncate 4). σ = 0 gives the identity [1].
    static func gaussianKernel(sigma: Double) -> [Float] {
        guard sigma > 0 else { return [1] }
        let r = max(1, Int(4 * sigma + 0.5))
        var k = (0...r).map { exp(-0.5 * Double($0 * $0) / (sigma * sigma)) }
        let sum = k[0] + 2 * k.dropFirst().reduce(0, +)
        k = k.map { $0 / sum }
        return k.map(Float.init)
    }

    /// Separable Gaussian of `src` into `dst` (w·h each), borders replicated ('nearest').
    /// `scratch` holds w·h floats plus `line` w + 2r floats.
    static func gaussian(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, width w: Int, height h: Int,
                         kernel k: [Float], scratch: UnsafeMutablePointer<Float>, line: UnsafeMutablePointer<Float>) {
        let r = k.count - 1
        if r == 0 { dst.update(from: src, count: w * h); return }
        k.withUnsafeBufferPointer { kB in
            let kp = kB.baseAddress!
            // Horizontal: each row padded by replication into `line`, then convolved.
            for y in 0..<h {
                let s = src + y * w, o = scratch + y * w
                let first = s[0], last = s[w - 1]
                for i in 0..<r { line[i] = first; line[r + w + i] = last }
                (line + r).update(from: s, count: w)
                let c = line + r
                let k0 = kp[0]
                for x in 0..<w { o[x] = k0 * c[x] }
                for i in 1...r {
                    let ki = kp[i], a = c - i, b = c + i
                    for x in 0..<w { o[x] += ki * (a[x] + b[x]) }
                }
            }
            // Vertical: whole rows at a time, so the inner loop runs along memory.
            for y in 0..<h {
                let o = dst + y * w
                let c = scratch + y * w
                let k0 = kp[0]
                for x in 0..<w { o[x] = k0 * c[x] }
                for i in 1...r {
                    let ki = kp[i]
                    let a = scratch + max(0, y - i) * w, b = scratch + min(h - 1, y + i) * w
                    for x in 0..<w { o[x] += ki * (a[x] + b[x]) }
                }
            }
        }
    }

    /// Grey opening with a (2r+1)² square (erosion then dilation), in place on `plane`; pixels
    /// outside the plane are ignored (never the minimum, never the maximum). `padded` holds
    /// w·(h + 2r) floats, `line` w + 2r.
    static func opening(_ plane: UnsafeMutablePointer<Float>, width w: Int, height h: Int, radius r: Int,
                        padded: UnsafeMutablePointer<Float>, line: UnsafeMutablePointer<Float>) {
        extreme(plane, width: w, height: h, radius: r, isMax: false, padded: padded, line: line)
        extreme(plane, width: w, height: h, radius: r, isMax: true, padded: padded, line: line)
    }

    /// Min or max over the (2r+1)² square around each pixel, in place (outside ignored). Each
    /// direction doubles the window with element-wise min/max of shifted copies (window 1, 2,
    /// 4, … then the remainder: ⌈log₂(2r+1)⌉ passes), which vectorise — faster here than van Herk's
    /// three comparisons with a serial dependency. Rows are padded by r on each side with the
    /// operation's identity; the vertical pass works on whole rows of a padded copy.
    static func extreme(_ plane: UnsafeMutablePointer<Float>, width w: Int, height h: Int, radius r: Int, isMax: Bool,
                        padded: UnsafeMutablePointer<Float>, line: UnsafeMutablePointer<Float>) {
        guard r > 0, w > 0, h > 0 else { return }
        let pad: Float = isMax ? -.infinity : .infinity
        let k = 2 * r + 1
        // Horizontal, row by row.
        let n = w + 2 * r
        for y in 0..<h {
            let row = plane + y * w
            for i in 0..<r { line[i] = pad; line[r + w + i] = pad }
            (line + r).update(from: row, count: w)
            forwardWindow(line, count: n, window: k, isMax: isMax) { a, b, len in
                if isMax { for i in 0..<len { a[i] = Swift.max(a[i], b[i]) } } else { for i in 0..<len { a[i] = Swift.min(a[i], b[i]) } }
            }
            row.update(from: line, count: w)
        }
        // Vertical: the same on rows of a copy with r padding rows above and below.
        for i in 0..<(r * w) { padded[i] = pad; padded[(r + h) * w + i] = pad }
        (padded + r * w).update(from: plane, count: w * h)
        forwardWindow(padded, count: h + 2 * r, window: k, isMax: isMax, stride: w) { a, b, len in
            if isMax { for i in 0..<len { a[i] = Swift.max(a[i], b[i]) } } else { for i in 0..<len { a[i] = Swift.min(a[i], b[i]) } }
        }
        plane.update(from: padded, count: w * h)
    }

    /// In place, element j of the sequence (elements `stride` floats apart) becomes op over
    /// elements j…j+window−1 (those that exist). `combine(a, b, len)` sets a[i] = op(a[i], b[i]).
    @inline(__always)
    private static func forwardWindow(_ p: UnsafeMutablePointer<Float>, count n: Int, window k: Int, isMax: Bool, stride: Int = 1,
                                      _ combine: (UnsafeMutablePointer<Float>, UnsafePointer<Float>, Int) -> Void) {
        var have = 1
        while have < k {
            let s = min(have, k - have) // window grows from `have` to `have + s`
            // Forward in place is safe: element j reads j+s, not yet updated.
            if n > s { combine(p, p + s * stride, (n - s) * stride) }
            have += s
        }
    }
}
