import Foundation

// MARK: - Median

extension GrayImage {
    /// Median over a `size`×`size` window (odd `size`, 1...255), borders replicated — the same
    /// result as OpenCV's `medianBlur` on 8-bit images and `scipy.ndimage.median_filter(size=k,
    /// mode='nearest')`. Tissue detection smooths the saturation channel with it before thresholding.
    ///
    /// Constant time per pixel (Perreault & Hébert 2007): every column keeps a 256-bin histogram of
    /// its `size` rows (one add, one remove per row); the window histogram slides right by adding
    /// and subtracting whole column histograms, split into 16 coarse bins (always current) and 16×16
    /// fine bins (brought up to date lazily, only for the coarse bin that holds the median). Rows are
    /// split into bands processed in parallel on all cores.
    public func medianFiltered(size: Int) -> GrayImage {
        precondition(size >= 1 && size % 2 == 1 && size <= 255,
                     "medianFiltered: size must be odd and in 1...255, got \(size)")
        if size == 1 || width == 0 || height == 0 { return self }
        var out = [UInt8](repeating: 0, count: width * height)
        let w = width, h = height, r = size / 2
        pixels.withUnsafeBufferPointer { srcB in
            out.withUnsafeMutableBufferPointer { dstB in
                let src = srcB.baseAddress!, dst = dstB.baseAddress!
                parallelBands(count: h, workPerItem: w * 4, minBand: max(8, 2 * size)) { rows in
                    medianBand(src: src, dst: dst, width: w, height: h, radius: r, rows: rows)
                }
            }
        }
        return GrayImage(width: w, height: h, pixels: out)
    }
}

private typealias Bins16 = SIMD16<UInt16>

/// `steps[b]` has 1 in lanes b...15: adding it to a cumulative histogram counts one value in bin b.
private let cumulativeSteps: [Bins16] = (0..<16).map { b in
    var v = Bins16(repeating: 0)
    for i in b..<16 { v[i] = 1 }
    return v
}

/// Number of lanes of `v` that are ≤ `t`, branch-free with wrapping arithmetic only (the generic
/// SIMD helpers such as `pointwiseMin` are not inlined and cost more than the whole search).
/// Requires every |v − (t+1)| < 32768 so the sign bit of the wrapped difference is the comparison;
/// the median's counts guarantee that: all values lie in 0...k² ≤ 65025 and t is the remaining rank
/// (≤ k²/2), with v − t − 1 ≤ k² − 1 − k²/2 < 32768 (see the caller).
@inline(__always)
private func lanesAtMost(_ v: Bins16, _ t: UInt16) -> Int {
    let ind = (v &- Bins16(repeating: t &+ 1)) &>> Bins16(repeating: 15)
    let a = ind.lowHalf &+ ind.highHalf, b = a.lowHalf &+ a.highHalf, c = b.lowHalf &+ b.highHalf
    return Int(c[0] &+ c[1])
}

