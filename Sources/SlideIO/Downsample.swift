import Foundation
import ImageCore

/// Exact box (area) averaging of a whole slide, read in bounded chunks.
///
/// Geometry: output pixel (i, j) is the average of level-0 area
/// [i·d, (i+1)·d) × [j·d, (j+1)·d), clipped to the slide. The output is
/// round(W0 / d) × round(H0 / d), so the last column/row is either a partial box
/// (averaged over the part inside the slide) or the slide's last < d/2 pixels are
/// dropped. For an integer `d` dividing the slide, this is numpy's
/// `a.reshape(h, d, w, d, 3).mean((1, 3))`.
///
/// The area is read from `bestLevel(forDownsample: d)`; level-0 boxes map to that level
/// with the level's per-axis size ratio (W0 / WL), and pixels cut by a box edge count
/// with the fraction inside, so reading level 0 or a pre-made level gives the same average
/// up to the level's own resampling.
///
/// Memory: output pixels are grouped into blocks whose source area is at most
/// `chunk × chunk` level pixels (default 2048², 16 MiB of ARGB); a box larger than that
/// is itself read in `chunk × chunk` pieces and accumulated. Blocks run in parallel
/// (one per core), so peak memory is the output image plus
/// cores × (chunk² × 4 bytes + the block's Double accumulators) — independent of the
/// slide's size.
struct AxisBoxes {
    let count: Int
    var start: [Int], end: [Int]
    var firstWeight: [Double], lastWeight: [Double], total: [Double]

    /// `count` boxes of `box` source pixels over a source axis of `sourceSize` pixels.
    init(count: Int, box: Double, sourceSize: Int) {
        self.count = count
        start = []; end = []; firstWeight = []; lastWeight = []; total = []
        start.reserveCapacity(count); end.reserveCapacity(count)
        let size = Double(sourceSize)
        func snap(_ v: Double) -> Double { let r = v.rounded(); return abs(v - r) < 1e-9 ? r : v }
        for o in 0..<count {
            var a = min(snap(Double(o) * box), size)
            let b = min(snap(Double(o + 1) * box), size)
            if b - a < 1e-12 { a = max(0, b - min(box, 1)) } // never an empty box
            let s = Int(a.rounded(.down)), e = min(sourceSize, Int(b.rounded(.up)))
            start.append(s); end.append(e)
            if e - s == 1 {
                firstWeight.append(b - a); lastWeight.append(b - a)
            } else {
                firstWeight.append(Double(s + 1) - a); lastWeight.append(b - Double(e - 1))
            }
            total.append(b - a)
        }
    }

    @inline(__always) func weight(_ o: Int, _ s: Int) -> Double {
        s == start[o] ? firstWeight[o] : (s == end[o] - 1 ? lastWeight[o] : 1)
    }
}

/// What one `downsampledImage` call did, for tests and logs.
struct DownsampleStats {
    var level = 0
    var reads = 0
    var maxReadPixels = 0
}

extension Slide {
    /// Default chunk side in level pixels for `downsampledImage`.
    static let downsampleChunk = 2048
    /// Largest output `downsampledImage` will build (pixels).
    static let maxDownsampledPixels = 400_000_000

    /// The whole slide at approximately `downsample` (relative to level 0): reads the best
    /// level in bounded chunks and area-averages each chunk down, so memory is bounded by
    /// the OUTPUT size, never by the slide. Output pixel (i, j) covers level-0
    /// [i·downsampleX, (i+1)·downsampleX) × [j·downsampleY, (j+1)·downsampleY) clipped to the
    /// slide; the output is round(width / d) × round(height / d). The returned per-axis
    /// downsamples are those box sizes (both equal to `downsample`), i.e. the exact factor
    /// to map output pixels back to level 0.
    public func downsampledImage(downsample: Double) throws -> (image: RGBImage, downsampleX: Double, downsampleY: Double) {
        let r = try downsampled(downsample: downsample, level: nil, chunk: Slide.downsampleChunk)
        return (r.image, r.downsampleX, r.downsampleY)
    }

