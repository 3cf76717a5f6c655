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
    func readRGB(_ window: PixelRect, into out: UnsafeMutablePointer<UInt8>) throws
    func readPlane(_ window: PixelRect, into out: UnsafeMutablePointer<Float>) throws
}

/// An RGB image already at the analysis pixel size.
struct ImageWindowSource: WindowSource {
    let image: RGBImage
    let mapping: OutputMapping
    var width: Int { image.width }
    var height: Int { image.height }
    var isRGB: Bool { true }

    func readRGB(_ r: PixelRect, into out: UnsafeMutablePointer<UInt8>) throws {
        image.pixels.withUnsafeBufferPointer { src in
            for y in 0..<r.height {
                (out + y * r.width * 3).update(from: src.baseAddress! + ((r.y + y) * image.width + r.x) * 3, count: r.width * 3)
            }
        }
    }
    func readPlane(_ r: PixelRect, into out: UnsafeMutablePointer<Float>) throws { fatalError("RGB source") }
}

/// One float channel at the analysis pixel size.
struct PlaneWindowSource: WindowSource {
    let plane: [Float]
    let width: Int, height: Int
    let mapping: OutputMapping
    var isRGB: Bool { false }

    func readRGB(_ r: PixelRect, into out: UnsafeMutablePointer<UInt8>) throws { fatalError("plane source") }
    func readPlane(_ r: PixelRect, into out: UnsafeMutablePointer<Float>) throws {
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
struct SlideWindowSource: WindowSource {
    let slide: Slide
    let region: PixelRect
    let level: Int
    /// Level-0 px per analysis px, and per pixel of `level`.
    let downsample: Double, levelDownsample: Double
    let width: Int, height: Int
    var mapping: OutputMapping { OutputMapping(originX: Double(region.x), originY: Double(region.y), scale: downsample) }
    var isRGB: Bool { true }
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

    func readPlane(_ r: PixelRect, into out: UnsafeMutablePointer<Float>) throws { fatalError("RGB source") }

    func readRGB(_ r: PixelRect, into out: UnsafeMutablePointer<UInt8>) throws {
        let ld = levelDownsample
        if direct {
            let x0 = region.x + Int((Double(r.x) * ld).rounded()), y0 = region.y + Int((Double(r.y) * ld).rounded())
            let img = try slide.readRegion(x: x0, y: y0, level: level, width: r.width, height: r.height)
            img.pixels.withUnsafeBufferPointer { out.update(from: $0.baseAddress!, count: r.width * r.height * 3) }
            return
        }
        // Level pixels covering the window, in the level's own grid (level px k covers level-0 [k·ld, (k+1)·ld)).
        let a0x = Double(region.x) + Double(r.x) * downsample, a1x = Double(region.x) + Double(r.maxX) * downsample
        let a0y = Double(region.y) + Double(r.y) * downsample, a1y = Double(region.y) + Double(r.maxY) * downsample
        let kx0 = Int((a0x / ld).rounded(.down)), kx1 = Int((a1x / ld).rounded(.up))
        let ky0 = Int((a0y / ld).rounded(.down)), ky1 = Int((a1y / ld).rounded(.up))
        let src = try slide.readRegion(x: Int((Double(kx0) * ld).rounded()), y: Int((Double(ky0) * ld).rounded()), level: level,
                                       width: kx1 - kx0, height: ky1 - ky0)
        let xw = GridWeights(first: r.x, count: r.width, origin: Double(region.x), step: downsample, levelStep: ld, levelFirst: kx0)
        let yw = GridWeights(first: r.y, count: r.height, origin: Double(region.y), step: downsample, levelStep: ld, levelFirst: ky0)
        let sw = kx1 - kx0
        var rowAcc = [Float](repeating: 0, count: r.width * 3)
        var line = [Float](repeating: 0, count: r.width * 3)
        src.pixels.withUnsafeBufferPointer { sB in
            let s = sB.baseAddress!
            for j in 0..<r.height {
                for i in 0..<(r.width * 3) { rowAcc[i] = 0 }
                for t in yw.start[j]..<yw.start[j + 1] {
                    let row = s + Int(yw.index[t]) * sw * 3, wy = yw.weight[t]
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
