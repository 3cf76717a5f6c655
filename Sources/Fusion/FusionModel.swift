import Foundation
import Statistics

public enum FusionMethod: String, Sendable, Codable { case early, late }
/// How late fusion combines the per-modality predictions.
public enum LateCombiner: String, Sendable, Codable {
    /// Weighted mean of probabilities, weight = max(inner-CV AUC − 0.5, 0) (equal when all 0).
    case weighted
    /// A logistic regression (ridge λ = 1e-3) on the logits of the inner-CV out-of-fold predictions.
    case stacking
}

/// One case's out-of-fold predictions.
public struct FusionPrediction: Codable, Sendable {
    public var caseID: String
    public var outcome: Bool
    public var fold: Int
    /// Per-modality probability (nil when the case lacks the modality).
    public var modality: [String: Double]
    public var fused: Double
    /// The modalities the fused prediction used, `+`-joined (e.g. `radiology` for a fallback).
    public var modalitiesUsed: String
}

public struct FusionEvaluation: Codable, Sendable {
    public var name: String
    public var cases: Int
    public var positives: Int
    /// Out-of-fold AUC with its DeLong interval; nil when a class is absent.
    public var auc: AUCEstimate?
}

public struct FusionReport: Codable, Sendable {
    public var method: FusionMethod
    public var combiner: LateCombiner?
    public var folds: Int
    public var seed: UInt64
    public var missing: MissingPolicy
    public var selection: String
    public var penalty: String
    public var modalities: [FusionEvaluation]
    public var fused: FusionEvaluation
    /// Paired DeLong test fused vs each modality on the cases that have it.
    public var comparisons: [String: AUCComparison]
    /// The model refitted on every case: features (`<modality>:<column>`) with coefficients on
    /// the standardised scale, and the late weights or stacking coefficients.
    public var finalFeatures: [String: [String: Double]]
    public var finalWeights: [String: Double]?
    public var notes: [String]
    public var predictions: [FusionPrediction]
}

