import ArgumentParser
import Foundation
import ImageCore
import MIL
import PatchBag
import Statistics
import Tabular

/// `radiopath score`: a trained MIL model over feature bags: slide scores and per-patch attention.
struct ScoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "score",
        abstract: "Score slides with a trained MIL model: class probabilities and per-patch attention.",
        discussion: """
        Writes, under --out:
          scores.csv             slide_id, label (with --labels), p_<class>…,
                                 predicted class
          attention/<id>.h5      coords (N×2, with the bag's tiling attributes),
                                 attention_raw (N, before the softmax, as CLAM
                                 returns it), attention (N, softmax over the
                                 slide); provenance: model file and SHA-256,
                                 slide path — the input of `radiopath heatmap`
          metrics.json, roc.csv, roc.png   with --labels (binary tasks)
        A slide that fails (no features, wrong feature width, NaN) is reported
        and the others go on; exit status 1 if any failed.
        """)

    @Argument(help: "Feature bags (.h5) or folders of them.")
    var features: [String]

    @Option(help: "Trained model (.safetensors from radiopath train, or a converted CLAM checkpoint).")
    var model: String

    @Option(help: "Output folder.")
    var out: String

    @Option(help: "CSV slide_id,label to evaluate against (optional).")
    var labels: String?

    @Option(help: "Class names in order, comma-separated (as given to train).")
    var classes: String?

    @Option(help: "Threads for the GEMMs and loops.")
    var threads = ProcessInfo.processInfo.activeProcessorCount

    @Flag(help: "Print the per-slide scores as JSON on standard output.")
    var json = false

    struct Row: Encodable { let slideID: String; let probabilities: [Float]; let predicted: Int; let patches: Int }

    func run() throws {
        let m: MILModel
        do { m = try MILModel(contentsOf: model) } catch {
            FileHandle.standardError.write(Data("✗ \(error)\n".utf8)); throw ExitCode(2)
        }
        let modelHash = try SHA256.hexDigest(ofFile: model)
        // Unreadable labels or feature paths are bad arguments (exit 2), like a bad model.
        let table: LabelTable?, bags: FeatureBags
        do {
            table = try labels.map { try LabelTable.read(path: $0, classOrder: classes?.split(separator: ",").map(String.init)) }
            bags = try FeatureBags(features)
        } catch {
            FileHandle.standardError.write(Data("✗ \(error)\n".utf8)); throw ExitCode(2)
        }
        let classNames = table?.classes ?? classes?.split(separator: ",").map(String.init) ?? (0..<m.classes).map(String.init)
        guard classNames.count == m.classes else {
            FileHandle.standardError.write(Data("✗ \(model): the model has \(m.classes) classes but \(classNames.count) class names were given\n".utf8))
            throw ExitCode(2)
        }
        let labelOf = Dictionary(uniqueKeysWithValues: (table?.entries ?? []).map { ($0.slideID, $0.label) })
        let root = URL(fileURLWithPath: out).standardizedFileURL.path
        try FileManager.default.createDirectory(atPath: root + "/attention", withIntermediateDirectories: true)

        var preds = Predictions(), rows: [Row] = [], failed = 0
        for id in bags.paths.keys.sorted() {
            let path = bags.paths[id]!
            do {
                let content = try PatchBag.read(path: path)
                let s = try m.score(try MILBag(content, path: path), id: id, threads: threads)
                var attrs = content.fileAttributes
                attrs["radiopath_command"] = .string("score")
                attrs["radiopath_version"] = .string(RadioPath.version)
                attrs["mil_model"] = .string(model)
                attrs["mil_model_sha256"] = .string(modelHash)
                attrs["mil_kind"] = .string(m.kind.rawValue)
                attrs["features_file"] = .string(path)
                attrs["slide_probabilities"] = .doubles(s.probabilities.map(Double.init))
                attrs["classes"] = .string(classNames.joined(separator: ","))
                try PatchBag.write(path: "\(root)/attention/\(id).h5", coords: content.coords, coordsAttributes: content.coordsAttributes,
                                   tissueFraction: nil, scores: ["attention_raw": s.attentionRaw, "attention": s.attention], fileAttributes: attrs)
                preds.ids.append(id); preds.labels.append(labelOf[id]); preds.probabilities.append(s.probabilities)
                rows.append(Row(slideID: id, probabilities: s.probabilities, predicted: s.predictedClass, patches: content.count))
                FileHandle.standardError.write(Data(String(format: "✓ %@: %@ (p = %.3f) over %d patches\n", id, classNames[s.predictedClass],
                                                           s.probabilities[s.predictedClass], content.count).utf8))
            } catch {
                failed += 1
                FileHandle.standardError.write(Data("✗ \(id): \(error)\n".utf8))
            }
        }
        try AtomicFile.write(Data(preds.csv(classes: classNames).utf8), to: root + "/scores.csv")
        if table != nil, let eval = try? preds.evaluation(bootstrap: 2000, seed: 1) {
            try AtomicFile.write(try TileCommand.encoder.encode(eval), to: root + "/metrics.json")
            try writeROC(eval, csv: root + "/roc.csv", png: root + "/roc.png", title: "\(m.kind.rawValue) on \(eval.samples) slides")
            FileHandle.standardError.write(Data(String(format: "AUC %.3f (95%% CI %.3f–%.3f) on %d labelled slides\n", eval.auc.auc,
                                                       eval.auc.interval.lower, eval.auc.interval.upper, eval.samples).utf8))
        }
        FileHandle.standardError.write(Data("score: \(rows.count) scored, \(failed) failed → \(root)\n".utf8))
        if json { print(String(decoding: try TileCommand.encoder.encode(rows), as: UTF8.self)) }
        if failed > 0 { throw ExitCode(1) }
    }
}
