import Foundation

/// Single-rater intraclass correlations from the two-way ANOVA of an n-subjects × k-raters table
/// (Shrout & Fleiss 1979; McGraw & Wong 1996), with F-based confidence intervals.
public struct ICC: Codable, Equatable, Sendable {
    /// ICC(2,1): two-way random effects, absolute agreement (McGraw & Wong's ICC(A,1)).
    public var agreement: Double
    public var agreementInterval: ConfidenceInterval
    /// ICC(3,1): two-way mixed effects, consistency (McGraw & Wong's ICC(C,1)).
    public var consistency: Double
    public var consistencyInterval: ConfidenceInterval
    /// Mean squares: subjects (rows), raters (columns), residual.
    public var msRows: Double
    public var msColumns: Double
    public var msError: Double
    public var subjects: Int
    public var raters: Int

    /// `ratings[i][j]` is rater (or run) j's value for subject i; every subject needs every rater.
    /// When every subject has the same value (MS rows = MS error = 0) the ICC is undefined and NaN.
    public init(ratings: [[Double]], level: Double = 0.95) throws {
        try checkLevel(level)
        let n = ratings.count, k = ratings.first?.count ?? 0
        guard n >= 2 && k >= 2 else {
            throw StatisticsError.invalidParameter("ICC: \(n) subjects × \(k) raters; it needs at least 2 of each")
        }
        if let i = ratings.firstIndex(where: { $0.count != k }) {
            throw StatisticsError.invalidParameter("ICC: subject \(i) has \(ratings[i].count) ratings, subject 0 has \(k); every subject needs every rater")
        }
        for (i, r) in ratings.enumerated() {
            if let j = r.firstIndex(where: { !$0.isFinite }) {
                throw StatisticsError.invalidParameter("ICC: subject \(i), rater \(j) is \(r[j]); drop or impute missing ratings first")
            }
        }
        let fn = Double(n), fk = Double(k)
        let grand = ratings.reduce(0) { $0 + $1.reduce(0, +) } / (fn * fk)
        let rowMeans = ratings.map { $0.reduce(0, +) / fk }
        let colMeans = (0..<k).map { j in ratings.reduce(0) { $0 + $1[j] } / fn }
        var ssr = 0.0, ssc = 0.0, sse = 0.0
        for m in rowMeans { ssr += (m - grand) * (m - grand) }
        for m in colMeans { ssc += (m - grand) * (m - grand) }
        ssr *= fk; ssc *= fn
        for i in 0..<n { for j in 0..<k { let e = ratings[i][j] - rowMeans[i] - colMeans[j] + grand; sse += e * e } }
        let df1 = fn - 1, dfe = (fn - 1) * (fk - 1)
        let msr = ssr / df1, msc = ssc / (fk - 1), mse = sse / dfe
        msRows = msr; msColumns = msc; msError = mse; subjects = n; raters = k

        let icc2 = (msr - mse) / (msr + (fk - 1) * mse + fk * (msc - mse) / fn)
        let icc3 = (msr - mse) / (msr + (fk - 1) * mse)
        agreement = icc2; consistency = icc3
        let a = 1 - level, q = 1 - a / 2

        // ICC(3,1): F = MSR/MSE on (n − 1, (n − 1)(k − 1)) degrees of freedom.
        let f3 = msr / mse
        let fl = f3 / FDistribution.quantile(q, df1, dfe), fu = f3 * FDistribution.quantile(q, dfe, df1)
        consistencyInterval = ConfidenceInterval(lower: (fl - 1) / (fl + fk - 1), upper: (fu - 1) / (fu + fk - 1), level: level)

        // ICC(2,1): Satterthwaite's approximate denominator degrees of freedom v (McGraw & Wong, case 2A).
        let fj = msc / mse
        let base = fn * (1 + (fk - 1) * icc2) - fk * icc2
        let v = dfe * pow(fk * icc2 * fj + base, 2) / (df1 * fk * fk * icc2 * icc2 * fj * fj + base * base)
        if v.isFinite && v > 0 {
            let f2u = FDistribution.quantile(q, df1, v), f2l = FDistribution.quantile(q, v, df1)
            let lower = fn * (msr - f2u * mse) / (f2u * (fk * msc + (fk * fn - fk - fn) * mse) + fn * msr)
            let upper = fn * (f2l * msr - mse) / (fk * msc + (fk * fn - fk - fn) * mse + fn * f2l * msr)
            agreementInterval = ConfidenceInterval(lower: lower, upper: upper, level: level)
        } else {
            agreementInterval = ConfidenceInterval(lower: .nan, upper: .nan, level: level)
        }
    }

    /// Which single-rater ICC a reproducibility filter uses.
    public enum Kind: String, Codable, Sendable, CaseIterable {
        /// ICC(2,1), absolute agreement — the usual choice for inter-reader segmentation studies.
        case agreement
        /// ICC(3,1), consistency.
        case consistency
    }

    public func value(_ kind: Kind) -> Double { kind == .agreement ? agreement : consistency }

    /// One ICC per feature between two (or more) tables of the same cases and features:
    /// `tables[r][i][j]` is run r's value of feature j for case i.
    public static func perFeature(_ tables: [[[Double]]], level: Double = 0.95) throws -> [ICC] {
        guard tables.count >= 2, let first = tables.first else {
            throw StatisticsError.invalidParameter("ICC: \(tables.count) tables; pass one per reader or run, at least 2")
        }
        for (r, t) in tables.enumerated() where t.count != first.count || zip(t, first).contains(where: { $0.count != $1.count }) {
            throw StatisticsError.invalidParameter("ICC: table \(r) is not the same shape as table 0; give every reader the same cases and features in the same order")
        }
        let p = first.first?.count ?? 0
        return try (0..<p).map { j in try ICC(ratings: first.indices.map { i in tables.map { $0[i][j] } }, level: level) }
    }

    /// Indices of features whose ICC is at least `threshold` (NaN ICCs — constant features — fail).
    public static func reproducible(_ iccs: [ICC], threshold: Double, kind: Kind = .agreement) -> [Int] {
        iccs.indices.filter { iccs[$0].value(kind) >= threshold }
    }
}
