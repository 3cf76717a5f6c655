import Foundation

/// Oriented minimum bounding box (IBSI 3.1.18–19, no reference values): the smallest box with
/// one face flush with a face of the convex hull (each distinct hull-face orientation is tried;
/// within that plane the smallest rectangle comes from rotating calipers). A box flush with a
/// hull face is the common practical construction; the true minimum can have two hull edges on
/// adjacent box faces instead (O'Rourke), so this is an upper bound on the minimum volume.
enum OrientedBoundingBox {
    /// (volume, area) of the box, or nil for a hull without faces.
    static func box(_ hull: ConvexHull, scale: SIMD3<Double>) -> (volume: Double, area: Double)? {
        let pts = hull.vertexIndices.map { i -> SIMD3<Double> in
            let q = hull.points[i]
            return SIMD3(Double(q.x), Double(q.y), Double(q.z)) * scale
        }
        guard pts.count >= 4 else { return nil }
        // Distinct face orientations: integer normals on the lattice, reduced by their gcd.
        var normals = Set<SIMD3<Int64>>()
        for f in hull.faces {
            let a = hull.points[Int(f.x)], b = hull.points[Int(f.y)], c = hull.points[Int(f.z)]
            let u = b &- a, v = c &- a
            var n = SIMD3(u.y &* v.z &- u.z &* v.y, u.z &* v.x &- u.x &* v.z, u.x &* v.y &- u.y &* v.x)
            let g = gcd(gcd(abs(n.x), abs(n.y)), abs(n.z))
            guard g > 0 else { continue }
            n /= SIMD3(repeating: g)
            normals.insert(n)
        }
        var best: (volume: Double, area: Double)?
        for n in normals {
            // A plane n·x = c on the lattice is (n / scale)·y = c in millimetres.
            var u = SIMD3(Double(n.x), Double(n.y), Double(n.z)) / scale
            u /= (u * u).sum().squareRoot()
            let e1 = perpendicular(u), e2 = Radiomics.cross(u, e1)
            var lo = Double.infinity, hi = -Double.infinity
            var flat: [SIMD2<Double>] = []
            flat.reserveCapacity(pts.count)
            for p in pts {
                let h = (u * p).sum()
                lo = min(lo, h); hi = max(hi, h)
                flat.append(SIMD2((e1 * p).sum(), (e2 * p).sum()))
            }
            let depth = hi - lo
            guard let rect = minimumRectangle(convexHull2D(flat)) else { continue }
            let volume = rect.width * rect.height * depth
            if best == nil || volume < best!.volume {
                best = (volume, 2 * (rect.width * rect.height + rect.width * depth + rect.height * depth))
            }
        }
        return best
    }

    private static func gcd(_ a: Int64, _ b: Int64) -> Int64 { b == 0 ? a : gcd(b, a % b) }

    private static func perpendicular(_ u: SIMD3<Double>) -> SIMD3<Double> {
        let helper: SIMD3<Double> = abs(u.x) < 0.9 ? SIMD3(1, 0, 0) : SIMD3(0, 1, 0)
        let p = Radiomics.cross(u, helper)
        return p / (p * p).sum().squareRoot()
    }

    /// Andrew's monotone chain; counter-clockwise, collinear points dropped.
    static func convexHull2D(_ input: [SIMD2<Double>]) -> [SIMD2<Double>] {
        let p = input.sorted { $0.x < $1.x || ($0.x == $1.x && $0.y < $1.y) }
        guard p.count >= 3 else { return p }
        func turn(_ o: SIMD2<Double>, _ a: SIMD2<Double>, _ b: SIMD2<Double>) -> Double {
            (a.x - o.x) * (b.y - o.y) - (a.y - o.y) * (b.x - o.x)
        }
        let eps = 1e-6 * max(1, p.map { abs($0.x) + abs($0.y) }.max()!)   // collinear within rounding
        var hull: [SIMD2<Double>] = []
        for q in p {
            while hull.count >= 2 && turn(hull[hull.count - 2], hull[hull.count - 1], q) <= eps * eps { hull.removeLast() }
            hull.append(q)
        }
        let lower = hull.count + 1
        for q in p.reversed().dropFirst() {
            while hull.count >= lower && turn(hull[hull.count - 2], hull[hull.count - 1], q) <= eps * eps { hull.removeLast() }
            hull.append(q)
        }
        hull.removeLast()
        return hull
    }

    /// Smallest-area enclosing rectangle of a convex polygon (counter-clockwise): one side lies
    /// on a polygon edge; calipers for the far side and both ends advance monotonically.
    static func minimumRectangle(_ q: [SIMD2<Double>]) -> (width: Double, height: Double)? {
        let m = q.count
        guard m >= 3 else { return nil }
        func dot(_ a: SIMD2<Double>, _ b: SIMD2<Double>) -> Double { (a * b).sum() }
        var best: (width: Double, height: Double)?
        var j = 1, k = 1, l = 1
        for i in 0..<m {
            let a = q[i], b = q[(i + 1) % m]
            var d = b - a
            d /= dot(d, d).squareRoot()
            let normal = SIMD2(-d.y, d.x)   // into the polygon
            if i == 0 { j = 1; k = 1 }
            var steps = 0
            while steps < m && dot(q[(j + 1) % m] - a, d) > dot(q[j] - a, d) { j = (j + 1) % m; steps += 1 }
            if i == 0 { k = j }
            steps = 0
            while steps < m && dot(q[(k + 1) % m] - a, normal) > dot(q[k] - a, normal) { k = (k + 1) % m; steps += 1 }
            if i == 0 { l = k }
            steps = 0
            while steps < m && dot(q[(l + 1) % m] - a, d) < dot(q[l] - a, d) { l = (l + 1) % m; steps += 1 }
            let width = dot(q[j] - a, d) - dot(q[l] - a, d), height = dot(q[k] - a, normal)
            if best == nil || width * height < best!.width * best!.height { best = (width, height) }
        }
        return best
    }
}
