import Foundation
import ImageCore
import SlideIO

/// Pixels of the analysis grid, window by window. A window's pixels must not depend on which
/// window asks (so tiled and untiled runs agree): every source computes pixel (i, j) of the
/// grid from the same input pixels with the same arithmetic.
protocol WindowSource: Sendable {
    /// Size of the analysis grid.
    var width: Int { get }
    var height: Int { get }
    /// Where the grid lies in output coordinates (level-0 px for slides).
    var mapping: OutputMapping { get }
    /// True: RGB windows (`readRGB`); false: one float channel (`readPlane`).
    var isRGB: Bool { get }
    /// The pixels of a tile's window (w·h·3 bytes, or w·h floats).
    func readRGB(_ tile: Tile, into out: UnsafeMutablePointer<UInt8>) throws
    func readPlane(_ tile: Tile, into out: UnsafeMutablePointer<Float>) throws
    /// Sources that read faster in a stream (slides: `PatchStream`'s direct tile decoding) give
    /// every tile's raw pixels in tile order to `body`, which `convert` turns into the window.
    var streams: Bool { get }
    func stream(_ tiles: [Tile], workers: Int, _ body: (Int, UnsafeBufferPointer<UInt8>) throws -> Void) throws
    func convert(raw: UnsafePointer<UInt8>, tile: Tile, into out: UnsafeMutablePointer<UInt8>)
}

extension WindowSource {
    var streams: Bool { false }
    func stream(_ tiles: [Tile], workers: Int, _ body: (Int, UnsafeBufferPointer<UInt8>) throws -> Void) throws {}
    func convert(raw: UnsafePointer<UInt8>, tile: Tile, into out: UnsafeMutablePointer<UInt8>) {}
}

/// An RGB image already at the analysis pixel size.
struct ImageWindowSource: WindowSource {
    let image: RGBImage
    let mapping: OutputMapping
    var width: Int { image.width }
    var height: Int { image.height }
    var isRGB: Bool { true }

    func readRGB(_ t: Tile, into out: UnsafeMutablePointer<UInt8>) throws {
        let r = t.window
        image.pixels.withUnsafeBufferPointer { src in
            for y in 0..<r.height {
                (out + y * r.width * 3).update(from: src.baseAddress! + ((r.y + y) * image.width + r.x) * 3, count: r.width * 3)
            }
        }
    }
    func readPlane(_ t: Tile, into out: UnsafeMutablePointer<Float>) throws { fatalError("RGB source") }
}

/// One float channel at the analysis pixel size.
struct PlaneWindowSource: WindowSource {
    let plane: [Float]
    let width: Int, height: Int
    let mapping: OutputMapping
    var isRGB: Bool { false }

    func readRGB(_ t: Tile, into out: UnsafeMutablePointer<UInt8>) throws { fatalError("plane source") }
    func readPlane(_ t: Tile, into out: UnsafeMutablePointer<Float>) throws {
        let r = t.window
        plane.withUnsafeBufferPointer { src in
            for y in 0..<r.height {
                (out + y * r.width).update(from: src.baseAddress! + (r.y + y) * width + r.x, count: r.width)
            }
        }
    }
}

/// A level-0 region of a slide on the analysis grid: read from the pyramid level nearest the
/// analysis scale and area-averaged to it. Grid pixel i covers level-0 [x0 + i·d, x0 + (i+1)·d);
/// its value is the overlap-weighted mean of the level's pixels, with weights from these global
/// positions, so every window gives a pixel the same bytes.
///
/// Every tile is read as the same square of level pixels around its core (`rawSize`, white
/// beyond the slide), so a whole run streams through `PatchStream` (direct JPEG tile decoding
/// for TIFF-family slides, OpenSlide otherwise), then cropped or resampled to the tile's window.
struct SlideWindowSource: WindowSource {
    let slide: Slide
    let region: PixelRect
    let level: Int
    /// Level-0 px per analysis px, and per pixel of `level`.
    let downsample: Double, levelDownsample: Double
    let width: Int, height: Int
    /// Tile size and margin (analysis px) the raw squares are laid out for.
    var tileSize = 0, margin = 0
    var mapping: OutputMapping { OutputMapping(originX: Double(region.x), originY: Double(region.y), scale: downsample) }
    var isRGB: Bool { true }
    var streams: Bool { true }
    /// True when the level is used as is (its scale within 2 % of the analysis scale).
    var direct: Bool { abs(downsample / levelDownsample - 1) < 1e-9 }

    /// Chooses the level and the analysis downsample for `mpp` µm/px on a slide of `slideMPP`.
    init(slide: Slide, region: PixelRect, slideMPP: Double, mpp: Double) {
        self.slide = slide
        self.region = region
        var d = max(1, mpp / slideMPP)
        var level = slide.bestLevel(forDownsample: d * 1.02)
        var ld = slide.levels[level].downsample
        if abs(d / ld - 1) < 0.02 || d < 1.02 { // close enough: analyse the level's own pixels
            if d < 1.02 { level = 0; ld = slide.levels[0].downsample }
            d = ld
        }
        self.level = level
        levelDownsample = ld
        downsample = d
        width = max(0, Int((Double(region.width) / d).rounded(.down)))
        height = max(0, Int((Double(region.height) / d).rounded(.down)))
    }