/// One band of rows of the constant-time median. Histograms are kept **cumulative** (lane i counts
/// values in bins 0...i), which is still linear in the pixels, so window sums work unchanged, and
/// finding the median bin becomes a branch-free count of lanes ≤ rank instead of a scan.
/// Memory: (16 + 256) UInt16 per column.
private func medianBand(src: UnsafePointer<UInt8>, dst: UnsafeMutablePointer<UInt8>,
                        width w: Int, height h: Int, radius r: Int, rows: Range<Int>) {
    let k = 2 * r + 1
    let target = (k * k) / 2 // 0-based rank of the median
    // Column histograms. Coarse: 16 bins per column (value >> 4); fine: 16 planes (one per coarse
    // bin c, each `w` columns wide) of 16 bins cumulating values 16c..<16c+16 by (value & 15). Planes
    // keep a window's columns adjacent in memory for the fine-histogram refresh.
    let coarse = UnsafeMutablePointer<Bins16>.allocate(capacity: w)
    let fine = UnsafeMutablePointer<Bins16>.allocate(capacity: w * 16)
    var kernelFine = [Bins16](repeating: Bins16(repeating: 0), count: 16)
    var lastUpdated = [Int](repeating: 0, count: 16)
    defer { coarse.deallocate(); fine.deallocate() }
    coarse.initialize(repeating: Bins16(repeating: 0), count: w)
    fine.initialize(repeating: Bins16(repeating: 0), count: w * 16)

    cumulativeSteps.withUnsafeBufferPointer { stepsB in
    kernelFine.withUnsafeMutableBufferPointer { kfB in
    lastUpdated.withUnsafeMutableBufferPointer { luB in
        let steps = stepsB.baseAddress!, kf = kfB.baseAddress!, lu = luB.baseAddress!
        @inline(__always) func clampRow(_ y: Int) -> Int { y < 0 ? 0 : (y >= h ? h - 1 : y) }
        @inline(__always) func clampCol(_ x: Int) -> Int { x < 0 ? 0 : (x >= w ? w - 1 : x) }

        // Column histograms for the first row of the band.
        for dy in -r...r {
            let row = src + clampRow(rows.lowerBound + dy) * w
            for x in 0..<w {
                let v = Int(row[x])
                coarse[x] &+= steps[v &>> 4]
                fine[(v &>> 4) &* w &+ x] &+= steps[v & 15]
            }
        }
        let zero = Bins16(repeating: 0)
        for y in rows {
            if y > rows.lowerBound {
                let rowOut = src + clampRow(y - r - 1) * w, rowIn = src + clampRow(y + r) * w
                if rowOut != rowIn {
                    for x in 0..<w {
                        let vo = Int(rowOut[x]), vi = Int(rowIn[x])
                        if vo == vi { continue }
                        coarse[x] = coarse[x] &+ steps[vi &>> 4] &- steps[vo &>> 4]
                        fine[(vo &>> 4) &* w &+ x] &-= steps[vo & 15]
                        fine[(vi &>> 4) &* w &+ x] &+= steps[vi & 15]
                    }
                }
            }
            var hc = zero
            for dx in -r...r { hc &+= coarse[clampCol(dx)] }
            for c in 0..<16 { lu[c] = Int.min / 2 } // fine histograms are stale at row start
            let out = dst + y * w
            for x in 0..<w {
                if x > 0 { hc = hc &+ coarse[clampCol(x + r)] &- coarse[clampCol(x - r - 1)] }
                // Coarse bin of the median = number of bins whose cumulative count is ≤ rank.
                let c = lanesAtMost(hc, UInt16(target))
                let below = c > 0 ? Int(hc[c - 1]) : 0
                // Bring the fine histogram of coarse bin c up to column x.
                let last = lu[c]
                var hf: Bins16
                if x - last > k {
                    hf = zero
                    let plane = fine + c &* w
                    for dx in -r...r { hf &+= plane[clampCol(x + dx)] }
                } else {
                    hf = kf[c]
                    let plane = fine + c &* w
                    var j = last + 1
                    while j <= x {
                        hf = hf &+ plane[clampCol(j + r)] &- plane[clampCol(j - r - 1)]
                        j += 1
                    }
                }
                kf[c] = hf
                lu[c] = x
                let f = lanesAtMost(hf, UInt16(target - below))
                out[x] = UInt8(truncatingIfNeeded: c &* 16 &+ f)
            }
        }
    }}}
}

// MARK: - Thresholds and pixel-wise logic

extension GrayImage {
    /// 255 where the value is strictly greater than `t`, else 0 (`cv2.threshold(..., t, 255,
    /// THRESH_BINARY)`), so a saturation threshold of 8 keeps pixels with S ≥ 9 as CLAM does.
    public func thresholded(above t: UInt8) -> GrayImage {
        mapPixels { $0 > t ? 255 : 0 }
    }

