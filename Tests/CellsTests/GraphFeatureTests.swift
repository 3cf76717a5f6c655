import Foundation
import XCTest
@testable import Cells
import TestSupport

/// Global cell-graph features against HistomicsTK's definitions (its
/// `_compute_global_cell_graph_features` and `_pop_stats` re-stated in numpy/scipy, since
/// HistomicsTK itself is not a test dependency) and networkx for the kNN extras.
final class GraphFeatureTests: XCTestCase {
    /// The HistomicsTK computation on µm centroids, with min and max added to its statistics.
    private static let histomicsScript = """
    from scipy.spatial import Voronoi, cKDTree
    from scipy import sparse
    from scipy.sparse.csgraph import minimum_spanning_tree
    from scipy.spatial.distance import pdist
    import networkx as nx

    def pop_stats(pop, trim=True):
        pop = np.asarray(pop, dtype=float)
        if pop.size == 0:
            return [0.0] * 6
        while True:
            mean = pop.mean(); std = pop.std()
            if not trim: break
            mask = abs(pop - mean) <= 3 * std
            if mask.all(): break
            pop = pop[mask]
        mn, mx = pop.min(), pop.max()
        return [mean, std, mn, mx, mn / mx if mx else 0.0, std / (mean + std) if mean + std else 0.0]

    def area(v):
        return abs(0.5 * np.sum(v[:, 0] * np.roll(v[:, 1], -1) - np.roll(v[:, 0], -1) * v[:, 1]))

    def peri(v):
        return np.sqrt(((v - np.roll(v, -1, axis=0)) ** 2).sum(1)).sum()

    c = load('pts')
    vor = Voronoi(c); V = vor.vertices
    regions = [r for r in vor.regions if r and -1 not in r]
    out = {}
    for name, vals in [('voronoi_area', [area(V[r]) for r in regions]),
                       ('voronoi_peri', [peri(V[r]) for r in regions]),
                       ('voronoi_max_dist', [pdist(V[r]).max() for r in regions])]:
        out[name] = pop_stats(vals)
    rl = np.sqrt(((c[vor.ridge_points[:, 0]] - c[vor.ridge_points[:, 1]]) ** 2).sum(1))
    out['delaunay_sides'] = pop_stats(rl)
    tris = [[] for _ in V]
    for p, ri in enumerate(vor.point_region):
        for vi in vor.regions[ri]:
            if vi != -1: tris[vi].append(p)
    assert all(len(t) == 3 for t in tris)
    out['delaunay_area'] = pop_stats([area(c[t]) for t in tris])
    g = sparse.coo_matrix((rl, np.sort(vor.ridge_points).T), (len(c), len(c)))
    m = minimum_spanning_tree(g)
    out['mst_branches'] = pop_stats(m.data[m.data != 0])
    t = cKDTree(c)
    for r in [10, 20, 30, 40, 50]:
        out[f'density_neighbors_in_distance_{r}um'] = pop_stats(np.array([len(x) for x in t.query_ball_tree(t, r)]) - 1)
    d = t.query(c, [4, 6, 8])[0].T
    for k, col in zip([3, 5, 7], d):
        out[f'density_distance_for_neighbors_{k}'] = pop_stats(col)
    # kNN extras (k = 5, <= 25 um, undirected union), untrimmed.
    dd, ii = t.query(c, k=6)
    G = nx.Graph(); G.add_nodes_from(range(len(c)))
    for a in range(len(c)):
        for x, b in zip(dd[a, 1:], ii[a, 1:]):
            if x <= 25: G.add_edge(a, int(b))
    cl = nx.clustering(G)
    out['knn_degree'] = pop_stats([G.degree(a) for a in range(len(c))], trim=False)
    out['knn_clustering'] = pop_stats([cl[a] for a in range(len(c))], trim=False)
    out['knn_edge_length'] = pop_stats([np.linalg.norm(c[a] - c[b]) for a, b in G.edges()], trim=False)
    out['knn_edges'] = G.number_of_edges()
    out['voronoi_cells'] = len(regions)
    emit({k: (v if isinstance(v, int) else [float(x) for x in v]) for k, v in out.items()})
    """

