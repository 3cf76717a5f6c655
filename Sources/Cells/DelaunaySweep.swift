import Foundation

/// The sweep-hull triangulator behind `Delaunay`, on distinct lattice points.
///
/// Order of insertion: by exact squared distance from an integer centre c, ties by index. Every
/// point then lies at least as far from c as all points inserted before it, so (the disc around c
/// being strictly convex) it is strictly outside their convex hull and sees at least one hull edge.
/// The first points form the seed: the two nearest to c, any further points collinear with them
/// (all of which come before the first non-collinear point), and that first non-collinear point as
/// the apex of a fan. Lawson flips make the fan Delaunay; each later point is joined to the hull
/// edges it sees and its new triangles are legalised by flips. Half-edge e runs from `tri[e]` to
/// `tri[next(e)]` in triangle e / 3; `half[e]` is its twin or −1 on the hull. Triangles are
/// counter-clockwise (orient > 0), so the hull runs counter-clockwise with the inside on the left.
final class SweepTriangulator {
    private let qx: UnsafeMutablePointer<Int64>
    private let qy: UnsafeMutablePointer<Int64>
    private let n: Int
    let tri: UnsafeMutablePointer<Int32>
    let half: UnsafeMutablePointer<Int32>
    private let capacity: Int
    private(set) var triangleCount = 0
    /// Hull as a circular list; a removed vertex points to itself. (Raw buffers: class-held arrays
    /// pay exclusivity and uniqueness checks on every write in these loops.)
    private let hullNext: UnsafeMutablePointer<Int32>
    private let hullPrev: UnsafeMutablePointer<Int32>
    /// The hull half-edge that starts at each hull vertex.
    private let hullTri: UnsafeMutablePointer<Int32>
    private var hullStart: Int32 = 0
    private var hash: UnsafeMutablePointer<Int32>
    private var hashSize = 0
    private var centre = SIMD2<Double>(0, 0)
    /// Filled instead of triangles when every point lies on one line.
    private(set) var collinearPath: [Int32] = []
    /// Input index of each point in insertion order.
    private var original: [Int32]
    private var stack: UnsafeMutablePointer<Int32>
    private var stackCapacity = 1024

    init(_ xs: [Int64], _ ys: [Int64]) {
        n = xs.count
        qx = .allocate(capacity: n); qx.initialize(from: xs, count: n)
        qy = .allocate(capacity: n); qy.initialize(from: ys, count: n)
        capacity = 3 * max(1, 2 * n - 5)
        tri = .allocate(capacity: capacity)
        half = .allocate(capacity: capacity)
        hullNext = .allocate(capacity: n); hullNext.initialize(repeating: -1, count: n)
        hullPrev = .allocate(capacity: n); hullPrev.initialize(repeating: -1, count: n)
        hullTri = .allocate(capacity: n); hullTri.initialize(repeating: -1, count: n)
        hash = .allocate(capacity: 1)
        stack = .allocate(capacity: stackCapacity)
        original = [Int32](repeating: 0, count: n)
        run()
    }

    deinit {
        qx.deallocate(); qy.deallocate(); tri.deallocate(); half.deallocate()
        hullNext.deallocate(); hullPrev.deallocate(); hullTri.deallocate(); hash.deallocate(); stack.deallocate()
    }

    // MARK: predicates on point indices

    @inline(__always) private func orient3(_ a: Int32, _ b: Int32, _ c: Int32) -> Int64 {
        orient(qx[Int(a)], qy[Int(a)], qx[Int(b)], qy[Int(b)], qx[Int(c)], qy[Int(c)])
    }

    @inline(__always) private func inCircle4(_ a: Int32, _ b: Int32, _ c: Int32, _ d: Int32) -> Int {
        inCircle(qx[Int(a)], qy[Int(a)], qx[Int(b)], qy[Int(b)], qx[Int(c)], qy[Int(c)], qx[Int(d)], qy[Int(d)])
    }

    @inline(__always) private func next(_ e: Int) -> Int { e % 3 == 2 ? e - 2 : e + 1 }
    @inline(__always) private func prev(_ e: Int) -> Int { e % 3 == 0 ? e + 2 : e - 1 }

    // MARK: construction

