import Foundation

/// The lasso-logistic path solver behind `LassoCV`: warm starts down the λ grid, sequential
/// strong rules (Tibshirani et al. 2012) to shrink the working set, a KKT check over the rest,
/// and proximal Newton steps solved by coordinate descent in covariance form on the working set
/// only (so a step costs O(n·|S|²), not O(n·p²)). Features must be standardised.
struct LassoPathSolver {
    let n: Int, p: Int
    /// Column-major features.
    let x: [Double]
    let y: [Double]
    /// Intercept first.
    var beta: [Double]
    var eta: [Double]
    /// Features ever in the working set; glmnet keeps them for the rest of the path.
    var inSet: [Bool]
    var previousLambda: Double?
    /// Gradients at the current β, left by the last KKT check (nil before the first solve).
    var lastGradients: [Double]?
    let tolerance: Double
    /// Mean deviance of the intercept-only model, the yardstick of glmnet's stopping rules.
    let nullDeviance: Double

    init(_ d: Design, tolerance: Double) {
        n = d.n; p = d.p; x = d.x; y = d.y
        let ybar = y.reduce(0, +) / Double(n)
        let b0 = log(ybar / (1 - ybar))
        beta = [b0] + [Double](repeating: 0, count: p)
        eta = [Double](repeating: b0, count: n)
        inSet = [Bool](repeating: false, count: p)
        self.tolerance = tolerance
        let yy = d.y, nn = d.n
        nullDeviance = 2 * (0..<nn).reduce(0.0) { $0 + log1pexp(b0) - yy[$1] * b0 } / Double(nn)
    }

    /// Mean deviance 2·mean(log(1 + e^η) − yη) at the current fit.
    var deviance: Double {
        var s = 0.0
        for i in 0..<n { s += log1pexp(eta[i]) - y[i] * eta[i] }
        return 2 * s / Double(n)
    }

    /// |xⱼᵀ(y − μ)| / n for every feature at the current fit.
    func gradients() -> [Double] {
        var r = [Double](repeating: 0, count: n)
        for i in 0..<n { r[i] = y[i] - logistic(eta[i]) }
        var g = [Double](repeating: 0, count: p)
        x.withUnsafeBufferPointer { x in
            r.withUnsafeBufferPointer { r in
                for j in 0..<p {
                    var s = 0.0
                    let col = j * n
                    for i in 0..<n { s += x[col + i] * r[i] }
                    g[j] = abs(s) / Double(n)
                }
            }
        }
        return g
    }

    /// Fits at `lambda`, warm-started from the previous λ's solution.
    mutating func solve(lambda: Double, maxIterations: Int = 1000) -> LogisticRegression.Result {
        // The previous λ's KKT check left the gradients at this very β.
        var g = lastGradients ?? gradients()
        // Sequential strong rule: |gⱼ(λₖ₋₁)| < 2λₖ − λₖ₋₁ predicts βⱼ(λₖ) = 0.
        let cut = 2 * lambda - (previousLambda ?? lambda)
        for j in 0..<p where g[j] >= cut || beta[j + 1] != 0 { inSet[j] = true }
        previousLambda = lambda
        var total = 0, converged = true
        while true {
            let set = (0..<p).filter { inSet[$0] }
            let r = newton(set, lambda: lambda, maxIterations: maxIterations)
            total += r.iterations; converged = converged && r.converged
            // KKT: a feature outside the working set must have |gⱼ| ≤ λ at the solution.
            g = gradients()
            lastGradients = g
            var added = false
            for j in 0..<p where !inSet[j] && g[j] > lambda * (1 + 1e-9) { inSet[j] = true; added = true }
            if !added { break }
        }
        return LogisticRegression.Result(beta: beta, iterations: total, converged: converged)
    }

