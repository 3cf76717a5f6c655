/// Why an evaluation cannot be computed; each message says what is wrong and what to do.
public enum StatisticsError: Error, Equatable, CustomStringConvertible {
    /// `scores` and `labels` differ in length.
    case lengthMismatch(scores: Int, labels: Int)
    /// No samples at all.
    case empty
    /// A score is NaN or infinite.
    case nonFiniteScore(index: Int, value: Double)
    /// Only one class is present; `present` names it ("positive" or "negative", or a class index).
    case singleClass(present: String, count: Int)
    /// A multiclass label is outside `0..<classCount`, or a class has no samples.
    case invalidClass(String)
    /// A parameter is outside its valid range (confidence level, replicate count, …).
    case invalidParameter(String)

    public var description: String {
        switch self {
        case let .lengthMismatch(s, l):
            return "Statistics: \(s) scores but \(l) labels; pass one score per labelled sample"
        case .empty:
            return "Statistics: no samples; evaluation needs at least one positive and one negative"
        case let .nonFiniteScore(i, v):
            return "Statistics: score \(i) is \(v); remove or impute non-finite scores before evaluating"
        case let .singleClass(present, n):
            return "Statistics: all \(n) labels are \(present), the other class is absent; ROC/AUC need both classes " +
                "— check the label column or the cohort selection"
        case let .invalidClass(m):
            return "Statistics: \(m)"
        case let .invalidParameter(m):
            return "Statistics: \(m)"
        }
    }
}

/// Checks scores and labels; returns the positive and negative counts.
func validateBinary(_ scores: [Double], _ labels: [Bool]) throws -> (positives: Int, negatives: Int) {
    guard scores.count == labels.count else { throw StatisticsError.lengthMismatch(scores: scores.count, labels: labels.count) }
    guard !scores.isEmpty else { throw StatisticsError.empty }
    if let i = scores.firstIndex(where: { !$0.isFinite }) { throw StatisticsError.nonFiniteScore(index: i, value: scores[i]) }
    let p = labels.reduce(0) { $0 + ($1 ? 1 : 0) }
    if p == 0 { throw StatisticsError.singleClass(present: "negative", count: labels.count) }
    if p == labels.count { throw StatisticsError.singleClass(present: "positive", count: labels.count) }
    return (p, labels.count - p)
}

func checkLevel(_ level: Double) throws {
    guard level > 0 && level < 1 else {
        throw StatisticsError.invalidParameter("confidence level \(level) is outside (0, 1); use e.g. 0.95")
    }
}
