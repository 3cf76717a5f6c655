import ArgumentParser
import Embedder
import FeatureExtraction
import Foundation
import Heatmap
import ImageCore
import MIL
import PatchBag
import SlideIO
import Tiler

/// `radiopath heatmap`: per-patch scores painted back onto the slide.
struct HeatmapCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "heatmap",
        abstract: "Paint per-patch scores (MIL attention or any column) over the slide.",
        discussion: """
        SCORES are files with coords and a per-patch score column: the
        attention/<id>.h5 files of `radiopath score` (column attention), or any
        bag with --score NAME. The slide is the one the file records (or found
        in --slides-dir). Per slide, under --out:
          <id>_heatmap.png       the slide at --downsample with the normalised
                                 scores (overlap-averaged, optionally blurred
                                 and limited to tissue) blended in, a colour
                                 bar and a title (.jpg with --format jpg)
          <id>_overlay.tiff      with --full-res: a pyramidal TIFF of the whole
                                 slide with the heatmap blended in, written tile
                                 by tile (opens in QuPath and OpenSlide)
          <id>_patches.geojson   with --geojson: one detection per patch, with
                                 measurements score and percentile (QuPath)
          <id>_top<k>.png, <id>_bottom<k>.png   with --top-k K: the K highest
                                 and lowest scoring patches with their scores
        Scores are normalised per slide: percentile (CLAM's default), rank,
        minmax, or fixed (0–1 as given, e.g. probabilities).

        --overlap 0.5 (CLAM's heatmaps): the slide is tiled again with the
        recorded tiling parameters and half-patch steps, embedded with the
        recorded encoder (--weights for one that needs a file) and scored with
        the recorded model (or --model); overlapping patches are averaged.
        The dense grid, its features and attention go under <out>/overlap/.
        """)

    @Argument(help: "Score files (.h5 with coords and a score column).")
    var scores: [String]

    @Option(help: "Output folder.")
    var out: String

    @Option(help: "Score column to paint.")
    var score = "attention"

    @Option(help: "Normalisation: percentile, rank, minmax or fixed.")
    var normalise = "percentile"

    @Option(help: "Colormap: jet, coolwarm, viridis, magma, inferno, RdBu_r, or a CSV file.")
    var cmap = "jet"

    @Option(help: "Opacity of the colours over the slide (0–1).")
    var alpha = 0.4

    @Option(help: "Level-0 pixels per heatmap pixel.")
    var downsample = 32.0

    @Option(name: .customLong("blur-um"), help: "Gaussian smoothing sigma in µm (0 = none).")
    var blurUm = 0.0

    @Option(help: "Tissue mask PNG (e.g. the tile run's masks/<id>.png); nothing is painted outside it.")
    var mask: String?

    @Option(name: .customLong("slides-dir"), help: "Folder holding the slides, when they moved.")
    var slidesDir: String?

    @Flag(name: .customLong("full-res"), help: "Also write a full-resolution pyramidal TIFF overlay.")
    var fullRes = false

    @Flag(help: "Also write a QuPath GeoJSON of the patches with their scores.")
    var geojson = false

    @Option(name: .customLong("top-k"), help: "Also write galleries of the K highest and lowest scoring patches.")
    var topK = 0

    @Option(help: "Heatmap image format: png or jpg.")
    var format = "png"

    @Option(help: "Re-tile with this overlap (0–0.9 of a patch), embed and score before painting.")
    var overlap = 0.0

    @Option(help: "With --overlap: the encoder's weight file (encoders that need one).")
    var weights: String?

    @Option(help: "With --overlap: the MIL model (default: the one the score file records).")
    var model: String?

    func validate() throws {
        guard (0..<0.95).contains(overlap) else { throw ValidationError("--overlap must be in [0, 0.95)") }
    }

    func run() throws {
        let norm: ScoreNormalisation
        switch normalise {
        case "percentile": norm = .percentile()
        case "rank": norm = .rank
        case "minmax": norm = .minMax
        case "fixed": norm = .fixed(low: 0, high: 1)
        default:   // exit 2 like the other bad arguments (a ValidationError would exit 64)
            FileHandle.standardError.write(Data("✗ --normalise \(normalise): must be percentile, rank, minmax or fixed\n".utf8))
            throw ExitCode(2)
        }
        let colormap: Colormap
        do { colormap = try Colormap.named(cmap) } catch { FileHandle.standardError.write(Data("✗ \(error)\n".utf8)); throw ExitCode(2) }
        let root = URL(fileURLWithPath: out).standardizedFileURL.path
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        var failed = 0
        for path in scores {
            let id = URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
            let t0 = DispatchTime.now().uptimeNanoseconds
            do {
                var written = try render(path, id: id, root: root, norm: norm, colormap: colormap)
                written += String(format: " (%.1f s)", Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
                FileHandle.standardError.write(Data("✓ \(id): \(written)\n".utf8))
            } catch {
                failed += 1
                FileHandle.standardError.write(Data("✗ \(path): \(error)\n".utf8))
            }
        }
        if failed > 0 { throw ExitCode(1) }
    }

    func render(_ path: String, id: String, root: String, norm: ScoreNormalisation, colormap: Colormap) throws -> String {
        var bag = try PatchBag.read(path: path, scores: [score])
        if overlap > 0 { bag = try rescoreWithOverlap(bag, path: path, id: id, root: root) }
        guard let raw = bag.scores[score] else {
            throw HeatmapError(path: path, reason: "has no per-patch column '\(score)'",
                               hint: "score the slide with radiopath score, or name the column with --score")
        }
        guard case .string(var slidePath)? = bag.fileAttributes["slide_path"] else {
            throw HeatmapError(path: path, reason: "does not record its slide (slide_path)", hint: "pass a file written by radiopath score")
        }
        if let dir = slidesDir { slidePath = dir + "/" + URL(fileURLWithPath: slidePath).lastPathComponent }
        let slide = try Slide.open(path: slidePath)
        let patches = try PatchSet.from(bag: bag, slide: slide, bagPath: path)
        let values = raw.map(Double.init)
        let normalised = try norm.apply(values)

        var map = SlideHeatmap(colormap: colormap)
        map.alpha = alpha
        map.downsample = downsample
        if blurUm > 0 { map.smoothing = .micrometres(blurUm) }
        let tissueMask = try mask.map { try PNGCodec.decodeGray(Data(contentsOf: URL(fileURLWithPath: $0))) }
        map.tissueMask = tissueMask
        var lines = ["\(score), \(normalise), \(bag.count) patches"]
        if case .doubles(let p)? = bag.fileAttributes["slide_probabilities"], case .string(let names)? = bag.fileAttributes["classes"] {
            let c = names.split(separator: ",").map(String.init)
            lines.append(zip(c, p).map { String(format: "p(%@) = %.3f", $0, $1) }.joined(separator: "  "))
        }
        map.legend = HeatmapLegend(title: id, lines: lines, barLabel: score, ticks: HeatmapLegend.ticks(for: norm, scores: values))
        let image = try map.render(slide: slide, patches: patches, values: normalised)
        var written = ["\(id)_heatmap.\(format)"]
        try SlideHeatmap.save(image, to: "\(root)/\(id)_heatmap.\(format)")

        if fullRes {
            var writer = HeatmapOverlayWriter(colormap: colormap)
            writer.alpha = alpha
            writer.tissueMask = tissueMask
            let grid = ScoreMap.compact(patches: patches, values: normalised, slideWidth: slide.width, slideHeight: slide.height)
            try writer.write(slide: slide, scores: grid, to: "\(root)/\(id)_overlay.tiff")
            written.append("\(id)_overlay.tiff")
        }
        if geojson {
            let pct = try ScoreNormalisation.percentile().apply(values).map { $0 * 100 }
            try HeatmapGeoJSON.write(patches: patches, scores: values, percentiles: pct, slideID: id, to: "\(root)/\(id)_patches.geojson")
            written.append("\(id)_patches.geojson")
        }
        if topK > 0 {
            for order in [PatchGallery.Order.highest, .lowest] {
                var g = PatchGallery(k: topK, order: order)
                g.title = "\(id): \(order == .highest ? "highest" : "lowest") \(score)"
                let name = "\(id)_\(order == .highest ? "top" : "bottom")\(topK).png"
                try SlideHeatmap.save(try g.render(slide: slide, patches: patches, scores: values), to: "\(root)/\(name)")
                written.append(name)
            }
        }
        return written.joined(separator: ", ")
    }

    /// Tiles the slide again with the recorded tiling parameters and `overlap`, embeds the
    /// patches with the recorded encoder and scores them with the model; returns the dense
    /// grid's attention file. Intermediate bags stay under <out>/overlap/ (reused on reruns).
    func rescoreWithOverlap(_ scored: PatchBagContents, path: String, id: String, root: String) throws -> PatchBagContents {
        func recorded(_ key: String) throws -> String {
            guard case .string(let v)? = scored.fileAttributes[key], !v.isEmpty else {
                throw HeatmapError(path: path, reason: "does not record \(key), needed to re-tile, embed and score with --overlap",
                                   hint: "pass an attention file written by radiopath score from embedded bags")
            }
            return v
        }
        var preset = try TilingPreset.parse(try recorded("tiling_parameters"), name: "recorded", file: path)
        try preset.set("overlap", "\(Int((Double(preset.grid.patchSize) * overlap).rounded()))")
        var slidePath = try recorded("slide_path")
        if let dir = slidesDir { slidePath = dir + "/" + URL(fileURLWithPath: slidePath).lastPathComponent }
        let layout = TileOutputLayout(root: root + "/overlap")
        let tiled = TileJob.run(TileRequest(slidePath: slidePath, slideID: id, layout: layout, preset: preset,
                                            mppOverride: nil, force: false, toolVersion: RadioPath.version))
        guard tiled.status != .failed else {
            throw HeatmapError(path: slidePath, reason: "re-tiling failed: \(tiled.error ?? "")", hint: tiled.hint ?? "")
        }
        let encoder = try EncoderRegistry.make(try recorded("encoder"), weights: weights)
        let features = "\(root)/overlap/features_\(encoder.name)/\(id).h5"
        var req = EmbedRequest(bagPath: layout.bag(id), slideID: id, outputPath: features, toolVersion: RadioPath.version,
                               command: "radiopath heatmap --overlap \(overlap)")
        req.decodeWorkers = max(1, Compute.threads / 2)
        let embedded = EmbedJob.run(req, encoder: encoder)
        guard embedded.status != .failed else {
            throw HeatmapError(path: slidePath, reason: "embedding the overlapping patches failed: \(embedded.error ?? "")", hint: embedded.hint ?? "")
        }
        let mil = try MILModel(contentsOf: try model ?? recorded("mil_model"))
        var bag = try PatchBag.read(path: features)
        let s = try mil.score(try MILBag(bag, path: features), id: id)
        bag.features = nil; bag.featureDim = nil
        bag.scores = ["attention": s.attention, "attention_raw": s.attentionRaw]
        bag.fileAttributes["slide_probabilities"] = .doubles(s.probabilities.map(Double.init))
        bag.fileAttributes["classes"] = scored.fileAttributes["classes"]
        try PatchBag.write(path: "\(root)/overlap/attention/\(id).h5", coords: bag.coords, coordsAttributes: bag.coordsAttributes,
                           tissueFraction: nil, scores: bag.scores, fileAttributes: bag.fileAttributes)
        return bag
    }
}