    /// Otsu's threshold on the 256-bin histogram. Returns the same value as
    /// `skimage.filters.threshold_otsu` on uint8 data, whose convention is that the foreground is
    /// the pixels **strictly greater** than the returned value — pass it straight to
    /// ``thresholded(above:)``. This follows scikit-image exactly, including its float32 class
    /// weights and first-maximum rule, so plateaus (empty histogram bins) resolve to the same level;
    /// OpenCV's `THRESH_OTSU` can land elsewhere on such plateaus. A constant image returns its value;
    /// an empty image returns 0.
    public func otsuThreshold() -> UInt8 {
        guard !pixels.isEmpty else { return 0 }
        var hist = [Int](repeating: 0, count: 256)
        pixels.withUnsafeBufferPointer { p in
            for v in p { hist[Int(v)] &+= 1 }
        }
        guard let lo = hist.firstIndex(where: { $0 > 0 }), let hi = hist.lastIndex(where: { $0 > 0 }) else { return 0 }
        if lo == hi { return UInt8(lo) }
        // scikit-image: counts over [min, max] as float32; class weights are float32 cumulative sums,
        // class means float64; variance = (w1 * w2)[float32] * (m1 - m2)^2 [float64]; first argmax.
        let n = hi - lo + 1
        var w1 = [Float](repeating: 0, count: n), w2 = w1
        var m1 = [Double](repeating: 0, count: n), m2 = m1
        var accW: Float = 0, accS: Double = 0
        for i in 0..<n {
            accW += Float(hist[lo + i]); accS += Double(hist[lo + i]) * Double(lo + i)
            w1[i] = accW; m1[i] = accS / Double(accW)
        }
        accW = 0; accS = 0
        for i in stride(from: n - 1, through: 0, by: -1) {
            accW += Float(hist[lo + i]); accS += Double(hist[lo + i]) * Double(lo + i)
            w2[i] = accW; m2[i] = accS / Double(accW)
        }
        var best = -Double.infinity, bestIndex = 0
        for i in 0..<(n - 1) {
            let d = m1[i] - m2[i + 1]
            let v = Double(w1[i] * w2[i + 1]) * (d * d)
            if v > best { best = v; bestIndex = i }
        }
        return UInt8(lo + bestIndex)
    }

    /// Pixel-wise AND of two masks of the same size (`min` of the values, i.e. AND for 0/255 masks).
    public static func & (a: GrayImage, b: GrayImage) -> GrayImage {
        precondition(a.width == b.width && a.height == b.height,
                     "GrayImage &: sizes differ (\(a.width)x\(a.height) vs \(b.width)x\(b.height))")
        return GrayImage(width: a.width, height: a.height, pixels: zip(a.pixels, b.pixels).map { Swift.min($0, $1) })
    }

    /// Pixel-wise OR of two masks of the same size (`max` of the values, i.e. OR for 0/255 masks).
    public static func | (a: GrayImage, b: GrayImage) -> GrayImage {
        precondition(a.width == b.width && a.height == b.height,
                     "GrayImage |: sizes differ (\(a.width)x\(a.height) vs \(b.width)x\(b.height))")
        return GrayImage(width: a.width, height: a.height, pixels: zip(a.pixels, b.pixels).map { Swift.max($0, $1) })
    }

    /// 255 − value (swaps foreground and background of a 0/255 mask).
    public func inverted() -> GrayImage { mapPixels { 255 &- $0 } }

