import Foundation

/// 3-D convex hull of lattice points (the mesh vertices as doubled voxel indices), by Quickhull
/// with exact integer predicates so coplanar lattice points cannot break it.
struct ConvexHull {
    /// Hull triangles as point indices, outward by the right-hand rule.
    private(set) var faces: [SIMD3<Int32>] = []
    let points: [SIMD3<Int64>]

    /// Indices of the points that are hull vertices.
    var vertexIndices: [Int] { Array(Set(faces.flatMap { [Int($0.x), Int($0.y), Int($0.z)] })).sorted() }

    /// nil when the points are coplanar (no volume).
    init?(_ input: [SIMD3<Int64>]) {
        points = ConvexHull.candidates(input)
        guard let start = initialTetrahedron() else { return nil }
        build(start)
    }

    /// A hull vertex is the unique maximiser of some linear function, so it is the first or last
    /// point of its row along every axis; other points are dropped before the hull is built.
    private static func candidates(_ pts: [SIMD3<Int64>]) -> [SIMD3<Int64>] {
        guard !pts.isEmpty else { return [] }
        var keep = [UInt8](repeating: 0, count: pts.count)
        for axis in 0..<3 {
            let u = (axis + 1) % 3, v = (axis + 2) % 3
            var lo: [Int64: Int] = [:], hi: [Int64: Int] = [:]
            for (n, p) in pts.enumerated() {
                let key = (p[u] + 16) << 28 | (p[v] + 16)   // coordinates are ≥ −1 and < 2²⁷
                if let m = lo[key] { if p[axis] < pts[m][axis] { lo[key] = n } } else { lo[key] = n }
                if let m = hi[key] { if p[axis] > pts[m][axis] { hi[key] = n } } else { hi[key] = n }
            }
            var mark = Set<Int>(lo.values)
            mark.formUnion(hi.values)
            for n in mark { keep[n] += 1 }
        }
        var out: [SIMD3<Int64>] = []
        for n in 0..<pts.count where keep[n] == 3 { out.append(pts[n]) }
        return out
    }

    @inline(__always) private static func sub(_ a: SIMD3<Int64>, _ b: SIMD3<Int64>) -> SIMD3<Int64> { a &- b }
    @inline(__always) private static func cross(_ a: SIMD3<Int64>, _ b: SIMD3<Int64>) -> SIMD3<Int64> {
        SIMD3(a.y &* b.z &- a.z &* b.y, a.z &* b.x &- a.x &* b.z, a.x &* b.y &- a.y &* b.x)
    }
    @inline(__always) private static func dot(_ a: SIMD3<Int64>, _ b: SIMD3<Int64>) -> Int64 {
        a.x &* b.x &+ a.y &* b.y &+ a.z &* b.z
    }

    private func initialTetrahedron() -> [Int]? {
        let p = points
        guard p.count >= 4 else { return nil }
        let a = 0
        var b = -1, best: Int64 = 0
        for n in 1..<p.count { let d = Self.sub(p[n], p[a]); let l = Self.dot(d, d); if l > best { best = l; b = n } }
        guard b >= 0 else { return nil }
        var c = -1; best = 0
        for n in 0..<p.count {
            let cr = Self.cross(Self.sub(p[b], p[a]), Self.sub(p[n], p[a]))
            let l = Self.dot(cr, cr)
            if l > best { best = l; c = n }
        }
        guard c >= 0 else { return nil }
        let normal = Self.cross(Self.sub(p[b], p[a]), Self.sub(p[c], p[a]))
        var d = -1; best = 0
        for n in 0..<p.count {
            let o = abs(Self.dot(normal, Self.sub(p[n], p[a])))
            if o > best { best = o; d = n }
        }
        guard d >= 0 else { return nil }
        return [a, b, c, d]
    }

