import Foundation

/// Splits touching nuclei: a flooding watershed on the distance transform, from its peaks down,
/// in which two basins that meet stay apart only when both peaks rise at least `depth` above
/// the meeting level and lie at least `minSeparation` apart.
///
/// That is marker-controlled watershed with h-maxima markers (a peak whose dynamic is below h
/// is not a marker and its pixels go to the neighbour that floods them) plus `peak_local_max`'s
/// minimum distance, computed in one pass: pixels are bucket-sorted by their integer squared
/// distance (exact, linear time; ties in raster order) and basins are kept in a union–find.
/// 4-connected, so every label is a 4-connected set. Deterministic.
final class Watershed {
    private var parent: [Int32] = []
    private var peak: [Int32] = []     // highest squared distance in the basin
    private var peakAt: [Int32] = []   // its pixel (first in raster order among equals)
    private var counts: [Int32] = []
    private var order: [Int32] = []

    /// Labels (1...count, raster order of first pixel; 0 = background) into `labels` from the
    /// squared distances `sq` (0 = background). `depth` and `minSeparation` are in pixels.
    func run(_ sq: UnsafePointer<Int32>, width w: Int, height h: Int, depth: Double, minSeparation: Double,
             into labels: UnsafeMutablePointer<Int32>) -> Int {
        let n = w * h
        let cap = Int(DistanceTransform.cap)
        if counts.count < cap + 2 { counts = [Int32](repeating: 0, count: cap + 2) }
        labels.initialize(repeating: 0, count: n)
        var fg = 0
        // Counting sort, highest level first, raster order within a level.
        counts.withUnsafeMutableBufferPointer { cB in
            let c = cB.baseAddress!
            for i in 0..<(cap + 2) { c[i] = 0 }
            for i in 0..<n where sq[i] > 0 { c[Int(sq[i])] += 1 }
            var start: Int32 = 0
            var v = cap
            while v >= 1 { let k = c[v]; c[v] = start; start += k; v -= 1 }
            fg = Int(start)
        }
        if order.count < fg { order = [Int32](repeating: 0, count: fg) }
        parent.removeAll(keepingCapacity: true); peak.removeAll(keepingCapacity: true); peakAt.removeAll(keepingCapacity: true)
        parent.append(0); peak.append(0); peakAt.append(0)
        let minSep2 = minSeparation * minSeparation
        counts.withUnsafeMutableBufferPointer { cB in
        order.withUnsafeMutableBufferPointer { oB in
            let c = cB.baseAddress!, ord = oB.baseAddress!
            for i in 0..<n where sq[i] > 0 {
                let v = Int(sq[i])
                ord[Int(c[v])] = Int32(i)
                c[v] += 1
            }
            for k in 0..<fg {
                let p = Int(ord[k])
                let level = sq[p]
                let x = p % w
                var roots = (Int32(0), Int32(0), Int32(0), Int32(0))
                var nr = 0
                @inline(__always) func consider(_ q: Int) {
                    let l = labels[q]
                    if l == 0 { return }
                    let r = find(l)
                    if nr > 0 && roots.0 == r { return }
                    if nr > 1 && roots.1 == r { return }
                    if nr > 2 && roots.2 == r { return }
                    switch nr { case 0: roots.0 = r; case 1: roots.1 = r; case 2: roots.2 = r; default: roots.3 = r }
                    nr += 1
                }
                if p >= w { consider(p - w) }
                if x > 0 { consider(p - 1) }
                if x + 1 < w { consider(p + 1) }
                if p + w < n { consider(p + w) }
                if nr == 0 {
                    let id = Int32(parent.count)
                    parent.append(id); peak.append(level); peakAt.append(Int32(p))
                    labels[p] = id
                    continue
                }
                // Join the basin with the highest peak; merge the others into it when shallow or close.
                @inline(__always) func root(_ j: Int) -> Int32 {
                    switch j { case 0: return roots.0; case 1: return roots.1; case 2: return roots.2; default: return roots.3 }
                }
                var target = roots.0
                for j in 1..<nr where higher(root(j), than: target) { target = root(j) }
                for j in 0..<nr {
                    let r = root(j)
                    if r == target { continue }
                    let t = find(target)
                    if t == find(r) { continue }
                    let lowPeak = Double(min(peak[Int(t)], peak[Int(r)])).squareRoot()
                    let dynamic = lowPeak - Double(level).squareRoot()
                    let a = Int(peakAt[Int(t)]), b = Int(peakAt[Int(r)])
                    let dx = Double(a % w - b % w), dy = Double(a / w - b / w)
                    if dynamic < depth || dx * dx + dy * dy < minSep2 { target = union(t, r) }
                }
                labels[p] = find(target)
            }
        }}
        // Final labels: roots numbered in raster order of their first pixel.
        var final = [Int32](repeating: 0, count: parent.count)
        var count: Int32 = 0
        for i in 0..<n where labels[i] != 0 {
            let r = Int(find(labels[i]))
            if final[r] == 0 { count += 1; final[r] = count }
            labels[i] = final[r]
        }
        return Int(count)
    }

    @inline(__always) private func higher(_ a: Int32, than b: Int32) -> Bool {
        let pa = peak[Int(a)], pb = peak[Int(b)]
        return pa > pb || (pa == pb && peakAt[Int(a)] < peakAt[Int(b)])
    }

    @inline(__always) private func find(_ x: Int32) -> Int32 {
        var r = x
        while parent[Int(r)] != r { r = parent[Int(r)] }
        var c = x
        while parent[Int(c)] != r { let nx = parent[Int(c)]; parent[Int(c)] = r; c = nx }
        return r
    }

    /// Merges two roots; the one with the higher peak stays the root.
    private func union(_ a: Int32, _ b: Int32) -> Int32 {
        if higher(a, than: b) { parent[Int(b)] = a; return a }
        parent[Int(a)] = b; return b
    }
}