    /// Nearest-neighbour resize sampling at pixel centres: output pixel x takes source pixel
    /// ⌊(x + ½)·srcW/dstW⌋ (like `cv2.INTER_NEAREST_EXACT` / PIL `NEAREST`), so masks scale without
    /// the half-pixel shift of OpenCV's plain `INTER_NEAREST`. Used to bring masks to preview size.
    public func resizedNearest(width dw: Int, height dh: Int) -> GrayImage {
        precondition(dw >= 0 && dh >= 0, "resizedNearest: negative size \(dw)x\(dh)")
        if dw == 0 || dh == 0 { return GrayImage(width: dw, height: dh) }
        precondition(width > 0 && height > 0, "resizedNearest: cannot resize an empty image to \(dw)x\(dh)")
        let xs = (0..<dw).map { ((2 * $0 + 1) * width) / (2 * dw) }
        var out = [UInt8](repeating: 0, count: dw * dh)
        let sw = width, sh = height
        pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for y in 0..<dh {
                    let row = src.baseAddress! + (((2 * y + 1) * sh) / (2 * dh)) * sw
                    let o = dst.baseAddress! + y * dw
                    for x in 0..<dw { o[x] = row[xs[x]] }
                }
            }
        }
        return GrayImage(width: dw, height: dh, pixels: out)
    }

    @inline(__always) func mapPixels(_ f: (UInt8) -> UInt8) -> GrayImage {
        var out = pixels
        out.withUnsafeMutableBufferPointer { p in
            for i in p.indices { p[i] = f(p[i]) }
        }
        return GrayImage(width: width, height: height, pixels: out)
    }
}

// MARK: - Morphology

extension GrayImage {
    /// Dilation (local maximum) with a `size`×`size` square, anchored like OpenCV
    /// (`cv2.dilate(img, np.ones((k, k)))`): output (x, y) is the maximum over columns
    /// x−k/2 ... x−k/2+k−1 and the same rows, so even sizes reach one pixel further up/left.
    /// Pixels outside the image count as 0. Separable van Herk / Gil–Werman: three comparisons per
    /// pixel and pass whatever `size` is.
    public func dilated(size: Int) -> GrayImage { morphology(size: size, isMax: true) }

    /// Erosion (local minimum) with the same window as ``dilated(size:)``; pixels outside the image
    /// count as 255 (OpenCV's default border for erosion), so foreground touching the border stays.
    public func eroded(size: Int) -> GrayImage { morphology(size: size, isMax: false) }

    /// Closing: dilation then erosion (`cv2.morphologyEx(MORPH_CLOSE)`); fills gaps narrower than
    /// `size` between tissue fragments.
    public func closed(size: Int) -> GrayImage { dilated(size: size).eroded(size: size) }

    /// Opening: erosion then dilation (`cv2.morphologyEx(MORPH_OPEN)`); removes specks smaller than `size`.
    public func opened(size: Int) -> GrayImage { eroded(size: size).dilated(size: size) }

