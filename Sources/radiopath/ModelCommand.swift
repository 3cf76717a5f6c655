import ArgumentParser
import Foundation
import ImageCore
import Statistics
import Tabular

/// `radiopath model`: the statistics of a radiomics paper on a feature table.
struct ModelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "model",
        abstract: "Radiomic model: ICC and correlation filters, LASSO rad-score, AUC/DeLong, calibration, decision curve, nomogram.",
        discussion: """
        Input: a CSV with one row per case: an id column, a 0/1 outcome column
        and feature columns (every other column, or those matching --features).
        Steps, each recorded per feature in features_selection.csv:
          constant features dropped → ICC ≥ --icc-threshold against --icc
          (a second reader's table) → redundancy |r| ≥ --redundancy dropped
          (the feature with the larger univariable |AUC − 0.5| is kept) →
          LASSO-logistic with --folds-fold CV, λ.min or λ.1se → rad-score.
        Evaluation on the training cases and on --test (or a stratified
        --split): AUC with DeLong 95% CI, sensitivity/specificity at the
        training Youden threshold, calibration slope/intercept/Brier, decision
        curve; univariable/multivariable odds ratios (rad-score + --clinical)
        and a nomogram. Under --out: model.json, metrics.json,
        features_selection.csv, radscore.csv, univariable.csv,
        multivariable.csv, decision_curve.csv, calibration.csv, nomogram.csv,
        roc.png, calibration.png, decision_curve.png, nomogram.png.
        docs/statistics.md defines every number. Exit status 2 on bad input.
        """)

    @Argument(help: "Training CSV (one row per case).") var input: String
    @Option(help: "Case id column.") var id = "id"
    @Option(help: "Outcome column (0/1).") var outcome = "outcome"
    @Option(help: "Feature columns: names starting with this, or matching it as a regular expression (default: all other columns).")
    var features: String?
    @Option(help: "Test CSV with the same columns.") var test: String?
    @Option(help: "Hold out this fraction of the input as a stratified test set (with --seed).") var split: Double?
    @Option(help: "Second reader's (or run's) feature table: same id and feature columns.") var icc: String?
    @Option(name: .customLong("icc-threshold"), help: "Keep features with ICC ≥ this.") var iccThreshold = 0.8
    @Option(name: .customLong("icc-kind"), help: "agreement (ICC(2,1)) or consistency (ICC(3,1)).") var iccKind = "agreement"
    @Option(help: "Drop a feature when |r| ≥ this with a kept one (e.g. 0.85); off by default.") var redundancy: Double?
    @Option(help: "pearson or spearman.") var correlation = "pearson"
    @Option(help: "Cross-validation folds for LASSO.") var folds = 10
    @Option(help: "Seed for folds and --split.") var seed: UInt64 = 1
    @Option(help: "min or 1se.") var lambda = "1se"
    @Option(help: "Missing values: error, drop (rows) or impute-median (training medians).") var missing = "error"
    @Option(help: "Clinical columns for the multivariable model with the rad-score (comma-separated).") var clinical: String?
    @Option(help: "Output folder (created if missing).") var out: String
    @Flag(help: "Print a JSON summary on standard output.") var json = false

    func run() throws {
        do {
            try work()
        } catch let e as ModelInputError {
            fail(e.reason, e.hint)
        } catch let e as CSVError {
            fail("\(e.path): \(e.reason)", e.hint)
        } catch let e as StatisticsError {
            fail("\(e)", "")
        } catch let e as ExitCode {
            throw e
        }
    }

    func fail(_ reason: String, _ hint: String) -> Never {
        FileHandle.standardError.write(Data("✗ \(reason)\n\(hint.isEmpty ? "" : "  → \(hint)\n")".utf8))
        Foundation.exit(2)
    }

    func note(_ s: String) { FileHandle.standardError.write(Data(("  " + s + "\n").utf8)) }

    func work() throws {
        let t0 = Date()
        guard ["min", "1se"].contains(lambda) else { throw ModelInputError("--lambda \(lambda)", "use min or 1se") }
        guard ["error", "drop", "impute-median"].contains(missing) else { throw ModelInputError("--missing \(missing)", "use error, drop or impute-median") }
        guard let corr = CorrelationMethod(rawValue: correlation) else { throw ModelInputError("--correlation \(correlation)", "use pearson or spearman") }
        guard let kind = ICC.Kind(rawValue: iccKind) else { throw ModelInputError("--icc-kind \(iccKind)", "use agreement or consistency") }
        if test != nil && split != nil { throw ModelInputError("both --test and --split given", "use one way of holding out test cases") }
        var notes: [String] = []
        func remark(_ s: String) { notes.append(s); note(s) }

        // Columns.
        let main = try CSVTable.read(path: input)
        let clinicalNames = clinical.map { $0.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) } } ?? []
        for c in [id, outcome] + clinicalNames where main.column(c) == nil {
            throw ModelInputError("\(input): no column \"\(c)\"", "columns are \(main.header.prefix(12).joined(separator: ", "))\(main.header.count > 12 ? ", …" : ""); name it with --id/--outcome/--clinical")
        }
        let reserved = Set([id, outcome] + clinicalNames)
        var featureNames = main.header.filter { !reserved.contains($0) }
        if let f = features {
            let re = try? NSRegularExpression(pattern: f)
            featureNames = featureNames.filter { n in
                n.hasPrefix(f) || (re?.firstMatch(in: n, range: NSRange(n.startIndex..., in: n)) != nil)
            }
        }
        guard !featureNames.isEmpty else { throw ModelInputError("\(input): no feature columns\(features.map { " match \"\($0)\"" } ?? "")", "check --features and the header") }

        // Cases.
        var train = try ModelCohort(table: main, path: input, id: id, outcome: outcome, columns: featureNames + clinicalNames, allowMissing: missing != "error")
        var testSet: ModelCohort? = nil
        if let t = test {
            testSet = try ModelCohort(table: try CSVTable.read(path: t), path: t, id: id, outcome: outcome, columns: featureNames + clinicalNames, allowMissing: missing != "error")
        }
        if missing == "drop" {
            let a = train.dropIncomplete(), b = testSet?.dropIncomplete() ?? 0
            if a + b > 0 { remark("--missing drop: \(a) training and \(b) test cases with missing values dropped") }
        }
        if let f = split {
            let isTest = try DataSplit.stratified(labels: train.y, testFraction: f, seed: seed)
            testSet = train.subset(isTest.indices.filter { isTest[$0] })
            train = train.subset(isTest.indices.filter { !isTest[$0] })
        }
        if let t = testSet, !Set(t.ids).isDisjoint(with: train.ids) {
            let trainIDs = Set(train.ids)
            let both = t.ids.filter { trainIDs.contains($0) }
            throw ModelInputError("case ids in both the training and the test table: \(both.prefix(10).joined(separator: ", "))", "a case belongs to one split only")
        }
        let pos = train.y.filter { $0 }.count
        if pos == 0 || pos == train.y.count {
            throw ModelInputError("\(input): the outcome \"\(outcome)\" is \(pos == 0 ? 0 : 1) for all \(train.y.count) training cases", "a model needs both classes; check the outcome column and the cohort selection")
        }
        if let t = testSet, Set(t.y).count < 2 { throw ModelInputError("the test set has one outcome class only (\(t.y.count) cases)", "use a larger --split or another test table") }
        if missing == "impute-median" {
            let m = train.medians()
            let a = train.impute(m), b = testSet?.impute(m) ?? 0
            if a + b > 0 { remark("--missing impute-median: \(a) training and \(b) test values replaced by training medians") }
        }
        let nf = featureNames.count
        let clinIdx = (0..<clinicalNames.count).map { nf + $0 }

        // Feature selection steps.
        var dropped = [String?](repeating: nil, count: nf)
        for j in 0..<nf where Set(train.x.map { $0[j] }).count < 2 { dropped[j] = "constant" }
        let constant = (0..<nf).filter { dropped[$0] != nil }
        if !constant.isEmpty { remark("\(constant.count) constant feature(s) dropped: \(constant.prefix(10).map { featureNames[$0] }.joined(separator: ", "))") }
        for c in clinIdx where Set(train.x.map { $0[c] }).count < 2 {
            throw ModelInputError("clinical column \"\(clinicalNames[c - nf])\" is constant in the training cases", "drop it from --clinical")
        }
        var iccs = [ICC?](repeating: nil, count: nf)
        var iccSHA: String? = nil
        if let path = icc {
            iccSHA = try SHA256.hexDigest(ofFile: path)
            let r2 = try ModelCohort(table: try CSVTable.read(path: path), path: path, id: id, outcome: nil, columns: featureNames, allowMissing: false)
            let all = train.ids + (testSet?.ids ?? []), rowsAll = train.x + (testSet?.x ?? [])
            let at = Dictionary(uniqueKeysWithValues: all.enumerated().map { ($1, $0) })
            let common = r2.ids.indices.filter { at[r2.ids[$0]] != nil }
            guard common.count >= 2 else { throw ModelInputError("\(path): fewer than 2 case ids shared with \(input)", "the ICC table must hold the same cases (same --id values)") }
            if common.count < r2.ids.count { remark("ICC: \(r2.ids.count - common.count) case(s) of \(path) are not in the input and are ignored") }
            for j in 0..<nf where dropped[j] == nil {
                let v = try ICC(ratings: common.map { [rowsAll[at[r2.ids[$0]]!][j], r2.x[$0][j]] })
                iccs[j] = v
                if !(v.value(kind) >= iccThreshold) { dropped[j] = "icc" }
            }
            remark("ICC(\(kind == .agreement ? "2,1" : "3,1")) on \(common.count) cases: \((0..<nf).filter { dropped[$0] == "icc" }.count) feature(s) below \(iccThreshold) dropped")
        }
        if let t = redundancy {
            let cand = (0..<nf).filter { dropped[$0] == nil }
            let r = try Redundancy.filter(train.x.map { row in cand.map { row[$0] } }, threshold: t, method: corr, priority: .univariableAUC(labels: train.y))
            for (d, k) in r.droppedBy { dropped[cand[d]] = "redundancy:" + featureNames[cand[k]] }
            remark("redundancy (\(corr.rawValue) |r| ≥ \(t)): \(r.droppedBy.count) feature(s) dropped, \(r.kept.count) kept")
        }
        let cand = (0..<nf).filter { dropped[$0] == nil }
        guard !cand.isEmpty else { throw ModelInputError("no feature survives the filters", "lower --icc-threshold or raise --redundancy") }
        if cand.count >= train.y.count { remark("warning: \(cand.count) candidate features but \(train.y.count) training cases; LASSO still runs, but interpret with care") }

        // LASSO rad-score.
        let xc = train.x.map { row in cand.map { row[$0] } }
        let path = try LassoCV.fit(features: xc, labels: train.y, folds: folds, seed: seed)
        let li = lambda == "min" ? path.indexMin : path.index1SE
        let sel = path.selected(at: li)
        guard !sel.isEmpty else { throw ModelInputError("LASSO selected no feature at λ.\(lambda)", "try --lambda min, or check that the features relate to the outcome") }
        for (k, j) in cand.enumerated() where !sel.contains(k) { dropped[j] = "lasso" }
        let std = Standardizer(fitting: xc)
        func radscore(_ c: ModelCohort) -> [Double] { path.radScore(c.x.map { row in cand.map { row[$0] } }, at: li) }
        let rsTrain = radscore(train), rsTest = testSet.map(radscore)
        remark("LASSO (\(folds)-fold CV, λ.\(lambda) = \(fmt(path.lambdas[li]))): \(sel.count) of \(cand.count) features selected")

        // Multivariable model: rad-score + clinical; univariable rows for each of those and the selected features (per SD).
        let mvNames = ["radscore"] + clinicalNames
        func mvRows(_ c: ModelCohort, _ rs: [Double]) -> [[Double]] { c.x.indices.map { i in [rs[i]] + clinIdx.map { c.x[i][$0] } } }
        let mvTrain = mvRows(train, rsTrain)
        let (mvTable, mvModel) = try LogisticTable.multivariable(mvTrain, labels: train.y, names: mvNames)
        let selNames = sel.map { featureNames[cand[$0]] + " (per SD)" }
        let uniRows = mvTrain.indices.map { i in mvTrain[i] + sel.map { (xc[i][$0] - std.means[$0]) / std.scales[$0] } }
        let uniTable = try LogisticTable.univariable(uniRows, labels: train.y, names: mvNames + selNames)
        for w in mvModel.warnings { remark(w) }
        let nomo = try Nomogram(model: mvModel, names: mvNames.map { $0 == "radscore" ? "Rad-score" : $0 }, rows: mvTrain)

        // Evaluation.
        let youden = try YoudenPoint(scores: rsTrain, labels: train.y)
        var splits: [(name: String, c: ModelCohort, rs: [Double])] = [("train", train, rsTrain)]
        if let t = testSet, let r = rsTest { splits.append(("test", t, r)) }
        var metrics: [String: SplitMetrics] = [:]
        var curves: [String: DecisionCurve] = [:], combinedCurves: [String: DecisionCurve] = [:], calCurves: [String: CalibrationCurve] = [:]
        var rocs: [String: (ROCCurve, AUCEstimate)] = [:]
        var combinedProbabilities: [String: [Double]] = [:]   // per split, with --clinical
        for s in splits {
            let prob = s.rs.map { 1 / (1 + exp(-$0)) }
            let ev = try BinaryEvaluation(scores: s.rs, labels: s.c.y, threshold: youden.threshold)
            let cal = try Calibration(probabilities: prob, labels: s.c.y)
            var m = SplitMetrics(cases: s.c.y.count, positives: ev.positives, auc: ev.auc.auc, aucCI: [ev.auc.interval.lower, ev.auc.interval.upper],
                                 youdenThreshold: youden.threshold, sensitivity: ev.metrics.sensitivity, specificity: ev.metrics.specificity,
                                 accuracy: ev.metrics.accuracy, calibrationSlope: cal.slope, calibrationIntercept: cal.intercept, brier: cal.brier)
            if !clinicalNames.isEmpty {
                let mvp = mvModel.probabilities(mvRows(s.c, s.rs))
                combinedProbabilities[s.name] = mvp
                let e2 = try DeLong.estimate(scores: mvp, labels: s.c.y)
                m.combinedAUC = e2.auc; m.combinedAUCCI = [e2.interval.lower, e2.interval.upper]
                m.combinedBrier = try Calibration(probabilities: mvp, labels: s.c.y).brier
                combinedCurves[s.name] = try DecisionCurve(probabilities: mvp, labels: s.c.y)
            }
            metrics[s.name] = m
            curves[s.name] = try DecisionCurve(probabilities: prob, labels: s.c.y)
            calCurves[s.name] = try CalibrationCurve(probabilities: prob, labels: s.c.y)
            rocs[s.name] = (ev.roc, ev.auc)
        }

        // Outputs.
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        let inputSHA = try SHA256.hexDigest(ofFile: input)
        let testSHA = try test.map { try SHA256.hexDigest(ofFile: $0) }
        let model = ModelFile(
            radiopathVersion: RadioPath.version, input: input, inputSHA256: inputSHA, test: test, testSHA256: testSHA, icc: icc, iccSHA256: iccSHA,
            options: ["id": id, "outcome": outcome, "features": features ?? "", "split": split.map { "\($0)" } ?? "", "seed": "\(seed)",
                      "icc_threshold": "\(iccThreshold)", "icc_kind": iccKind, "redundancy": redundancy.map { "\($0)" } ?? "",
                      "correlation": correlation, "folds": "\(folds)", "lambda": lambda, "missing": missing, "clinical": clinicalNames.joined(separator: ",")],
            candidates: cand.map { featureNames[$0] },
            standardizer: .init(means: std.means, scales: std.scales),
            lambda: .init(chosen: lambda, value: path.lambdas[li], min: path.lambdaMin, oneSE: path.lambda1SE, grid: path.lambdas,
                          cvDeviance: path.meanDeviance, cvDevianceSE: path.devianceSE),
            radscore: .init(intercept: path.intercepts[li], features: sel.map { featureNames[cand[$0]] },
                            coefficients: sel.map { path.coefficients[li][$0] },
                            standardizedCoefficients: sel.map { path.coefficients[li][$0] * std.scales[$0] }),
            combined: .init(predictors: mvNames, intercept: mvModel.intercept, coefficients: mvModel.coefficients),
            youdenThreshold: youden.threshold, trainCases: train.y.count, testCases: testSet?.y.count ?? 0,
            warnings: path.warnings, notes: notes)
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        enc.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        try AtomicFile.write(try enc.encode(model), to: out + "/model.json")
        try AtomicFile.write(try enc.encode(metrics), to: out + "/metrics.json")

        try writeCSV("features_selection.csv", ["feature", "icc_agreement", "icc_agreement_lower", "icc_agreement_upper", "icc_consistency",
                                                "icc_consistency_lower", "icc_consistency_upper", "dropped_by", "coefficient"],
                     (0..<nf).map { j in
                         let v = iccs[j], k = cand.firstIndex(of: j).flatMap { sel.firstIndex(of: $0) }
                         return [featureNames[j]] + [v?.agreement, v?.agreementInterval.lower, v?.agreementInterval.upper, v?.consistency,
                                                     v?.consistencyInterval.lower, v?.consistencyInterval.upper].map { $0.map(fmt) ?? "" }
                             + [dropped[j] ?? "", k.map { fmt(path.coefficients[li][sel[$0]]) } ?? ""]
                     })
        try writeCSV("radscore.csv", ["id", "split", "outcome", "radscore", "probability"] + (clinicalNames.isEmpty ? [] : ["combined_probability"]),
                     splits.flatMap { s in
                         let mvp = combinedProbabilities[s.name] ?? []
                         return s.c.ids.indices.map { i in
                             [s.c.ids[i], s.name, s.c.y[i] ? "1" : "0", fmt(s.rs[i]), fmt(1 / (1 + exp(-s.rs[i])))] + (clinicalNames.isEmpty ? [] : [fmt(mvp[i])])
                         }
                     })
        func tableRows(_ t: [LogisticTableRow]) -> [[String]] {
            t.map { [$0.name, fmt($0.coefficient), fmt($0.standardError), fmt($0.oddsRatio), fmt($0.interval.lower), fmt($0.interval.upper), fmt($0.pValue), $0.converged ? "1" : "0"] }
        }
        let tableHeader = ["variable", "coefficient", "se", "odds_ratio", "ci_lower", "ci_upper", "p_value", "converged"]
        try writeCSV("univariable.csv", tableHeader, tableRows(uniTable))
        try writeCSV("multivariable.csv", tableHeader, tableRows(mvTable))
        try writeCSV("decision_curve.csv", ["split", "threshold", "radscore", "treat_all", "treat_none"] + (clinicalNames.isEmpty ? [] : ["combined"]),
                     splits.flatMap { s in
                         let d = curves[s.name]!, c = combinedCurves[s.name]
                         return d.thresholds.indices.map { i in
                             [s.name, fmt(d.thresholds[i]), fmt(d.model[i]), fmt(d.treatAll[i]), fmt(d.treatNone[i])] + (c.map { [fmt($0.model[i])] } ?? [])
                         }
                     })
        try writeCSV("calibration.csv", ["split", "group", "cases", "mean_predicted", "observed"], splits.flatMap { s in
            let c = calCurves[s.name]!
            return c.counts.indices.map { [s.name, "\($0 + 1)", "\(c.counts[$0])", fmt(c.meanPredicted[$0]), fmt(c.observed[$0])] }
        })
        var nomoRows: [[String]] = []
        for a in nomo.axes { for (t, p) in zip(a.ticks, a.tickPoints) { nomoRows.append(["axis", a.name, fmt(t), fmt(p)]) } }
        for p in stride(from: 0.0, through: nomo.maxTotalPoints, by: max(1, (nomo.maxTotalPoints / 10).rounded())) {
            nomoRows.append(["total_points", "probability", fmt(nomo.probability(totalPoints: p)), fmt(p)])
        }
        nomoRows.append(["scale", "units_per_point", fmt(nomo.unitsPerPoint), ""])
        nomoRows.append(["scale", "baseline_linear_predictor", fmt(nomo.baseline), ""])
        try writeCSV("nomogram.csv", ["kind", "name", "value", "points"], nomoRows)

        // Plots.
        let colors: [String: (UInt8, UInt8, UInt8)] = ["train": LineChart.palette[0], "test": LineChart.palette[1]]
        var roc = LineChart(title: "ROC: rad-score", xLabel: "1 - specificity", yLabel: "sensitivity", xRange: 0...1, yRange: 0...1)
        roc.add(series: .reference(from: Point(x: 0, y: 0), to: Point(x: 1, y: 1)))
        for s in splits {
            let (c, a) = rocs[s.name]!
            roc.add(series: ChartSeries(String(format: "%@ AUC %.3f (%.3f-%.3f)", s.name, a.auc, a.interval.lower, a.interval.upper),
                                        x: c.fpr, y: c.tpr, color: colors[s.name]))
        }
        try writePNG(roc.render(), "roc.png")
        var cal = LineChart(title: "Calibration: rad-score (deciles)", xLabel: "predicted probability", yLabel: "observed fraction", xRange: 0...1, yRange: 0...1)
        cal.legend = .topLeft
        cal.add(series: .reference(from: Point(x: 0, y: 0), to: Point(x: 1, y: 1), name: "ideal"))
        for s in splits {
            let c = calCurves[s.name]!, m = metrics[s.name]!
            cal.add(series: ChartSeries(String(format: "%@ slope %.2f, Brier %.3f", s.name, m.calibrationSlope, m.brier), x: c.meanPredicted, y: c.observed, color: colors[s.name]))
            cal.add(series: ChartSeries(nil, x: c.meanPredicted, y: c.observed, style: .points, color: colors[s.name], thickness: 3))
        }
        try writePNG(cal.render(), "calibration.png")
        let shown = splits.last!
        let d = curves[shown.name]!
        let lo = min(-0.05, d.model.min() ?? 0)
        var dca = LineChart(title: "Decision curve (\(shown.name))", xLabel: "threshold probability", yLabel: "net benefit",
                            xRange: 0...1, yRange: lo...max(0.05, (d.treatAll.max() ?? 0) + 0.05))
        dca.legend = .topRight
        dca.add(series: ChartSeries("rad-score", x: d.thresholds, y: d.model, color: LineChart.palette[0]))
        if let c = combinedCurves[shown.name] { dca.add(series: ChartSeries("rad-score + clinical", x: c.thresholds, y: c.model, color: LineChart.palette[2])) }
        dca.add(series: ChartSeries("treat all", x: d.thresholds, y: d.treatAll.map { max($0, lo) }, color: (120, 120, 120), thickness: 1))
        dca.add(series: ChartSeries("treat none", x: d.thresholds, y: d.treatNone, style: .dashed, color: (0, 0, 0), thickness: 1))
        try writePNG(dca.render(), "decision_curve.png")
        try writePNG(NomogramPlot.render(nomo), "nomogram.png")

        let seconds = Date().timeIntervalSince(t0)
        let trainM = metrics["train"]!
        note(String(format: "✓ %d features → %d selected; train AUC %.3f", nf, sel.count, trainM.auc)
             + (metrics["test"].map { String(format: ", test AUC %.3f (%.3f–%.3f)", $0.auc, $0.aucCI[0], $0.aucCI[1]) } ?? "")
             + String(format: " — %.2f s, outputs in %@", seconds, out))
        if json {
            var s: [String: Any] = ["out": out, "features": nf, "candidates": cand.count, "selected": sel.map { featureNames[cand[$0]] },
                                    "lambda": path.lambdas[li], "lambda_rule": lambda, "train_auc": trainM.auc, "seconds": seconds]
            if let m = metrics["test"] { s["test_auc"] = m.auc; s["test_auc_ci"] = m.aucCI }
            print(String(decoding: try JSONSerialization.data(withJSONObject: s, options: [.sortedKeys]), as: UTF8.self))
        }
    }

    func writeCSV(_ name: String, _ header: [String], _ rows: [[String]]) throws {
        try AtomicFile.write(Data(CSVTable(header: header, rows: rows).encoded().utf8), to: out + "/" + name)
    }

    func writePNG(_ img: RGBImage, _ name: String) throws { try AtomicFile.write(try PNGCodec.encode(img), to: out + "/" + name) }
}

