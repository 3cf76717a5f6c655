import Foundation

/// An undirected cell graph: nuclei as nodes, spatial neighbours as edges.
///
/// Positions come in level-0 pixels with the slide's µm per pixel; every distance the graph
/// reports or takes (edge lengths, `maxDistance`, `radius`) is in µm. Pass `micronsPerPixel: 1`
/// to work in pixels throughout.
///
/// Edges are stored once as (i, j) with i < j, sorted; `directedEdges()` gives both directions, as
/// PyTorch Geometric expects for an undirected graph. Every builder accepts any input: no points,
/// one point, duplicates and collinear points give the (possibly empty) graph its definition
/// implies, never a crash; a node with a non-finite position stays isolated.
public struct CellGraph: Sendable {
    public enum Kind: String, Sendable, CaseIterable {
        /// i–j when j is among i's k nearest (or i among j's) and at most `maxDistance` away.
        case knn
        /// Sides of the Delaunay triangulation (see `Delaunay` for degenerate input).
        case delaunay
        /// Every pair at most `radius` apart.
        case radius
        /// Euclidean minimum spanning tree (a forest of single nodes when only duplicates).
        case mst
    }

    public let kind: Kind
    /// Node positions as given (level-0 px).
    public let positions: [SIMD2<Double>]
    public let micronsPerPixel: Double
    /// Undirected edges, i < j, sorted by (i, j).
    public let edges: [SIMD2<Int32>]
    /// Euclidean length of each edge in µm.
    public let lengths: [Double]
    /// The builder's parameters (k, max_distance_um, radius_um), for provenance.
    public let parameters: [String: Double]

    public var nodeCount: Int { positions.count }
    public var edgeCount: Int { edges.count }

    init(kind: Kind, positions: [SIMD2<Double>], micronsPerPixel: Double, edges: [SIMD2<Int32>], parameters: [String: Double]) {
        self.kind = kind
        self.positions = positions
        self.micronsPerPixel = micronsPerPixel
        self.edges = edges
        self.parameters = parameters
        lengths = edges.map { e in
            let d = positions[Int(e.x)] - positions[Int(e.y)]
            return (d * d).sum().squareRoot() * micronsPerPixel
        }
    }

    /// kNN graph with HistoCartography's defaults: k = 5 and a 25 µm cut-off (its `thresh=50` px at
    /// 0.5 µm/px). HistoCartography keeps the directed edges i → kNN(i); this graph is their
    /// undirected union. Zero-length edges (duplicate nuclei) are kept.
    public static func knn(positions: [SIMD2<Double>], micronsPerPixel: Double, k: Int = 5,
                           maxDistance: Double? = 25) -> CellGraph {
        precondition(k >= 0, "CellGraph.knn: k must be ≥ 0 (got \(k))")
        let micron = scaled(positions, micronsPerPixel)
        let rows = micron.withUnsafeBufferPointer { KDTree($0) }.nearestNeighbours(k: k, maxDistance: maxDistance)
        var pairs: [SIMD2<Int32>] = []
        pairs.reserveCapacity(rows.indices.count)
        for i in 0..<positions.count {
            for j in 0..<k {
                let nb = rows.indices[i * k + j]
                if nb >= 0 { pairs.append(SIMD2(Int32(i), nb)) }
            }
        }
        var params = ["k": Double(k)]
        if let maxDistance { params["max_distance_um"] = maxDistance }
        return CellGraph(kind: .knn, positions: positions, micronsPerPixel: micronsPerPixel,
                         edges: EdgeSet.canonical(pairs, nodeCount: positions.count), parameters: params)
    }

    /// Delaunay graph (triangle sides; a path for collinear nuclei; duplicates hang off their
    /// representative by a zero-length edge).
    public static func delaunay(positions: [SIMD2<Double>], micronsPerPixel: Double) -> CellGraph {
        delaunay(Delaunay(points: positions), positions: positions, micronsPerPixel: micronsPerPixel)
    }

    /// Delaunay graph from a triangulation already computed for `positions`.
    public static func delaunay(_ d: Delaunay, positions: [SIMD2<Double>], micronsPerPixel: Double) -> CellGraph {
        precondition(d.pointCount == positions.count, "CellGraph.delaunay: triangulation of \(d.pointCount) points for \(positions.count) positions")
        return CellGraph(kind: .delaunay, positions: positions, micronsPerPixel: micronsPerPixel, edges: d.edges, parameters: [:])
    }

