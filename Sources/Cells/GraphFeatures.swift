import Foundation

/// Settings of the global cell-graph features.
public struct GraphFeatureOptions: Sendable, Equatable {
    /// Radii (µm) for the neighbour counts; HistomicsTK's default is 10…50 (in its input units).
    public var neighbourRadii: [Double] = [10, 20, 30, 40, 50]
    /// Neighbour ranks for the distance-to-k-th-neighbour statistics (HistomicsTK: 3, 5, 7).
    public var neighbourCounts: [Int] = [3, 5, 7]
    /// kNN graph behind the degree, clustering and edge-length statistics.
    public var knnK = 5
    /// kNN cut-off in µm (nil: none).
    public var knnMaxDistance: Double? = 25
    /// Which Voronoi cells are measured; a `.region` is given in level-0 px like the positions.
    public var voronoi: VoronoiClip = .boundedOnly
    /// HistomicsTK's iterative 3-sigma outlier removal for the Voronoi, Delaunay, MST and density
    /// families (the kNN statistics are never trimmed).
    public var trimOutliers = true

    public init() {}
}

/// One graph feature: its column name, unit and meaning (the data dictionary is built from these).
public struct GraphFeatureDefinition: Sendable, Equatable {
    public let name: String
    public let unit: String
    public let description: String
    /// A statistic over a population (0 when the population is empty) rather than a count.
    public let isStatistic: Bool
}

/// Values of the global cell-graph features, in the order of `GraphFeatures.definitions`.
public struct GraphFeatureSet: Sendable {
    public let names: [String]
    public let values: [Double]
    /// How many items each value summarises (cells, edges, nuclei; 1 for whole-graph scalars).
    /// A statistic over 0 items is reported as 0; callers that prefer "undefined" test this.
    public let populations: [Int]

    public subscript(name: String) -> Double? {
        names.firstIndex(of: name).map { values[$0] }
    }
}

/// Global cell-graph features in the spirit of HistomicsTK's
/// `compute_global_cell_graph_features`, plus kNN-graph degree, clustering and edge statistics.
///
/// Name mapping to HistomicsTK (whose columns end in mean, stddev, min_max_ratio, disorder):
/// `voronoi_area_*`, `voronoi_peri_*`, `voronoi_max_dist_*`, `delaunay_sides_*`,
/// `delaunay_area_*`, `mst_branches_*` keep its names; its `density_neighbors_in_distance_<i>_*`
/// (i-th sorted radius) is `density_neighbors_in_distance_<r>um_*` here and its
/// `density_distance_for_neighbors_<i>_*` is `density_distance_for_neighbors_<k>_*`. Every
/// population also gets `_min` and `_max`. Differences from HistomicsTK, all by design: geometry
/// families use distinct positions (a duplicate nucleus adds nothing to Voronoi, Delaunay or MST);
/// degenerate input (fewer than 3 nuclei, collinear nuclei) gives zeros with population 0 where
/// HistomicsTK raises; nuclei with fewer than k others are left out of the k-th-neighbour
/// statistic where HistomicsTK would give infinity.
public enum GraphFeatures {
    static let statsDescriptions = [
        "mean": "mean", "stddev": "standard deviation (population)", "min": "minimum", "max": "maximum",
        "min_max_ratio": "minimum / maximum (0 when the maximum is 0)",
        "disorder": "disorder, std / (mean + std) (0 when both are 0)",
    ]