/// Shortest round-trip text of a number (17 significant digits at most), "nan"/"inf" spelled out.
private func fmt(_ v: Double) -> String { v.isFinite ? "\(v)" : (v.isNaN ? "nan" : (v > 0 ? "inf" : "-inf")) }

struct ModelInputError: Error {
    var reason: String, hint: String
    init(_ reason: String, _ hint: String) { self.reason = reason; self.hint = hint }
}

/// Cases of one table: ids, outcomes and the used columns (features then clinical), NaN = missing.
struct ModelCohort {
    var ids: [String]
    var y: [Bool]
    var x: [[Double]]
    let columns: [String]

    init(table: CSVTable, path: String, id: String, outcome: String?, columns: [String], allowMissing: Bool) throws {
        guard let ic = table.column(id) else { throw ModelInputError("\(path): no id column \"\(id)\"", "name it with --id") }
        let oc = try outcome.map { o -> Int in
            guard let c = table.column(o) else { throw ModelInputError("\(path): no outcome column \"\(o)\"", "name it with --outcome") }
            return c
        }
        let cols = try columns.map { c -> Int in
            guard let k = table.column(c) else { throw ModelInputError("\(path): no column \"\(c)\"", "every table needs the same feature columns as the input") }
            return k
        }
        self.columns = columns
        let ids = table.rows.map { $0[ic].trimmingCharacters(in: .whitespaces) }
        self.ids = ids
        var seen: [String: Int] = [:], dups: [String] = []
        for s in ids { seen[s, default: 0] += 1; if seen[s] == 2 { dups.append(s) } }
        if !dups.isEmpty { throw ModelInputError("\(path): duplicate case ids \(dups.prefix(10).joined(separator: ", "))", "each case needs one row; merge or rename them") }
        let cols0 = columns
        y = try oc.map { c in
            try table.rows.enumerated().map { (r, row) -> Bool in
                switch row[c].trimmingCharacters(in: .whitespaces) {
                case "1", "1.0", "true", "TRUE": return true
                case "0", "0.0", "false", "FALSE": return false
                case let v: throw ModelInputError("\(path): row \(r + 2) (id \(ids[r])), column \"\(outcome!)\": outcome \"\(v)\" is not 0 or 1", "code the outcome as 0/1")
                }
            }
        } ?? []
        var missing: [String] = []
        let x: [[Double]] = try table.rows.enumerated().map { (r, row) in
            try cols.enumerated().map { (k, c) -> Double in
                let s = row[c].trimmingCharacters(in: .whitespaces)
                if ["", "NA", "NaN", "nan", "null", "NULL", "N/A"].contains(s) {
                    if missing.count < 10 { missing.append("row \(r + 2) (id \(ids[r])) column \"\(cols0[k])\"") }
                    return .nan
                }
                guard let v = Double(s), v.isFinite else {
                    throw ModelInputError("\(path): row \(r + 2) (id \(ids[r])), column \"\(cols0[k])\": \"\(s)\" is not a number", "fix the cell, or leave it empty to mark it missing")
                }
                return v
            }
        }
        self.x = x
        if !allowMissing && !missing.isEmpty {
            let total = x.reduce(0) { $0 + $1.filter(\.isNaN).count }
            throw ModelInputError("\(path): \(total) missing value(s), e.g. \(missing.prefix(5).joined(separator: "; "))",
                                  "choose a policy: --missing drop (drop those rows) or --missing impute-median (training medians)")
        }
    }