    /// `downsampledImage` with the level and chunk size under control (tests).
    func downsampled(downsample d: Double, level forcedLevel: Int?, chunk: Int)
        throws -> (image: RGBImage, downsampleX: Double, downsampleY: Double, stats: DownsampleStats) {
        try checkUsable()
        guard d.isFinite, d >= 1 else {
            throw SlideError(kind: .invalidRequest, path: path, reason: "downsample \(d) must be a finite number ≥ 1",
                             hint: "use readRegion for full-resolution pixels")
        }
        let outW = max(1, Int((Double(width) / d).rounded()))
        let outH = max(1, Int((Double(height) / d).rounded()))
        guard outW * outH <= Slide.maxDownsampledPixels else {
            throw SlideError(kind: .invalidRequest, path: path,
                             reason: "downsample \(d) gives a \(outW)x\(outH) image, more than \(Slide.maxDownsampledPixels) px",
                             hint: "use a larger downsample, or read regions with readRegion")
        }
        let level = forcedLevel ?? bestLevel(forDownsample: d)
        guard levels.indices.contains(level), chunk >= 16 else {
            throw SlideError(kind: .invalidRequest, path: path, reason: "level \(level) / chunk \(chunk) out of range", hint: "")
        }
        let lv = levels[level]
        // Level-0 box → this level's pixels, per axis.
        let boxX = d * Double(lv.width) / Double(width)
        let boxY = d * Double(lv.height) / Double(height)
        let xs = AxisBoxes(count: outW, box: boxX, sourceSize: lv.width)
        let ys = AxisBoxes(count: outH, box: boxY, sourceSize: lv.height)

        // Blocks of output pixels whose source span fits in one chunk (2 px of slack for
        // boxes cut mid-pixel at both ends).
        let colsPerBlock = max(1, Int((Double(chunk) - 2) / boxX))
        let rowsPerBlock = max(1, Int((Double(chunk) - 2) / boxY))
        var blocks: [(x0: Int, x1: Int, y0: Int, y1: Int)] = []
        var by = 0
        while by < outH {
            var bx = 0
            while bx < outW {
                blocks.append((bx, min(outW, bx + colsPerBlock), by, min(outH, by + rowsPerBlock)))
                bx += colsPerBlock
            }
            by += rowsPerBlock
        }

        var out = [UInt8](repeating: 255, count: outW * outH * 3)
        let statsLock = NSLock()
        var stats = DownsampleStats(level: level)
        // A level that fits in one chunk is read whole, with the fast whole-level reader;
        // memory stays within the same chunk × chunk bound.
        let whole: RGBImage? = lv.width <= chunk && lv.height <= chunk ? try readLevel(level) : nil
        if whole != nil {
            stats.reads = 1
            stats.maxReadPixels = lv.width * lv.height
        }
        var firstError: Error?
        let ds = lv.downsample
        out.withUnsafeMutableBufferPointer { outBuf in
            let outBase = outBuf.baseAddress!
            DispatchQueue.concurrentPerform(iterations: blocks.count) { bi in
                statsLock.lock(); let stop = firstError != nil; statsLock.unlock()
                if stop { return }
                let blk = blocks[bi]
                let bw = blk.x1 - blk.x0, bh = blk.y1 - blk.y0
                var acc = [Double](repeating: 0, count: bw * bh * 3)
                let sx0 = xs.start[blk.x0], sx1 = xs.end[blk.x1 - 1]
                let sy0 = ys.start[blk.y0], sy1 = ys.end[blk.y1 - 1]
                do {
                    if let whole {
                        Slide.accumulate(whole, originX: 0, originY: 0, xs: xs, ys: ys,
                                         block: (blk.x0, blk.x1, blk.y0, blk.y1), into: &acc)
                    }
                    var cy = whole == nil ? sy0 : sy1
                    while cy < sy1 {
                        let cy1 = min(sy1, cy + chunk)
                        var cx = sx0
                        while cx < sx1 {
                            let cx1 = min(sx1, cx + chunk)
                            // Level coordinates → level-0 origin as OpenSlide maps it (x0 / ds).
                            let img = try readRegion(x: Int((Double(cx) * ds).rounded()), y: Int((Double(cy) * ds).rounded()),
                                                     level: level, width: cx1 - cx, height: cy1 - cy)
                            statsLock.lock()
                            stats.reads += 1
                            stats.maxReadPixels = max(stats.maxReadPixels, img.width * img.height)
                            statsLock.unlock()
                            Slide.accumulate(img, originX: cx, originY: cy, xs: xs, ys: ys,
                                             block: (blk.x0, blk.x1, blk.y0, blk.y1), into: &acc)
                            cx = cx1
                        }
                        cy = cy1
                    }
                    acc.withUnsafeBufferPointer { a in
                        for oy in blk.y0..<blk.y1 {
                            let ty = ys.total[oy]
                            for ox in blk.x0..<blk.x1 {
                                let norm = 1 / (ty * xs.total[ox])
                                let ai = ((oy - blk.y0) * bw + (ox - blk.x0)) * 3
                                let oi = (oy * outW + ox) * 3
                                for c in 0..<3 {
                                    outBase[oi + c] = UInt8(max(0, min(255, (a[ai + c] * norm).rounded())))
                                }
                            }
                        }
                    }
                } catch {
                    statsLock.lock(); if firstError == nil { firstError = error }; statsLock.unlock()
                }
            }
        }
        if let firstError { throw firstError }
        return (RGBImage(width: outW, height: outH, pixels: out), d, d, stats)
    }