    /// Side of the raw square in level px.
    var rawSize: Int {
        let s = tileSize + 2 * margin
        return direct ? s : Int((Double(s) * downsample / levelDownsample).rounded(.up)) + 2
    }

    /// Level-pixel origin of a tile's raw square: its core less the margin.
    func rawOrigin(_ t: Tile) -> (Int, Int) {
        let ld = levelDownsample
        let ax = Double(region.x) + Double(t.core.x - margin) * downsample, ay = Double(region.y) + Double(t.core.y - margin) * downsample
        if direct { return (Int((ax / ld).rounded()), Int((ay / ld).rounded())) }
        return (Int((ax / ld).rounded(.down)), Int((ay / ld).rounded(.down)))
    }

    func stream(_ tiles: [Tile], workers: Int, _ body: (Int, UnsafeBufferPointer<UInt8>) throws -> Void) throws {
        let ld = levelDownsample
        var coords: [Int64] = []
        coords.reserveCapacity(2 * tiles.count)
        for t in tiles {
            let (kx, ky) = rawOrigin(t)
            coords += [Int64((Double(kx) * ld).rounded()), Int64((Double(ky) * ld).rounded())]
        }
        let n = rawSize
        let request = PatchRequest(coords: coords, level: level, readSize: n, outputSize: n)
        let ps = try PatchStream(slide: slide, request: request, batchSize: 1, workers: max(1, workers), readAhead: max(2, workers + 1),
                                 tileCacheBytes: 32 << 20)
        _ = try ps.run { batch in
            for k in 0..<batch.count { try body(batch.indices[k], batch.patch(k)) }
        }
    }

    /// Outside a stream (Otsu's sample tiles), one tile through `Slide.readRegion`.
    func readRGB(_ t: Tile, into out: UnsafeMutablePointer<UInt8>) throws {
        let (kx, ky) = rawOrigin(t)
        let n = rawSize, ld = levelDownsample
        let raw = try slide.readRegion(x: Int((Double(kx) * ld).rounded()), y: Int((Double(ky) * ld).rounded()), level: level, width: n, height: n)
        raw.pixels.withUnsafeBufferPointer { convert(raw: $0.baseAddress!, tile: t, into: out) }
    }

    func readPlane(_ t: Tile, into out: UnsafeMutablePointer<Float>) throws { fatalError("RGB source") }

    /// The tile's window from its raw square: a crop (direct) or the area average.
    func convert(raw src: UnsafePointer<UInt8>, tile t: Tile, into out: UnsafeMutablePointer<UInt8>) {
        let r = t.window, n = rawSize
        let (kx0, ky0) = rawOrigin(t)
        if direct {
            let ox = r.x - (t.core.x - margin), oy = r.y - (t.core.y - margin)
            for y in 0..<r.height {
                (out + y * r.width * 3).update(from: src + ((oy + y) * n + ox) * 3, count: r.width * 3)
            }
            return
        }
        let xw = GridWeights(first: r.x, count: r.width, origin: Double(region.x), step: downsample, levelStep: levelDownsample, levelFirst: kx0)
        let yw = GridWeights(first: r.y, count: r.height, origin: Double(region.y), step: downsample, levelStep: levelDownsample, levelFirst: ky0)
        var rowAcc = [Float](repeating: 0, count: r.width * 3)
        var line = [Float](repeating: 0, count: r.width * 3)
        for j in 0..<r.height {
            for i in 0..<(r.width * 3) { rowAcc[i] = 0 }
            for t in yw.start[j]..<yw.start[j + 1] {
                let row = src + Int(yw.index[t]) * n * 3, wy = yw.weight[t]
                for i in 0..<r.width {
                    var cr: Float = 0, cg: Float = 0, cb: Float = 0
                    for u in xw.start[i]..<xw.start[i + 1] {
                        let p = row + Int(xw.index[u]) * 3, wx = xw.weight[u]
                        cr += wx * Float(p[0]); cg += wx * Float(p[1]); cb += wx * Float(p[2])
                    }
                    line[3 * i] = cr; line[3 * i + 1] = cg; line[3 * i + 2] = cb
                }
                for i in 0..<(r.width * 3) { rowAcc[i] += wy * line[i] }
            }
            let o = out + j * r.width * 3
            for i in 0..<(r.width * 3) { o[i] = UInt8(min(255, max(0, rowAcc[i] + 0.5))) }
        }
    }
}

/// Area weights of analysis pixels first..<first+count on one axis, from global positions:
/// pixel i covers [origin + i·step, origin + (i+1)·step) in level-0 units; level pixel k covers
/// [k·levelStep, (k+1)·levelStep); indices are relative to `levelFirst`.
struct GridWeights {
    var start: [Int] = [0]
    var index: [Int32] = []
    var weight: [Float] = []

    init(first: Int, count: Int, origin: Double, step: Double, levelStep: Double, levelFirst: Int) {
        for i in first..<(first + count) {
            let a = (origin + Double(i) * step) / levelStep, b = (origin + Double(i + 1) * step) / levelStep
            var k = Int(a.rounded(.down))
            while Double(k) < b {
                let overlap = min(Double(k + 1), b) - max(Double(k), a)
                if overlap > 1e-12 { index.append(Int32(k - levelFirst)); weight.append(Float(overlap / (b - a))) }
                k += 1
            }
            start.append(index.count)
        }
    }
}
