import Foundation
import XCTest
@testable import Cells
import TestSupport

/// Delaunay triangulation and Voronoi cells: exact agreement with scipy/Qhull and shapely/GEOS on
/// random points, structural validity (exact predicates) on grids, clusters and degenerate input.
final class GraphDelaunayTests: XCTestCase {
    func testRandomPointsMatchScipyDelaunay() throws {
        var rng = SeededRNG(1)
        let pts = (0..<3000).map { _ in SIMD2(Double.random(in: 0..<2000, using: &rng), Double.random(in: 0..<1500, using: &rng)) }
        let d = Delaunay(points: pts)
        try assertValid(d, pts)
        let peer = try GraphPeer(self)
        try peer.put("pts", pts)
        let out = try peer.run("""
        from scipy.spatial import Delaunay
        tri = Delaunay(load('pts'))
        s = np.sort(tri.simplices, axis=1)
        emit({'tris': s.tolist(), 'hull': sorted(set(tri.convex_hull.ravel().tolist()))})
        """)
        let ref = Set((out["tris"] as! [[Int]]).map { $0 })
        let ours = Set((0..<d.triangleCount).map { t in [0, 1, 2].map { Int(d.triangles[3 * t + $0]) }.sorted() })
        XCTAssertEqual(ours.count, ref.count, "triangle count")
        XCTAssertEqual(ours, ref, "triangles differ from scipy.spatial.Delaunay (random points are in general position)")
        XCTAssertEqual(Set(d.hull.map(Int.init)), Set(out["hull"] as! [Int]), "hull vertices")
    }

    /// A square grid is maximally cocircular: any diagonal choice is Delaunay, counts and area are fixed.
    func testGridIsValidAndComplete() throws {
        var pts: [SIMD2<Double>] = []
        for y in 0..<30 { for x in 0..<30 { pts.append(SIMD2(Double(x) * 7.5 + 100, Double(y) * 7.5 + 50)) } }
        var rng = SeededRNG(2)
        pts.shuffle(using: &rng)
        let d = Delaunay(points: pts)
        try assertValid(d, pts)
        // Euler: T = 2n − 2 − h with h = 116 boundary points (corners and edge points).
        XCTAssertEqual(d.triangleCount, 2 * 900 - 2 - 116)
        XCTAssertEqual(d.hull.count, 116)
        XCTAssertEqual(totalArea(d, pts), (29 * 7.5) * (29 * 7.5), accuracy: 1e-6)
        // Edges: 29·30·2 axis-aligned + one diagonal per unit square.
        XCTAssertEqual(d.edges.count, 2 * 29 * 30 + 29 * 29)
    }

    /// Clustered nuclei with duplicates, collinear rows and near-duplicates: a valid triangulation.
    func testClusteredDuplicatesCollinearRowsAreValid() throws {
        var rng = SeededRNG(3)
        var pts: [SIMD2<Double>] = []
        for _ in 0..<40 {
            let c = SIMD2(Double.random(in: 0..<5000, using: &rng), Double.random(in: 0..<5000, using: &rng))
            for _ in 0..<200 { pts.append(c + SIMD2(gaussian(&rng) * 30, gaussian(&rng) * 30)) }
        }
        for i in 0..<300 { pts.append(SIMD2(Double(i) * 3, 2500)) }               // a row
        for i in 0..<100 { pts.append(SIMD2(1000, Double(i) * 3)) }               // a column
        for i in stride(from: 0, to: 200, by: 7) { pts.append(pts[i]) }           // exact duplicates
        pts.append(pts[5] + SIMD2(1e-12, 0))                                      // below the lattice step
        pts.shuffle(using: &rng)
        let d = Delaunay(points: pts)
        try assertValid(d, pts)
        let dupCount = d.representative.enumerated().filter { $0.element != Int32($0.offset) }.count
        XCTAssertGreaterThanOrEqual(dupCount, 29)
        // Every duplicate hangs off its representative and nothing else.
        var deg = [Int](repeating: 0, count: pts.count)
        for e in d.edges { deg[Int(e.x)] += 1; deg[Int(e.y)] += 1 }
        for i in pts.indices where d.representative[i] != Int32(i) { XCTAssertEqual(deg[i], 1, "duplicate \(i)") }
    }

