import Archive
import ArgumentParser
import Cells
import Foundation
import ImageCore
import Pathomics
import Tabular

/// `radiopath pathomics`: per-patch and per-slide pathomic features and cell graphs, on top of
/// `radiopath cells` (run first, or resumed, into --cells).
struct PathomicsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pathomics",
        abstract: "Per-patch and per-slide pathomic features and cell graphs.",
        discussion: """
        INPUTS are what `radiopath cells` takes (slides, folders, manifests, patch
        bags). The nuclei step runs first into --cells (default <out>/cells; slides
        already done there are reused), then per slide, under --out:
          patches/<id>.csv        one row per tissue patch: position, nuclear
                                  counts and density, mean/std/p10/p50/p90 of each
                                  nuclear feature, cell-graph features (Voronoi,
                                  Delaunay, MST, neighbourhoods, kNN clustering),
                                  H/E/DAB optical density, GLCM and LBP texture
          graphs/<id>.h5          the slide's cell graph for PyTorch Geometric:
                                  x (nodes × features), edge_index (2 × E, both
                                  directions), edge_attr (length µm), pos (px)
        and for the run: pathomics_slides.csv (one row per slide: mean, std,
        p10, p50, p90 of every patch column), pathomics_dictionary.md (every
        column explained), pathomics_summary.csv and pathomics_run.json.

        In Python: d = h5py.File("graphs/S.h5"); Data(x=torch.from_numpy(d["x"][:]),
        edge_index=torch.from_numpy(d["edge_index"][:]), pos=torch.from_numpy(d["pos"][:]))

        Slides whose outputs exist are skipped (--force redoes them); a slide that
        fails is reported and the others go on. Nuclei options are those of
        `radiopath cells` (run it yourself into --cells for full control).
        Exit status: 0 all done or skipped, 1 some failed, 64 bad arguments.
        """)

    @Argument(help: "Slides, folders, CSV manifests or patch bags (.h5).")
    var inputs: [String]

    @Option(help: "Output folder (created if missing).")
    var out: String

    @Option(help: "Folder of `radiopath cells` outputs (default <out>/cells).")
    var cells: String?

    @Option(name: .customLong("pixel-size"), help: "Nuclei analysis pixel size, µm/px.")
    var pixelSize = 0.5

    @Option(help: "Tiling preset for tissue patches of slide inputs.")
    var preset = "default"

    @Option(name: .customLong("slide-mpp"), help: "Scale of every slide in µm/px (beats the file's own).")
    var slideMPP: Double?

    @Option(name: .customLong("slides-dir"), help: "Folder holding the slides when they moved.")
    var slidesDir: String?

    @Option(help: "Cell graph per slide: knn, delaunay or radius.")
    var graph = "knn"

    @Option(help: "Slides processed at once.")
    var jobs = 1

    @Option(help: "Threads in total.")
    var threads = ProcessInfo.processInfo.activeProcessorCount

    @Flag(help: "Redo slides whose outputs exist (the nuclei too).")
    var force = false

    @Flag(help: "Print the per-slide results as JSON on standard output.")
    var json = false

    func run() throws {
        guard let kind = CellGraph.Kind(rawValue: graph), [.knn, .delaunay, .radius].contains(kind) else {
            throw ValidationError("--graph must be knn, delaunay or radius")
        }
        let root = URL(fileURLWithPath: out).standardizedFileURL.path
        try CellsCommand.checkWritable(root)
        let cellsDir = cells.map { URL(fileURLWithPath: $0).standardizedFileURL.path } ?? root + "/cells"
        BatchRunner.removeStaleTemporaryFiles(in: [root, root + "/patches", root + "/graphs", root + "/records"])

        // 1. Nuclei: `radiopath cells` itself, so its resume and failure handling apply.
        var args = inputs + ["--out", cellsDir, "--pixel-size", "\(pixelSize)", "--preset", preset,
                             "--jobs", "\(jobs)", "--threads", "\(threads)"]
        if let m = slideMPP { args += ["--slide-mpp", "\(m)"] }
        if let d = slidesDir { args += ["--slides-dir", d] }
        if force { args.append("--force") }
        var nucleiStep = try CellsCommand.parse(args)
        var nucleiFailed = false
        do { try nucleiStep.run() } catch let e as ExitCode where e == ExitCode(1) {
            nucleiFailed = true
            FileHandle.standardError.write(Data("pathomics: slides whose nuclei failed are left out (see \(cellsDir)/cells_summary.csv)\n".utf8))
        }
        let summary = try CSVTable.read(path: cellsDir + "/cells_summary.csv")
        guard let idc = summary.column("slide_id"), let sc = summary.column("status") else {
            throw ValidationError("\(cellsDir)/cells_summary.csv: no slide_id/status columns")
        }
        let ids = summary.rows.filter { $0[sc] != "failed" }.map { $0[idc] }

        // 2. Patches, slide rows and graphs.
        let command = (["radiopath"] + CommandLine.arguments.dropFirst()).joined(separator: " ")
        let progress = BatchProgress(total: ids.count, unitName: "patches")
        BatchRunner.installInterruptHandler { progress.note("interrupted: finishing the slides in progress (rerun to resume)") }
        let perJob = max(1, threads / max(1, min(jobs, ids.count)))
        let results = BatchRunner.run(ids, jobs: jobs, work: { id -> PathomicsResult in
            var req = PathomicsRequest(slideID: id, nucleiProvenancePath: "\(cellsDir)/\(id).nuclei.json", outputDirectory: root,
                                       toolVersion: RadioPath.version, command: command)
            req.graphKind = kind
            req.force = force
            req.workers = perJob
            if let dir = slidesDir, let p = try? NucleiProvenance.read(req.nucleiProvenancePath) {
                req.slidePathOverride = dir + "/" + URL(fileURLWithPath: p.slide).lastPathComponent
            }
            return PathomicsJob.run(req) { n in progress.advance(units: n, label: id) }
        }, onResult: { _, r in progress.itemFinished(line: Self.statusLine(r), units: 0) })
        progress.finish()
        let all = results.compactMap { $0 }
        try writeTables(all, root: root, command: command, seconds: progress.elapsedSeconds)
        if json { print(String(decoding: try TileCommand.encoder.encode(all), as: UTF8.self)) }
        if nucleiFailed || all.contains(where: { $0.status == .failed }) || all.count < ids.count { throw ExitCode(1) }
    }

    private func writeTables(_ results: [PathomicsResult], root: String, command: String, seconds: Double) throws {
        let done = results.filter { $0.status != .failed && !$0.slideRow.isEmpty }
        // Columns by name over the slides (a single-channel run has other nuclear features).
        var columns: [String] = []
        var seen = Set<String>()
        for r in done { for c in r.slideColumns where seen.insert(c).inserted { columns.append(c) } }
        let rows = done.map { r -> [String] in
            let byName = Dictionary(zip(r.slideColumns, r.slideRow), uniquingKeysWith: { a, _ in a })
            return [r.slideID] + columns.map { c in byName[c].flatMap { $0 }.map { "\($0)" } ?? "" }
        }
        try AtomicFile.write(Data(CSVTable(header: ["slide_id"] + columns, rows: rows).encoded().utf8), to: root + "/pathomics_slides.csv")
        try AtomicFile.write(Data(PathomicsDictionary.markdown(nuclearFeatureNames: NucleusFeatures.names(singleChannel: false)).utf8),
                             to: root + "/pathomics_dictionary.md")
        let summary = results.map { r in
            [r.slideID, r.status.rawValue, "\(r.patches)", "\(r.nuclei)", "\(r.graphEdges)", String(format: "%.3f", r.seconds),
             r.error ?? "", r.hint ?? ""]
        }
        try AtomicFile.write(Data(CSVTable(header: ["slide_id", "status", "patches", "nuclei", "graph_edges", "seconds", "error", "hint"],
                                           rows: summary).encoded().utf8), to: root + "/pathomics_summary.csv")
        let run: [String: Any] = ["tool": "radiopath", "version": RadioPath.version, "command": command, "graph": graph,
                                  "seconds": seconds, "slides": results.map { ["slide_id": $0.slideID, "status": $0.status.rawValue] }]
        try AtomicFile.write(try JSONSerialization.data(withJSONObject: run, options: [.prettyPrinted, .sortedKeys]),
                             to: root + "/pathomics_run.json")
    }

    static func statusLine(_ r: PathomicsResult) -> String {
        switch r.status {
        case .done: return String(format: "✓ %@: %d patches, %d nuclei, %d graph edges · %.1f s", r.slideID, r.patches, r.nuclei, r.graphEdges, r.seconds)
        case .skipped: return "· \(r.slideID): already done (\(r.patches) patches) — --force redoes it"
        case .failed: return "✗ \(r.slideID): \(r.error ?? "failed")" + (r.hint.map { "\n  → \($0)" } ?? "")
        }
    }
}
