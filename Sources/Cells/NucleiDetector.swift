import Foundation
import ImageCore
import SlideIO

/// What a detection used, beyond its parameters: recorded in the provenance.
public struct DetectionInfo: Codable, Sendable, Equatable {
    /// Pixel size the image was analysed at (µm/px) and level-0 px per analysis px.
    public var analysisMPP: Double
    public var downsample: Double
    /// Pyramid level read (0 for images).
    public var level: Int
    /// Stain vectors (H, E, third; OD colours R, G, B) or nil for a single channel.
    public var stainVectors: [[Double]]?
    /// Threshold applied to the smoothed, background-subtracted signal.
    public var threshold: Double
    public var tiles: Int
    public var nuclei: Int
    public var seconds: Double
    /// Analysed area (µm²) — of the patches for bag runs, else of the image or region.
    public var areaUM2: Double
    /// Warnings for the user (stain check, empty tissue).
    public var warnings: [String]
}

/// A patch (tissue region) of a slide: nuclei whose centroid lies in `core` (level-0 px) are
/// reported with this patch's `index`.
public struct NucleusPatch: Sendable {
    public var index: Int
    public var core: PixelRect
    public init(index: Int, core: PixelRect) { self.index = index; self.core = core }
}

/// Classical nuclei segmentation (colour deconvolution, smoothing, background subtraction,
/// threshold, hole filling, distance-transform watershed, area limits) and per-nucleus
/// features, tiled with overlap so a nucleus on a tile border is found once, on all cores.
///
/// ```swift
/// let detector = try NucleiDetector(parameters: NucleiParameters())
/// let nuclei = try detector.detect(image: rgb, mpp: 0.5).nuclei          // image px
/// try detector.detect(slide: slide, patches: patches) { nuclei in … }    // level-0 px, streamed
/// ```
public final class NucleiDetector: @unchecked Sendable {
    public let parameters: NucleiParameters
    /// Threads used (tiles run in parallel).
    public let workers: Int

    public init(parameters: NucleiParameters = NucleiParameters(), workers: Int = ProcessInfo.processInfo.activeProcessorCount) throws {
        try parameters.validate()
        self.parameters = parameters
        self.workers = max(1, workers)
    }

    /// Names of ``Nucleus/features`` for these parameters.
    public var featureNames: [String] { NucleusFeatures.names(singleChannel: parameters.stain.isSingleChannel) }

    // MARK: images

    /// Nuclei of an RGB image whose pixels are `mpp` µm wide; coordinates in image pixels. The
    /// image is area-averaged to the analysis pixel size first when it is finer by more than 2 %.
    public func detect(image: RGBImage, mpp: Double) throws -> (nuclei: [Nucleus], info: DetectionInfo) {
        guard mpp.isFinite, mpp > 0 else { throw CellsError(what: "image pixel size \(mpp) µm/px is unusable", hint: "give the µm per pixel of the image") }
        var d = parameters.pixelSize / mpp
        var work = image
        if d >= 1.02 {
            let w = max(1, Int((Double(image.width) / d).rounded())), h = max(1, Int((Double(image.height) / d).rounded()))
            work = image.resizedArea(width: w, height: h)
            d = Double(image.width) / Double(w)
        } else { d = 1 }
        let source = ImageWindowSource(image: work, mapping: OutputMapping(originX: 0, originY: 0, scale: d))
        let start = DispatchTime.now()
        var warnings: [String] = []
        let stains = try resolveStains(overview: parameters.stain == .macenko ? work : nil, warnings: &warnings)
        var all: [Nucleus] = []
        var info = try run(source: source, mpp: mpp * d, stains: stains, include: { _ in true }, owner: { _, _, _ in -1 }) { all += $0 }
        info.downsample = d
        info.warnings = warnings + info.warnings
        info.seconds = Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
        return (all, info)
    }

