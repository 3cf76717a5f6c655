import Foundation

/// A penalty on glmnet's scale: the fit minimises −(1/n)·loglik(β₀, β) + λ·P(β) with
/// P = ½‖β‖² (ridge) or ‖β‖₁ (lasso); the intercept is never penalised. scikit-learn's
/// `C·Σ loss + P(w)` is the same objective with λ = 1 / (C·n) for the solvers that leave the
/// intercept unpenalised (lbfgs, newton-cg, sag, saga — not liblinear).
public enum LogisticPenalty: Equatable, Sendable {
    case none
    case ridge(lambda: Double)
    case lasso(lambda: Double)
}

/// One term of an unpenalised fit: Wald statistics and the odds ratio with its interval.
public struct LogisticTerm: Codable, Equatable, Sendable {
    public var coefficient: Double
    public var standardError: Double
    public var z: Double
    public var pValue: Double
    public var oddsRatio: Double
    /// Interval of the odds ratio: exp(β ± z·SE).
    public var interval: ConfidenceInterval
}

/// A fitted binary logistic model.
public struct LogisticModel: Codable, Equatable, Sendable {
    public var intercept: Double
    public var coefficients: [Double]
    public var iterations: Int
    public var converged: Bool
    /// Conditions the caller must know about (separation, more features than cases, constant features).
    public var warnings: [String]
    /// Wald inference for unpenalised fits: the intercept first, then one per feature; nil when penalised.
    public var terms: [LogisticTerm]?

    /// β₀ + xᵀβ per row — the rad-score when the features are radiomic.
    public func linearPredictor(_ rows: [[Double]]) -> [Double] {
        rows.map { r in zip(r, coefficients).reduce(intercept) { $0 + $1.0 * $1.1 } }
    }

    public func probabilities(_ rows: [[Double]]) -> [Double] { linearPredictor(rows).map(logistic) }
}

public enum LogisticRegression {
    /// Fits by Newton's method with step halving (unpenalised, ridge) or by glmnet-style proximal
    /// Newton with coordinate descent (lasso). Penalised fits expect standardised features
    /// (`Standardizer`), since the penalty treats every coefficient alike.
    public static func fit(features rows: [[Double]], labels: [Bool], penalty: LogisticPenalty = .none,
                           level: Double = 0.95, maxIterations: Int = 200, tolerance: Double = 1e-10) throws -> LogisticModel {
        try checkLevel(level)
        var d = try Design(rows, labels)
        var warnings = d.warnings
        switch penalty {
        case .none:
            if d.p + 1 > d.n {
                throw StatisticsError.invalidParameter("logistic regression: \(d.p) features but \(d.n) cases; an unpenalised fit needs more cases than features — select features or use a lasso/ridge penalty")
            }
            if let j = d.constant.first {
                throw StatisticsError.invalidParameter("logistic regression: feature \(j) is constant, so its coefficient is not identifiable; drop it before fitting")
            }
            var r = try newton(&d, lambda: 0, maxIterations: maxIterations, tolerance: tolerance)
            if !r.converged {
                warnings.append("logistic regression: the fit did not converge in \(r.iterations) iterations — the classes are (quasi-)separated, so coefficients, odds ratios and p-values are unreliable; use fewer features or a penalty")
            }
            // Under separation the information matrix degenerates; the terms then carry NaN inference.
            let cov = r.converged ? try d.covariance(r.beta) : try? d.covariance(r.beta)
            let z = Normal.quantile(0.5 + level / 2)
            r.terms = (0...d.p).map { k in
                let b = r.beta[k], se = cov.map { $0[k * (d.p + 1) + k].squareRoot() } ?? .nan
                return LogisticTerm(coefficient: b, standardError: se, z: b / se, pValue: 2 * Normal.survival(abs(b / se)),
                                    oddsRatio: exp(b), interval: ConfidenceInterval(lower: exp(b - z * se), upper: exp(b + z * se), level: level))
            }
            return r.model(warnings)
        case let .ridge(lambda):
            try checkLambda(lambda)
            return try newton(&d, lambda: lambda, maxIterations: maxIterations, tolerance: tolerance).model(warnings)
        case let .lasso(lambda):
            try checkLambda(lambda)
            var beta = [Double](repeating: 0, count: d.p + 1)
            return lasso(&d, lambda: lambda, beta: &beta, maxIterations: maxIterations, tolerance: tolerance).model(warnings)
        }
    }

