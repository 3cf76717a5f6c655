// swift-tools-version:6.0
import PackageDescription

// System libraries come from Debian -dev packages (scripts/install-deps) through
// system-library targets; each C module is a module map plus, at most, a tiny shim header.
let optimisedInDebug: [SwiftSetting] = [.unsafeFlags(["-O"], .when(configuration: .debug))]

let package = Package(
    name: "RadioPath",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "radiopath", targets: ["radiopath"]),
        .library(name: "RadioPathKit", targets: ["ImageCore", "SlideIO", "Tiler", "PatchBag", "SlideSynth", "Tabular", "Archive", "SafeTensors", "Embedder", "FeatureExtraction", "Statistics", "Heatmap", "MIL", "ZlibIO", "VolumeIO", "Radiomics", "Cells", "Pathomics", "Registration", "Regions", "Fusion", "SeededRandom"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        .systemLibrary(name: "COpenSlide", pkgConfig: "openslide", providers: [.apt(["libopenslide-dev"])]),
        .systemLibrary(name: "CBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CHDF5", pkgConfig: "hdf5", providers: [.apt(["libhdf5-dev"])]),
        .systemLibrary(name: "CTurboJPEG", pkgConfig: "libturbojpeg", providers: [.apt(["libturbojpeg0-dev"])]),
        .systemLibrary(name: "CTIFF", pkgConfig: "libtiff-4", providers: [.apt(["libtiff-dev"])]),
        .systemLibrary(name: "CPNG", pkgConfig: "libpng", providers: [.apt(["libpng-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),

        .target(name: "ImageCore", dependencies: ["CPNG", "CTurboJPEG", "CTIFF"], swiftSettings: optimisedInDebug),
        .target(name: "SlideIO", dependencies: ["COpenSlide", "CTIFF", "ImageCore"]),
        .target(name: "PatchBag", dependencies: ["CHDF5"]),
        .target(name: "Tiler", dependencies: ["SlideIO", "ImageCore", "PatchBag"]),
        // The one seeded random source (SplitMix64): same seed, same numbers everywhere.
        .target(name: "SeededRandom"),
        .target(name: "SlideSynth", dependencies: ["ImageCore", "CTIFF", "CTurboJPEG", "SeededRandom"]),
        .target(name: "Tabular"),
        .target(name: "Archive", dependencies: ["Tabular", "CSQLite"]),
        // Inference and hashing are optimised in debug builds too: `swift test` runs real
        // networks on real patches, which unoptimised Swift makes 20× slower.
        .target(name: "SafeTensors"),
        .target(name: "VectorMath", swiftSettings: optimisedInDebug),
        .target(name: "Embedder", dependencies: ["CBLAS", "ImageCore", "SafeTensors", "VectorMath"], swiftSettings: optimisedInDebug),
        // Classifier evaluation (ROC, DeLong, bootstrap); pure Swift so any module may use it.
        // Optimised in debug too: tests run thousands of bootstrap resamples.
        .target(name: "Statistics", dependencies: ["SeededRandom"], swiftSettings: optimisedInDebug),
        // Attention-MIL training runs GEMMs and element-wise loops on every patch of every bag.
        .target(name: "MIL", dependencies: ["CBLAS", "SafeTensors", "Tabular", "VectorMath", "SeededRandom"], swiftSettings: optimisedInDebug),
        .target(name: "FeatureExtraction", dependencies: ["Embedder", "SlideIO", "PatchBag", "Archive"]),
        // CTIFF: the overlay copies untouched JPEG tiles of the slide's TIFF as they are;
        // CTurboJPEG: it encodes RGB-coded tiles (no colour transform) for RGB-coded slides.
        .target(name: "Heatmap", dependencies: ["ImageCore", "SlideIO", "PatchBag", "SlideSynth", "CTIFF", "CTurboJPEG", "ZlibIO"],
                swiftSettings: optimisedInDebug),
        // gzip/deflate for .nii.gz, NRRD and gzipped GeoJSON.
        .target(name: "ZlibIO", dependencies: ["CZlib"]),
        // Nuclei, per-nucleus features and cell graphs: pixel loops over whole slides.
        .target(name: "Cells", dependencies: ["ImageCore", "SlideIO", "PatchBag", "ZlibIO", "CHDF5"], swiftSettings: optimisedInDebug),
        .target(name: "Pathomics", dependencies: ["Cells", "ImageCore", "Tabular", "SlideIO", "PatchBag"], swiftSettings: optimisedInDebug),
        // Volumes in patient millimetres (LPS) from NIfTI, NRRD and DICOM.
        .target(name: "VolumeIO", dependencies: ["ZlibIO"], swiftSettings: optimisedInDebug),
        // IBSI features and filters: voxel loops, optimised in debug so tests run real volumes.
        .target(name: "Radiomics", dependencies: ["VolumeIO"], swiftSettings: optimisedInDebug),
        // 2D/3D image registration: metric and gradient loops over every sample at every iteration.
        .target(name: "Registration", dependencies: ["VolumeIO", "ZlibIO", "ImageCore", "SlideIO", "Tiler", "SeededRandom"], swiftSettings: optimisedInDebug),
        // MRI/CT regions (ROIs, habitats, rings, atlas sectors) and their mapping to slides.
        .target(name: "Regions", dependencies: ["SeededRandom", "VolumeIO", "Registration", "Radiomics", "ImageCore"], swiftSettings: optimisedInDebug),
        // Region table (radiomics + pathology evidence per region) and early/late fusion models.
        .target(name: "Fusion", dependencies: ["Regions", "Statistics", "Radiomics", "Registration", "VolumeIO", "PatchBag", "Tabular", "ImageCore"]),
        .executableTarget(name: "radiopath", dependencies: [
            "ImageCore", "SlideIO", "Tiler", "PatchBag", "SlideSynth", "Tabular", "Archive", "Embedder", "FeatureExtraction", "Statistics", "Heatmap", "MIL", "VolumeIO", "Radiomics", "Cells", "Pathomics", "Registration", "Regions", "Fusion", "ZlibIO",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        // Shared test helpers (test data lookup, Python peers, scratch folders); not shipped.
        .target(name: "TestSupport", dependencies: ["SeededRandom"], path: "Tests/TestSupport"),
        .testTarget(name: "ImageCoreTests", dependencies: ["ImageCore", "TestSupport"]),
        .testTarget(name: "SlideIOTests", dependencies: ["SlideIO", "ImageCore", "CTIFF", "SlideSynth", "TestSupport"]),
        .testTarget(name: "PatchBagTests", dependencies: ["PatchBag", "TestSupport"]),
        .testTarget(name: "TilerTests", dependencies: ["Tiler", "SlideSynth", "SlideIO", "PatchBag", "TestSupport"]),
        .testTarget(name: "SlideSynthTests", dependencies: ["SlideSynth", "ImageCore", "COpenSlide", "CTIFF", "TestSupport"]),
        .testTarget(name: "SafeTensorsTests", dependencies: ["SafeTensors", "TestSupport"]),
        .testTarget(name: "EmbedderTests", dependencies: ["Embedder", "SafeTensors", "ImageCore", "SlideIO", "TestSupport"],
                    exclude: ["Fixtures"]),
        .testTarget(name: "FeatureExtractionTests", dependencies: ["FeatureExtraction", "Embedder", "SafeTensors", "PatchBag", "SlideIO", "Tiler", "TestSupport"]),
        .testTarget(name: "TabularTests", dependencies: ["Tabular"]),
        .testTarget(name: "VectorMathTests", dependencies: ["VectorMath"]),
        .testTarget(name: "StatisticsTests", dependencies: ["Statistics", "TestSupport"]),
        .testTarget(name: "HeatmapTests", dependencies: ["Heatmap", "ImageCore", "SlideIO", "PatchBag", "SlideSynth", "TestSupport"]),
        .testTarget(name: "MILTests", dependencies: ["MIL", "SeededRandom", "SafeTensors", "TestSupport"], exclude: ["Fixtures"]),
        .testTarget(name: "ArchiveTests", dependencies: ["Archive", "TestSupport"]),
        .testTarget(name: "ZlibIOTests", dependencies: ["ZlibIO", "TestSupport"]),
        .testTarget(name: "CellsTests", dependencies: ["Cells", "ImageCore", "SlideIO", "SlideSynth", "PatchBag", "TestSupport"]),
        .testTarget(name: "PathomicsTests", dependencies: ["Pathomics", "Cells", "ImageCore", "TestSupport"]),
        .testTarget(name: "VolumeIOTests", dependencies: ["VolumeIO", "ZlibIO", "TestSupport"]),
        .testTarget(name: "RadiomicsTests", dependencies: ["Radiomics", "VolumeIO", "TestSupport"]),
        .testTarget(name: "RegistrationTests", dependencies: ["Registration", "SeededRandom", "VolumeIO", "ImageCore", "TestSupport"]),
        .testTarget(name: "RegionsTests", dependencies: ["Regions", "VolumeIO", "Registration", "TestSupport"]),
        .testTarget(name: "FusionTests", dependencies: ["Fusion", "Regions", "Statistics", "VolumeIO", "PatchBag", "Registration", "TestSupport"]),
        .testTarget(name: "RadioPathCLITests", dependencies: ["PatchBag", "MIL", "Tabular", "VolumeIO", "Registration", "ImageCore", "TestSupport"]),
    ],
    swiftLanguageModes: [.v5]
)
