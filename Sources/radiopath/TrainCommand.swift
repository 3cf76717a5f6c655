import ArgumentParser
import Foundation
import ImageCore
import MIL
import Statistics
import Tabular

/// `radiopath train`: attention-MIL models from slide labels, with cross-validation.
struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train an attention-MIL model (CLAM-SB or ABMIL) on feature bags from slide labels.",
        discussion: """
        FEATURES are feature bags (.h5 from `radiopath embed`) or folders of
        them; a bag's slide id is its file name. --labels is a CSV with columns
        slide_id,label (CLAM's case_id,slide_id,label works). Per fold k:
          fold_<k>/model.safetensors  weights under CLAM_SB's parameter names
          fold_<k>/history.csv        per-epoch train/validation loss, val AUC
          fold_<k>/predictions.csv    test slides: label, class probabilities
          fold_<k>/metrics.json       AUC with 95% CI (DeLong), accuracy,
                                      balanced accuracy, F1, sensitivity and
                                      specificity at the Youden threshold
          fold_<k>/roc.csv, roc.png   ROC curve points and plot
        and splits/splits_<k>.csv (CLAM's layout), summary.csv, summary.json.
        Splits: --folds K stratified folds (seeded), or --splits DIR with
        CLAM's splits_<k>.csv files. Training follows CLAM: Adam (lr 2e-4,
        weight decay 1e-5), one bag per step, dropout 0.25, early stopping on
        validation loss (patience 20, not before epoch 50), best model kept.
        The same seed gives the same weights.
        """)

    @Argument(help: "Feature bags (.h5) or folders of them.")
    var features: [String]

    @Option(help: "CSV with columns slide_id,label.")
    var labels: String

    @Option(help: "Output folder.")
    var out: String

    @Option(help: "Model: clam_sb or abmil.")
    var model: MILModel.Kind = .clamSB

    @Option(help: "CLAM's size: small (512/256) or big (512/384).")
    var size: MILModel.Size = .small

    @Option(help: "Class names in order, comma-separated (the second is the positive class of a binary task).")
    var classes: String?

    @Option(help: "Stratified cross-validation folds (1 = one train/val/test split).")
    var folds = 5

    @Option(help: "Folder with CLAM's splits_<k>.csv files (instead of --folds).")
    var splits: String?

    @Option(name: .customLong("val-fraction"), help: "Share of each training fold kept for early stopping.")
    var valFraction = 0.1

    @Option(name: .customLong("test-fraction"), help: "Held-out share when --folds 1.")
    var testFraction = 0.2

    @Option(help: "Maximum epochs.")
    var epochs = 200

    @Option(help: "Adam learning rate.")
    var lr: Float = 2e-4

    @Option(name: .customLong("weight-decay"), help: "Adam L2 weight decay.")
    var weightDecay: Float = 1e-5

    @Option(help: "Dropout during training.")
    var dropout: Float = 0.25

    @Option(name: .customLong("bag-weight"), help: "CLAM-SB: weight of the bag loss against the instance loss.")
    var bagWeight: Float = 0.7

    @Option(name: .customLong("k-sample"), help: "CLAM-SB: top/bottom patches per bag for the instance loss.")
    var kSample = 8

    @Option(help: "Early stopping patience in epochs (0 turns it off).")
    var patience = 20

    @Option(name: .customLong("stop-epoch"), help: "Never stop before this epoch.")
    var stopEpoch = 50

    @Flag(name: .customLong("class-weighted"), help: "Weight the bag loss by inverse class frequency.")
    var classWeighted = false

    @Flag(inversion: .prefixedNo, help: "Standardise each feature over the training patches (folded into the saved model, which then reads raw features). Needed for hand-made features such as pathomic-v1.")
    var standardize = true

    @Option(help: "Seed of splits, initialisation, dropout and bag order.")
    var seed: UInt64 = 1

    @Option(help: "Threads for the GEMMs and loops (the same seed and thread count give the same weights).")
    var threads = ProcessInfo.processInfo.activeProcessorCount

    @Option(help: "Labelled slides without a feature bag: skip (listed) or fail.")
    var missing: MissingPolicy = .skip

    @Flag(help: "Print the summary as JSON on standard output.")
    var json = false

    enum MissingPolicy: String, ExpressibleByArgument { case skip, fail }

    struct FoldSummary: Codable {
        let fold: Int, train: Int, val: Int, test: Int, bestEpoch: Int, epochs: Int, stoppedEarly: Bool, seconds: Double
        let evaluation: BinaryEvaluation?
        /// Share of test slides whose most probable class is their label; nil without test slides.
        let accuracy: Double?
    }

    func validate() throws {
        guard folds >= 1 else { throw ValidationError("--folds must be at least 1") }
        guard epochs >= 1 else { throw ValidationError("--epochs must be at least 1") }
        guard (0..<1).contains(valFraction), (0..<1).contains(testFraction) else { throw ValidationError("fractions must be in [0, 1)") }
    }

    func run() throws {
        let table: LabelTable, bags: FeatureBags
        do {
            table = try LabelTable.read(path: labels, classOrder: classes?.split(separator: ",").map(String.init))
            bags = try FeatureBags(features)
        } catch {
            FileHandle.standardError.write(Data("✗ \(error)\n".utf8)); throw ExitCode(2)
        }
        let missingIDs = table.entries.map(\.slideID).filter { bags.paths[$0] == nil }
        if !missingIDs.isEmpty {
            let list = missingIDs.prefix(10).joined(separator: ", ") + (missingIDs.count > 10 ? ", …" : "")
            FileHandle.standardError.write(Data("! \(missingIDs.count) labelled slides have no feature bag: \(list)\n".utf8))
            if missing == .fail { throw ExitCode(2) }
        }
        // Read every labelled bag once: empty bags, NaN/Inf features and a feature width
        // other than the first bag's are reported and left out, so one bad file never stops
        // the run; each bag's feature sums are kept for the folds' standardisation (memory:
        // one bag at a time plus 2·D numbers per bag).
        var width: Int?
        var moments: [String: Moments] = [:]   // per usable bag, for the standardisation
        for e in table.entries where bags.paths[e.slideID] != nil {
            do {
                let b = try bags.bag(e.slideID)
                if let w = width, w != b.dim {
                    throw MILError(.badBag, subject: e.slideID, what: "has \(b.dim)-d features, the other bags \(w)-d",
                                   hint: "embed every slide with the same encoder")
                }
                width = b.dim
                moments[e.slideID] = Moments(b)
            } catch {
                FileHandle.standardError.write(Data("! left out: \(error)\n".utf8))
            }
        }
        let present = LabelTable(entries: table.entries.filter { moments[$0.slideID] != nil }, classes: table.classes)
        let labelOf = Dictionary(uniqueKeysWithValues: present.entries.map { ($0.slideID, $0.label) })
        let counts = (0..<present.classes.count).map { c in present.entries.filter { $0.label == c }.count }
        guard counts.filter({ $0 > 0 }).count >= 2 else {
            FileHandle.standardError.write(Data("✗ \(labels): only one class (\(zip(present.classes, counts).map { "\($0): \($1)" }.joined(separator: ", "))) among slides with bags — a classifier needs two\n".utf8))
            throw ExitCode(2)
        }

        let foldSplits: [Split]
        if let dir = splits {
            let files = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasPrefix("splits_") && $0.hasSuffix(".csv") && !$0.contains("bool") && !$0.contains("descriptor") }
                .sorted { Int($0.dropFirst(7).dropLast(4)) ?? 0 < Int($1.dropFirst(7).dropLast(4)) ?? 0 }
            foldSplits = try files.map { try Splits.readCLAM(path: dir + "/" + $0) }
        } else {
            foldSplits = Splits.stratified(present, folds: folds, valFraction: valFraction, testFraction: testFraction, seed: seed)
        }
        let root = URL(fileURLWithPath: out).standardizedFileURL.path
        try FileManager.default.createDirectory(atPath: root + "/splits", withIntermediateDirectories: true)

        var config = MILTrainingConfig()
        config.kind = model; config.size = size; config.classes = present.classes.count; config.seed = seed
        config.learningRate = lr; config.weightDecay = weightDecay; config.dropout = dropout; config.bagWeight = bagWeight
        config.kSample = kSample; config.maxEpochs = epochs; config.classWeighted = classWeighted; config.threads = threads
        config.earlyStopping = patience > 0 ? .init(patience: patience, stopEpoch: stopEpoch) : nil

        var summaries: [FoldSummary] = []
        for (k, split) in foldSplits.enumerated() {
            try AtomicFile.write(Data(Splits.clamCSV(split).utf8), to: "\(root)/splits/splits_\(k).csv")
            let trainIDs = split.train.filter { labelOf[$0] != nil }
            let norm = standardize ? Self.standardization(trainIDs.compactMap { moments[$0] }) : nil
            func set(_ ids: [String]) throws -> MILBagSet? {
                let ids = ids.filter { labelOf[$0] != nil }
                return ids.isEmpty ? nil : try MILBagSet(ids: ids, labels: ids.map { labelOf[$0]! }) { i in
                    let bag = try bags.bag(ids[i])
                    guard let (mean, std) = norm else { return bag }
                    var f = bag.features
                    for r in 0..<bag.patches { for j in 0..<bag.dim { f[r * bag.dim + j] = (f[r * bag.dim + j] - mean[j]) / std[j] } }
                    return try MILBag(features: f, patches: bag.patches, dim: bag.dim)
                }
            }
            guard let trainSet = try set(split.train) else {
                FileHandle.standardError.write(Data("✗ fold \(k): no training slides with bags\n".utf8)); throw ExitCode(1)
            }
            let dir = "\(root)/fold_\(k)"
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            let t0 = DispatchTime.now().uptimeNanoseconds
            let result = try MILTrainer(config: config).train(trainSet, validation: try set(split.val)) { r in
                var line = String(format: "fold %d epoch %3d: train loss %.4f", k, r.epoch, r.trainLoss)
                if let v = r.validationLoss { line += String(format: ", val loss %.4f", v) }
                if let a = r.validationAUC { line += String(format: ", val AUC %.3f", a) }
                FileHandle.standardError.write(Data((line + (r.isBest ? " *" : "") + "\n").utf8))
            }
            let trained = try norm.map { try result.model.foldingInputStandardization(mean: $0.mean, std: $0.std) } ?? result.model
            try trained.save(to: dir + "/model.safetensors")
            let hist = result.history.map { r in
                ["\(r.epoch)", String(format: "%.6f", r.trainLoss), String(format: "%.6f", r.trainInstanceLoss), String(format: "%.4f", r.trainError),
                 r.validationLoss.map { String(format: "%.6f", $0) } ?? "", r.validationAUC.map { String(format: "%.4f", $0) } ?? "",
                 r.validationError.map { String(format: "%.4f", $0) } ?? "", String(format: "%.3f", r.seconds), r.isBest ? "1" : "0"]
            }
            try AtomicFile.write(Data(CSVTable(header: ["epoch", "train_loss", "train_instance_loss", "train_error", "val_loss", "val_auc", "val_error", "seconds", "best"],
                                               rows: hist).encoded().utf8), to: dir + "/history.csv")
            var preds = Predictions()
            for id in split.test where labelOf[id] != nil {
                let s = try trained.score(try bags.bag(id), id: id, threads: threads)
                preds.ids.append(id); preds.labels.append(labelOf[id]); preds.probabilities.append(s.probabilities)
            }
            try AtomicFile.write(Data(preds.csv(classes: present.classes).utf8), to: dir + "/predictions.csv")
            let eval = preds.ids.isEmpty ? nil : try? preds.evaluation(bootstrap: 0, seed: seed)
            if let eval {
                try writeROC(eval, csv: dir + "/roc.csv", png: dir + "/roc.png", title: "\(model.rawValue), fold \(k) (test, n = \(eval.samples))")
            }
            let correct = preds.ids.indices.filter { i in let p = preds.probabilities[i]; return p.indices.max { p[$0] < p[$1] } == preds.labels[i] }.count
            let summary = FoldSummary(fold: k, train: trainSet.count, val: split.val.count, test: preds.ids.count,
                                      bestEpoch: result.bestEpoch, epochs: result.history.count, stoppedEarly: result.stoppedEarly,
                                      seconds: Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9, evaluation: eval,
                                      accuracy: preds.ids.isEmpty ? nil : Double(correct) / Double(preds.ids.count))
            try AtomicFile.write(try TileCommand.encoder.encode(summary), to: dir + "/metrics.json")
            summaries.append(summary)
            FileHandle.standardError.write(Data((Self.foldLine(summary) + "\n").utf8))
        }
        try writeSummary(summaries, root: root, classes: present.classes)
        if json { print(String(decoding: try TileCommand.encoder.encode(summaries), as: UTF8.self)) }
    }

    /// One bag's per-feature sums of x and x², and its patch count.
    struct Moments {
        var sum: [Double], squares: [Double], patches: Double
        init(_ b: MILBag) {
            sum = [Double](repeating: 0, count: b.dim); squares = sum
            for r in 0..<b.patches {
                for j in 0..<b.dim { let v = Double(b.features[r * b.dim + j]); sum[j] += v; squares[j] += v * v }
            }
            patches = Double(b.patches)
        }
    }

    /// Per-feature mean and standard deviation over every patch of the training bags (a
    /// constant feature gets std 1, so it passes unchanged).
    static func standardization(_ bags: [Moments]) -> (mean: [Float], std: [Float]) {
        guard let d = bags.first?.sum.count else { return ([], []) }
        var sum = [Double](repeating: 0, count: d), sq = sum, n = 0.0
        for b in bags {
            for j in 0..<d { sum[j] += b.sum[j]; sq[j] += b.squares[j] }
            n += b.patches
        }
        let mean = sum.map { $0 / n }
        let std = (0..<d).map { j -> Float in let v = max(0, sq[j] / n - mean[j] * mean[j]).squareRoot(); return v > 1e-12 ? Float(v) : 1 }
        return (mean.map(Float.init), std)
    }

    static func foldLine(_ s: FoldSummary) -> String {
        var line = "✓ fold \(s.fold): \(s.train) train, \(s.val) val, \(s.test) test slides; best epoch \(s.bestEpoch) of \(s.epochs)"
        if let e = s.evaluation {
            line += String(format: "; test AUC %.3f (95%% CI %.3f–%.3f), balanced accuracy %.3f", e.auc.auc, e.auc.interval.lower,
                           e.auc.interval.upper, e.metrics.balancedAccuracy)
        } else if s.test > 0 {
            line += String(format: "; test accuracy %.3f", s.accuracy ?? .nan)
        }
        return line + String(format: " (%.1f s)", s.seconds)
    }

    func writeSummary(_ folds: [FoldSummary], root: String, classes: [String]) throws {
        let header = ["fold", "train", "val", "test", "best_epoch", "auc", "auc_ci_lower", "auc_ci_upper", "accuracy",
                      "balanced_accuracy", "f1", "sensitivity", "specificity", "threshold"]
        func f(_ v: Double?) -> String { v.map { String(format: "%.4f", $0) } ?? "" }
        var rows = folds.map { s -> [String] in
            let e = s.evaluation
            return ["\(s.fold)", "\(s.train)", "\(s.val)", "\(s.test)", "\(s.bestEpoch)", f(e?.auc.auc), f(e?.auc.interval.lower),
                    f(e?.auc.interval.upper), f(s.accuracy), f(e?.metrics.balancedAccuracy), f(e?.metrics.f1),
                    f(e?.metrics.sensitivity), f(e?.metrics.specificity), f(e?.metrics.threshold)]
        }
        let aucs = folds.compactMap { $0.evaluation?.auc.auc }
        if aucs.count > 1 {
            let mean = aucs.reduce(0, +) / Double(aucs.count)
            let sd = (aucs.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(aucs.count - 1)).squareRoot()
            rows.append(["mean", "", "", "", "", f(mean), "", "", "", "", "", "", "", ""])
            rows.append(["sd", "", "", "", "", f(sd), "", "", "", "", "", "", "", ""])
            FileHandle.standardError.write(Data(String(format: "train: %d folds, test AUC %.3f ± %.3f (mean ± sd) → %@\n", folds.count, mean, sd, root).utf8))
        }
        try AtomicFile.write(Data(CSVTable(header: header, rows: rows).encoded().utf8), to: root + "/summary.csv")
        struct Run: Encodable {
            let tool: String, version: String, command: String, classes: [String], folds: [FoldSummary]
        }
        let run = Run(tool: "radiopath", version: RadioPath.version, command: (["radiopath"] + CommandLine.arguments.dropFirst()).joined(separator: " "),
                      classes: classes, folds: folds)
        try AtomicFile.write(try TileCommand.encoder.encode(run), to: root + "/summary.json")
    }
}

extension MILModel.Kind: ExpressibleByArgument {}
extension MILModel.Size: ExpressibleByArgument {}