    func subset(_ idx: [Int]) -> ModelCohort {
        var c = self
        c.ids = idx.map { ids[$0] }; c.y = idx.map { y[$0] }; c.x = idx.map { x[$0] }
        return c
    }

    /// Drops rows with a missing value; returns how many.
    mutating func dropIncomplete() -> Int {
        let keep = x.indices.filter { !x[$0].contains(where: \.isNaN) }
        let n = x.count - keep.count
        self = subset(keep)
        return n
    }

    func medians() -> [Double] {
        (0..<columns.count).map { j in
            let v = x.map { $0[j] }.filter { !$0.isNaN }.sorted()
            guard !v.isEmpty else { return .nan }
            return v.count % 2 == 1 ? v[v.count / 2] : (v[v.count / 2 - 1] + v[v.count / 2]) / 2
        }
    }

    mutating func impute(_ m: [Double]) -> Int {
        var n = 0
        for i in x.indices { for j in x[i].indices where x[i][j].isNaN { x[i][j] = m[j]; n += 1 } }
        return n
    }
}

struct SplitMetrics: Codable {
    var cases: Int
    var positives: Int
    var auc: Double
    var aucCI: [Double]
    /// Chosen on the training rad-scores and applied unchanged to the test set.
    var youdenThreshold: Double
    var sensitivity: Double
    var specificity: Double
    var accuracy: Double
    var calibrationSlope: Double
    var calibrationIntercept: Double
    var brier: Double
    var combinedAUC: Double?
    var combinedAUCCI: [Double]?
    var combinedBrier: Double?

