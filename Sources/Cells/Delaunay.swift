import Foundation

/// Delaunay triangulation of nucleus positions.
///
/// A sweep-hull construction (points added in order of distance from a centre, each joined to the
/// hull edges it sees, then Lawson flips) with exact predicates on a 2³⁰ lattice (see
/// `SnappedPoints`), so grids, collinear rows and duplicates give a valid triangulation rather than
/// a crash or a loop. O(n log n); a million points take about a second.
///
/// Defined results for every input:
/// - duplicates (same snapped position) are triangulated once, through their *representative* (the
///   lowest input index at that position); `edges` joins each duplicate to its representative by a
///   zero-length edge and to nothing else;
/// - 0 or 1 distinct positions: no triangles, no edges between distinct points;
/// - 2 or more distinct positions all on one line: no triangles, `edges` is the path through them in
///   order along the line, `hull` lists them in that order;
/// - otherwise `triangles` covers the convex hull; `hull` is the hull in order (it may include
///   vertices lying on a hull edge);
/// - a point with a non-finite coordinate is left out: its own representative, in no triangle or edge.
public struct Delaunay: Sendable {
    /// Number of input points.
    public let pointCount: Int
    /// Vertex triples (input indices, representatives only), each triangle counter-clockwise in a
    /// y-up frame (clockwise on screen). Empty when fewer than three non-collinear distinct points.
    public let triangles: [Int32]
    /// Hull vertices (representatives) in order; see the type's notes for degenerate input.
    public let hull: [Int32]
    /// For every input point, the input index of the first point at its snapped position.
    public let representative: [Int32]
    /// Undirected edges as (i, j) with i < j, sorted: triangle sides, the path of a collinear set,
    /// and duplicate-to-representative links.
    public let edges: [SIMD2<Int32>]
    /// The half-edge twin of each triangle side (`triangles` index), −1 on the hull.
    let halfedges: [Int32]

    /// Triangulates `points` (any unit; the result is scale-free).
    public init(points: [SIMD2<Double>]) {
        precondition(points.count < Int(Int32.max), "Delaunay: \(points.count) points exceed the Int32 index range")
        pointCount = points.count
        let snapped = points.withUnsafeBufferPointer { SnappedPoints($0) }
        let (rep, unique) = Self.deduplicate(snapped)
        representative = rep
        let m = unique.count
        var ux = [Int64](repeating: 0, count: m), uy = [Int64](repeating: 0, count: m)
        for u in 0..<m { ux[u] = snapped.qx[Int(unique[u])]; uy[u] = snapped.qy[Int(unique[u])] }

        var tri: [Int32] = [], half: [Int32] = [], hullU: [Int32] = [], pathU: [Int32] = []
        if m >= 2 {
            let t = SweepTriangulator(ux, uy)
            if t.triangleCount > 0 {
                tri = Array(UnsafeBufferPointer(start: t.tri, count: 3 * t.triangleCount))
                half = Array(UnsafeBufferPointer(start: t.half, count: 3 * t.triangleCount))
                hullU = t.hull()
            } else {
                pathU = t.collinearPath
                hullU = pathU
            }
        } else if m == 1 {
            hullU = [0]
        }
        for k in tri.indices { tri[k] = unique[Int(tri[k])] }
        triangles = tri
        halfedges = half
        hull = hullU.map { unique[Int($0)] }

        var pairs: [SIMD2<Int32>] = []
        pairs.reserveCapacity(tri.count / 2 + pathU.count + (points.count - m))
        for e in half.indices where half[e] < Int32(e) {
            pairs.append(SIMD2(tri[e], tri[e % 3 == 2 ? e - 2 : e + 1]))
        }
        if pathU.count > 1 {
            for k in 1..<pathU.count { pairs.append(SIMD2(unique[Int(pathU[k - 1])], unique[Int(pathU[k])])) }
        }
        for i in rep.indices where rep[i] != Int32(i) { pairs.append(SIMD2(rep[i], Int32(i))) }
        edges = EdgeSet.canonical(pairs, nodeCount: points.count)
    }

    /// Number of triangles.
    public var triangleCount: Int { triangles.count / 3 }

    /// Representative of every input point and the sorted list of representatives of the distinct
    /// finite positions. Sorting by snapped position makes equal positions adjacent.
    private static func deduplicate(_ s: SnappedPoints) -> ([Int32], [Int32]) {
        let n = s.qx.count
        struct Key { var k: UInt64; var i: Int32 }
        var rep = [Int32](repeating: 0, count: n)
        var keys: [Key] = []
        keys.reserveCapacity(n)
        for i in 0..<n {
            rep[i] = Int32(i)
            if s.qx[i] >= 0 { keys.append(Key(k: UInt64(s.qx[i]) << 30 | UInt64(s.qy[i]), i: Int32(i))) }
        }
        keys.sort { $0.k != $1.k ? $0.k < $1.k : $0.i < $1.i }
        var unique: [Int32] = []
        var k = 0
        let m = keys.count
        while k < m {
            var j = k
            while j < m && keys[j].k == keys[k].k { rep[Int(keys[j].i)] = keys[k].i; j += 1 }
            unique.append(keys[k].i)
            k = j
        }
        unique.sort()
        return (rep, unique)
    }
}

/// Canonical undirected edge lists: (i, j) with i < j, sorted, no repeats, no self-loops.
enum EdgeSet {
    /// Counting sort by the smaller end, then a small sort per row: O(E + n) plus row sorts.
    static func canonical(_ pairs: [SIMD2<Int32>], nodeCount n: Int) -> [SIMD2<Int32>] {
        guard !pairs.isEmpty else { return [] }
        var start = [Int](repeating: 0, count: n + 1)
        for p in pairs where p.x != p.y { start[Int(min(p.x, p.y)) + 1] += 1 }
        for i in 0..<n { start[i + 1] += start[i] }
        var fill = start
        var other = [Int32](repeating: 0, count: start[n])
        for p in pairs where p.x != p.y {
            let a = min(p.x, p.y), b = max(p.x, p.y)
            other[fill[Int(a)]] = b
            fill[Int(a)] += 1
        }
        var out: [SIMD2<Int32>] = []
        out.reserveCapacity(other.count)
        other.withUnsafeMutableBufferPointer { o in
            for i in 0..<n where start[i + 1] > start[i] {
                var row = UnsafeMutableBufferPointer(rebasing: o[start[i]..<start[i + 1]])
                row.sort()
                var last: Int32 = -1
                for j in row where j != last { out.append(SIMD2(Int32(i), j)); last = j }
            }
        }
        return out
    }
}