    /// Column definitions for `options`, in output order.
    public static func definitions(_ options: GraphFeatureOptions = .init()) -> [GraphFeatureDefinition] {
        var defs: [GraphFeatureDefinition] = []
        let trimNote = options.trimOutliers ? " (3-sigma trimmed as in HistomicsTK)" : ""
        func stats(_ stem: String, _ unit: String, _ what: String, trimmed: Bool = true) {
            for s in PopulationStats.suffixes {
                let u = (s == "min_max_ratio" || s == "disorder") ? "ratio" : unit
                defs.append(GraphFeatureDefinition(name: "\(stem)_\(s)", unit: u, description: "\(statsDescriptions[s]!) of \(what)\(trimmed ? trimNote : "")",
                                                   isStatistic: true))
            }
        }
        func scalar(_ name: String, _ unit: String, _ what: String) {
            defs.append(GraphFeatureDefinition(name: name, unit: unit, description: what, isStatistic: false))
        }
        scalar("nodes", "count", "number of nuclei in the graph")
        scalar("distinct_nodes", "count", "number of distinct nucleus positions (duplicates counted once)")
        scalar("hull_area", "um2", "area of the convex hull of the nuclei (0 when fewer than 3 non-collinear)")
        scalar("hull_density_per_mm2", "1/mm2", "nuclei per mm² of convex hull (0 when the hull has no area)")
        let cells: String
        switch options.voronoi {
        case .boundedOnly: cells = "bounded Voronoi cells (nuclei off the convex hull, unclipped, as HistomicsTK)"
        case .convexHull: cells = "Voronoi cells clipped to the convex hull of the nuclei"
        case .region: cells = "Voronoi cells clipped to the given region"
        }
        scalar("voronoi_cells", "count", "number of \(cells)")
        stats("voronoi_area", "um2", "the areas of the Voronoi cells")
        stats("voronoi_peri", "um", "the perimeters of the Voronoi cells")
        stats("voronoi_max_dist", "um", "each Voronoi cell's largest vertex-to-vertex distance")
        scalar("delaunay_edges", "count", "number of Delaunay triangulation sides between distinct nuclei")
        stats("delaunay_sides", "um", "Delaunay side lengths (each side once)")
        scalar("delaunay_triangles", "count", "number of Delaunay triangles")
        stats("delaunay_area", "um2", "Delaunay triangle areas")
        scalar("mst_edges", "count", "number of edges of the Euclidean minimum spanning tree (distinct nuclei)")
        stats("mst_branches", "um", "minimum spanning tree edge lengths")
        for r in options.neighbourRadii.sorted() {
            stats("density_neighbors_in_distance_\(radiusLabel(r))um", "count",
                  "the number of other nuclei within \(radiusLabel(r)) µm (inclusive) of each nucleus")
        }
        for k in options.neighbourCounts.sorted() {
            stats("density_distance_for_neighbors_\(k)", "um",
                  "the distance from each nucleus to its \(ordinal(k)) nearest other nucleus (nuclei with fewer than \(k) others left out)")
        }
        let knnWhat = "the kNN graph (k = \(options.knnK)\(options.knnMaxDistance.map { ", edges ≤ \(radiusLabel($0)) µm" } ?? ""), undirected union)"
        scalar("knn_edges", "count", "number of undirected edges of \(knnWhat)")
        stats("knn_degree", "count", "node degrees in \(knnWhat)", trimmed: false)
        stats("knn_clustering", "ratio", "local clustering coefficients (networkx `clustering`; 0 for degree < 2) in \(knnWhat)", trimmed: false)
        stats("knn_edge_length", "um", "edge lengths of \(knnWhat)", trimmed: false)
        return defs
    }

    /// Column names for `options`, in output order.
    public static func names(_ options: GraphFeatureOptions = .init()) -> [String] { definitions(options).map(\.name) }