    /// Nuclei of one float channel (fluorescence: bright nuclei on dark), `width`×`height`,
    /// pixels `mpp` µm wide, analysed at that pixel size; coordinates in image pixels.
    public func detect(intensity: [Float], width: Int, height: Int, mpp: Double) throws -> (nuclei: [Nucleus], info: DetectionInfo) {
        guard intensity.count == width * height, width > 0, height > 0 else {
            throw CellsError(what: "intensity plane has \(intensity.count) values for \(width)×\(height)", hint: "pass width·height values, row-major")
        }
        guard parameters.stain.isSingleChannel else {
            throw CellsError(what: "a single-channel image needs stain .singleChannel", hint: "use NucleiParameters.fluorescence or set stain = .singleChannel")
        }
        let source = PlaneWindowSource(plane: intensity, width: width, height: height, mapping: OutputMapping(originX: 0, originY: 0, scale: 1))
        let start = DispatchTime.now()
        var all: [Nucleus] = []
        var info = try run(source: source, mpp: mpp, stains: nil, include: { _ in true }, owner: { _, _, _ in -1 }) { all += $0 }
        info.seconds = Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
        return (all, info)
    }

    // MARK: slides

    /// Streams the nuclei of a slide: of `region` (level-0 px; nil = the whole slide), and when
    /// `patches` are given only of those patches (e.g. a patch bag's tissue patches, whose cores
    /// must not overlap). `body` receives each tile's nuclei, in a fixed order, on the calling
    /// thread; memory stays bounded by the tile size whatever the slide's size.
    @discardableResult
    public func detect(slide: Slide, region: PixelRect? = nil, patches: [NucleusPatch]? = nil,
                       _ body: ([Nucleus]) throws -> Void) throws -> DetectionInfo {
        let start = DispatchTime.now()
        let scale = try slide.requireScale()
        let full = PixelRect(x: 0, y: 0, width: slide.width, height: slide.height)
        let area = region ?? full
        guard area.width > 0, area.height > 0, area.x >= 0, area.y >= 0, area.maxX <= slide.width, area.maxY <= slide.height else {
            throw CellsError(what: "region \(area.x),\(area.y),\(area.width),\(area.height) is not inside the slide (\(slide.width)×\(slide.height) level-0 px)",
                             hint: "give --region x,y,w,h in level-0 pixels within the slide")
        }
        let source = SlideWindowSource(slide: slide, region: area, slideMPP: scale.mpp, mpp: parameters.pixelSize)
        var warnings: [String] = []
        var stains: StainMatrix?
        if !parameters.stain.isSingleChannel {
            // Only Macenko needs pixels before the run; the stain check samples the tiles.
            let overview = parameters.stain == .macenko ? try Self.overview(slide: slide, region: area, patches: patches) : nil
            stains = try resolveStains(overview: overview, warnings: &warnings)
        }
        // Tiles: all of the region, or those touching a patch; a nucleus counts for a patch
        // when its centroid is inside the patch's core.
        let d = source.downsample
        var include: (PixelRect) -> Bool = { _ in true }
        var owner: (PixelRect, Double, Double) -> Int? = { _, _, _ in -1 }
        var analysed = Double(area.width) * Double(area.height) * scale.mppX * scale.mppY
        if let patches {
            let index = PatchIndex(patches: patches, cell: max(1, Double(parameters.tileSize) * d))
            include = { core in
                index.any(x0: Double(area.x) + Double(core.x) * d, y0: Double(area.y) + Double(core.y) * d,
                          x1: Double(area.x) + Double(core.maxX) * d, y1: Double(area.y) + Double(core.maxY) * d)
            }
            owner = { _, gx, gy in index.patch(at: Double(area.x) + (gx + 0.5) * d, Double(area.y) + (gy + 0.5) * d) }
            analysed = patches.reduce(0) { $0 + Double($1.core.width) * Double($1.core.height) } * scale.mppX * scale.mppY
        }
        var info = try run(source: source, mpp: scale.mpp * d, stains: stains, include: include, owner: owner, body)
        info.level = source.level
        info.downsample = d
        info.areaUM2 = analysed
        info.warnings = warnings + info.warnings
        if patches?.isEmpty == true { info.warnings.append("no tissue patches: nothing to analyse") }
        info.seconds = Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
        return info
    }

