import Foundation
import ImageCore

/// Tissue-detection parameters (CLAM's segmentation, with areas in physical units).
public struct TissueParameters: Codable, Equatable, Sendable {
    /// Segment at the pyramid level nearest this downsample (CLAM: seg_level -1 → 64×).
    public var segmentationDownsample: Double = 64
    /// Threshold on median-blurred HSV saturation, 0–255 (CLAM sthresh).
    public var saturationThreshold: Int = 8
    /// Otsu's threshold instead of the fixed one (CLAM use_otsu).
    public var useOtsu: Bool = false
    /// Median blur window, odd (CLAM mthresh).
    public var medianSize: Int = 7
    /// Square closing kernel, 0 = none (CLAM close).
    public var closeSize: Int = 4
    /// Smallest tissue piece kept, holes subtracted (CLAM a_t, which counts 512² level-0 px).
    public var minTissueAreaMM2: Double = 0.1
    /// Smallest hole kept as a hole; smaller ones are filled (CLAM a_h).
    public var minHoleAreaMM2: Double = 0.02
    /// Largest holes kept per tissue piece (CLAM max_n_holes).
    public var maxHoles: Int = 8
    /// Treat blue/green marker ink as glass.
    public var rejectPenMarks: Bool = true
    /// Pixels whose brightest channel is below this are not tissue (black ink, dust, slide edges); 0 = off.
    public var blackThreshold: Int = 50

    public init() {}
}

/// Patch-grid parameters: patches of `patchSize` px at a physical scale.
public struct GridParameters: Codable, Equatable, Sendable {
    public var patchSize: Int = 256
    /// Target µm/px; ignored when `magnification` is set.
    public var targetMPP: Double? = 0.5
    /// Target magnification (e.g. 20); downsample = objective power / magnification when the slide states it.
    public var magnification: Double? = nil
    /// Overlap between neighbouring patches, in target px.
    public var overlap: Int = 0
    /// Smallest fraction of a patch's area that must be tissue (0 keeps any patch touching tissue).
    public var minTissueFraction: Double = 0.5

    public init() {}
}

/// A named set of tiling parameters, read from a preset file in `Tiling/`.
///
/// The format is one `key = value` per line with `#` comments, so presets stay readable
/// and diffable. Every key is optional; missing keys keep the built-in defaults.
public struct TilingPreset: Equatable, Sendable {
    public var name: String
    public var tissue = TissueParameters()
    public var grid = GridParameters()

    public init(name: String) { self.name = name }

    public struct ParseError: Error, CustomStringConvertible {
        public let file: String, line: Int, message: String
        public var description: String { "\(file):\(line): \(message)" }
    }

    /// Every key a preset file may set, with what it means (shown by `radiopath tile --help`).
    public static let keys: [(key: String, meaning: String)] = [
        ("segmentation_downsample", "segment at the pyramid level nearest this downsample (CLAM: 64)"),
        ("saturation_threshold", "fixed threshold on median-blurred HSV saturation, 0-255"),
        ("use_otsu", "true: Otsu's threshold instead of the fixed one"),
        ("median_size", "median blur window (odd px at segmentation level)"),
        ("close_size", "morphological closing kernel (px at segmentation level, 0 = off)"),
        ("min_tissue_area_mm2", "smallest tissue piece kept (mm², holes subtracted)"),
        ("min_hole_area_mm2", "smallest hole kept as a hole (mm²); smaller holes are filled"),
        ("max_holes", "largest holes kept per tissue piece"),
        ("reject_pen_marks", "true: blue/green marker ink is glass"),
        ("black_threshold", "pixels darker than this in every channel are not tissue (0 = off)"),
        ("patch_size", "patch width and height in px at the target scale"),
        ("target_mpp", "target scale in µm/px"),
        ("magnification", "target magnification (instead of target_mpp)"),
        ("overlap", "overlap between patches in target px"),
        ("min_tissue_fraction", "smallest tissue fraction of a kept patch, 0-1"),
    ]

    /// Parses preset text; `file` names it in errors.
    public static func parse(_ text: String, name: String, file: String) throws -> TilingPreset {
        var p = TilingPreset(name: name)
        for (i, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty { continue }
            let parts = trimmed.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2, !parts[0].isEmpty else {
                throw ParseError(file: file, line: i + 1, message: "expected 'key = value', found '\(trimmed)'")
            }
            do { try p.set(parts[0], parts[1]) } catch let e as ParseError {
                throw ParseError(file: file, line: i + 1, message: e.message)
            }
        }
        return p
    }