    private static func checkLambda(_ l: Double) throws {
        guard l >= 0 && l.isFinite else { throw StatisticsError.invalidParameter("penalty λ = \(l); use a finite λ ≥ 0") }
    }

    struct Result {
        var beta: [Double]
        var iterations: Int
        var converged: Bool
        var terms: [LogisticTerm]? = nil
        func model(_ w: [String]) -> LogisticModel {
            LogisticModel(intercept: beta[0], coefficients: Array(beta.dropFirst()), iterations: iterations,
                          converged: converged, warnings: w, terms: terms)
        }
    }

    static func newton(_ d: inout Design, lambda: Double, maxIterations: Int, tolerance: Double) throws -> Result {
        let q = d.p + 1
        var beta = [Double](repeating: 0, count: q)
        var f = d.objective(beta, ridge: lambda, lasso: 0)
        for it in 1...maxIterations {
            let (g, h) = d.gradientHessian(beta, ridge: lambda)
            guard let step = choleskySolve(h, g, q) else {
                // Weights collapsing to 0 mid-fit (not at the start) is separation, not collinearity.
                if lambda == 0 && it > 1 { return Result(beta: beta, iterations: it, converged: false) }
                throw StatisticsError.invalidParameter("logistic regression: the information matrix is singular (collinear features?); drop redundant features or use a penalty")
            }
            var t = 1.0, trial = beta, ft = f
            for _ in 0..<40 {
                for k in 0..<q { trial[k] = beta[k] - t * step[k] }
                ft = d.objective(trial, ridge: lambda, lasso: 0)
                if ft <= f + 1e-14 * abs(f) { break }
                t /= 2
            }
            let change = (0..<q).reduce(0.0) { max($0, abs(trial[$1] - beta[$1])) }
            let scale = 1 + beta.reduce(0.0) { max($0, abs($1)) }
            beta = trial; f = ft
            if change <= tolerance * scale {
                return Result(beta: beta, iterations: it, converged: true)
            }
        }
        return Result(beta: beta, iterations: maxIterations, converged: false)
    }