    /// Random points on small integer lattices: many duplicates, collinear and cocircular sets.
    func testHighlyDegenerateLatticesAreValid() throws {
        var rng = SeededRNG(5)
        for trial in 0..<200 {
            let side = Int.random(in: 2...12, using: &rng), count = Int.random(in: 0...150, using: &rng)
            let pts = (0..<count).map { _ in SIMD2(Double(Int.random(in: 0..<side, using: &rng)) * 0.37,
                                                   Double(Int.random(in: 0..<(trial % 3 == 0 ? 1 : side), using: &rng)) * 0.37) }
            let d = Delaunay(points: pts)
            try assertValid(d, pts)
            // The graph is connected over distinct points whenever there are any.
            var parent = Array(0..<pts.count)
            func find(_ x: Int) -> Int { var r = x; while parent[r] != r { r = parent[r] }; return r }
            for e in d.edges { parent[find(Int(e.x))] = find(Int(e.y)) }
            XCTAssertLessThanOrEqual(Set(pts.indices.map(find)).count, 1, "trial \(trial): graph not connected")
        }
    }

    func testDegenerateInputs() throws {
        let p = SIMD2(10.0, 20.0), q = SIMD2(13.0, 24.0)
        let empty = Delaunay(points: [])
        XCTAssertEqual(empty.triangleCount, 0); XCTAssertTrue(empty.edges.isEmpty); XCTAssertTrue(empty.hull.isEmpty)
        let one = Delaunay(points: [p])
        XCTAssertEqual(one.triangleCount, 0); XCTAssertTrue(one.edges.isEmpty); XCTAssertEqual(one.hull, [0])
        let two = Delaunay(points: [p, q])
        XCTAssertEqual(two.edges, [SIMD2<Int32>(0, 1)]); XCTAssertEqual(two.triangleCount, 0)
        let same = Delaunay(points: [p, p, p])
        let sameEdges: [SIMD2<Int32>] = [SIMD2(0, 1), SIMD2(0, 2)]
        XCTAssertEqual(same.edges, sameEdges)
        XCTAssertEqual(same.representative, [Int32](repeating: 0, count: 3))
        // Shuffled collinear points: the path along the line.
        let steps: [Double] = [3, 0, 4, 1, 2]
        let line: [SIMD2<Double>] = steps.map { (s: Double) -> SIMD2<Double> in SIMD2(s * 2 + 1, s * 3 - 5) }
        let l = Delaunay(points: line)
        XCTAssertEqual(l.triangleCount, 0)
        let spans: [[Double]] = l.edges.map { (e: SIMD2<Int32>) -> [Double] in [line[Int(e.x)].x, line[Int(e.y)].x].sorted() }
        let expected: [[Double]] = [[1, 3], [3, 5], [5, 7], [7, 9]]
        XCTAssertEqual(Set(spans), Set(expected))
        // Collinear with a duplicate: path plus a zero-length link.
        let ld = Delaunay(points: line + [line[2]])
        XCTAssertEqual(ld.edges.count, 5)
        // Three on a line and one off it (the seed fan), the four corners of a square, a cocircular ring.
        let fan: [SIMD2<Double>] = [SIMD2(0, 0), SIMD2(1, 0), SIMD2(2, 0), SIMD2(1, 5)]
        let square: [SIMD2<Double>] = [SIMD2(0, 0), SIMD2(1, 0), SIMD2(1, 1), SIMD2(0, 1)]
        var ring: [SIMD2<Double>] = []
        for k in 0..<16 { let a = Double(k) * Double.pi / 8; ring.append(SIMD2(100 + 50 * cos(a), 100 + 50 * sin(a))) }
        for pts in [fan, square, ring] {
            let d = Delaunay(points: pts)
            try assertValid(d, pts)
            XCTAssertEqual(d.triangleCount, pts.count - 2, "\(pts.count) convex-position/fan points")
        }
    }

