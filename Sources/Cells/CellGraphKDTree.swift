import Foundation

/// A static 2-d tree over points for k-nearest-neighbour and radius queries.
///
/// Why a tree rather than a uniform grid: nuclei are strongly clustered (dense tumour, empty
/// background, isolated strays), and a grid sized for the average density puts hundreds of points in
/// a dense cell or scans thousands of empty cells for a stray. Median splits keep every query
/// O(log n + answer) whatever the layout. Built in O(n log n); queries run on all cores.
final class KDTree {
    /// Points in the tree (the finite ones).
    let count: Int
    /// Points given, including non-finite ones (which are never found or queried).
    let total: Int
    /// Coordinates in tree order (leaves are contiguous runs).
    private let xs: UnsafeMutablePointer<Double>
    private let ys: UnsafeMutablePointer<Double>
    /// Input index of each tree slot.
    let index: UnsafeMutablePointer<Int32>
    /// Per node (heap numbering, root 1): split coordinate and axis (0 = x, 1 = y, 2 = leaf).
    private let splitValue: UnsafeMutablePointer<Double>
    private let splitAxis: UnsafeMutablePointer<UInt8>
    private let nodeCapacity: Int
    static let leafSize = 8

    init(_ points: UnsafeBufferPointer<SIMD2<Double>>) {
        total = points.count
        xs = .allocate(capacity: max(1, total)); ys = .allocate(capacity: max(1, total))
        index = .allocate(capacity: max(1, total))
        var m = 0
        for i in 0..<total where points[i].x.isFinite && points[i].y.isFinite {
            xs[m] = points[i].x; ys[m] = points[i].y; index[m] = Int32(i); m += 1
        }
        count = m
        var depth = 0, len = count
        while len > Self.leafSize { len = (len + 1) / 2; depth += 1 }
        nodeCapacity = 1 << (depth + 1)
        splitValue = .allocate(capacity: nodeCapacity); splitValue.initialize(repeating: 0, count: nodeCapacity)
        splitAxis = .allocate(capacity: nodeCapacity); splitAxis.initialize(repeating: 2, count: nodeCapacity)
        if count > 0 { build(node: 1, lo: 0, hi: count) }
    }

    deinit {
        xs.deallocate(); ys.deallocate(); index.deallocate(); splitValue.deallocate(); splitAxis.deallocate()
    }

    private func build(node: Int, lo: Int, hi: Int) {
        guard hi - lo > Self.leafSize else { return }
        var minX = Double.infinity, maxX = -Double.infinity, minY = Double.infinity, maxY = -Double.infinity
        for i in lo..<hi { minX = min(minX, xs[i]); maxX = max(maxX, xs[i]); minY = min(minY, ys[i]); maxY = max(maxY, ys[i]) }
        let axis: UInt8 = (maxX - minX) >= (maxY - minY) ? 0 : 1
        let mid = (lo + hi) / 2
        select(lo, hi, mid, axis == 0 ? xs : ys)
        splitAxis[node] = axis
        splitValue[node] = axis == 0 ? xs[mid] : ys[mid]
        // The two halves touch disjoint slots and nodes: build them concurrently near the root.
        if hi - lo >= 1 << 16 && node < 4 {
            DispatchQueue.concurrentPerform(iterations: 2) { side in
                if side == 0 { build(node: 2 * node, lo: lo, hi: mid) } else { build(node: 2 * node + 1, lo: mid, hi: hi) }
            }
        } else {
            build(node: 2 * node, lo: lo, hi: mid)
            build(node: 2 * node + 1, lo: mid, hi: hi)
        }
    }

    /// Quickselect on `key` over lo..<hi so slot k holds its k-th smallest value, everything before
    /// ≤ it and everything after ≥ it (ties by input index keep the tree deterministic).
    private func select(_ lo0: Int, _ hi0: Int, _ k: Int, _ key: UnsafeMutablePointer<Double>) {
        var lo = lo0, hi = hi0 - 1
        @inline(__always) func less(_ a: Int, _ b: Int) -> Bool {
            key[a] != key[b] ? key[a] < key[b] : index[a] < index[b]
        }
        @inline(__always) func swap(_ a: Int, _ b: Int) {
            let tx = xs[a]; xs[a] = xs[b]; xs[b] = tx
            let ty = ys[a]; ys[a] = ys[b]; ys[b] = ty
            let ti = index[a]; index[a] = index[b]; index[b] = ti
        }
        while hi > lo {
            // Median of three as pivot, moved to hi.
            let m = (lo + hi) / 2
            if less(m, lo) { swap(m, lo) }
            if less(hi, lo) { swap(hi, lo) }
            if less(m, hi) { swap(m, hi) }
            var store = lo
            for i in lo..<hi where less(i, hi) { swap(i, store); store += 1 }
            swap(store, hi)
            if store == k { return }
            if store < k { lo = store + 1 } else { hi = store - 1 }
        }
    }

    // MARK: queries

