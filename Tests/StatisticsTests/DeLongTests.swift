import Foundation
import XCTest
@testable import Statistics
import TestSupport

final class DeLongTests: XCTestCase {
    /// Independent O(m·n) structural components (DeLong 1988) in NumPy: ψ(x, y) = 1, ½, 0 for
    /// x >, =, < y; V10 = row means, V01 = column means; Var = s²(V10)/m + s²(V01)/n.
    static let reference = """
    from scipy.stats import norm
    def comps(s, y):
        X, Y = s[y == 1], s[y == 0]
        P = (X[:, None] > Y[None, :]) + 0.5 * (X[:, None] == Y[None, :])
        return P.mean(), P.mean(axis=1), P.mean(axis=0)
    for n in NAMES:
        y = inp('y_' + n)
        a, v10, v01 = comps(inp('s_' + n), y)
        b, w10, w01 = comps(inp('b_' + n), y)
        m, k = len(v10), len(v01)
        va = v10.var(ddof=1) / m + v01.var(ddof=1) / k
        vb = w10.var(ddof=1) / m + w01.var(ddof=1) / k
        cab = np.cov(v10, w10)[0, 1] / m + np.cov(v01, w01)[0, 1] / k
        vd = va + vb - 2 * cab
        z = (a - b) / np.sqrt(vd) if vd > 1e-300 else 0.0
        out(n, [a, va, b, vb, cab, z, 2 * norm.sf(abs(z))])
    """

    /// Cases with at least two samples per class, each with a correlated second score.
    private func pairedCases() -> [(BinaryCase, [Double])] {
        var rng = SeededRNG(7)
        return binaryCases().filter { c in
            let p = c.labels.filter { $0 }.count
            return p >= 2 && c.labels.count - p >= 2
        }.map { c in
            let spread = (c.scores.max()! - c.scores.min()!) + 1e-9
            // Rounded noise keeps ties in the tied cases; allEqual stays identical (z = 0).
            let b = c.name == "allEqual" ? c.scores
                : c.scores.map { (($0 + 0.7 * spread * rng.normal() / 4) * 100).rounded() / 100 }
            return (c, b)
        }
    }

    func testVarianceAndPairedTestMatchStructuralComponents() throws {
        let cases = pairedCases()
        var inputs = peerInputs(cases.map { $0.0 })
        for (c, b) in cases { inputs["b_" + c.name] = b }
        let r = try StatisticsPeer.run(self, "NAMES = \(pyNames(cases.map { $0.0 }))\n" + Self.reference, inputs: inputs)
        for (c, b) in cases {
            let ref = try XCTUnwrap(r[c.name])
            let e = try DeLong.estimate(scores: c.scores, labels: c.labels)
            XCTAssertEqual(e.auc, ref[0], accuracy: 1e-12, c.name)
            XCTAssertEqual(e.variance, ref[1], accuracy: 1e-10, c.name)
            let t = try DeLong.compare(scoresA: c.scores, scoresB: b, labels: c.labels)
            XCTAssertEqual(t.aucB, ref[2], accuracy: 1e-12, c.name)
            XCTAssertEqual(t.varianceA, ref[1], accuracy: 1e-10, c.name)
            XCTAssertEqual(t.varianceB, ref[3], accuracy: 1e-10, c.name)
            XCTAssertEqual(t.covariance, ref[4], accuracy: 1e-10, c.name)
            XCTAssertEqual(t.z, ref[5], accuracy: 1e-8 * max(1, abs(ref[5])), c.name)
            XCTAssertEqual(t.pValue, ref[6], accuracy: 1e-10, c.name)
        }
        // The reference really exercised ties and a non-trivial test.
        XCTAssertTrue(cases.contains { r[$0.0.name]![5] != 0 && r[$0.0.name]![6] < 0.5 })
    }

    /// Φ⁻¹ against SciPy over the whole range; the 95 % z to the last digit.
    func testNormalQuantileMatchesSciPy() throws {
        let ps: [Double] = [1e-12, 1e-6, 0.001, 0.0125, 0.02425, 0.025, 0.05, 0.1, 0.3, 0.5, 0.7, 0.9, 0.95, 0.975, 0.995, 0.999999]
        let r = try StatisticsPeer.run(self, "from scipy.stats import norm\nout('q', norm.ppf(inp('p')))", inputs: ["p": ps])
        for (p, q) in zip(ps, r["q"]!) { XCTAssertEqual(Normal.quantile(p), q, accuracy: 1e-12 * max(1, abs(q)), "p = \(p)") }
        XCTAssertEqual(Normal.quantile(0.975), 1.959963984540054, accuracy: 1e-15)
    }

