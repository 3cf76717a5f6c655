/// Pixel layout conversions on raw buffers (the hot path of every region read).
enum PixelConvert {
    /// Turns `count` native-endian premultiplied ARGB words (OpenSlide's `0xAARRGGBB`) at
    /// `buffer` into packed RGB bytes at the start of the same buffer, composited over
    /// white: opaque pixels are copied, fully transparent ones (outside the slide, or
    /// between scanned areas) become white, partial ones get `c + 255 − a` (the
    /// premultiplied colour over a white background), clamped to 255.
    ///
    /// In place is safe because pixel `i` is read from bytes `4i..<4i+4` before bytes
    /// `3i..<3i+3` are written, and `3i+2 < 4(i+1)`, so no unread pixel is overwritten.
    static func premultipliedARGBToRGBInPlace(_ buffer: UnsafeMutableRawPointer, count: Int) {
        var src = 0
        var dst = 0
        for _ in 0..<count {
            let v = buffer.loadUnaligned(fromByteOffset: src, as: UInt32.self)
            let a = v >> 24
            var r = (v >> 16) & 0xFF, g = (v >> 8) & 0xFF, b = v & 0xFF
            if a != 255 {
                if a == 0 {
                    r = 255; g = 255; b = 255
                } else {
                    let add = 255 - a
                    r = min(255, r + add); g = min(255, g + add); b = min(255, b + add)
                }
            }
            buffer.storeBytes(of: UInt8(truncatingIfNeeded: r), toByteOffset: dst, as: UInt8.self)
            buffer.storeBytes(of: UInt8(truncatingIfNeeded: g), toByteOffset: dst + 1, as: UInt8.self)
            buffer.storeBytes(of: UInt8(truncatingIfNeeded: b), toByteOffset: dst + 2, as: UInt8.self)
            src += 4
            dst += 3
        }
    }
}