    /// The k nearest other points of every point (ties by index), at most `maxDistance` away.
    /// Row i of `indices` / `distances` (k wide) lists them nearest first, padded with −1 / +∞
    /// (all padding for a non-finite point).
    func nearestNeighbours(k: Int, maxDistance: Double?) -> (indices: [Int32], distances: [Double]) {
        var idx = [Int32](repeating: -1, count: total * k)
        var dist = [Double](repeating: .infinity, count: total * k)
        guard k > 0, count > 0 else { return (idx, dist) }
        let bound = maxDistance.map { $0 * $0 } ?? .infinity
        idx.withUnsafeMutableBufferPointer { iB in
        dist.withUnsafeMutableBufferPointer { dB in
            let ip = iB.baseAddress!, dp = dB.baseAddress!
            parallelChunks(count) { range in
                let bestD = UnsafeMutablePointer<Double>.allocate(capacity: k)
                let bestI = UnsafeMutablePointer<Int32>.allocate(capacity: k)
                defer { bestD.deallocate(); bestI.deallocate() }
                // Tree order: consecutive queries touch the same leaves.
                for slot in range {
                    var found = 0
                    let q = SIMD2(xs[slot], ys[slot]), self_ = index[slot]
                    knn(1, 0, count, q, self_, k, bound, bestD, bestI, &found)
                    let row = Int(self_) * k
                    for j in 0..<found { ip[row + j] = bestI[j]; dp[row + j] = bestD[j].squareRoot() }
                }
            }
        }}
        return (idx, dist)
    }

    private func knn(_ node: Int, _ lo: Int, _ hi: Int, _ q: SIMD2<Double>, _ skip: Int32, _ k: Int, _ bound: Double,
                     _ bestD: UnsafeMutablePointer<Double>, _ bestI: UnsafeMutablePointer<Int32>, _ found: inout Int) {
        let axis = splitAxis[node]
        if axis == 2 || hi - lo <= Self.leafSize {
            for i in lo..<hi {
                let id = index[i]
                if id == skip { continue }
                let dx = xs[i] - q.x, dy = ys[i] - q.y
                let d = dx * dx + dy * dy
                if d > bound { continue }
                if found == k && (d > bestD[k - 1] || (d == bestD[k - 1] && id > bestI[k - 1])) { continue }
                // Insertion into the sorted best list.
                var j = found == k ? k - 1 : found
                while j > 0 && (bestD[j - 1] > d || (bestD[j - 1] == d && bestI[j - 1] > id)) {
                    bestD[j] = bestD[j - 1]; bestI[j] = bestI[j - 1]; j -= 1
                }
                bestD[j] = d; bestI[j] = id
                if found < k { found += 1 }
            }
            return
        }
        let mid = (lo + hi) / 2
        let diff = (axis == 0 ? q.x : q.y) - splitValue[node]
        let nearLeft = diff < 0
        if nearLeft { knn(2 * node, lo, mid, q, skip, k, bound, bestD, bestI, &found) }
        else { knn(2 * node + 1, mid, hi, q, skip, k, bound, bestD, bestI, &found) }
        let d2 = diff * diff
        let worst = found == k ? bestD[k - 1] : bound
        if d2 <= worst {
            if nearLeft { knn(2 * node + 1, mid, hi, q, skip, k, bound, bestD, bestI, &found) }
            else { knn(2 * node, lo, mid, q, skip, k, bound, bestD, bestI, &found) }
        }
    }

    /// Calls `visit(j, d²)` for every point j ≠ skip with squared distance ≤ r² from q.
    @inline(__always)
    func withinRadius(_ q: SIMD2<Double>, radius: Double, skip: Int32, _ visit: (Int32, Double) -> Void) {
        guard count > 0 else { return }
        within(1, 0, count, q, radius * radius, skip, visit)
    }

    private func within(_ node: Int, _ lo: Int, _ hi: Int, _ q: SIMD2<Double>, _ r2: Double, _ skip: Int32,
                        _ visit: (Int32, Double) -> Void) {
        let axis = splitAxis[node]
        if axis == 2 || hi - lo <= Self.leafSize {
            for i in lo..<hi where index[i] != skip {
                let dx = xs[i] - q.x, dy = ys[i] - q.y
                let d = dx * dx + dy * dy
                if d <= r2 { visit(index[i], d) }
            }
            return
        }
        let mid = (lo + hi) / 2
        let diff = (axis == 0 ? q.x : q.y) - splitValue[node]
        // Left holds coordinates ≤ split, right ≥ split.
        if diff <= 0 || diff * diff <= r2 { within(2 * node, lo, mid, q, r2, skip, visit) }
        if diff >= 0 || diff * diff <= r2 { within(2 * node + 1, mid, hi, q, r2, skip, visit) }
    }

    /// Position of tree slot s and its input index (for callers iterating in tree order).
    @inline(__always) func slot(_ s: Int) -> (SIMD2<Double>, Int32) { (SIMD2(xs[s], ys[s]), index[s]) }
}

/// Splits 0..<count into contiguous chunks over all cores (one chunk inline when small).
func parallelChunks(_ count: Int, minPerChunk: Int = 2048, _ body: (Range<Int>) -> Void) {
    guard count > 0 else { return }
    let cores = ProcessInfo.processInfo.activeProcessorCount
    let chunks = min(cores * 4, max(1, count / minPerChunk))
    if chunks <= 1 { body(0..<count); return }
    DispatchQueue.concurrentPerform(iterations: chunks) { c in
        let lo = count * c / chunks, hi = count * (c + 1) / chunks
        if lo < hi { body(lo..<hi) }
    }
}
