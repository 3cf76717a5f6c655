import Archive
import ArgumentParser
import Cells
import Foundation
import ImageCore
import PatchBag
import Tabular
import Tiler

/// `radiopath cells`: nuclei segmentation and per-nucleus features over slides, bags or regions.
struct CellsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cells",
        abstract: "Segment nuclei (classical, no weights) and measure them: QuPath GeoJSON and CSV per slide.",
        discussion: """
        INPUTS are slides, folders of slides, CSV manifests (column path or slide,
        optional slide_id and mpp), or patch bags (.h5 from `radiopath tile`, or
        folders of them). Slides are first tiled for tissue (into <out>/tissue/,
        patch size and µm/px from --preset and --pixel-size) unless --region or
        --whole is given; only nuclei inside tissue patches are reported, each
        with its patch's row in the bag. Per slide, in --out:
          <id>.nuclei.geojson.gz  QuPath detections (File > Import objects):
                                  pixel-edge outlines in level-0 px with every
                                  feature as a measurement (full precision)
          <id>.nuclei.csv         nucleus_id, centroid_x, centroid_y (level-0 px),
                                  patch_index, then one column per feature
          <id>.nuclei.json        provenance: version, command, parameters,
                                  slide quickhash, stain vectors, threshold used
        and for the run: cells_summary.csv and cells_run.json.

        Pipeline (all sizes in µm, so the scan's magnification does not matter):
        the slide is read at the pyramid level nearest --pixel-size and
        area-averaged to it; colour deconvolution gives haematoxylin OD (Ruifrok
        vectors, Macenko's estimate from the slide, or --stain-vectors); Gaussian
        smoothing (--sigma); the grey opening over a square of half side
        --background-radius is subtracted; pixels above --threshold (OD, or Otsu)
        and at least --local-threshold × the local maximum within --local-radius
        are nuclear; holes are filled; a distance-transform watershed splits
        touching nuclei (peaks must rise --split-depth above the saddle and lie
        --min-separation apart); nuclei outside --min-area…--max-area (µm²) are
        dropped. Tiles of --tile-size px overlap by --tile-margin µm; a nucleus
        belongs to the tile holding its centroid, so it is found once.
        --single-channel (or --fluorescence for its defaults) segments bright
        nuclei on dark in the grey value instead.
        Features (µm, µm²; pixel values = these ÷ pixel size): area, perimeter,
        equivalent diameter, major/minor axis, eccentricity, orientation,
        solidity, extent, circularity, roundness, aspect ratio, convex area,
        max Feret; H and E OD mean/std/min/max; GLCM contrast, dissimilarity,
        homogeneity, energy, ASM, correlation. See docs/cells.md.

        Slides whose outputs exist are skipped (rerun resumes; --force redoes).
        A failing slide is reported with the fix; the others go on.
        Exit status: 0 all done or skipped, 1 some failed, 2 unwritable --out,
        64 bad arguments.
        """)

    @Argument(help: "Slides, folders, CSV manifests or patch bags (.h5).")
    var inputs: [String]

    @Option(help: "Output folder (created if missing).")
    var out: String

    @Option(help: "Level-0 region x,y,w,h to analyse (instead of tissue patches).")
    var region: String?

    @Flag(help: "Analyse the whole slide or image, without tissue detection.")
    var whole = false

    @Option(name: .customLong("pixel-size"), help: "Analysis pixel size, µm/px.")
    var pixelSize = 0.5

    @Option(help: "Stain vectors: ruifrok or macenko (estimated from the slide).")
    var stain = "ruifrok"

    @Option(name: .customLong("stain-vectors"), help: "Haematoxylin and eosin OD colours: 'hR,hG,hB;eR,eG,eB'.")
    var stainVectors: String?

    @Flag(name: .customLong("single-channel"), help: "Bright nuclei on dark in the grey value (fluorescence).")
    var singleChannel = false

    @Flag(help: "Fluorescence defaults: single channel, Otsu × 0.5, sigma 0.8 µm.")
    var fluorescence = false

    @Option(help: "Gaussian sigma, µm (default 1.5; 0.8 with --fluorescence).")
    var sigma: Double?

    @Option(name: .customLong("background-radius"), help: "Background opening half side, µm; 0 = off.")
    var backgroundRadius: Double?

    @Option(help: "Threshold: an OD value (e.g. 0.1), 'otsu' or 'otsu:SCALE'.")
    var threshold: String?

    @Option(name: .customLong("local-threshold"), help: "Fraction of the local maximum a nuclear pixel must reach (0 = off).")
    var localThreshold: Double?

    @Option(name: .customLong("local-radius"), help: "Half side of the local-maximum window, µm.")
    var localRadius: Double?

    @Option(name: .customLong("min-area"), help: "Smallest nucleus, µm².")
    var minArea: Double?

    @Option(name: .customLong("max-area"), help: "Largest nucleus, µm².")
    var maxArea: Double?

    @Option(name: .customLong("split-depth"), help: "Watershed: depth a peak needs above the saddle to stay separate, µm.")
    var splitDepth: Double?

    @Option(name: .customLong("min-separation"), help: "Watershed: peaks closer than this are merged, µm.")
    var minSeparation: Double?

    @Flag(name: .customLong("no-fill-holes"), help: "Keep holes in the thresholded mask.")
    var noFillHoles = false

    @Option(name: .customLong("tile-size"), help: "Tile side at the analysis pixel size, px.")
    var tileSize: Int?

    @Option(name: .customLong("tile-margin"), help: "Context read around each tile, µm.")
    var tileMargin: Double?

    @Option(help: "Tiling preset for tissue detection of slide inputs.")
    var preset = "default"

    @Option(name: .customLong("slide-mpp"), help: "Scale of every slide in µm/px (beats the file's own).")
    var slideMPP: Double?

    @Option(name: .customLong("mpp-csv"), help: "CSV with columns slide,mpp.")
    var mppCSV: String?

    @Option(name: .customLong("slides-dir"), help: "Folder holding the slides of bag inputs, when they moved.")
    var slidesDir: String?

    @Flag(help: "Scan folders recursively.")
    var recursive = false

    @Option(help: "Slides processed at once (threads are shared between them).")
    var jobs = 1

    @Option(help: "Threads in total.")
    var threads = ProcessInfo.processInfo.activeProcessorCount

    @Flag(help: "Redo slides whose outputs exist.")
    var force = false

    @Flag(help: "Print the per-slide results as JSON on standard output.")
    var json = false

    func parameters() throws -> NucleiParameters {
        var p = fluorescence ? NucleiParameters.fluorescence : NucleiParameters()
        p.pixelSize = pixelSize
        if singleChannel { p.stain = .singleChannel }
        else if let sv = stainVectors {
            let parts = sv.split(separator: ";").map { $0.split(separator: ",").compactMap { Double($0.trimmingCharacters(in: .whitespaces)) } }
            guard parts.count == 2, parts.allSatisfy({ $0.count == 3 }) else {
                throw ValidationError("--stain-vectors needs 'hR,hG,hB;eR,eG,eB' (two OD colours), got '\(sv)'")
            }
            p.stain = .vectors(hematoxylin: parts[0], eosin: parts[1])
        } else if !fluorescence {
            switch stain.lowercased() {
            case "ruifrok": p.stain = .ruifrok
            case "macenko": p.stain = .macenko
            default: throw ValidationError("--stain must be ruifrok or macenko (or give --stain-vectors / --single-channel)")
            }
        }
        if let v = sigma { p.sigma = v }
        if let v = backgroundRadius { p.backgroundRadius = v }
        if let t = threshold?.lowercased() {
            if t == "otsu" { p.threshold = .otsu(scale: 1) }
            else if t.hasPrefix("otsu:"), let k = Double(t.dropFirst(5)) { p.threshold = .otsu(scale: k) }
            else if let v = Double(t) { p.threshold = .fixed(v) }
            else { throw ValidationError("--threshold must be a number, 'otsu' or 'otsu:SCALE', got '\(t)'") }
        }
        if let v = localThreshold { p.localThreshold = v }
        if let v = localRadius { p.localRadius = v }
        if let v = minArea { p.minArea = v }
        if let v = maxArea { p.maxArea = v }
        if let v = splitDepth { p.splitDepth = v }
        if let v = minSeparation { p.minSeparation = v }
        if noFillHoles { p.fillHoles = false }
        if let v = tileSize { p.tileSize = v }
        if let v = tileMargin { p.tileMargin = v }
        do { try p.validate() } catch let e as CellsError { throw ValidationError(e.what) }
        return p
    }

    static func parseRegion(_ s: String) throws -> PixelRect {
        let v = s.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard v.count == 4, v[2] > 0, v[3] > 0, v[0] >= 0, v[1] >= 0 else {
            throw ValidationError("--region needs x,y,w,h in level-0 pixels (w, h > 0), got '\(s)'")
        }
        return PixelRect(x: v[0], y: v[1], width: v[2], height: v[3])
    }

    func run() throws {
        let params = try parameters()
        let area = try region.map(Self.parseRegion)
        guard jobs >= 1, threads >= 1 else { throw ValidationError("--jobs and --threads must be at least 1") }
        if let m = slideMPP, !(m > 0.01 && m < 100) { throw ValidationError("--slide-mpp \(m) is not a plausible µm/px (0.01–100)") }
        var tiling: TilingPreset?
        if area == nil && !whole {
            do {
                var t = try PresetLibrary.load(preset)
                try t.set("target_mpp", "\(pixelSize)")
                try t.set("min_tissue_fraction", "0.1")
                tiling = t
            } catch { throw ValidationError("--preset: \(error)") }
        }
        let root = URL(fileURLWithPath: out).standardizedFileURL.path
        try Self.checkWritable(root)
        BatchRunner.removeStaleTemporaryFiles(in: [root, root + "/tissue/patches"])
        let mppTable = try mppCSV.map { path -> [String: Double] in
            do { return try SlideInputs.readMPPTable(path: path) } catch { throw ValidationError("--mpp-csv \(error)") }
        } ?? [:]
        let command = (["radiopath"] + CommandLine.arguments.dropFirst()).joined(separator: " ")

        let (bags, slides, problems) = EmbedRunCommand.classify(inputs, recursive: recursive)
        struct Job { var slide: String; var id: String; var bag: String?; var tile: SlideInput?; var mpp: Double? }
        var work: [Job] = bags.map { b in
            let id = URL(fileURLWithPath: b).deletingPathExtension().lastPathComponent
            return Job(slide: slidesDir.map { Self.findSlide(in: $0, id: id, bag: b) } ?? "", id: id, bag: b, tile: nil, mpp: slideMPP)
        }
        work += slides.map { s in
            let mpp = slideMPP ?? s.mpp ?? SlideInputs.lookup(mppTable, for: s)
            return Job(slide: s.path, id: s.slideID, bag: tiling == nil ? nil : "\(root)/tissue/patches/\(s.slideID).h5", tile: tiling == nil ? nil : s, mpp: mpp)
        }
        let progress = BatchProgress(total: work.count + problems.count, unitName: "nuclei")
        for p in problems { progress.itemFinished(line: "✗ \(p.path): \(p.reason)\n  → \(p.hint)", units: 0) }
        BatchRunner.installInterruptHandler {
            progress.note("interrupted: finishing the slides in progress (press Ctrl-C again to quit now; rerun to resume)")
        }
        let perJob = max(1, threads / max(1, min(jobs, work.count)))
        let results = BatchRunner.run(work, jobs: jobs, work: { job -> NucleiResult in
            if let s = job.tile, let t = tiling {
                let r = TileJob.run(TileRequest(slidePath: s.path, slideID: s.slideID, layout: TileOutputLayout(root: root + "/tissue"),
                                                preset: t, mppOverride: job.mpp, force: false, toolVersion: RadioPath.version))
                if r.status == .failed {
                    var f = NucleiResult(slideID: job.id, path: job.slide, status: .failed)
                    f.error = "tissue detection failed: \(r.error ?? "")"; f.hint = r.hint
                    return f
                }
            }
            var req = NucleiRequest(slidePath: job.slide, slideID: job.id, outputDirectory: root, parameters: params,
                                    toolVersion: RadioPath.version, command: command)
            req.bagPath = job.bag
            req.region = area
            req.mppOverride = job.mpp
            req.force = force
            req.workers = perJob
            return NucleiJob.run(req) { n in progress.advance(units: n, label: job.id) }
        }, onResult: { _, r in progress.itemFinished(line: Self.statusLine(r), units: 0) })
        progress.finish()

        var all = results.compactMap { $0 }
        all += problems.map { NucleiResult(slideID: SlideInputs.slideID(for: $0.path), path: $0.path, status: .failed, error: $0.reason, hint: $0.hint) }
        let notStarted = results.count - results.compactMap { $0 }.count
        try writeSummary(all, root: root, params: params, command: command, seconds: progress.elapsedSeconds)
        let done = all.filter { $0.status == .done }
        let failed = all.filter { $0.status == .failed }.count
        let skipped = all.filter { $0.status == .skipped }.count
        let nuclei = done.reduce(0) { $0 + $1.nuclei }
        var line = String(format: "cells: %d done, %d skipped, %d failed; %d nuclei in %.1f s (%.0f nuclei/s) → %@", done.count, skipped, failed,
                          nuclei, progress.elapsedSeconds, Double(nuclei) / max(progress.elapsedSeconds, 1e-9), root)
        if notStarted > 0 { line += " (\(notStarted) not started: interrupted; rerun to resume)" }
        FileHandle.standardError.write(Data((line + "\n").utf8))
        if json { print(String(decoding: try TileCommand.encoder.encode(all), as: UTF8.self)) }
        if failed > 0 || notStarted > 0 { throw ExitCode(1) }
    }

    static func checkWritable(_ root: String) throws {
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

    /// The slide of a bag in `dir`: by the file name the bag recorded, else `<id>.<ext>`.
    static func findSlide(in dir: String, id: String, bag: String) -> String {
        let fm = FileManager.default
        var candidates = SlideInputs.slideExtensions.sorted().map { "\(dir)/\(id).\($0)" }
        if let b = try? PatchBag.read(path: bag), case .string(let recorded)? = b.fileAttributes["slide_path"] {
            candidates.insert("\(dir)/\(URL(fileURLWithPath: recorded).lastPathComponent)", at: 0)
        }
        return candidates.first { fm.fileExists(atPath: $0) } ?? candidates[0]
    }

    static func statusLine(_ r: NucleiResult) -> String {
        switch r.status {
        case .done:
            var s = String(format: "✓ %@: %d nuclei in %.1f s (%.0f nuclei/s)", r.slideID, r.nuclei, r.seconds, r.nucleiPerSecond ?? 0)
            if let d = r.nucleiPerMM2, let a = r.areaMM2 { s += String(format: " · %.2f mm² · %.0f /mm²", a, d) }
            for w in r.warnings { s += "\n  ! \(w)" }
            return s
        case .skipped: return "· \(r.slideID): already done (\(r.nuclei) nuclei) — --force redoes it"
        case .failed: return "✗ \(r.path.isEmpty ? r.slideID : r.path): \(r.error ?? "failed")" + (r.hint.map { "\n  → \($0)" } ?? "")
        }
    }

    func writeSummary(_ results: [NucleiResult], root: String, params: NucleiParameters, command: String, seconds: Double) throws {
        let header = ["slide_id", "path", "status", "nuclei", "patches", "area_mm2", "nuclei_per_mm2", "slide_mpp", "analysis_mpp",
                      "threshold", "seconds", "nuclei_per_second", "warnings", "error", "hint"]
        func f(_ v: Double?, _ fmt: String) -> String { v.map { String(format: fmt, $0) } ?? "" }
        let rows = results.map { r in
            [r.slideID, r.path, r.status.rawValue, "\(r.nuclei)", r.patches.map(String.init) ?? "", f(r.areaMM2, "%.6f"), f(r.nucleiPerMM2, "%.1f"),
             f(r.slideMPP, "%.6g"), f(r.analysisMPP, "%.6g"), f(r.threshold, "%.6g"), String(format: "%.3f", r.seconds),
             f(r.nucleiPerSecond, "%.1f"), r.warnings.joined(separator: "; "), r.error ?? "", r.hint ?? ""]
        }
        try AtomicFile.write(Data(CSVTable(header: header, rows: rows).encoded().utf8), to: "\(root)/cells_summary.csv")
        struct Run: Encodable {
            let tool: String, version: String, command: String, parameters: NucleiParameters, features: [String]
            let threads: Int, seconds: Double, slides: [NucleiResult]
        }
        let run = Run(tool: "radiopath", version: RadioPath.version, command: command, parameters: params,
                      features: NucleusFeatures.names(singleChannel: params.stain.isSingleChannel), threads: threads,
                      seconds: seconds, slides: results)
        try AtomicFile.write(try TileCommand.encoder.encode(run), to: "\(root)/cells_run.json")
    }
}