    /// Proximal Newton: a weighted least-squares quadratic approximation per outer step, solved by
    /// cyclic coordinate descent with soft-thresholding in covariance form (the (p+1)² weighted Gram
    /// matrix makes a coordinate step O(p), not O(n)), sweeping the active set until it settles and
    /// then all features; a backtracking line search keeps the objective decreasing. Warm-starts
    /// from `beta` (used along a λ path).
    static func lasso(_ d: inout Design, lambda: Double, beta: inout [Double], maxIterations: Int, tolerance: Double) -> Result {
        let n = d.n, p = d.p, q = p + 1
        let invN = 1 / Double(n)
        var f = d.objective(beta, ridge: 0, lasso: lambda)
        var w = [Double](repeating: 0, count: n), r = w
        var gram = [Double](repeating: 0, count: q * q), c = [Double](repeating: 0, count: q)
        var xi = [Double](repeating: 1, count: q)
        for it in 1...maxIterations {
            let eta = d.eta(beta)
            for i in 0..<n {
                let m = logistic(eta[i])
                w[i] = max(m * (1 - m), 1e-5)
                r[i] = (d.y[i] - m) / w[i]
            }
            for k in 0..<(q * q) { gram[k] = 0 }
            for k in 0..<q { c[k] = 0 }
            d.x.withUnsafeBufferPointer { x in
                for i in 0..<n {
                    for j in 0..<p { xi[j + 1] = x[j * n + i] }
                    for a in 0..<q {
                        let wa = w[i] * xi[a]
                        c[a] += wa * r[i]
                        for b in a..<q { gram[a * q + b] += wa * xi[b] }
                    }
                }
            }
            for a in 0..<q {
                c[a] *= invN
                for b in a..<q { gram[a * q + b] *= invN; gram[b * q + a] = gram[a * q + b] }
            }
            var nb = beta
            gram.withUnsafeBufferPointer { g in
                CoordinateDescent.minimise(gram: g, q: q, c: &c, b: &nb, lambda: lambda, tol2: tolerance * tolerance,
                                           innerSweeps: 100_000)
            }
            // Backtrack towards the previous β if the quadratic model overshot.
            var t = 1.0, trial = nb, ft = d.objective(nb, ridge: 0, lasso: lambda)
            while ft > f + 1e-14 * abs(f) && t > 1e-6 {
                t /= 2
                for k in 0...p { trial[k] = beta[k] + t * (nb[k] - beta[k]) }
                ft = d.objective(trial, ridge: 0, lasso: lambda)
            }
            let change = (0...p).reduce(0.0) { max($0, abs(trial[$1] - beta[$1])) }
            beta = trial; f = ft
            if change <= tolerance * (1 + beta.reduce(0.0) { max($0, abs($1)) }) {
                return Result(beta: beta, iterations: it, converged: true)
            }
        }
        return Result(beta: beta, iterations: maxIterations, converged: false)
    }
}

@inline(__always) func logistic(_ t: Double) -> Double { t >= 0 ? 1 / (1 + exp(-t)) : exp(t) / (1 + exp(t)) }
/// log(1 + eᵗ) without overflow.
@inline(__always) func log1pexp(_ t: Double) -> Double { t > 0 ? t + log1p(exp(-t)) : log1p(exp(t)) }

/// Column-major features and 0/1 outcomes, validated once.
struct Design {
    let n: Int, p: Int
    var x: [Double]
    let y: [Double]
    var constant: [Int] = []
    var warnings: [String] = []

    init(_ rows: [[Double]], _ labels: [Bool]) throws {
        guard rows.count == labels.count else { throw StatisticsError.lengthMismatch(scores: rows.count, labels: labels.count) }
        guard !rows.isEmpty else { throw StatisticsError.empty }
        n = rows.count; p = rows[0].count
        if let i = rows.firstIndex(where: { $0.count != rows[0].count }) {
            throw StatisticsError.invalidParameter("logistic regression: row \(i) has \(rows[i].count) features but row 0 has \(p); every case needs the same features")
        }
        let pos = labels.reduce(0) { $0 + ($1 ? 1 : 0) }
        if pos == 0 || pos == n { throw StatisticsError.singleClass(present: pos == 0 ? "negative" : "positive", count: n) }
        var x = [Double](repeating: 0, count: n * p)
        for i in 0..<n {
            for j in 0..<p {
                let v = rows[i][j]
                guard v.isFinite else {
                    throw StatisticsError.invalidParameter("logistic regression: feature \(j) of case \(i) is \(v); impute or drop missing values first")
                }
                x[j * n + i] = v
            }
        }
        self.x = x
        y = labels.map { $0 ? 1 : 0 }
        for j in 0..<p where (0..<n).allSatisfy({ x[j * n + $0] == x[j * n] }) { constant.append(j) }
        if !constant.isEmpty { warnings.append("logistic regression: constant features \(constant) carry no information; their coefficients stay 0") }
        if p >= n { warnings.append("logistic regression: \(p) features but only \(n) cases; estimates rest on the penalty") }
    }

