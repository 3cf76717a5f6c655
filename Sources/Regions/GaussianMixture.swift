import Foundation

/// A Gaussian mixture fitted by EM, following scikit-learn's `GaussianMixture`: initial
/// responsibilities from hard k-means labels (or from the nearest given mean), the
/// covariance floor `regularisation` added to the diagonal, 10·ε added to each component's
/// mass, and the stop rule |Δ mean log-likelihood| < tolerance.
public enum GaussianMixture {
    public enum Covariance: String, Sendable, CaseIterable { case diagonal, full }

    public struct Result: Sendable {
        public var weights: [Double]
        /// k × d, row-major.
        public var means: [Double]
        /// k × d (diagonal) or k × d × d (full), row-major.
        public var covariances: [Double]
        /// Most probable component of each point, 0..<k.
        public var labels: [Int]
        /// Mean log-likelihood per point under the final parameters (scikit-learn's `score`).
        public var logLikelihood: Double
        public var iterations: Int
        public var converged: Bool
    }

    /// Fits k components to `points` (row-major, `dimension` features). Without
    /// `initialMeans`, a seeded k-means (one k-means++ start) gives the initial labels. Above
    /// 100 000 points EM runs on an evenly strided subsample of 100 000 and the fitted model
    /// labels and scores every point.
    public static func fit(_ points: [Double], dimension d: Int, k: Int, covariance: Covariance = .full, seed: UInt64 = 0,
                           maxIterations: Int = 100, tolerance: Double = 1e-3, regularisation: Double = 1e-6,
                           initialMeans: [Double]? = nil) throws -> Result {
        let n = points.count / max(1, d)
        guard d >= 1, points.count % d == 0, k >= 1, n >= k else {
            throw RegionsError("Gaussian mixture: \(n) points of \(d) features cannot make \(k) components", hint: "use a smaller k or a larger region")
        }
        guard points.allSatisfy(\.isFinite) else { throw RegionsError("Gaussian mixture: the features hold NaN or infinite values") }
        let start: [Double]
        if let m = initialMeans {
            guard m.count == k * d else { throw RegionsError("Gaussian mixture: \(m.count) initial mean values, need k × d = \(k * d)") }
            start = m
        } else {
            start = try KMeans.fit(points, dimension: d, k: k, seed: seed, restarts: 1).centroids
        }
        // Above KMeans.subsampleLimit points EM runs on an evenly strided subsample; the
        // final model then scores and labels every point.
        let m = min(n, KMeans.subsampleLimit)
        var sample = points
        if m < n {
            sample = [Double](repeating: 0, count: m * d)
            for r in 0..<m { let i = r * n / m; for f in 0..<d { sample[r * d + f] = points[i * d + f] } }
        }
        // Hard labels from the starting means (for k-means centroids: its own labels).
        let labels = KMeans.nearest(sample, n: m, d: d, k: k, centres: start)
        var model = Model(d: d, k: k, full: covariance == .full, reg: regularisation)
        var resp = [Double](repeating: 0, count: m * k)
        for i in 0..<m { resp[i * k + labels[i]] = 1 }
        model.mStep(sample, n: m, resp: resp)
        model.means = start
        try model.factorise()

        var lowerBound = -Double.infinity
        var converged = false
        var iterations = 0
        for it in 1...max(1, maxIterations) {
            iterations = it
            let previous = lowerBound
            lowerBound = model.eStep(sample, n: m, resp: &resp)
            model.mStep(sample, n: m, resp: resp)
            try model.factorise()
            if abs(lowerBound - previous) < tolerance { converged = true; break }
        }
        if m < n { resp = [Double](repeating: 0, count: n * k) }
        let score = model.eStep(points, n: n, resp: &resp)
        let out = (0..<n).map { i -> Int in
            var best = 0
            for j in 1..<k where resp[i * k + j] > resp[i * k + best] { best = j }
            return best
        }
        return Result(weights: model.weights, means: model.means, covariances: model.covariances, labels: out,
                      logLikelihood: score, iterations: iterations, converged: converged)
    }

    struct Model {
        let d: Int, k: Int, full: Bool, reg: Double
        var weights: [Double] = []
        var means: [Double] = []
        var covariances: [Double] = []
        /// Per component: lower Cholesky factor (full) or standard deviations (diagonal), and
        /// −½ log det Σ.
        var factors: [Double] = []
        var halfLogDet: [Double] = []

        init(d: Int, k: Int, full: Bool, reg: Double) { self.d = d; self.k = k; self.full = full; self.reg = reg }

