import Foundation
import ImageCore
import SlideIO

/// Where the patches of one slide are, at a physical scale.
public struct PatchGrid: Sendable {
    /// Level-0 top-left corners, flat (x0, y0, x1, y1, …), row-major order.
    public let coords: [Int64]
    /// Fraction of each patch's area that is tissue (0–1), from the tissue mask.
    public let tissueFraction: [Float]
    /// Patch size in px at the target scale (what the user asked for).
    public let patchSize: Int
    /// Patch footprint in level-0 px.
    public let patchSizeLevel0: Int
    /// Step between patch origins in level-0 px (patch minus overlap).
    public let stepLevel0: Int
    /// Pyramid level to read from (never coarser than the target) and the patch size there.
    public let readLevel: Int
    public let readSize: Int
    /// Target scale: µm/px and the magnification it corresponds to.
    public let targetMPP: Double
    public let targetMagnification: Double
    /// Target / slide scale (level-0 px per target px).
    public let downsample: Double

    public var count: Int { coords.count / 2 }
}

/// Builds patch grids on a tissue mask.
public enum PatchGridBuilder {
    public struct ScaleError: Error, CustomStringConvertible {
        public let message: String
        public var description: String { message }
    }

    /// Level-0 px per target px for the requested scale. With a magnification and a slide that
    /// states its objective power, the ratio of the two (so 40x → 20x is exactly 2, as CLAM and
    /// TRIDENT read it); otherwise target µm/px over slide µm/px (10 µm/px ÷ magnification).
    public static func downsample(params: GridParameters, slideMPP: Double, objectivePower: Double?)
        -> (downsample: Double, targetMPP: Double, targetMagnification: Double) {
        if let mag = params.magnification {
            if let power = objectivePower, power > 0 {
                let d = power / mag
                return (d, slideMPP * d, mag)
            }
            let mpp = 10 / mag
            return (mpp / slideMPP, mpp, mag)
        }
        let mpp = params.targetMPP ?? 0.5
        return (mpp / slideMPP, mpp, 10 / mpp)
    }

    /// Lays a grid anchored at (0, 0) over the whole slide and keeps patches whose tissue
    /// fraction (exact area of the mask inside the patch, outside the slide counting as glass)
    /// reaches `minTissueFraction` (> 0 when that is 0).
    public static func build(slideWidth: Int, slideHeight: Int, levels: [SlideLevel], slideMPP: Double,
                             objectivePower: Double?, params: GridParameters, tissue: TissueMask) throws -> PatchGrid {
        let (d, targetMPP, targetMag) = downsample(params: params, slideMPP: slideMPP, objectivePower: objectivePower)
        let size0 = Int((Double(params.patchSize) * d).rounded())
        let step0 = Int((Double(params.patchSize - params.overlap) * d).rounded())
        guard size0 >= 1, step0 >= 1 else {
            throw ScaleError(message: "a \(params.patchSize) px patch at \(targetMPP) µm/px is under one level-0 pixel at \(slideMPP) µm/px")
        }
        guard d >= 0.999 else {
            throw ScaleError(message: String(format: "the target scale %.3g µm/px is finer than the slide's %.3g µm/px; RadioPath does not upsample — choose a target ≥ the slide's scale", targetMPP, slideMPP))
        }
        // Finest level that is not coarser than the target (read, then downscale).
        var readLevel = 0
        for level in levels where level.downsample <= d * 1.001 { readLevel = level.index }
        let readSize = Int((Double(size0) / levels[readLevel].downsample).rounded())

        let integral = IntegralImage(tissue.mask)
        let sx = 1 / tissue.downsampleX, sy = 1 / tissue.downsampleY
        let patchAreaMask = Double(size0) * sx * Double(size0) * sy
        let minFraction = params.minTissueFraction
        var coords: [Int64] = []
        var fractions: [Float] = []
        var y = 0
        while y < slideHeight {
            var x = 0
            while x < slideWidth {
                let covered = integral.area(x0: Double(x) * sx, y0: Double(y) * sy,
                                            x1: Double(x + size0) * sx, y1: Double(y + size0) * sy)
                let f = covered / patchAreaMask
                if f > 0 && f >= minFraction - 1e-9 {
                    coords.append(Int64(x)); coords.append(Int64(y))
                    fractions.append(Float(min(1, f)))
                }
                x += step0
            }
            y += step0
        }
        return PatchGrid(coords: coords, tissueFraction: fractions, patchSize: params.patchSize,
                         patchSizeLevel0: size0, stepLevel0: step0, readLevel: readLevel, readSize: readSize,
                         targetMPP: targetMPP, targetMagnification: targetMag, downsample: d)
    }
}