    private func morphology(size k: Int, isMax: Bool) -> GrayImage {
        precondition(k >= 1, "morphology: size must be ≥ 1, got \(k)")
        if k == 1 || width == 0 || height == 0 { return self }
        let w = width, h = height, a = k / 2
        let pad: UInt8 = isMax ? 0 : 255
        var tmp = [UInt8](repeating: 0, count: w * h)
        var out = [UInt8](repeating: 0, count: w * h)
        // Horizontal pass, row bands in parallel.
        pixels.withUnsafeBufferPointer { srcB in
            tmp.withUnsafeMutableBufferPointer { tmpB in
                let src = srcB.baseAddress!, dst = tmpB.baseAddress!
                parallelBands(count: h, workPerItem: w * 3) { rows in
                    let m = ((w + k - 1 + k - 1) / k) * k
                    let buf = UnsafeMutablePointer<UInt8>.allocate(capacity: 3 * m)
                    defer { buf.deallocate() }
                    let e = buf, g = buf + m, hh = buf + 2 * m
                    for y in rows {
                        let row = src + y * w
                        for j in 0..<m {
                            let sx = j - a
                            e[j] = (sx >= 0 && sx < w) ? row[sx] : pad
                        }
                        vhgwLine(e, g, hh, count: m, k: k, isMax: isMax)
                        let o = dst + y * w
                        if isMax {
                            for i in 0..<w { o[i] = Swift.max(hh[i], g[i + k - 1]) }
                        } else {
                            for i in 0..<w { o[i] = Swift.min(hh[i], g[i + k - 1]) }
                        }
                    }
                }
            }
        }
        // Vertical pass on column strips: the running max/min is taken over whole row segments, so
        // the inner loops run along memory.
        tmp.withUnsafeBufferPointer { srcB in
            out.withUnsafeMutableBufferPointer { dstB in
                let src = srcB.baseAddress!, dst = dstB.baseAddress!
                let stripWidth = 256
                let strips = (w + stripWidth - 1) / stripWidth
                let m = ((h + k - 1 + k - 1) / k) * k
                parallelBands(count: strips, workPerItem: stripWidth * h * 3) { stripRange in
                    let g = UnsafeMutablePointer<UInt8>.allocate(capacity: m * stripWidth)
                    let hh = UnsafeMutablePointer<UInt8>.allocate(capacity: m * stripWidth)
                    defer { g.deallocate(); hh.deallocate() }
                    for s in stripRange {
                        let x0 = s * stripWidth, sw = Swift.min(stripWidth, w - x0)
                        @inline(__always) func eRow(_ j: Int) -> UnsafePointer<UInt8>? {
                            let sy = j - a
                            return (sy >= 0 && sy < h) ? src + sy * w + x0 : nil
                        }
                        // g: running op from the start of each block of k rows; hh: from its end.
                        for j in 0..<m {
                            let gr = g + j * stripWidth
                            if let e = eRow(j) {
                                if j % k == 0 {
                                    for x in 0..<sw { gr[x] = e[x] }
                                } else {
                                    let prev = gr - stripWidth
                                    if isMax { for x in 0..<sw { gr[x] = Swift.max(prev[x], e[x]) } }
                                    else { for x in 0..<sw { gr[x] = Swift.min(prev[x], e[x]) } }
                                }
                            } else if j % k == 0 {
                                for x in 0..<sw { gr[x] = pad }
                            } else {
                                let prev = gr - stripWidth
                                for x in 0..<sw { gr[x] = prev[x] } // pad is the identity of op
                            }
                        }
                        var j = m - 1
                        while j >= 0 {
                            let hr = hh + j * stripWidth
                            if let e = eRow(j) {
                                if j % k == k - 1 {
                                    for x in 0..<sw { hr[x] = e[x] }
                                } else {
                                    let next = hr + stripWidth
                                    if isMax { for x in 0..<sw { hr[x] = Swift.max(next[x], e[x]) } }
                                    else { for x in 0..<sw { hr[x] = Swift.min(next[x], e[x]) } }
                                }
                            } else if j % k == k - 1 {
                                for x in 0..<sw { hr[x] = pad }
                            } else {
                                let next = hr + stripWidth
                                for x in 0..<sw { hr[x] = next[x] }
                            }
                            j -= 1
                        }
                        for y in 0..<h {
                            let o = dst + y * w + x0
                            let hr = hh + y * stripWidth, gr = g + (y + k - 1) * stripWidth
                            if isMax { for x in 0..<sw { o[x] = Swift.max(hr[x], gr[x]) } }
                            else { for x in 0..<sw { o[x] = Swift.min(hr[x], gr[x]) } }
                        }
                    }
                }
            }
        }
        return GrayImage(width: w, height: h, pixels: out)
    }
}

