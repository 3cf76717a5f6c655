import Foundation

/// Simple raster drawing for previews (tissue outlines, patch grids, mask tints on thumbnails).
/// A point (x, y) is drawn on the pixel that contains it, (⌊x⌋, ⌊y⌋); everything is clipped to the image.
extension RGBImage {
    /// Draws a straight line (Bresenham) with a square pen of `thickness` pixels centred on it.
    public mutating func drawLine(from: Point, to: Point, color: (UInt8, UInt8, UInt8), thickness: Int = 1) {
        guard width > 0 && height > 0 && thickness >= 1 else { return }
        let t = thickness
        // Clip to the image grown by the pen size (Liang–Barsky) so far-away segments cost nothing.
        let margin = Double(t)
        guard let (p, q) = clipSegment(from, to, minX: -margin, minY: -margin,
                                       maxX: Double(width) + margin, maxY: Double(height) + margin) else { return }
        var x0 = Int(p.x.rounded(.down)), y0 = Int(p.y.rounded(.down))
        let x1 = Int(q.x.rounded(.down)), y1 = Int(q.y.rounded(.down))
        let dx = abs(x1 - x0), dy = -abs(y1 - y0)
        let sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1
        var err = dx + dy
        let lo = (t - 1) / 2
        while true {
            stamp(x: x0 - lo, y: y0 - lo, size: t, color: color)
            if x0 == x1 && y0 == y1 { break }
            let e2 = 2 * err
            if e2 >= dy { err += dy; x0 += sx }
            if e2 <= dx { err += dx; y0 += sy }
        }
    }

    /// Draws the closed outline of `ring` (last point joined to the first).
    public mutating func drawPolygon(_ ring: [Point], color: (UInt8, UInt8, UInt8), thickness: Int = 1) {
        guard ring.count >= 2 else {
            if let p = ring.first { drawLine(from: p, to: p, color: color, thickness: thickness) }
            return
        }
        var a = ring[ring.count - 1]
        for b in ring {
            drawLine(from: a, to: b, color: color, thickness: thickness)
            a = b
        }
    }

    /// Draws the border of `r`, `thickness` pixels wide, inside the rectangle (pixels of `r` within
    /// `thickness` of its edge); the interior is left as it is.
    public mutating func drawRect(_ r: PixelRect, color: (UInt8, UInt8, UInt8), thickness: Int = 1) {
        guard r.width > 0 && r.height > 0 && thickness >= 1 else { return }
        let t = Swift.min(thickness, (Swift.min(r.width, r.height) + 1) / 2)
        setRect(x: r.x, y: r.y, w: r.width, h: t, color: color)                 // top
        setRect(x: r.x, y: r.maxY - t, w: r.width, h: t, color: color)          // bottom
        setRect(x: r.x, y: r.y + t, w: t, h: r.height - 2 * t, color: color)    // left
        setRect(x: r.maxX - t, y: r.y + t, w: t, h: r.height - 2 * t, color: color) // right
    }

    /// Blends `color` over `r` with opacity `alpha` (0 = unchanged, 1 = solid):
    /// out = round((1 − alpha)·pixel + alpha·color).
    public mutating func fillRect(_ r: PixelRect, color: (UInt8, UInt8, UInt8), alpha: Double) {
        let x0 = Swift.max(0, r.x), y0 = Swift.max(0, r.y)
        let x1 = Swift.min(width, r.maxX), y1 = Swift.min(height, r.maxY)
        guard x0 < x1 && y0 < y1 else { return }
        let lut = blendTables(color, alpha)
        let w = width
        pixels.withUnsafeMutableBufferPointer { pB in
            lut.withUnsafeBufferPointer { lB in
                let p = pB.baseAddress!, l = lB.baseAddress!
                for y in y0..<y1 {
                    for x in x0..<x1 {
                        let i = 3 * (y * w + x)
                        p[i] = l[Int(p[i])]; p[i + 1] = l[256 + Int(p[i + 1])]; p[i + 2] = l[512 + Int(p[i + 2])]
                    }
                }
            }
        }
    }

    /// Tints the pixels where `mask` != 0 with `color` at opacity `alpha` (same blend as
    /// ``fillRect(_:color:alpha:)``), to preview a tissue mask over its thumbnail. `mask` must have the
    /// image's size (resize it with ``GrayImage/resizedNearest(width:height:)`` first).
    public mutating func overlay(mask: GrayImage, color: (UInt8, UInt8, UInt8), alpha: Double) {
        precondition(mask.width == width && mask.height == height,
                     "overlay: mask is \(mask.width)x\(mask.height) but the image is \(width)x\(height); resize the mask first")
        let lut = blendTables(color, alpha)
        pixels.withUnsafeMutableBufferPointer { pB in
            mask.pixels.withUnsafeBufferPointer { mB in
                lut.withUnsafeBufferPointer { lB in
                    guard let p = pB.baseAddress, let m = mB.baseAddress else { return }
                    let l = lB.baseAddress!
                    for i in 0..<mB.count where m[i] != 0 {
                        p[3 * i] = l[Int(p[3 * i])]
                        p[3 * i + 1] = l[256 + Int(p[3 * i + 1])]
                        p[3 * i + 2] = l[512 + Int(p[3 * i + 2])]
                    }
                }
            }
        }
    }

    // MARK: helpers

    private func blendTables(_ c: (UInt8, UInt8, UInt8), _ alpha: Double) -> [UInt8] {
        let a = alpha.isNaN ? 0 : Swift.min(1, Swift.max(0, alpha))
        var lut = [UInt8](repeating: 0, count: 768)
        for (k, cv) in [c.0, c.1, c.2].enumerated() {
            for v in 0..<256 {
                lut[k * 256 + v] = UInt8(((1 - a) * Double(v) + a * Double(cv)).rounded())
            }
        }
        return lut
    }

    private mutating func setRect(x: Int, y: Int, w: Int, h: Int, color: (UInt8, UInt8, UInt8)) {
        let x0 = Swift.max(0, x), y0 = Swift.max(0, y)
        let x1 = Swift.min(width, x + w), y1 = Swift.min(height, y + h)
        guard x0 < x1 && y0 < y1 else { return }
        let iw = width
        pixels.withUnsafeMutableBufferPointer { pB in
            let p = pB.baseAddress!
            for yy in y0..<y1 {
                for xx in x0..<x1 {
                    let i = 3 * (yy * iw + xx)
                    p[i] = color.0; p[i + 1] = color.1; p[i + 2] = color.2
                }
            }
        }
    }

    private mutating func stamp(x: Int, y: Int, size: Int, color: (UInt8, UInt8, UInt8)) {
        setRect(x: x, y: y, w: size, h: size, color: color)
    }
}

/// Liang–Barsky clipping of segment a→b to a rectangle; nil when it misses.
private func clipSegment(_ a: Point, _ b: Point, minX: Double, minY: Double, maxX: Double, maxY: Double) -> (Point, Point)? {
    var t0 = 0.0, t1 = 1.0
    let dx = b.x - a.x, dy = b.y - a.y
    for (p, q) in [(-dx, a.x - minX), (dx, maxX - a.x), (-dy, a.y - minY), (dy, maxY - a.y)] {
        if p == 0 {
            if q < 0 { return nil }
        } else {
            let r = q / p
            if p < 0 { if r > t1 { return nil }; if r > t0 { t0 = r } }
            else { if r < t0 { return nil }; if r < t1 { t1 = r } }
        }
    }
    return (Point(x: a.x + t0 * dx, y: a.y + t0 * dy), Point(x: a.x + t1 * dx, y: a.y + t1 * dy))
}
