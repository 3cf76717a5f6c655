import Foundation
import ImageCore

/// Quality-control pictures of a registration on the fixed (MRI) grid, upscaled with nearest
/// neighbours so a 320-px slice shows at ≥ 640 px.
public enum RegistrationQC {
    /// Fixed and warped moving image in alternating squares of `tile` fixed pixels.
    public static func checkerboard(fixed: Image2D, warped: Image2D, tile: Int = 16, title: String) -> RGBImage {
        let f = normalised(fixed), m = normalised(warped)
        let z = zoom(fixed)
        var out = RGBImage(width: fixed.width * z, height: fixed.height * z)
        for y in 0..<out.height {
            for x in 0..<out.width {
                let i = x / z, j = y / z
                let v = ((i / tile) + (j / tile)) % 2 == 0 ? f[j * fixed.width + i] : m[j * fixed.width + i]
                out[x, y] = (v, v, v)
            }
        }
        label(&out, title)
        return out
    }

    /// The fixed image in grey with both mask outlines: fixed in green, warped moving in magenta.
    public static func contours(fixed: Image2D, fixedMask: Image2D, warpedMask: Image2D, title: String) -> RGBImage {
        let f = normalised(fixed)
        let z = zoom(fixed)
        var out = RGBImage(width: fixed.width * z, height: fixed.height * z)
        for y in 0..<out.height {
            for x in 0..<out.width { let v = f[(y / z) * fixed.width + x / z]; out[x, y] = (v, v, v) }
        }
        for (mask, colour) in [(fixedMask, (UInt8(0), UInt8(230), UInt8(0))), (warpedMask, (UInt8(255), UInt8(0), UInt8(255)))] {
            // Outline at the zoomed resolution: a zoomed pixel is on the edge when its mask value
            // differs from a 4-neighbour's.
            func on(_ x: Int, _ y: Int) -> Bool {
                x >= 0 && y >= 0 && x < out.width && y < out.height && mask.pixels[(y / z) * mask.width + x / z] > 0.5
            }
            for y in 0..<out.height {
                for x in 0..<out.width where on(x, y) && (!on(x - 1, y) || !on(x + 1, y) || !on(x, y - 1) || !on(x, y + 1)) {
                    out[x, y] = colour
                }
            }
        }
        label(&out, title + "  green: MRI mask, magenta: warped section mask")
        return out
    }

    static func zoom(_ image: Image2D) -> Int { max(1, Int((640.0 / Double(max(image.width, image.height))).rounded(.up))) }

    /// 8-bit grey over the 1st–99th percentile.
    static func normalised(_ image: Image2D) -> [UInt8] {
        let s = image.pixels.filter(\.isFinite).sorted()
        guard !s.isEmpty else { return [UInt8](repeating: 0, count: image.pixels.count) }
        let lo = s[s.count / 100], hi = max(s[s.count * 99 / 100], lo + 1e-6)
        return image.pixels.map { UInt8(max(0, min(255, (($0 - lo) / (hi - lo) * 255).rounded()))) }
    }

    static func label(_ image: inout RGBImage, _ text: String) {
        let size = BitmapFont.size(of: text, scale: 2)
        image.fillRect(PixelRect(x: 0, y: 0, width: min(image.width, size.width + 8), height: size.height + 8), color: (0, 0, 0), alpha: 0.6)
        BitmapFont.draw(text, into: &image, x: 4, y: 4, scale: 2, color: (255, 255, 0))
    }
}