    enum CodingKeys: String, CodingKey {
        case cases, positives, auc, aucCI = "auc_ci_delong", youdenThreshold = "youden_threshold", sensitivity, specificity, accuracy
        case calibrationSlope = "calibration_slope", calibrationIntercept = "calibration_intercept", brier
        case combinedAUC = "combined_auc", combinedAUCCI = "combined_auc_ci_delong", combinedBrier = "combined_brier"
    }
}

struct ModelFile: Encodable {
    struct Std: Encodable { var means: [Double]; var scales: [Double] }
    struct Lambda: Encodable {
        var chosen: String, value: Double, min: Double, oneSE: Double, grid: [Double], cvDeviance: [Double], cvDevianceSE: [Double]
        enum CodingKeys: String, CodingKey { case chosen, value, min, oneSE = "1se", grid, cvDeviance = "cv_deviance", cvDevianceSE = "cv_deviance_se" }
    }
    struct RadScore: Encodable {
        var intercept: Double, features: [String], coefficients: [Double], standardizedCoefficients: [Double]
        enum CodingKeys: String, CodingKey { case intercept, features, coefficients, standardizedCoefficients = "standardized_coefficients" }
    }
    struct Combined: Encodable { var predictors: [String]; var intercept: Double; var coefficients: [Double] }
    var radiopathVersion: String, input: String, inputSHA256: String, test: String?, testSHA256: String?, icc: String?, iccSHA256: String?
    var options: [String: String]
    var candidates: [String]
    var standardizer: Std
    var lambda: Lambda
    var radscore: RadScore
    var combined: Combined
    var youdenThreshold: Double, trainCases: Int, testCases: Int
    var warnings: [String], notes: [String]
    enum CodingKeys: String, CodingKey {
        case radiopathVersion = "radiopath_version", input, inputSHA256 = "input_sha256", test, testSHA256 = "test_sha256", icc, iccSHA256 = "icc_sha256"
        case options, candidates, standardizer, lambda, radscore, combined, youdenThreshold = "youden_threshold", trainCases = "train_cases"
        case testCases = "test_cases", warnings, notes
    }
}

