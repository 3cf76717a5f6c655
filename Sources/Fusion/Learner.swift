import Foundation
import Statistics

/// One modality's block of a case table: rows = cases, NaN = missing.
public struct Modality: Sendable {
    public var name: String
    public var columns: [String]
    public var values: [[Double]]
    public init(name: String, columns: [String], values: [[Double]]) { self.name = name; self.columns = columns; self.values = values }
}

/// What to do with missing values (`--missing`).
public enum MissingPolicy: String, Sendable, Codable, CaseIterable {
    /// Any missing value, or (early fusion) any case without a modality, is an error.
    case refuse
    /// A case missing any value of a modality is treated as missing that modality; its
    /// prediction comes from the modalities it has (flagged in `modalities_used`).
    case fallback
    /// Missing values inside a present modality take the training fold's column mean; a
    /// wholly missing modality still falls back (late fusion) or is refused (early fusion).
    case impute
}

public enum FeatureSelection: Equatable, Sendable {
    case none
    /// LassoCV (glmnet-style, inner stratified folds) on the standardised training rows; the
    /// features with a non-zero coefficient at λ.min (or λ.1se) are kept.
    case lassoCV(oneSE: Bool)
}

public struct FusionOptions: Sendable {
    public var folds = 5
    public var seed: UInt64 = 1
    public var missing = MissingPolicy.refuse
    public var selection = FeatureSelection.lassoCV(oneSE: false)
    /// The penalised logistic regression fitted on the selected, standardised features.
    public var penalty = LogisticPenalty.ridge(lambda: 0.01)
    /// Folds of LassoCV and of late fusion's inner CV (reduced to the minority class count).
    public var innerFolds = 5
    public var level = 0.95
    public init() {}
}

/// standardise → (LassoCV selection) → penalised logistic regression, fitted on training rows
/// only; prediction applies the training means, scales and selection to new rows.
public struct FittedLearner: Sendable {
    /// Input columns kept (finite and not constant in training).
    public var kept: [Int]
    /// Training column means of the kept columns (imputation of missing values).
    public var means: [Double]
    public var standardizer: Standardizer
    /// Indices into `kept` of the selected features.
    public var selected: [Int]
    /// Model on standardised selected features.
    public var intercept: Double
    public var coefficients: [Double]
    public var notes: [String] = []

    public static func fit(rows: [[Double]], labels: [Bool], options o: FusionOptions) throws -> FittedLearner {
        let n = rows.count, p = rows.first?.count ?? 0
        let pos = labels.filter { $0 }.count
        guard pos > 0 && pos < n else {
            throw FusionError("a training set of \(n) cases has a single outcome class", hint: "each fold needs both classes: use fewer folds")
        }
        var kept: [Int] = [], means: [Double] = []
        for j in 0..<p {
            let v = rows.map { $0[j] }.filter { $0.isFinite }
            guard let f = v.first, v.contains(where: { $0 != f }) else { continue }
            kept.append(j)
            means.append(v.reduce(0, +) / Double(v.count))
        }
        let x = rows.map { r in kept.indices.map { r[kept[$0]].isFinite ? r[kept[$0]] : means[$0] } }
        let std = Standardizer(fitting: x.isEmpty || kept.isEmpty ? [[]] : x)
        let z = kept.isEmpty ? x : std.transform(x)
        var learner = FittedLearner(kept: kept, means: means, standardizer: std, selected: Array(kept.indices),
                                    intercept: log(Double(pos) / Double(n - pos)), coefficients: [])
        if case let .lassoCV(oneSE) = o.selection, !kept.isEmpty {
            let k = min(o.innerFolds, pos, n - pos)
            if k >= 2 {
                do {
                    let path = try LassoCV.fit(features: z, labels: labels, folds: k, seed: o.seed)
                    learner.selected = path.selected(at: oneSE ? path.index1SE : path.indexMin)
                } catch {
                    learner.selected = []
                    learner.notes.append("LassoCV selected nothing (\(error))")
                }
            } else {
                learner.notes.append("too few cases of one class for LassoCV (\(min(pos, n - pos))): no selection")
            }
        }
        guard !learner.selected.isEmpty else { return learner }   // intercept only: the training prevalence
        let zs = z.map { r in learner.selected.map { r[$0] } }
        let m = try LogisticRegression.fit(features: zs, labels: labels, penalty: o.penalty, maxIterations: 1000)
        learner.intercept = m.intercept
        learner.coefficients = m.coefficients
        learner.notes += m.warnings
        return learner
    }

    public func predict(_ rows: [[Double]]) -> [Double] {
        rows.map { r in
            var eta = intercept
            for (c, s) in selected.enumerated() {
                let j = kept[s]
                let v = r[j].isFinite ? r[j] : means[s]
                eta += coefficients[c] * (v - standardizer.means[s]) / standardizer.scales[s]
            }
            return 1 / (1 + exp(-eta))
        }
    }
}

/// Early fusion's learner: the modalities' columns concatenated, then one `FittedLearner`.
public enum EarlyFusion {
    public static func fit(_ modalities: [Modality], rows: [Int], labels: [Bool], options: FusionOptions) throws -> FittedLearner {
        try FittedLearner.fit(rows: rows.map { i in modalities.flatMap { $0.values[i] } }, labels: labels, options: options)
    }
}
