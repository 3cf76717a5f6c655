import XCTest
import ImageCore
import TestSupport

/// Contours, polygon fill and geometry; hole counts checked against SciPy / scikit-image.
final class ContourGeometryTests: XCTestCase {
    static func parse(_ rows: [String]) -> GrayImage {
        let h = rows.count, w = rows[0].count
        return GrayImage(width: w, height: h, pixels: rows.flatMap { $0.map { $0 == "#" ? UInt8(255) : 0 } })
    }

    /// Structured masks for the corner cases named in the contract.
    static let structured: [(String, GrayImage)] = [
        ("single", parse(["#"])),
        ("diag2", parse(["#.", ".#"])),
        ("antidiag", parse([".#", "#."])),
        ("staircase", parse(["#...", ".#..", "..#.", "...#"])),
        ("x", parse(["#...#", ".#.#.", "..#..", ".#.#.", "#...#"])),
        ("diamond_hole", parse([".###.", "#...#", "#.#.#", "#...#", ".###."])), // 8-ring, 4-hole, island inside
        ("nested", parse([
            "###########",
            "#.........#",
            "#.#######.#",
            "#.#.....#.#",
            "#.#.###.#.#",
            "#.#.#.#.#.#",
            "#.#.###.#.#",
            "#.#.....#.#",
            "#.#######.#",
            "#.........#",
            "###########"])),
        ("saddle_hole", parse([
            "......",
            ".##...",
            ".#.#..",
            "..##..",
            "......"])),
        ("two_holes_touching_diag", parse([
            "#####",
            "#.#.#",
            "##.##",
            "#.#.#",
            "#####"])),
        ("comb", parse(["#.#.#.#", "#######", "#.#.#.#"])),
        ("full", GrayImage(width: 5, height: 3, fill: 255)),
        ("border_ring", parse(["####", "#..#", "####"])),
        ("dots", parse(["#.#.#", ".....", "#.#.#"])),
        ("checker", checkerboard(8, 6)),
        ("checker_odd", checkerboard(7, 5)),
    ]

    func testTracedPolygonsReproduceMasksAndCountHoles() throws {
        let peer = try PythonPeer(modules: ["scipy.ndimage", "skimage.measure"])
        var rng = SeededRNG(44)
        var cases = ContourGeometryTests.structured
        for i in 0..<8 { cases.append(("blobby\(i)", blobbyMask(Int.random(in: 20...140, using: &rng), Int.random(in: 20...110, using: &rng), &rng))) }
        for (i, p) in [0.2, 0.45, 0.5, 0.55, 0.7].enumerated() { cases.append(("noise\(i)", randomMask(47, 39, p: p, &rng))) }
        cases.append(("he", ColorConversion.saturation(try realHE()).medianFiltered(size: 7).thresholded(above: 25)))
        for (n, img) in cases { try peer.put(n, img) }
        // Holes of each 8-connected component taken alone: bounded 4-connected background regions.
        try peer.run("""
        from scipy import ndimage
        from skimage.measure import label
        for n in \(pyList(cases.map { $0.0 })):
            a = load(n) != 0
            lab = label(a, connectivity=2)
            counts = []
            for i, sl in enumerate(ndimage.find_objects(lab), start=1):
                comp = lab[sl] == i
                filled = ndimage.binary_fill_holes(comp)  # default cross: background is 4-connected
                counts.append(int(label(filled & ~comp, connectivity=1).max()))
            save(n + '_holes', np.array(counts, dtype=np.int64))
        """)
        for (n, img) in cases {
            let polys = Contours.trace(img)
            let comps = ConnectedComponents.label(img, connectivity: .eight)
            let refHoles = try peer.ints(n + "_holes").map(Int.init)
            XCTAssertEqual(polys.count, comps.count, "\(n): one polygon per 8-connected component")
            XCTAssertEqual(polys.map { $0.holes.count }, refHoles, "\(n): holes per component")
            let normalized = GrayImage(width: img.width, height: img.height, pixels: img.pixels.map { $0 != 0 ? 255 : 0 })
            assertSameImage(Polygon.fill(polys, width: img.width, height: img.height), normalized, "\(n): fill(trace(mask))")
            for (i, p) in polys.enumerated() where i < comps.count {
                XCTAssertEqual(p.area, Double(comps.areas[i + 1]), "\(n) component \(i + 1): area")
                XCTAssertGreaterThan(Polygon.signedArea(p.outer), 0, "\(n): outer ring orientation")
                for hole in p.holes { XCTAssertLessThan(Polygon.signedArea(hole), 0, "\(n): hole orientation") }
                for ring in [p.outer] + p.holes { checkRingShape(ring, "\(n) component \(i + 1)") }
            }
            // Each polygon alone fills exactly its own component (small masks only, to keep it quick).
            if img.width * img.height <= 2000 {
                for (i, p) in polys.enumerated() {
                    let own = GrayImage(width: img.width, height: img.height,
                                        pixels: comps.labels.map { $0 == Int32(i + 1) ? 255 : 0 })
                    assertSameImage(Polygon.fill([p], width: img.width, height: img.height), own, "\(n): polygon \(i + 1) alone")
                }
            }
        }
    }

