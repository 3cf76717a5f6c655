import Foundation
import ImageCore
import SlideIO
import SlideSynth

/// Writes a slide-sized heatmap as a pyramidal JPEG TIFF (Aperio-style, so OpenSlide and
/// QuPath open it with the slide's scale): every level of the slide from `startLevel`
/// down, each tile the slide's tile with the colour-mapped scores blended over it.
///
/// Memory never grows with the slide: scores come from a compact `ScoreMap` (one cell
/// per patch-grid step, `ScoreMap.compact`), sampled per output pixel — `nearest` (the
/// cell holding the pixel centre; on a lattice grid this is exactly the overlap-averaged
/// full-resolution map) or `bilinear` (between cell centres, over the present cells only;
/// a pixel whose own cell is empty stays unpainted either way). Tiles are made one tile
/// row at a time on all cores. A tile whose pixels take no colour is the slide's own JPEG
/// tile copied byte for byte when the slide is a JPEG TIFF (see `SourceTiles`); other tiles
/// are decoded, blended as `ScoreMap.render` does, and re-encoded at `quality` in the
/// level's coding (YCbCr at the slide's chroma subsampling, or RGB-coded 4:4:4 for
/// Photometric-RGB levels such as Aperio's; see `RGBJPEGEncoder`).
public struct HeatmapOverlayWriter: Sendable {
    public enum Sampling: String, Sendable { case nearest, bilinear }

    public var colormap: Colormap
    public var alpha: Double = 0.4
    public var sampling: Sampling = .nearest
    /// JPEG quality of the blended tiles.
    public var quality: Int = 85
    /// The slide level that becomes the overlay's level 0.
    public var startLevel: Int = 0
    /// Whole-slide tissue mask, sampled at the nearest mask pixel of each output pixel.
    public var tissueMask: GrayImage?

    public init(colormap: Colormap) { self.colormap = colormap }

    public struct Report: Codable, Sendable {
        public struct Level: Codable, Sendable {
            public var width: Int, height: Int, tileSize: Int
            /// Whether the slide's own JPEG tiles are used (copied or decoded directly).
            public var directTiles: Bool
        }
        public var levels: [Level] = []
        public var tiles = 0
        /// Slide tiles copied as they are / decoded, blended and re-encoded / re-encoded
        /// without colour (levels OpenSlide had to read).
        public var copied = 0, blended = 0, reencoded = 0
        public var bigTIFF = false
        public var seconds = 0.0
        public var notes: [String] = []
    }

