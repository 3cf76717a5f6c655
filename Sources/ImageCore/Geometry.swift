import Foundation

/// Operations on polygon rings given as `[Point]`, closed implicitly (first point not repeated).
public enum Polygon {
    /// Shoelace area, positive for rings that are counter-clockwise when y points up (the outer rings
    /// of ``Contours/trace(_:)``), negative for the opposite orientation (its holes).
    public static func signedArea(_ ring: [Point]) -> Double {
        let n = ring.count
        guard n >= 3 else { return 0 }
        var s = 0.0
        var prev = ring[n - 1]
        for p in ring {
            s += prev.x * p.y - p.x * prev.y
            prev = p
        }
        return s / 2
    }

    /// Even–odd point-in-ring test (a ray to +x counts edge crossings; an edge counts when one end
    /// is above `p.y` and the other at or below), the same rule ``fill(_:width:height:scale:)`` uses.
    public static func contains(_ ring: [Point], _ p: Point) -> Bool {
        let n = ring.count
        guard n >= 3 else { return false }
        var inside = false
        var a = ring[n - 1]
        for b in ring {
            if (a.y > p.y) != (b.y > p.y) {
                let x = a.x + (p.y - a.y) * (b.x - a.x) / (b.y - a.y)
                if p.x < x { inside.toggle() }
            }
            a = b
        }
        return inside
    }

    /// Douglas–Peucker simplification of a closed ring: keeps the vertices needed so that no dropped
    /// vertex is farther than `tolerance` from the simplified boundary. The ring is split at its
    /// first point and the point farthest from it, and both halves are simplified. Never returns
    /// fewer than 3 points: if simplification would collapse the ring, the original is returned.
    /// Used to make traced tissue outlines small enough for GeoJSON and previews.
    public static func simplified(_ ring: [Point], tolerance: Double) -> [Point] {
        let n = ring.count
        guard n > 3, tolerance > 0 else { return ring }
        var far = 0, farD = -1.0
        for i in 1..<n {
            let dx = ring[i].x - ring[0].x, dy = ring[i].y - ring[0].y
            let d = dx * dx + dy * dy
            if d > farD { farD = d; far = i }
        }
        var keep = [Bool](repeating: false, count: n)
        keep[0] = true; keep[far] = true
        // Index space 0...n, where n stands for ring[0] again.
        var stack: [(Int, Int)] = [(0, far), (far, n)]
        while let (a, b) = stack.popLast() {
            if b - a < 2 { continue }
            let pa = ring[a], pb = ring[b % n]
            var worst = -1.0, wi = -1
            for i in (a + 1)..<b {
                let d = segmentDistance(ring[i], pa, pb)
                if d > worst { worst = d; wi = i }
            }
            if worst > tolerance {
                keep[wi] = true
                stack.append((a, wi)); stack.append((wi, b))
            }
        }
        var out: [Point] = []
        for i in 0..<n where keep[i] { out.append(ring[i]) }
        if out.count < 3 || abs(signedArea(out)) == 0 { return ring }
        return out
    }

    static func segmentDistance(_ p: Point, _ a: Point, _ b: Point) -> Double {
        let dx = b.x - a.x, dy = b.y - a.y
        let len2 = dx * dx + dy * dy
        var t = len2 > 0 ? ((p.x - a.x) * dx + (p.y - a.y) * dy) / len2 : 0
        t = Swift.max(0, Swift.min(1, t))
        let ex = a.x + t * dx - p.x, ey = a.y + t * dy - p.y
        return (ex * ex + ey * ey).squareRoot()
    }

    /// Rasterises polygons-with-holes to a 0/255 mask of `width`×`height`. Coordinates are multiplied
    /// by `scale` first (e.g. `1 / downsample` to draw level-0 polygons on a thumbnail). A pixel is
    /// set when its centre (x + ½, y + ½) is inside a polygon by the even–odd rule over that polygon's
    /// outer ring and holes; polygons are united. Scanline with an active edge list, so the cost is
    /// proportional to the edges plus the filled pixels.
    public static func fill(_ polygons: [PolygonWithHoles], width: Int, height: Int, scale: Double = 1) -> GrayImage {
        precondition(width >= 0 && height >= 0, "Polygon.fill: negative size \(width)x\(height)")
        var out = [UInt8](repeating: 0, count: width * height)
        guard width > 0 && height > 0 else { return GrayImage(width: width, height: height, pixels: out) }
        struct Edge { var x0, y0, slope: Double; var row0, row1: Int }
        var edges: [Edge] = []
        var active: [Int] = []
        var xs: [Double] = []
        out.withUnsafeMutableBufferPointer { oB in
            let o = oB.baseAddress!
            for poly in polygons {
                edges.removeAll(keepingCapacity: true)
                for ring in [poly.outer] + poly.holes where ring.count >= 3 {
                    var a = ring[ring.count - 1]
                    for b in ring {
                        let ax = a.x * scale, ay = a.y * scale, bx = b.x * scale, by = b.y * scale
                        a = b
                        if ay == by { continue }
                        let (lx, ly, hy) = ay < by ? (ax, ay, by) : (bx, by, ay)
                        // Rows whose centre c satisfies ly <= c < hy.
                        let r0 = Swift.max(0, Int((ly - 0.5).rounded(.up)))
                        let r1 = Swift.min(height - 1, Int((hy - 0.5).rounded(.up)) - 1)
                        if r0 > r1 { continue }
                        let slope = (ax - bx) / (ay - by)
                        edges.append(Edge(x0: lx, y0: ly, slope: slope, row0: r0, row1: r1))
                    }
                }
                if edges.isEmpty { continue }
                edges.sort { $0.row0 < $1.row0 }
                active.removeAll(keepingCapacity: true)
                var next = 0
                var row = edges[0].row0
                while row < height && (next < edges.count || !active.isEmpty) {
                    while next < edges.count && edges[next].row0 <= row { active.append(next); next += 1 }
                    active.removeAll { edges[$0].row1 < row }
                    if active.isEmpty {
                        if next < edges.count { row = edges[next].row0; continue } else { break }
                    }
                    let c = Double(row) + 0.5
                    xs.removeAll(keepingCapacity: true)
                    for e in active { let ed = edges[e]; xs.append(ed.x0 + (c - ed.y0) * ed.slope) }
                    xs.sort()
                    let line = o + row * width
                    var i = 0
                    while i + 1 < xs.count {
                        // Pixels whose centre x + ½ lies in [xs[i], xs[i+1]).
                        let lo = Swift.max(0, Int((xs[i] - 0.5).rounded(.up)))
                        let hi = Swift.min(width, Int((xs[i + 1] - 0.5).rounded(.up)))
                        if lo < hi { (line + lo).update(repeating: 255, count: hi - lo) }
                        i += 2
                    }
                    row += 1
                }
            }
        }
        return GrayImage(width: width, height: height, pixels: out)
    }
}
