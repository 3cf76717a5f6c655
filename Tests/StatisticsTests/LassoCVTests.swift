import Foundation
import XCTest
@testable import Statistics
import TestSupport

final class LassoCVTests: XCTestCase {
    func testPathRulesAndSklearnAgreementOnBreastCancer() throws {
        let bc = try BreastCancer.load(self)
        let path = try LassoCV.fit(features: bc.X, labels: bc.y, folds: 10, seed: 42)
        // Path: strictly decreasing; at λmax nothing is selected, one step down something is.
        XCTAssertGreaterThan(path.lambdas.count, 10)
        for l in 1..<path.lambdas.count { XCTAssertLessThan(path.lambdas[l], path.lambdas[l - 1]) }
        XCTAssertEqual(path.selected(at: 0), [])
        XCTAssertTrue(path.coefficients.contains { $0.contains { $0 != 0 } })
        // glmnet's rules: λ.min minimises the CV deviance; λ.1se is the largest λ within one SE of it.
        let best = path.meanDeviance[path.indexMin]
        XCTAssertEqual(best, path.meanDeviance.min())
        let bar = best + path.devianceSE[path.indexMin]
        XCTAssertLessThanOrEqual(path.meanDeviance[path.index1SE], bar)
        for l in 0..<path.index1SE { XCTAssertGreaterThan(path.meanDeviance[l], bar) }
        XCTAssertLessThanOrEqual(path.index1SE, path.indexMin)
        // Fewer features at λ.1se. Not a subset in general: the lasso path is not monotone, and here
        // mean texture (1) is in the λ.1se model but gives way to worst texture (21) at λ.min.
        XCTAssertLessThan(path.selected(at: path.index1SE).count, path.selected(at: path.indexMin).count)
        XCTAssertFalse(path.selected(at: path.index1SE).isEmpty)
        // Stratified folds: each fold's positive count within one of the others'.
        let perFold = (0..<10).map { f in bc.y.indices.filter { path.folds[$0] == f && bc.y[$0] }.count }
        XCTAssertLessThanOrEqual(perFold.max()! - perFold.min()!, 1)
        // Seeded: the same seed reproduces the folds, another seed changes them.
        XCTAssertEqual(DataSplit.stratifiedFolds(bc.y, 10, seed: 42), path.folds)
        XCTAssertNotEqual(DataSplit.stratifiedFolds(bc.y, 10, seed: 43), path.folds)
        // Rad-score: the linear predictor on the original scale, and a strong one.
        let score = path.radScore(bc.X, at: path.index1SE)
        let b = path.coefficients[path.index1SE]
        XCTAssertEqual(score[3], zip(bc.X[3], b).reduce(path.intercepts[path.index1SE]) { $0 + $1.0 * $1.1 }, accuracy: 1e-9)
        XCTAssertGreaterThan(try rocAUC(scores: score, labels: bc.y), 0.95)

        // Coefficients at λ.min and λ.1se against scikit-learn liblinear (intercept_scaling 1e4, see LogisticRegressionTests) at C = 1/(λ·n), on the
        // standardised scale (sklearn is fitted on the population-SD standardised features).
        let std = Standardizer(fitting: bc.X)
        let idx = [path.indexMin, path.index1SE]
        let ref = try StatisticsPeer.run(self, BreastCancer.prelude + """
        zy = Z.T @ (y - y.mean()) / len(y)
        out('lmax', [np.abs(zy).max()])
        for i, lam in enumerate(inp('lams')):
            m = LR(penalty='l1', C=1 / (lam * len(y)), solver='liblinear', tol=1e-12, max_iter=100000, intercept_scaling=1e4).fit(Z, y)
            out('c%d' % i, np.r_[m.intercept_, m.coef_.ravel()])
        """, inputs: ["lams": idx.map { path.lambdas[$0] }])
        XCTAssertEqual(path.lambdas[0], try XCTUnwrap(ref["lmax"])[0], accuracy: 1e-12)
        for (r, i) in idx.enumerated() {
            let c = try XCTUnwrap(ref["c\(r)"])
            let ours = (0..<30).map { path.coefficients[i][$0] * std.scales[$0] }
            // Intercept on the standardised scale: β₀ + Σ βⱼ·meanⱼ.
            let b0 = path.intercepts[i] + (0..<30).reduce(0.0) { $0 + path.coefficients[i][$1] * std.means[$1] }
            XCTAssertEqual(b0, c[0], accuracy: 2e-3, "intercept at path index \(i)")
            for j in 0..<30 { XCTAssertEqual(ours[j], c[j + 1], accuracy: 2e-3, "β\(j) at path index \(i)") }
        }
    }

    func testMoreFeaturesThanCasesWarnsAndRuns() throws {
        let bc = try BreastCancer.load(self)
        // 12 positives and 12 negatives, 30 features.
        let pick = Array(bc.y.indices.filter { bc.y[$0] }.prefix(12)) + Array(bc.y.indices.filter { !bc.y[$0] }.prefix(12))
        let path = try LassoCV.fit(features: pick.map { bc.X[$0] }, labels: pick.map { bc.y[$0] }, folds: 3, seed: 1)
        XCTAssertTrue(path.warnings.contains { $0.contains("features but only") })
        XCTAssertFalse(path.selected(at: path.indexMin).isEmpty)
        XCTAssertThrowsError(try LassoCV.fit(features: pick.map { bc.X[$0] }, labels: pick.map { bc.y[$0] }, folds: 13)) {
            XCTAssertTrue("\($0)".contains("every fold needs both classes"))
        }
    }
}
