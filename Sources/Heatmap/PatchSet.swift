import Foundation
import PatchBag
import SlideIO

/// Where a slide's scored patches are: level-0 top-left corners and the level-0 side of
/// each (square) patch, plus the grid step when the patches lie on one.
public struct PatchSet: Sendable, Equatable {
    /// Level-0 top-left corners, flat: x0, y0, x1, y1, … (as `PatchBagContents.coords`).
    public var coords: [Int64]
    /// Patch side in level-0 pixels.
    public var patchSizeLevel0: Double
    /// Distance between grid neighbours in level-0 pixels (patch side for a grid without
    /// overlap, half of it at 50 % overlap).
    public var stepLevel0: Double

    public var count: Int { coords.count / 2 }

    /// `stepLevel0` defaults to the smallest positive gap between distinct x or y corners,
    /// capped at the patch side.
    public init(coords: [Int64], patchSizeLevel0: Double, stepLevel0: Double? = nil) {
        precondition(coords.count % 2 == 0, "PatchSet: coords must be x, y pairs")
        precondition(patchSizeLevel0 > 0, "PatchSet: patch size must be positive")
        self.coords = coords
        self.patchSizeLevel0 = patchSizeLevel0
        self.stepLevel0 = stepLevel0 ?? PatchSet.smallestGap(coords, cap: patchSizeLevel0)
    }

    /// The patches of a bag (`radiopath tile`, CLAM or TRIDENT): the footprint is
    /// `patch_size_level0` when recorded, else `patch_size` × the downsample of
    /// `patch_level` (the `downsample` attribute, else the slide's level); the step is
    /// `step_size_level0` when recorded.
    public static func from(bag: PatchBagContents, slide: Slide?, bagPath: String) throws -> PatchSet {
        let a = bag.coordsAttributes
        func number(_ key: String) -> Double? {
            switch a[key] {
            case .int(let v)?: return Double(v)
            case .double(let v)?: return v
            case .doubles(let v)?: return v.first
            case .ints(let v)?: return v.first.map(Double.init)
            default: return nil
            }
        }
        var size = number("patch_size_level0")
        if size == nil, let ps = number("patch_size") {
            if let d = number("downsample") {
                size = ps * d
            } else if let level = number("patch_level").map(Int.init), let slide, slide.levels.indices.contains(level) {
                size = ps * slide.levels[level].downsample
            } else if number("patch_level") == 0 {
                size = ps
            }
        }
        guard let s = size, s > 0 else {
            throw HeatmapError(path: bagPath, reason: "the bag's coords carry neither patch_size_level0 nor patch_size with a usable patch_level/downsample",
                               hint: "use a bag written by radiopath tile, CLAM or TRIDENT")
        }
        return PatchSet(coords: bag.coords, patchSizeLevel0: s, stepLevel0: number("step_size_level0"))
    }

    static func smallestGap(_ coords: [Int64], cap: Double) -> Double {
        var best = cap
        for axis in 0..<2 {
            var values = stride(from: axis, to: coords.count, by: 2).map { coords[$0] }
            values.sort()
            for (a, b) in zip(values, values.dropFirst()) where b > a { best = min(best, Double(b - a)) }
        }
        return best
    }
}
