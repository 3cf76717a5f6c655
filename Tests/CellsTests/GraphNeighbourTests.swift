import Foundation
import XCTest
@testable import Cells
import TestSupport

/// kNN, radius and MST graphs against scipy.spatial.cKDTree / scipy.sparse.csgraph, clustering
/// against networkx.
final class GraphNeighbourTests: XCTestCase {
    private func clusteredPoints(_ seed: UInt64, _ n: Int) -> [SIMD2<Double>] {
        var rng = SeededRNG(seed)
        var pts: [SIMD2<Double>] = []
        let centres = (0..<8).map { _ in SIMD2(Double.random(in: 0..<3000, using: &rng), Double.random(in: 0..<3000, using: &rng)) }
        for i in 0..<n {
            if i % 10 == 0 {
                pts.append(SIMD2(Double.random(in: 0..<3000, using: &rng), Double.random(in: 0..<3000, using: &rng)))
            } else {
                pts.append(centres[i % 8] + SIMD2(gaussian(&rng) * 80, gaussian(&rng) * 80))
            }
        }
        return pts
    }

    /// k nearest neighbours: same indices as cKDTree.query (random reals have no ties) and distances
    /// within 1e-12 relative.
    func testNearestNeighboursMatchCKDTree() throws {
        let pts = clusteredPoints(10, 4000)
        let tree = pts.withUnsafeBufferPointer { KDTree($0) }
        let k = 7
        let ours = tree.nearestNeighbours(k: k, maxDistance: nil)
        let peer = try GraphPeer(self)
        try peer.put("pts", pts)
        let out = try peer.run("""
        from scipy.spatial import cKDTree
        p = load('pts'); d, i = cKDTree(p).query(p, k=\(k + 1))
        emit({'i': i[:, 1:].ravel().tolist(), 'd': d[:, 1:].ravel().tolist()})
        """)
        let ri = out["i"] as! [Int], rd = out["d"] as! [Double]
        XCTAssertEqual(ours.indices.map(Int.init), ri)
        for j in rd.indices { XCTAssertEqual(ours.distances[j], rd[j], accuracy: 1e-12 * max(1, rd[j])) }
    }

    /// Thresholded kNN graph (undirected union), radius graph and local clustering coefficients.
    func testKNNAndRadiusGraphsMatchScipyAndNetworkx() throws {
        let mpp = 0.5
        let pts = clusteredPoints(11, 3000)
        let knn = CellGraph.knn(positions: pts, micronsPerPixel: mpp, k: 5, maxDistance: 25)
        let radius = CellGraph.radius(positions: pts, micronsPerPixel: mpp, radius: 12)
        let adj = Adjacency(knn.edges, nodeCount: pts.count)
        let clustering = (0..<pts.count).map { GraphFeatures.localClustering(adj, $0) }
        let peer = try GraphPeer(self)
        try peer.put("pts", pts.map { $0 * mpp })
        let out = try peer.run("""
        from scipy.spatial import cKDTree
        import networkx as nx
        p = load('pts'); t = cKDTree(p)
        d, i = t.query(p, k=6)
        G = nx.Graph(); G.add_nodes_from(range(len(p)))
        for a in range(len(p)):
            for dd, b in zip(d[a, 1:], i[a, 1:]):
                if dd <= 25: G.add_edge(a, int(b))
        knn = sorted((min(a, b), max(a, b)) for a, b in G.edges())
        rad = sorted(t.query_pairs(12.0))
        cl = nx.clustering(G)
        emit({'knn': [list(e) for e in knn], 'rad': [list(e) for e in rad], 'cl': [cl[a] for a in range(len(p))]})
        """)
        XCTAssertEqual(knn.edges.map { [Int($0.x), Int($0.y)] }, out["knn"] as! [[Int]], "kNN union edges")
        XCTAssertEqual(radius.edges.map { [Int($0.x), Int($0.y)] }, out["rad"] as! [[Int]], "radius edges")
        let cl = out["cl"] as! [Double]
        for v in cl.indices { XCTAssertEqual(clustering[v], cl[v], accuracy: 1e-12, "clustering of \(v)") }
        XCTAssertTrue(knn.lengths.allSatisfy { $0 <= 25 })
        XCTAssertGreaterThan(knn.edgeCount, 3000)
        // Both directions for PyG: every edge twice, sorted by source.
        let dir = knn.directedEdges()
        XCTAssertEqual(dir.sources.count, 2 * knn.edgeCount)
        let keys: [Int64] = zip(dir.sources, dir.targets).map { (s: Int32, t: Int32) -> Int64 in Int64(s) << 32 | Int64(t) }
        XCTAssertEqual(keys, keys.sorted(), "directed edges sorted by (source, target)")
        XCTAssertEqual(Set(keys).count, keys.count)
    }

