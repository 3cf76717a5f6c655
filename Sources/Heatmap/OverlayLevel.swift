import Foundation
import ImageCore
import SlideIO

/// Which compact-grid cells hold a score, as a summed-area table, so "does this tile take
/// any colour?" is four lookups.
final class ValidCells: @unchecked Sendable {
    let width: Int, height: Int
    private let table: [Int32] // (width + 1) × (height + 1)

    init(_ map: ScoreMap) {
        width = map.width; height = map.height
        var t = [Int32](repeating: 0, count: (width + 1) * (height + 1))
        for j in 0..<height {
            var run: Int32 = 0
            for i in 0..<width {
                if !map.values[j * width + i].isNaN { run += 1 }
                t[(j + 1) * (width + 1) + i + 1] = t[j * (width + 1) + i + 1] + run
            }
        }
        table = t
    }

    /// Any score in cells [i0, i1] × [j0, j1] (inclusive, clipped).
    func any(_ i0: Int, _ i1: Int, _ j0: Int, _ j1: Int) -> Bool {
        let a = max(0, i0), b = min(width - 1, i1), c = max(0, j0), d = min(height - 1, j1)
        guard a <= b, c <= d else { return false }
        let w = width + 1
        return table[(d + 1) * w + b + 1] - table[c * w + b + 1] - table[(d + 1) * w + a] + table[c * w + a] > 0
    }
}

/// One output level: its geometry, where its pixels come from and how scores map onto it.
struct LevelPlan: @unchecked Sendable {
    let level: Int
    let width: Int, height: Int
    let tileSize: Int
    let subsampling: JPEGCodec.Subsampling
    /// Photometric RGB (the slide's own coding of this level).
    let rgb: Bool
    let source: SourceTiles.Level?
    /// OpenSlide's downsample (level → level-0 origin) and the per-axis size ratios
    /// (level pixel centres → level-0 positions).
    let downsample: Double
    let ratioX: Double, ratioY: Double
    let sampling: HeatmapOverlayWriter.Sampling
    let valid: ValidCells
    let grid: (ox: Double, oy: Double, cw: Double, ch: Double, w: Int, h: Int)

    init(slide: Slide, level: Int, source: SourceTiles.Level?, scores: ScoreMap, valid: ValidCells,
         sampling: HeatmapOverlayWriter.Sampling) {
        let lv = slide.levels[level]
        self.level = level
        width = lv.width; height = lv.height
        self.source = source
        tileSize = source?.tileSize ?? 256
        downsample = lv.downsample
        subsampling = source?.subsampling ?? (lv.downsample >= 16 ? .s444 : .s420)
        rgb = source?.rgb ?? false
        ratioX = Double(slide.width) / Double(lv.width)
        ratioY = Double(slide.height) / Double(lv.height)
        self.sampling = sampling
        self.valid = valid
        grid = (scores.originX, scores.originY, scores.cellWidth, scores.cellHeight, scores.width, scores.height)
    }

    /// Cell holding level-0 position `p` along an axis.
    @inline(__always) private func cell(_ p: Double, _ origin: Double, _ size: Double) -> Int {
        Int(((p - origin) / size).rounded(.down))
    }

    /// Whether any pixel of tile (col, row) has a score in its own cell.
    func touched(col: Int, row: Int) -> Bool {
        let x0 = col * tileSize, x1 = min(width, x0 + tileSize)
        let y0 = row * tileSize, y1 = min(height, y0 + tileSize)
        let i0 = cell((Double(x0) + 0.5) * ratioX, grid.ox, grid.cw), i1 = cell((Double(x1) - 0.5) * ratioX, grid.ox, grid.cw)
        let j0 = cell((Double(y0) + 0.5) * ratioY, grid.oy, grid.ch), j1 = cell((Double(y1) - 0.5) * ratioY, grid.oy, grid.ch)
        return valid.any(i0, i1, j0, j1)
    }

    /// The level's pixels of tile (col, row) through OpenSlide, into a tileSize² RGB buffer
    /// (outside the level: white).
    func readThroughOpenSlide(_ slide: Slide, col: Int, row: Int, into tile: UnsafeMutablePointer<UInt8>) throws {
        let ts = tileSize
        let x0 = col * ts, y0 = row * ts
        let w = min(ts, width - x0), h = min(ts, height - y0)
        let img = try slide.readRegion(x: Int((Double(x0) * downsample).rounded()), y: Int((Double(y0) * downsample).rounded()),
                                       level: level, width: w, height: h)
        if w < ts || h < ts { tile.initialize(repeating: 255, count: ts * ts * 3) }
        img.pixels.withUnsafeBufferPointer { src in
            for y in 0..<h { (tile + y * ts * 3).update(from: src.baseAddress! + y * w * 3, count: w * 3) }
        }
    }