        mutating func mStep(_ x: [Double], n: Int, resp: [Double]) {
            var nk = [Double](repeating: 10 * Double.ulpOfOne, count: k)
            var mu = [Double](repeating: 0, count: k * d)
            for i in 0..<n { for j in 0..<k {
                let r = resp[i * k + j]
                if r == 0 { continue }
                nk[j] += r
                for f in 0..<d { mu[j * d + f] += r * x[i * d + f] }
            } }
            for j in 0..<k { for f in 0..<d { mu[j * d + f] /= nk[j] } }
            let width = full ? d * d : d
            var cov = [Double](repeating: 0, count: k * width)
            var diff = [Double](repeating: 0, count: d)
            for i in 0..<n { for j in 0..<k {
                let r = resp[i * k + j]
                if r == 0 { continue }
                for f in 0..<d { diff[f] = x[i * d + f] - mu[j * d + f] }
                if full {
                    for a in 0..<d { for b in 0...a { cov[j * width + a * d + b] += r * diff[a] * diff[b] } }
                } else {
                    for f in 0..<d { cov[j * width + f] += r * diff[f] * diff[f] }
                }
            } }
            for j in 0..<k {
                if full {
                    for a in 0..<d { for b in 0...a {
                        let v = cov[j * width + a * d + b] / nk[j] + (a == b ? reg : 0)
                        cov[j * width + a * d + b] = v; cov[j * width + b * d + a] = v
                    } }
                } else {
                    for f in 0..<d { cov[j * width + f] = cov[j * width + f] / nk[j] + reg }
                }
            }
            let total = nk.reduce(0, +)
            weights = nk.map { $0 / total }
            means = mu
            covariances = cov
        }

        /// Cholesky factors of the covariances; fails on a component that collapsed.
        mutating func factorise() throws {
            let width = full ? d * d : d
            factors = [Double](repeating: 0, count: k * width)
            halfLogDet = [Double](repeating: 0, count: k)
            for j in 0..<k {
                if full {
                    for a in 0..<d {
                        for b in 0...a {
                            var s = covariances[j * width + a * d + b]
                            for c in 0..<b { s -= factors[j * width + a * d + c] * factors[j * width + b * d + c] }
                            if a == b {
                                guard s > 0 else { throw collapsed(j) }
                                factors[j * width + a * d + a] = s.squareRoot()
                            } else {
                                factors[j * width + a * d + b] = s / factors[j * width + b * d + b]
                            }
                        }
                        halfLogDet[j] -= log(factors[j * width + a * d + a])
                    }
                } else {
                    for f in 0..<d {
                        guard covariances[j * width + f] > 0 else { throw collapsed(j) }
                        factors[j * width + f] = covariances[j * width + f].squareRoot()
                        halfLogDet[j] -= log(factors[j * width + f])
                    }
                }
            }
        }

        func collapsed(_ j: Int) -> RegionsError {
            RegionsError("Gaussian mixture: component \(j + 1) has a singular covariance",
                         hint: "use fewer components, diagonal covariances, or a larger regularisation")
        }

        /// Responsibilities in place; returns the mean log-likelihood per point. Chunks of
        /// points run in parallel; their sums are added in chunk order (thread-count independent).
        func eStep(_ x: [Double], n: Int, resp: inout [Double]) -> Double {
            let width = full ? d * d : d
            let constant = -0.5 * Double(d) * log(2 * Double.pi)
            let logW = weights.map { log($0) }
            let chunks = (n + chunkSize - 1) / chunkSize
            var totals = [Double](repeating: 0, count: chunks)
            let (d, k, full) = (self.d, self.k, self.full)
            x.withUnsafeBufferPointer { xB in
            resp.withUnsafeMutableBufferPointer { rB in
            totals.withUnsafeMutableBufferPointer { tB in
            means.withUnsafeBufferPointer { mB in
            factors.withUnsafeBufferPointer { fB in
            halfLogDet.withUnsafeBufferPointer { hB in
            logW.withUnsafeBufferPointer { wB in
                let xp = xB.baseAddress!, rp = rB.baseAddress!, tp = tB.baseAddress!, mp = mB.baseAddress!, fp = fB.baseAddress!
                let hp = hB.baseAddress!, wp = wB.baseAddress!
                let work = { (c: Int) in
                    var y = [Double](repeating: 0, count: d), lp = [Double](repeating: 0, count: k)
                    var total = 0.0
                    for i in (c * chunkSize)..<min(n, (c + 1) * chunkSize) {
                        for j in 0..<k {
                            var q = 0.0
                            if full {
                                // Forward substitution L y = x − μ.
                                for a in 0..<d {
                                    var s = xp[i * d + a] - mp[j * d + a]
                                    for c in 0..<a { s -= fp[j * width + a * d + c] * y[c] }
                                    y[a] = s / fp[j * width + a * d + a]
                                    q += y[a] * y[a]
                                }
                            } else {
                                for f in 0..<d { let t = (xp[i * d + f] - mp[j * d + f]) / fp[j * width + f]; q += t * t }
                            }
                            lp[j] = constant + hp[j] - 0.5 * q + wp[j]
                        }
                        var m = lp[0]
                        for j in 1..<k where lp[j] > m { m = lp[j] }
                        var s = 0.0
                        for j in 0..<k { s += exp(lp[j] - m) }
                        let lse = m + log(s)
                        total += lse
                        for j in 0..<k { rp[i * k + j] = exp(lp[j] - lse) }
                    }
                    tp[c] = total
                }
                if chunks > 1 { DispatchQueue.concurrentPerform(iterations: chunks, execute: work) } else { work(0) }
            }}}}}}}
            return totals.reduce(0, +) / Double(n)
        }
    }

    /// Points per parallel chunk.
    static let chunkSize = 16384
}