    /// Sets one key from its text value (preset files and `--set key=value` share this).
    public mutating func set(_ key: String, _ value: String) throws {
        func num() throws -> Double {
            guard let v = Double(value), v.isFinite else { throw ParseError(file: "", line: 0, message: "\(key): '\(value)' is not a number") }
            return v
        }
        func int() throws -> Int {
            guard let v = Int(value) else { throw ParseError(file: "", line: 0, message: "\(key): '\(value)' is not a whole number") }
            return v
        }
        func bool() throws -> Bool {
            switch value.lowercased() {
            case "true", "yes", "1": return true
            case "false", "no", "0": return false
            default: throw ParseError(file: "", line: 0, message: "\(key): '\(value)' is not true or false")
            }
        }
        switch key {
        case "segmentation_downsample": tissue.segmentationDownsample = try num()
        case "saturation_threshold": tissue.saturationThreshold = try int()
        case "use_otsu": tissue.useOtsu = try bool()
        case "median_size": tissue.medianSize = try int()
        case "close_size": tissue.closeSize = try int()
        case "min_tissue_area_mm2": tissue.minTissueAreaMM2 = try num()
        case "min_hole_area_mm2": tissue.minHoleAreaMM2 = try num()
        case "max_holes": tissue.maxHoles = try int()
        case "reject_pen_marks": tissue.rejectPenMarks = try bool()
        case "black_threshold": tissue.blackThreshold = try int()
        case "patch_size": grid.patchSize = try int()
        case "target_mpp": grid.targetMPP = try num(); grid.magnification = nil
        case "magnification": grid.magnification = try num()
        case "overlap": grid.overlap = try int()
        case "min_tissue_fraction": grid.minTissueFraction = try num()
        default:
            let known = Self.keys.map(\.key).joined(separator: ", ")
            throw ParseError(file: "", line: 0, message: "unknown key '\(key)' (known: \(known))")
        }
        try validate(key)
    }

    private func validate(_ key: String) throws {
        func bad(_ m: String) -> ParseError { ParseError(file: "", line: 0, message: "\(key): \(m)") }
        if tissue.segmentationDownsample < 1 { throw bad("must be ≥ 1") }
        if !(0...255).contains(tissue.saturationThreshold) { throw bad("must be 0–255") }
        if tissue.medianSize < 1 || tissue.medianSize % 2 == 0 { throw bad("must be an odd number ≥ 1") }
        if tissue.closeSize < 0 || tissue.maxHoles < 0 { throw bad("must be ≥ 0") }
        if tissue.minTissueAreaMM2 < 0 || tissue.minHoleAreaMM2 < 0 { throw bad("must be ≥ 0") }
        if !(0...255).contains(tissue.blackThreshold) { throw bad("must be 0–255") }
        if grid.patchSize < 8 || grid.patchSize > 16384 { throw bad("patch size must be 8–16384 px") }
        if let m = grid.targetMPP, !(m > 0.01 && m < 1000) { throw bad("target mpp must be between 0.01 and 1000 µm/px") }
        if let m = grid.magnification, !(m > 0.01 && m <= 1000) { throw bad("magnification must be between 0.01 and 1000") }
        if grid.overlap < 0 || grid.overlap >= grid.patchSize { throw bad("overlap must be ≥ 0 and smaller than the patch size") }
        if !(0...1).contains(grid.minTissueFraction) { throw bad("must be between 0 and 1") }
    }

    /// Serialises the preset back to its file format (recorded as provenance).
    public var text: String {
        var lines = ["# preset \(name)"]
        lines.append("segmentation_downsample = \(tissue.segmentationDownsample)")
        lines.append("saturation_threshold = \(tissue.saturationThreshold)")
        lines.append("use_otsu = \(tissue.useOtsu)")
        lines.append("median_size = \(tissue.medianSize)")
        lines.append("close_size = \(tissue.closeSize)")
        lines.append("min_tissue_area_mm2 = \(tissue.minTissueAreaMM2)")
        lines.append("min_hole_area_mm2 = \(tissue.minHoleAreaMM2)")
        lines.append("max_holes = \(tissue.maxHoles)")
        lines.append("reject_pen_marks = \(tissue.rejectPenMarks)")
        lines.append("black_threshold = \(tissue.blackThreshold)")
        lines.append("patch_size = \(grid.patchSize)")
        if let m = grid.magnification { lines.append("magnification = \(m)") } else if let m = grid.targetMPP { lines.append("target_mpp = \(m)") }
        lines.append("overlap = \(grid.overlap)")
        lines.append("min_tissue_fraction = \(grid.minTissueFraction)")
        return lines.joined(separator: "\n") + "\n"
    }
}

/// Finds preset files: `Tiling/<name>.conf` shipped with the package.
public enum PresetLibrary {
    /// Folders searched in order: $RADIOPATH_PRESETS, the package's Tiling/ (found from the
    /// executable's location and from the source tree), then ./Tiling.
    public static func searchFolders(executablePath: String = CommandLine.arguments.first ?? "") -> [String] {
        PackageResources.folders("Tiling", environment: "RADIOPATH_PRESETS", executablePath: executablePath)
    }

    /// Loads a preset by name (`default`, `biopsy`, ...) or by path to a `.conf` file.
    public static func load(_ nameOrPath: String) throws -> TilingPreset {
        let fm = FileManager.default
        var candidates: [String] = []
        if nameOrPath.contains("/") || nameOrPath.hasSuffix(".conf") {
            candidates = [nameOrPath]
        } else {
            candidates = searchFolders().map { "\($0)/\(nameOrPath).conf" }
        }
        for c in candidates where fm.fileExists(atPath: c) {
            let text = try String(contentsOfFile: c, encoding: .utf8)
            let name = URL(fileURLWithPath: c).deletingPathExtension().lastPathComponent
            return try TilingPreset.parse(text, name: name, file: c)
        }
        throw TilingPreset.ParseError(file: nameOrPath, line: 0,
            message: "no such preset; available: \(available().joined(separator: ", ")) (or give a path to a .conf file)")
    }

    /// Names of the presets found.
    public static func available() -> [String] {
        for dir in searchFolders() {
            if let files = try? FileManager.default.contentsOfDirectory(atPath: dir) {
                let names = files.filter { $0.hasSuffix(".conf") }.map { String($0.dropLast(5)) }.sorted()
                if !names.isEmpty { return names }
            }
        }
        return []
    }
}