    private func run() {
        // Integer centre of the bounding box; exact squared distances (< 2⁶¹) order the sweep.
        var minX = Int64.max, minY = Int64.max, maxX = Int64.min, maxY = Int64.min
        for i in 0..<n {
            minX = min(minX, qx[i]); maxX = max(maxX, qx[i]); minY = min(minY, qy[i]); maxY = max(maxY, qy[i])
        }
        let cx = (minX + maxX) / 2, cy = (minY + maxY) / 2
        centre = SIMD2(Double(cx), Double(cy))
        struct Key { var d: Int64; var i: Int32 }
        var order = (0..<n).map { i -> Key in
            let dx = qx[i] - cx, dy = qy[i] - cy
            return Key(d: dx * dx + dy * dy, i: Int32(i))
        }
        order.sort { $0.d != $1.d ? $0.d < $1.d : $0.i < $1.i }
        // Renumber points in insertion order: the hull, the newest triangles and the next point
        // then sit close together in memory. `original` maps back at the end.
        for (k, key) in order.enumerated() { original[k] = key.i }
        let ox = UnsafeMutableBufferPointer(start: qx, count: n).map { $0 }, oy = UnsafeMutableBufferPointer(start: qy, count: n).map { $0 }
        for k in 0..<n { qx[k] = ox[Int(original[k])]; qy[k] = oy[Int(original[k])] }

        var k = 2
        while k < n && orient3(0, 1, Int32(k)) == 0 { k += 1 }
        // Points before k lie on the line through the first two, sorted along it.
        var chain = (0..<k).map { Int32($0) }
        chain.sort { qx[Int($0)] != qx[Int($1)] ? qx[Int($0)] < qx[Int($1)] : qy[Int($0)] < qy[Int($1)] }
        if k == n {
            collinearPath = chain.map { original[Int($0)] }
            return
        }
        let apex = Int32(k)
        if orient3(chain[0], chain[1], apex) < 0 { chain.reverse() }
        seedFan(chain, apex)

        hashSize = max(1, Int(Double(n).squareRoot().rounded(.up)))
        hash.deallocate()
        hash = .allocate(capacity: hashSize); hash.initialize(repeating: -1, count: hashSize)
        var v = hullStart
        repeat { hash[hashKey(v)] = v; v = hullNext[Int(v)] } while v != hullStart

        for idx in (k + 1)..<n { insert(Int32(idx)) }
        for e in 0..<(3 * triangleCount) { tri[e] = original[Int(tri[e])] }
    }

    /// Triangles (chain[j], chain[j+1], apex) with the chain ordered so they are counter-clockwise,
    /// then Lawson flips until every interior edge is locally Delaunay.
    private func seedFan(_ chain: [Int32], _ apex: Int32) {
        let k = chain.count
        for j in 0..<(k - 1) {
            let t = addTriangle(chain[j], chain[j + 1], apex, -1, -1, -1)
            if j > 0 { link(t + 2, 3 * (j - 1) + 1) } // apex→chain[j] with chain[j]→apex
        }
        for j in 0..<(k - 1) { hullNext[Int(chain[j])] = chain[j + 1]; hullPrev[Int(chain[j + 1])] = chain[j]; hullTri[Int(chain[j])] = Int32(3 * j) }
        let last = chain[k - 1]
        hullNext[Int(last)] = apex; hullPrev[Int(apex)] = last; hullTri[Int(last)] = Int32(3 * (k - 2) + 1)
        hullNext[Int(apex)] = chain[0]; hullPrev[Int(chain[0])] = apex; hullTri[Int(apex)] = 2
        hullStart = apex
        var queue: [Int32] = (0..<(k - 2)).map { Int32(3 * $0 + 1) }
        while let e = queue.popLast() {
            let a = Int(e)
            let b = flipIfIllegal(a)
            if b >= 0 {
                // The four outer sides of the flipped quad may now be illegal.
                queue.append(Int32(a)); queue.append(Int32(next(a)))
                queue.append(Int32(b)); queue.append(Int32(next(b)))
            }
        }
    }

    private func insert(_ p: Int32) {
        // A hull vertex near p's direction from the centre, then the first hull edge p sees.
        let key = hashKey(p)
        var s: Int32 = hullStart
        for j in 0..<hashSize {
            let h = hash[(key + j) % hashSize]
            if h >= 0 && hullNext[Int(h)] != h { s = h; break }
        }
        let start = hullPrev[Int(s)]
        var e = start
        while orient3(p, e, hullNext[Int(e)]) >= 0 {
            e = hullNext[Int(e)]
            // Unreachable by the ordering argument above; guard against an endless walk anyway.
            if e == start { return }
        }
        var q = hullNext[Int(e)]
        var t = addTriangle(e, p, q, -1, -1, hullTri[Int(e)])
        hullTri[Int(p)] = Int32(t + 1)
        hullTri[Int(e)] = Int32(t)
        legalize(t + 2)

        // Forward along the hull while p sees the next edge.
        var nV = q
        while true {
            q = hullNext[Int(nV)]
            if orient3(p, nV, q) >= 0 { break }
            t = addTriangle(nV, p, q, hullTri[Int(p)], -1, hullTri[Int(nV)])
            hullTri[Int(p)] = Int32(t + 1)
            legalize(t + 2)
            hullNext[Int(nV)] = nV
            nV = q
        }
        // Backward, only needed when the search began at the first visible edge.
        if e == start {
            while true {
                q = hullPrev[Int(e)]
                if orient3(p, q, e) >= 0 { break }
                t = addTriangle(q, p, e, -1, hullTri[Int(e)], hullTri[Int(q)])
                hullTri[Int(q)] = Int32(t)
                legalize(t + 2)
                hullNext[Int(e)] = e
                e = q
            }
        }
        hullPrev[Int(p)] = e; hullNext[Int(e)] = p
        hullPrev[Int(nV)] = p; hullNext[Int(p)] = nV
        hullStart = e
        hash[hashKey(p)] = p
        hash[hashKey(e)] = e
    }

