import Foundation

/// Colour-space conversions with OpenCV's 8-bit conventions, so thresholds published for CLAM-style
/// tissue detection (which runs `cv2.cvtColor(..., COLOR_RGB2HSV)`) mean the same thing here.
public enum ColorConversion {
    /// Fixed-point reciprocal tables with 12 fractional bits. OpenCV's 8-bit RGB→HSV path rounds
    /// through exactly such tables (not through exact division), and the results differ from exact
    /// rounding for ~1% of colours; using the same arithmetic makes every one of the 2^24 colours agree
    /// (checked exhaustively in the tests).
    static let shift: Int32 = 12
    static let saturationDivisor: [Int32] = (0..<256).map { i in
        i == 0 ? 0 : Int32((Double(255 << 12) / Double(i)).rounded())
    }
    static let hueDivisor: [Int32] = (0..<256).map { i in
        i == 0 ? 0 : Int32((Double(180 << 12) / Double(6 * i)).rounded())
    }

    /// OpenCV 8-bit convention (`cv2.COLOR_RGB2HSV`): H in 0...179 (degrees / 2), S and V in 0...255,
    /// S = 255·(max−min)/max (0 when max == 0), H = 30·(hue sector offset)/(max−min) (0 for greys).
    /// Both are rounded the way OpenCV rounds them: `(x · round(2^12·255/max) + 2^11) >> 12` for S and
    /// `(x · round(2^12·180/(6·(max−min))) + 2^11) >> 12` for H (negative hues wrap by +180).
    public static func hsv(_ image: RGBImage) -> (h: GrayImage, s: GrayImage, v: GrayImage) {
        let n = image.width * image.height
        var hh = [UInt8](repeating: 0, count: n), ss = hh, vv = hh
        saturationDivisor.withUnsafeBufferPointer { sdivB in
        hueDivisor.withUnsafeBufferPointer { hdivB in
        image.pixels.withUnsafeBufferPointer { srcB in
        hh.withUnsafeMutableBufferPointer { hB in
        ss.withUnsafeMutableBufferPointer { sB in
        vv.withUnsafeMutableBufferPointer { vB in
            let sdiv = sdivB.baseAddress!, hdiv = hdivB.baseAddress!
            guard let src = srcB.baseAddress, let hp = hB.baseAddress, let sp = sB.baseAddress,
                  let vp = vB.baseAddress else { return }
            let half: Int32 = 1 << (shift - 1)
            parallelBands(count: n, workPerItem: 8) { range in
                for i in range {
                    let r = Int32(src[3 * i]), g = Int32(src[3 * i + 1]), b = Int32(src[3 * i + 2])
                    let v = max(r, max(g, b)), mn = min(r, min(g, b)), d = v - mn
                    let s = (d * sdiv[Int(v)] + half) >> shift
                    let num: Int32
                    if v == r { num = g - b } else if v == g { num = b - r + 2 * d } else { num = r - g + 4 * d }
                    var h = (num * hdiv[Int(d)] + half) >> shift
                    if h < 0 { h += 180 }
                    hp[i] = UInt8(truncatingIfNeeded: h)
                    sp[i] = UInt8(truncatingIfNeeded: s)
                    vp[i] = UInt8(truncatingIfNeeded: v)
                }
            }
        }}}}}}
        return (GrayImage(width: image.width, height: image.height, pixels: hh),
                GrayImage(width: image.width, height: image.height, pixels: ss),
                GrayImage(width: image.width, height: image.height, pixels: vv))
    }

    /// Only the S channel of ``hsv(_:)`` (bit-identical to it), for tissue detection, which thresholds
    /// saturation alone; skips the hue arithmetic and two of the three output buffers.
    public static func saturation(_ image: RGBImage) -> GrayImage {
        let n = image.width * image.height
        var ss = [UInt8](repeating: 0, count: n)
        saturationDivisor.withUnsafeBufferPointer { sdivB in
        image.pixels.withUnsafeBufferPointer { srcB in
        ss.withUnsafeMutableBufferPointer { sB in
            let sdiv = sdivB.baseAddress!
            guard let src = srcB.baseAddress, let sp = sB.baseAddress else { return }
            let half: Int32 = 1 << (shift - 1)
            parallelBands(count: n, workPerItem: 4) { range in
                for i in range {
                    let r = Int32(src[3 * i]), g = Int32(src[3 * i + 1]), b = Int32(src[3 * i + 2])
                    let v = max(r, max(g, b)), d = v - min(r, min(g, b))
                    sp[i] = UInt8(truncatingIfNeeded: (d * sdiv[Int(v)] + half) >> shift)
                }
            }
        }}}
        return GrayImage(width: image.width, height: image.height, pixels: ss)
    }
}
