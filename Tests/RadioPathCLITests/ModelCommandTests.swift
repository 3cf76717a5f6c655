import Foundation
import ImageCore
import Tabular
import TestSupport
import XCTest

/// `radiopath model` on scikit-learn's breast-cancer table (written to CSV by sklearn), with a
/// second "reader" whose copies of three features are noisy, and a synthetic clinical column.
final class ModelCommandTests: XCTestCase {
    private func writeData(_ dir: String) throws {
        let script = """
        import sys, importlib.util
        if importlib.util.find_spec('sklearn') is None: print('skip'); sys.exit(0)
        import numpy as np
        from sklearn.datasets import load_breast_cancer
        d = load_breast_cancer(); X = d.data; y = (d.target == 0).astype(int)
        names = [n.replace(' ', '_') for n in d.feature_names]
        rng = np.random.default_rng(0)
        age = np.round(55 + 10 * rng.standard_normal(len(y)) + 3 * y, 1)
        X2 = X * (1 + 0.01 * rng.standard_normal(X.shape))
        for j in [2, 12, 25]: X2[:, j] = X[:, j] + 2 * X[:, j].std() * rng.standard_normal(len(y))
        def write(path, cols, rows):
            with open(path, 'w') as f:
                f.write(','.join(cols) + '\\n')
                for r in rows: f.write(','.join(r) + '\\n')
        ids = ['case%03d' % i for i in range(len(y))]
        write(sys.argv[1] + '/bc.csv', ['id', 'outcome', 'age'] + names,
              [[ids[i], str(y[i]), repr(float(age[i]))] + [repr(float(v)) for v in X[i]] for i in range(len(y))])
        write(sys.argv[1] + '/reader2.csv', ['id'] + names, [[ids[i]] + [repr(float(v)) for v in X2[i]] for i in range(len(y))])
        print('ok')
        """
        let r = String(decoding: try TestEnv.runPython(script, [dir]), as: UTF8.self)
        if r.contains("skip") { throw XCTSkip("scikit-learn is not installed (pip install scikit-learn)") }
    }