    /// An overview of the analysed area for stain estimation: at most ~2048 px on its long side.
    static func overview(slide: Slide, region: PixelRect, patches: [NucleusPatch]?) throws -> RGBImage {
        var area = region
        if let patches, !patches.isEmpty {
            let x0 = patches.map(\.core.x).min()!, y0 = patches.map(\.core.y).min()!
            let x1 = patches.map(\.core.maxX).max()!, y1 = patches.map(\.core.maxY).max()!
            area = PixelRect(x: x0, y: y0, width: x1 - x0, height: y1 - y0)
        }
        let d = max(1, Double(max(area.width, area.height)) / 2048)
        let level = slide.bestLevel(forDownsample: d)
        let ld = slide.levels[level].downsample
        let w = max(1, Int(Double(area.width) / ld)), h = max(1, Int(Double(area.height) / ld))
        if w * h <= 16_000_000 { return try slide.readRegion(x: area.x, y: area.y, level: level, width: w, height: h) }
        // The pyramid has nothing coarse enough: sample a centred 4096² window.
        let cw = min(w, 4096), ch = min(h, 4096)
        return try slide.readRegion(x: area.x + Int(Double((w - cw) / 2) * ld), y: area.y + Int(Double((h - ch) / 2) * ld),
                                    level: level, width: cw, height: ch)
    }

    // MARK: shared

    /// The stain matrix for the parameters, estimated from `overview` for Macenko; adds a
    /// warning when the image does not look haematoxylin-stained.
    func resolveStains(overview: RGBImage?, warnings: inout [String]) throws -> StainMatrix? {
        switch parameters.stain {
        case .singleChannel:
            return nil
        case .ruifrok:
            let s = StainVectors.ruifrok
            return try StainVectors.odMatrix(s[0], s[1], s[2])
        case .macenko:
            guard let overview else { throw CellsError(what: "Macenko estimation needs the image", hint: "use --stain ruifrok") }
            let est = try Macenko.estimate(overview)
            if est.hematoxylinAngleToRuifrok > 25 {
                warnings.append(String(format: "Macenko's haematoxylin estimate is %.0f° away from Ruifrok's: the image may not be H&E; check the nuclei or give --stain-vectors", est.hematoxylinAngleToRuifrok))
            }
            return try StainVectors.odMatrix(est.hematoxylin, est.eosin)
        case .vectors(let h, let e):
            return try StainVectors.odMatrix(SIMD3(h[0], h[1], h[2]), SIMD3(e[0], e[1], e[2]))
        }
    }