    /// Intervals: the normal one is AUC ± 1.96·SE clipped to [0, 1]; the logit one stays inside
    /// (0, 1), is asymmetric towards 0.5, and both collapse at perfect separation.
    func testIntervalShapes() throws {
        let c = binormal("high", negatives: 15, positives: 15, shift: 2.5, seed: 11)
        let n = try DeLong.estimate(scores: c.scores, labels: c.labels)
        let l = try DeLong.estimate(scores: c.scores, labels: c.labels, method: .logit)
        XCTAssertEqual(n.auc, l.auc)
        XCTAssertEqual(n.interval.lower, max(0, n.auc - 1.959963984540054 * n.standardError), accuracy: 1e-12)
        XCTAssertEqual(n.interval.upper, min(1, n.auc + 1.959963984540054 * n.standardError), accuracy: 1e-12)
        XCTAssertLessThan(l.interval.upper, 1)
        XCTAssertGreaterThan(l.auc - l.interval.lower, l.interval.upper - l.auc)
        let logit = { (a: Double) in log(a / (1 - a)) }
        XCTAssertEqual(logit(l.interval.upper) - logit(l.auc), 1.959963984540054 * l.standardError / (l.auc * (1 - l.auc)), accuracy: 1e-9)
        let sep = try DeLong.estimate(scores: [1, 2, 3, 4], labels: [false, false, true, true], method: .logit)
        XCTAssertEqual(sep.auc, 1); XCTAssertEqual(sep.variance, 0)
        XCTAssertEqual(sep.interval.lower, 1); XCTAssertEqual(sep.interval.upper, 1)
        XCTAssertThrowsError(try DeLong.estimate(scores: c.scores, labels: c.labels, level: 1.2))
        XCTAssertThrowsError(try DeLong.compare(scoresA: [1, 2], scoresB: [1], labels: [true, false]))
    }

    /// Coverage of the 95 % intervals on binormal data with a known AUC = Φ(δ/√2), and the
    /// size of the paired test under the null (two noisy readings of one latent score).
    func testCoverageAndTestSize() throws {
        var rng = SeededRNG(2024)
        func sample(_ m: Int, _ n: Int, _ shift: Double) -> BinaryCase {
            var s: [Double] = [], y: [Bool] = []
            for i in 0..<(m + n) { s.append(rng.normal() + (i < m ? shift : 0)); y.append(i < m) }
            return BinaryCase(name: "", scores: s, labels: y)
        }
        // Normal DeLong intervals under-cover a little at these sizes (known; worst at high AUC,
        // where the logit interval helps). Bounds are ~3 binomial SEs around what was measured.
        let runs = 1000
        for (m, n, shift, minNormal) in [(50, 50, 1.0, 0.905), (20, 20, 2.5, 0.77)] {
            let truth = Normal.cdf(shift / 2.0.squareRoot())
            var hitN = 0, hitL = 0
            for _ in 0..<runs {
                let c = sample(m, n, shift)
                if try DeLong.estimate(scores: c.scores, labels: c.labels).interval.contains(truth) { hitN += 1 }
                if try DeLong.estimate(scores: c.scores, labels: c.labels, method: .logit).interval.contains(truth) { hitL += 1 }
            }
            let covN = Double(hitN) / Double(runs), covL = Double(hitL) / Double(runs)
            print("DeLong 95% coverage, m=n=\(m), AUC \(String(format: "%.3f", truth)): normal \(covN), logit \(covL)")
            XCTAssertGreaterThan(covN, minNormal); XCTAssertLessThan(covN, 0.975)
            XCTAssertGreaterThan(covL, 0.905); XCTAssertLessThan(covL, 0.985)
            XCTAssertGreaterThanOrEqual(covL, covN)
        }
        var rejections = 0
        for _ in 0..<runs {
            let c = sample(40, 40, 1.0)
            let a = c.scores.map { $0 + 0.7 * rng.normal() }, b = c.scores.map { $0 + 0.7 * rng.normal() }
            if try DeLong.compare(scoresA: a, scoresB: b, labels: c.labels).pValue < 0.05 { rejections += 1 }
        }
        let size = Double(rejections) / Double(runs)
        print("DeLong paired test size at α = 0.05: \(size)")
        XCTAssertGreaterThan(size, 0.02); XCTAssertLessThan(size, 0.085)
    }
}
