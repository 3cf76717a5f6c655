import Archive
import ArgumentParser
import Embedder
import FeatureExtraction
import Foundation
import Tabular
import ImageCore
import PatchBag
import SlideIO
import Tiler

/// `radiopath embed`: patch bags (or slides) into per-slide feature bags.
struct EmbedCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "embed",
        abstract: "Patch embeddings on the CPU: bags of patches into bags of features.",
        subcommands: [EmbedRunCommand.self, EmbedListCommand.self, EmbedBenchCommand.self],
        defaultSubcommand: EmbedRunCommand.self)
}

struct EmbedRunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Embed every patch of every slide (the default subcommand).",
        discussion: """
        INPUTS are patch bags (.h5 from `radiopath tile` or CLAM), folders of
        bags, or slides / folders of slides / CSV manifests, which are tiled
        first with --preset at the encoder's patch size and µm/px. Per slide:
          <out>/features_<encoder>/<slide_id>.h5
            features  N×D float32, one row per patch, in bag order
            coords    N×2 int64 level-0 top-left corners (+ tiling attributes)
            attributes: encoder, weight file SHA-256, input contract (patch px,
            µm/px, resize, mean/std), tool version, command, slide quickhash
        and embed_summary.csv (every slide, from the catalog) and embed_run.json
        (this run) beside them, and <out>/run_report.md.
        CLAM-style Python reads the .h5 files unchanged.

        Slides whose features exist are skipped, so rerunning resumes (--force
        redoes them). A bad slide (missing, changed since tiling, corrupt,
        NaN/Inf output) is reported with the fix and the others go on; a
        rerun skips it (with a note) unless --retry-failed. The catalog
        --out/radiopath.sqlite records every job (kind embed:<encoder>); any
        number of workers may share one --out. --shard i/n splits the slides.
        Exit status: 0 all done or skipped, 1 some failed (now or earlier),
        64 bad arguments (usage).

        Encoders (radiopath embed list): pathomic-v1 (default, built in, no
        weights), resnet50-trunc, vit-s16, vit-b16, vit-l16 (with --weights
        FILE.safetensors in timm/torchvision names; no download here).
        """)

    @Argument(help: "Patch bags (.h5), folders of bags, or slides, folders of slides, CSV manifests.")
    var inputs: [String]

    @Option(help: "Output folder (created if missing).")
    var out: String

    @Option(help: "Encoder name (radiopath embed list).")
    var encoder = "pathomic-v1"

    @Option(help: "Weight file (.safetensors) for encoders that need one.")
    var weights: String?

    @Option(help: "ViT pooling as the model card says: token (CLS) or avg.")
    var pool: ViTConfig.Pool?

    @Option(help: "Normalisation mean R,G,B (default: the encoder's, ImageNet).")
    var mean: String?

    @Option(help: "Normalisation std R,G,B (default: the encoder's, ImageNet).")
    var std: String?

    @Option(name: .customLong("batch-size"), help: "Patches per batch (memory grows with it, not with the slide).")
    var batchSize = 32

    @Option(help: "Threads for the encoder (BLAS and element-wise work); patch decoding uses half as many alongside.")
    var threads = ProcessInfo.processInfo.activeProcessorCount

    @Option(name: .customLong("slides-dir"), help: "Folder holding the slides, when they moved since tiling (or for CLAM bags).")
    var slidesDir: String?

    @Option(name: .customLong("size-mismatch"), help: "Patches larger than the encoder's size: resize (with a warning) or refuse.")
    var sizeMismatch: SizeMismatchPolicy = .resize

    @Option(name: .customLong("bad-tiles"), help: "A corrupt tile: fail the slide, fill it white, or skip its patches.")
    var badTiles: BadTilePolicy = .fail

    @Option(help: "Tiling preset for slide inputs (patch size and µm/px follow the encoder).")
    var preset = "default"

    @Flag(help: "Scan folders recursively.")
    var recursive = false

    @Flag(help: "Redo slides whose features already exist.")
    var force = false

    @Flag(help: "Print the per-slide results as JSON on standard output.")
    var json = false

    @OptionGroup var archive: ArchiveOptions

    func validate() throws {
        guard batchSize >= 1 else { throw ValidationError("--batch-size must be at least 1") }
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1") }
    }

    static func triple(_ s: String?, _ flag: String) throws -> [Float]? {
        guard let s else { return nil }
        let v = s.split(separator: ",").compactMap { Float($0.trimmingCharacters(in: .whitespaces)) }
        guard v.count == 3 else { throw ValidationError("\(flag) needs three comma-separated numbers (R,G,B), got '\(s)'") }
        return v
    }

    func run() throws {
        Compute.setThreads(threads)
        let options = EncoderOptions(pool: pool, mean: try Self.triple(mean, "--mean"), std: try Self.triple(std, "--std"))
        let enc: PatchEncoder
        do { enc = try EncoderRegistry.make(encoder, weights: weights, options: options) } catch {
            FileHandle.standardError.write(Data("✗ \(error)\n".utf8))
            throw ExitCode(2)
        }
        let root = URL(fileURLWithPath: out).standardizedFileURL.path
        let featuresDir = "\(root)/features_\(enc.name)"
        do { try FileManager.default.createDirectory(atPath: featuresDir, withIntermediateDirectories: true) } catch {
            FileHandle.standardError.write(Data("✗ --out \(root): cannot create \(featuresDir) (\(error.localizedDescription))\n  → choose another --out or fix its permissions\n".utf8))
            throw ExitCode(2)
        }
        BatchRunner.removeStaleTemporaryFiles(in: [featuresDir, "\(root)/patches"])
        let catalog = try archive.openCatalog(root)
        let kind = "embed:\(enc.name)"
        let command = (["radiopath"] + CommandLine.arguments.dropFirst()).joined(separator: " ")

        let (bags, slides, problems) = Self.classify(inputs, recursive: recursive)
        // This worker's share first: the progress total and the patch count (one bag read
        // each) cover only the slides it may do.
        var jobs: [(bag: String, id: String, tile: SlideInput?)] = bags.map { ($0, URL(fileURLWithPath: $0).deletingPathExtension().lastPathComponent, nil) }
        jobs += slides.map { ("\(root)/patches/\($0.slideID).h5", $0.slideID, $0) }
        if let shard = archive.parsedShard { jobs = shard.select(jobs) { $0.id } }
        let patchTotal = slides.isEmpty ? jobs.reduce(0) { $0 + ((try? PatchBag.read(path: $1.bag).count) ?? 0) } : nil
        let progress = BatchProgress(total: jobs.count + problems.count, unitName: "patches", unitsTotal: patchTotal)
        for p in problems { progress.itemFinished(line: "✗ \(p.path): \(p.reason)\n  → \(p.hint)", units: 0) }
        BatchRunner.installInterruptHandler {
            progress.note("interrupted: stopping after the current slide (press Ctrl-C again to quit now; rerun to resume)")
        }

        var results: [EmbedResult] = problems.map {
            EmbedResult(slideID: SlideInputs.slideID(for: $0.path), bag: $0.path, output: "", status: .failed,
                        error: $0.reason, hint: $0.hint)
        }
        do { try catalog.addPending(kind: kind, jobs: jobs.map { ($0.id, $0.tile?.path ?? $0.bag) }) } catch {
            FileHandle.standardError.write(Data("✗ \(error)\n".utf8))
            throw ExitCode(2)
        }
        let provenance = enc.provenance.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        let parameterText = "\(enc.name) \(provenance) \(sizeMismatch) \(badTiles) preset=\(preset)"
        let parameters = JobParameters(toolVersion: RadioPath.version, paramsHash: ArchiveOptions.hash(parameterText), text: parameterText)
        progress.follow(catalog, kind: kind)
        var failedBefore = 0, elsewhere = 0
        for job in jobs {
            if BatchRunner.isStopRequested { break }
            var req = EmbedRequest(bagPath: job.bag, slideID: job.id, outputPath: "\(featuresDir)/\(job.id).h5",
                                   toolVersion: RadioPath.version, command: command)
            req.slidesDir = slidesDir
            req.batchSize = batchSize
            req.decodeWorkers = max(1, threads / 2)
            req.sizeMismatch = sizeMismatch
            req.badTiles = badTiles
            req.force = force
            let input = job.tile?.path ?? job.bag
            let claim: Claim
            do {
                claim = try catalog.claim(kind: kind, slideID: job.id, input: input, outputsComplete: PatchBag.isComplete(path: req.outputPath),
                                          force: force, retryFailed: archive.retryFailed, parameters: parameters)
            } catch {
                let r = EmbedResult(slideID: job.id, bag: job.bag, output: req.outputPath, status: .failed, error: "\(error)", hint: "rerun; the slide was not started")
                results.append(r)
                progress.itemFinished(line: Self.statusLine(r), units: 0)
                continue
            }
            var reclaimed: LockHolder?, attempt = 0
            switch claim {
            case .alreadyDone: break
            case .failedBefore(let error):
                failedBefore += 1
                results.append(EmbedResult(slideID: job.id, bag: job.bag, output: req.outputPath, status: .skipped,
                                           error: "failed in an earlier run: \(error)", hint: "--retry-failed retries it"))
                progress.itemFinished(line: "· \(job.id): failed in an earlier run (\(error)) — --retry-failed retries it", units: 0)
                continue
            case .heldElsewhere(let holder):
                elsewhere += 1
                results.append(EmbedResult(slideID: job.id, bag: job.bag, output: req.outputPath, status: .skipped, hint: "another worker (\(holder)) is embedding it"))
                progress.itemFinished(line: "· \(job.id): another worker (\(holder)) is on it", units: 0)
                continue
            case .granted(let a, let r): attempt = a; reclaimed = r
            }
            var r: EmbedResult
            if let slide = job.tile, let failure = tileFirst(slide, root: root, contract: enc.contract) {
                r = failure
            } else {
                r = EmbedJob.run(req, encoder: enc) { n in progress.advance(units: n, label: job.id) }
            }
            if r.status == .failed, let full = DiskFull.classify("\(r.error ?? "") \(r.hint ?? "")", folder: root) {
                r.error = full.error; r.hint = full.hint
            }
            if case .granted = claim {
                if let h = reclaimed { r.warnings.append("took over from \(h), which stopped (attempt \(attempt))") }
                record(r, kind: kind, job: job, catalog: catalog)
            }
            results.append(r)
            progress.itemFinished(line: Self.statusLine(r), units: 0)
        }
        progress.finish()
        RunReport.serialized(in: root) {
            do {
                try writeSummary(results, problems: problems.count, dir: featuresDir, encoder: enc, command: command, seconds: progress.elapsedSeconds, catalog: catalog, kind: kind)
            } catch {
                let text = DiskFull.classify("\(error)", folder: root).map { "\($0.error) — free space and rerun" } ?? "\(error)"
                FileHandle.standardError.write(Data("! embed_summary.csv / embed_run.json not written: \(text)\n".utf8))
            }
            ArchiveOptions.writeReport(catalog, claimed: results.count - problems.count)
        }

        let done = results.filter { $0.status == .done }
        let failed = results.filter { $0.status == .failed }.count
        let skipped = results.filter { $0.status == .skipped }.count
        let patches = done.reduce(0) { $0 + $1.patches }
        let notStarted = jobs.count + problems.count - results.count
        var line = String(format: "embed (%@): %d done, %d skipped, %d failed; %d patches in %.1f s (%.1f patches/s) → %@",
                          enc.name, done.count, skipped, failed, patches, progress.elapsedSeconds,
                          Double(patches) / max(progress.elapsedSeconds, 1e-9), featuresDir)
        if failedBefore > 0 { line += " (\(failedBefore) failed in an earlier run: --retry-failed retries them)" }
        if elsewhere > 0 { line += " (\(elsewhere) being done by other workers)" }
        if notStarted > 0 { line += " (\(notStarted) not started: interrupted; rerun to resume)" }
        FileHandle.standardError.write(Data((line + "\n").utf8))
        if json { print(String(decoding: try TileCommand.encoder.encode(results), as: UTF8.self)) }
        if failed > 0 || notStarted > 0 || failedBefore > 0 { throw ExitCode(1) }
    }

    /// Records a claimed job's outcome, outputs and slide in the catalog.
    func record(_ r: EmbedResult, kind: String, job: (bag: String, id: String, tile: SlideInput?), catalog: Catalog) {
        var details = ["skipped_patches": "\(r.skippedPatches)", "feature_dim": "\(r.featureDim)", "bag": r.bag, "output": r.output]
        if r.status == .failed, r.error?.hasPrefix("disk full") == true { details[DiskFull.transientKey] = "disk full" }
        let outcome = JobOutcome(status: r.status == .failed ? .failed : .done, seconds: r.seconds, units: r.patches,
                                 error: r.error, hint: r.hint, outputs: r.status == .failed ? [] : ArchiveOptions.outputs([r.output]),
                                 warnings: r.warnings, details: details)
        var slide: SlideRecord?
        if let path = job.tile?.path ?? r.slide {
            slide = SlideRecord.file(path, slideID: job.id)
            slide?.label = job.tile?.label
        }
        do {
            if try !catalog.finish(kind: kind, slideID: job.id, outcome: outcome, slide: slide) {
                FileHandle.standardError.write(Data("! \(job.id): another worker took this slide over while it ran; its record stands\n".utf8))
            }
        } catch {
            FileHandle.standardError.write(Data("! \(job.id): not recorded in the catalog (\(error)); a rerun records it\n".utf8))
        }
    }

    /// Tiles a slide at the encoder's patch size and scale unless its bag exists; returns a
    /// failed result when tiling fails.
    func tileFirst(_ s: SlideInput, root: String, contract: InputContract) -> EmbedResult? {
        var p: TilingPreset
        do {
            p = try PresetLibrary.load(preset)
            try p.set("patch_size", "\(contract.patchPx)")
            if let m = contract.mpp { try p.set("target_mpp", "\(m)") }
        } catch {
            return EmbedResult(slideID: s.slideID, bag: "", output: "", status: .failed, error: "--preset \(preset): \(error)",
                               hint: "radiopath tile --help lists the presets")
        }
        let r = TileJob.run(TileRequest(slidePath: s.path, slideID: s.slideID, layout: TileOutputLayout(root: root), preset: p,
                                        mppOverride: s.mpp, force: false, toolVersion: RadioPath.version))
        guard r.status == .failed else { return nil }
        return EmbedResult(slideID: s.slideID, bag: "", slide: s.path, output: "", status: .failed,
                           error: "tiling failed: \(r.error ?? "")", hint: r.hint)
    }

    /// Splits the arguments into patch bags and slides: `.h5` files are bags, folders holding
    /// `.h5` files are folders of bags, everything else goes through the slide inputs.
    static func classify(_ args: [String], recursive: Bool) -> (bags: [String], slides: [SlideInput], problems: [InputProblem]) {
        var bags: [String] = [], slideArgs: [String] = []
        let fm = FileManager.default
        for a in args {
            var isDir: ObjCBool = false
            if a.lowercased().hasSuffix(".h5") {
                if fm.fileExists(atPath: a) { bags.append(a) } else { slideArgs.append(a) }
            } else if fm.fileExists(atPath: a, isDirectory: &isDir), isDir.boolValue,
                      let names = try? fm.contentsOfDirectory(atPath: a), names.contains(where: { $0.lowercased().hasSuffix(".h5") }) {
                bags += names.filter { $0.lowercased().hasSuffix(".h5") && !$0.hasPrefix(".") }.sorted().map { "\(a)/\($0)" }
            } else {
                slideArgs.append(a)
            }
        }
        var problems: [InputProblem] = []
        for b in args where b.lowercased().hasSuffix(".h5") && !fm.fileExists(atPath: b) {
            problems.append(InputProblem(path: b, reason: "patch bag not found", hint: "check the path"))
        }
        slideArgs.removeAll { $0.lowercased().hasSuffix(".h5") }
        let (slides, more) = slideArgs.isEmpty ? ([], []) : SlideInputs.expand(slideArgs, recursive: recursive)
        return (bags, slides, problems + more)
    }

    static func statusLine(_ r: EmbedResult) -> String {
        switch r.status {
        case .done:
            var s = String(format: "✓ %@: %d patches → %d-d features in %.1f s (%.1f patches/s)", r.slideID, r.patches,
                           r.featureDim, r.seconds, Double(r.patches) / max(r.seconds, 1e-9))
            for w in r.warnings { s += "\n  ! \(w)" }
            return s
        case .skipped: return "· \(r.slideID): already embedded — --force redoes it"
        case .failed: return "✗ \(r.slideID): \(r.error ?? "failed")" + (r.hint.map { "\n  → \($0)" } ?? "")
        }
    }

    /// embed_summary.csv is every slide of this encoder as the catalog has it (all workers; the
    /// last to finish writes the complete table) plus this run's inputs that never became jobs;
    /// embed_run.json is this run's own record.
    func writeSummary(_ results: [EmbedResult], problems: Int, dir: String, encoder: PatchEncoder, command: String, seconds: Double,
                      catalog: Catalog, kind: String) throws {
        let header = ["slide_id", "status", "patches", "skipped_patches", "feature_dim", "seconds", "bag", "slide", "output", "warnings", "error", "hint"]
        var rows: [[String]] = []
        var inCatalog = Set<String>()
        if let jobs = try? catalog.jobs(kind: kind), let slides = try? catalog.slides() {
            let byID = Dictionary(slides.map { ($0.slideID, $0) }, uniquingKeysWith: { a, _ in a })
            for j in jobs {
                inCatalog.insert(j.slideID)
                let d = j.details
                rows.append([j.slideID, j.status.rawValue, "\(j.units ?? 0)", d["skipped_patches"] ?? "", d["feature_dim"] ?? "",
                             j.seconds.map { String(format: "%.3f", $0) } ?? "", d["bag"] ?? "", byID[j.slideID]?.path ?? "",
                             d["output"] ?? j.outputs.first?.path ?? "", j.warnings.joined(separator: "; "), j.error ?? "", j.hint ?? ""])
            }
        }
        // Inputs that never became jobs (missing bag, duplicate id) come first in `results`.
        for (i, r) in results.enumerated() where !inCatalog.contains(r.slideID) || i < problems {
            rows.append([r.slideID, r.status.rawValue, "\(r.patches)", "\(r.skippedPatches)", "\(r.featureDim)", String(format: "%.3f", r.seconds),
                         r.bag, r.slide ?? "", r.output, r.warnings.joined(separator: "; "), r.error ?? "", r.hint ?? ""])
        }
        try AtomicFile.write(Data(CSVTable(header: header, rows: rows).encoded().utf8), to: "\(dir)/embed_summary.csv")
        struct Run: Encodable {
            let tool: String, version: String, command: String, encoder: String, featureDim: Int
            let contract: InputContract, provenance: [String: String], threads: Int, seconds: Double, slides: [EmbedResult]
        }
        let run = Run(tool: "radiopath", version: RadioPath.version, command: command, encoder: encoder.name,
                      featureDim: encoder.featureDim, contract: encoder.contract, provenance: encoder.provenance,
                      threads: Compute.threads, seconds: seconds, slides: results)
        try AtomicFile.write(try TileCommand.encoder.encode(run), to: "\(dir)/embed_run.json")
    }
}

struct EmbedListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List the encoders and what they need.")

    @Flag(help: "Print JSON.")
    var json = false

    func run() throws {
        if json {
            struct Row: Encodable { let name: String, summary: String, needsWeights: Bool, featureDim: Int }
            let rows = EncoderRegistry.cards.map { Row(name: $0.name, summary: $0.summary, needsWeights: $0.needsWeights, featureDim: $0.featureDim) }
            print(String(decoding: try TileCommand.encoder.encode(rows), as: UTF8.self))
            return
        }
        for c in EncoderRegistry.cards {
            print("\(c.name.padding(toLength: 16, withPad: " ", startingAt: 0)) \(String(c.featureDim).padding(toLength: 5, withPad: " ", startingAt: 0)) \(c.needsWeights ? "--weights" : "built in ") \(c.summary)")
        }
    }
}

extension ViTConfig.Pool: ExpressibleByArgument {}
extension SizeMismatchPolicy: ExpressibleByArgument {}
