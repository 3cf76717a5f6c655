import ArgumentParser
import Foundation
import Registration
import SlideSynth
import VolumeIO

struct SynthCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "synth",
        abstract: "Generate synthetic data with known ground truth (for tests, demos and benchmarks).",
        subcommands: [SynthSlideCommand.self, SynthSectionCommand.self])
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

/// `radiopath synth section`: histology-like sections rendered from an MRI slice through a known
/// map — the registration bench cases (issue 8, item 6).
struct SynthSectionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "section",
        abstract: "Write histology-like sections of MRI slices with a known mirror, rotation, shrinkage and smooth warp.",
        discussion: """
        Case n uses slice --slices[n mod count] and seed --seed + n, and goes to
        <out>/case<n>/: fixed.nii + fixed_mask.nii (the MRI slice and organ as
        one-slice volumes), section.png + section_mask.png (one pixel = --mpp µm),
        MetaImage copies for elastix (fixed, fixed_mask, moving, moving_mask,
        region .mha; the section block-averaged to --working-mpp),
        truth_displacement.nii (true MRI mm → slide mm field),
        landmarks.csv (60 interior points, register's format) and case.json.
        Register one with: radiopath register --fixed fixed.nii --fixed-mask
        fixed_mask.nii --slice 0 --moving section.png --moving-mpp <mpp>
        --moving-mask section_mask.png --working-mpp <working-mpp>
        --landmarks landmarks.csv --out DIR
        """)

    @Option(help: "MRI volume (NIfTI, NRRD or DICOM folder).") var mri: String
    @Option(help: "Organ label on the MRI grid.") var label: String
    @Option(help: "Slice indices (0-based, comma-separated) cycled over the cases.") var slices = "13,14,15"
    @Option(help: "Number of cases.") var cases = 1
    @Option(help: "Seed of case 0 (case n uses seed + n).") var seed: UInt64 = 100
    @Option(help: "µm per section pixel.") var mpp = 50.0
    @Option(help: "Section width and height in px.") var size = 1500
    @Option(name: .customLong("working-mpp"), help: "µm/px of the MetaImage copies for elastix (a multiple of --mpp; give the same to register).") var workingMPP = 250.0
    @Option(name: .customLong("mri-texture"), help: "1: tissue luminance follows the MRI signal; 0: nuclei only (outline-driven).") var mriTexture = 1.0
    @Option(help: "Section colour: grey (the registration cases) or he (H&E-like, same optical density; for tile, cells, pathomics).") var stain = "grey"
    @Option(help: "Output folder.") var out: String

    func run() throws {
        guard stain == "grey" || stain == "he" else { throw ValidationError("--stain \(stain): use grey or he") }
        let ks = slices.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        let factor = Int((workingMPP / mpp).rounded())
        guard !ks.isEmpty, cases >= 1, (1...100).contains(mpp), (32...8000).contains(size), (0...1).contains(mriTexture),
              factor >= 1, abs(Double(factor) * mpp - workingMPP) < 1e-6 * workingMPP else {
            throw ValidationError("need --slices K[,K…], --cases ≥ 1, --mpp 1–100 (µm, as a slide), --size 32–8000, --mri-texture 0–1, --working-mpp a multiple of --mpp")
        }
        let volume = try VolumeFile.read(mri), organ = try VolumeFile.read(label)
        guard organ.hasSameGrid(as: volume) else { throw ValidationError("\(label): not on the grid of \(mri)") }
        let sp = mpp / 1000
        for n in 0..<cases {
            let p = SyntheticSection.parameters(slice: ks[n % ks.count], seed: seed &+ UInt64(n))
            let s: SyntheticSection
            do {
                s = try SyntheticSection(mri: volume, label: organ, p, spacing: sp, size: size, mriTexture: mriTexture, movingOrigin: SIMD2(sp, sp) / 2)
            } catch let e as RegistrationError {
                throw ValidationError("\(label), slice \(p.slice): \(e.reason) — \(e.hint)")
            }
            let dir = out + "/case\(n)"
            try s.writeCase(to: dir, parameters: p, mri: volume, label: organ, workingFactor: factor, stained: stain == "he")
            print("wrote \(dir): \(p)")
        }
    }
}