    /// Computes every feature for nuclei at `positions` (level-0 px) on a slide with
    /// `micronsPerPixel` (pass 1 to work in pixels: µm in names and units then mean px).
    public static func compute(positions: [SIMD2<Double>], micronsPerPixel: Double,
                               options: GraphFeatureOptions = .init()) -> GraphFeatureSet {
        let p = CellGraph.scaled(positions, micronsPerPixel)
        let n = p.count
        var values: [Double] = [], pops: [Int] = []
        func scalar(_ v: Double, _ pop: Int = 1) { values.append(v); pops.append(pop) }
        func stats(_ v: [Double], trim: Bool) {
            let s = PopulationStats(v, trim: trim)
            values.append(contentsOf: s.values)
            pops.append(contentsOf: Array(repeating: s.count, count: PopulationStats.suffixes.count))
        }
        let trim = options.trimOutliers
        let d = Delaunay(points: p)
        let distinct = d.representative.enumerated().filter { $0.element == Int32($0.offset) && p[$0.offset].x.isFinite && p[$0.offset].y.isFinite }.count
        let hullArea = d.triangles.isEmpty ? 0 : abs(polygonSignedArea(d.hull.map { p[Int($0)] }))
        scalar(Double(n)); scalar(Double(distinct)); scalar(hullArea)
        scalar(hullArea > 0 ? Double(n) / hullArea * 1e6 : 0)

        // Voronoi (distinct nuclei).
        var clip = options.voronoi
        if case .region(let r) = clip, micronsPerPixel != 1, let scaled = try? ConvexRegion(r.vertices.map { $0 * micronsPerPixel }) {
            clip = .region(scaled)
        }
        let cells = VoronoiCells(positions: p, delaunay: d, clip: clip)
        var va: [Double] = [], vp: [Double] = [], vm: [Double] = []
        for i in 0..<n where cells.included[i] { va.append(cells.areas[i]); vp.append(cells.perimeters[i]); vm.append(cells.maxDistances[i]) }
        scalar(Double(va.count), 1)
        stats(va, trim: trim); stats(vp, trim: trim); stats(vm, trim: trim)

        // Delaunay sides between distinct nuclei, triangle areas.
        let rep = d.representative
        var sides: [Double] = [], sideEdges: [SIMD2<Int32>] = []
        for e in d.edges where rep[Int(e.x)] == e.x && rep[Int(e.y)] == e.y {
            sideEdges.append(e); sides.append(simd2Length(p[Int(e.x)] - p[Int(e.y)]))
        }
        scalar(Double(sides.count)); stats(sides, trim: trim)
        var triAreas: [Double] = []
        triAreas.reserveCapacity(d.triangleCount)
        for t in 0..<d.triangleCount {
            let a = p[Int(d.triangles[3 * t])], b = p[Int(d.triangles[3 * t + 1])], c = p[Int(d.triangles[3 * t + 2])]
            triAreas.append(abs(0.5 * cross2(b - a, c - a)))
        }
        scalar(Double(triAreas.count)); stats(triAreas, trim: trim)

        // Minimum spanning tree over the distinct nuclei's Delaunay sides.
        let mst = spanningForest(sideEdges, sides, nodeCount: n).map { sides[$0] }
        scalar(Double(mst.count)); stats(mst, trim: trim)

        // Density: neighbour counts within radii and distance to the k-th neighbour (all nuclei).
        let tree = p.withUnsafeBufferPointer { KDTree($0) }
        let radii = options.neighbourRadii.sorted()
        var counts = [[Double]](repeating: [Double](repeating: 0, count: n), count: radii.count)
        if let rmax = radii.last, n > 0 {
            let r2 = radii.map { $0 * $0 }
            var flat = [Int32](repeating: 0, count: n * radii.count)
            flat.withUnsafeMutableBufferPointer { fB in
                let f = fB.baseAddress!
                parallelChunks(tree.count, minPerChunk: 256) { range in
                    for s in range {
                        let (q, i) = tree.slot(s)
                        let row = f + Int(i) * radii.count
                        tree.withinRadius(q, radius: rmax, skip: i) { _, dd in
                            for k in 0..<r2.count where dd <= r2[k] { row[k] += 1 }
                        }
                    }
                }
            }
            for k in 0..<radii.count { for i in 0..<n { counts[k][i] = Double(flat[i * radii.count + k]) } }
        }
        for k in 0..<radii.count { stats(counts[k], trim: trim) }
        let ranks = options.neighbourCounts.sorted()
        let kmax = ranks.last ?? 0
        let nn = tree.nearestNeighbours(k: kmax, maxDistance: nil)
        for k in ranks {
            var dist: [Double] = []
            if k >= 1 && n > k { dist = (0..<n).map { nn.distances[$0 * kmax + k - 1] }.filter(\.isFinite) }
            stats(dist, trim: trim)
        }

        // kNN graph: degree, clustering, edge length.
        let g = CellGraph.knn(positions: positions, micronsPerPixel: micronsPerPixel, k: options.knnK,
                              maxDistance: options.knnMaxDistance)
        let adj = Adjacency(g.edges, nodeCount: n)
        var degree = [Double](repeating: 0, count: n), clustering = [Double](repeating: 0, count: n)
        adj.offsets.withUnsafeBufferPointer { off in
        adj.neighbours.withUnsafeBufferPointer { nb in
        degree.withUnsafeMutableBufferPointer { dB in
        clustering.withUnsafeMutableBufferPointer { cB in
            let dp = dB.baseAddress!, cp = cB.baseAddress!
            parallelChunks(n, minPerChunk: 4096) { range in
                for v in range {
                    dp[v] = Double(off[v + 1] - off[v])
                    cp[v] = localClustering(off, nb, v)
                }
            }
        }}}}
        scalar(Double(g.edgeCount))
        stats(degree, trim: false); stats(clustering, trim: false); stats(g.lengths, trim: false)

        let names = names(options)
        precondition(names.count == values.count, "GraphFeatures: \(names.count) names for \(values.count) values (internal error)")
        return GraphFeatureSet(names: names, values: values, populations: pops)
    }

    /// networkx's clustering of an unweighted undirected node: 2·T / (d·(d − 1)), T the edges among
    /// its neighbours (sorted rows make each count a merge).
    static func localClustering(_ adj: Adjacency, _ v: Int) -> Double {
        adj.offsets.withUnsafeBufferPointer { off in adj.neighbours.withUnsafeBufferPointer { localClustering(off, $0, v) } }
    }

    @inline(__always)
    static func localClustering(_ off: UnsafeBufferPointer<Int>, _ nb: UnsafeBufferPointer<Int32>, _ v: Int) -> Double {
        let lo = off[v], hi = off[v + 1], deg = hi - lo
        guard deg >= 2 else { return 0 }
        var links = 0
        for k in lo..<hi {
            let u = Int(nb[k])
            var a = lo, b = off[u]
            let bEnd = off[u + 1]
            while a < hi && b < bEnd {
                let x = nb[a], y = nb[b]
                if x == y { links += 1; a += 1; b += 1 } else if x < y { a += 1 } else { b += 1 }
            }
        }
        // Each neighbour-neighbour edge was seen from both ends.
        return Double(links) / Double(deg * (deg - 1))
    }

    /// "10" for 10.0, "2.5" for 2.5 (names stay readable).
    static func radiusLabel(_ r: Double) -> String {
        r == r.rounded() && abs(r) < 1e15 ? String(Int(r)) : String(format: "%g", r)
    }

    private static func ordinal(_ k: Int) -> String {
        let suffix = (k % 100 >= 11 && k % 100 <= 13) ? "th" : (k % 10 == 1 ? "st" : k % 10 == 2 ? "nd" : k % 10 == 3 ? "rd" : "th")
        return "\(k)\(suffix)"
    }
}
