import Foundation

/// Marching cubes on a binary mask (IBSI 3.1): iso-level 0.5, so every vertex is the midpoint of
/// a grid edge between an inside and an outside voxel centre. The case table is derived rather
/// than typed in: on each cube face the contour cuts off the inside corners (diagonal inside
/// corners stay apart — the same rule on both sides of a face, so the mesh is closed), the face
/// segments chain into loops, and each loop is fanned into triangles facing outward.
enum MarchingCubes {
    /// Corner c of a cell sits at offset (c & 1, (c >> 1) & 1, (c >> 2) & 1).
    static let edges: [(Int, Int)] = {
        var e: [(Int, Int)] = []
        for a in 0..<8 { for b in (a + 1)..<8 where (a ^ b).nonzeroBitCount == 1 { e.append((a, b)) } }
        return e
    }()

    /// Triangles (three edge indices each, outward by the right-hand rule) for each of the 256 cases.
    static let table: [[UInt8]] = (0..<256).map(triangles)

    private static func corner(_ c: Int) -> SIMD3<Int> { SIMD3(c & 1, (c >> 1) & 1, (c >> 2) & 1) }

    private static func edgeIndex(_ a: Int, _ b: Int) -> Int {
        edges.firstIndex { ($0.0 == a && $0.1 == b) || ($0.0 == b && $0.1 == a) }!
    }

    /// Faces as four corners in counter-clockwise order seen from outside the cell.
    private static let faces: [[Int]] = {
        var out: [[Int]] = []
        for axis in 0..<3 {
            for side in 0..<2 {
                let u = (axis + 1) % 3, v = (axis + 2) % 3
                var ring = [(0, 0), (1, 0), (1, 1), (0, 1)].map { (bu, bv) -> Int in
                    var c = SIMD3<Int>(0, 0, 0)
                    c[axis] = side; c[u] = bu; c[v] = bv
                    return c.x | c.y << 1 | c.z << 2
                }
                let p = ring.map(corner)
                let d1 = p[1] &- p[0], d2 = p[2] &- p[1]
                let normal = SIMD3(d1.y * d2.z - d1.z * d2.y, d1.z * d2.x - d1.x * d2.z, d1.x * d2.y - d1.y * d2.x)
                let outward = side == 0 ? -1 : 1
                if normal[axis] * outward < 0 { ring.reverse() }
                out.append(ring)
            }
        }
        return out
    }()

    private static func triangles(_ config: Int) -> [UInt8] {
        let inside = { (c: Int) in config >> c & 1 == 1 }
        // next[e]: the loop goes from the vertex on edge e to the vertex on edge next[e].
        var next = [Int](repeating: -1, count: 12)
        for ring in faces {
            let crossing = (0..<4).map { inside(ring[$0]) != inside(ring[($0 + 1) % 4]) }
            for i in 0..<4 where crossing[i] && inside(ring[i]) {   // leaving the inside region
                var j = (i + 3) % 4
                while !(crossing[j] && !inside(ring[j])) { j = (j + 3) % 4 }   // nearest entry behind
                next[edgeIndex(ring[i], ring[(i + 1) % 4])] = edgeIndex(ring[j], ring[(j + 1) % 4])
            }
        }
        var used = [Bool](repeating: false, count: 12)
        var out: [UInt8] = []
        for start in 0..<12 where next[start] >= 0 && !used[start] {
            var loop: [Int] = []
            var e = start
            while !used[e] { used[e] = true; loop.append(e); e = next[e] }
            // Walking with the inside on the left seen from outside the cell turns the loop's
            // right-hand normal toward the inside, so every triangle is emitted reversed.
            for t in triangulate(loop) { out += [UInt8(loop[t.0]), UInt8(loop[t.2]), UInt8(loop[t.1])] }
        }
        return out
    }

    /// How a loop of edge midpoints is cut into triangles (index triples in loop order). Planar
    /// loops do not care; for the skew pentagons and hexagons the triangulation of largest area
    /// (the first in enumeration order among equals) and for heptagons the fan enclosing the
    /// least volume reproduce the classic marching-cubes table cell by cell (checked against
    /// scikit-image's Lorensen tables), so meshes agree with PyRadiomics and the IBSI consensus.
    private static func triangulate(_ loop: [Int]) -> [(Int, Int, Int)] {
        let n = loop.count
        if n == 3 { return [(0, 1, 2)] }
        let p = loop.map(midpoint)
        func area(_ ts: [(Int, Int, Int)]) -> Double {
            ts.reduce(0) { acc, t in let c = cross(p[t.1] - p[t.0], p[t.2] - p[t.0]); return acc + (c * c).sum().squareRoot() / 2 }
        }
        func volume(_ ts: [(Int, Int, Int)]) -> Double {   // outward-oriented, as emitted
            ts.reduce(0) { $0 + (p[$1.0] * cross(p[$1.2], p[$1.1])).sum() / 6 }
        }
        if n == 7 {
            let fans = (0..<n).map { a in (1..<(n - 1)).map { t in (a, (a + t) % n, (a + t + 1) % n) } }
            return fans.min { volume($0) < volume($1) - 1e-12 }!
        }
        var best: [(Int, Int, Int)] = [], bestArea = -Double.infinity
        for ts in allTriangulations(Array(0..<n)) {
            let a = area(ts)
            if a > bestArea + 1e-9 { best = ts; bestArea = a }
        }
        return best
    }

