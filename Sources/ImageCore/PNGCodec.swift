import CPNG
import Foundation

/// PNG through libpng's simplified API.
public enum PNGCodec {
    /// Encodes an RGB image as PNG bytes.
    public static func encode(_ image: RGBImage) throws -> Data {
        try encode(pixels: image.pixels, width: image.width, height: image.height, channels: 3)
    }

    /// Encodes a grayscale image (or 0/255 mask) as PNG bytes.
    public static func encode(_ image: GrayImage) throws -> Data {
        try encode(pixels: image.pixels, width: image.width, height: image.height, channels: 1)
    }

    /// Encodes interleaved 8-bit pixels with 1 (gray), 3 (RGB) or 4 (RGBA) channels.
    public static func encode(pixels: [UInt8], width: Int, height: Int, channels: Int) throws -> Data {
        precondition([1, 3, 4].contains(channels) && pixels.count == width * height * channels)
        guard width > 0, height > 0, width < Int(Int32.max), height < Int(Int32.max) else {
            throw ImageCodecError(path: "<png>", reason: "cannot encode an empty or oversized image (\(width)x\(height))")
        }
        var img = png_image()
        img.version = UInt32(PNG_IMAGE_VERSION)
        img.width = UInt32(width)
        img.height = UInt32(height)
        img.format = channels == 1 ? 0 : (channels == 3 ? UInt32(PNG_FORMAT_FLAG_COLOR) : UInt32(PNG_FORMAT_FLAG_COLOR | PNG_FORMAT_FLAG_ALPHA))
        // Masks and previews are written per slide on the hot path: favour speed over the last
        // few percent of size.
        img.flags = UInt32(PNG_IMAGE_FLAG_FAST)
        // One pass: a buffer sized for the raw pixels plus zlib's worst-case overhead; only if
        // libpng says it did not fit (it then reports the size needed) is it written again.
        let stride = Int32(width * channels)
        let raw = height * (width * channels + 1)
        var size = raw + raw / 64 + 65_536
        var out = Data(count: size)
        var ok = out.withUnsafeMutableBytes { dst in
            pixels.withUnsafeBytes { png_image_write_to_memory(&img, dst.baseAddress, &size, 0, $0.baseAddress, stride, nil) }
        }
        if ok == 0 && size > out.count {
            img.warning_or_error = 0
            out = Data(count: size)
            ok = out.withUnsafeMutableBytes { dst in
                pixels.withUnsafeBytes { png_image_write_to_memory(&img, dst.baseAddress, &size, 0, $0.baseAddress, stride, nil) }
            }
        }
        guard ok != 0 else { throw ImageCodecError(path: "<png>", reason: message(img)) }
        out.count = size
        png_image_free(&img)
        return out
    }

    /// Decodes PNG bytes to RGB; transparent pixels are composited over white.
    public static func decodeRGB(_ data: Data, path: String = "<png>") throws -> RGBImage {
        let (w, h, px) = try decode(data, path: path, channels: 3)
        return RGBImage(width: w, height: h, pixels: px)
    }

    /// Decodes PNG bytes to 8-bit gray (colour images are converted by libpng).
    public static func decodeGray(_ data: Data, path: String = "<png>") throws -> GrayImage {
        let (w, h, px) = try decode(data, path: path, channels: 1)
        return GrayImage(width: w, height: h, pixels: px)
    }

    static func decode(_ data: Data, path: String, channels: Int) throws -> (Int, Int, [UInt8]) {
        var img = png_image()
        img.version = UInt32(PNG_IMAGE_VERSION)
        let ok = data.withUnsafeBytes { png_image_begin_read_from_memory(&img, $0.baseAddress, $0.count) }
        guard ok != 0 else { throw ImageCodecError(path: path, reason: "not a readable PNG (\(message(img)))") }
        defer { png_image_free(&img) }
        let w = Int(img.width), h = Int(img.height)
        guard w > 0, h > 0, w * h <= 1 << 31 else {
            throw ImageCodecError(path: path, reason: "PNG dimensions \(w)x\(h) are out of range")
        }
        img.format = channels == 1 ? 0 : UInt32(PNG_FORMAT_FLAG_COLOR)
        var out = [UInt8](repeating: 0, count: w * h * channels)
        var white = png_color(red: 255, green: 255, blue: 255)
        let ok2 = data.withUnsafeBytes { _ in
            out.withUnsafeMutableBytes { png_image_finish_read(&img, &white, $0.baseAddress, Int32(w * channels), nil) }
        }
        guard ok2 != 0 else { throw ImageCodecError(path: path, reason: "PNG decode failed (\(message(img)))") }
        return (w, h, out)
    }

    static func message(_ img: png_image) -> String {
        var m = img.message
        return withUnsafeBytes(of: &m) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
    }
}
