import SeededRandom
import Foundation

/// Lloyd's k-means with greedy k-means++ seeding and restarts, as scikit-learn's `KMeans`
/// (algorithm "lloyd") defines it: the same tolerance (relative to the mean feature variance),
/// the same stop rules (labels unchanged, or total squared centre shift ≤ tol), the same final
/// relabelling and inertia, and empty clusters moved to the points farthest from their centres.
public enum KMeans {
    public struct Result: Sendable {
        /// k × d, row-major.
        public var centroids: [Double]
        /// Cluster of each point, 0..<k.
        public var labels: [Int]
        /// Sum of squared distances of the points to their centroids.
        public var inertia: Double
        public var iterations: Int
    }

    /// Clusters `n = points.count / dimension` points (row-major). With `initialCentroids`
    /// (k × d) one run starts there; otherwise `restarts` runs start from k-means++ with
    /// generators derived from `seed`, and the lowest inertia wins (the first on ties). Above
    /// 100 000 points the restarts run on an evenly strided subsample of 100 000 and the
    /// winner's centroids start one Lloyd run on all points.
    public static func fit(_ points: [Double], dimension d: Int, k: Int, seed: UInt64 = 0, restarts: Int = 10,
                           maxIterations: Int = 300, tolerance: Double = 1e-4,
                           initialCentroids: [Double]? = nil) throws -> Result {
        guard d >= 1, points.count % d == 0 else { throw RegionsError("k-means: \(points.count) values are not rows of \(d) features") }
        let n = points.count / d
        guard k >= 1 else { throw RegionsError("k-means: k = \(k) must be ≥ 1") }
        guard n >= k else {
            throw RegionsError("k-means: \(n) points cannot make \(k) clusters", hint: "use a smaller k or a larger region")
        }
        guard points.allSatisfy(\.isFinite) else { throw RegionsError("k-means: the features hold NaN or infinite values") }
        if let c = initialCentroids, c.count != k * d {
            throw RegionsError("k-means: \(c.count) initial centroid values, need k × d = \(k * d)")
        }
        // scikit-learn's tol is relative to the data: mean over features of the variance.
        var variance = 0.0
        for f in 0..<d {
            var mean = 0.0
            for i in 0..<n { mean += points[i * d + f] }
            mean /= Double(n)
            var s = 0.0
            for i in 0..<n { let x = points[i * d + f] - mean; s += x * x }
            variance += s / Double(n)
        }
        let tol = variance / Double(d) * tolerance
        if let c = initialCentroids { return lloyd(points, n: n, d: d, k: k, centroids: c, maxIterations: maxIterations, tol: tol) }
        // Restarts run in parallel, each with its own generator; on big inputs they run on an
        // evenly strided subsample and only the best start is refined on every point.
        let m = min(n, subsampleLimit)
        let sample: [Double]
        if m < n {
            var s = [Double](repeating: 0, count: m * d)
            for r in 0..<m { let i = r * n / m; for f in 0..<d { s[r * d + f] = points[i * d + f] } }
            sample = s
        } else {
            sample = points
        }
        let runs = max(1, restarts)
        let results = UnsafeMutableBufferPointer<Result?>.allocate(capacity: runs)
        results.initialize(repeating: nil)
        defer { results.deallocate() }
        DispatchQueue.concurrentPerform(iterations: runs) { r in
            var rng = SplitMix64(seed: seed &* 0x9E37_79B9 &+ UInt64(r))
            let start = plusPlus(sample, n: m, d: d, k: k, rng: &rng)
            results[r] = lloyd(sample, n: m, d: d, k: k, centroids: start, maxIterations: maxIterations, tol: tol)
        }
        var best = results[0]!
        for r in 1..<runs where results[r]!.inertia < best.inertia { best = results[r]! }
        if m < n { best = lloyd(points, n: n, d: d, k: k, centroids: best.centroids, maxIterations: maxIterations, tol: tol) }
        return best
    }

    /// Above this many points the restarts run on a subsample.
    static let subsampleLimit = 100_000

    /// Greedy k-means++: each new centre is the best of 2 + ⌊ln k⌋ candidates drawn with
    /// probability ∝ squared distance to the nearest centre so far.
    static func plusPlus(_ x: [Double], n: Int, d: Int, k: Int, rng: inout SplitMix64) -> [Double] {
        var centres = [Double]()
        centres.reserveCapacity(k * d)
        let first = Int(rng.next() % UInt64(n))
        centres += x[(first * d)..<(first * d + d)]
        var closest = (0..<n).map { squared(x, $0, centres, 0, d) }
        var potential = closest.reduce(0, +)
        let trials = 2 + Int(log(Double(k)))
        for _ in 1..<k {
            var cumulative = [Double](repeating: 0, count: n)
            var s = 0.0
            for i in 0..<n { s += closest[i]; cumulative[i] = s }
            var bestId = 0, bestPotential = Double.infinity, bestDistances: [Double] = []
            for _ in 0..<trials {
                let target = rng.unit() * potential
                // First index whose running sum exceeds the target (numpy's searchsorted, right side).
                var lo = 0, hi = n - 1
                while lo < hi { let mid = (lo + hi) / 2; if cumulative[mid] <= target { lo = mid + 1 } else { hi = mid } }
                let candidate = [Double](x[(lo * d)..<(lo * d + d)])
                var dist = [Double](repeating: 0, count: n)
                var pot = 0.0
                for i in 0..<n { dist[i] = min(closest[i], squared(x, i, candidate, 0, d)); pot += dist[i] }
                if pot < bestPotential { bestPotential = pot; bestId = lo; bestDistances = dist }
            }
            centres += x[(bestId * d)..<(bestId * d + d)]
            closest = bestDistances
            potential = bestPotential
        }
        return centres
    }

