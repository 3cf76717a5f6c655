import Foundation
import XCTest
@testable import Statistics
import TestSupport

/// scikit-learn's breast-cancer data (569 cases, 30 features, malignant = 1), standardised with
/// population SDs, plus scikit-learn fits; Wald SEs come from (XᵀWX)⁻¹ in NumPy (no statsmodels).
enum BreastCancer {
    static let prelude = """
    import warnings; warnings.filterwarnings('ignore')
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression as LR
    d = load_breast_cancer(); X = d.data; y = (d.target == 0).astype(float)
    Z = (X - X.mean(0)) / X.std(0); n = len(y)

    """

    /// The data plus whatever `fits` stores with `out`.
    static func load(_ test: XCTestCase, fits: String = "") throws -> (X: [[Double]], Z: [[Double]], y: [Bool], ref: [String: [Double]]) {
        let r = try StatisticsPeer.run(test, prelude + "out('X', X); out('Z', Z); out('y', y)\n" + fits, inputs: [:])
        let y = try XCTUnwrap(r["y"]).map { $0 == 1 }
        func rows(_ a: [Double]) -> [[Double]] { (0..<y.count).map { Array(a[($0 * 30)..<($0 * 30 + 30)]) } }
        return (rows(try XCTUnwrap(r["X"])), rows(try XCTUnwrap(r["Z"])), y, r)
    }
}

final class LogisticRegressionTests: XCTestCase {
    func testUnpenalisedMatchesSklearnAndWaldFromHessian() throws {
        let bc = try BreastCancer.load(self, fits: """
        A = Z[:, [0, 1, 4, 7]]
        m = LR(penalty=None, solver='newton-cg', tol=1e-12, max_iter=1000).fit(A, y)
        b = np.r_[m.intercept_, m.coef_.ravel()]
        D = np.c_[np.ones(n), A]; p = 1 / (1 + np.exp(-D @ b))
        out('none', b); out('none_se', np.sqrt(np.diag(np.linalg.inv(D.T @ (D * (p * (1 - p))[:, None])))))
        """)
        let a = bc.Z.map { [$0[0], $0[1], $0[4], $0[7]] }
        let m = try LogisticRegression.fit(features: a, labels: bc.y)
        let ref = try XCTUnwrap(bc.ref["none"]), se = try XCTUnwrap(bc.ref["none_se"])
        let terms = try XCTUnwrap(m.terms)
        XCTAssertTrue(m.converged); XCTAssertEqual(m.warnings, [])
        for k in 0..<5 {
            // newton-cg at tol 1e-12 agrees with our Newton fit to ~1e-9.
            XCTAssertEqual(terms[k].coefficient, ref[k], accuracy: 1e-7)
            XCTAssertEqual(terms[k].standardError, se[k], accuracy: 1e-7)
            let z = Normal.quantile(0.975)
            XCTAssertEqual(terms[k].interval.lower, exp(ref[k] - z * se[k]), accuracy: 1e-6 * exp(ref[k]))
            XCTAssertEqual(terms[k].oddsRatio, exp(ref[k]), accuracy: 1e-6 * exp(ref[k]))
        }
        // Concave points: a strong predictor, p far below 0.05.
        XCTAssertLessThan(terms[4].pValue, 1e-4)
    }

    func testRidgeAndLassoMatchSklearnWithLambdaIsOneOverCn() throws {
        // liblinear penalises the intercept; with intercept_scaling = 1e4 that penalty is |β₀|/1e4,
        // negligible here (saga leaves β₀ unpenalised but stalls before 1e-4 at C = 1).
        let bc = try BreastCancer.load(self, fits: """
        for C in [0.05, 1.0]:
            r = LR(penalty='l2', C=C, solver='newton-cg', tol=1e-12, max_iter=100000).fit(Z, y)
            out('ridge%g' % C, np.r_[r.intercept_, r.coef_.ravel()])
            l = LR(penalty='l1', C=C, solver='liblinear', tol=1e-12, max_iter=100000, intercept_scaling=1e4).fit(Z, y)
            out('lasso%g' % C, np.r_[l.intercept_, l.coef_.ravel()])
        """)
        let n = Double(bc.y.count)
        for c in [0.05, 1.0] {
            let ridge = try LogisticRegression.fit(features: bc.Z, labels: bc.y, penalty: .ridge(lambda: 1 / (c * n)))
            let lasso = try LogisticRegression.fit(features: bc.Z, labels: bc.y, penalty: .lasso(lambda: 1 / (c * n)), maxIterations: 1000)
            let rr = try XCTUnwrap(bc.ref["ridge\(c == 1 ? "1" : "0.05")"]), lr = try XCTUnwrap(bc.ref["lasso\(c == 1 ? "1" : "0.05")"])
            XCTAssertTrue(ridge.converged && lasso.converged)
            let rb = [ridge.intercept] + ridge.coefficients, lb = [lasso.intercept] + lasso.coefficients
            // newton-cg at tol 1e-12 versus Newton: 1e-6; liblinear versus our coordinate descent:
            // 2e-3 on coefficients of size up to ~5, and the same zero pattern.
            for k in 0..<31 {
                XCTAssertEqual(rb[k], rr[k], accuracy: 1e-6, "ridge C=\(c) k=\(k)")
                XCTAssertEqual(lb[k], lr[k], accuracy: 2e-3, "lasso C=\(c) k=\(k)")
                if k > 0 { XCTAssertEqual(lb[k] == 0, abs(lr[k]) < 1e-6, "support C=\(c) k=\(k)") }
            }
        }
    }

    func testBadInput() throws {
        let x: [[Double]] = [[1, 0], [2, 0], [3, 0], [4, 0]]
        XCTAssertThrowsError(try LogisticRegression.fit(features: x, labels: [true, true, true, true])) {
            XCTAssertEqual($0 as? StatisticsError, .singleClass(present: "positive", count: 4))
        }
        // A constant feature: an unpenalised fit refuses, a penalised one warns and keeps it at 0.
        let y = [false, true, false, true]
        XCTAssertThrowsError(try LogisticRegression.fit(features: x, labels: y)) {
            XCTAssertTrue("\($0)".contains("feature 1 is constant"))
        }
        let l = try LogisticRegression.fit(features: x, labels: y, penalty: .lasso(lambda: 0.01))
        XCTAssertEqual(l.coefficients[1], 0)
        XCTAssertTrue(l.warnings.contains { $0.contains("constant") })
        // Separated classes: a warning, not silent nonsense.
        let s = try LogisticRegression.fit(features: [[1], [2], [3], [4]], labels: [false, false, true, true])
        XCTAssertTrue(s.warnings.contains { $0.contains("separated") })
        // More features than cases: penalised fits still run, with a warning.
        let wide = (0..<4).map { i in (0..<6).map { j in Double((i * 7 + j * 3) % 5) } }
        let w = try LogisticRegression.fit(features: wide, labels: y, penalty: .ridge(lambda: 0.1))
        XCTAssertTrue(w.warnings.contains { $0.contains("features but only") })
    }
}
