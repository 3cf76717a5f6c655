import Foundation

/// Where a slide's physical scale (µm per pixel) came from. Recorded in every output, so a
/// reader can tell a measured scale from a guessed one.
public enum MPPSource: String, Codable, Sendable {
    /// `openslide.mpp-x` / `openslide.mpp-y`, set by OpenSlide from the vendor metadata.
    case openslide = "openslide-property"
    /// A vendor key OpenSlide exposes but did not turn into `openslide.mpp-*` (e.g. `aperio.MPP`).
    case vendor = "vendor-property"
    /// TIFF XResolution/YResolution + ResolutionUnit of the first directory, read with libtiff
    /// (OpenSlide 3.4.1 does not turn these into mpp for generic TIFF).
    case tiffResolution = "tiff-resolution"
    /// 10 / objective power (40× → 0.25 µm/px). An estimate: scanners differ by ±10 %.
    case objectivePower = "objective-power"
    /// Given by the user (`--slide-mpp`, or a CSV of slide,mpp).
    case user = "user-override"
}

/// Physical pixel size of level 0 and its provenance.
public struct SlideScale: Codable, Equatable, Sendable {
    public let mppX: Double, mppY: Double
    public let source: MPPSource
    /// Which key or tag gave the value, e.g. "openslide.mpp-x", "aperio.MPP",
    /// "XResolution=20000 px/cm", "objective power 40".
    public let detail: String
    /// True when the scale is only inferred from the objective power.
    public var isEstimate: Bool { source == .objectivePower }
    /// Mean of the two axes, for code that needs one number.
    public var mpp: Double { (mppX + mppY) / 2 }

    public init(mppX: Double, mppY: Double, source: MPPSource, detail: String) {
        self.mppX = mppX; self.mppY = mppY; self.source = source; self.detail = detail
    }
}

/// One pyramid level: its size in its own pixels and its downsample relative to level 0
/// (as OpenSlide reports it).
public struct SlideLevel: Codable, Equatable, Sendable {
    public let index: Int, width: Int, height: Int
    public let downsample: Double
    public init(index: Int, width: Int, height: Int, downsample: Double) {
        self.index = index; self.width = width; self.height = height; self.downsample = downsample
    }
}

/// Everything that can go wrong with a slide, naming the file, the problem and what to do,
/// so a batch can report it and carry on.
public struct SlideError: Error, CustomStringConvertible, Sendable {
    public let path: String, reason: String, hint: String
    public enum Kind: String, Sendable {
        /// The path does not exist.
        case notFound
        /// The path exists but cannot be read (a folder, no permission, I/O error).
        case unreadable
        /// A readable file in a format neither OpenSlide nor the plain-image reader handles.
        case unsupported
        /// The file claims a supported format but its content is damaged or inconsistent.
        case corrupt
        /// The slide has no usable physical scale and none was given.
        case noScale
        /// The caller asked for something impossible (level out of range, negative size, ...).
        case invalidRequest
    }
    public let kind: Kind

    public init(kind: Kind, path: String, reason: String, hint: String) {
        self.kind = kind; self.path = path; self.reason = reason; self.hint = hint
    }

    public var description: String {
        hint.isEmpty ? "\(path): \(reason)" : "\(path): \(reason). \(hint)"
    }
}

/// Summary of a slide for `radiopath info --json`.
public struct SlideInfo: Codable, Equatable, Sendable {
    public let path: String
    public let format: String
    public let width: Int, height: Int
    public let levels: [SlideLevel]
    /// nil when the slide has no usable scale; `scaleNote` then says why.
    public let scale: SlideScale?
    /// Candidate scales that were looked at and rejected, or why there is none.
    public let scaleNote: String?
    public let objectivePower: Double?
    /// `openslide.quickhash-1`, or the SHA-256 of the file when OpenSlide gives none.
    public let quickHash: String
    public let associatedImages: [String]
    /// The properties that matter for provenance and scale (vendor, mpp, objective power,
    /// resolution tags, bounds, background colour).
    public let properties: [String: String]
}
