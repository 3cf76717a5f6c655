import Foundation
import Heatmap
import TestSupport
import XCTest

final class NormalisationTests: XCTestCase {
    /// Scores with ties, a NaN, negatives and a value repeated many times.
    let scores: [Double] = [0.3, 0.1, 0.3, -2, 0.7, .nan, 0.3, 5, 0.1, 1e-4, 0.7, 0.3, 2.5, -2, 0.0]

    private func json(_ v: [Double]) -> [Any] { v.map { $0.isNaN ? "nan" : $0 as Any } }

    /// Against `scipy.stats.percentileofscore(ref, s, kind='rank', nan_policy='omit')`, for the
    /// slide's own scores and for a separate reference set with values not among them.
    /// The formula is scipy's, so the numbers must be identical (compared bit for bit).
    func testPercentileMatchesScipyExactly() throws {
        let reference: [Double] = [0.05, 0.3, 0.3, 1, 2, -1, 0.7, 9]
        let path = try writeJSON(["scores": json(scores), "reference": reference], self)
        let script = """
        import json, sys
        import numpy as np
        from scipy.stats import percentileofscore, rankdata
        d = json.load(open(sys.argv[1]))
        s = np.array([float(v) for v in d["scores"]])
        own = s[~np.isnan(s)]
        out = {
          "own": [repr(float(percentileofscore(s, v, kind='rank', nan_policy='omit'))) for v in s],
          "ref": [repr(float(percentileofscore(np.array(d["reference"]), v, kind='rank'))) for v in s],
          "clam": [repr(float(v)) for v in rankdata(own, 'average') / len(own) * 100],
          "ranks": [repr(float(v)) for v in rankdata(own, 'average')],
        }
        print(json.dumps(out))
        """
        let peer = try XCTUnwrap(try TestEnv.json(try TestEnv.runPython(script, [path])) as? [String: [Any]])
        // Numbers travel as Python reprs: JSON parsing may be off by an ulp, Double(String) is not.
        func numbers(_ key: String) -> [Double] { peer[key]!.map { Double($0 as! String) ?? .nan } }

        let own = try ScoreNormalisation.percentile().apply(scores)
        let ref = try ScoreNormalisation.percentile(reference: reference).apply(scores)
        for (i, (a, b)) in zip(own, numbers("own")).enumerated() {
            XCTAssertEqual(a.isNaN, b.isNaN, "own[\(i)]")
            if !b.isNaN {
                XCTAssertEqual(a * 100, b, accuracy: 1e-12, "own[\(i)]")
                XCTAssertEqual(ScoreNormalisation.percentilesOfScore(scores.filter { !$0.isNaN }, [scores[i]])[0], b, "own[\(i)] bit-exact")
            }
        }
        for (i, (a, b)) in zip(ref, numbers("ref")).enumerated() where !b.isNaN {
            XCTAssertEqual(ScoreNormalisation.percentilesOfScore(reference, [scores[i]])[0], b, "ref[\(i)] bit-exact")
            XCTAssertEqual(a * 100, b, accuracy: 1e-12)
        }
        // CLAM's to_percentiles (rankdata average / n) is the same thing on the slide's own scores.
        let valid = own.filter { !$0.isNaN }
        for (a, b) in zip(valid, numbers("clam")) { XCTAssertEqual(a * 100, b, accuracy: 1e-12) }
        // Average ranks as scipy's rankdata.
        let ranks = ScoreNormalisation.averageRanks(scores).filter { !$0.isNaN }
        XCTAssertEqual(ranks, numbers("ranks"))
    }

    func testRankMinMaxAndFixed() throws {
        let s: [Double] = [3, 1, .nan, 2, 2, 10]
        let rank = try ScoreNormalisation.rank.apply(s)
        // ranks 4, 1, -, 2.5, 2.5, 5 of n = 5 → (r − 1) / 4
        XCTAssertEqual(rank[0], 0.75); XCTAssertEqual(rank[1], 0); XCTAssertTrue(rank[2].isNaN)
        XCTAssertEqual(rank[3], 0.375); XCTAssertEqual(rank[5], 1)
        let mm = try ScoreNormalisation.minMax.apply(s)
        XCTAssertEqual(mm[0], 2.0 / 9); XCTAssertEqual(mm[1], 0); XCTAssertEqual(mm[5], 1); XCTAssertTrue(mm[2].isNaN)
        XCTAssertEqual(try ScoreNormalisation.minMax.apply([4, 4]), [0.5, 0.5])
        XCTAssertEqual(try ScoreNormalisation.fixed(low: 0, high: 4).apply([-1, 1, 9]), [0, 0.25, 1])
        XCTAssertThrowsError(try ScoreNormalisation.fixed(low: 1, high: 1).apply([1]))
        XCTAssertThrowsError(try ScoreNormalisation.percentile(reference: [.nan]).apply([1]))
        XCTAssertEqual(try ScoreNormalisation.rank.apply([7]), [0.5])
    }
}
