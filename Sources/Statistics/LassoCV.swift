import SeededRandom
import Foundation

/// Centres and scales each feature by its mean and population SD (as glmnet and scikit-learn's
/// StandardScaler do); a constant feature is centred only.
public struct Standardizer: Codable, Equatable, Sendable {
    public var means: [Double]
    public var scales: [Double]

    public init(fitting rows: [[Double]]) {
        let n = Double(rows.count), p = rows.first?.count ?? 0
        means = (0..<p).map { j in rows.reduce(0) { $0 + $1[j] } / n }
        scales = (0..<p).map { [means] j in
            let s = (rows.reduce(0) { $0 + ($1[j] - means[j]) * ($1[j] - means[j]) } / n).squareRoot()
            return s > 0 ? s : 1
        }
    }

    public func transform(_ rows: [[Double]]) -> [[Double]] {
        rows.map { r in (0..<r.count).map { (r[$0] - means[$0]) / scales[$0] } }
    }

    /// Coefficients fitted on standardised features, re-expressed on the original scale.
    func unscale(intercept: Double, _ b: [Double]) -> (Double, [Double]) {
        let c = (0..<b.count).map { b[$0] / scales[$0] }
        return (intercept - (0..<b.count).reduce(0) { $0 + c[$1] * means[$1] }, c)
    }
}

/// Cross-validated lasso-logistic path, glmnet's way: features standardised inside every fit,
/// λ from λmax (all coefficients zero) down a log-spaced grid, binomial deviance as the CV loss.
public struct LassoPath: Sendable {
    /// Decreasing penalties; the path stops early by glmnet's rules (see `LassoCV.path`).
    public var lambdas: [Double]
    /// Mean held-out deviance per λ (fold means weighted by fold size) and its standard error.
    public var meanDeviance: [Double]
    public var devianceSE: [Double]
    /// Whole-data fits per λ on the original feature scale.
    public var intercepts: [Double]
    public var coefficients: [[Double]]
    /// λ.min: the largest λ with the least mean deviance; λ.1se: the largest λ whose mean deviance is
    /// within one standard error of that minimum.
    public var indexMin: Int
    public var index1SE: Int
    /// Fold (0..<k) of every case, stratified by outcome and seeded.
    public var folds: [Int]
    public var warnings: [String]

    public var lambdaMin: Double { lambdas[indexMin] }
    public var lambda1SE: Double { lambdas[index1SE] }
    public func selected(at index: Int) -> [Int] { coefficients[index].indices.filter { coefficients[index][$0] != 0 } }

    /// The rad-score (linear predictor β₀ + xᵀβ on the original scale) at path index `index`.
    public func radScore(_ rows: [[Double]], at index: Int) -> [Double] {
        LogisticModel(intercept: intercepts[index], coefficients: coefficients[index], iterations: 0, converged: true,
                      warnings: [], terms: nil).linearPredictor(rows)
    }
}