    @inline(__always) static func squared(_ x: [Double], _ i: Int, _ c: [Double], _ j: Int, _ d: Int) -> Double {
        var s = 0.0
        for f in 0..<d { let t = x[i * d + f] - c[j * d + f]; s += t * t }
        return s
    }

    /// The nearest centre of each point (lowest index on ties).
    static func nearest(_ x: [Double], n: Int, d: Int, k: Int, centres: [Double]) -> [Int] {
        var labels = [Int](repeating: 0, count: n)
        _ = step(x, n: n, d: d, k: k, centres: centres, labels: &labels, update: false)
        return labels
    }

    /// Points per chunk of the assignment step: chunk partial sums are added in chunk order, so
    /// the result does not depend on the number of threads.
    static let chunk = 8192

    static func lloyd(_ x: [Double], n: Int, d: Int, k: Int, centroids start: [Double], maxIterations: Int, tol: Double) -> Result {
        var centres = start
        var labels = [Int](repeating: -1, count: n)
        var previous = labels
        var strict = false
        var iterations = 0
        for it in 0..<max(1, maxIterations) {
            iterations = it + 1
            let (newCentres, shift) = step(x, n: n, d: d, k: k, centres: centres, labels: &labels, update: true)
            centres = newCentres
            if labels == previous { strict = true; break }
            if shift <= tol { break }
            previous = labels
        }
        if !strict { _ = step(x, n: n, d: d, k: k, centres: centres, labels: &labels, update: false) }
        var inertia = 0.0
        for i in 0..<n { inertia += squared(x, i, centres, labels[i], d) }
        return Result(centroids: centres, labels: labels, inertia: inertia, iterations: iterations)
    }

    /// Assigns every point to its nearest centre (lowest index on ties), then (with `update`)
    /// returns the new centres and the total squared centre shift.
    static func step(_ x: [Double], n: Int, d: Int, k: Int, centres: [Double], labels: inout [Int], update: Bool) -> ([Double], Double) {
        let chunks = (n + chunk - 1) / chunk
        var partial = [Double](repeating: 0, count: chunks * k * (d + 1))
        var nearest = [Double](repeating: 0, count: n)
        x.withUnsafeBufferPointer { xB in
        centres.withUnsafeBufferPointer { cB in
        labels.withUnsafeMutableBufferPointer { lB in
        nearest.withUnsafeMutableBufferPointer { nB in
        partial.withUnsafeMutableBufferPointer { pB in
            let xp = xB.baseAddress!, cp = cB.baseAddress!, lp = lB.baseAddress!, np = nB.baseAddress!, pp = pB.baseAddress!
            let work = { (c: Int) in
                let sums = pp + c * k * (d + 1)
                for i in (c * chunk)..<min(n, (c + 1) * chunk) {
                    var best = 0, bestD = Double.infinity
                    for j in 0..<k {
                        var s = 0.0
                        for f in 0..<d { let t = xp[i * d + f] - cp[j * d + f]; s += t * t }
                        if s < bestD { bestD = s; best = j }
                    }
                    lp[i] = best
                    np[i] = bestD
                    for f in 0..<d { sums[best * (d + 1) + f] += xp[i * d + f] }
                    sums[best * (d + 1) + d] += 1
                }
            }
            if chunks > 1 && n * k * d > 200_000 { DispatchQueue.concurrentPerform(iterations: chunks, execute: work) } else { for c in 0..<chunks { work(c) } }
        }}}}}
        guard update else { return (centres, 0) }
        var sums = [Double](repeating: 0, count: k * (d + 1))
        for c in 0..<chunks { for t in 0..<(k * (d + 1)) { sums[t] += partial[c * k * (d + 1) + t] } }
        // Empty clusters take the points farthest from their centres, farthest first.
        let empty = (0..<k).filter { sums[$0 * (d + 1) + d] == 0 }
        if !empty.isEmpty {
            let far = (0..<n).sorted { nearest[$0] != nearest[$1] ? nearest[$0] > nearest[$1] : $0 < $1 }
            for (e, j) in empty.enumerated() where e < far.count {
                let i = far[e], old = labels[i]
                for f in 0..<d { sums[old * (d + 1) + f] -= x[i * d + f]; sums[j * (d + 1) + f] = x[i * d + f] }
                sums[old * (d + 1) + d] -= 1
                sums[j * (d + 1) + d] = 1
            }
        }
        var out = centres
        var shift = 0.0
        for j in 0..<k {
            let count = sums[j * (d + 1) + d]
            guard count > 0 else { continue }
            for f in 0..<d {
                out[j * d + f] = sums[j * (d + 1) + f] / count
                let t = out[j * d + f] - centres[j * d + f]
                shift += t * t
            }
        }
        return (out, shift)
    }
}
