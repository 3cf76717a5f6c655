import ArgumentParser
import Foundation
import SlideSynth

struct SynthCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "synth",
        abstract: "Generate synthetic data with known ground truth (for tests, demos and benchmarks).",
        subcommands: [SynthSlideCommand.self])
}

struct SynthSlideCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "slide",
        abstract: "Write a pyramidal JPEG TIFF (Aperio-style) with tissue, nuclei, tumour and a pen mark, plus its truth.",
        discussion: """
        The slide opens in OpenSlide (as Aperio) like a scanner's SVS. Memory
        stays bounded by one row of tiles, so 100,000 × 80,000 px slides are
        fine. Ground truth goes to --truth (default: <out>.truth/):
        tissue_mask.png, tumour.geojson, nuclei.csv and truth.json.
        """)

    @Option(help: "Level-0 width in px.") var width = 20_000
    @Option(help: "Level-0 height in px.") var height = 16_000
    @Option(name: .long, help: "Output .tiff (or .svs) path.") var out: String
    @Option(help: "µm/px at level 0.") var mpp = 0.25
    @Option(help: "Objective magnification written to the file.") var magnification = 40.0
    @Option(help: "Seed: the same seed gives the same bytes.") var seed: UInt64 = 1
    @Option(name: .customLong("tissue-regions"), help: "Number of tissue pieces.") var tissueRegions = 3
    @Option(name: .customLong("tile-size"), help: "TIFF tile size in px.") var tileSize = 256
    @Option(help: "JPEG quality 1–100.") var quality = 85
    @Flag(name: .customLong("no-pen-mark"), help: "Leave out the marker-ink stroke on the glass.") var noPenMark = false
    @Flag(name: .customLong("no-nuclei-truth"), help: "Do not write nuclei.csv (saves space on huge slides).") var noNucleiTruth = false
    @Flag(name: .customLong("no-tumour"), help: "No tumour regions: a negative slide (same tissue layout for the seed).") var noTumour = false
    @Option(help: "Ground-truth folder.") var truth: String?

    func validate() throws {
        guard width >= 256, height >= 256, width <= 1_000_000, height <= 1_000_000 else {
            throw ValidationError("--width/--height must be 256–1,000,000 px")
        }
        guard (0.05...50).contains(mpp) else { throw ValidationError("--mpp must be 0.05–50 µm/px") }
        guard tileSize % 16 == 0, (64...2048).contains(tileSize) else { throw ValidationError("--tile-size must be a multiple of 16 in 64–2048") }
        guard (1...100).contains(quality) else { throw ValidationError("--quality must be 1–100") }
    }

    func run() throws {
        var spec = SyntheticSlideSpec(width: width, height: height)
        spec.mpp = mpp
        spec.magnification = magnification
        spec.seed = seed
        spec.tissueRegions = tissueRegions
        spec.tileSize = tileSize
        spec.jpegQuality = quality
        spec.penMark = !noPenMark
        spec.writeNucleiTruth = !noNucleiTruth
        spec.tumour = !noTumour
        let truthDir = truth ?? (URL(fileURLWithPath: out).deletingPathExtension().path + ".truth")
        let start = Date()
        let isTTY = isatty(STDERR_FILENO) != 0
        var lastShown = -1
        try SlideSynth.write(spec, to: out, truthDirectory: truthDir) { f in
            let pct = Int(f * 100)
            if pct != lastShown && (isTTY || pct % 10 == 0) {
                lastShown = pct
                FileHandle.standardError.write(Data(((isTTY ? "\r" : "") + "synth: \(pct)%" + (isTTY ? "" : "\n")).utf8))
            }
        }
        if isTTY { FileHandle.standardError.write(Data("\r\u{1B}[2K".utf8)) }
        print(String(format: "wrote %@ (%d × %d px, %.3g µm/px) in %.1f s; truth in %@", out, width, height, mpp,
                     Date().timeIntervalSince(start), truthDir))
    }
}
