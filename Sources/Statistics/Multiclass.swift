/// Macro-averaged one-vs-rest AUC for `classCount` classes: the mean over classes k of the AUC of
/// `probabilities[i][k]` for "label == k" against the rest, as sklearn's
/// `roc_auc_score(y, P, multi_class="ovr", average="macro")`. Rows need not sum to 1 (sklearn
/// insists); every class in 0..<classCount must occur, and not as the only class.
public func macroOneVsRestAUC(probabilities: [[Double]], labels: [Int]) throws -> Double {
    guard probabilities.count == labels.count else {
        throw StatisticsError.lengthMismatch(scores: probabilities.count, labels: labels.count)
    }
    guard let k = probabilities.first?.count else { throw StatisticsError.empty }
    guard k >= 2 else { throw StatisticsError.invalidClass("one-vs-rest AUC needs at least 2 score columns, got \(k)") }
    if let i = probabilities.firstIndex(where: { $0.count != k }) {
        throw StatisticsError.invalidClass("row \(i) has \(probabilities[i].count) scores but row 0 has \(k); give one score per class")
    }
    if let i = labels.firstIndex(where: { $0 < 0 || $0 >= k }) {
        throw StatisticsError.invalidClass("label \(labels[i]) at sample \(i) is outside 0..<\(k) (one score column per class)")
    }
    var sum = 0.0
    for c in 0..<k {
        let y = labels.map { $0 == c }
        if !y.contains(true) {
            throw StatisticsError.invalidClass("class \(c) has no samples; one-vs-rest AUC is undefined for it — drop its column or add samples")
        }
        do { sum += try rocAUC(scores: probabilities.map { $0[c] }, labels: y) }
        catch StatisticsError.singleClass { throw StatisticsError.singleClass(present: "class \(c)", count: labels.count) }
    }
    return sum / Double(k)
}