/// The nomogram drawn as rms::nomogram lays it out: a 0–100 points ruler on top, one axis per
/// predictor placed under the points its values earn, then total points and probability.
enum NomogramPlot {
    static func render(_ n: Nomogram, width: Int = 900) -> RGBImage {
        let rowH = 56, left = 170, right = width - 40
        let rows = n.axes.count + 3
        var img = RGBImage(width: width, height: rowH * rows + 40)
        let ink: (UInt8, UInt8, UInt8) = (0, 0, 0), blue = LineChart.palette[0]
        func axis(_ row: Int, _ label: String, _ ticks: [(pos: Double, text: String)], _ from: Double, _ to: Double, _ color: (UInt8, UInt8, UInt8)) {
            let y = 30 + row * rowH
            BitmapFont.draw(label, into: &img, x: 8, y: y - 4, scale: 1, color: ink)
            let x0 = Double(left) + from * Double(right - left), x1 = Double(left) + to * Double(right - left)
            img.drawLine(from: Point(x: x0, y: Double(y)), to: Point(x: x1, y: Double(y)), color: color, thickness: 2)
            var lastEnd = Int.min
            for t in ticks {
                let x = Double(left) + t.pos * Double(right - left)
                img.drawLine(from: Point(x: x, y: Double(y - 5)), to: Point(x: x, y: Double(y + 5)), color: color, thickness: 1)
                let w = BitmapFont.size(of: t.text).width
                let tx = Int(x) - w / 2
                if tx > lastEnd + 3 { BitmapFont.draw(t.text, into: &img, x: tx, y: y + 9, color: ink); lastEnd = tx + w }
            }
        }
        axis(0, "Points", stride(from: 0.0, through: 100, by: 10).map { ($0 / 100, String(Int($0))) }, 0, 1, ink)
        for (k, a) in n.axes.enumerated() {
            let pts = [a.low, a.high].map { (a.coefficient * $0 - min(a.coefficient * a.low, a.coefficient * a.high)) / n.unitsPerPoint / 100 }
            axis(k + 1, a.name, zip(a.ticks, a.tickPoints).map { ($1 / 100, label($0)) }, pts.min()!, pts.max()!, blue)
        }
        let total = max(n.maxTotalPoints, 1e-12)
        let tt = niceSteps(total)
        axis(n.axes.count + 1, "Total points", tt.map { ($0 / total, String(Int($0.rounded()))) }, 0, 1, ink)
        axis(n.axes.count + 2, "Probability", zip(n.probabilityTicks, n.probabilityTickPoints).map { ($1 / total, label($0)) },
             (n.probabilityTickPoints.min() ?? 0) / total, (n.probabilityTickPoints.max() ?? 0) / total, LineChart.palette[3])
        return img
    }

    static func label(_ v: Double) -> String {
        if v == v.rounded() && abs(v) < 1e7 { return String(Int(v)) }
        return String(format: abs(v) >= 100 ? "%.0f" : "%.2g", v)
    }

    static func niceSteps(_ hi: Double) -> [Double] {
        let raw = hi / 8, mag = pow(10, floor(log10(raw)))
        let step = [1.0, 2, 5, 10].map { $0 * mag }.first { $0 >= raw } ?? 10 * mag
        return stride(from: 0.0, through: hi + 1e-9, by: step).map { $0 }
    }
}
