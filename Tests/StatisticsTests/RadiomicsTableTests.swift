import Foundation
import XCTest
@testable import Statistics
import TestSupport

/// Redundancy filter, odds-ratio tables and nomogram on scikit-learn's breast-cancer data.
final class RadiomicsTableTests: XCTestCase {
    func testCorrelationsAndRedundancyFilterAgainstNumpyScipy() throws {
        let bc = try BreastCancer.load(self, fits: """
        from scipy.stats import spearmanr
        from sklearn.metrics import roc_auc_score
        out('pearson', np.corrcoef(X, rowvar=False)); out('spearman', spearmanr(X).correlation)
        def greedy(r, order):
            kept = []
            for j in order:
                if all(abs(r[j, k]) < 0.85 for k in kept): kept.append(j)
            return sorted(kept)
        pr = np.corrcoef(X, rowvar=False)
        out('kept_col', greedy(pr, range(30)))
        s = np.array([abs(roc_auc_score(y, X[:, j]) - 0.5) for j in range(30)])
        out('kept_auc', greedy(spearmanr(X).correlation, sorted(range(30), key=lambda j: (-s[j], j))))
        """)
        for m in CorrelationMethod.allCases {
            let r = Redundancy.correlationMatrix(bc.X, method: m), ref = try XCTUnwrap(bc.ref[m.rawValue])
            for a in 0..<30 { for b in 0..<30 { XCTAssertEqual(r[a][b], ref[a * 30 + b], accuracy: 1e-12, "\(m) \(a),\(b)") } }
        }
        let col = try Redundancy.filter(bc.X, threshold: 0.85)
        XCTAssertEqual(col.kept.map(Double.init), try XCTUnwrap(bc.ref["kept_col"]))
        let auc = try Redundancy.filter(bc.X, threshold: 0.85, method: .spearman, priority: .univariableAUC(labels: bc.y))
        XCTAssertEqual(auc.kept.map(Double.init), try XCTUnwrap(bc.ref["kept_auc"]))
        XCTAssertNotEqual(col.kept, auc.kept, "the priority rule matters on this data")
        // Every dropped feature names a kept one it correlates with at ≥ 0.85.
        for (j, k) in auc.droppedBy { XCTAssertTrue(auc.kept.contains(k)); XCTAssertGreaterThanOrEqual(try XCTUnwrap(auc.correlationWith[j]), 0.85) }
        XCTAssertEqual(auc.kept.count + auc.droppedBy.count, 30)
    }

    func testOddsRatioTablesAgainstStatsmodels() throws {
        let picks = [0, 1, 4, 7, 21]
        let bc = try BreastCancer.load(self, fits: """
        import importlib.util
        if importlib.util.find_spec('statsmodels') is None:
            out('skip', [1])
        else:
            import statsmodels.api as sm
            def fit(A):
                m = sm.Logit(y, sm.add_constant(A)).fit(method='newton', tol=1e-14, maxiter=200, disp=0)
                return np.c_[m.params, m.bse, m.pvalues, np.exp(m.conf_int())]
            A = Z[:, \(picks)]
            for k in range(A.shape[1]): out('uni%d' % k, fit(A[:, [k]])[1])
            out('multi', fit(A))
        """)
        if bc.ref["skip"] != nil { throw XCTSkip("statsmodels is not installed (pip install statsmodels)") }
        let a = bc.Z.map { r in picks.map { r[$0] } }
        let names = picks.map { "f\($0)" }
        func check(_ row: LogisticTableRow, _ ref: ArraySlice<Double>, _ what: String) {
            let r = Array(ref)
            XCTAssertEqual(row.coefficient, r[0], accuracy: 1e-6 * abs(r[0]) + 1e-9, what)
            XCTAssertEqual(row.standardError, r[1], accuracy: 1e-6 * r[1], what)
            XCTAssertEqual(row.pValue, r[2], accuracy: 1e-6 * r[2] + 1e-300, what)
            XCTAssertEqual(row.oddsRatio, exp(r[0]), accuracy: 1e-6 * exp(r[0]), what)
            XCTAssertEqual(row.interval.lower, r[3], accuracy: 1e-6 * r[3], what)
            XCTAssertEqual(row.interval.upper, r[4], accuracy: 1e-6 * r[4], what)
            XCTAssertTrue(row.converged)
        }
        let uni = try LogisticTable.univariable(a, labels: bc.y, names: names)
        for k in picks.indices { check(uni[k], try XCTUnwrap(bc.ref["uni\(k)"])[0..<5], "univariable \(names[k])") }
        let multi = try LogisticTable.multivariable(a, labels: bc.y, names: names)
        let ref = try XCTUnwrap(bc.ref["multi"])
        XCTAssertEqual(multi.rows.map(\.name), ["(intercept)"] + names)
        for k in 0...picks.count { check(multi.rows[k], ref[(k * 5)..<(k * 5 + 5)], "multivariable \(multi.rows[k].name)") }
    }

    func testNomogramPointsReproduceTheModel() throws {
        let bc = try BreastCancer.load(self)
        // Original-scale features of very different ranges and a negative coefficient.
        let a = bc.X.map { [$0[1], $0[7], $0[21], $0[9]] }
        let names = ["texture", "concave points", "worst texture", "fractal dimension"]
        let m = try LogisticRegression.fit(features: a, labels: bc.y)
        let nomo = try Nomogram(model: m, names: names, rows: a)
        let probs = m.probabilities(a)
        for i in a.indices {
            XCTAssertEqual(nomo.probability(totalPoints: nomo.totalPoints(a[i])), probs[i], accuracy: 1e-9)
            for pts in nomo.points(a[i]) { XCTAssertGreaterThanOrEqual(pts, -1e-9); XCTAssertLessThanOrEqual(pts, 100 + 1e-9) }
        }
        // The widest predictor spans exactly 0–100 points; the others less.
        let spans = nomo.axes.map { abs($0.coefficient) * ($0.high - $0.low) / nomo.unitsPerPoint }
        XCTAssertEqual(spans.max()!, 100, accuracy: 1e-9)
        XCTAssertEqual(nomo.maxTotalPoints, spans.reduce(0, +), accuracy: 1e-9)
        // Tick points lie on the axis line: points(x) = (βx − min βx)/units.
        for ax in nomo.axes { for (t, p) in zip(ax.ticks, ax.tickPoints) {
            XCTAssertEqual(p, (ax.coefficient * t - min(ax.coefficient * ax.low, ax.coefficient * ax.high)) / nomo.unitsPerPoint, accuracy: 1e-9)
            XCTAssertTrue(t >= ax.low - 1e-9 && t <= ax.high + 1e-9)
        } }
        for (p, t) in zip(nomo.probabilityTicks, nomo.probabilityTickPoints) { XCTAssertEqual(nomo.probability(totalPoints: t), p, accuracy: 1e-12) }
        XCTAssertThrowsError(try Nomogram(model: m, names: ["x"], rows: a))
    }
}
