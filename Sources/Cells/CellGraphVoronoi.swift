import Foundation

/// A convex polygon that Voronoi cells are clipped to (a patch, a region of interest).
public struct ConvexRegion: Sendable, Equatable {
    /// Vertices in counter-clockwise order (y-up frame), no repeats.
    public let vertices: [SIMD2<Double>]

    /// Accepts either winding; throws when the polygon is not convex or has no area.
    public init(_ vertices: [SIMD2<Double>]) throws {
        var v: [SIMD2<Double>] = []
        for p in vertices where v.last != p { v.append(p) }
        if v.count > 1 && v.first == v.last { v.removeLast() }
        let a = polygonSignedArea(v)
        guard v.count >= 3, a != 0, a.isFinite else {
            throw CellGraphError("ConvexRegion: \(vertices.count) vertices enclose no area; give at least three non-collinear corners")
        }
        if a < 0 { v.reverse() }
        for i in v.indices {
            let p = v[i], q = v[(i + 1) % v.count], r = v[(i + 2) % v.count]
            if cross2(q - p, r - q) < -1e-12 * max(1, simd2Length(q - p) * simd2Length(r - q)) {
                throw CellGraphError("ConvexRegion: the polygon is not convex at vertex \((i + 1) % v.count) \(q); Voronoi clipping needs a convex region (a rectangle, a convex hull)")
            }
        }
        self.vertices = v
    }

    /// The rectangle x ≤ X ≤ x + width, y ≤ Y ≤ y + height.
    public static func rect(x: Double, y: Double, width: Double, height: Double) throws -> ConvexRegion {
        try ConvexRegion([SIMD2(x, y), SIMD2(x + width, y), SIMD2(x + width, y + height), SIMD2(x, y + height)])
    }

    public var area: Double { abs(polygonSignedArea(vertices)) }
}

/// Which Voronoi cells count, and how unbounded ones are closed.
public enum VoronoiClip: Sendable, Equatable {
    /// HistomicsTK's choice: only the bounded cells (nuclei not on the convex hull), unclipped.
    case boundedOnly
    /// Every cell, clipped to the convex hull of the nuclei.
    case convexHull
    /// Every cell, clipped to the given convex region (e.g. the patch).
    case region(ConvexRegion)
}

/// Area, perimeter and largest vertex-to-vertex distance of each nucleus' Voronoi cell.
///
/// Cells are intersections of the bisector half-planes of the nucleus' Delaunay neighbours, so they
/// are exact for any input the triangulation accepts. A duplicate nucleus has no cell of its own (its
/// representative holds it), nor has a nucleus with a non-finite position: `included` is false and
/// the values are 0. Under `.boundedOnly` hull
/// nuclei are not included either; under clipping, a clip region with no area (fewer than three
/// non-collinear nuclei for `.convexHull`) includes nothing.
public struct VoronoiCells: Sendable {
    public let areas: [Double]
    public let perimeters: [Double]
    public let maxDistances: [Double]
    public let included: [Bool]

    /// `positions` in any unit (results in that unit); `delaunay` must triangulate the same positions.
    public init(positions: [SIMD2<Double>], delaunay d: Delaunay, clip: VoronoiClip) {
        precondition(d.pointCount == positions.count, "VoronoiCells: triangulation of \(d.pointCount) points for \(positions.count) positions")
        let n = positions.count
        var area = [Double](repeating: 0, count: n), peri = area, maxd = area
        var inc = [Bool](repeating: false, count: n)
        let rep = d.representative
        switch clip {
        case .boundedOnly:
            let tri = d.triangles, half = d.halfedges
            var onHull = [Bool](repeating: false, count: n)
            var inedge = [Int32](repeating: -1, count: n)
            for e in tri.indices {
                let nx = e % 3 == 2 ? e - 2 : e + 1
                inedge[Int(tri[nx])] = Int32(e)
                if half[e] < 0 { onHull[Int(tri[e])] = true; onHull[Int(tri[nx])] = true }
            }
            let tc = tri.count / 3
            var centres = [SIMD2<Double>](repeating: .zero, count: tc)
            centres.withUnsafeMutableBufferPointer { cB in
                let c = cB.baseAddress!
                parallelChunks(tc, minPerChunk: 8192) { range in
                    for t in range {
                        c[t] = circumcentre(positions[Int(tri[3 * t])], positions[Int(tri[3 * t + 1])], positions[Int(tri[3 * t + 2])])
                    }
                }
            }
            area.withUnsafeMutableBufferPointer { aB in
            peri.withUnsafeMutableBufferPointer { pB in
            maxd.withUnsafeMutableBufferPointer { mB in
            inc.withUnsafeMutableBufferPointer { iB in
                let ap = aB.baseAddress!, pp = pB.baseAddress!, mp = mB.baseAddress!, ip = iB.baseAddress!
                tri.withUnsafeBufferPointer { tB in
                half.withUnsafeBufferPointer { hB in
                centres.withUnsafeBufferPointer { cB in
                    parallelChunks(n, minPerChunk: 4096) { range in
                        var poly: [SIMD2<Double>] = []
                        for v in range where rep[v] == Int32(v) && !onHull[v] && inedge[v] >= 0 {
                            poly.removeAll(keepingCapacity: true)
                            let e0 = Int(inedge[v])
                            var e = e0
                            repeat {
                                poly.append(cB[e / 3])
                                let out = e % 3 == 2 ? e - 2 : e + 1 // starts at v
                                e = Int(hB[out])
                            } while e != e0 && e >= 0 && poly.count <= tB.count
                            (ap[v], pp[v], mp[v]) = polygonMeasures(poly)
                            ip[v] = true
                        }
                    }
                }}}
            }}}}
        case .convexHull, .region:
            let region: [SIMD2<Double>]
            if case .region(let r) = clip { region = r.vertices } else { region = d.hull.map { positions[Int($0)] } }
            guard region.count >= 3, abs(polygonSignedArea(region)) > 0 else { break }
            let adj = Adjacency(d.edges, nodeCount: n)
            let results = [SIMD4<Double>](unsafeUninitializedCapacity: n) { buf, count in
                let out = buf.baseAddress!
                positions.withUnsafeBufferPointer { pB in
                    parallelChunks(n, minPerChunk: 512) { range in
                        var a: [SIMD2<Double>] = [], b: [SIMD2<Double>] = []
                        for v in range {
                            guard rep[v] == Int32(v), pB[v].x.isFinite && pB[v].y.isFinite else { out[v] = .zero; continue }
                            a.removeAll(keepingCapacity: true); a.append(contentsOf: region)
                            let p = pB[v]
                            for k in adj.offsets[v]..<adj.offsets[v + 1] {
                                let j = Int(adj.neighbours[k])
                                guard rep[j] == Int32(j) else { continue }
                                clipHalfPlane(&a, &b, keepNear: p, awayFrom: pB[j])
                                swap(&a, &b)
                                if a.isEmpty { break }
                            }
                            let m = polygonMeasures(a)
                            out[v] = SIMD4(m.0, m.1, m.2, 1)
                        }
                    }
                }
                count = n
            }
            for v in 0..<n where results[v].w == 1 {
                area[v] = results[v].x; peri[v] = results[v].y; maxd[v] = results[v].z; inc[v] = true
            }
        }
        areas = area; perimeters = peri; maxDistances = maxd; included = inc
    }
}

