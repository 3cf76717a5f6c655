import Foundation

/// What to synthesise. Every field has a default except the size, so tests, demos and
/// benchmarks state only what they care about; the same spec (including `seed`) always
/// gives the same bytes.
public struct SyntheticSlideSpec: Codable, Sendable, Equatable {
    /// Level-0 width in pixels.
    public var width: Int
    /// Level-0 height in pixels.
    public var height: Int
    /// Micrometres per pixel at level 0 (0.25 is a typical 40x scan). Written to the
    /// Aperio description, so OpenSlide reports it as `openslide.mpp-x/y`.
    public var mpp: Double = 0.25
    /// Objective magnification written as `AppMag` (`openslide.objective-power`).
    public var magnification: Double = 40
    /// Tile edge in pixels (multiple of 16, 16...2048).
    public var tileSize: Int = 256
    /// JPEG quality of every tile (1...100).
    public var jpegQuality: Int = 85
    /// Seed of the layout, texture and nuclei.
    public var seed: UInt64 = 1
    /// Number of separate tissue pieces (0...16).
    public var tissueRegions: Int = 3
    /// Draws a thick blue or green marker stroke on the glass, away from the tissue. It is
    /// not tissue in the truth: a tiler has to reject it.
    public var penMark: Bool = true
    /// Writes `nuclei.csv` with the truth (can be large for big slides).
    public var writeNucleiTruth: Bool = true
    /// Paints 1–3 tumour regions (denser, larger, darker nuclei on pinker stroma); false
    /// gives a tumour-free slide with the same tissue and pen mark: the negatives of a
    /// slide-label experiment.
    public var tumour: Bool = true

    public init(width: Int, height: Int) {
        self.width = width
        self.height = height
    }

    private enum CodingKeys: String, CodingKey {
        case width, height, mpp, magnification, tileSize, jpegQuality, seed, tissueRegions, penMark, writeNucleiTruth, tumour
    }

    /// Decodes a spec; only `width` and `height` are required, so a JSON spec file can
    /// state just what differs from the defaults.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(width: try c.decode(Int.self, forKey: .width), height: try c.decode(Int.self, forKey: .height))
        if let v = try c.decodeIfPresent(Double.self, forKey: .mpp) { mpp = v }
        if let v = try c.decodeIfPresent(Double.self, forKey: .magnification) { magnification = v }
        if let v = try c.decodeIfPresent(Int.self, forKey: .tileSize) { tileSize = v }
        if let v = try c.decodeIfPresent(Int.self, forKey: .jpegQuality) { jpegQuality = v }
        if let v = try c.decodeIfPresent(UInt64.self, forKey: .seed) { seed = v }
        if let v = try c.decodeIfPresent(Int.self, forKey: .tissueRegions) { tissueRegions = v }
        if let v = try c.decodeIfPresent(Bool.self, forKey: .penMark) { penMark = v }
        if let v = try c.decodeIfPresent(Bool.self, forKey: .writeNucleiTruth) { writeNucleiTruth = v }
        if let v = try c.decodeIfPresent(Bool.self, forKey: .tumour) { tumour = v }
    }

    /// Throws when a field is out of range, naming the field and the allowed range.
    func validate(path: String) throws {
        func bad(_ what: String) -> SlideSynthError { SlideSynthError(path: path, reason: "invalid spec: \(what)") }
        guard width >= 1, height >= 1, width <= 4_000_000, height <= 4_000_000 else {
            throw bad("size \(width)x\(height) must be 1...4,000,000 px per side")
        }
        guard mpp.isFinite, mpp > 0 else { throw bad("mpp \(mpp) must be a positive number of µm per pixel") }
        guard magnification.isFinite, magnification > 0 else { throw bad("magnification \(magnification) must be positive") }
        guard tileSize >= 16, tileSize <= 2048, tileSize % 16 == 0 else {
            throw bad("tileSize \(tileSize) must be a multiple of 16 between 16 and 2048 (TIFF and JPEG 4:2:0 need it)")
        }
        guard (1...100).contains(jpegQuality) else { throw bad("jpegQuality \(jpegQuality) must be 1...100") }
        guard (0...16).contains(tissueRegions) else { throw bad("tissueRegions \(tissueRegions) must be 0...16") }
    }
}

/// A failure while writing a synthetic slide or its truth: which file, what went wrong
/// and, in the reason, what to do about it.
public struct SlideSynthError: Error, CustomStringConvertible, LocalizedError, Sendable {
    public let path: String
    public let reason: String
    public init(path: String, reason: String) { self.path = path; self.reason = reason }
    public var description: String { "\(path): \(reason)" }
    public var errorDescription: String? { description }
}