    /// Every HistomicsTK-family statistic within 1e-9 relative (1e-12 absolute near 0); kNN extras
    /// the same against networkx.
    func testMatchesHistomicsTKDefinitions() throws {
        var rng = SeededRNG(20)
        let mpp = 0.5
        // Nuclei-like spacing: jittered grid of ~9 µm plus clusters.
        var pts: [SIMD2<Double>] = []
        for y in 0..<30 { for x in 0..<30 {
            pts.append(SIMD2(Double(x) * 18 + gaussian(&rng) * 4, Double(y) * 18 + gaussian(&rng) * 4))
        } }
        for _ in 0..<300 { pts.append(SIMD2(250 + gaussian(&rng) * 40, 250 + gaussian(&rng) * 40)) }
        let set = GraphFeatures.compute(positions: pts, micronsPerPixel: mpp)
        let peer = try GraphPeer(self)
        try peer.put("pts", pts.map { $0 * mpp })
        let ref = try peer.run(Self.histomicsScript)
        var checked = 0
        for (stem, value) in ref {
            if let scalar = value as? Int {
                XCTAssertEqual(set[stem], Double(scalar), stem)
                checked += 1
                continue
            }
            let v = value as! [Double]
            for (s, r) in zip(PopulationStats.suffixes, v) {
                let name = "\(stem)_\(s)"
                guard let ours = set[name] else { XCTFail("missing \(name)"); continue }
                XCTAssertEqual(ours, r, accuracy: max(1e-12, 1e-9 * abs(r)), name)
                checked += 1
            }
        }
        XCTAssertEqual(checked, 2 + 17 * 6, "every reference value compared")
        XCTAssertEqual(set["nodes"], Double(pts.count))
        XCTAssertEqual(set.names, GraphFeatures.names())
        XCTAssertTrue(set.values.allSatisfy(\.isFinite))
    }

    /// Untrimmed statistics equal plain numpy statistics (the trimming switch does what it says).
    func testUntrimmedStatistics() {
        let values: [Double] = [1, 2, 3, 4, 100]
        let t = PopulationStats(values, trim: true), u = PopulationStats(values, trim: false)
        XCTAssertEqual(u.mean, 22, accuracy: 1e-12)
        XCTAssertEqual(u.max, 100)
        XCTAssertEqual(u.stddev, (values.map { ($0 - 22) * ($0 - 22) }.reduce(0, +) / 5).squareRoot(), accuracy: 1e-12)
        // 100 lies 2 std from the mean of five values, so the 3-std rule keeps it (HistomicsTK too).
        XCTAssertEqual(t, u)
        let many = [Double](repeating: 1, count: 30) + [50]
        let tm = PopulationStats(many, trim: true)
        XCTAssertEqual(tm.max, 1); XCTAssertEqual(tm.stddev, 0); XCTAssertEqual(tm.disorder, 0); XCTAssertEqual(tm.count, 31)
    }

    /// 0, 1, 2, collinear and duplicate nuclei: finite values, zero statistics where a population
    /// is empty, counts telling which.
    func testDegenerateInputsGiveFiniteDocumentedValues() {
        let p = SIMD2(100.0, 100.0)
        let cases: [(String, [SIMD2<Double>])] = [
            ("empty", []), ("one", [p]), ("two", [p, p + SIMD2(10, 0)]),
            ("collinear", (0..<8).map { p + SIMD2(Double($0) * 12, Double($0) * 5) }),
            ("duplicates", [p, p, p, p]),
            ("square", [p, p + SIMD2(20, 0), p + SIMD2(20, 20), p + SIMD2(0, 20)]),
            ("non-finite", [SIMD2(.nan, 1), p, SIMD2(2, .infinity)]),
        ]
        for (label, pts) in cases {
            for clip in [VoronoiClip.boundedOnly, .convexHull] {
                var o = GraphFeatureOptions(); o.voronoi = clip
                let s = GraphFeatures.compute(positions: pts, micronsPerPixel: 0.5, options: o)
                XCTAssertEqual(s.values.count, GraphFeatures.names(o).count, label)
                XCTAssertTrue(s.values.allSatisfy(\.isFinite), "\(label): \(zip(s.names, s.values).filter { !$0.1.isFinite })")
                XCTAssertEqual(s["nodes"], Double(pts.count), label)
                XCTAssertEqual(s["voronoi_cells"], label == "square" && clip == .convexHull ? 4 : 0, label)
                if s["voronoi_cells"] == 0 { XCTAssertEqual(s["voronoi_area_mean"], 0, label) }
            }
        }
        let dup = GraphFeatures.compute(positions: [p, p, p, p], micronsPerPixel: 1)
        XCTAssertEqual(dup["distinct_nodes"], 1)
        XCTAssertEqual(dup["mst_edges"], 0)
        XCTAssertEqual(dup["density_neighbors_in_distance_10um_mean"], 3)  // duplicates are neighbours at 0
        XCTAssertEqual(dup["knn_degree_mean"], 3)
        let line = GraphFeatures.compute(positions: (0..<8).map { p + SIMD2(Double($0) * 12, 0) }, micronsPerPixel: 1)
        XCTAssertEqual(line["delaunay_edges"], 7); XCTAssertEqual(line["delaunay_triangles"], 0)
        XCTAssertEqual(line["mst_branches_mean"], 12); XCTAssertEqual(line["hull_area"], 0)
    }

    /// Names are unique and the definitions carry a unit and a description each.
    func testDefinitions() {
        var o = GraphFeatureOptions()
        o.neighbourRadii = [7.5, 15]
        let defs = GraphFeatures.definitions(o)
        XCTAssertEqual(Set(defs.map(\.name)).count, defs.count)
        XCTAssertTrue(defs.contains { $0.name == "density_neighbors_in_distance_7.5um_disorder" })
        XCTAssertTrue(defs.allSatisfy { !$0.unit.isEmpty && !$0.description.isEmpty })
    }
}
