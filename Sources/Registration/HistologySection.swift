import Foundation
import ImageCore
import SlideIO
import Tiler

/// A histology section ready for registration: the slide read at a working resolution as a
/// grey image in **slide mm** (level-0 px × µm/px ÷ 1000, top-left corner of the slide at 0),
/// and its tissue mask on the same grid.
public struct HistologySection: Sendable {
    public var path: String
    /// Luminance (0…1) of the working image; pixel (i, j) covers level-0
    /// [i·dx, (i+1)·dx) × [j·dy, (j+1)·dy), so its centre is at ((i + ½)·dx, (j + ½)·dy) px.
    public var image: Image2D
    /// 1 on tissue (or on the given mask), 0 elsewhere.
    public var mask: Image2D
    public var rgb: RGBImage
    /// µm per level-0 pixel, and where it came from.
    public var mppX: Double, mppY: Double
    public var mppSource: String
    public var downsampleX: Double, downsampleY: Double
    public var slideWidth: Int, slideHeight: Int
    /// "tissue detector" or the mask file.
    public var maskSource: String

    /// Level-0 px → slide mm.
    public func mm(ofPixel p: SIMD2<Double>) -> SIMD2<Double> { p * SIMD2(mppX, mppY) / 1000 }
    /// Slide mm → level-0 px.
    public func pixel(ofMM q: SIMD2<Double>) -> SIMD2<Double> { q * 1000 / SIMD2(mppX, mppY) }

    /// Reads `path` (any slide SlideIO opens, or a PNG/JPEG/TIFF section image) at about
    /// `workingMPP` µm/px (never finer than level 0). `mpp` overrides the file's scale.
    /// `maskPath`: an image covering the whole slide at any size whose non-black pixels mark the
    /// region to align; without it the CLAM-style tissue detector makes the mask.
    public static func load(path: String, mpp: Double?, workingMPP: Double, maskPath: String? = nil) throws -> HistologySection {
        let slide: Slide
        let scale: SlideScale
        do {
            slide = try Slide.open(path: path, mppOverride: mpp)
            scale = try slide.requireScale()
        } catch let e as SlideError where e.kind == .noScale {
            throw RegistrationError("\(path): \(e.reason)", hint: "give the section's pixel size with --moving-mpp MPP (µm per pixel), or use --stack with RAPSODI's JSON")
        }
        let d = max(1, workingMPP / scale.mpp)
        let (rgb, dx, dy) = try slide.downsampledImage(downsample: d)
        let spacing = SIMD2(dx * scale.mppX, dy * scale.mppY) / 1000
        var image = Image2D(width: rgb.width, height: rgb.height, spacing: spacing, origin: spacing / 2)
        rgb.pixels.withUnsafeBufferPointer { p in
            for k in 0..<image.pixels.count {
                image.pixels[k] = (0.299 * Float(p[3 * k]) + 0.587 * Float(p[3 * k + 1]) + 0.114 * Float(p[3 * k + 2])) / 255
            }
        }
        var mask = Image2D(width: rgb.width, height: rgb.height, spacing: spacing, origin: spacing / 2)
        let source: String
        if let maskPath {
            let m = try readMaskImage(maskPath)
            let sx = Double(m.width) / Double(slide.width), sy = Double(m.height) / Double(slide.height)
            for j in 0..<mask.height {
                for i in 0..<mask.width {
                    let u = min(m.width - 1, Int((Double(i) + 0.5) * dx * sx)), v = min(m.height - 1, Int((Double(j) + 0.5) * dy * sy))
                    mask[i, j] = m[u, v] > 127 ? 1 : 0
                }
            }
            source = maskPath
        } else {
            let t = TissueDetector.detect(image: rgb, downsampleX: dx, downsampleY: dy, mpp: scale.mpp, params: TissueParameters())
            for k in 0..<mask.pixels.count { mask.pixels[k] = t.mask.pixels[k] != 0 ? 1 : 0 }
            source = "tissue detector"
        }
        guard mask.pixels.contains(where: { $0 > 0.5 }) else {
            throw RegistrationError("\(maskPath ?? path): the \(maskPath == nil ? "tissue detector finds no tissue" : "mask is empty") at \(String(format: "%.0f", d * scale.mpp)) µm/px",
                                    hint: "give the section's mask with --moving-mask (white on black, any size covering the slide)")
        }
        return HistologySection(path: path, image: image, mask: mask, rgb: rgb, mppX: scale.mppX, mppY: scale.mppY,
                                mppSource: scale.detail.isEmpty || scale.detail.hasPrefix(scale.source.rawValue) ? (scale.detail.isEmpty ? scale.source.rawValue : scale.detail) : "\(scale.source.rawValue) (\(scale.detail))",
                                downsampleX: dx, downsampleY: dy, slideWidth: slide.width, slideHeight: slide.height, maskSource: source)
    }

    /// A mask image as 0–255 grey (the brightest channel), PNG/JPEG/TIFF.
    static func readMaskImage(_ path: String) throws -> GrayImage {
        let rgb: RGBImage
        do { rgb = try ImageFile.read(path: path) } catch {
            throw RegistrationError("\(path): cannot be read as a mask image (\(error))", hint: "give a PNG, JPEG or TIFF mask")
        }
        var g = GrayImage(width: rgb.width, height: rgb.height)
        for k in 0..<g.pixels.count { g.pixels[k] = max(rgb.pixels[3 * k], rgb.pixels[3 * k + 1], rgb.pixels[3 * k + 2]) }
        return g
    }
}