    /// Axis-aligned edges on integer corners, no repeated or collinear consecutive vertices.
    func checkRingShape(_ ring: [Point], _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertGreaterThanOrEqual(ring.count, 4, what, file: file, line: line)
        let n = ring.count
        for i in 0..<n {
            let a = ring[i], b = ring[(i + 1) % n], c = ring[(i + 2) % n]
            XCTAssertEqual(a.x, a.x.rounded(), what, file: file, line: line)
            XCTAssertEqual(a.y, a.y.rounded(), what, file: file, line: line)
            XCTAssertTrue((a.x == b.x) != (a.y == b.y), "\(what): edge \(a)→\(b) not axis-aligned", file: file, line: line)
            let collinear = (a.x == b.x && b.x == c.x) || (a.y == b.y && b.y == c.y)
            XCTAssertFalse(collinear, "\(what): collinear vertices at \(b)", file: file, line: line)
        }
    }

    func testKnownShapes() {
        // Single pixel: a unit square starting at its top-left corner.
        let one = Contours.trace(ContourGeometryTests.parse(["#"]))
        XCTAssertEqual(one, [PolygonWithHoles(outer: [Point(x: 0, y: 0), Point(x: 1, y: 0), Point(x: 1, y: 1), Point(x: 0, y: 1)])])
        // Diagonal pair: one component, one ring through the shared corner twice.
        let diag = Contours.trace(ContourGeometryTests.parse(["#.", ".#"]))
        XCTAssertEqual(diag.count, 1)
        XCTAssertEqual(diag[0].outer.count, 8)
        XCTAssertEqual(diag[0].outer.filter { $0 == Point(x: 1, y: 1) }.count, 2)
        XCTAssertEqual(Polygon.signedArea(diag[0].outer), 2)
        // Ring with a hole: the hole is the inner 2×1 rectangle.
        let ring = Contours.trace(ContourGeometryTests.parse(["####", "#..#", "####"]))
        XCTAssertEqual(ring.count, 1)
        XCTAssertEqual(ring[0].holes.count, 1)
        XCTAssertEqual(Set(ring[0].holes[0]), Set([Point(x: 1, y: 1), Point(x: 3, y: 1), Point(x: 3, y: 2), Point(x: 1, y: 2)]))
        XCTAssertEqual(ring[0].area, 10)
        XCTAssertEqual(Contours.trace(GrayImage(width: 3, height: 3)), [])
    }

    func testFillMatchesPointInPolygonAndScales() {
        var rng = SeededRNG(7)
        for _ in 0..<20 {
            // Random star-shaped polygon with a hole, non-integer coordinates.
            let cx = Double.random(in: 10...30, using: &rng), cy = Double.random(in: 10...30, using: &rng)
            func star(_ r0: Double, _ n: Int, ccw: Bool) -> [Point] {
                (0..<n).map { i in
                    let t = (ccw ? 1.0 : -1.0) * Double(i) / Double(n) * 2 * Double.pi
                    let r = r0 * Double.random(in: 0.6...1.0, using: &rng)
                    return Point(x: cx + r * cos(t), y: cy + r * sin(t))
                }
            }
            let poly = PolygonWithHoles(outer: star(9, 17, ccw: true), holes: [star(3, 7, ccw: false)])
            for scale in [1.0, 0.5, 1.7] {
                let w = 45, h = 50
                let mask = Polygon.fill([poly], width: w, height: h, scale: scale)
                for y in 0..<h { for x in 0..<w {
                    let p = Point(x: (Double(x) + 0.5) / scale, y: (Double(y) + 0.5) / scale)
                    let inside = Polygon.contains(poly.outer, p) != Polygon.contains(poly.holes[0], p)
                    XCTAssertEqual(mask[x, y] != 0, inside, "pixel (\(x), \(y)) at scale \(scale)")
                } }
            }
        }
        let square = [Point(x: 0, y: 0), Point(x: 4, y: 0), Point(x: 4, y: 2), Point(x: 0, y: 2)]
        XCTAssertEqual(Polygon.signedArea(square), 8)
        XCTAssertEqual(Polygon.signedArea(square.reversed()), -8)
        XCTAssertTrue(Polygon.contains(square, Point(x: 3.9, y: 1)))
        XCTAssertFalse(Polygon.contains(square, Point(x: 4.1, y: 1)))
        // Level-0 polygon drawn on a 4× smaller mask.
        let big = PolygonWithHoles(outer: [Point(x: 8, y: 4), Point(x: 24, y: 4), Point(x: 24, y: 12), Point(x: 8, y: 12)])
        let small = Polygon.fill([big], width: 8, height: 4, scale: 0.25)
        XCTAssertEqual(small.foregroundCount, 8)
        XCTAssertEqual(small[2, 1], 255); XCTAssertEqual(small[5, 2], 255); XCTAssertEqual(small[6, 1], 0)
    }