    /// The Euclidean MST from Delaunay edges equals scipy's MST of the complete distance graph
    /// (total within 1e-9 relative, same sorted lengths within 1e-9).
    func testMinimumSpanningTreeMatchesCompleteGraphMST() throws {
        let pts = clusteredPoints(12, 900)
        let mst = CellGraph.minimumSpanningTree(positions: pts, micronsPerPixel: 1)
        XCTAssertEqual(mst.edgeCount, pts.count - 1)
        let peer = try GraphPeer(self)
        try peer.put("pts", pts)
        let out = try peer.run("""
        from scipy.sparse.csgraph import minimum_spanning_tree
        from scipy.spatial.distance import squareform, pdist
        m = minimum_spanning_tree(squareform(pdist(load('pts'))))
        emit({'w': sorted(m.data.tolist())})
        """)
        let ref = out["w"] as! [Double], ours = mst.lengths.sorted()
        XCTAssertEqual(ours.count, ref.count)
        for j in ref.indices { XCTAssertEqual(ours[j], ref[j], accuracy: 1e-9 * max(1, ref[j])) }
    }

    func testDegenerateGraphs() {
        let p = SIMD2(5.0, 5.0)
        let cases: [[SIMD2<Double>]] = [[], [p], [p, p], [p, p + SIMD2(3, 4)], (0..<6).map { SIMD2(Double($0), 2 * Double($0)) }]
        for pts in cases {
            for g in [CellGraph.knn(positions: pts, micronsPerPixel: 1), CellGraph.delaunay(positions: pts, micronsPerPixel: 1),
                      CellGraph.radius(positions: pts, micronsPerPixel: 1, radius: 10),
                      CellGraph.minimumSpanningTree(positions: pts, micronsPerPixel: 1)] {
                XCTAssertEqual(g.nodeCount, pts.count)
                XCTAssertTrue(g.lengths.allSatisfy { $0.isFinite && $0 >= 0 }, "\(g.kind)")
                XCTAssertTrue(g.edges.allSatisfy { $0.x < $0.y && Int($0.y) < pts.count }, "\(g.kind)")
            }
        }
        // A non-finite position stays an isolated node.
        let withNaN = [p, SIMD2(.nan, 3), p + SIMD2(4, 0), SIMD2(1, .infinity), p + SIMD2(0, 4)]
        for g in [CellGraph.knn(positions: withNaN, micronsPerPixel: 1), CellGraph.delaunay(positions: withNaN, micronsPerPixel: 1),
                  CellGraph.radius(positions: withNaN, micronsPerPixel: 1, radius: 10),
                  CellGraph.minimumSpanningTree(positions: withNaN, micronsPerPixel: 1)] {
            XCTAssertEqual(g.degrees()[1], 0, "\(g.kind)"); XCTAssertEqual(g.degrees()[3], 0, "\(g.kind)")
            XCTAssertEqual(g.edgeCount, g.kind == .mst ? 2 : 3, "\(g.kind)")
            XCTAssertTrue(g.lengths.allSatisfy(\.isFinite))
        }
                // Duplicates: zero-length kNN and MST edges are kept (HistoCartography would drop them).
        let dup = CellGraph.knn(positions: [p, p], micronsPerPixel: 1)
        XCTAssertEqual(dup.edges, [SIMD2<Int32>(0, 1)]); XCTAssertEqual(dup.lengths, [0])
        XCTAssertEqual(CellGraph.minimumSpanningTree(positions: [p, p, p], micronsPerPixel: 1).edgeCount, 2)
        // Collinear: the Delaunay graph is the path, the MST too.
        let line = (0..<6).map { SIMD2(Double($0), 2 * Double($0)) }
        XCTAssertEqual(CellGraph.delaunay(positions: line, micronsPerPixel: 1).edgeCount, 5)
        XCTAssertEqual(CellGraph.minimumSpanningTree(positions: line, micronsPerPixel: 1).edgeCount, 5)
        // k larger than the number of other nuclei: everyone links to everyone.
        XCTAssertEqual(CellGraph.knn(positions: Array(line.prefix(3)), micronsPerPixel: 1, k: 10, maxDistance: nil).edgeCount, 3)
    }
}
