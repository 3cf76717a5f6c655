import ArgumentParser

/// The command-line program: one subcommand per job; the work lives in the modules.
struct RadioPath: ParsableCommand {
    static let version = "0.1.0"
    static let configuration = CommandConfiguration(
        commandName: "radiopath",
        abstract: "Whole-slide pathology and radiopathomics: slides into patch bags, features and evidence.",
        discussion: """
        Typical run:
          radiopath info slide.svs            what is in a slide, and its scale
          radiopath tile slides/ --out out/   tissue, contours and patch bags
          radiopath stream out/patches/*.h5   patch read throughput (diagnostic)
          radiopath embed out/patches --out out/   patch embeddings
          radiopath train out/features_* --labels l.csv --out m/   MIL model
          radiopath score out/features_* --model m.safetensors --out s/
          radiopath heatmap s/attention/*.h5 --out h/   attention heatmaps
          radiopath cells slides/ --out c/    nuclei, features, QuPath detections
          radiopath pathomics slides/ --out p/   per-patch/slide pathomic tables
          radiopath radiomics --image ct.nii.gz --mask roi.nii.gz   IBSI features
          radiopath register --fixed t2.nii.gz --fixed-mask gland.nii.gz
              --slice 14 --moving section.svs --out reg/   slide ⇄ MRI
          radiopath warp --transform reg/ --direction to-mri ...   map results
          radiopath regions --image t2.nii.gz --mask gland.nii.gz --sectors
              prostate --rings -3,0,3 --out r/   sectors, rings, habitats
          radiopath fuse --cases cases.csv --model late --out f/   region table, fusion
          radiopath model cases.csv --outcome y --out m/   LASSO rad-score,
              AUC with CI, calibration, decision curve, nomogram
          radiopath status out/               catalog: done, failed, running
          radiopath slurm --tasks 8 -- tile slides/ --out out/   job array
          radiopath synth slide --out s.tiff  a synthetic slide with known truth
        Outputs are files other tools read: HDF5 patch bags (CLAM/TRIDENT
        layout), QuPath GeoJSON, PNG, CSV. `radiopath help <subcommand>` for more.
        """,
        version: version,
        subcommands: [InfoCommand.self, TileCommand.self, StreamCommand.self, EmbedCommand.self, TrainCommand.self,
                      ScoreCommand.self, HeatmapCommand.self, CellsCommand.self, PathomicsCommand.self, RadiomicsCommand.self,
                      RegisterCommand.self, WarpCommand.self, RegionsCommand.self, FuseCommand.self, ModelCommand.self,
                      StatusCommand.self, SlurmCommand.self, SynthCommand.self, CellGraphBenchCommand.self]
    )
}

#if canImport(Glibc)
import Glibc

// Slides are read through many large, short-lived buffers (OpenSlide's regions, decoded
// levels, masks). glibc gives each one its own mmap and returns it with munmap, and every
// munmap in a multithreaded process interrupts all cores to flush their TLBs (measured: 40 %
// of a slide's time in the kernel). Keeping such blocks on the heap for reuse removes that;
// the memory held is the same set of buffers, so it stays bounded by batch and tile size.
// mallopt is not in Swift's Glibc module; M_TRIM_THRESHOLD = -1 and M_MMAP_THRESHOLD = -3
// are glibc's fixed ABI values (malloc.h).
if let sym = dlsym(dlopen(nil, RTLD_NOW), "mallopt") {
    let mallopt = unsafeBitCast(sym, to: (@convention(c) (Int32, Int32) -> Int32).self)
    _ = mallopt(-3, 256 << 20)
    _ = mallopt(-1, 512 << 20)
}
#endif

RadioPath.main()
