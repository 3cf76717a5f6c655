import Foundation
import XCTest
@testable import Statistics

final class ThresholdMetricsTests: XCTestCase {
    /// Metrics at several thresholds (Youden, median, above the maximum, at the minimum) against
    /// sklearn's accuracy / balanced accuracy / F1 / recall / precision (both classes) on
    /// `score >= t`; Youden threshold against argmax(tpr − fpr) over thresholds[1:]. 1e-12.
    func testMetricsAndYoudenMatchScikitLearn() throws {
        let cases = binaryCases()
        var inputs = peerInputs(cases)
        var thresholds: [String: [Double]] = [:]
        for c in cases {
            let sorted = c.scores.sorted()
            let t = [try YoudenPoint(scores: c.scores, labels: c.labels).threshold, sorted[sorted.count / 2],
                     sorted.last! + 1, sorted.first!]
            thresholds[c.name] = t
            inputs["t_" + c.name] = t
        }
        let r = try StatisticsPeer.run(self, """
        from sklearn.metrics import (roc_curve, accuracy_score, balanced_accuracy_score, f1_score,
                                     recall_score, precision_score)
        for n in \(pyNames(cases)):
            s, y = inp('s_' + n), inp('y_' + n).astype(int)
            f, t, th = roc_curve(y, s, drop_intermediate=False)
            out(n + '_youden', [th[1 + np.argmax(t[1:] - f[1:])], np.max(t[1:] - f[1:])])
            rows = []
            for thr in inp('t_' + n):
                p = (s >= thr).astype(int)
                rows.append([accuracy_score(y, p), balanced_accuracy_score(y, p), f1_score(y, p, zero_division=0),
                             recall_score(y, p), recall_score(y, p, pos_label=0),
                             precision_score(y, p, zero_division=np.nan), precision_score(y, p, pos_label=0, zero_division=np.nan)])
            out(n + '_metrics', rows)
        """, inputs: inputs)
        for c in cases {
            let y = try YoudenPoint(scores: c.scores, labels: c.labels)
            XCTAssertEqual(y.threshold, r[c.name + "_youden"]![0], c.name)
            XCTAssertEqual(y.j, r[c.name + "_youden"]![1], accuracy: 1e-12, c.name)
            XCTAssertEqual(y.j, y.sensitivity + y.specificity - 1, accuracy: 1e-12)
            let ref = r[c.name + "_metrics"]!
            for (k, t) in thresholds[c.name]!.enumerated() {
                let m = try ThresholdMetrics(scores: c.scores, labels: c.labels, threshold: t)
                let row = Array(ref[(7 * k)..<(7 * k + 7)])
                let ours: [Double?] = [m.accuracy, m.balancedAccuracy, m.f1, m.sensitivity, m.specificity, m.ppv, m.npv]
                for (name, (o, e)) in zip(["acc", "bacc", "f1", "sens", "spec", "ppv", "npv"], zip(ours, row)) {
                    if e.isNaN { XCTAssertNil(o, "\(c.name) t=\(t) \(name)") }
                    else { XCTAssertEqual(o ?? .nan, e, accuracy: 1e-12, "\(c.name) t=\(t) \(name)") }
                }
                XCTAssertEqual(m.truePositives + m.falseNegatives, c.labels.filter { $0 }.count)
            }
        }
    }

    /// The maximum by hand, and ties in J going to the higher threshold.
    func testYoudenTieTakesHigherThreshold() throws {
        let y = try YoudenPoint(scores: [0.9, 0.8, 0.5, 0.3, 0.1], labels: [true, false, false, true, false])
        // J at 0.9, 0.8, 0.5, 0.3, 0.1: ½, ⅙, −⅙, ⅓, 0.
        XCTAssertEqual(y.threshold, 0.9)
        XCTAssertEqual(y.j, 0.5)
        let tie = try YoudenPoint(scores: [4, 3, 2, 1], labels: [true, false, true, false])
        // J: t=4 → ½, t=3 → 0, t=2 → ½, t=1 → 0 ⇒ the higher, 4.
        XCTAssertEqual(tie.threshold, 4)
    }
}
