import Foundation
import ImageCore

/// Patch scores painted onto a raster: each pixel holds the mean of the (normalised)
/// scores of every patch covering it, NaN where none does — so a 50 %-overlap grid
/// shows the average of the four patches over each quarter, as CLAM's heatmaps do.
///
/// Geometry: raster pixel (i, j) covers level-0 [ox + i·cw, ox + (i+1)·cw) ×
/// [oy + j·ch, oy + (j+1)·ch). A patch covers the pixels whose CENTRE lies inside its
/// level-0 square, so abutting patches tile the raster with no gap or double count; a
/// patch smaller than a pixel still covers the pixel holding its centre.
public struct ScoreMap: Sendable, Equatable {
    public let width: Int, height: Int
    /// Level-0 position of the raster's top-left corner.
    public let originX: Double, originY: Double
    /// Level-0 size of one raster pixel.
    public let cellWidth: Double, cellHeight: Double
    /// `width × height` values, row-major; NaN = no patch (or masked out).
    public var values: [Float]

    public init(width: Int, height: Int, originX: Double = 0, originY: Double = 0,
                cellWidth: Double, cellHeight: Double, values: [Float]) {
        precondition(values.count == width * height, "ScoreMap: \(values.count) values for \(width)x\(height)")
        precondition(cellWidth > 0 && cellHeight > 0, "ScoreMap: cells must have a positive size")
        self.width = width; self.height = height; self.originX = originX; self.originY = originY
        self.cellWidth = cellWidth; self.cellHeight = cellHeight; self.values = values
    }

    /// Accumulates `values[k]` (normalised, 0–1; NaN skips the patch) over patch k's
    /// footprint: sum and count per pixel, then their ratio.
    public init(patches: PatchSet, values: [Double], width: Int, height: Int,
                cellWidth: Double, cellHeight: Double, originX: Double = 0, originY: Double = 0) {
        precondition(values.count == patches.count, "ScoreMap: \(values.count) scores for \(patches.count) patches")
        precondition(width >= 0 && height >= 0)
        var sum = [Double](repeating: 0, count: width * height)
        var count = [UInt32](repeating: 0, count: width * height)
        let s = patches.patchSizeLevel0
        sum.withUnsafeMutableBufferPointer { sB in
            count.withUnsafeMutableBufferPointer { cB in
                for k in 0..<patches.count {
                    let v = values[k]
                    if v.isNaN { continue }
                    let x = Double(patches.coords[2 * k]), y = Double(patches.coords[2 * k + 1])
                    let (i0, i1) = ScoreMap.span(x, s, origin: originX, cell: cellWidth, limit: width)
                    let (j0, j1) = ScoreMap.span(y, s, origin: originY, cell: cellHeight, limit: height)
                    if i0 >= i1 || j0 >= j1 { continue }
                    for j in j0..<j1 {
                        let row = j * width
                        for i in i0..<i1 { sB[row + i] += v; cB[row + i] += 1 }
                    }
                }
            }
        }
        var out = [Float](repeating: .nan, count: width * height)
        for p in 0..<out.count where count[p] > 0 { out[p] = Float(sum[p] / Double(count[p])) }
        self.init(width: width, height: height, originX: originX, originY: originY,
                  cellWidth: cellWidth, cellHeight: cellHeight, values: out)
    }

    /// Raster pixels [lo, hi) along one axis whose centres lie in [a, a + size), clipped to
    /// [0, limit); the pixel holding the patch centre when no centre falls inside.
    static func span(_ a: Double, _ size: Double, origin: Double, cell: Double, limit: Int) -> (Int, Int) {
        var lo = Int(((a - origin) / cell - 0.5).rounded(.up))
        var hi = Int(((a + size - origin) / cell - 0.5).rounded(.up))
        if hi <= lo {
            lo = Int(((a + size / 2 - origin) / cell).rounded(.down)); hi = lo + 1
        }
        return (max(0, lo), min(limit, hi))
    }

    /// A raster covering the whole slide at `downsample` (level-0 px per pixel), the size
    /// of `Slide.downsampledImage(downsample:)`: round(W / d) × round(H / d).
    public init(patches: PatchSet, values: [Double], slideWidth: Int, slideHeight: Int, downsample d: Double) {
        self.init(patches: patches, values: values,
                  width: max(1, Int((Double(slideWidth) / d).rounded())), height: max(1, Int((Double(slideHeight) / d).rounded())),
                  cellWidth: d, cellHeight: d)
    }

