/// A receiver operating characteristic curve, point for point as scikit-learn's `roc_curve`.
///
/// A sample is called positive when its score is ≥ the threshold. `thresholds` are the distinct
/// scores in decreasing order, preceded by +∞ (nothing called positive, the (0, 0) point), so
/// `fpr`, `tpr` and `thresholds` have the same length and run from (0, 0) to (1, 1).
/// With `dropIntermediate`, points that lie on a straight line between their neighbours are
/// left out (sklearn's `drop_intermediate=True`, its default); the area is unchanged.
///
/// JSON: the leading +∞ threshold is written as `null` (JSON has no infinity) and read back as +∞.
public struct ROCCurve: Codable, Equatable, Sendable {
    public var fpr: [Double]
    public var tpr: [Double]
    public var thresholds: [Double]

    public init(fpr: [Double], tpr: [Double], thresholds: [Double]) {
        self.fpr = fpr; self.tpr = tpr; self.thresholds = thresholds
    }

    /// `labels[i]` is true for a positive sample. Throws when a class is absent or a score is not finite.
    public init(scores: [Double], labels: [Bool], dropIntermediate: Bool = false) throws {
        let (p, n) = try validateBinary(scores, labels)
        var order = Array(0..<scores.count)
        order.sort { scores[$0] > scores[$1] }
        // Cumulative true/false positives at the last sample of each tie group.
        var tps: [Int] = [], fps: [Int] = [], thr: [Double] = []
        var tp = 0
        for (k, i) in order.enumerated() {
            if labels[i] { tp += 1 }
            if k == order.count - 1 || scores[order[k + 1]] != scores[i] {
                tps.append(tp); fps.append(k + 1 - tp); thr.append(scores[i])
            }
        }
        if dropIntermediate && fps.count > 2 {
            // Keep the ends and every point where the curve bends (non-zero second difference).
            var keep = [0]
            for i in 1..<(fps.count - 1)
            where fps[i + 1] - 2 * fps[i] + fps[i - 1] != 0 || tps[i + 1] - 2 * tps[i] + tps[i - 1] != 0 {
                keep.append(i)
            }
            keep.append(fps.count - 1)
            tps = keep.map { tps[$0] }; fps = keep.map { fps[$0] }; thr = keep.map { thr[$0] }
        }
        let np = Double(p), nn = Double(n)
        fpr = [0] + fps.map { Double($0) / nn }
        tpr = [0] + tps.map { Double($0) / np }
        thresholds = [.infinity] + thr
    }

    /// Trapezoidal area under the points (sklearn's `auc(fpr, tpr)`); equals the Mann–Whitney
    /// AUC with ties counted one half.
    public var area: Double {
        var a = 0.0
        for i in 1..<Swift.max(1, fpr.count) { a += (fpr[i] - fpr[i - 1]) * (tpr[i] + tpr[i - 1]) / 2 }
        return a
    }

    private enum CodingKeys: String, CodingKey { case fpr, tpr, thresholds }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        fpr = try c.decode([Double].self, forKey: .fpr)
        tpr = try c.decode([Double].self, forKey: .tpr)
        thresholds = try c.decode([Double?].self, forKey: .thresholds).map { $0 ?? .infinity }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(fpr, forKey: .fpr)
        try c.encode(tpr, forKey: .tpr)
        try c.encode(thresholds.map { $0.isFinite ? $0 : nil }, forKey: .thresholds)
    }
}

/// Area under the ROC curve as the Mann–Whitney statistic: the probability that a random
/// positive scores above a random negative, ties counting one half. Equals sklearn's
/// `roc_auc_score` (to rounding). O(n log n).
public func rocAUC(scores: [Double], labels: [Bool]) throws -> Double {
    let (p, n) = try validateBinary(scores, labels)
    let r = midranks(scores)
    var sum = 0.0
    for i in 0..<r.count where labels[i] { sum += r[i] }
    let np = Double(p)
    return (sum - np * (np + 1) / 2) / (np * Double(n))
}