    /// Radius graph: every pair of nuclei at most `radius` µm apart.
    public static func radius(positions: [SIMD2<Double>], micronsPerPixel: Double, radius: Double) -> CellGraph {
        precondition(radius >= 0 && radius.isFinite, "CellGraph.radius: radius must be finite and ≥ 0 (got \(radius))")
        let micron = scaled(positions, micronsPerPixel)
        let tree = micron.withUnsafeBufferPointer { KDTree($0) }
        let n = positions.count, m = tree.count
        // Each chunk collects its own (i < j) pairs; chunks are concatenated in order.
        let chunks = max(1, min(64, m / 4096))
        var parts = [[SIMD2<Int32>]](repeating: [], count: chunks)
        parts.withUnsafeMutableBufferPointer { pB in
            let pp = pB.baseAddress!
            DispatchQueue.concurrentPerform(iterations: chunks) { c in
                var local: [SIMD2<Int32>] = []
                for s in (m * c / chunks)..<(m * (c + 1) / chunks) {
                    let (q, i) = tree.slot(s)
                    tree.withinRadius(q, radius: radius, skip: i) { j, _ in if i < j { local.append(SIMD2(i, j)) } }
                }
                pp[c] = local
            }
        }
        return CellGraph(kind: .radius, positions: positions, micronsPerPixel: micronsPerPixel,
                         edges: EdgeSet.canonical(parts.flatMap { $0 }, nodeCount: n), parameters: ["radius_um": radius])
    }

    /// Euclidean minimum spanning tree (Kruskal on the Delaunay edges, which contain it); ties by
    /// edge order. n − 1 edges for n ≥ 1 nuclei (zero-length ones join duplicates).
    public static func minimumSpanningTree(positions: [SIMD2<Double>], micronsPerPixel: Double) -> CellGraph {
        let d = delaunay(positions: positions, micronsPerPixel: micronsPerPixel)
        let keep = spanningForest(d.edges, d.lengths, nodeCount: positions.count)
        return CellGraph(kind: .mst, positions: positions, micronsPerPixel: micronsPerPixel,
                         edges: keep.map { d.edges[$0] }.sorted { $0.x != $1.x ? $0.x < $1.x : $0.y < $1.y }, parameters: [:])
    }

    /// Both directions of every edge, sorted by (source, target): PyTorch Geometric's `edge_index`
    /// rows and the matching per-direction lengths.
    public func directedEdges() -> (sources: [Int32], targets: [Int32], lengths: [Double]) {
        let adj = Adjacency(edges, nodeCount: nodeCount, lengths: lengths)
        var s = [Int32](repeating: 0, count: adj.neighbours.count)
        for i in 0..<nodeCount { for k in adj.offsets[i]..<adj.offsets[i + 1] { s[k] = Int32(i) } }
        return (s, adj.neighbours, adj.weights)
    }

    /// Node degrees.
    public func degrees() -> [Int] {
        var d = [Int](repeating: 0, count: nodeCount)
        for e in edges { d[Int(e.x)] += 1; d[Int(e.y)] += 1 }
        return d
    }

    static func scaled(_ p: [SIMD2<Double>], _ mpp: Double) -> [SIMD2<Double>] {
        precondition(mpp > 0 && mpp.isFinite, "CellGraph: micronsPerPixel must be finite and > 0 (got \(mpp)); pass 1 to work in pixels")
        return mpp == 1 ? p : p.map { $0 * mpp }
    }
}

/// Kruskal: indices of the edges of a minimum spanning forest, by ascending length (ties by index).
func spanningForest(_ edges: [SIMD2<Int32>], _ lengths: [Double], nodeCount n: Int) -> [Int] {
    struct Key { var length: Double; var index: Int }
    var order = (0..<edges.count).map { Key(length: lengths[$0], index: $0) }
    order.sort { $0.length != $1.length ? $0.length < $1.length : $0.index < $1.index }
    var keep: [Int] = []
    keep.reserveCapacity(max(0, n - 1))
    var parent = Array(0..<n)
    parent.withUnsafeMutableBufferPointer { par in
        func find(_ x: Int) -> Int {
            var r = x
            while par[r] != r { r = par[r] }
            var y = x
            while par[y] != r { let nx = par[y]; par[y] = r; y = nx }
            return r
        }
        for key in order {
            let e = edges[key.index]
            let a = find(Int(e.x)), b = find(Int(e.y))
            if a != b { par[max(a, b)] = min(a, b); keep.append(key.index) }
            if keep.count == n - 1 { break }
        }
    }
    return keep
}

/// Compressed adjacency (both directions) with each row sorted.
struct Adjacency {
    var offsets: [Int]
    var neighbours: [Int32]
    var weights: [Double]

    init(_ edges: [SIMD2<Int32>], nodeCount n: Int, lengths: [Double]? = nil) {
        var off = [Int](repeating: 0, count: n + 1)
        for e in edges { off[Int(e.x) + 1] += 1; off[Int(e.y) + 1] += 1 }
        for i in 0..<n { off[i + 1] += off[i] }
        var fill = off
        var nb = [Int32](repeating: 0, count: off[n])
        var w = [Double](repeating: 0, count: lengths == nil ? 0 : off[n])
        // Edges are sorted by (i, j) with i < j: filling both ends in that order leaves each row
        // sorted (smaller neighbours arrive as second ends of earlier edges).
        for (k, e) in edges.enumerated() {
            let a = Int(e.x), b = Int(e.y)
            nb[fill[a]] = e.y; nb[fill[b]] = e.x
            if let lengths { w[fill[a]] = lengths[k]; w[fill[b]] = lengths[k] }
            fill[a] += 1; fill[b] += 1
        }
        offsets = off; neighbours = nb; weights = w
    }
}
