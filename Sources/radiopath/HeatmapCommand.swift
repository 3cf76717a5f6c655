import ArgumentParser
import Foundation
import Heatmap
import ImageCore
import PatchBag
import SlideIO

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
        let bag = try PatchBag.read(path: path, scores: [score])
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
        if let mask { map.tissueMask = try PNGCodec.decodeGray(Data(contentsOf: URL(fileURLWithPath: mask))) }
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
            if let mask { writer.tissueMask = try PNGCodec.decodeGray(Data(contentsOf: URL(fileURLWithPath: mask))) }
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
}
