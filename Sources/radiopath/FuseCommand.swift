import ArgumentParser
import Foundation
import Fusion
import Regions
import ImageCore
import Radiomics
import Statistics
import Tabular

/// `radiopath fuse`: region table (radiomics + pathology evidence per region), case table and
/// early/late fusion models (issue 9).
struct FuseCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fuse",
        abstract: "Region-level radiology–pathology fusion: region table, case table, fusion models.",
        discussion: """
        --cases CSV, one row per case (paths relative to the CSV's folder):
          id, image, regions (folder of `radiopath regions`), register (folder(s)
          of `radiopath register`, `;`-separated for several sections), patches
          (patch bag .h5), scores (attention/<id>.h5 of `radiopath score`),
          pathomics (patches/<id>.csv), annotations (GeoJSON, slide px), tissue
          (mask image covering the slide, non-black = tissue; default: the
          patch squares), outcome (0/1). patches…tissue: optional, `;`-separated
          like register.
        Under --out:
          region_table.csv       one row per case × family × region
          region_dictionary.md   what every column means
          case_table.csv         one row per case: <family>_<region>_<column>
          fuse.json              provenance (version, SHA-256 of inputs, options)
          fuse_failures.csv      cases that failed (the rest go on)
          fusion.json, fusion_predictions.csv   with --model early|late
        Exit status: 0 done, 1 some cases failed, 2 bad input or no model.
        """)

    @Option(help: "Cases CSV, one row per case (columns: see above).") var cases: String
    @Option(help: "Output folder (created if missing).") var out: String
    @Option(help: "Fusion model: early or late (default: tables only).") var model: String?
    @Option(help: "Late fusion: weighted (CV-AUC weights) or stacking.") var combiner = "weighted"
    @Option(help: "Missing values: refuse, fallback (use the modalities a case has) or impute (training means).") var missing = "refuse"
    @Option(help: "Feature selection: lasso-min, lasso-1se or none.") var selection = "lasso-min"
    @Option(name: .customLong("ridge"), help: "Ridge λ of the logistic regression on the selected features.") var ridge = 0.01
    @Option(help: "Cross-validation folds (stratified).") var folds = 5
    @Option(help: "Seed of the folds.") var seed: UInt64 = 1
    @Option(name: .customLong("min-voxels"), help: "Regions with fewer voxels get no radiomics.") var minVoxels = 10
    @Option(name: .customLong("coverage-threshold"), help: "supported = coverage_fraction ≥ this.") var coverageThreshold = 0.5
    @Option(help: "Radiomics parameter file (PyRadiomics layout, see `radiopath radiomics`).") var params: String?
    @Option(help: "Radiomics conventions and names: ibsi or pyradiomics.") var convention = "ibsi"
    @Option(help: "Region families to use, comma-separated (default: every family).") var families: String?
    @Flag(help: "Print a JSON summary on standard output.") var json = false

    func note(_ s: String) { FileHandle.standardError.write(Data((s + "\n").utf8)) }

    func fail(_ reason: String, _ hint: String = "") -> Never {
        note("✗ \(reason)" + (hint.isEmpty ? "" : "\n  → \(hint)"))
        Foundation.exit(2)
    }

    struct Row { var input: CaseInput; var files: [String] }

    func readCases() -> [Row] {
        let table: CSVTable
        do { table = try CSVTable.read(path: cases) } catch { fail("\(error)") }
        let root = (cases as NSString).deletingLastPathComponent
        func resolve(_ p: String) -> String { p.hasPrefix("/") || root.isEmpty ? p : root + "/" + p }
        for c in ["id", "image", "regions"] where table.column(c) == nil {
            fail("\(cases): no '\(c)' column", "columns: id,image,regions,register,patches,scores,pathomics,annotations,tissue,outcome")
        }
        func cell(_ r: [String], _ c: String) -> String { table.column(c).map { r[$0].trimmingCharacters(in: .whitespaces) } ?? "" }
        func list(_ r: [String], _ c: String) -> [String] { cell(r, c).split(separator: ";").map { resolve($0.trimmingCharacters(in: .whitespaces)) } }
        var rows: [Row] = []
        for (n, r) in table.rows.enumerated() {
            let id = cell(r, "id")
            guard !id.isEmpty else { fail("\(cases): row \(n + 2) has no id") }
            let reg = list(r, "register")
            var per: [String: [String]] = [:]
            for c in ["patches", "scores", "pathomics", "annotations", "tissue"] {
                let v = list(r, c)
                guard v.isEmpty || v.count == reg.count else {
                    fail("\(cases): case \(id): \(v.count) \(c) entries for \(reg.count) register folder(s)", "give one per section, `;`-separated, in the same order")
                }
                per[c] = v
            }
            let sections = reg.indices.map { k in
                SectionInput(registerDir: reg[k], patchBag: per["patches"]!.isEmpty ? nil : per["patches"]![k],
                             scores: per["scores"]!.isEmpty ? nil : per["scores"]![k], pathomics: per["pathomics"]!.isEmpty ? nil : per["pathomics"]![k],
                             annotations: per["annotations"]!.isEmpty ? nil : per["annotations"]![k], tissue: per["tissue"]!.isEmpty ? nil : per["tissue"]![k])
            }
            var outcome: Bool?
            switch cell(r, "outcome").lowercased() {
            case "": outcome = nil
            case "1", "true", "yes": outcome = true
            case "0", "false", "no": outcome = false
            case let v: fail("\(cases): case \(id): outcome '\(v)' is not 0/1", "write 1 or 0 (empty = unknown)")
            }
            let files = [resolve(cell(r, "image"))] + sections.flatMap { s in
                [s.registerDir + "/transform.json", s.registerDir + "/report.json", s.patchBag, s.scores, s.pathomics, s.annotations, s.tissue].compactMap { $0 }
            }
            rows.append(Row(input: CaseInput(id: id, image: resolve(cell(r, "image")), regionsDir: resolve(cell(r, "regions")), sections: sections, outcome: outcome), files: files))
        }
        let dup = Dictionary(grouping: rows.map(\.input.id), by: { $0 }).filter { $0.value.count > 1 }.keys.sorted()
        guard dup.isEmpty else { fail("\(cases): duplicate case ids: \(dup.joined(separator: ", "))", "every case needs its own id") }
        guard !rows.isEmpty else { fail("\(cases): no cases", "add one row per case") }
        return rows
    }

    func run() throws {
        guard let conv = Convention(rawValue: convention) else { fail("--convention \(convention): use ibsi or pyradiomics") }
        guard ["refuse", "fallback", "impute"].contains(missing), let missingPolicy = MissingPolicy(rawValue: missing) else {
            fail("--missing \(missing): use refuse, fallback or impute")
        }
        let method: FusionMethod? = try model.map {
            guard let m = FusionMethod(rawValue: $0) else { throw ValidationError("--model \($0): use early or late") }
            return m
        }
        guard let comb = LateCombiner(rawValue: combiner) else { fail("--combiner \(combiner): use weighted or stacking") }
        var options = FusionOptions()
        options.folds = folds; options.innerFolds = folds; options.seed = seed; options.missing = missingPolicy
        options.penalty = .ridge(lambda: ridge)
        switch selection {
        case "lasso-min": options.selection = .lassoCV(oneSE: false)
        case "lasso-1se": options.selection = .lassoCV(oneSE: true)
        case "none": options.selection = .none
        default: fail("--selection \(selection): use lasso-min, lasso-1se or none")
        }
        var tableOptions = RegionTableOptions()
        tableOptions.minVoxels = minVoxels
        tableOptions.coverageThreshold = coverageThreshold
        tableOptions.radiomics = RadiomicsConfiguration(convention: conv)
        tableOptions.pyradiomicsNames = conv == .pyradiomics
        if let params {
            do { tableOptions.radiomics = try RadiomicsConfiguration(file: try ParameterFile.read(params), convention: conv) } catch { fail("\(params): \(error)") }
        }
        tableOptions.families = families?.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }
        let rows = readCases()
        do { try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true) } catch {
            fail("\(out): cannot create the output folder (\(error.localizedDescription))")
        }
        let t0 = Date()

        // Region rows, one case at a time; a failing case is recorded and skipped.
        var regionRows: [RegionRow] = [], failures: [(String, String)] = [], warnings: [String] = []
        for r in rows {
            do {
                let rr = try RegionTable.rows(for: r.input, options: tableOptions) { warnings.append($0); note("  ! " + $0) }
                regionRows += rr
                note("✓ \(r.input.id): \(rr.count) regions, \(rr.filter { $0.value("supported") == 1 }.count) supported")
            } catch {
                failures.append((r.input.id, "\(error)"))
                note("✗ \(r.input.id): \(error)")
            }
        }
        let done = rows.filter { r in !failures.contains { $0.0 == r.input.id } }
        let caseTable = CaseTable(rows: regionRows, cases: done.map { ($0.input.id, $0.input.outcome) })
        try write(RegionTable.csv(regionRows), "region_table.csv")
        try write(RegionColumns.markdown(), "region_dictionary.md")
        try write(caseTable.csv(), "case_table.csv")
        if failures.isEmpty {
            try? FileManager.default.removeItem(atPath: out + "/fuse_failures.csv")
        } else {
            try write(CSVTable(header: ["case", "error"], rows: failures.map { [$0.0, $0.1] }).encoded(), "fuse_failures.csv")
        }

        // Provenance: every input file's SHA-256 (regions folders: their family files).
        var hashes: [String: String] = [:]
        var inputFiles = [cases]
        for r in rows {
            inputFiles += r.files
            if let fams = try? (tableOptions.families ?? RegionMap.families(in: r.input.regionsDir)) {
                for f in fams { inputFiles += [r.input.regionsDir + "/" + f + ".json", r.input.regionsDir + "/" + f + ".nii.gz"] }
            }
        }
        if let params { inputFiles.append(params) }
        for f in inputFiles where hashes[f] == nil { hashes[f] = (try? SHA256.hexDigest(ofFile: f)) ?? "unreadable" }
        let optionsRecord: [String: Any] = [
            "model": model ?? NSNull(), "combiner": combiner, "missing": missing, "selection": selection, "ridge": ridge, "folds": folds,
            "seed": seed, "minVoxels": minVoxels, "coverageThreshold": coverageThreshold, "params": params ?? NSNull(),
            "convention": convention, "families": families ?? NSNull(),
        ]
        let provenance: [String: Any] = ["tool": "radiopath fuse", "version": RadioPath.version, "inputsSHA256": hashes, "options": optionsRecord]
        var summary: [String: Any] = [
            "provenance": provenance, "cases": rows.count, "casesDone": done.count, "casesFailed": failures.count,
            "regions": regionRows.count, "supportedRegions": regionRows.filter { $0.value("supported") == 1 }.count,
            "caseTableColumns": ["radiology": caseTable.roles.filter { $0 == .radiology }.count, "pathology": caseTable.roles.filter { $0 == .pathology }.count],
            "warnings": warnings, "failures": failures.map { ["case": $0.0, "error": $0.1] },
            "outputs": ["region_table.csv", "region_dictionary.md", "case_table.csv"] + (failures.isEmpty ? [] : ["fuse_failures.csv"]),
        ]

        var status: Int32 = failures.isEmpty ? 0 : 1
        if let method {
            do {
                let report = try FusionModel.evaluate(ids: caseTable.caseIDs, outcome: caseTable.outcome, modalities: caseTable.modalities(),
                                                      method: method, combiner: comb, options: options)
                for n in report.notes { note("  " + n) }
                let enc = JSONEncoder()
                enc.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
                enc.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
                var fusion = try JSONSerialization.jsonObject(with: try enc.encode(report)) as! [String: Any]
                fusion["provenance"] = provenance
                try write(String(decoding: try JSONSerialization.data(withJSONObject: fusion, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]), as: UTF8.self), "fusion.json")
                try write(FusionModel.predictionsCSV(report), "fusion_predictions.csv")
                var auc: [String: Any] = ["fused": report.fused.auc?.auc ?? NSNull()]
                for m in report.modalities { auc[m.name] = m.auc?.auc ?? NSNull() }
                summary["fusion"] = ["method": method.rawValue, "auc": auc, "notes": report.notes]
                summary["outputs"] = (summary["outputs"] as! [String]) + ["fusion.json", "fusion_predictions.csv"]
                note(String(format: "fusion (%@): out-of-fold AUC fused %@", method.rawValue, report.fused.auc.map { String(format: "%.3f [%.3f, %.3f]", $0.auc, $0.interval.lower, $0.interval.upper) } ?? "–")
                     + report.modalities.map { m in ", \(m.name) " + (m.auc.map { String(format: "%.3f", $0.auc) } ?? "–") }.joined())
            } catch {
                note("✗ fusion model: \(error)")
                summary["fusion"] = ["error": "\(error)"]
                status = 2
            }
        }
        summary["seconds"] = Date().timeIntervalSince(t0)
        try write(String(decoding: try JSONSerialization.data(withJSONObject: summary, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]), as: UTF8.self), "fuse.json")
        note("\(done.count)/\(rows.count) cases, \(regionRows.count) regions → \(out)")
        if json {
            var s = summary
            s.removeValue(forKey: "provenance")
            s["out"] = out
            print(String(decoding: try JSONSerialization.data(withJSONObject: s, options: [.sortedKeys]), as: UTF8.self))
        }
        if status != 0 { throw ExitCode(status) }
    }

    func write(_ text: String, _ name: String) throws { try AtomicFile.write(Data(text.utf8), to: out + "/" + name) }
}
