import Foundation
import XCTest
@testable import Statistics
import TestSupport

final class ICCTests: XCTestCase {
    /// Readers with a subject effect, a rater bias and noise, so agreement < consistency.
    private func table(_ n: Int, _ k: Int, bias: Double, noise: Double, seed: UInt64) -> [[Double]] {
        var rng = SeededRNG(seed)
        return (0..<n).map { _ in
            let s = 3 * rng.normal()
            return (0..<k).map { j in s + bias * Double(j) + noise * rng.normal() }
        }
    }

    func testAgainstPingouin() throws {
        let cases = [("k2", table(40, 2, bias: 0.8, noise: 1.0, seed: 1)), ("k3", table(25, 3, bias: 0.5, noise: 2.0, seed: 2)),
                     ("poor", table(12, 2, bias: 2.0, noise: 4.0, seed: 3))]
        var inputs: [String: [Double]] = [:]
        for (name, t) in cases { inputs[name] = t.flatMap { $0 }; inputs[name + "_k"] = [Double(t[0].count)] }
        let r = try StatisticsPeer.run(self, """
        import importlib.util
        if importlib.util.find_spec('pingouin') is None:
            print(json.dumps({'skip': ''})); sys.exit(0)
        import pandas as pd, pingouin as pg
        pg.options['round.column.CI95'] = None   # pingouin rounds the interval to 2 decimals by default
        for name in [\(cases.map { "'\($0.0)'" }.joined(separator: ", "))]:
            k = int(inp(name + '_k')[0]); a = inp(name).reshape(-1, k); n = a.shape[0]
            df = pd.DataFrame({'s': np.repeat(np.arange(n), k), 'r': np.tile(np.arange(k), n), 'v': a.ravel()})
            t = pg.intraclass_corr(df, targets='s', raters='r', ratings='v').set_index('Type')
            for typ, key in [('ICC(A,1)', 'a'), ('ICC(C,1)', 'c')]:
                out(name + key, np.r_[t.loc[typ, 'ICC'], t.loc[typ, 'CI95']])
        """, inputs: inputs)
        if r["skip"] != nil { throw XCTSkip("pingouin is not installed (pip install pingouin)") }
        for (name, t) in cases {
            let icc = try ICC(ratings: t)
            let a = try XCTUnwrap(r[name + "a"]), c = try XCTUnwrap(r[name + "c"])
            XCTAssertEqual(icc.agreement, a[0], accuracy: 1e-9, name)
            XCTAssertEqual(icc.consistency, c[0], accuracy: 1e-9, name)
            // CI bounds go through F quantiles (ours: incomplete-beta inversion; scipy: boost).
            XCTAssertEqual(icc.agreementInterval.lower, a[1], accuracy: 1e-6, name)
            XCTAssertEqual(icc.agreementInterval.upper, a[2], accuracy: 1e-6, name)
            XCTAssertEqual(icc.consistencyInterval.lower, c[1], accuracy: 1e-6, name)
            XCTAssertEqual(icc.consistencyInterval.upper, c[2], accuracy: 1e-6, name)
            if name != "poor" { XCTAssertLessThan(icc.agreement, icc.consistency, "a rater bias lowers absolute agreement only") }
        }
    }

    func testFQuantileAgainstScipy() throws {
        let dfs: [(Double, Double)] = [(1, 1), (39, 39), (24, 48), (11, 3.7), (2.5, 200), (500, 7)]
        let ps = [1e-6, 0.025, 0.5, 0.975, 0.999999]
        let r = try StatisticsPeer.run(self, """
        from scipy.stats import f
        d = inp('d').reshape(-1, 2)
        out('q', [f.ppf(p, a, b) for a, b in d for p in inp('p')])
        out('c', [f.cdf(1.7, a, b) for a, b in d])
        """, inputs: ["d": dfs.flatMap { [$0.0, $0.1] }, "p": ps])
        let q = try XCTUnwrap(r["q"]), c = try XCTUnwrap(r["c"])
        for (i, d) in dfs.enumerated() {
            for (k, p) in ps.enumerated() {
                let ours = FDistribution.quantile(p, d.0, d.1), ref = q[i * ps.count + k]
                XCTAssertEqual(ours, ref, accuracy: 1e-9 * ref, "F(\(d.0), \(d.1)) quantile \(p)")
            }
            XCTAssertEqual(FDistribution.cdf(1.7, d.0, d.1), c[i], accuracy: 1e-12)
            XCTAssertEqual(FDistribution.cdf(1.7, d.0, d.1) + FDistribution.survival(1.7, d.0, d.1), 1, accuracy: 1e-13)
        }
    }

    func testPerFeatureAndFilter() throws {
        // Feature 0 reproducible, feature 1 noise between readers, feature 2 constant (NaN ICC).
        var rng = SeededRNG(7)
        var a: [[Double]] = [], b: [[Double]] = []
        for _ in 0..<30 {
            let s = rng.normal()
            a.append([s, rng.normal(), 1]); b.append([s + 0.05 * rng.normal(), rng.normal(), 1])
        }
        let iccs = try ICC.perFeature([a, b])
        XCTAssertGreaterThan(iccs[0].agreement, 0.99)
        XCTAssertLessThan(iccs[1].agreement, 0.5)
        XCTAssertTrue(iccs[2].agreement.isNaN)
        XCTAssertEqual(ICC.reproducible(iccs, threshold: 0.8), [0])
        XCTAssertThrowsError(try ICC.perFeature([a, Array(b.dropLast())])) { XCTAssertTrue("\($0)".contains("same shape")) }
        XCTAssertThrowsError(try ICC(ratings: [[1, .nan], [2, 3]])) { XCTAssertTrue("\($0)".contains("missing")) }
    }
}
