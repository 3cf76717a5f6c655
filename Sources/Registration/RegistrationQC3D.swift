import Foundation
import ImageCore
import VolumeIO

/// 3D quality-control pictures: axial, coronal and sagittal planes of the fixed grid through
/// a point (the fixed mask's centroid), side by side, with square pixels of the in-plane
/// spacing (thick slices interpolated), as the 2D checkerboard and contour overlays.
public enum RegistrationQC3D {
    /// (checkerboard, contours) for the fixed ↔ moving pair mapped through `map` (fixed mm →
    /// moving mm).
    public static func overlays(fixed: Volume, fixedMask: Volume, moving: Volume, movingMask: Volume, through map: (SIMD3<Double>) -> SIMD3<Double>,
                                at centre: SIMD3<Double>, title: String) -> (checkerboard: RGBImage, contours: RGBImage) {
        let c = fixed.continuousIndex(ofPoint: centre)
        let pitch = min(fixed.spacing.x, fixed.spacing.y, fixed.spacing.z)
        // Each view: the two in-plane grid axes (index units per panel pixel) and the fixed index.
        let views: [(Int, Int, String)] = [(0, 1, "axial"), (0, 2, "coronal"), (1, 2, "sagittal")]
        var boards: [RGBImage] = [], outlines: [RGBImage] = []
        for (u, v, name) in views {
            let w = max(1, Int((Double(fixed.size[u] - 1) * fixed.spacing[u] / pitch).rounded()) + 1)
            let h = max(1, Int((Double(fixed.size[v] - 1) * fixed.spacing[v] / pitch).rounded()) + 1)
            var planes = [Image2D](repeating: Image2D(width: w, height: h, spacing: SIMD2(pitch, pitch)), count: 4)
            for y in 0..<h {
                for x in 0..<w {
                    var q = c
                    q[u] = Double(x) * pitch / fixed.spacing[u]
                    // Coronal and sagittal panels show superior up.
                    q[v] = v == 2 ? Double(h - 1 - y) * pitch / fixed.spacing[v] : Double(y) * pitch / fixed.spacing[v]
                    let p = fixed.point(ofIndex: q)
                    let mp = map(p)
                    planes[0][x, y] = sample(fixed, fixed.continuousIndex(ofPoint: p))
                    planes[1][x, y] = sample(fixedMask, fixed.continuousIndex(ofPoint: p)) >= 0.5 ? 1 : 0
                    planes[2][x, y] = sample(moving, moving.continuousIndex(ofPoint: mp))
                    planes[3][x, y] = sample(movingMask, movingMask.continuousIndex(ofPoint: mp)) >= 0.5 ? 1 : 0
                }
            }
            boards.append(RegistrationQC.checkerboard(fixed: planes[0], warped: planes[2], tile: max(4, w / 16), title: "\(title) \(name)"))
            outlines.append(RegistrationQC.contours(fixed: planes[0], fixedMask: planes[1], warpedMask: planes[3], title: "\(title) \(name)"))
        }
        return (sideBySide(boards), sideBySide(outlines))
    }

    static func sample(_ v: Volume, _ q: SIMD3<Double>) -> Float {
        v.voxels.withUnsafeBufferPointer { ObliquePlane.trilinear($0.baseAddress!, v.size, q, 0) }
    }

    /// Panels left to right on black, tops aligned.
    static func sideBySide(_ panels: [RGBImage]) -> RGBImage {
        let gap = 8
        var out = RGBImage(width: panels.map(\.width).reduce(0, +) + gap * (panels.count - 1), height: panels.map(\.height).max() ?? 0, fill: (0, 0, 0))
        var x0 = 0
        for p in panels {
            for y in 0..<p.height {
                let src = 3 * y * p.width, dst = 3 * (y * out.width + x0)
                out.pixels.replaceSubrange(dst..<(dst + 3 * p.width), with: p.pixels[src..<(src + 3 * p.width)])
            }
            x0 += p.width + gap
        }
        return out
    }
}