    /// Voronoi cells clipped to the convex hull against shapely (GEOS) `voronoi_polygons ∩ hull`,
    /// per nucleus: area within 1e-9 relative, perimeter within 1e-9 relative; areas tile the hull.
    func testClippedVoronoiMatchesShapely() throws {
        var rng = SeededRNG(4)
        let pts = (0..<600).map { _ in SIMD2(Double.random(in: 0..<800, using: &rng), Double.random(in: 0..<600, using: &rng)) }
        let d = Delaunay(points: pts)
        let cells = VoronoiCells(positions: pts, delaunay: d, clip: .convexHull)
        let rect = try ConvexRegion.rect(x: 100, y: 50, width: 500, height: 400)
        let inRect = VoronoiCells(positions: pts, delaunay: d, clip: .region(rect))
        let peer = try GraphPeer(self)
        try peer.put("pts", pts)
        let out = try peer.run("""
        import shapely
        from shapely.geometry import MultiPoint, box
        pts = load('pts')
        mp = MultiPoint(pts)
        hull = mp.convex_hull
        cells = shapely.voronoi_polygons(mp, extend_to=box(-1e4, -1e4, 1e4, 1e4), ordered=True)
        polys = list(cells.geoms)
        r = box(100, 50, 600, 450)
        emit({'area': [p.intersection(hull).area for p in polys], 'peri': [p.intersection(hull).length for p in polys],
              'rarea': [p.intersection(r).area for p in polys], 'hull': hull.area})
        """)
        let area = out["area"] as! [Double], peri = out["peri"] as! [Double], rarea = out["rarea"] as! [Double]
        XCTAssertEqual(area.count, pts.count)
        for i in pts.indices {
            XCTAssertTrue(cells.included[i])
            XCTAssertEqual(cells.areas[i], area[i], accuracy: 1e-9 * max(1, area[i]), "area of cell \(i)")
            XCTAssertEqual(cells.perimeters[i], peri[i], accuracy: 1e-9 * max(1, peri[i]), "perimeter of cell \(i)")
            XCTAssertEqual(inRect.areas[i], rarea[i], accuracy: 1e-9 * max(1, rarea[i]), "rect-clipped area of cell \(i)")
        }
        XCTAssertEqual(cells.areas.reduce(0, +), out["hull"] as! Double, accuracy: 1e-7)
        XCTAssertEqual(inRect.areas.reduce(0, +), 500 * 400, accuracy: 1e-7)
        // Non-convex regions are refused with a message, not clipped wrongly.
        XCTAssertThrowsError(try ConvexRegion([SIMD2(0, 0), SIMD2(10, 0), SIMD2(5, 2), SIMD2(10, 10), SIMD2(0, 10)]))
    }

    func testVoronoiDegenerateInputs() throws {
        let cases: [[SIMD2<Double>]] = [[], [SIMD2(1, 1)], [SIMD2(1, 1), SIMD2(4, 5)], [SIMD2(0, 0), SIMD2(1, 1), SIMD2(2, 2)],
                                        [SIMD2(3, 3), SIMD2(3, 3)]]
        for pts in cases {
            let d = Delaunay(points: pts)
            for clip in [VoronoiClip.boundedOnly, .convexHull] {
                let c = VoronoiCells(positions: pts, delaunay: d, clip: clip)
                XCTAssertEqual(c.areas, [Double](repeating: 0, count: pts.count))
                XCTAssertFalse(c.included.contains(true))
            }
            // A given region: every distinct nucleus gets a finite cell; the cells tile the region.
            let region = try ConvexRegion.rect(x: -10, y: -10, width: 30, height: 30)
            let c = VoronoiCells(positions: pts, delaunay: d, clip: .region(region))
            XCTAssertTrue(c.areas.allSatisfy { $0.isFinite && $0 >= 0 })
            if !pts.isEmpty { XCTAssertEqual(c.areas.reduce(0, +), 900, accuracy: 1e-9) }
        }
    }

    // MARK: helpers

    private func totalArea(_ d: Delaunay, _ p: [SIMD2<Double>]) -> Double {
        (0..<d.triangleCount).reduce(0) { s, t in
            let a = p[Int(d.triangles[3 * t])], b = p[Int(d.triangles[3 * t + 1])], c = p[Int(d.triangles[3 * t + 2])]
            return s + abs(cross2(b - a, c - a)) / 2
        }
    }
}

