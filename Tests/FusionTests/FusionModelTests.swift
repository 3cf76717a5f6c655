import Foundation
import Statistics
import TestSupport
import XCTest
@testable import Fusion

/// Early and late fusion on synthetic cases with known truth: the outcome depends on one latent
/// signal seen by radiology and another seen by pathology, so each modality alone is partial.
final class FusionModelTests: XCTestCase {
    struct Synthetic { var ids: [String]; var outcome: [Bool?]; var radiology: Modality; var pathology: Modality }

    static func synthetic(n: Int = 240, seed: UInt64 = 7) -> Synthetic {
        var rng = SeededRNG(seed)
        func unit() -> Double { Double(rng.next() >> 11) / Double(1 << 53) }
        func gauss() -> Double { (-2 * log(max(unit(), 1e-300))).squareRoot() * cos(2 * .pi * unit()) }
        var rad: [[Double]] = [], path: [[Double]] = [], y: [Bool?] = []
        for _ in 0..<n {
            let a = gauss(), b = gauss()
            y.append(unit() < 1 / (1 + exp(-(1.8 * a + 1.8 * b))))
            rad.append([a + 0.3 * gauss(), gauss(), 0.5 * a + gauss(), gauss()])
            path.append([b + 0.3 * gauss(), gauss(), gauss() - 0.5 * b])
        }
        return Synthetic(ids: (0..<n).map { "c\($0)" }, outcome: y,
                         radiology: Modality(name: "radiology", columns: ["r0", "r1", "r2", "r3"], values: rad),
                         pathology: Modality(name: "pathology", columns: ["p0", "p1", "p2"], values: path))
    }

    func testFusedAUCBeatsEachModality() throws {
        let s = Self.synthetic()
        for (method, combiner) in [(FusionMethod.early, LateCombiner.weighted), (.late, .weighted), (.late, .stacking)] {
            let r = try FusionModel.evaluate(ids: s.ids, outcome: s.outcome, modalities: [s.radiology, s.pathology],
                                             method: method, combiner: combiner, options: FusionOptions())
            let rad = try XCTUnwrap(r.modalities[0].auc?.auc), path = try XCTUnwrap(r.modalities[1].auc?.auc)
            let fused = try XCTUnwrap(r.fused.auc?.auc)
            print("FUSION \(method) \(combiner): radiology \(rad) pathology \(path) fused \(fused) CI \(r.fused.auc!.interval)")
            XCTAssertGreaterThan(fused, rad + 0.03, "\(method)")
            XCTAssertGreaterThan(fused, path + 0.03, "\(method)")
            XCTAssertEqual(r.predictions.count, s.ids.count)
            XCTAssertTrue(r.predictions.allSatisfy { $0.modalitiesUsed == "radiology+pathology" })
            // The fused AUC is the AUC of the reported out-of-fold predictions.
            XCTAssertEqual(fused, try rocAUC(scores: r.predictions.map(\.fused), labels: r.predictions.map(\.outcome)), accuracy: 1e-12)
            // Same seed, same result.
            let again = try FusionModel.evaluate(ids: s.ids, outcome: s.outcome, modalities: [s.radiology, s.pathology],
                                                 method: method, combiner: combiner, options: FusionOptions())
            XCTAssertEqual(again.predictions.map(\.fused), r.predictions.map(\.fused))
        }
    }

    func testMissingModalityFallsBackToTheSingleModalityPrediction() throws {
        var s = Self.synthetic()
        let missing = Set(stride(from: 0, to: s.ids.count, by: 8))
        for i in missing { s.pathology.values[i] = [.nan, .nan, .nan] }
        let late = try FusionModel.evaluate(ids: s.ids, outcome: s.outcome, modalities: [s.radiology, s.pathology], method: .late, options: FusionOptions())
        for (i, p) in late.predictions.enumerated() {
            if missing.contains(i) {
                XCTAssertEqual(p.modalitiesUsed, "radiology")
                XCTAssertEqual(p.fused, try XCTUnwrap(p.modality["radiology"]))   // exactly
                XCTAssertNil(p.modality["pathology"])
            } else {
                XCTAssertEqual(p.modalitiesUsed, "radiology+pathology")
            }
        }
        // Early fusion refuses, saying how many, unless --missing fallback.
        XCTAssertThrowsError(try FusionModel.evaluate(ids: s.ids, outcome: s.outcome, modalities: [s.radiology, s.pathology], method: .early, options: FusionOptions())) {
            XCTAssertTrue("\($0)".contains("\(missing.count) of \(s.ids.count) case(s) lack a modality"), "\($0)")
        }
        var o = FusionOptions()
        o.missing = .fallback
        let early = try FusionModel.evaluate(ids: s.ids, outcome: s.outcome, modalities: [s.radiology, s.pathology], method: .early, options: o)
        let radOnly = try FusionModel.evaluate(ids: s.ids, outcome: s.outcome, modalities: [s.radiology], method: .early, options: o)
        for (i, p) in early.predictions.enumerated() where missing.contains(i) {
            XCTAssertEqual(p.modalitiesUsed, "radiology")
            XCTAssertEqual(p.fused, radOnly.predictions[i].fused)   // the radiology-only model's prediction, exactly
        }
        XCTAssertTrue(early.notes.contains { $0.contains("\(missing.count) case(s) lack a modality") })
    }

