import ArgumentParser

/// The command-line program: one subcommand per job; the work lives in the modules.
struct RadioPath: ParsableCommand {
    static let version = "0.1.0"
    static let configuration = CommandConfiguration(
        commandName: "radiopath",
        abstract: "Whole-slide pathology and radiopathomics: slides into patch bags, features and evidence.",
        discussion: """
        Typical run:
          radiopath info slide.svs                 what is in a slide, and its scale
          radiopath tile slides/ --out out/        tissue masks, contours and patch bags
          radiopath synth slide --out s.tiff       a synthetic slide with known truth
        Outputs are files other tools read: HDF5 patch bags (CLAM/TRIDENT layout), QuPath GeoJSON, PNG.
        """,
        version: version,
        subcommands: [InfoCommand.self, TileCommand.self, SynthCommand.self]
    )
}

RadioPath.main()