/// Keeps the part of convex polygon `poly` closer to p than to q (Sutherland–Hodgman, one plane)
/// and writes it to `out`.
@inline(__always)
func clipHalfPlane(_ poly: inout [SIMD2<Double>], _ out: inout [SIMD2<Double>], keepNear p: SIMD2<Double>, awayFrom q: SIMD2<Double>) {
    out.removeAll(keepingCapacity: true)
    let nrm = q - p, mid = (p + q) * 0.5
    let c = poly.count
    guard c > 0 else { return }
    var prev = poly[c - 1]
    var sPrev = ((prev - mid) * nrm).sum()
    for i in 0..<c {
        let cur = poly[i]
        let s = ((cur - mid) * nrm).sum()
        if s <= 0 {
            if sPrev > 0 { out.append(prev + (cur - prev) * (sPrev / (sPrev - s))) }
            out.append(cur)
        } else if sPrev <= 0 {
            out.append(prev + (cur - prev) * (sPrev / (sPrev - s)))
        }
        prev = cur; sPrev = s
    }
}

/// Area, perimeter and largest vertex-to-vertex distance of a simple polygon (0s when < 3 vertices).
func polygonMeasures(_ v: [SIMD2<Double>]) -> (Double, Double, Double) {
    guard v.count >= 3 else { return (0, 0, 0) }
    var per = 0.0, far = 0.0
    for i in v.indices {
        per += simd2Length(v[(i + 1) % v.count] - v[i])
        for j in (i + 1)..<v.count { far = max(far, simd2Length(v[j] - v[i])) }
    }
    return (abs(polygonSignedArea(v)), per, far)
}

/// Shoelace area relative to the first vertex (keeps precision far from the origin).
func polygonSignedArea(_ v: [SIMD2<Double>]) -> Double {
    guard v.count >= 3 else { return 0 }
    let o = v[0]
    var s = 0.0
    for i in 1..<(v.count - 1) { s += cross2(v[i] - o, v[i + 1] - o) }
    return 0.5 * s
}

@inline(__always) func cross2(_ a: SIMD2<Double>, _ b: SIMD2<Double>) -> Double { a.x * b.y - a.y * b.x }
@inline(__always) func simd2Length(_ a: SIMD2<Double>) -> Double { (a * a).sum().squareRoot() }

/// Circumcentre of a non-degenerate triangle, computed relative to a.
func circumcentre(_ a: SIMD2<Double>, _ b: SIMD2<Double>, _ c: SIMD2<Double>) -> SIMD2<Double> {
    let ab = b - a, ac = c - a
    let d = 2 * cross2(ab, ac)
    let bl = (ab * ab).sum(), cl = (ac * ac).sum()
    return a + SIMD2((ac.y * bl - ab.y * cl) / d, (ab.x * cl - ac.x * bl) / d)
}

/// A cell-graph input that cannot be used, with what to do.
public struct CellGraphError: Error, CustomStringConvertible, Sendable {
    public let message: String
    init(_ message: String) { self.message = message }
    public var description: String { message }
}
