/// Confusion counts and rates when samples with score ≥ `threshold` are called positive
/// (the convention of sklearn's `roc_curve`).
///
/// Rates whose denominator is zero are nil (JSON `null`) rather than sklearn's `zero_division`
/// default of 0: a PPV with no positive calls is undefined, not 0 %.
public struct ThresholdMetrics: Codable, Equatable, Sendable {
    public var threshold: Double
    public var truePositives: Int
    public var falsePositives: Int
    public var trueNegatives: Int
    public var falseNegatives: Int

    public var accuracy: Double
    /// Mean of sensitivity and specificity.
    public var balancedAccuracy: Double
    /// 2·TP / (2·TP + FP + FN).
    public var f1: Double
    /// TP / (TP + FN), the true positive rate (recall).
    public var sensitivity: Double
    /// TN / (TN + FP), 1 − false positive rate.
    public var specificity: Double
    /// TP / (TP + FP), precision; nil when nothing is called positive.
    public var ppv: Double?
    /// TN / (TN + FN); nil when nothing is called negative.
    public var npv: Double?

    /// Throws when a class is absent or a score is not finite.
    public init(scores: [Double], labels: [Bool], threshold: Double) throws {
        _ = try validateBinary(scores, labels)
        guard !threshold.isNaN else { throw StatisticsError.invalidParameter("threshold is NaN; pass a number (e.g. a Youden threshold)") }
        var tp = 0, fp = 0, tn = 0, fn = 0
        for (s, y) in zip(scores, labels) {
            switch (s >= threshold, y) {
            case (true, true): tp += 1
            case (true, false): fp += 1
            case (false, false): tn += 1
            case (false, true): fn += 1
            }
        }
        self.threshold = threshold
        truePositives = tp; falsePositives = fp; trueNegatives = tn; falseNegatives = fn
        sensitivity = Double(tp) / Double(tp + fn)
        specificity = Double(tn) / Double(tn + fp)
        accuracy = Double(tp + tn) / Double(scores.count)
        balancedAccuracy = (sensitivity + specificity) / 2
        f1 = Double(2 * tp) / Double(2 * tp + fp + fn)
        ppv = tp + fp > 0 ? Double(tp) / Double(tp + fp) : nil
        npv = tn + fn > 0 ? Double(tn) / Double(tn + fn) : nil
    }
}

/// The ROC point that maximises Youden's J = sensitivity + specificity − 1 = tpr − fpr.
public struct YoudenPoint: Codable, Equatable, Sendable {
    public var threshold: Double
    public var j: Double
    public var sensitivity: Double
    public var specificity: Double

    /// Searches every distinct score as a threshold (the +∞ "call nothing positive" point is
    /// skipped: its J = 0 is always matched by the lowest score, which calls everything positive).
    /// Ties in J go to the higher threshold, the more specific rule — the first maximum in
    /// sklearn's decreasing-threshold order, i.e. `argmax(tpr − fpr)` over `thresholds[1:]`.
    /// A threshold chosen on the evaluation data is optimistic for that data; fix it on
    /// training or validation data when reporting test metrics.
    public init(scores: [Double], labels: [Bool]) throws {
        try self.init(roc: ROCCurve(scores: scores, labels: labels))
    }

    /// From a curve built without dropping intermediate points (dropping can only remove
    /// collinear points, which never hold a strict maximum, but may change which tie wins).
    public init(roc: ROCCurve) throws {
        guard roc.thresholds.count > 1 else {
            throw StatisticsError.invalidParameter("Youden point: the ROC curve has no finite thresholds")
        }
        var best = 1
        for i in 2..<roc.thresholds.count where roc.tpr[i] - roc.fpr[i] > roc.tpr[best] - roc.fpr[best] { best = i }
        threshold = roc.thresholds[best]
        j = roc.tpr[best] - roc.fpr[best]
        sensitivity = roc.tpr[best]
        specificity = 1 - roc.fpr[best]
    }
}