public enum FusionModel {
    /// Out-of-fold evaluation of early or late fusion by stratified seeded k-fold CV over the
    /// cases with an outcome and at least one modality.
    public static func evaluate(ids: [String], outcome: [Bool?], modalities input: [Modality], method: FusionMethod,
                                combiner: LateCombiner = .weighted, options o: FusionOptions) throws -> FusionReport {
        var notes: [String] = []
        guard !input.isEmpty else { throw FusionError("no modality has feature columns", hint: "check the case table") }
        // Cases with an outcome.
        let labelled = ids.indices.filter { outcome[$0] != nil }
        if labelled.count < ids.count { notes.append("\(ids.count - labelled.count) case(s) without an outcome left out of modelling") }
        let labelledPositives = labelled.filter { outcome[$0]! }.count
        guard labelledPositives > 0 && labelledPositives < labelled.count else {
            throw FusionError("the outcome has a single class (\(labelledPositives) positive of \(labelled.count) cases)", hint: "modelling needs cases of both classes")
        }
        // Columns: drop all-missing and constant ones (over the labelled cases).
        var mods: [Modality] = []
        for m in input {
            var keep: [Int] = [], dropped: [String] = [], empty: [String] = []
            for j in m.columns.indices {
                let v = labelled.map { m.values[$0][j] }.filter { $0.isFinite }
                if v.isEmpty { empty.append(m.columns[j]); continue }
                if v.allSatisfy({ $0 == v[0] }) { dropped.append(m.columns[j]); continue }
                keep.append(j)
            }
            if !empty.isEmpty { notes.append("\(m.name): \(empty.count) column(s) missing in every case dropped: \(list(empty))") }
            if !dropped.isEmpty { notes.append("\(m.name): \(dropped.count) constant column(s) dropped: \(list(dropped))") }
            guard !keep.isEmpty else { notes.append("\(m.name): no usable column; modality left out"); continue }
            mods.append(Modality(name: m.name, columns: keep.map { m.columns[$0] }, values: m.values.map { r in keep.map { r[$0] } }))
        }
        guard !mods.isEmpty else { throw FusionError("no usable feature column in any modality", hint: "every column is missing or constant") }
        // Presence of each modality per case, under the missing-value policy.
        var present = mods.map { m in ids.indices.map { i in m.values[i].contains { $0.isFinite } } }
        for (k, m) in mods.enumerated() {
            let partial = ids.indices.filter { i in present[k][i] && m.values[i].contains { !$0.isFinite } && outcome[i] != nil }
            guard !partial.isEmpty else { continue }
            switch o.missing {
            case .refuse:
                throw FusionError("\(m.name): \(partial.count) case(s) have missing values (e.g. \(ids[partial[0]]))",
                                  hint: "choose --missing fallback (treat that modality as missing for them) or --missing impute (training-fold means)")
            case .fallback:
                for i in partial { present[k][i] = false }
                notes.append("\(m.name): \(partial.count) case(s) with missing values treated as missing the modality")
            case .impute:
                notes.append("\(m.name): \(partial.count) case(s) with missing values imputed by training-fold means")
            }
        }
        let cases = labelled.filter { i in mods.indices.contains { present[$0][i] } }
        if cases.count < labelled.count { notes.append("\(labelled.count - cases.count) case(s) with no modality left out") }
        let labels = cases.map { outcome[$0]! }
        let pos = labels.filter { $0 }.count
        guard pos > 0 && pos < labels.count else {
            throw FusionError("the outcome has a single class (\(pos) positive of \(labels.count) cases)", hint: "modelling needs cases of both classes")
        }
        let incomplete = cases.filter { i in mods.indices.contains { !present[$0][i] } }
        if method == .early && !incomplete.isEmpty {
            guard o.missing == .fallback else {
                throw FusionError("early fusion: \(incomplete.count) of \(cases.count) case(s) lack a modality (e.g. \(ids[incomplete[0]]))",
                                  hint: "give --missing fallback to predict them from the modalities they have (flagged in modalities_used)")
            }
            notes.append("early fusion: \(incomplete.count) case(s) lack a modality and get the prediction of the modalities they have")
        }
        let widths = mods.map(\.columns.count)
        for (m, w) in zip(mods, widths) where w > cases.count { notes.append("warning: \(m.name) has \(w) features for \(cases.count) cases; LASSO still runs") }
        if mods.count > 1, widths.reduce(0, +) > cases.count, method == .early { notes.append("warning: \(widths.reduce(0, +)) fused features for \(cases.count) cases; LASSO still runs") }
        let k = min(o.folds, pos, labels.count - pos)
        guard k >= 2 else { throw FusionError("\(o.folds) folds need at least \(o.folds) cases of each class (have \(pos) and \(labels.count - pos))", hint: "use fewer folds or more cases") }
        if k < o.folds { notes.append("folds reduced to \(k) (smallest class)") }
        let fold = DataSplit.stratifiedFolds(labels, k, seed: o.seed)

        // Learner on a subset of modalities, trained on the given cases that have all of them.
        func learner(_ subset: [Int], _ train: [Int]) throws -> FittedLearner {
            let t = train.filter { i in subset.allSatisfy { present[$0][i] } }
            return try EarlyFusion.fit(subset.map { mods[$0] }, rows: t, labels: t.map { outcome[$0]! }, options: o)
        }
        func predict(_ l: FittedLearner, _ subset: [Int], _ i: Int) -> Double {
            l.predict([subset.flatMap { mods[$0].values[i] }])[0]
        }
        // Inner CV on `train`: out-of-fold probability per modality (for weights and stacking).
        func innerOOF(_ train: [Int]) throws -> [[Int: Double]] {
            let tl = train.map { outcome[$0]! }
            let p = tl.filter { $0 }.count
            let ki = min(o.innerFolds, p, tl.count - p)
            guard ki >= 2 else { throw FusionError("a training fold has too few cases of one class for inner CV", hint: "use fewer folds") }
            let f = DataSplit.stratifiedFolds(tl, ki, seed: o.seed &+ 1)
            var out = [[Int: Double]](repeating: [:], count: mods.count)
            for g in 0..<ki {
                let tr = train.indices.filter { f[$0] != g }.map { train[$0] }, te = train.indices.filter { f[$0] == g }.map { train[$0] }
                for m in mods.indices {
                    let l = try learner([m], tr)
                    for i in te where present[m][i] { out[m][i] = predict(l, [m], i) }
                }
            }
            return out
        }
        func weights(_ oof: [[Int: Double]]) -> [Double] {
            let w = oof.map { d -> Double in
                let idx = Array(d.keys)
                guard let a = try? rocAUC(scores: idx.map { d[$0]! }, labels: idx.map { outcome[$0]! }) else { return 0 }
                return max(a - 0.5, 0)
            }
            return w.reduce(0, +) > 0 ? w : w.map { _ in 1 }
        }
        func logit(_ p: Double) -> Double { let q = min(max(p, 1e-6), 1 - 1e-6); return log(q / (1 - q)) }
        func stack(_ oof: [[Int: Double]], _ train: [Int]) throws -> LogisticModel {
            let rows = train.filter { i in mods.indices.allSatisfy { oof[$0][i] != nil } }
            return try LogisticRegression.fit(features: rows.map { i in mods.indices.map { logit(oof[$0][i]!) } },
                                              labels: rows.map { outcome[$0]! }, penalty: .ridge(lambda: 1e-3))
        }
        func combine(_ p: [Int: Double], _ w: [Double], _ meta: LogisticModel?) -> Double {
            if let meta, p.count == mods.count { return meta.probabilities([mods.indices.map { logit(p[$0]!) }])[0] }
            if p.count == 1 { return p.first!.value }
            let sw = p.keys.reduce(0.0) { $0 + w[$1] }
            return sw > 0 ? p.keys.reduce(0.0) { $0 + w[$1] * p[$1]! } / sw : p.values.reduce(0, +) / Double(p.count)
        }

        var predictions: [FusionPrediction] = []
        for f in 0..<k {
            let train = cases.indices.filter { fold[$0] != f }.map { cases[$0] }
            let test = cases.indices.filter { fold[$0] == f }.map { cases[$0] }
            var cache: [[Int]: FittedLearner] = [:]
            func cached(_ s: [Int]) throws -> FittedLearner {
                if let l = cache[s] { return l }
                let l = try learner(s, train); cache[s] = l; return l
            }
            var w: [Double] = [], meta: LogisticModel?
            if method == .late && mods.count > 1 {
                let oof = try innerOOF(train)
                w = weights(oof)
                if combiner == .stacking { meta = try stack(oof, train) }
            }
            for i in test {
                let avail = mods.indices.filter { present[$0][i] }
                var per: [Int: Double] = [:]
                for m in avail { per[m] = predict(try cached([m]), [m], i) }
                let fused = method == .early ? predict(try cached(avail), avail, i) : combine(per, w, meta)
                predictions.append(FusionPrediction(caseID: ids[i], outcome: outcome[i]!, fold: f,
                                                    modality: Dictionary(uniqueKeysWithValues: per.map { (mods[$0.key].name, $0.value) }),
                                                    fused: fused, modalitiesUsed: avail.map { mods[$0].name }.joined(separator: "+")))
            }
        }
        // Case order of the input (the first row of an id, as before).
        let position = Dictionary(ids.enumerated().map { ($1, $0) }, uniquingKeysWith: { a, _ in a })
        predictions.sort { a, b in position[a.caseID]! < position[b.caseID]! }

        func evaluation(_ name: String, _ s: [Double], _ y: [Bool]) -> FusionEvaluation {
            FusionEvaluation(name: name, cases: s.count, positives: y.filter { $0 }.count,
                             auc: try? DeLong.estimate(scores: s, labels: y, level: o.level))
        }
        var evals: [FusionEvaluation] = [], comparisons: [String: AUCComparison] = [:]
        for m in mods {
            let ps = predictions.filter { $0.modality[m.name] != nil }
            evals.append(evaluation(m.name, ps.map { $0.modality[m.name]! }, ps.map(\.outcome)))
            comparisons[m.name] = try? DeLong.compare(scoresA: ps.map(\.fused), scoresB: ps.map { $0.modality[m.name]! }, labels: ps.map(\.outcome), level: o.level)
        }
        let fusedEval = evaluation("fused", predictions.map(\.fused), predictions.map(\.outcome))

        // The final model on every case.
        var finalFeatures: [String: [String: Double]] = [:], finalWeights: [String: Double]?
        func describe(_ l: FittedLearner, _ subset: [Int]) -> [String: Double] {
            let names = subset.flatMap { m in mods[m].columns.map { mods[m].name + ":" + $0 } }
            var d = ["(intercept)": l.intercept]
            for (c, s) in l.selected.enumerated() { d[names[l.kept[s]]] = l.coefficients[c] }
            return d
        }
        if method == .early {
            let all = Array(mods.indices)
            finalFeatures["fused"] = describe(try learner(all, cases), all)
        }
        for m in mods.indices { finalFeatures[mods[m].name] = describe(try learner([m], cases), [m]) }
        if method == .late && mods.count > 1 {
            var oof = [[Int: Double]](repeating: [:], count: mods.count)
            for p in predictions { for m in mods.indices { if let v = p.modality[mods[m].name] { oof[m][position[p.caseID]!] = v } } }
            if combiner == .stacking {
                let meta = try stack(oof, cases)
                finalWeights = ["(intercept)": meta.intercept]
                for m in mods.indices { finalWeights![mods[m].name] = meta.coefficients[m] }
            } else {
                let w = weights(oof), s = w.reduce(0, +)
                finalWeights = Dictionary(uniqueKeysWithValues: mods.indices.map { (mods[$0].name, w[$0] / s) })
            }
        }
        let selection: String
        switch o.selection {
        case .none: selection = "none"
        case let .lassoCV(oneSE): selection = "LassoCV \(oneSE ? "lambda.1se" : "lambda.min"), \(o.innerFolds) inner folds"
        }
        return FusionReport(method: method, combiner: method == .late ? combiner : nil, folds: k, seed: o.seed, missing: o.missing,
                            selection: selection, penalty: "\(o.penalty)", modalities: evals, fused: fusedEval, comparisons: comparisons,
                            finalFeatures: finalFeatures, finalWeights: finalWeights, notes: notes, predictions: predictions)
    }

    static func list(_ names: [String]) -> String {
        names.prefix(5).joined(separator: ", ") + (names.count > 5 ? ", …" : "")
    }

    /// `case,outcome,fold,p_<modality>…,fused,modalities_used`.
    public static func predictionsCSV(_ r: FusionReport) -> String {
        let names = r.modalities.map(\.name)
        var s = (["case", "outcome", "fold"] + names.map { "p_" + $0 } + ["fused", "modalities_used"]).joined(separator: ",") + "\n"
        for p in r.predictions {
            s += ([RegionTable.csvEscape(p.caseID), p.outcome ? "1" : "0", String(p.fold)] + names.map { p.modality[$0].map { "\($0)" } ?? "" }
                  + ["\(p.fused)", p.modalitiesUsed]).joined(separator: ",") + "\n"
        }
        return s
    }
}
