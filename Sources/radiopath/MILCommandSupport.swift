import Foundation
import ImageCore
import Statistics
import Tabular
import MIL
import PatchBag

/// Feature bags on disk, found by slide id (file name without `.h5`): files, or folders of
/// them (e.g. `out/features_resnet50-trunc`).
struct FeatureBags {
    let paths: [String: String]

    init(_ inputs: [String]) throws {
        var paths: [String: String] = [:]
        let fm = FileManager.default
        for input in inputs {
            var isDir: ObjCBool = false
            guard fm.fileExists(atPath: input, isDirectory: &isDir) else {
                throw MILError(.badBag, subject: input, what: "no such file or folder", hint: "pass feature files (.h5) or folders of them")
            }
            let files = isDir.boolValue
                ? (try fm.contentsOfDirectory(atPath: input)).filter { $0.hasSuffix(".h5") && !$0.hasPrefix(".") }.sorted().map { input + "/" + $0 }
                : [input]
            for f in files { paths[URL(fileURLWithPath: f).deletingPathExtension().lastPathComponent] = f }
        }
        self.paths = paths
    }

    /// The bag of `id` as a MIL bag (its features; errors name the file).
    func bag(_ id: String) throws -> MILBag {
        guard let path = paths[id] else { throw MILError(.badBag, subject: id, what: "no feature file", hint: "embed the slide first") }
        return try MILBag(try PatchBag.read(path: path), path: path)
    }
}

extension MILBag {
    /// The features of a bag read from `path`; a bag without them is an error naming the file.
    init(_ c: PatchBagContents, path: String) throws {
        guard let f = c.features, let d = c.featureDim else {
            throw MILError(.badBag, subject: path, what: "has no 'features' dataset (a patch bag, not a features bag?)",
                           hint: "run radiopath embed on it first")
        }
        try self.init(features: f, patches: c.count, dim: d)
    }
}

/// A ROC plot with the AUC and its confidence interval in the legend.
func rocChart(_ curves: [(name: String, eval: BinaryEvaluation)], title: String) -> RGBImage {
    var chart = LineChart(width: 640, height: 560, title: title, xLabel: "1 − specificity (false-positive rate)",
                          yLabel: "sensitivity (true-positive rate)", xRange: 0...1, yRange: 0...1)
    chart.add(series: .reference(from: Point(x: 0, y: 0), to: Point(x: 1, y: 1), name: "chance"))
    for c in curves {
        let a = c.eval.auc
        let label = String(format: "%@AUC %.3f (%.0f%% CI %.3f–%.3f)", c.name.isEmpty ? "" : c.name + ": ", a.auc,
                           a.interval.level * 100, a.interval.lower, a.interval.upper)
        chart.add(series: ChartSeries(label, x: c.eval.roc.fpr, y: c.eval.roc.tpr, style: .line))
    }
    return chart.render()
}

/// Per-slide prediction rows and, for binary tasks, the evaluation of the positive class
/// (class 1) probability against the labels.
struct Predictions {
    var ids: [String] = [], labels: [Int?] = [], probabilities: [[Float]] = []

    func csv(classes: [String]) -> String {
        let header = ["slide_id", "label"] + classes.map { "p_\($0)" } + ["predicted"]
        let rows = ids.indices.map { i -> [String] in
            let p = probabilities[i]
            let best = p.indices.max { p[$0] < p[$1] } ?? 0
            return [ids[i], labels[i].map { classes[$0] } ?? ""] + p.map { String(format: "%.6f", $0) } + [classes[best]]
        }
        return CSVTable(header: header, rows: rows).encoded()
    }

    /// Binary evaluation when every row has a label and both classes occur.
    func evaluation(bootstrap: Int = 0, seed: UInt64 = 1) throws -> BinaryEvaluation? {
        guard let first = probabilities.first, first.count == 2, labels.allSatisfy({ $0 != nil }) else { return nil }
        return try BinaryEvaluation(scores: probabilities.map { Double($0[1]) }, labels: labels.map { $0! == 1 },
                                    bootstrapReplicates: bootstrap, seed: seed)
    }
}

func writeROC(_ e: BinaryEvaluation, csv: String, png: String, title: String) throws {
    let rows = e.roc.fpr.indices.map { i in
        [String(format: "%.6f", e.roc.fpr[i]), String(format: "%.6f", e.roc.tpr[i]),
         e.roc.thresholds[i].isFinite ? String(format: "%.6g", e.roc.thresholds[i]) : "inf"]
    }
    try AtomicFile.write(Data(CSVTable(header: ["fpr", "tpr", "threshold"], rows: rows).encoded().utf8), to: csv)
    try AtomicFile.write(try PNGCodec.encode(rocChart([("", e)], title: title)), to: png)
}