    /// Writes the overlay of `scores` (normalised 0–1, NaN = none) to `path` atomically.
    @discardableResult
    public func write(slide: Slide, scores: ScoreMap, to path: String, progress: ((Double) -> Void)? = nil) throws -> Report {
        let started = Date()
        guard slide.levels.indices.contains(startLevel) else {
            throw HeatmapError(path: slide.path, reason: "level \(startLevel) does not exist (the slide has levels 0–\(slide.levels.count - 1))")
        }
        let source = SourceTiles(slide: slide)
        let valid = ValidCells(scores)
        let plans = (startLevel..<slide.levels.count).map { li in
            LevelPlan(slide: slide, level: li, source: source.levels[li], scores: scores, valid: valid, sampling: sampling)
        }
        var report = Report()
        report.notes = source.notes
        report.levels = plans.map { Report.Level(width: $0.width, height: $0.height, tileSize: $0.tileSize, directTiles: $0.source != nil) }
        let pixels = plans.reduce(0.0) { $0 + Double($1.width) * Double($1.height) }
        report.bigTIFF = pixels * (quality > 90 ? 1.5 : 0.75) > 3.5e9
        let levels = plans.enumerated().map { k, p in
            TiledTIFFLevel(width: p.width, height: p.height, tileSize: p.tileSize, subsampling: p.subsampling, photometricRGB: p.rgb,
                           pixelsPerCentimetre: slide.scale.map { 10_000 / ($0.mpp * p.downsample) } ?? 1,
                           description: description(slide: slide, plan: p, level: k, base: plans[0]))
        }
        let blend = Blend(colormap: colormap, alpha: alpha)
        let mask = tissueMask.map { MaskSampler(mask: $0, slideWidth: slide.width, slideHeight: slide.height) }
        let counts = Counts()
        let quality = self.quality
        // Raw copies of the lookups the tile workers share, freed when done.
        let cells = UnsafeMutableBufferPointer<Float>.allocate(capacity: max(1, scores.values.count))
        _ = cells.initialize(from: scores.values)
        let front = UnsafeMutableBufferPointer<UInt32>.allocate(capacity: blend.front.count)
        _ = front.initialize(from: blend.front)
        let phases = UnsafeMutableBufferPointer<SIMD16<UInt16>>.allocate(capacity: 768)
        _ = phases.initialize(from: Blend.phases(blend.front))
        let maskPixels = tissueMask.map { m -> UnsafeMutableBufferPointer<UInt8> in
            let b = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: max(1, m.pixels.count))
            _ = b.initialize(from: m.pixels)
            return b
        }
        defer { cells.deallocate(); front.deallocate(); phases.deallocate(); maskPixels?.deallocate() }
        do {
            try AtomicFile.produce(path) { tmp in
                try TiledTIFFWriter.write(to: tmp, levels: levels, bigTIFF: report.bigTIFF, software: "RadioPath heatmap",
                                          progress: { done, total in progress?(Double(done) / Double(total)) }) { k, col, row, worker in
                    let plan = plans[k]
                    let state = worker.state as? WorkerState ?? WorkerState(path: slide.path)
                    worker.state = state
                    let touched = plan.touched(col: col, row: row)
                    let ts = plan.tileSize
                    var decoded = false
                    if let src = plan.source, let jpeg = try state.reader.tile(src, col: col, row: row) {
                        if !touched { counts.add(copied: 1); return jpeg }
                        do {
                            try SourceTiles.decodable(jpeg, rgb: src.rgb).withUnsafeBytes {
                                try state.reader.decoder.decode($0.baseAddress!, count: $0.count, width: ts, height: ts,
                                                                into: worker.rgb, rowStride: ts * 3)
                            }
                        } catch {
                            throw HeatmapError(path: slide.path, reason: "level \(plan.level) tile (\(col), \(row)) cannot be decoded (\((error as? ImageCodecError)?.reason ?? "\(error)"))",
                                               hint: "the slide is damaged; re-copy it or re-export it from the scanner software")
                        }
                        decoded = true
                    }
                    if !decoded { try plan.readThroughOpenSlide(slide, col: col, row: row, into: worker.rgb) }
                    if touched {
                        plan.blend(col: col, row: row, tile: worker.rgb, scores: UnsafePointer(cells.baseAddress!),
                                   front: UnsafePointer(front.baseAddress!), phases: UnsafePointer(phases.baseAddress!), back: blend.back,
                                   mask: mask, maskPixels: maskPixels.map { UnsafePointer($0.baseAddress!) })
                        counts.add(blended: 1)
                    } else {
                        counts.add(reencoded: 1)
                    }
                    if plan.rgb { return try state.rgbEncoder.encode(rgb: worker.rgb, width: ts, height: ts, quality: quality) }
                    return try worker.codec.encode(rgb: worker.rgb, width: ts, height: ts, quality: quality, subsampling: plan.subsampling)
                }
            }
        } catch let e as ImageCodecError {
            throw HeatmapError(path: path, reason: e.reason)
        }
        (report.copied, report.blended, report.reencoded) = counts.values
        report.tiles = report.copied + report.blended + report.reencoded
        report.seconds = Date().timeIntervalSince(started)
        return report
    }

    /// Aperio-style description: OpenSlide reads MPP and AppMag from directory 0.
    func description(slide: Slide, plan: LevelPlan, level: Int, base: LevelPlan) -> String {
        let head = "Aperio Image Library v12.0.15 (RadioPath heatmap)\r\n"
        if level > 0 { return head + "\(base.width)x\(base.height) -> \(plan.width)x\(plan.height) - " }
        var text = head + "\(plan.width)x\(plan.height) [0,0 \(plan.width)x\(plan.height)] (\(plan.tileSize)x\(plan.tileSize)) JPEG/RGB Q=\(quality)"
        if let s = slide.scale { text += "|MPP = \(s.mpp * plan.downsample)" }
        if let p = slide.objectivePower { text += "|AppMag = \(p / plan.downsample)" }
        let name = URL(fileURLWithPath: slide.path).lastPathComponent.replacingOccurrences(of: "|", with: "/")
        return text + "|Title = RadioPath heatmap overlay (\(colormap.name), alpha \(alpha), \(sampling.rawValue))|Filename = \(name)"
    }

    final class WorkerState {
        let reader: SourceTiles.Reader
        lazy var rgbEncoder = RGBJPEGEncoder()
        init(path: String) { reader = SourceTiles.Reader(path: path) }
    }

    final class Counts: @unchecked Sendable {
        private let lock = NSLock()
        private var c = 0, b = 0, r = 0
        func add(copied: Int = 0, blended: Int = 0, reencoded: Int = 0) {
            lock.lock(); c += copied; b += blended; r += reencoded; lock.unlock()
        }
        var values: (Int, Int, Int) { lock.lock(); defer { lock.unlock() }; return (c, b, r) }
    }
}