    func testEarlyFusionWithFixedLambdaMatchesScikitLearn() throws {
        let s = Self.synthetic(n: 120, seed: 3)
        let lambda = 0.02
        var o = FusionOptions()
        o.selection = .none
        o.penalty = .lasso(lambda: lambda)
        let rows = Array(s.ids.indices), labels = s.outcome.map { $0! }
        let l = try EarlyFusion.fit([s.radiology, s.pathology], rows: rows, labels: labels, options: o)
        var full = [Double](repeating: 0, count: 7)
        for (c, k) in l.selected.enumerated() { full[l.kept[k]] = l.coefficients[c] }
        var csv = ""
        for i in rows { csv += (s.radiology.values[i] + s.pathology.values[i] + [labels[i] ? 1 : 0]).map { "\($0)" }.joined(separator: ",") + "\n" }
        let dir = try TestEnv.scratch(self, "peer")
        try csv.write(toFile: dir + "/d.csv", atomically: true, encoding: .utf8)
        // scikit-learn's C = 1/(λ n); saga leaves the intercept unpenalised, as glmnet does.
        let out = try TestEnv.runPython("""
        import sys, numpy as np
        from sklearn.linear_model import LogisticRegression
        from sklearn.preprocessing import StandardScaler
        d = np.loadtxt(sys.argv[1], delimiter=','); X, y = d[:, :-1], d[:, -1]
        Z = StandardScaler().fit_transform(X)
        m = LogisticRegression(penalty='l1', C=1 / (float(sys.argv[2]) * len(y)), solver='saga', tol=1e-14, max_iter=1000000).fit(Z, y)
        print(' '.join(repr(float(v)) for v in np.r_[m.intercept_, m.coef_.ravel()]))
        """, [dir + "/d.csv", "\(lambda)"])
        let ref = String(decoding: out, as: UTF8.self).split(separator: " ").compactMap { Double($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        XCTAssertEqual(ref.count, 8)
        var worst = abs(l.intercept - ref[0])
        for k in 0..<7 { worst = max(worst, abs(full[k] - ref[k + 1])) }
        print("PEER early fusion vs scikit-learn l1 (saga): max |Δ| \(worst); coefficients \(full)")
        XCTAssertLessThanOrEqual(worst, 1e-5)
        XCTAssertEqual(full.map { $0 == 0 }, ref.dropFirst().map { abs($0) < 1e-8 })
    }

    func testBadInput() throws {
        var s = Self.synthetic(n: 60)
        // Single-class outcome.
        XCTAssertThrowsError(try FusionModel.evaluate(ids: s.ids, outcome: s.ids.map { _ in true }, modalities: [s.radiology], method: .early, options: FusionOptions())) {
            XCTAssertTrue("\($0)".contains("single class"), "\($0)")
        }
        // A constant column is dropped with a note; an all-missing one too (no selection: quick).
        var plain = FusionOptions()
        plain.selection = .none
        s.radiology.columns += ["const", "empty"]
        for i in s.ids.indices { s.radiology.values[i] += [4, .nan] }
        let r = try FusionModel.evaluate(ids: s.ids, outcome: s.outcome, modalities: [s.radiology, s.pathology], method: .early, options: plain)
        XCTAssertTrue(r.notes.contains { $0.contains("constant column(s) dropped: const") }, "\(r.notes)")
        XCTAssertTrue(r.notes.contains { $0.contains("missing in every case dropped: empty") }, "\(r.notes)")
        // A missing value inside a present modality: refused, or imputed on request.
        s.pathology.values[5][1] = .nan
        XCTAssertThrowsError(try FusionModel.evaluate(ids: s.ids, outcome: s.outcome, modalities: [s.radiology, s.pathology], method: .late, options: FusionOptions())) {
            XCTAssertTrue("\($0)".contains("--missing"), "\($0)")
        }
        var o = plain
        o.missing = .impute
        XCTAssertEqual(try FusionModel.evaluate(ids: s.ids, outcome: s.outcome, modalities: [s.radiology, s.pathology], method: .late, options: o).predictions.count, 60)
        // More features than cases: a warning, and LASSO still runs.
        let n = 30
        var wideRows: [[Double]] = []
        for i in 0..<n {
            var row = [s.radiology.values[i][0]]
            for j in 1..<36 { row.append(sin(Double(i * 31 + j * 17))) }
            wideRows.append(row)
        }
        let wide = Modality(name: "radiology", columns: (0..<36).map { "w\($0)" }, values: wideRows)
        var few = FusionOptions()
        few.folds = 3; few.innerFolds = 3
        let w = try FusionModel.evaluate(ids: Array(s.ids.prefix(n)), outcome: Array(s.outcome.prefix(n)), modalities: [wide], method: .early, options: few)
        XCTAssertTrue(w.notes.contains { $0.contains("36 features for 30 cases") }, "\(w.notes)")
        XCTAssertNotNil(w.fused.auc)
    }
}
