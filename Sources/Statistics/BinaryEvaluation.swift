/// Everything commonly reported for a binary classifier, ready for JSON (`JSONEncoder` works
/// with default settings: infinite thresholds and undefined rates are written as `null`).
public struct BinaryEvaluation: Codable, Equatable, Sendable {
    public var samples: Int
    public var positives: Int
    public var negatives: Int
    /// AUC with its DeLong variance and interval.
    public var auc: AUCEstimate
    /// The ROC curve with collinear points dropped (sklearn's default), for plotting.
    public var roc: ROCCurve
    /// The Youden-optimal point on this data.
    public var youden: YoudenPoint
    /// "given" when a threshold was passed in, else "youden" (optimistic on the same data).
    public var thresholdSource: String
    /// Metrics at the given threshold, or at the Youden threshold when none was given.
    public var metrics: ThresholdMetrics
    /// Percentile bootstrap intervals by name (auc, accuracy, balancedAccuracy, f1, sensitivity,
    /// specificity) at the fixed threshold above; absent when no replicates were asked for.
    public var bootstrap: [String: BootstrapInterval]?

    /// - Parameters:
    ///   - threshold: call positive at score ≥ threshold; nil picks the Youden threshold.
    ///   - bootstrapReplicates: 0 skips the bootstrap; resamples are stratified by class.
    public init(scores: [Double], labels: [Bool], threshold: Double? = nil, level: Double = 0.95,
                intervalMethod: AUCIntervalMethod = .normal, bootstrapReplicates: Int = 0, seed: UInt64 = 0) throws {
        (positives, negatives) = try validateBinary(scores, labels)
        samples = scores.count
        auc = try DeLong.estimate(scores: scores, labels: labels, level: level, method: intervalMethod)
        let full = try ROCCurve(scores: scores, labels: labels)
        youden = try YoudenPoint(roc: full)
        roc = try ROCCurve(scores: scores, labels: labels, dropIntermediate: true)
        let t = threshold ?? youden.threshold
        thresholdSource = threshold == nil ? "youden" : "given"
        metrics = try ThresholdMetrics(scores: scores, labels: labels, threshold: t)
        guard bootstrapReplicates > 0 else { bootstrap = nil; return }
        // One pass: every metric sees the same resamples, so their intervals are comparable.
        let names = ["auc", "accuracy", "balancedAccuracy", "f1", "sensitivity", "specificity"]
        let iv = try Bootstrap.intervals(sampleCount: samples, strata: labels.map { $0 ? 1 : 0 },
                                         replicates: bootstrapReplicates, level: level, seed: seed) { idx in
            let s = idx.map { scores[$0] }, y = idx.map { labels[$0] }
            let m = try ThresholdMetrics(scores: s, labels: y, threshold: t)
            return [try rocAUC(scores: s, labels: y), m.accuracy, m.balancedAccuracy, m.f1, m.sensitivity, m.specificity]
        }
        let b = Dictionary(uniqueKeysWithValues: zip(names, iv))
        bootstrap = b
    }
}