    /// Every triangulation of a convex polygon's index list: the triangle on the edge
    /// (first, last) with apex k, then the two sub-polygons.
    private static func allTriangulations(_ idx: [Int]) -> [[(Int, Int, Int)]] {
        if idx.count < 3 { return [[]] }
        var out: [[(Int, Int, Int)]] = []
        for k in 1..<(idx.count - 1) {
            for left in allTriangulations(Array(idx[...k])) {
                for right in allTriangulations(Array(idx[k...])) {
                    out.append(left + right + [(idx[0], idx[k], idx[idx.count - 1])])
                }
            }
        }
        return out
    }

    private static func midpoint(_ e: Int) -> SIMD3<Double> {
        SIMD3<Double>(corner(edges[e].0) &+ corner(edges[e].1)) * 0.5
    }

    struct Measures {
        var volume = 0.0
        var area = 0.0
    }

    /// Volume and area (mm³, mm²) of the mesh of `mask` (size `n`, i fastest), which is
    /// treated as surrounded by outside voxels.
    static func measure(mask: [Bool], size n: SIMD3<Int>, spacing: SIMD3<Double>) -> Measures {
        // Padded 0/1 grid.
        let p = n &+ 2
        var grid = [UInt8](repeating: 0, count: p.x * p.y * p.z)
        for k in 0..<n.z { for j in 0..<n.y { for i in 0..<n.x where mask[i + n.x * (j + n.y * k)] {
            grid[(i + 1) + p.x * ((j + 1) + p.y * (k + 1))] = 1
        } } }
        // Half-voxel offsets of each edge's midpoint from the cell's corner 0.
        let half = spacing * 0.5
        let edgeOffset: [SIMD3<Double>] = edges.map { e in
            SIMD3<Double>(corner(e.0) &+ corner(e.1)) * half
        }
        let centre = SIMD3<Double>(Double(p.x - 1), Double(p.y - 1), Double(p.z - 1)) * half
        let cornerOffsets = (0..<8).map { c -> Int in let o = corner(c); return o.x + p.x * (o.y + p.y * o.z) }
        var m = Measures()
        let table = Self.table
        grid.withUnsafeBufferPointer { g in
            for k in 0..<(p.z - 1) { for j in 0..<(p.y - 1) {
                for i in 0..<(p.x - 1) {
                    let base = i + p.x * (j + p.y * k)
                    var config = 0
                    for c in 0..<8 where g[base + cornerOffsets[c]] != 0 { config |= 1 << c }
                    if config == 0 || config == 255 { continue }
                    let origin = SIMD3<Double>(Double(i), Double(j), Double(k)) * spacing - centre
                    let tris = table[config]
                    var t = 0
                    while t < tris.count {
                        let a = origin + edgeOffset[Int(tris[t])]
                        let b = origin + edgeOffset[Int(tris[t + 1])]
                        let c = origin + edgeOffset[Int(tris[t + 2])]
                        let cr = cross(b - a, c - a)
                        m.area += 0.5 * (cr * cr).sum().squareRoot()
                        m.volume += (a * cross(b, c)).sum() / 6
                        t += 3
                    }
                }
            } }
        }
        return m
    }

    /// The mesh vertices, as doubled voxel indices of the unpadded grid (edge midpoints between
    /// an inside and an outside voxel, the outside including the ring around the grid).
    static func vertices(mask: [Bool], size n: SIMD3<Int>) -> [SIMD3<Int64>] {
        var out: [SIMD3<Int64>] = []
        @inline(__always) func at(_ i: Int, _ j: Int, _ k: Int) -> Bool {
            i >= 0 && j >= 0 && k >= 0 && i < n.x && j < n.y && k < n.z && mask[i + n.x * (j + n.y * k)]
        }
        for k in -1..<n.z { for j in -1..<n.y { for i in -1..<n.x {
            let here = at(i, j, k)
            if here != at(i + 1, j, k) { out.append(SIMD3(Int64(2 * i + 1), Int64(2 * j), Int64(2 * k))) }
            if here != at(i, j + 1, k) { out.append(SIMD3(Int64(2 * i), Int64(2 * j + 1), Int64(2 * k))) }
            if here != at(i, j, k + 1) { out.append(SIMD3(Int64(2 * i), Int64(2 * j), Int64(2 * k + 1))) }
        } } }
        return out
    }
}

@inline(__always) func cross(_ a: SIMD3<Double>, _ b: SIMD3<Double>) -> SIMD3<Double> {
    SIMD3(a.y * b.z - a.z * b.y, a.z * b.x - a.x * b.z, a.x * b.y - a.y * b.x)
}