    /// Proximal Newton on the working set `set` (feature indices), the intercept included.
    private mutating func newton(_ set: [Int], lambda: Double, maxIterations: Int) -> (iterations: Int, converged: Bool) {
        let q = set.count + 1
        // Coordinate descent stops when the largest weighted squared coefficient change (the
        // objective change it causes) is below tolerance²: glmnet's tolerance × null deviance
        // leaves coefficients ~1e-2 off on correlated features.
        let invN = 1 / Double(n), tol2 = tolerance * tolerance
        // Between proximal Newton steps glmnet's looser rule (tolerance × null deviance) suffices:
        // with exact subproblem solutions convergence is quadratic, so the error left after a
        // step that small is of its square.
        let outerTol = tolerance * nullDeviance
        var w = [Double](repeating: 0, count: n), r = w
        var gram = [Double](repeating: 0, count: q * q), c = [Double](repeating: 0, count: q)
        // Working-set columns, contiguous, with a leading column of ones for the intercept.
        var xs = [Double](repeating: 1, count: q * n), wx = xs
        x.withUnsafeBufferPointer { x in
            for (a, j) in set.enumerated() { for i in 0..<n { xs[(a + 1) * n + i] = x[j * n + i] } }
        }
        var b = [beta[0]] + set.map { beta[$0 + 1] }
        var f = objective(eta, b, lambda)
        for it in 1...maxIterations {
            for i in 0..<n {
                let m = logistic(eta[i])
                w[i] = max(m * (1 - m), 1e-5)
                r[i] = (y[i] - m) / w[i]
            }
            // Weighted Gram matrix and working-residual correlations: dot products of contiguous columns.
            xs.withUnsafeBufferPointer { xs in
                wx.withUnsafeMutableBufferPointer { wx in
                    let x0 = xs.baseAddress!, w0 = wx.baseAddress!
                    for a in 0..<q { for i in 0..<n { w0[a * n + i] = w[i] * x0[a * n + i] } }
                    r.withUnsafeBufferPointer { rr in
                        for a in 0..<q {
                            c[a] = dot(w0 + a * n, rr.baseAddress!, n) * invN
                            for bb in a..<q {
                                let t = dot(w0 + a * n, x0 + bb * n, n) * invN
                                gram[a * q + bb] = t; gram[bb * q + a] = t
                            }
                        }
                    }
                }
            }
            var nb = b
            // The quadratic model's linear term: minimise ½bᵀGb − hᵀb + λ‖b₁..‖₁ with h = c + G·b.
            var h = c
            for a in 0..<q { for k in 0..<q { h[a] += gram[a * q + k] * b[k] } }
            // Coordinate descent finds the active set and signs; with those fixed the subproblem
            // is linear, G_AA·b_A = h_A − λ·s_A, solved exactly when the solution keeps its signs
            // and every inactive feature satisfies |h_j − G_jA·b_A| ≤ λ. Correlated features
            // make plain coordinate descent crawl; the solve skips that crawl.
            gram.withUnsafeBufferPointer { g in
                CoordinateDescent.minimise(gram: g, q: q, c: &c, b: &nb, lambda: lambda, tol2: tol2, innerSweeps: 20) { act, current in
                    Self.activeSolve(g, h, current, act, q, lambda)
                }
            }
            // η for the proposal, then backtrack towards the previous β if the quadratic model overshot.
            var dEta = [Double](repeating: 0, count: n)
            xs.withUnsafeBufferPointer { xs in
                for a in 0..<q where nb[a] != b[a] {
                    let d = nb[a] - b[a], ca = a * n
                    for i in 0..<n { dEta[i] += d * xs[ca + i] }
                }
            }
            var t = 1.0, trialEta = eta, trial = nb
            for i in 0..<n { trialEta[i] = eta[i] + dEta[i] }
            var ft = objective(trialEta, nb, lambda)
            while ft > f + 1e-14 * abs(f) && t > 1e-6 {
                t /= 2
                for k in 0..<q { trial[k] = b[k] + t * (nb[k] - b[k]) }
                for i in 0..<n { trialEta[i] = eta[i] + t * dEta[i] }
                ft = objective(trialEta, trial, lambda)
            }
            var change = 0.0
            for k in 0..<q { change = max(change, gram[k * q + k] * (trial[k] - b[k]) * (trial[k] - b[k])) }
            b = trial; eta = trialEta; f = ft
            beta[0] = b[0]
            for (a, j) in set.enumerated() { beta[j + 1] = b[a + 1] }
            if change < outerTol { return (it, true) }
        }
        return (maxIterations, false)
    }

    /// The exact minimiser of the quadratic subproblem for the sign pattern of `b` on `act`, or
    /// nil when that pattern is not optimal.
    static func activeSolve(_ g: UnsafeBufferPointer<Double>, _ h: [Double], _ b: [Double], _ act: [Int], _ q: Int, _ lambda: Double) -> [Double]? {
        let m = act.count
        var a = [Double](repeating: 0, count: m * m), rhs = [Double](repeating: 0, count: m)
        for (r, i) in act.enumerated() {
            rhs[r] = h[i] - (i == 0 ? 0 : (b[i] > 0 ? lambda : -lambda))
            for (c, j) in act.enumerated() { a[r * m + c] = g[i * q + j] }
        }
        guard let x = choleskySolve(a, rhs, m) else { return nil }
        var out = [Double](repeating: 0, count: q)
        for (r, i) in act.enumerated() {
            if i != 0 && (x[r] > 0) != (b[i] > 0) { return nil }
            out[i] = x[r]
        }
        let isActive = Set(act)
        for j in 0..<q where !isActive.contains(j) {
            var s = h[j]
            for (r, i) in act.enumerated() { s -= g[j * q + i] * x[r] }
            if abs(s) > lambda * (1 + 1e-10) { return nil }
        }
        return out
    }

    private func objective(_ eta: [Double], _ b: [Double], _ lambda: Double) -> Double {
        var s = 0.0
        for i in 0..<n { s += log1pexp(eta[i]) - y[i] * eta[i] }
        var pen = 0.0
        for k in 1..<b.count { pen += abs(b[k]) }
        return s / Double(n) + lambda * pen
    }
}

/// Σ aᵢbᵢ with four accumulators (independent chains the CPU can overlap).
@inline(__always) func dot(_ a: UnsafePointer<Double>, _ b: UnsafePointer<Double>, _ n: Int) -> Double {
    var s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0, i = 0
    while i + 4 <= n {
        s0 += a[i] * b[i]; s1 += a[i + 1] * b[i + 1]; s2 += a[i + 2] * b[i + 2]; s3 += a[i + 3] * b[i + 3]
        i += 4
    }
    while i < n { s0 += a[i] * b[i]; i += 1 }
    return (s0 + s1) + (s2 + s3)
}