    /// The compact grid the full-resolution overlay samples: one cell per grid step.
    /// When every corner lies on one lattice of that step and the patch side is a whole
    /// number of steps, the cells sit on the lattice and each holds exactly the
    /// overlap average the full-resolution map has there; otherwise (patches of several
    /// grids, as CLAM's per-contour grids) the cells are a quarter step, so patch edges are
    /// placed to within an eighth of a step.
    public static func compact(patches: PatchSet, values: [Double], slideWidth: Int, slideHeight: Int) -> ScoreMap {
        let step = patches.stepLevel0
        let whole = (patches.patchSizeLevel0 / step).rounded()
        var ox = 0.0, oy = 0.0, cell = max(1, (step / 4).rounded())
        if step >= 1, step == step.rounded(), abs(patches.patchSizeLevel0 - whole * step) < 1e-9, patches.count > 0 {
            let st = Int64(step)
            func mod(_ v: Int64) -> Int64 { ((v % st) + st) % st }
            let rx = mod(patches.coords[0]), ry = mod(patches.coords[1])
            var onLattice = true
            for k in 0..<patches.count where mod(patches.coords[2 * k]) != rx || mod(patches.coords[2 * k + 1]) != ry {
                onLattice = false; break
            }
            if onLattice { ox = Double(rx) - (rx > 0 ? step : 0); oy = Double(ry) - (ry > 0 ? step : 0); cell = step }
        }
        let w = max(1, Int(((Double(slideWidth) - ox) / cell).rounded(.up)))
        let h = max(1, Int(((Double(slideHeight) - oy) / cell).rounded(.up)))
        return ScoreMap(patches: patches, values: values, width: w, height: h, cellWidth: cell, cellHeight: cell,
                        originX: ox, originY: oy)
    }

    // MARK: masking

    /// NaN wherever the tissue mask is 0 at the pixel's centre. `mask` covers the whole
    /// slide (`slideWidth` × `slideHeight` level-0 px, e.g. `masks/<id>.png` from `tile`)
    /// at any size; it is sampled at the nearest mask pixel.
    public func masked(by mask: GrayImage, slideWidth: Int, slideHeight: Int) -> ScoreMap {
        let mx = MaskSampler(mask: mask, slideWidth: slideWidth, slideHeight: slideHeight)
        let cols = (0..<width).map { mx.column(level0X: originX + (Double($0) + 0.5) * cellWidth) }
        var out = values
        mask.pixels.withUnsafeBufferPointer { m in
            for j in 0..<height {
                let row = mx.row(level0Y: originY + (Double(j) + 0.5) * cellHeight) * mask.width
                for i in 0..<width where m[row + cols[i]] == 0 { out[j * width + i] = .nan }
            }
        }
        var r = self
        r.values = out
        return r
    }

    // MARK: rendering

    /// The colormapped scores blended over `background` (same size): where a value is
    /// present, out = (a·c + (255 − a)·bg + 127) / 255 per channel in integers, with
    /// a = round(alpha · 255) and c the colormap's colour; elsewhere the background as it is.
    public func render(over background: RGBImage, colormap: Colormap, alpha: Double) -> RGBImage {
        precondition(background.width == width && background.height == height,
                     "ScoreMap.render: background is \(background.width)x\(background.height), map is \(width)x\(height)")
        let blend = Blend(colormap: colormap, alpha: alpha)
        var out = background
        let back = blend.back
        out.pixels.withUnsafeMutableBufferPointer { p in
            values.withUnsafeBufferPointer { v in
                blend.front.withUnsafeBufferPointer { f in
                    let pp = p.baseAddress!, vp = v.baseAddress!, fp = f.baseAddress!
                    parallelBands(count: height, workPerItem: width * 4) { rows in
                        for j in rows {
                            for i in 0..<width {
                                let k = j * width + i
                                if let e = Colormap.index(vp[k]) { Blend.apply(fp, back, entry: e, to: pp + 3 * k) }
                            }
                        }
                    }
                }
            }
        }
        return out
    }
}

/// Integer alpha blending of colormap entries over pixels (see `ScoreMap.render`).
struct Blend {
    /// a·c + 127 for every entry and channel (768 values).
    let front: [UInt32]
    let back: UInt32

    init(colormap: Colormap, alpha: Double) {
        let a = UInt32((min(1, max(0, alpha.isNaN ? 0 : alpha)) * 255).rounded())
        back = 255 - a
        front = colormap.table.map { a * UInt32($0) + 127 }
    }

    /// Blends entry `e` (of `front`) over the pixel at `p`.
    @inline(__always) static func apply(_ front: UnsafePointer<UInt32>, _ back: UInt32, entry e: Int, to p: UnsafeMutablePointer<UInt8>) {
        p[0] = UInt8(truncatingIfNeeded: (front[3 * e] &+ back &* UInt32(p[0])) / 255)
        p[1] = UInt8(truncatingIfNeeded: (front[3 * e + 1] &+ back &* UInt32(p[1])) / 255)
        p[2] = UInt8(truncatingIfNeeded: (front[3 * e + 2] &+ back &* UInt32(p[2])) / 255)
    }
}

/// Nearest-pixel lookup of a whole-slide mask from level-0 positions.
struct MaskSampler {
    let width: Int, height: Int
    let sx: Double, sy: Double

    init(mask: GrayImage, slideWidth: Int, slideHeight: Int) {
        width = mask.width; height = mask.height
        sx = Double(mask.width) / Double(max(1, slideWidth))
        sy = Double(mask.height) / Double(max(1, slideHeight))
    }

    func column(level0X x: Double) -> Int { min(width - 1, max(0, Int((x * sx).rounded(.down)))) }
    func row(level0Y y: Double) -> Int { min(height - 1, max(0, Int((y * sy).rounded(.down)))) }
}