    func testBreastCancerPipeline() throws {
        let dir = try TestEnv.scratch(self, "model")
        try writeData(dir)
        let args = ["model", dir + "/bc.csv", "--outcome", "outcome", "--clinical", "age", "--split", "0.3", "--seed", "1",
                    "--icc", dir + "/reader2.csv", "--icc-threshold", "0.8", "--redundancy", "0.85", "--folds", "10", "--lambda", "1se", "--json"]
        let r = try radiopath(args + ["--out", dir + "/out"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let out = dir + "/out"
        for f in ["model.json", "metrics.json", "features_selection.csv", "radscore.csv", "univariable.csv", "multivariable.csv",
                  "decision_curve.csv", "calibration.csv", "nomogram.csv", "roc.png", "calibration.png", "decision_curve.png", "nomogram.png"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: out + "/" + f), f)
        }
        let summary = try XCTUnwrap(try TestEnv.json(Data(r.stdout.utf8)) as? [String: Any])
        XCTAssertFalse(try XCTUnwrap(summary["selected"] as? [String]).isEmpty)

        // Selection steps: the three noisy features fail the ICC, some fall to redundancy, the rest to LASSO.
        let sel = try CSVTable.read(path: out + "/features_selection.csv")
        let by = Dictionary(uniqueKeysWithValues: sel.rows.map { ($0[0], $0[sel.column("dropped_by")!]) })
        XCTAssertEqual(Set(by.filter { $0.value == "icc" }.keys), ["mean_perimeter", "perimeter_error", "worst_compactness"])
        XCTAssertTrue(by.values.contains { $0.hasPrefix("redundancy:") })
        XCTAssertTrue(by.values.contains("lasso"))
        XCTAssertEqual(sel.rows.count, 30)

        // Metrics equal scikit-learn's on the written rad-scores; the test threshold is the training Youden one.
        let metrics = try XCTUnwrap(try TestEnv.json(try Data(contentsOf: URL(fileURLWithPath: out + "/metrics.json"))) as? [String: [String: Any]])
        let peer = String(decoding: try TestEnv.runPython("""
        import sys, csv, json
        from sklearn.metrics import roc_auc_score, brier_score_loss
        rows = list(csv.DictReader(open(sys.argv[1])))
        res = {}
        for s in ['train', 'test']:
            r = [x for x in rows if x['split'] == s]
            y = [int(x['outcome']) for x in r]
            res[s] = [roc_auc_score(y, [float(x['radscore']) for x in r]), brier_score_loss(y, [float(x['probability']) for x in r]), len(r)]
        print(json.dumps(res))
        """, [out + "/radscore.csv"]), as: UTF8.self)
        let ref = try XCTUnwrap(try TestEnv.json(Data(peer.utf8)) as? [String: [Double]])
        for s in ["train", "test"] {
            let m = try XCTUnwrap(metrics[s])
            let auc = try XCTUnwrap(m["auc"] as? Double), ci = try XCTUnwrap(m["auc_ci_delong"] as? [Double])
            XCTAssertEqual(auc, try XCTUnwrap(ref[s])[0], accuracy: 1e-12, s)
            XCTAssertEqual(try XCTUnwrap(m["brier"] as? Double), try XCTUnwrap(ref[s])[1], accuracy: 1e-9, s)
            XCTAssertTrue(ci[0] < auc && auc <= ci[1], s)
            XCTAssertGreaterThan(auc, 0.93, s)
            XCTAssertEqual(m["youden_threshold"] as? Double, metrics["train"]?["youden_threshold"] as? Double)
        }
        XCTAssertEqual(try XCTUnwrap(ref["test"])[2], 171)   // round(0.3 × 212) + round(0.3 × 357)

        let multi = try CSVTable.read(path: out + "/multivariable.csv")
        XCTAssertEqual(multi.rows.map { $0[0] }, ["(intercept)", "radscore", "age"])
        let nomo = try CSVTable.read(path: out + "/nomogram.csv")
        XCTAssertTrue(nomo.rows.contains { $0[0] == "axis" && $0[1] == "Rad-score" })
        let dca = try CSVTable.read(path: out + "/decision_curve.csv")
        XCTAssertEqual(dca.rows.count, 2 * 99)

        // Plots decode, have the chart sizes, and carry the series colours (train blue, test orange).
        func png(_ name: String) throws -> RGBImage { try PNGCodec.decodeRGB(try Data(contentsOf: URL(fileURLWithPath: out + "/" + name))) }
        func count(_ img: RGBImage, _ c: (UInt8, UInt8, UInt8)) -> Int {
            (0..<(img.width * img.height)).filter { img.pixels[3 * $0] == c.0 && img.pixels[3 * $0 + 1] == c.1 && img.pixels[3 * $0 + 2] == c.2 }.count
        }
        let blue: (UInt8, UInt8, UInt8) = (31, 119, 180), orange: (UInt8, UInt8, UInt8) = (255, 127, 14)
        for name in ["roc.png", "calibration.png", "decision_curve.png"] {
            let img = try png(name)
            XCTAssertEqual(img.width, 640); XCTAssertEqual(img.height, 480)
            XCTAssertGreaterThan(count(img, blue), 200, name)
        }
        XCTAssertGreaterThan(count(try png("roc.png"), orange), 200)
        let nimg = try png("nomogram.png")
        XCTAssertEqual(nimg.width, 900)
        XCTAssertEqual(nimg.height, 56 * 5 + 40)   // points, rad-score, age, total points, probability
        XCTAssertGreaterThan(count(nimg, blue), 300)

        // Same input, options and seed: the same bytes.
        let again = try radiopath(args + ["--out", dir + "/again"])
        XCTAssertEqual(again.status, 0, again.stderr)
        for f in ["model.json", "metrics.json", "radscore.csv", "features_selection.csv", "roc.png"] {
            XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: out + "/" + f)), try Data(contentsOf: URL(fileURLWithPath: dir + "/again/" + f)), f)
        }
    }

    func testBadInput() throws {
        let dir = try TestEnv.scratch(self, "model-bad")
        try writeData(dir)
        let table = try CSVTable.read(path: dir + "/bc.csv")
        func write(_ name: String, _ t: CSVTable) throws -> String {
            try t.encoded().write(toFile: dir + "/" + name, atomically: true, encoding: .utf8); return dir + "/" + name
        }
        func run(_ path: String, _ extra: [String] = []) throws -> (status: Int32, stdout: String, stderr: String) {
            try radiopath(["model", path, "--out", dir + "/o-" + URL(fileURLWithPath: path).lastPathComponent, "--folds", "3"] + extra)
        }
        var t = table
        for i in t.rows.indices { t.rows[i][1] = "1" }
        var r = try run(try write("single.csv", t))
        XCTAssertEqual(r.status, 2); XCTAssertTrue(r.stderr.contains("is 1 for all 569"), r.stderr)

        t = table; t.rows[7][0] = t.rows[3][0]
        r = try run(try write("dup.csv", t))
        XCTAssertEqual(r.status, 2); XCTAssertTrue(r.stderr.contains("duplicate case ids case003"), r.stderr)

        t = table; t.rows[4][5] = "abc"
        r = try run(try write("text.csv", t))
        XCTAssertEqual(r.status, 2); XCTAssertTrue(r.stderr.contains("row 6 (id case004), column \"\(table.header[5])\": \"abc\" is not a number"), r.stderr)

        t = table; t.rows[4][5] = ""; t.rows[9][6] = "NA"
        let gaps = try write("gaps.csv", t)
        r = try run(gaps)
        XCTAssertEqual(r.status, 2); XCTAssertTrue(r.stderr.contains("2 missing value(s)") && r.stderr.contains("--missing drop"), r.stderr)
        r = try run(gaps, ["--missing", "drop", "--lambda", "min"])
        XCTAssertEqual(r.status, 0, r.stderr); XCTAssertTrue(r.stderr.contains("2 training and 0 test cases with missing values dropped"), r.stderr)

        // A constant feature is dropped with a note; more features than cases warns and still runs.
        t = table
        t.header.append("constant"); for i in t.rows.indices { t.rows[i].append("3.5") }
        let pick = Array(t.rows.filter { $0[1] == "1" }.prefix(10) + t.rows.filter { $0[1] == "0" }.prefix(10))
        t.rows = pick
        let wide = try write("wide.csv", t)
        r = try run(wide, ["--lambda", "min"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("constant feature(s) dropped: constant"), r.stderr)
        XCTAssertTrue(r.stderr.contains("31 candidate features but 20 training cases"), r.stderr)
        let sel = try CSVTable.read(path: dir + "/o-wide.csv/features_selection.csv")
        XCTAssertEqual(sel.rows.first { $0[0] == "constant" }?[sel.column("dropped_by")!], "constant")
    }
}
