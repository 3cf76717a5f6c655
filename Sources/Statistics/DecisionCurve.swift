import Foundation

/// Net benefit per threshold probability pt (Vickers & Elkin 2006): NB = TP/n − FP/n · pt/(1 − pt),
/// a case counting as treated when its predicted probability is ≥ pt.
public struct DecisionCurve: Codable, Equatable, Sendable {
    public var thresholds: [Double]
    public var model: [Double]
    /// Treating everyone: prevalence − (1 − prevalence) · pt/(1 − pt).
    public var treatAll: [Double]
    /// Treating no one has net benefit 0 at every threshold; kept for tables and plots.
    public var treatNone: [Double]

    /// `thresholds` default to 0.01, 0.02, …, 0.99.
    public init(probabilities: [Double], labels: [Bool], thresholds: [Double] = (1...99).map { Double($0) / 100 }) throws {
        try checkProbabilities(probabilities, labels)
        if let t = thresholds.first(where: { !($0 >= 0 && $0 < 1) }) {
            throw StatisticsError.invalidParameter("decision curve: threshold \(t) is outside [0, 1); net benefit needs pt < 1")
        }
        let n = Double(labels.count), prev = Double(labels.filter { $0 }.count) / n
        self.thresholds = thresholds
        model = thresholds.map { t in
            var tp = 0.0, fp = 0.0
            for (p, y) in zip(probabilities, labels) where p >= t { if y { tp += 1 } else { fp += 1 } }
            return tp / n - fp / n * t / (1 - t)
        }
        treatAll = thresholds.map { prev - (1 - prev) * $0 / (1 - $0) }
        treatNone = thresholds.map { _ in 0 }
    }
}

/// Calibration of predicted probabilities by logistic recalibration on the logit scale.
public struct Calibration: Codable, Equatable, Sendable {
    /// b in logit P(y) = a + b·logit(p): 1 is ideal, < 1 means predictions are too extreme.
    public var slope: Double
    /// Calibration-in-the-large: a in logit P(y) = a + logit(p) (slope fixed at 1): 0 is ideal.
    public var intercept: Double
    /// Mean squared error of the probabilities (scikit-learn's brier_score_loss).
    public var brier: Double

    /// Probabilities of exactly 0 or 1 are moved in by 1e-15 so their logits are finite.
    public init(probabilities: [Double], labels: [Bool]) throws {
        try checkProbabilities(probabilities, labels)
        let lp = probabilities.map { p -> Double in let q = min(max(p, 1e-15), 1 - 1e-15); return log(q / (1 - q)) }
        let y = labels.map { $0 ? 1.0 : 0.0 }
        brier = zip(probabilities, y).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) } / Double(y.count)
        slope = try LogisticRegression.fit(features: lp.map { [$0] }, labels: labels).coefficients[0]
        // One-parameter Newton for the offset model; the log-likelihood is concave in a.
        var a = 0.0
        for _ in 0..<100 {
            var g = 0.0, h = 0.0
            for i in lp.indices { let m = logistic(a + lp[i]); g += m - y[i]; h += m * (1 - m) }
            guard h > 0 else { break }
            let step = g / h
            a -= step
            if abs(step) < 1e-12 * (1 + abs(a)) { break }
        }
        intercept = a
    }
}

func checkProbabilities(_ p: [Double], _ labels: [Bool]) throws {
    _ = try validateBinary(p, labels)
    if let i = p.firstIndex(where: { $0 < 0 || $0 > 1 }) {
        throw StatisticsError.invalidParameter("probability \(i) is \(p[i]), outside [0, 1]; pass predicted probabilities, not scores or logits")
    }
}