/// Structural checks with the exact predicates: counter-clockwise triangles, symmetric twins with
/// matching endpoints, every interior side locally Delaunay (hence globally), Euler's count, and
/// every distinct point used.
func assertValid(_ d: Delaunay, _ pts: [SIMD2<Double>], file: StaticString = #filePath, line: UInt = #line) throws {
    let s = pts.withUnsafeBufferPointer { SnappedPoints($0) }
    func o(_ a: Int32, _ b: Int32, _ c: Int32) -> Int64 {
        orient(s.qx[Int(a)], s.qy[Int(a)], s.qx[Int(b)], s.qy[Int(b)], s.qx[Int(c)], s.qy[Int(c)])
    }
    let t = d.triangles, h = d.halfedges
    var bad = 0
    for k in 0..<d.triangleCount where o(t[3 * k], t[3 * k + 1], t[3 * k + 2]) <= 0 { bad += 1 }
    XCTAssertEqual(bad, 0, "triangles not counter-clockwise", file: file, line: line)
    var hullSides = 0
    for e in t.indices {
        let nx = e % 3 == 2 ? e - 2 : e + 1
        let tw = Int(h[e])
        if tw < 0 { hullSides += 1; continue }
        let twn = tw % 3 == 2 ? tw - 2 : tw + 1
        if Int(h[tw]) != e || t[tw] != t[nx] || t[twn] != t[e] { bad += 1; continue }
        // Far vertex of the twin must not be strictly inside this triangle's circumcircle.
        let b = e - e % 3
        let far = t[tw % 3 == 0 ? tw + 2 : tw - 1]
        let a0 = t[b], a1 = t[b + 1], a2 = t[b + 2]
        if inCircle(s.qx[Int(a0)], s.qy[Int(a0)], s.qx[Int(a1)], s.qy[Int(a1)], s.qx[Int(a2)], s.qy[Int(a2)],
                    s.qx[Int(far)], s.qy[Int(far)]) > 0 { bad += 1 }
    }
    XCTAssertEqual(bad, 0, "twin mismatches or non-Delaunay sides", file: file, line: line)
    let distinct = Set(d.representative).count
    if d.triangleCount > 0 {
        XCTAssertEqual(hullSides, d.hull.count, "hull sides", file: file, line: line)
        XCTAssertEqual(d.triangleCount, 2 * distinct - 2 - d.hull.count, "Euler count", file: file, line: line)
        XCTAssertEqual(Set(t).count, distinct, "every distinct point is a vertex", file: file, line: line)
    }
}

func gaussian(_ rng: inout SeededRNG) -> Double {
    let u = Double.random(in: Double.ulpOfOne..<1, using: &rng), v = Double.random(in: 0..<1, using: &rng)
    return (-2 * log(u)).squareRoot() * cos(2 * .pi * v)
}

/// A Python peer session: arrays written as raw float64/int64 files into a scratch folder, one
/// script run whose `emit(obj)` prints JSON.
final class GraphPeer {
    let dir: String
    init(_ test: XCTestCase) throws {
        _ = try TestEnv.python()
        dir = try TestEnv.scratch(test, "graphpeer")
    }

    func put(_ name: String, _ pts: [SIMD2<Double>]) throws {
        let flat = pts.flatMap { [$0.x, $0.y] }
        try flat.withUnsafeBytes { try Data($0).write(to: URL(fileURLWithPath: "\(dir)/\(name).f64")) }
    }

    func put(_ name: String, doubles: [Double]) throws {
        try doubles.withUnsafeBytes { try Data($0).write(to: URL(fileURLWithPath: "\(dir)/\(name).f64")) }
    }

    func put(_ name: String, ints: [Int64]) throws {
        try ints.withUnsafeBytes { try Data($0).write(to: URL(fileURLWithPath: "\(dir)/\(name).i64")) }
    }

    /// Runs `body` after a prelude defining `np`, `load(name)` (N×2 float64), `loadf(name)`,
    /// `loadi(name)` (flat float64 / int64) and `emit(obj)`; returns the emitted JSON object.
    func run(_ body: String, extraArgs: [String] = [], file: StaticString = #filePath, line: UInt = #line) throws -> [String: Any] {
        let prelude = """
        import json, sys
        import numpy as np
        D = sys.argv[1]
        def load(n): return np.fromfile(f'{D}/{n}.f64', dtype='<f8').reshape(-1, 2)
        def loadf(n): return np.fromfile(f'{D}/{n}.f64', dtype='<f8')
        def loadi(n): return np.fromfile(f'{D}/{n}.i64', dtype='<i8')
        def emit(o): print(json.dumps(o))

        """
        let data = try TestEnv.runPython(prelude + body, [dir] + extraArgs, file: file, line: line)
        guard let obj = try TestEnv.json(data) as? [String: Any] else {
            XCTFail("peer printed no JSON object", file: file, line: line)
            throw NSError(domain: "peer", code: 1)
        }
        return obj
    }
}
