import Foundation
import ImageCore
import SlideIO

/// The tissue of one slide: a mask at segmentation resolution and its contours in level 0.
public struct TissueMask: Sendable {
    /// 0/255 mask; pixel (i, j) covers level-0 [i·downsampleX, (i+1)·downsampleX) × [j·downsampleY, …).
    public let mask: GrayImage
    public let downsampleX: Double
    public let downsampleY: Double
    /// Tissue pieces with their holes, in level-0 px, following the mask's pixel edges.
    public let polygons: [PolygonWithHoles]
    /// The RGB image the mask was computed on (for previews).
    public let image: RGBImage
    /// Tissue area in mm² (mask pixels × pixel area).
    public let tissueAreaMM2: Double
    /// Pieces dropped as too small, and pixels rejected as pen or black ink (for the report).
    public let droppedPieces: Int
    public let inkPixels: Int
}

/// CLAM-style tissue segmentation: HSV saturation, median blur, threshold, closing, contours
/// with holes filtered by area — plus rejection of marker ink and black regions.
public enum TissueDetector {
    /// Segments a slide at `params.segmentationDownsample` (CLAM: the level nearest 64×), but
    /// never on an image under 512 px on its long side (small crops and TMA cores keep a
    /// usable mask) nor over 4,096 px (memory stays bounded whatever the slide's size).
    /// As CLAM, a pyramid level is used as it is when it is at that downsample (within 2 %)
    /// or small enough to process whole (≤ 2,048 px). A level up to 4,096 px is read whole
    /// and area-averaged; a larger one is area-averaged in bounded chunks.
    public static func detect(slide: Slide, mpp: Double, params: TissueParameters) throws -> TissueMask {
        let longSide = Double(max(slide.width, slide.height))
        let target = max(1, min(params.segmentationDownsample, longSide / 512), longSide / 4096)
        let level = slide.levels[slide.bestLevel(forDownsample: target)]
        let levelLongSide = max(level.width, level.height)
        if abs(level.downsample / target - 1) < 0.02 || levelLongSide <= 2048 {
            return detect(image: try slide.readLevel(level.index), downsampleX: Double(slide.width) / Double(level.width),
                          downsampleY: Double(slide.height) / Double(level.height), mpp: mpp, params: params)
        }
        if levelLongSide <= 4096 {
            let w = max(1, Int((Double(slide.width) / target).rounded())), h = max(1, Int((Double(slide.height) / target).rounded()))
            let image = try slide.readLevel(level.index).resizedArea(width: w, height: h)
            return detect(image: image, downsampleX: Double(slide.width) / Double(w),
                          downsampleY: Double(slide.height) / Double(h), mpp: mpp, params: params)
        }
        let (image, dx, dy) = try slide.downsampledImage(downsample: target)
        return detect(image: image, downsampleX: dx, downsampleY: dy, mpp: mpp, params: params)
    }

    /// Segments an RGB image that shows the slide at the given downsample.
    public static func detect(image: RGBImage, downsampleX: Double, downsampleY: Double, mpp: Double,
                              params: TissueParameters) -> TissueMask {
        let checkInk = params.rejectPenMarks || params.blackThreshold > 0
        let hsv = checkInk ? ColorConversion.hsv(image) : nil
        var saturation = hsv?.s ?? ColorConversion.saturation(image)
        var inkPixels = 0
        if let hsv {
            let ink = inkMask(hsv, params: params)
            inkPixels = ink.foregroundCount
            if inkPixels > 0 {
                // Anti-aliased ink edges keep the ink's hue at lower saturation: widen the mask a little.
                let wide = ink.dilated(size: 3)
                for i in 0..<saturation.pixels.count where wide.pixels[i] != 0 { saturation.pixels[i] = 0 }
            }
        }
        let blurred = saturation.medianFiltered(size: params.medianSize)
        let threshold = params.useOtsu ? blurred.otsuThreshold() : UInt8(params.saturationThreshold)
        var binary = blurred.thresholded(above: threshold)
        if params.closeSize > 0 { binary = binary.closed(size: params.closeSize) }

        let mm2PerPixel = downsampleX * downsampleY * mpp * mpp / 1e6
        var kept: [PolygonWithHoles] = []
        var dropped = 0
        for piece in Contours.trace(binary) {
            let holeAreas = piece.holes.map { abs(Polygon.signedArea($0)) }
            // As CLAM: the piece's area is its outline minus every hole.
            let net = (abs(Polygon.signedArea(piece.outer)) - holeAreas.reduce(0, +)) * mm2PerPixel
            guard net > 0, net >= params.minTissueAreaMM2 else { dropped += 1; continue }
            let holes = zip(piece.holes, holeAreas)
                .sorted { $0.1 > $1.1 }
                .prefix(params.maxHoles)
                .filter { $0.1 * mm2PerPixel >= params.minHoleAreaMM2 }
                .map(\.0)
            kept.append(PolygonWithHoles(outer: piece.outer, holes: holes))
        }
        let mask = Polygon.fill(kept, width: image.width, height: image.height)
        let level0 = kept.map { p in
            PolygonWithHoles(outer: p.outer.map { Point(x: $0.x * downsampleX, y: $0.y * downsampleY) },
                             holes: p.holes.map { $0.map { Point(x: $0.x * downsampleX, y: $0.y * downsampleY) } })
        }
        return TissueMask(mask: mask, downsampleX: downsampleX, downsampleY: downsampleY, polygons: level0,
                          image: image, tissueAreaMM2: Double(mask.foregroundCount) * mm2PerPixel,
                          droppedPieces: dropped, inkPixels: inkPixels)
    }

    /// Marker ink and black regions. H&E sits in the magenta–purple–red hues (OpenCV hue ≥ 130
    /// or ≤ 15 on 0–179), but faded or hematoxylin-heavy tissue reaches down to hue ~105 at
    /// saturation ≤ ~80 (measured on kidney-48-5.tif). So green/cyan ink is any saturated pixel
    /// with hue 35–99 (70°–199°), and blue ink needs hue 100–130 with saturation ≥ 110, which
    /// marker ink has (~190) and stained tissue at low magnification does not.
    static func inkMask(_ hsv: (h: GrayImage, s: GrayImage, v: GrayImage), params: TissueParameters) -> GrayImage {
        let (h, s, v) = hsv
        var out = GrayImage(width: h.width, height: h.height)
        let black = UInt8(params.blackThreshold)
        out.pixels.withUnsafeMutableBufferPointer { o in
            h.pixels.withUnsafeBufferPointer { hh in
                s.pixels.withUnsafeBufferPointer { ss in
                    v.pixels.withUnsafeBufferPointer { vv in
                        for i in 0..<o.count {
                            let isBlack = params.blackThreshold > 0 && vv[i] < black
                            let hue = hh[i], sat = ss[i]
                            let isPen = params.rejectPenMarks
                                && ((hue >= 35 && hue < 100 && sat >= 40) || (hue >= 100 && hue <= 130 && sat >= 110))
                            if isBlack || isPen { o[i] = 255 }
                        }
                    }
                }
            }
        }
        return out
    }
}