    /// Blends the scores over tile (col, row), whose pixels are in `tile` (tileSize², RGB).
    /// `mask` / `maskPixels` sample the whole-slide tissue mask, when there is one.
    func blend(col: Int, row: Int, tile: UnsafeMutablePointer<UInt8>, scores: UnsafePointer<Float>,
               front: UnsafePointer<UInt32>, phases: UnsafePointer<SIMD16<UInt16>>, back: UInt32,
               mask: MaskSampler?, maskPixels: UnsafePointer<UInt8>?) {
        let ts = tileSize
        let x0 = col * ts, y0 = row * ts
        let tw = min(ts, width - x0), th = min(ts, height - y0)
        let gw = grid.w, gh = grid.h
        // Per column: the nearest cell, the two bilinear cells, the weight of the second,
        // and the mask column.
        let near = UnsafeMutablePointer<Int>.allocate(capacity: tw), ia = UnsafeMutablePointer<Int>.allocate(capacity: tw)
        let ib = UnsafeMutablePointer<Int>.allocate(capacity: tw), mcol = UnsafeMutablePointer<Int>.allocate(capacity: tw)
        let fx = UnsafeMutablePointer<Float>.allocate(capacity: tw)
        defer { near.deallocate(); ia.deallocate(); ib.deallocate(); mcol.deallocate(); fx.deallocate() }
        for x in 0..<tw {
            let p = (Double(x0 + x) + 0.5) * ratioX
            let u = (p - grid.ox) / grid.cw
            let n = Int(u.rounded(.down))
            near[x] = n >= 0 && n < gw ? n : -1
            let i = Int((u - 0.5).rounded(.down))
            ia[x] = i >= 0 && i < gw ? i : -1
            ib[x] = i + 1 >= 0 && i + 1 < gw ? i + 1 : -1
            fx[x] = Float(u - 0.5 - Double(i))
            mcol[x] = mask?.column(level0X: p) ?? 0
        }
        let bilinear = sampling == .bilinear
        // Bilinear: the cells the tile's columns interpolate between, and per-row scratch.
        let spanLo = max(0, (0..<tw).map { ia[$0] >= 0 ? ia[$0] : ib[$0] }.filter { $0 >= 0 }.min() ?? 0)
        let spanHi = max(spanLo, (0..<tw).map { max(ia[$0], ib[$0]) }.max() ?? spanLo)
        let spanCount = bilinear ? spanHi - spanLo + 1 : 0
        let num = UnsafeMutablePointer<Float>.allocate(capacity: max(1, spanCount))
        let den = UnsafeMutablePointer<Float>.allocate(capacity: max(1, spanCount))
        let entry = UnsafeMutablePointer<Int16>.allocate(capacity: tw)
        defer { num.deallocate(); den.deallocate(); entry.deallocate() }
        // Columns that share a cell and a mask column share a colour in every row.
        var segments: [(start: Int, end: Int)] = []
        var x = 0
        while x < tw {
            var end = x + 1
            while end < tw && near[end] == near[x] && mcol[end] == mcol[x] { end += 1 }
            segments.append((x, end))
            x = end
        }
        for y in 0..<th {
            let p = (Double(y0 + y) + 0.5) * ratioY
            let u = (p - grid.oy) / grid.ch
            let n = Int(u.rounded(.down))
            if n < 0 || n >= gh { continue }
            let cells = scores + n * gw
            let mrow: UnsafePointer<UInt8>? = maskPixels.map { $0 + mask!.row(level0Y: p) * mask!.width }
            let out = tile + y * ts * 3
            if !bilinear {
                for g in segments {
                    let c = near[g.start]
                    guard c >= 0, let e = Colormap.index(cells[c]) else { continue }
                    if let mrow, mrow[mcol[g.start]] == 0 { continue }
                    Blend.run(out + 3 * g.start, count: g.end - g.start, phase: phases + 3 * e, f0: front[3 * e], f1: front[3 * e + 1], f2: front[3 * e + 2], back: back)
                }
                continue
            }
            let j = Int((u - 0.5).rounded(.down))
            let fy = Float(u - 0.5 - Double(j))
            let ra: UnsafePointer<Float>? = j >= 0 && j < gh ? scores + j * gw : nil
            let rb: UnsafePointer<Float>? = j + 1 >= 0 && j + 1 < gh ? scores + (j + 1) * gw : nil
            // Vertical step once per cell: weighted sum and weight of the present cells.
            for i in 0..<spanCount {
                var acc: Float = 0, wsum: Float = 0
                if let ra, 1 - fy > 0 { let q = ra[spanLo + i]; if !q.isNaN { acc += (1 - fy) * q; wsum += 1 - fy } }
                if let rb, fy > 0 { let q = rb[spanLo + i]; if !q.isNaN { acc += fy * q; wsum += fy } }
                num[i] = acc; den[i] = wsum
            }
            // Horizontal step per pixel, then runs of one colour are blended together.
            for x in 0..<tw {
                entry[x] = -1
                let c = near[x]
                if c < 0 || cells[c].isNaN { continue }
                if let mrow, mrow[mcol[x]] == 0 { continue }
                var acc: Float = 0, wsum: Float = 0
                let w1 = fx[x], w0 = 1 - w1
                if ia[x] >= 0 { acc += w0 * num[ia[x] - spanLo]; wsum += w0 * den[ia[x] - spanLo] }
                if ib[x] >= 0 { acc += w1 * num[ib[x] - spanLo]; wsum += w1 * den[ib[x] - spanLo] }
                entry[x] = Int16(Colormap.index(wsum > 0 ? acc / wsum : cells[c]) ?? -1)
            }
            var x = 0
            while x < tw {
                let e = Int(entry[x])
                var end = x + 1
                while end < tw && entry[end] == entry[x] { end += 1 }
                if e >= 0 {
                    Blend.run(out + 3 * x, count: end - x, phase: phases + 3 * e, f0: front[3 * e], f1: front[3 * e + 1], f2: front[3 * e + 2], back: back)
                }
                x = end
            }
        }
    }
}