    func eta(_ b: [Double]) -> [Double] {
        var e = [Double](repeating: b[0], count: n)
        x.withUnsafeBufferPointer { x in
            for j in 0..<p where b[j + 1] != 0 { let c = b[j + 1]; for i in 0..<n { e[i] += c * x[j * n + i] } }
        }
        return e
    }

    func objective(_ b: [Double], ridge: Double, lasso: Double) -> Double {
        let e = eta(b)
        var s = 0.0
        for i in 0..<n { s += log1pexp(e[i]) - y[i] * e[i] }
        var pen = 0.0
        for k in 0..<p { pen += ridge / 2 * b[k + 1] * b[k + 1] + lasso * abs(b[k + 1]) }
        return s / Double(n) + pen
    }

    /// Gradient and Hessian of the mean negative log-likelihood plus the ridge term (row-major, (p+1)²).
    func gradientHessian(_ b: [Double], ridge: Double) -> ([Double], [Double]) {
        let q = p + 1, e = eta(b)
        var g = [Double](repeating: 0, count: q), h = [Double](repeating: 0, count: q * q)
        var xi = [Double](repeating: 1, count: q)
        x.withUnsafeBufferPointer { x in
            for i in 0..<n {
                let m = logistic(e[i]), w = m * (1 - m), res = m - y[i]
                for j in 0..<p { xi[j + 1] = x[j * n + i] }
                for a in 0..<q {
                    g[a] += res * xi[a]
                    let wa = w * xi[a]
                    for c in a..<q { h[a * q + c] += wa * xi[c] }
                }
            }
        }
        let invN = 1 / Double(n)
        for a in 0..<q {
            g[a] = g[a] * invN + (a > 0 ? ridge * b[a] : 0)
            for c in a..<q { h[a * q + c] *= invN; h[c * q + a] = h[a * q + c] }
            if a > 0 { h[a * q + a] += ridge }
        }
        return (g, h)
    }

    /// (XᵀWX)⁻¹ at β, the Wald covariance of an unpenalised fit.
    func covariance(_ b: [Double]) throws -> [Double] {
        let q = p + 1
        var (_, h) = gradientHessian(b, ridge: 0)
        for k in 0..<(q * q) { h[k] *= Double(n) }
        var inv = [Double](repeating: 0, count: q * q)
        for c in 0..<q {
            var e = [Double](repeating: 0, count: q); e[c] = 1
            guard let col = choleskySolve(h, e, q) else {
                throw StatisticsError.invalidParameter("logistic regression: the information matrix is singular at the fit (separation?); standard errors are undefined — use fewer features or a penalty")
            }
            for r in 0..<q { inv[r * q + c] = col[r] }
        }
        return inv
    }
}

/// Solves A·x = b for a symmetric positive-definite row-major A; nil when A is not (numerically) SPD.
func choleskySolve(_ a: [Double], _ b: [Double], _ q: Int) -> [Double]? {
    var l = [Double](repeating: 0, count: q * q)
    var maxDiag = 0.0
    for k in 0..<q { maxDiag = max(maxDiag, a[k * q + k]) }
    for j in 0..<q {
        var s = a[j * q + j]
        for k in 0..<j { s -= l[j * q + k] * l[j * q + k] }
        guard s > 1e-13 * maxDiag else { return nil }
        let d = s.squareRoot()
        l[j * q + j] = d
        for i in (j + 1)..<max(j + 1, q) {
            var t = a[i * q + j]
            for k in 0..<j { t -= l[i * q + k] * l[j * q + k] }
            l[i * q + j] = t / d
        }
    }
    var z = b
    for i in 0..<q { for k in 0..<i { z[i] -= l[i * q + k] * z[k] }; z[i] /= l[i * q + i] }
    for i in stride(from: q - 1, through: 0, by: -1) { for k in (i + 1)..<max(i + 1, q) { z[i] -= l[k * q + i] * z[k] }; z[i] /= l[i * q + i] }
    return z
}