    /// Adds the weighted pixels of one chunk (level coordinates origin (originX, originY))
    /// into the block accumulator (bw × bh × 3 weighted sums).
    static func accumulate(_ img: RGBImage, originX: Int, originY: Int, xs: AxisBoxes, ys: AxisBoxes,
                           block: (x0: Int, x1: Int, y0: Int, y1: Int), into acc: inout [Double]) {
        let cw = img.width
        let cx1 = originX + img.width, cy1 = originY + img.height
        let bw = block.x1 - block.x0
        img.pixels.withUnsafeBufferPointer { px in
            acc.withUnsafeMutableBufferPointer { a in
                let p = px.baseAddress!
                for oy in block.y0..<block.y1 {
                    let ryStart = max(ys.start[oy], originY), ryEnd = min(ys.end[oy], cy1)
                    if ryStart >= ryEnd { continue }
                    for sy in ryStart..<ryEnd {
                        let wy = ys.weight(oy, sy)
                        let row = p + (sy - originY) * cw * 3
                        for ox in block.x0..<block.x1 {
                            let s = xs.start[ox], e = xs.end[ox]
                            let rs = max(s, originX), re = min(e, cx1)
                            if rs >= re { continue }
                            var r = 0.0, g = 0.0, b = 0.0
                            // Cut pixels at the box ends carry fractional weights; the interior
                            // is summed in integers.
                            var lo = rs, hi = re
                            if lo == s {
                                let w = xs.firstWeight[ox]; let q = row + (lo - originX) * 3
                                r += w * Double(q[0]); g += w * Double(q[1]); b += w * Double(q[2])
                                lo += 1
                            }
                            if hi == e && hi > lo {
                                let w = xs.lastWeight[ox]; let q = row + (hi - 1 - originX) * 3
                                r += w * Double(q[0]); g += w * Double(q[1]); b += w * Double(q[2])
                                hi -= 1
                            }
                            if lo < hi {
                                var ir: UInt64 = 0, ig: UInt64 = 0, ib: UInt64 = 0
                                var q = row + (lo - originX) * 3
                                for _ in lo..<hi {
                                    ir &+= UInt64(q[0]); ig &+= UInt64(q[1]); ib &+= UInt64(q[2])
                                    q += 3
                                }
                                r += Double(ir); g += Double(ig); b += Double(ib)
                            }
                            let ai = ((oy - block.y0) * bw + (ox - block.x0)) * 3
                            a[ai] += wy * r; a[ai + 1] += wy * g; a[ai + 2] += wy * b
                        }
                    }
                }
            }
        }
    }
}
