import Foundation

/// One row of a univariable or multivariable logistic-regression table.
public struct LogisticTableRow: Codable, Equatable, Sendable {
    public var name: String
    public var coefficient: Double
    public var standardError: Double
    public var oddsRatio: Double
    /// Wald interval of the odds ratio.
    public var interval: ConfidenceInterval
    public var pValue: Double
    /// False when the fit did not converge (separation): the estimates are then unreliable.
    public var converged: Bool
}

/// The odds-ratio tables of clinical papers, from unpenalised maximum-likelihood fits with Wald
/// inference (statsmodels' `Logit`, R's `glm(family = binomial)` with `confint.default`).
public enum LogisticTable {
    /// One model per feature: outcome ~ feature. Rows in column order; an intercept is fitted but
    /// not listed.
    public static func univariable(_ rows: [[Double]], labels: [Bool], names: [String], level: Double = 0.95) throws -> [LogisticTableRow] {
        try names.indices.map { j in
            let m = try LogisticRegression.fit(features: rows.map { [$0[j]] }, labels: labels, level: level)
            return try row(m, 1, names[j])
        }
    }

    /// One model with every feature: outcome ~ f₁ + … + f_p. The intercept row comes first.
    public static func multivariable(_ rows: [[Double]], labels: [Bool], names: [String],
                                     level: Double = 0.95) throws -> (rows: [LogisticTableRow], model: LogisticModel) {
        let m = try LogisticRegression.fit(features: rows, labels: labels, level: level)
        return (try (0...names.count).map { try row(m, $0, $0 == 0 ? "(intercept)" : names[$0 - 1]) }, m)
    }

    private static func row(_ m: LogisticModel, _ k: Int, _ name: String) throws -> LogisticTableRow {
        guard let t = m.terms?[k] else { throw StatisticsError.invalidParameter("logistic table: no Wald terms for \(name)") }
        return LogisticTableRow(name: name, coefficient: t.coefficient, standardError: t.standardError,
                                oddsRatio: t.oddsRatio, interval: t.interval, pValue: t.pValue, converged: m.converged)
    }
}
