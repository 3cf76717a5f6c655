import Foundation

/// A two-sided confidence interval.
public struct ConfidenceInterval: Codable, Equatable, Sendable {
    public var lower: Double
    public var upper: Double
    /// Nominal coverage, e.g. 0.95.
    public var level: Double
    public init(lower: Double, upper: Double, level: Double) { self.lower = lower; self.upper = upper; self.level = level }
    public func contains(_ x: Double) -> Bool { lower <= x && x <= upper }
}

/// How a DeLong interval is formed from the AUC and its standard error.
public enum AUCIntervalMethod: String, Codable, Sendable {
    /// AUC ± z·SE, clipped to [0, 1] (pROC's `ci.auc(method = "delong")`).
    case normal
    /// On logit(AUC) with SE/(AUC(1−AUC)) (delta method), mapped back; stays inside (0, 1) and is
    /// asymmetric near 1, which covers better for small samples with high AUC. At AUC 0 or 1 the
    /// logit is infinite and the interval collapses to the point.
    case logit
}

/// An AUC with its DeLong variance and confidence interval.
public struct AUCEstimate: Codable, Equatable, Sendable {
    public var auc: Double
    public var variance: Double
    public var standardError: Double { variance.squareRoot() }
    public var interval: ConfidenceInterval
    public var method: AUCIntervalMethod
}

/// DeLong's test for two correlated AUCs (two scores on the same samples).
public struct AUCComparison: Codable, Equatable, Sendable {
    public var aucA: Double
    public var aucB: Double
    /// aucA − aucB.
    public var difference: Double
    public var varianceA: Double
    public var varianceB: Double
    public var covariance: Double
    /// Var(aucA − aucB) = varianceA + varianceB − 2·covariance.
    public var differenceVariance: Double
    /// difference / √differenceVariance; 0 when both are 0 (identical rankings), ±∞ when only the variance is.
    public var z: Double
    /// Two-sided p-value from the standard normal.
    public var pValue: Double
    /// Normal interval on the difference.
    public var differenceInterval: ConfidenceInterval
}

/// DeLong, DeLong & Clarke-Pearson (1988) variance of the AUC from its structural components,
/// computed with Sun & Xu's (2014) mid-rank algorithm in O(n log n) instead of O(m·n).
public enum DeLong {
    /// AUC, DeLong variance and a `level` interval. Throws when a class is absent or a score is not finite.
    public static func estimate(scores: [Double], labels: [Bool], level: Double = 0.95,
                                method: AUCIntervalMethod = .normal) throws -> AUCEstimate {
        try checkLevel(level)
        let s = try components([scores], labels)
        let auc = s.auc[0], v = s.cov[0][0]
        let z = Normal.quantile(0.5 + level / 2), se = v.squareRoot()
        let ci: ConfidenceInterval
        switch method {
        case .normal:
            ci = ConfidenceInterval(lower: Swift.max(0, auc - z * se), upper: Swift.min(1, auc + z * se), level: level)
        case .logit:
            if auc <= 0 || auc >= 1 {
                ci = ConfidenceInterval(lower: auc, upper: auc, level: level)
            } else {
                let l = log(auc / (1 - auc)), h = z * se / (auc * (1 - auc))
                ci = ConfidenceInterval(lower: 1 / (1 + exp(-(l - h))), upper: 1 / (1 + exp(-(l + h))), level: level)
            }
        }
        return AUCEstimate(auc: auc, variance: v, interval: ci, method: method)
    }

    /// Paired DeLong test of `scoresA` against `scoresB` on the same `labels`.
    public static func compare(scoresA: [Double], scoresB: [Double], labels: [Bool], level: Double = 0.95) throws -> AUCComparison {
        try checkLevel(level)
        guard scoresA.count == scoresB.count else {
            throw StatisticsError.invalidParameter("paired DeLong test: \(scoresA.count) scores for A but \(scoresB.count) for B; " +
                                                   "both must score the same samples in the same order")
        }
        let s = try components([scoresA, scoresB], labels)
        let d = s.auc[0] - s.auc[1]
        let v = Swift.max(0, s.cov[0][0] + s.cov[1][1] - 2 * s.cov[0][1])
        let z: Double = v > 0 ? d / v.squareRoot() : (d == 0 ? 0 : (d > 0 ? .infinity : -.infinity))
        let p = Swift.min(1, 2 * Normal.survival(abs(z)))
        let h = Normal.quantile(0.5 + level / 2) * v.squareRoot()
        return AUCComparison(aucA: s.auc[0], aucB: s.auc[1], difference: d, varianceA: s.cov[0][0], varianceB: s.cov[1][1],
                             covariance: s.cov[0][1], differenceVariance: v, z: z, pValue: p,
                             differenceInterval: ConfidenceInterval(lower: d - h, upper: d + h, level: level))
    }

    /// AUCs and their DeLong covariance matrix for k scores on the same samples (Sun & Xu 2014):
    /// V10ᵢ = (Tz(xᵢ) − Tx(xᵢ))/n for positives, V01ⱼ = 1 − (Tz(yⱼ) − Ty(yⱼ))/m for negatives,
    /// where T are mid-ranks among all samples (z), positives (x) or negatives (y);
    /// Cov = S10/m + S01/n with S the sample covariances (n − 1 denominator).
    static func components(_ scoreSets: [[Double]], _ labels: [Bool]) throws -> (auc: [Double], cov: [[Double]]) {
        var (m, n) = (0, 0)
        for s in scoreSets { (m, n) = try validateBinary(s, labels) }
        let k = scoreSets.count
        var v10 = [[Double]](), v01 = [[Double]](), auc = [Double]()
        for s in scoreSets {
            var x = [Double](), y = [Double]()
            x.reserveCapacity(m); y.reserveCapacity(n)
            for (i, v) in s.enumerated() { if labels[i] { x.append(v) } else { y.append(v) } }
            let tx = midranks(x), ty = midranks(y), tz = midranks(x + y)
            let a = (0..<m).map { (tz[$0] - tx[$0]) / Double(n) }
            let b = (0..<n).map { 1 - (tz[m + $0] - ty[$0]) / Double(m) }
            v10.append(a); v01.append(b)
            auc.append(a.reduce(0, +) / Double(m))
        }
        var cov = [[Double]](repeating: [Double](repeating: 0, count: k), count: k)
        for r in 0..<k { for c in r..<k {
            let v = sampleCovariance(v10[r], v10[c]) / Double(m) + sampleCovariance(v01[r], v01[c]) / Double(n)
            cov[r][c] = v; cov[c][r] = v
        } }
        return (auc, cov)
    }

    /// Covariance with the n − 1 denominator; 0 for a single observation (DeLong's variance term
    /// for a class of one sample carries no information about that class).
    private static func sampleCovariance(_ a: [Double], _ b: [Double]) -> Double {
        let n = a.count
        guard n > 1 else { return 0 }
        let ma = a.reduce(0, +) / Double(n), mb = b.reduce(0, +) / Double(n)
        var s = 0.0
        for i in 0..<n { s += (a[i] - ma) * (b[i] - mb) }
        return s / Double(n - 1)
    }
}
