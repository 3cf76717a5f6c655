import Foundation
import XCTest
@testable import Statistics
import TestSupport

final class DecisionCurveCalibrationTests: XCTestCase {
    /// A deliberately shrunk model (C = 0.005, two features) fitted on the even cases and scored on
    /// the odd ones, so slope and intercept are away from 1 and 0.
    func testAgainstNumpyAndSklearnOnBreastCancer() throws {
        let r = try StatisticsPeer.run(self, BreastCancer.prelude + """
        from sklearn.metrics import brier_score_loss
        from scipy.optimize import brentq
        A = Z[:, [0, 7]]
        m = LR(C=0.005, tol=1e-12, max_iter=10000).fit(A[0::2], y[0::2])
        p = m.predict_proba(A[1::2])[:, 1]; t = y[1::2]; k = len(t)
        out('p', p); out('y', t)
        pts = np.arange(1, 100) / 100
        out('nb', [((p >= s) & (t == 1)).sum() / k - ((p >= s) & (t == 0)).sum() / k * s / (1 - s) for s in pts])
        out('all', t.mean() - (1 - t.mean()) * pts / (1 - pts))
        out('brier', [brier_score_loss(t, p)])
        lp = np.log(p / (1 - p))
        out('slope', [LR(C=np.inf, tol=1e-12, max_iter=10000).fit(lp[:, None], t).coef_[0, 0]])
        out('cal_int', [brentq(lambda a: (1 / (1 + np.exp(-(a + lp))) - t).sum(), -20, 20, xtol=1e-14)])
        """, inputs: [:])
        let p = try XCTUnwrap(r["p"]), y = try XCTUnwrap(r["y"]).map { $0 == 1 }
        let dc = try DecisionCurve(probabilities: p, labels: y)
        let nb = try XCTUnwrap(r["nb"]), all = try XCTUnwrap(r["all"])
        for i in 0..<99 {
            XCTAssertEqual(dc.model[i], nb[i], accuracy: 1e-12, "pt \(dc.thresholds[i])")
            XCTAssertEqual(dc.treatAll[i], all[i], accuracy: 1e-12)
            XCTAssertEqual(dc.treatNone[i], 0)
        }
        let cal = try Calibration(probabilities: p, labels: y)
        XCTAssertEqual(cal.brier, try XCTUnwrap(r["brier"])[0], accuracy: 1e-14)
        // lbfgs at tol 1e-12 versus Newton; brentq at xtol 1e-14 versus Newton.
        XCTAssertEqual(cal.slope, try XCTUnwrap(r["slope"])[0], accuracy: 1e-5)
        XCTAssertEqual(cal.intercept, try XCTUnwrap(r["cal_int"])[0], accuracy: 1e-9)
        XCTAssertGreaterThan(cal.slope, 1.2, "a shrunk model is under-confident")

        XCTAssertThrowsError(try DecisionCurve(probabilities: [0.2, 1.3], labels: [false, true])) {
            XCTAssertTrue("\($0)".contains("outside [0, 1]"))
        }
        XCTAssertThrowsError(try Calibration(probabilities: [0.2, 0.3], labels: [true, true]))
    }
}
