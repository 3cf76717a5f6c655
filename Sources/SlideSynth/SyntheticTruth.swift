import Foundation
import ImageCore

/// The ground truth of a synthetic slide, computed analytically from its spec (no pixels
/// are read), so tissue detection, tiling and nuclei segmentation can be scored exactly.
/// All coordinates are level-0 pixels.
public struct SyntheticTruth: Sendable {
    public let spec: SyntheticSlideSpec
    let layout: SlideLayout

    init(spec: SyntheticSlideSpec) {
        self.spec = spec
        layout = SlideLayout(spec: spec)
    }

    /// True where the slide shows tissue (stroma or tumour); glass, the hole and the pen
    /// mark are not tissue.
    public func isTissue(x: Double, y: Double) -> Bool {
        let l = layout.label(x, y)
        return l == 1 || l == 2
    }

    /// True inside a tumour polygon (always inside tissue).
    public func isTumour(x: Double, y: Double) -> Bool { layout.isTumour(x, y) }

    /// True on the marker-pen stroke (which lies on glass, never on tissue).
    public func isPenMark(x: Double, y: Double) -> Bool {
        guard let pen = layout.pen else { return false }
        return pen.contains(x, y) && !isTissue(x: x, y: y)
    }

    /// Tissue mask at `downsample`: 0/255, ceil(width/d) x ceil(height/d); pixel (i, j)
    /// covers level-0 [i*d, (i+1)*d) x [j*d, (j+1)*d) and is sampled at its centre.
    public func tissueMask(downsample d: Double) -> GrayImage {
        precondition(d > 0 && d.isFinite, "tissueMask: downsample must be positive")
        let w = max(1, Int((Double(spec.width) / d).rounded(.up)))
        let h = max(1, Int((Double(spec.height) / d).rounded(.up)))
        var px = [UInt8](repeating: 0, count: w * h)
        let L = layout
        var content: Box? = nil
        for b in L.blobs { content = content.map { $0.union(b.bounds) } ?? b.bounds }
        guard let box = content else { return GrayImage(width: w, height: h, pixels: px) }
        px.withUnsafeMutableBufferPointer { out in
            for j in 0..<h {
                let y = (Double(j) + 0.5) * d
                guard y >= box.minY, y <= box.maxY else { continue }
                for i in 0..<w {
                    let x = (Double(i) + 0.5) * d
                    guard x >= box.minX, x <= box.maxX else { continue }
                    let l = L.label(x, y)
                    if l == 1 || l == 2 { out[j * w + i] = 255 }
                }
            }
        }
        return GrayImage(width: w, height: h, pixels: px)
    }

    /// Tumour outlines (level-0 px, not closed: the last point does not repeat the first).
    public var tumourPolygons: [[Point]] { layout.tumours.map(\.points) }

    /// Fraction of the slide area that is tissue, from the exact area of every piece
    /// (numerical integral of its polar outline, minus the hole).
    public var tissueFraction: Double {
        layout.blobs.reduce(0) { $0 + $1.area } / (Double(spec.width) * Double(spec.height))
    }

    /// Downsamples of the pyramid levels as written (1, 4, 16, 64, ...).
    public var levelDownsamples: [Int] { layout.levelDownsamples }

    /// Downsample of `tissue_mask.png` in the truth folder (64 or coarser).
    public var tissueMaskDownsample: Int { layout.tissueMaskDownsample }

    /// Level-0 size of the pyramid level at `downsample` (ceil division).
    static func levelSize(_ spec: SyntheticSlideSpec, _ d: Int) -> (Int, Int) {
        ((spec.width + d - 1) / d, (spec.height + d - 1) / d)
    }
}
