import Archive
import ArgumentParser
import Foundation
import PatchBag
import Tabular
import ImageCore
import SlideIO
import Tiler

struct TileCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tile",
        abstract: "Find tissue and write patch coordinates at a physical scale, one HDF5 patch bag per slide.",
        discussion: """
        INPUTS are slide files, folders of slides, or CSV manifests (column path
        or slide; optional slide_id and mpp). Per slide, under --out:
          patches/<id>.h5        coords (N×2 int64, level-0 top-left corners),
                                 tissue_fraction, CLAM + TRIDENT attributes,
                                 provenance (version, parameters, quickhash)
          masks/<id>.png         tissue mask at the segmentation level
          contours/<id>.geojson  tissue outlines with holes, level-0 px
                                 (QuPath: File > Import objects)
          previews/<id>.png      thumbnail with tissue, holes and patch grid
          patch_images/<id>/     with --save-patches: <id>_<x>_<y>.jpg|png
        and tile_summary.csv (every slide of the folder, from the catalog),
        tile_run.json (this run) and run_report.md (Markdown: totals, failures,
        workers, per-slide timings; also `radiopath status --markdown`).

        Slides whose patch bag exists are skipped, so rerunning after an
        interruption resumes (--force redoes them). A slide that fails is
        reported with the reason and the fix; the others go on, and a rerun
        skips it (with a note) unless --retry-failed.
        The catalog --out/radiopath.sqlite records every slide and job; any
        number of workers may share one --out (each slide is done once; a
        killed worker's slide is taken over; the progress line counts the
        whole archive). `radiopath status OUT [--watch]` shows it.
        --shard i/n splits the slides among n workers.
        Exit status: 0 all done or skipped, 1 some failed (now or earlier),
        2 unwritable --out, 64 bad arguments (usage).

        Presets (--preset, files in Tiling/): \(PresetLibrary.available().joined(separator: ", ")).
        Keys for --set KEY=VALUE:
        \(TilingPreset.keys.map { "  \($0.key)\n      \($0.meaning)" }.joined(separator: "\n"))
        """)

    @Argument(help: "Slide files, folders or CSV manifests.")
    var inputs: [String]

    @Option(name: .long, help: "Output folder (created if missing).")
    var out: String

    @Option(help: "Tiling preset name or .conf file.")
    var preset = "default"

    @Option(name: .customLong("patch-size"), help: "Patch size in px at the target scale (preset: 256).")
    var patchSize: Int?

    @Option(name: .customLong("target-mpp"), help: "Target scale in µm/px (preset: 0.5).")
    var targetMPP: Double?

    @Option(help: "Target magnification, e.g. 20 (instead of --target-mpp).")
    var magnification: Double?

    @Option(help: "Overlap between neighbouring patches, px at the target scale.")
    var overlap: Int?

    @Option(name: .customLong("min-tissue-fraction"), help: "Keep patches at least this fraction tissue (0–1).")
    var minTissueFraction: Double?

    @Flag(help: "Otsu's threshold on saturation instead of the preset's fixed threshold.")
    var otsu = false

    @Option(name: .customLong("set"), help: "Override any preset key: --set KEY=VALUE (repeatable).")
    var settings: [String] = []

    @Option(name: .customLong("slide-mpp"), help: "Scale of every slide in µm/px (beats the file's own).")
    var slideMPP: Double?

    @Option(name: .customLong("mpp-csv"), help: "CSV with columns slide,mpp giving the scale per slide (id, file name or path).")
    var mppCSV: String?

    @Flag(help: "Scan folders recursively.")
    var recursive = false

    @Option(help: "Slides processed at once (default: number of cores).")
    var jobs: Int = ProcessInfo.processInfo.activeProcessorCount

    @Flag(name: .customLong("save-patches"), help: "Also write every patch as an image file under patch_images/<id>/.")
    var savePatches = false

    @Option(name: .customLong("patch-format"), help: "Patch image format: jpeg or png.")
    var patchFormat: PatchImageOptions.Format = .jpeg

    @Option(name: .customLong("patch-quality"), help: "JPEG quality of patch images, 1–100.")
    var patchQuality = 90

    @Option(name: .customLong("bad-tiles"), help: "A corrupt tile while saving patches: fail the slide, fill it white, or skip its patches.")
    var badTiles: BadTilePolicy = .fail

    @Flag(help: "Redo slides whose patch bag already exists.")
    var force = false

    @Flag(help: "Print the run record as JSON on standard output.")
    var json = false

    @OptionGroup var archive: ArchiveOptions

    func run() throws {
        let params = try resolvedPreset()
        let root = URL(fileURLWithPath: out).standardizedFileURL.path
        try checkWritable(root)
        let layout = TileOutputLayout(root: root)
        BatchRunner.removeStaleTemporaryFiles(in: layout.folders)

        let catalog = try archive.openCatalog(root)
        var (slides, problems) = SlideInputs.expand(inputs, recursive: recursive)
        if let shard = archive.parsedShard { slides = shard.select(slides) { $0.slideID } }
        let mppTable = try mppCSV.map { path -> [String: Double] in
            do { return try SlideInputs.readMPPTable(path: path) } catch {
                throw ValidationError("--mpp-csv \(error)")
            }
        } ?? [:]
        let command = (["radiopath"] + CommandLine.arguments.dropFirst()).joined(separator: " ")
        let progress = BatchProgress(total: slides.count + problems.count, unitName: "patches")
        for p in problems { progress.itemFinished(line: "✗ \(p.path): \(p.reason)\n  → \(p.hint)", units: 0) }
        BatchRunner.installInterruptHandler {
            progress.note("interrupted: finishing the slides in progress (press Ctrl-C again to quit now; rerun to resume)")
        }

        var imageOptions: PatchImageOptions?
        if savePatches {
            var o = PatchImageOptions()
            o.format = patchFormat
            o.quality = patchQuality
            o.badTiles = badTiles
            // Slides run `jobs` at a time; share the cores between them.
            o.workers = max(1, ProcessInfo.processInfo.activeProcessorCount / max(1, min(jobs, slides.count)))
            imageOptions = o
        }
        let requests = slides.map { s in
            var r = TileRequest(slidePath: s.path, slideID: s.slideID, layout: layout, preset: params,
                                mppOverride: slideMPP ?? s.mpp ?? SlideInputs.lookup(mppTable, for: s),
                                force: force, toolVersion: RadioPath.version)
            r.patchImages = imageOptions
            return r
        }
        do { try catalog.addPending(kind: Self.jobKind, jobs: requests.map { ($0.slideID, $0.slidePath) }) } catch {
            FileHandle.standardError.write(Data("✗ \(error)\n".utf8))
            throw ExitCode(2)
        }
        progress.follow(catalog, kind: Self.jobKind)
        let labels = Dictionary(slides.map { ($0.slideID, $0.label) }, uniquingKeysWith: { a, _ in a })
        let parameterText = params.text + "\nsave_patches=\(savePatches) \(patchFormat) \(patchQuality) \(badTiles)"
        let outcomes = BatchRunner.run(requests, jobs: jobs, work: { (req: TileRequest) -> CatalogOutcome<TileResult> in
            // Per slide: a scale given for a slide that failed for want of one is a fix, so it is retried.
            let text = parameterText + "\nslide_mpp=\(req.mppOverride.map { "\($0)" } ?? "file")"
            let parameters = JobParameters(toolVersion: RadioPath.version, paramsHash: ArchiveOptions.hash(text), text: text)
            return tileWithCatalog(req, catalog: catalog, parameters: parameters, label: labels[req.slideID] ?? nil)
        }) { _, o in
            progress.itemFinished(line: o.note ?? Self.statusLine(o.result), units: o.result.status == .done ? o.result.patches : 0)
        }
        progress.finish()
        let results = outcomes.map { $0?.result }
        let failedBefore = outcomes.filter { $0?.claim == .failedBefore }.count
        let elsewhere = outcomes.filter { $0?.claim == .elsewhere }.count

        var all = results.compactMap { $0 }
        all += problems.map { TileResult(slideID: SlideInputs.slideID(for: $0.path), path: $0.path, status: .failed, error: $0.reason, hint: $0.hint) }
        let notStarted = results.count - results.compactMap { $0 }.count
        RunReport.serialized(in: root) {
            do {
                try writeSummary(all, problems: problems.count, root: root, params: params, command: command, seconds: progress.elapsedSeconds, catalog: catalog)
            } catch {
                let text = DiskFull.classify("\(error)", folder: root).map { "\($0.error) — free space and rerun" } ?? "\(error)"
                FileHandle.standardError.write(Data("! tile_summary.csv / tile_run.json not written: \(text)\n".utf8))
            }
            ArchiveOptions.writeReport(catalog, claimed: outcomes.compactMap { $0 }.count)
        }

        let done = all.filter { $0.status == .done }.count
        let skipped = all.filter { $0.status == .skipped }.count
        let failed = all.filter { $0.status == .failed }.count
        let patches = all.reduce(0) { $0 + $1.patches }
        var line = "tile: \(done) done, \(skipped) skipped, \(failed) failed; \(patches) patches in \(String(format: "%.1f", progress.elapsedSeconds)) s → \(root)"
        if let shard = archive.parsedShard { line += " (shard \(shard): \(slides.count) slides)" }
        if failedBefore > 0 { line += " (\(failedBefore) failed in an earlier run: --retry-failed retries them)" }
        if elsewhere > 0 { line += " (\(elsewhere) being done by other workers)" }
        if notStarted > 0 { line += " (\(notStarted) not started: interrupted; rerun to resume)" }
        FileHandle.standardError.write(Data((line + "\n").utf8))
        if json {
            print(String(decoding: try Self.encoder.encode(all), as: UTF8.self))
        }
        if failed > 0 || notStarted > 0 || failedBefore > 0 { throw ExitCode(1) }
    }

    static let jobKind = "tile"

    /// One slide through the catalog: claim it, tile it, record the outcome and outputs.
    func tileWithCatalog(_ req: TileRequest, catalog: Catalog, parameters: JobParameters, label: String?) -> CatalogOutcome<TileResult> {
        let layout = req.layout, id = req.slideID
        let complete = PatchBag.isComplete(path: layout.bag(id))
            && (req.patchImages == nil || FileManager.default.fileExists(atPath: layout.patchImages(id)))
        let claim: Claim
        do {
            claim = try catalog.claim(kind: Self.jobKind, slideID: id, input: req.slidePath, outputsComplete: complete, force: req.force,
                                      retryFailed: archive.retryFailed, parameters: parameters)
        } catch {
            return CatalogOutcome(result: TileResult(slideID: id, path: req.slidePath, status: .failed, error: "\(error)", hint: "rerun; the slide was not started"))
        }
        switch claim {
        case .alreadyDone:
            return CatalogOutcome(result: TileJob.run(req))
        case .failedBefore(let error):
            let r = TileResult(slideID: id, path: req.slidePath, status: .skipped, error: "failed in an earlier run: \(error)", hint: "--retry-failed retries it")
            return CatalogOutcome(result: r, claim: .failedBefore, note: "· \(id): failed in an earlier run (\(error)) — --retry-failed retries it")
        case .heldElsewhere(let holder):
            let r = TileResult(slideID: id, path: req.slidePath, status: .skipped, hint: "another worker (\(holder)) is tiling it")
            return CatalogOutcome(result: r, claim: .elsewhere, note: "· \(id): another worker (\(holder)) is on it")
        case .granted(let attempt, let reclaimed):
            var r = TileJob.run(req)
            var details: [String: String] = [:]
            if r.status == .failed, let full = DiskFull.classify(r.error ?? "", folder: layout.root) {
                r.error = full.error; r.hint = full.hint
                details[DiskFull.transientKey] = "disk full"
            }
            if let h = reclaimed { r.warnings.append("took over from \(h), which stopped (attempt \(attempt))") }
            var slide = SlideRecord.file(req.slidePath, slideID: id)
            slide.mpp = r.mpp; slide.mppSource = r.mppSource; slide.label = label
            if r.status != .failed, let bag = try? PatchBag.read(path: layout.bag(id)), case .string(let q)? = bag.fileAttributes["slide_quickhash"] {
                slide.quickhash = q
            }
            let outputs = r.status == .failed ? [] : ArchiveOptions.outputs([layout.bag(id), layout.mask(id), layout.contours(id), layout.preview(id)]
                                                                            + (req.patchImages == nil ? [] : [layout.patchImages(id)]))
            if let a = r.tissueAreaMM2 { details["tissue_area_mm2"] = String(format: "%.4f", a) }
            if let n = r.patchImagesWritten { details["patch_images"] = "\(n)" }
            let outcome = JobOutcome(status: r.status == .failed ? .failed : .done, seconds: r.seconds, units: r.patches,
                                     error: r.error, hint: r.hint, outputs: outputs, warnings: r.warnings, details: details)
            do {
                if try !catalog.finish(kind: Self.jobKind, slideID: id, outcome: outcome, slide: slide) {
                    r.warnings.append("another worker took this slide over while it ran (silent past --stale-after); its record stands")
                }
            } catch {
                r.warnings.append("not recorded in the catalog (\(error)); a rerun records it")
            }
            return CatalogOutcome(result: r)
        }
    }

    static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return e
    }()

    func resolvedPreset() throws -> TilingPreset {
        var p: TilingPreset
        do { p = try PresetLibrary.load(preset) } catch { throw ValidationError("--preset: \(error)") }
        var overrides: [(String, String)] = settings.map { s in
            let kv = s.split(separator: "=", maxSplits: 1).map(String.init)
            return (kv.first ?? s, kv.count > 1 ? kv[1] : "")
        }
        if let v = patchSize { overrides.append(("patch_size", "\(v)")) }
        if let v = targetMPP { overrides.append(("target_mpp", "\(v)")) }
        if let v = magnification { overrides.append(("magnification", "\(v)")) }
        if let v = overlap { overrides.append(("overlap", "\(v)")) }
        if let v = minTissueFraction { overrides.append(("min_tissue_fraction", "\(v)")) }
        if otsu { overrides.append(("use_otsu", "true")) }
        for (k, v) in overrides {
            do { try p.set(k, v) } catch let e as TilingPreset.ParseError { throw ValidationError(e.message) }
        }
        if let m = slideMPP, !(m > 0.01 && m < 100) { throw ValidationError("--slide-mpp \(m) is not a plausible µm/px (0.01–100)") }
        if jobs < 1 { throw ValidationError("--jobs must be at least 1") }
        if !(1...100).contains(patchQuality) { throw ValidationError("--patch-quality must be 1–100") }
        return p
    }

    func checkWritable(_ root: String) throws {
        let fm = FileManager.default
        do {
            try fm.createDirectory(atPath: root, withIntermediateDirectories: true)
            let probe = "\(root)/.radiopath-write-test-\(getpid())"
            guard fm.createFile(atPath: probe, contents: Data()) else { throw CocoaError(.fileWriteNoPermission) }
            try fm.removeItem(atPath: probe)
        } catch {
            FileHandle.standardError.write(Data("✗ --out \(root): the output folder is not writable (\(error.localizedDescription))\n  → choose another --out or fix its permissions\n".utf8))
            throw ExitCode(2)
        }
    }

    static func statusLine(_ r: TileResult) -> String {
        switch r.status {
        case .done:
            var s = "✓ \(r.slideID): \(r.patches) patches"
            if let m = r.mpp, let src = r.mppSource { s += String(format: " · %.3f µm/px (%@)", m, src) }
            if let a = r.tissueAreaMM2 { s += String(format: " · %.1f mm² tissue", a) }
            if let n = r.patchImagesWritten { s += " · \(n) patch images" }
            s += String(format: " · %.2f s", r.seconds)
            for w in r.warnings { s += "\n  ! \(w)" }
            return s
        case .skipped:
            return "· \(r.slideID): already done (\(r.patches) patches) — --force redoes it"
        case .failed:
            return "✗ \(r.path): \(r.error ?? "failed")" + (r.hint.map { "\n  → \($0)" } ?? "")
        }
    }

    /// tile_summary.csv is the whole folder as the catalog has it (every worker's slides, so
    /// the last worker to finish writes the complete table), plus this run's inputs that never
    /// became jobs; tile_run.json is this run's own record.
    func writeSummary(_ results: [TileResult], problems: Int, root: String, params: TilingPreset, command: String, seconds: Double, catalog: Catalog) throws {
        let header = ["slide_id", "path", "status", "patches", "mpp", "mpp_source", "tissue_area_mm2", "seconds", "warnings", "error", "hint"]
        var rows: [[String]] = []
        var inCatalog = Set<String>()
        if let jobs = try? catalog.jobs(kind: Self.jobKind), let slides = try? catalog.slides() {
            let byID = Dictionary(slides.map { ($0.slideID, $0) }, uniquingKeysWith: { a, _ in a })
            for j in jobs {
                inCatalog.insert(j.slideID)
                let s = byID[j.slideID]
                rows.append([j.slideID, j.input ?? s?.path ?? "", j.status.rawValue, "\(j.units ?? 0)", s?.mpp.map { String(format: "%.6g", $0) } ?? "",
                             s?.mppSource ?? "", j.details["tissue_area_mm2"] ?? "", j.seconds.map { String(format: "%.3f", $0) } ?? "",
                             j.warnings.joined(separator: "; "), j.error ?? "", j.hint ?? ""])
            }
        }
        // Inputs that never became jobs (missing, duplicate id) come last in `results`.
        for (i, r) in results.enumerated() where !inCatalog.contains(r.slideID) || i >= results.count - problems {
            rows.append([r.slideID, r.path, r.status.rawValue, "\(r.patches)", r.mpp.map { String(format: "%.6g", $0) } ?? "",
                         r.mppSource ?? "", r.tissueAreaMM2.map { String(format: "%.4f", $0) } ?? "", String(format: "%.3f", r.seconds),
                         r.warnings.joined(separator: "; "), r.error ?? "", r.hint ?? ""])
        }
        try AtomicFile.write(Data(CSVTable(header: header, rows: rows).encoded().utf8), to: "\(root)/tile_summary.csv")
        struct Run: Encodable {
            let tool: String, version: String, command: String, preset: String, parameters: String
            let seconds: Double, slides: [TileResult]
        }
        let run = Run(tool: "radiopath", version: RadioPath.version, command: command, preset: params.name,
                      parameters: params.text, seconds: seconds, slides: results)
        try AtomicFile.write(try Self.encoder.encode(run), to: "\(root)/tile_run.json")
    }
}

extension PatchImageOptions.Format: ExpressibleByArgument {}
extension BadTilePolicy: ExpressibleByArgument {}