    private func run(source: WindowSource, mpp: Double, stains: StainMatrix?, include: (PixelRect) -> Bool,
                     owner: @escaping (PixelRect, Double, Double) -> Int?, _ body: ([Nucleus]) throws -> Void) throws -> DetectionInfo {
        let p = parameters
        var settings = PixelSettings(p, mpp: mpp, stains: stains, threshold: 0)
        let margin = Int((p.tileMargin / mpp).rounded(.up))
        var source = source
        if var s = source as? SlideWindowSource { s.tileSize = p.tileSize; s.margin = margin; source = s }
        let tiles = makeTiles(width: source.width, height: source.height, size: p.tileSize, margin: margin, include: include)
        var warnings: [String] = []
        // A core pixel's filters reach `filterReach`; a nucleus reaches its radius past its centroid.
        let need = Double(settings.filterReach) * mpp + (p.maxArea / Double.pi).squareRoot()
        if p.tileMargin < need && tiles.count > 1 {
            warnings.append(String(format: "tile margin %.1f µm is below the %.1f µm that smoothing, background, local contrast and the largest nucleus reach: nuclei on tile borders may differ slightly from an untiled run", p.tileMargin, need))
        }
        switch p.threshold {
        case .fixed(let t):
            settings.threshold = Float(t)
        case .otsu(let k):
            // Pooled over the cores of up to 16 tiles spread evenly (all when fewer): with
            // every tile it is exactly the whole image's histogram.
            let sample = tiles.count <= 16 ? tiles : (0..<16).map { tiles[$0 * tiles.count / 16] }
            let range: Double
            if let plane = (source as? PlaneWindowSource)?.plane { range = Double(plane.max() ?? 1) } else { range = stains == nil ? 1 : 3 }
            let bins = 4096
            let hist = try TileRunner.signalHistogram(source: source, tiles: sample, settings: settings, workers: workers,
                                                      range: max(range, 1e-6), bins: bins)
            settings.threshold = Float(k * TileRunner.otsu(hist, binWidth: max(range, 1e-6) / Double(bins)))
        }
        var count = 0
        // About 250,000 pixels of the analysed area for the stain check.
        let corePixels = tiles.reduce(0) { $0 + $1.core.area }
        let stride = stains == nil ? 0 : max(1, Int((Double(corePixels) / 250_000).squareRoot()))
        let sample = try TileRunner.run(source: source, tiles: tiles, settings: settings, singleChannel: stains == nil, workers: workers,
                                        sampleStride: stride, owner: owner) { _, nuclei in
            count += nuclei.count
            try body(nuclei)
        }
        if tiles.isEmpty { warnings.append("nothing to analyse (empty image or no tiles)") }
        if stains != nil && parameters.stain != .macenko, !sample.isEmpty,
           let est = try? Macenko.estimate(RGBImage(width: sample.count / 3, height: 1, pixels: sample)), est.hematoxylinAngleToRuifrok > 25 {
            warnings.append(String(format: "the image's dominant stain is %.0f° away from haematoxylin (Ruifrok's): it may not be H&E (IHC, special stain, fluorescence); check the nuclei, or give --stain-vectors, --stain macenko or --single-channel", est.hematoxylinAngleToRuifrok))
        }
        return DetectionInfo(analysisMPP: mpp, downsample: 1, level: 0,
                             stainVectors: stains.map { s in s.stains.map { v in [v.x * 6, v.y * 6, v.z * 6] } },
                             threshold: Double(settings.threshold), tiles: tiles.count, nuclei: count, seconds: 0,
                             areaUM2: Double(source.width * source.height) * mpp * mpp, warnings: warnings)
    }
}

/// Patches bucketed on a coarse grid, for "which patch holds this point" and "does this tile
/// touch a patch" in constant time.
struct PatchIndex: Sendable {
    let cell: Double
    var buckets: [Int64: [Int]] = [:]
    let patches: [NucleusPatch]

    init(patches: [NucleusPatch], cell: Double) {
        self.cell = cell
        self.patches = patches
        for (k, p) in patches.enumerated() {
            let cx0 = Int((Double(p.core.x) / cell).rounded(.down)), cx1 = Int((Double(p.core.maxX - 1) / cell).rounded(.down))
            let cy0 = Int((Double(p.core.y) / cell).rounded(.down)), cy1 = Int((Double(p.core.maxY - 1) / cell).rounded(.down))
            for cy in cy0...max(cy0, cy1) { for cx in cx0...max(cx0, cx1) { buckets[Self.key(cx, cy), default: []].append(k) } }
        }
    }

    static func key(_ x: Int, _ y: Int) -> Int64 { Int64(x) << 32 | Int64(UInt32(bitPattern: Int32(truncatingIfNeeded: y))) }

    func patch(at x: Double, _ y: Double) -> Int? {
        let k = Self.key(Int((x / cell).rounded(.down)), Int((y / cell).rounded(.down)))
        for i in buckets[k] ?? [] {
            let c = patches[i].core
            if x >= Double(c.x) && x < Double(c.maxX) && y >= Double(c.y) && y < Double(c.maxY) { return patches[i].index }
        }
        return nil
    }

    func any(x0: Double, y0: Double, x1: Double, y1: Double) -> Bool {
        let cx0 = Int((x0 / cell).rounded(.down)), cx1 = Int((x1 / cell).rounded(.down))
        let cy0 = Int((y0 / cell).rounded(.down)), cy1 = Int((y1 / cell).rounded(.down))
        for cy in cy0...cy1 {
            for cx in cx0...cx1 {
                for i in buckets[Self.key(cx, cy)] ?? [] {
                    let c = patches[i].core
                    if Double(c.x) < x1 && Double(c.maxX) > x0 && Double(c.y) < y1 && Double(c.maxY) > y0 { return true }
                }
            }
        }
        return false
    }
}