    /// Quickhull: every point waits on one face it lies strictly above; the farthest point of a
    /// face is added next, the faces it sees are replaced by a cone to their horizon, and their
    /// waiting points move to the first new face they lie above (or are inside and dropped).
    private mutating func build(_ t: [Int]) {
        let p = points
        struct Face { var v: SIMD3<Int32>; var normal: SIMD3<Int64>; var offset: Int64; var alive: Bool; var outside: [Int32] }
        var fs: [Face] = []
        var edgeFace: [Int64: Int32] = [:]   // directed edge (u, v) → face
        @inline(__always) func key(_ u: Int32, _ v: Int32) -> Int64 { Int64(u) << 32 | Int64(v) }
        func add(_ a: Int32, _ b: Int32, _ c: Int32) {
            let n = Self.cross(Self.sub(p[Int(b)], p[Int(a)]), Self.sub(p[Int(c)], p[Int(a)]))
            let id = Int32(fs.count)
            fs.append(Face(v: SIMD3(a, b, c), normal: n, offset: Self.dot(n, p[Int(a)]), alive: true, outside: []))
            edgeFace[key(a, b)] = id; edgeFace[key(b, c)] = id; edgeFace[key(c, a)] = id
        }
        @inline(__always) func height(_ f: Int, _ q: Int32) -> Int64 { Self.dot(fs[f].normal, p[Int(q)]) - fs[f].offset }
        // The tetrahedron, each face turned away from the fourth vertex.
        for (x, y, z, w) in [(0, 1, 2, 3), (0, 3, 1, 2), (1, 3, 2, 0), (0, 2, 3, 1)] {
            let a = Int32(t[x]), b = Int32(t[y]), c = Int32(t[z])
            let n = Self.cross(Self.sub(p[Int(b)], p[Int(a)]), Self.sub(p[Int(c)], p[Int(a)]))
            if Self.dot(n, Self.sub(p[t[w]], p[Int(a)])) > 0 { add(a, c, b) } else { add(a, b, c) }
        }
        for q in 0..<p.count where !t.contains(q) {
            for f in 0..<4 where height(f, Int32(q)) > 0 { fs[f].outside.append(Int32(q)); break }
        }
        var visible: [Bool] = []
        var stack: [Int32] = [], region: [Int32] = [], horizon: [(Int32, Int32)] = []
        var current = 0
        while current < fs.count {
            guard fs[current].alive, !fs[current].outside.isEmpty else { current += 1; continue }
            // The farthest waiting point (one face: heights compare without normalising).
            var apex = fs[current].outside[0], best = height(current, apex)
            for q in fs[current].outside.dropFirst() { let h = height(current, q); if h > best { best = h; apex = q } }
            if visible.count < fs.count { visible += [Bool](repeating: false, count: fs.count - visible.count + 64) }
            stack = [Int32(current)]; region = [Int32(current)]; visible[current] = true
            horizon.removeAll(keepingCapacity: true)
            while let f = stack.popLast() {
                let v = fs[Int(f)].v
                for (u, w) in [(v.x, v.y), (v.y, v.z), (v.z, v.x)] {
                    guard let g = edgeFace[key(w, u)] else { horizon.append((u, w)); continue }
                    if visible[Int(g)] { continue }
                    if height(Int(g), apex) > 0 {
                        visible[Int(g)] = true; stack.append(g); region.append(g)
                    } else {
                        horizon.append((u, w))
                    }
                }
            }
            var orphans: [Int32] = []
            for f in region {
                fs[Int(f)].alive = false
                orphans += fs[Int(f)].outside
                fs[Int(f)].outside = []
                let v = fs[Int(f)].v
                for (u, w) in [(v.x, v.y), (v.y, v.z), (v.z, v.x)] where edgeFace[key(u, w)] == f { edgeFace[key(u, w)] = nil }
            }
            let firstNew = fs.count
            for (u, w) in horizon { add(u, w, apex) }
            for q in orphans where q != apex {
                for f in firstNew..<fs.count where height(f, q) > 0 { fs[f].outside.append(q); break }
            }
        }
        faces = fs.filter(\.alive).map(\.v)
    }

    /// Volume and area with the lattice scaled by `scale` per axis (half the voxel spacing).
    func volumeAndArea(scale: SIMD3<Double>) -> (volume: Double, area: Double) {
        var centre = SIMD3<Double>(0, 0, 0)
        for pt in points { centre += SIMD3<Double>(Double(pt.x), Double(pt.y), Double(pt.z)) }
        centre /= Double(max(1, points.count))
        func pos(_ i: Int32) -> SIMD3<Double> {
            let q = points[Int(i)]
            return (SIMD3<Double>(Double(q.x), Double(q.y), Double(q.z)) - centre) * scale
        }
        var volume = 0.0, area = 0.0
        for f in faces {
            let a = pos(f.x), b = pos(f.y), c = pos(f.z)
            let cr = Radiomics.cross(b - a, c - a)
            area += 0.5 * (cr * cr).sum().squareRoot()
            volume += (a * Radiomics.cross(b, c)).sum() / 6
        }
        return (volume, area)
    }
}
