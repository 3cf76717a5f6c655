import Foundation
import XCTest
@testable import Statistics

final class ROCTests: XCTestCase {
    /// fpr, tpr and thresholds are the very same doubles as sklearn's roc_curve, with and without
    /// drop_intermediate; both AUCs are within 1e-12 of roc_auc_score.
    func testROCMatchesScikitLearnExactly() throws {
        let cases = binaryCases()
        let r = try StatisticsPeer.run(self, """
        from sklearn.metrics import roc_curve, roc_auc_score
        for n in \(pyNames(cases)):
            s, y = inp('s_' + n), inp('y_' + n)
            for drop in (False, True):
                f, t, th = roc_curve(y, s, drop_intermediate=drop)
                out(f'{n}_{drop}_fpr', f); out(f'{n}_{drop}_tpr', t); out(f'{n}_{drop}_thr', th)
            out(n + '_auc', roc_auc_score(y, s))
        """, inputs: peerInputs(cases))
        for c in cases {
            for drop in [false, true] {
                let roc = try ROCCurve(scores: c.scores, labels: c.labels, dropIntermediate: drop)
                let key = "\(c.name)_\(drop ? "True" : "False")"
                XCTAssertEqual(roc.fpr, r[key + "_fpr"], "\(key) fpr")
                XCTAssertEqual(roc.tpr, r[key + "_tpr"], "\(key) tpr")
                XCTAssertEqual(roc.thresholds, r[key + "_thr"], "\(key) thresholds")
                XCTAssertEqual(roc.area, r[c.name + "_auc"]![0], accuracy: 1e-12, key)
            }
            XCTAssertEqual(try rocAUC(scores: c.scores, labels: c.labels), r[c.name + "_auc"]![0], accuracy: 1e-12, c.name)
        }
    }

    /// Known values by hand: ties count one half; constant scores give 0.5; perfect and inverse rankings.
    func testAUCByHand() throws {
        XCTAssertEqual(try rocAUC(scores: [0.4, 0.4, 0.2], labels: [true, false, true]), 0.25)
        XCTAssertEqual(try rocAUC(scores: [1, 1, 1, 1], labels: [true, false, true, false]), 0.5)
        XCTAssertEqual(try rocAUC(scores: [0, 1, 2, 3], labels: [false, false, true, true]), 1)
        XCTAssertEqual(try rocAUC(scores: [3, 2, 1, 0], labels: [false, false, true, true]), 0)
        let roc = try ROCCurve(scores: [0.1, 0.4, 0.35, 0.8], labels: [false, false, true, true])
        XCTAssertEqual(roc.fpr, [0, 0, 0.5, 0.5, 1])
        XCTAssertEqual(roc.tpr, [0, 0.5, 0.5, 1, 1])
        XCTAssertEqual(roc.thresholds, [.infinity, 0.8, 0.4, 0.35, 0.1])
        XCTAssertEqual(roc.area, 0.75)
    }

    /// Errors name the problem: one class (which one), NaN/∞ scores (which sample), lengths, empty.
    func testDegenerateInputs() {
        func message(_ f: () throws -> Any) -> String {
            do { _ = try f(); return "no error" } catch { return "\(error)" }
        }
        let neg = message { try ROCCurve(scores: [0.1, 0.2], labels: [false, false]) }
        XCTAssertTrue(neg.contains("all 2 labels are negative"), neg)
        let pos = message { try rocAUC(scores: [0.1, 0.2, 0.3], labels: [true, true, true]) }
        XCTAssertTrue(pos.contains("all 3 labels are positive"), pos)
        let nan = message { try rocAUC(scores: [0.1, .nan, 0.3], labels: [true, false, true]) }
        XCTAssertTrue(nan.contains("score 1 is nan"), nan)
        let inf = message { try DeLong.estimate(scores: [0.1, 0.2, -.infinity], labels: [true, false, true]) }
        XCTAssertTrue(inf.contains("score 2 is -inf"), inf)
        XCTAssertThrowsError(try rocAUC(scores: [0.1], labels: [true, false])) {
            XCTAssertEqual($0 as? StatisticsError, .lengthMismatch(scores: 1, labels: 2))
        }
        XCTAssertThrowsError(try rocAUC(scores: [], labels: [])) { XCTAssertEqual($0 as? StatisticsError, .empty) }
        XCTAssertThrowsError(try ThresholdMetrics(scores: [1, 2], labels: [true, true], threshold: 1))
        XCTAssertThrowsError(try YoudenPoint(scores: [1, .nan], labels: [true, false]))
    }

    /// JSON round trip with a plain JSONEncoder: +∞ thresholds become null and come back.
    func testCodableRoundTrip() throws {
        let c = binaryCases()[1]
        let roc = try ROCCurve(scores: c.scores, labels: c.labels, dropIntermediate: true)
        let data = try JSONEncoder().encode(roc)
        XCTAssertTrue(String(decoding: data, as: UTF8.self).contains("\"thresholds\":[null,"))
        XCTAssertEqual(try JSONDecoder().decode(ROCCurve.self, from: data), roc)
    }
}