/// van Herk / Gil–Werman running max/min over blocks of k: `g` accumulates from each block start,
/// `hh` from each block end; the window [i, i+k) is then op(hh[i], g[i+k−1]). `count` is a multiple of k.
@inline(__always)
private func vhgwLine(_ e: UnsafeMutablePointer<UInt8>, _ g: UnsafeMutablePointer<UInt8>,
                      _ hh: UnsafeMutablePointer<UInt8>, count m: Int, k: Int, isMax: Bool) {
    var b = 0
    while b < m {
        g[b] = e[b]
        hh[b + k - 1] = e[b + k - 1]
        if isMax {
            for j in (b + 1)..<(b + k) { g[j] = Swift.max(g[j - 1], e[j]) }
            var j = b + k - 2
            while j >= b { hh[j] = Swift.max(hh[j + 1], e[j]); j -= 1 }
        } else {
            for j in (b + 1)..<(b + k) { g[j] = Swift.min(g[j - 1], e[j]) }
            var j = b + k - 2
            while j >= b { hh[j] = Swift.min(hh[j + 1], e[j]); j -= 1 }
        }
        b += k
    }
}

// MARK: - Area resize

extension RGBImage {
    /// Area-average resize: every output pixel is the mean of the source area it covers, with
    /// fractional source pixels weighted by their overlap (a box filter of exactly the output pixel's
    /// footprint, applied separably). For downscaling by any factor this is what `cv2.INTER_AREA`
    /// computes (equal to it within ±1 from rounding); it neither aliases nor blurs beyond the
    /// footprint, which is what thumbnails of stained tissue need. Upscaling uses the same definition
    /// (footprints smaller than a source pixel, so mostly pixel replication) and is not meant to
    /// match OpenCV's bilinear-like INTER_AREA upscale.
    public func resizedArea(width dw: Int, height dh: Int) -> RGBImage {
        precondition(dw >= 0 && dh >= 0, "resizedArea: negative size \(dw)x\(dh)")
        if dw == 0 || dh == 0 { return RGBImage(width: dw, height: dh, pixels: []) }
        precondition(width > 0 && height > 0, "resizedArea: cannot resize an empty image to \(dw)x\(dh)")
        if dw == width && dh == height { return self }
        let sw = width, sh = height
        let xw = AreaWeights(source: sw, destination: dw)
        let yw = AreaWeights(source: sh, destination: dh)
        // Streamed per output row: each source row in the row's footprint is resampled horizontally
        // into a small buffer and added with its vertical weight, so memory stays O(dw) per thread
        // however large the source is (a source row on a footprint boundary is resampled twice).
        var out = [UInt8](repeating: 0, count: dw * dh * 3)
        pixels.withUnsafeBufferPointer { srcB in
        out.withUnsafeMutableBufferPointer { outB in
            let src = srcB.baseAddress!, o = outB.baseAddress!
            let n = dw * 3
            parallelBands(count: dh, workPerItem: max(1, sh / dh) * sw * 3) { rows in
                let acc = UnsafeMutablePointer<Float>.allocate(capacity: n)
                let line = UnsafeMutablePointer<Float>.allocate(capacity: n)
                defer { acc.deallocate(); line.deallocate() }
                areaResampleRows(src, sw * 3, sw, sh, o, n, dw, dh, xw, yw, rows: rows, acc: acc, line: line)
            }
        }}
        return RGBImage(width: dw, height: dh, pixels: out)
    }
}

/// Per-output-pixel source indices and overlap weights (normalised to sum to 1) along one axis.
struct AreaWeights {
    var start: [Int] = [0] // output i uses entries start[i]..<start[i+1]
    var index: [Int32] = []
    var weight: [Float] = []

    init(source n: Int, destination m: Int) {
        let scale = Double(n) / Double(m)
        for i in 0..<m {
            let a = Double(i) * scale, b = i == m - 1 ? Double(n) : Double(i + 1) * scale
            var s = Int(a.rounded(.down))
            while s < n && Double(s) < b {
                let overlap = Swift.min(Double(s + 1), b) - Swift.max(Double(s), a)
                if overlap > 1e-12 {
                    index.append(Int32(s)); weight.append(Float(overlap / (b - a)))
                }
                s += 1
            }
            start.append(index.count)
        }
    }
}
