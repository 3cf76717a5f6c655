import Foundation

/// Which signal the nuclei are segmented in.
public enum NucleusStain: Codable, Sendable, Equatable {
    /// Ruifrok–Johnston haematoxylin/eosin/DAB vectors (scikit-image's `rgb_from_hed`).
    case ruifrok
    /// The image's own H and E vectors, estimated by Macenko's method (see ``Macenko``).
    case macenko
    /// Stain vectors given by the user: haematoxylin and eosin OD colours (R, G, B each); the
    /// third vector is their cross product.
    case vectors(hematoxylin: [Double], eosin: [Double])
    /// Fluorescence (or any single channel): the channel itself, bright nuclei on dark.
    case singleChannel

    public var isSingleChannel: Bool { self == .singleChannel }
}

/// Hematoxylin threshold on the smoothed, background-subtracted signal.
public enum NucleusThreshold: Codable, Sendable, Equatable {
    /// A fixed value: optical density (decadic) for H&E, input units for a single channel.
    case fixed(Double)
    /// Otsu's threshold over the signal of the whole image or region (pooled over its tiles),
    /// times `scale` (below 1 keeps dimmer nuclei).
    case otsu(scale: Double)
}

/// Every knob of nuclei segmentation, in physical units (µm, µm²) so results do not depend on
/// the scan's magnification. Defaults follow QuPath's watershed cell detection (requested pixel
/// size 0.5 µm, sigma 1.5 µm, background radius 8 µm, threshold 0.1 OD, area 10–400 µm²), plus
/// a local-contrast condition (half the local maximum within 3 µm) that QuPath does not have and
/// that separates touching nuclei (synthetic-slide F1 0.95 → 0.99).
public struct NucleiParameters: Codable, Sendable, Equatable {
    /// Pixel size the image is analysed at (µm/px). Slides are read at the nearest pyramid level
    /// and area-averaged to it; an image already finer than this only within 2 % is used as is;
    /// an image coarser than it is analysed at its own pixel size (never upsampled).
    public var pixelSize: Double = 0.5
    public var stain: NucleusStain = .ruifrok
    /// Gaussian smoothing of the signal before thresholding (µm).
    public var sigma: Double = 1.5
    /// Half side of the square window whose grey opening estimates the background that is
    /// subtracted (µm); 0 turns background subtraction off.
    public var backgroundRadius: Double = 8
    public var threshold: NucleusThreshold = .fixed(0.1)
    /// Local contrast: a pixel is nuclear only when its signal is also at least this fraction
    /// of the signal's maximum within `localRadius` (a square window), which separates touching
    /// nuclei of different brightness and keeps dim ones; 0 turns it off.
    public var localThreshold: Double = 0.5
    public var localRadius: Double = 3
    /// Nuclei outside this area range are dropped (µm²).
    public var minArea: Double = 10
    public var maxArea: Double = 400
    /// Two touching nuclei are split when both distance-transform peaks rise at least this far
    /// above the saddle between them (µm): the `h` of h-maxima markers.
    public var splitDepth: Double = 0.3
    /// Peaks closer than this are one nucleus (µm), like `peak_local_max`'s `min_distance`.
    public var minSeparation: Double = 2
    /// Fill holes of the thresholded mask before splitting.
    public var fillHoles = true
    /// Tile side at the analysis pixel size (px); memory per worker grows with its square.
    public var tileSize = 1024
    /// Extra context read around every tile (µm). Nuclei are kept by the tile whose core holds
    /// their centroid; with enough context (≥ 4·sigma + 2·backgroundRadius + localRadius +
    /// the largest nucleus' radius, 36 µm by default) a tiled run gives the same nuclei as an
    /// untiled one.
    public var tileMargin: Double = 40
    /// Grey levels of the per-nucleus GLCM and the signal value mapped to the top level (OD for
    /// H&E, input units for a single channel); values above are clipped into the top level.
    public var glcmLevels = 32
    public var glcmMaximum: Double = 1.5

    public init() {}

    /// The defaults for fluorescence: single channel, Otsu threshold.
    public static var fluorescence: NucleiParameters {
        var p = NucleiParameters()
        p.stain = .singleChannel
        p.threshold = .otsu(scale: 0.5)
        p.sigma = 0.8
        p.minSeparation = 1.5
        p.glcmMaximum = 1
        return p
    }

    /// Throws ``CellsError`` naming the parameter when a value is unusable.
    public func validate() throws {
        func bad(_ what: String) -> CellsError { CellsError(what: "nuclei parameter \(what)", hint: "fix the value (see radiopath cells --help)") }
        guard pixelSize.isFinite, pixelSize > 0.01, pixelSize < 100 else { throw bad("pixel size \(pixelSize) µm/px must be in 0.01–100") }
        guard sigma.isFinite, sigma >= 0, sigma <= 50 else { throw bad("sigma \(sigma) µm must be in 0–50") }
        guard backgroundRadius.isFinite, backgroundRadius >= 0, backgroundRadius <= 500 else { throw bad("background radius \(backgroundRadius) µm must be in 0–500") }
        if case .fixed(let t) = threshold, !t.isFinite { throw bad("threshold \(t) is not a number") }
        if case .otsu(let k) = threshold, !(k.isFinite && k > 0) { throw bad("Otsu scale \(k) must be positive") }
        guard localThreshold.isFinite, (0...1).contains(localThreshold), localRadius.isFinite, localRadius >= 0, localRadius <= 100 else {
            throw bad("local threshold \(localThreshold) (0–1) and radius \(localRadius) µm (0–100)")
        }
        guard minArea.isFinite, maxArea.isFinite, minArea >= 0, maxArea > minArea else { throw bad("area range \(minArea)–\(maxArea) µm² must have 0 ≤ min < max") }
        guard splitDepth.isFinite, splitDepth >= 0, minSeparation.isFinite, minSeparation >= 0 else { throw bad("split depth \(splitDepth) and min separation \(minSeparation) must be ≥ 0") }
        guard tileSize >= 64, tileSize <= 8192 else { throw bad("tile size \(tileSize) px must be in 64–8192") }
        guard tileMargin.isFinite, tileMargin >= 0 else { throw bad("tile margin \(tileMargin) µm must be ≥ 0") }
        guard (2...256).contains(glcmLevels), glcmMaximum.isFinite, glcmMaximum > 0 else { throw bad("GLCM levels \(glcmLevels) (2–256) and maximum \(glcmMaximum) (> 0)") }
        if case .vectors(let h, let e) = stain, h.count != 3 || e.count != 3 { throw bad("stain vectors need three numbers each (R,G,B)") }
    }
}

/// A failure of nuclei detection or its outputs: what went wrong and what to do.
public struct CellsError: Error, CustomStringConvertible, LocalizedError, Sendable {
    public let what: String
    public let hint: String
    public init(what: String, hint: String) { self.what = what; self.hint = hint }
    public var description: String { "\(what) — \(hint)" }
    public var errorDescription: String? { description }
}