    func testSimplificationStaysWithinTolerance() {
        // A traced disk: staircase boundary with many vertices.
        var m = GrayImage(width: 80, height: 80)
        for y in 0..<80 { for x in 0..<80 {
            let dx = Double(x) + 0.5 - 40, dy = Double(y) + 0.5 - 40
            if dx * dx + dy * dy < 900 { m[x, y] = 255 }
        } }
        let ring = Contours.trace(m)[0].outer
        for tol in [0.5, 1.0, 2.0, 5.0] {
            let s = Polygon.simplified(ring, tolerance: tol)
            XCTAssertLessThan(s.count, ring.count)
            XCTAssertGreaterThanOrEqual(s.count, 3)
            XCTAssertTrue(Set(s).isSubset(of: Set(ring)))
            // Every original vertex within tolerance of the simplified ring.
            for p in ring {
                var best = Double.infinity
                for i in 0..<s.count { best = min(best, segDist(p, s[i], s[(i + 1) % s.count])) }
                XCTAssertLessThanOrEqual(best, tol + 1e-9)
            }
            XCTAssertEqual(Polygon.signedArea(s), Polygon.signedArea(ring), accuracy: Polygon.signedArea(ring) * 0.02 + tol * 60)
        }
        // A ring that would collapse comes back unchanged.
        let thin = [Point(x: 0, y: 0), Point(x: 10, y: 0.1), Point(x: 20, y: 0), Point(x: 10, y: -0.1)]
        XCTAssertEqual(Polygon.simplified(thin, tolerance: 1), thin)
    }

    func segDist(_ p: Point, _ a: Point, _ b: Point) -> Double {
        let dx = b.x - a.x, dy = b.y - a.y, l2 = dx * dx + dy * dy
        let t = l2 > 0 ? max(0, min(1, ((p.x - a.x) * dx + (p.y - a.y) * dy) / l2)) : 0
        return hypot(a.x + t * dx - p.x, a.y + t * dy - p.y)
    }

    func testIntegralImageAreaMatchesBruteForce() {
        var rng = SeededRNG(99)
        let mask = blobbyMask(37, 29, &rng)
        let ii = IntegralImage(mask)
        for _ in 0..<400 {
            var x0 = Double.random(in: -5...42, using: &rng), x1 = Double.random(in: -5...42, using: &rng)
            var y0 = Double.random(in: -5...34, using: &rng), y1 = Double.random(in: -5...34, using: &rng)
            if Int.random(in: 0..<4, using: &rng) == 0 { x0 = x0.rounded(); y1 = y1.rounded() }
            if x0 > x1 && Bool.random(using: &rng) { swap(&x0, &x1) }
            if y0 > y1 && Bool.random(using: &rng) { swap(&y0, &y1) }
            var brute = 0.0
            for y in 0..<29 { for x in 0..<37 where mask[x, y] != 0 {
                let ox = max(0, min(x1, Double(x + 1)) - max(x0, Double(x)))
                let oy = max(0, min(y1, Double(y + 1)) - max(y0, Double(y)))
                brute += ox * oy
            } }
            XCTAssertEqual(ii.area(x0: x0, y0: y0, x1: x1, y1: y1), brute, accuracy: 1e-9, "[\(x0),\(x1))×[\(y0),\(y1))")
        }
        XCTAssertEqual(ii.area(x0: 0, y0: 0, x1: 37, y1: 29), Double(mask.foregroundCount))
        XCTAssertEqual(ii.area(x0: -100, y0: -100, x1: 1e6, y1: 1e6), Double(mask.foregroundCount))
    }
}
