import Foundation
import XCTest
@testable import Statistics
import TestSupport

final class BootstrapEvaluationTests: XCTestCase {
    /// Percentiles interpolate as numpy.percentile: replicate values 1…1000 give the 2.5 % and
    /// 97.5 % points 25.975 and 975.025.
    func testPercentileInterpolation() throws {
        var k = 0.0
        let b = try Bootstrap.interval(sampleCount: 5, replicates: 1000, seed: 1) { idx in
            if idx == Array(0..<5) && k == 0 { return 0 }  // the estimate on the original sample
            k += 1; return k
        }
        XCTAssertEqual(b.interval.lower, 25.975, accuracy: 1e-9)
        XCTAssertEqual(b.interval.upper, 975.025, accuracy: 1e-9)
        XCTAssertEqual(b.skipped, 0)
    }

    /// Same seed → same interval; another seed → another; stratified resamples keep class sizes.
    func testSeededAndStratified() throws {
        let c = binormal("b", negatives: 60, positives: 25, shift: 1, seed: 8)
        let auc = { (s: [Double], y: [Bool]) in try rocAUC(scores: s, labels: y) }
        let a = try Bootstrap.interval(scores: c.scores, labels: c.labels, replicates: 500, seed: 42, metric: auc)
        let b = try Bootstrap.interval(scores: c.scores, labels: c.labels, replicates: 500, seed: 42, metric: auc)
        let d = try Bootstrap.interval(scores: c.scores, labels: c.labels, replicates: 500, seed: 43, metric: auc)
        XCTAssertEqual(a, b)
        XCTAssertNotEqual(a.interval, d.interval)
        XCTAssertEqual(a.estimate, try rocAUC(scores: c.scores, labels: c.labels))
        XCTAssertTrue(a.interval.contains(a.estimate))
        // Bootstrap and DeLong standard errors agree roughly (both estimate the same sd).
        let se = try DeLong.estimate(scores: c.scores, labels: c.labels).standardError
        XCTAssertEqual(a.standardError / se, 1, accuracy: 0.2, "bootstrap SE \(a.standardError) vs DeLong \(se)")
        print("AUC \(a.estimate): bootstrap SE \(a.standardError), DeLong SE \(se)")
        var counts: Set<Int> = []
        _ = try Bootstrap.interval(sampleCount: c.labels.count, strata: c.labels.map { $0 ? 1 : 0 }, replicates: 50) { idx in
            counts.insert(idx.filter { c.labels[$0] }.count); return 0
        }
        XCTAssertEqual(counts, [25])
        // Unstratified on 1 positive of 30: many resamples have no positive and are skipped, and say so.
        let rare = Array(repeating: false, count: 29) + [true]
        let u = try Bootstrap.interval(scores: (0..<30).map(Double.init), labels: rare, replicates: 200, stratified: false, metric: auc)
        XCTAssertGreaterThan(u.skipped, 40)
        XCTAssertFalse(u.stratified)
        XCTAssertThrowsError(try Bootstrap.interval(sampleCount: 3, strata: [0, 1], statistic: { _ in 0 }))
        XCTAssertThrowsError(try Bootstrap.interval(sampleCount: 3, replicates: 1, statistic: { _ in 0 }))
    }

    /// The summary agrees with its parts and survives JSON with a default encoder.
    func testBinaryEvaluationSummaryAndJSON() throws {
        let c = binormal("e", negatives: 80, positives: 40, shift: 1.3, round: 0.1, seed: 9)
        let e = try BinaryEvaluation(scores: c.scores, labels: c.labels, bootstrapReplicates: 200, seed: 5)
        XCTAssertEqual(e.samples, 120); XCTAssertEqual(e.positives, 40); XCTAssertEqual(e.negatives, 80)
        XCTAssertEqual(e.auc.auc, e.roc.area, accuracy: 1e-12)
        XCTAssertEqual(e.thresholdSource, "youden")
        XCTAssertEqual(e.metrics.threshold, e.youden.threshold)
        XCTAssertEqual(e.metrics.sensitivity, e.youden.sensitivity, accuracy: 1e-12)
        XCTAssertEqual(Set(e.bootstrap!.keys), ["auc", "accuracy", "balancedAccuracy", "f1", "sensitivity", "specificity"])
        XCTAssertEqual(e.bootstrap!["f1"]!.estimate, e.metrics.f1, accuracy: 1e-12)
        // The one-pass bootstrap draws the same resamples as a single-metric run with that seed.
        let single = try Bootstrap.interval(scores: c.scores, labels: c.labels, replicates: 200, seed: 5) {
            try rocAUC(scores: $0, labels: $1)
        }
        XCTAssertEqual(e.bootstrap!["auc"], single)
        let data = try JSONEncoder().encode(e)
        XCTAssertEqual(try JSONDecoder().decode(BinaryEvaluation.self, from: data), e)
        let given = try BinaryEvaluation(scores: c.scores, labels: c.labels, threshold: 100)
        XCTAssertEqual(given.thresholdSource, "given")
        XCTAssertNil(given.metrics.ppv)  // nothing called positive
        XCTAssertNil(given.bootstrap)
        XCTAssertTrue(String(decoding: try JSONEncoder().encode(given), as: UTF8.self).contains("\"threshold\":100"))
    }

    /// Macro one-vs-rest AUC against sklearn on softmax probabilities with ties; errors name the class.
    func testMacroOneVsRestMatchesScikitLearn() throws {
        var rng = SeededRNG(31)
        let k = 4, n = 160
        var labels: [Int] = [], probs: [[Double]] = []
        for i in 0..<n {
            let y = i % k
            var z = (0..<k).map { c in (rng.normal() + (c == y ? 1.2 : 0)) }
            z = z.map { ($0 * 4).rounded() / 4 }  // ties
            let e = z.map { exp($0) }, s = e.reduce(0, +)
            labels.append(y); probs.append(e.map { $0 / s })
        }
        let r = try StatisticsPeer.run(self, """
        from sklearn.metrics import roc_auc_score
        P = inp('p').reshape(-1, \(k))
        out('auc', roc_auc_score(inp('y').astype(int), P, multi_class='ovr', average='macro'))
        """, inputs: ["p": probs.flatMap { $0 }, "y": labels.map(Double.init)])
        XCTAssertEqual(try macroOneVsRestAUC(probabilities: probs, labels: labels), r["auc"]![0], accuracy: 1e-12)
        XCTAssertThrowsError(try macroOneVsRestAUC(probabilities: probs, labels: labels.map { $0 == 3 ? 0 : $0 })) {
            XCTAssertTrue("\($0)".contains("class 3 has no samples"), "\($0)")
        }
        XCTAssertThrowsError(try macroOneVsRestAUC(probabilities: [[0.5, 0.5]], labels: [2])) {
            XCTAssertTrue("\($0)".contains("label 2 at sample 0"), "\($0)")
        }
    }
}