public enum LassoCV {
    /// `lambdaMinRatio` defaults to glmnet's: 0.01 when features ≥ cases, else 1e-4.
    public static func fit(features rows: [[Double]], labels: [Bool], folds k: Int = 10, seed: UInt64 = 1,
                           lambdaCount: Int = 100, lambdaMinRatio: Double? = nil, tolerance: Double = 1e-7) throws -> LassoPath {
        let design = try Design(rows, labels)
        let pos = labels.filter { $0 }.count
        guard k >= 2 && k <= min(pos, labels.count - pos) else {
            throw StatisticsError.invalidParameter("LassoCV: \(k) folds with \(pos) positives and \(labels.count - pos) negatives; every fold needs both classes — use 2…\(min(pos, labels.count - pos)) folds")
        }
        guard lambdaCount >= 2 else { throw StatisticsError.invalidParameter("LassoCV: lambdaCount \(lambdaCount); use at least 2") }
        let ratio = lambdaMinRatio ?? (design.p >= design.n ? 0.01 : 1e-4)
        var warnings = design.warnings

        // λmax makes every coefficient zero: max |xⱼᵀ(y − ȳ)| / n on standardised features.
        let std = Standardizer(fitting: rows), z = std.transform(rows)
        let ybar = Double(pos) / Double(labels.count)
        let lmax = (0..<design.p).reduce(0.0) { m, j in
            max(m, abs(z.indices.reduce(0.0) { $0 + z[$1][j] * ((labels[$1] ? 1 : 0) - ybar) }) / Double(z.count))
        }
        guard lmax > 0 else { throw StatisticsError.invalidParameter("LassoCV: every feature is constant or uncorrelated with the outcome; nothing to select") }
        var grid = (0..<lambdaCount).map { lmax * pow(ratio, Double($0) / Double(lambdaCount - 1)) }

        let full = try path(z, labels, grid, stopEarly: true, tolerance: tolerance)
        grid = Array(grid.prefix(full.count))
        if full.contains(where: { !$0.converged }) { warnings.append("LassoCV: some path fits did not converge; the smallest λ may be unreliable") }
        let unscaled = full.map { std.unscale(intercept: $0.beta[0], Array($0.beta.dropFirst())) }

        let fold = DataSplit.stratifiedFolds(labels, k, seed: seed)
        var dev = [[Double]](repeating: [], count: k), sizes = [Double](repeating: 0, count: k)
        for f in 0..<k {
            let train = labels.indices.filter { fold[$0] != f }, test = labels.indices.filter { fold[$0] == f }
            let tr = train.map { rows[$0] }, s = Standardizer(fitting: tr)
            let fits = try path(s.transform(tr), train.map { labels[$0] }, grid, stopEarly: false, tolerance: tolerance)
            sizes[f] = Double(test.count)
            dev[f] = fits.map { r in
                let (b0, b) = s.unscale(intercept: r.beta[0], Array(r.beta.dropFirst()))
                return test.reduce(0.0) { acc, i in
                    // glmnet clamps held-out probabilities to [1e-5, 1 − 1e-5].
                    let p = min(max(logistic(zip(rows[i], b).reduce(b0) { $0 + $1.0 * $1.1 }), 1e-5), 1 - 1e-5)
                    return acc - 2 * (labels[i] ? log(p) : log(1 - p))
                } / Double(test.count)
            }
        }
        let n = sizes.reduce(0, +)
        let cvm = grid.indices.map { l in (0..<k).reduce(0.0) { $0 + sizes[$1] * dev[$1][l] } / n }
        let cvsd = grid.indices.map { l in
            ((0..<k).reduce(0.0) { $0 + sizes[$1] * (dev[$1][l] - cvm[l]) * (dev[$1][l] - cvm[l]) } / n / Double(k - 1)).squareRoot()
        }
        let best = cvm.min()!
        let iMin = cvm.firstIndex(of: best)!
        let i1 = cvm.firstIndex { $0 <= best + cvsd[iMin] }!
        return LassoPath(lambdas: grid, meanDeviance: cvm, devianceSE: cvsd, intercepts: unscaled.map { $0.0 },
                         coefficients: unscaled.map { $0.1 }, indexMin: iMin, index1SE: i1, folds: fold, warnings: warnings)
    }

    /// Warm-started fits down the grid (`LassoPathSolver`). With `stopEarly`, glmnet's rules end the
    /// path once at least 5 λs are fitted and either the fraction of null deviance explained
    /// exceeds 0.999 or it grew by less than 1e-5 since the previous λ (the λ that triggers the
    /// stop is kept, as glmnet keeps it).
    static func path(_ z: [[Double]], _ y: [Bool], _ grid: [Double], stopEarly: Bool, tolerance: Double) throws
        -> [LogisticRegression.Result] {
        var solver = LassoPathSolver(try Design(z, y), tolerance: tolerance)
        var out: [LogisticRegression.Result] = [], previous = 0.0
        for l in grid {
            out.append(solver.solve(lambda: l))
            let explained = 1 - solver.deviance / solver.nullDeviance
            if stopEarly && out.count >= 5 && (explained > 0.999 || explained - previous < 1e-5) { break }
            previous = explained
        }
        return out
    }
}
