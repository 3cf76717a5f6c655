import Foundation

/// A polygon with holes in pixel-corner coordinates. Rings are closed implicitly (the first point is
/// not repeated). Orientation: the outer ring has **positive** ``Polygon/signedArea(_:)`` and holes
/// negative, in the coordinates as stored (x right, y down). Read with y up — as GeoJSON and QuPath
/// readers do with these numbers — that is counter-clockwise outer rings and clockwise holes, the
/// RFC 7946 convention; on screen (y down) the outer ring runs clockwise.
public struct PolygonWithHoles: Sendable, Equatable {
    public var outer: [Point]
    public var holes: [[Point]]
    public init(outer: [Point], holes: [[Point]] = []) {
        self.outer = outer
        self.holes = holes
    }
    /// Enclosed area: outer minus holes.
    public var area: Double { Polygon.signedArea(outer) + holes.reduce(0) { $0 + Polygon.signedArea($1) } }
}

public enum Contours {
    /// Traces the boundaries of every 8-connected foreground (non-zero) component of `mask` and the
    /// 4-connected background holes inside it, as polygons that follow pixel edges, so each polygon's
    /// area (outer minus holes) equals its pixel count exactly and ``Polygon/fill(_:width:height:scale:)``
    /// gives the mask back. Vertices are where the boundary turns (collinear points merged);
    /// coordinates are in mask pixel units, (0, 0) = top-left corner of pixel (0, 0).
    ///
    /// Where two pixels of a component touch only at a corner, the ring passes through that corner
    /// twice (self-touching at a vertex, never crossing), which keeps it valid for shoelace areas and
    /// even-odd filling. A nested island inside a hole is its own polygon. Polygons are returned in
    /// the order of ``ConnectedComponents/label(_:connectivity:)`` with `.eight` (raster order of the
    /// first pixel); each outer ring starts at the top-left corner of that first pixel; holes are in
    /// raster order of their top edge.
    public static func trace(_ mask: GrayImage) -> [PolygonWithHoles] {
        let w = mask.width, h = mask.height
        guard w > 0 && h > 0 else { return [] }
        let comps = ConnectedComponents.label(mask, connectivity: .eight)
        guard comps.count > 0 else { return [] }
        var polygons = [PolygonWithHoles](repeating: PolygonWithHoles(outer: []), count: comps.count)
        // Visited horizontal cracks: crack (x, y) lies between pixel rows y−1 and y, y in 0...h.
        var visited = [Bool](repeating: false, count: w * (h + 1))
        mask.pixels.withUnsafeBufferPointer { mB in
        visited.withUnsafeMutableBufferPointer { vB in
            let m = mB.baseAddress!, seen = vB.baseAddress!
            @inline(__always) func fg(_ x: Int, _ y: Int) -> Bool {
                x >= 0 && y >= 0 && x < w && y < h && m[y * w + x] != 0
            }
            for y in 0...h {
                for x in 0..<w {
                    if seen[y * w + x] { continue }
                    let above = fg(x, y - 1), below = fg(x, y)
                    if above == below { continue }
                    // Walk with the foreground on the right (screen view): heading east along a top
                    // edge, west along a bottom edge.
                    let sx = below ? x : x + 1, sy = y, d0 = below ? 0 : 2
                    let ring = walk(sx: sx, sy: sy, d0: d0, fg: fg, markSeen: { cx, cy in seen[cy * w + cx] = true })
                    // The foreground pixel on this crack names the component the ring belongs to.
                    let label = Int(comps.labels[(below ? y : y - 1) * w + x]) - 1
                    if Polygon.signedArea(ring) > 0 {
                        polygons[label].outer = ring
                    } else {
                        polygons[label].holes.append(ring)
                    }
                }
            }
        }}
        return polygons
    }

    /// Headings: 0 = east (+x), 1 = south (+y), 2 = west, 3 = north. At each vertex, look at the two
    /// pixels ahead: if the ahead-left one is foreground turn left (this is also the rule at a
    /// diagonal saddle, which keeps 8-connected foreground on one ring), else if the ahead-right one is
    /// foreground go straight, else turn right.
    @inline(__always)
    private static func walk(sx: Int, sy: Int, d0: Int, fg: (Int, Int) -> Bool,
                             markSeen: (Int, Int) -> Void) -> [Point] {
        var points: [Point] = []
        var vx = sx, vy = sy, d = d0
        while true {
            switch d {
            case 0: markSeen(vx, vy); vx += 1
            case 1: vy += 1
            case 2: markSeen(vx - 1, vy); vx -= 1
            default: vy -= 1
            }
            let aheadLeft: Bool, aheadRight: Bool
            switch d {
            case 0: aheadLeft = fg(vx, vy - 1); aheadRight = fg(vx, vy)
            case 1: aheadLeft = fg(vx, vy); aheadRight = fg(vx - 1, vy)
            case 2: aheadLeft = fg(vx - 1, vy); aheadRight = fg(vx - 1, vy - 1)
            default: aheadLeft = fg(vx - 1, vy - 1); aheadRight = fg(vx, vy - 1)
            }
            let nd = aheadLeft ? (d + 3) & 3 : (aheadRight ? d : (d + 1) & 3)
            let done = vx == sx && vy == sy && nd == d0
            if nd != d {
                if done { points.insert(Point(x: Double(vx), y: Double(vy)), at: 0) }
                else { points.append(Point(x: Double(vx), y: Double(vy))) }
            }
            d = nd
            if done { break }
        }
        return points
    }
}