    /// Flips edges opposite the new point until its star is Delaunay.
    private func legalize(_ a0: Int) {
        var top = 0
        stack[top] = Int32(a0); top += 1
        while top > 0 {
            top -= 1
            let a = Int(stack[top])
            let b = flipIfIllegal(a)
            if b >= 0 {
                // Both new triangles contain the new point; their sides opposite it are a and br.
                if top + 2 > stackCapacity { growStack() }
                stack[top] = Int32(a); stack[top + 1] = Int32(next(b)); top += 2
            }
        }
    }

    private func growStack() {
        let bigger = UnsafeMutablePointer<Int32>.allocate(capacity: 2 * stackCapacity)
        bigger.moveInitialize(from: stack, count: stackCapacity)
        stack.deallocate()
        stack = bigger
        stackCapacity *= 2
    }

    /// If the twin triangle's far vertex lies strictly inside the circumcircle of a's triangle,
    /// flips the shared edge and returns the twin's index b (else −1).
    ///
    ///   before: A = (p0, pr, pl) with a: pr→pl, al: pl→p0, ar: p0→pr
    ///           B = (pl, pr, p1) with b: pl→pr, br: pr→p1, bl: p1→pl
    ///   after:  A = (p1, pl, p0) with a: p1→pl, al: pl→p0, ar: p0→p1
    ///           B = (p0, pr, p1) with b: p0→pr, br: pr→p1, bl: p1→p0
    @inline(__always)
    private func flipIfIllegal(_ a: Int) -> Int {
        let b = Int(half[a])
        if b < 0 { return -1 }
        let al = next(a), ar = prev(a), bl = prev(b)
        let p0 = tri[ar], pr = tri[a], pl = tri[al], p1 = tri[bl]
        guard inCircle4(p0, pr, pl, p1) > 0 else { return -1 }
        tri[a] = p1
        tri[b] = p0
        let hbl = half[bl], har = half[ar]
        link(a, Int(hbl))
        link(b, Int(har))
        link(ar, bl)
        // A hull side that changed half-edge index: keep hullTri pointing at it.
        if hbl < 0 { hullTri[Int(p1)] = Int32(a) }
        if har < 0 { hullTri[Int(p0)] = Int32(b) }
        return b
    }

    @inline(__always)
    private func link(_ a: Int, _ b: Int) {
        half[a] = Int32(b)
        if b >= 0 { half[b] = Int32(a) }
    }

    @inline(__always)
    private func addTriangle(_ i0: Int32, _ i1: Int32, _ i2: Int32, _ a: Int32, _ b: Int32, _ c: Int32) -> Int {
        let t = 3 * triangleCount
        precondition(t + 3 <= capacity, "Delaunay: triangle capacity exceeded (internal error)")
        tri[t] = i0; tri[t + 1] = i1; tri[t + 2] = i2
        link(t, Int(a)); link(t + 1, Int(b)); link(t + 2, Int(c))
        triangleCount += 1
        return t
    }

    /// Bucket of a point's pseudo-angle around the centre (monotone in the true angle).
    @inline(__always)
    private func hashKey(_ p: Int32) -> Int {
        let size = hashSize
        let dx = Double(qx[Int(p)]) - centre.x, dy = Double(qy[Int(p)]) - centre.y
        let s = abs(dx) + abs(dy)
        let r = s == 0 ? 0 : dx / s
        let angle = (dy > 0 ? 3 - r : 1 + r) / 4 // 0..<1
        return min(size - 1, max(0, Int(angle * Double(size)))) % size
    }

    /// Hull vertices counter-clockwise from `hullStart`.
    func hull() -> [Int32] {
        guard triangleCount > 0 else { return [] }
        var out: [Int32] = []
        var v = hullStart
        repeat { out.append(original[Int(v)]); v = hullNext[Int(v)] } while v != hullStart && out.count <= n
        return out
    }
}
