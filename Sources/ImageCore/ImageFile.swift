import CTIFF
import Foundation

/// Reads plain (non-pyramidal) image files: PNG, JPEG and TIFF (any layout libtiff's
/// RGBA interface reads, including stripped RGB TIFFs that OpenSlide refuses).
public enum ImageFile {
    public enum Format: String, Sendable { case png, jpeg, tiff }

    /// Largest plain image decoded whole into memory (pixels). Anything larger is a
    /// whole-slide image and must go through a tiled reader.
    public static let maxPlainPixels = 400_000_000

    /// Sniffs the format from the first bytes; nil when it is none of the three.
    public static func sniff(path: String) -> Format? {
        guard let fh = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? fh.close() }
        let head = [UInt8]((try? fh.read(upToCount: 8)) ?? Data())
        if head.count >= 8 && head[0] == 0x89 && head[1] == 0x50 && head[2] == 0x4E && head[3] == 0x47 { return .png }
        if head.count >= 3 && head[0] == 0xFF && head[1] == 0xD8 && head[2] == 0xFF { return .jpeg }
        if head.count >= 4 && ((head[0] == 0x49 && head[1] == 0x49) || (head[0] == 0x4D && head[1] == 0x4D)) { return .tiff }
        return nil
    }

    /// Decodes the whole image to RGB (first TIFF directory; alpha composited over white).
    public static func read(path: String) throws -> RGBImage {
        guard let format = sniff(path: path) else {
            throw ImageCodecError(path: path, reason: "not a PNG, JPEG or TIFF file")
        }
        switch format {
        case .png:
            return try PNGCodec.decodeRGB(try data(path), path: path)
        case .jpeg:
            return try JPEGCodec().decode(try data(path), path: path)
        case .tiff:
            return try readTIFF(path: path)
        }
    }

    private static func data(_ path: String) throws -> Data {
        do { return try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw ImageCodecError(path: path, reason: "cannot read the file (\(error.localizedDescription))")
        }
    }

    static func withTIFF<T>(_ path: String, _ body: (OpaquePointer) throws -> T) throws -> T {
        TIFFMessages.install()
        _ = TIFFMessages.takeLast()
        guard let tif = TIFFOpen(path, "r") else {
            throw ImageCodecError(path: path, reason: "libtiff cannot open it (\(TIFFMessages.takeLast() ?? "unknown error"))")
        }
        defer { TIFFClose(tif) }
        return try body(tif)
    }

    private static func readTIFF(path: String) throws -> RGBImage {
        try withTIFF(path) { tif in
            var w: UInt32 = 0, h: UInt32 = 0
            _ = withVaTag(tif, TIFFTAG_IMAGEWIDTH, &w)
            _ = withVaTag(tif, TIFFTAG_IMAGELENGTH, &h)
            let n = Int(w) * Int(h)
            guard n > 0 else { throw ImageCodecError(path: path, reason: "TIFF has no pixels (\(w)x\(h))") }
            guard n <= maxPlainPixels else {
                throw ImageCodecError(path: path, reason: "\(w)x\(h) is too large to read as a plain image; convert it to a tiled pyramidal TIFF")
            }
            guard let out = decodeRGBA(tif, width: Int(w), height: Int(h)) else {
                throw ImageCodecError(path: path, reason: "TIFF pixels cannot be decoded (\(TIFFMessages.takeLast() ?? "unsupported layout"))")
            }
            return RGBImage(width: Int(w), height: Int(h), pixels: out)
        }
    }
}

extension ImageFile {
    /// Decodes the current TIFF directory through libtiff's RGBA interface (any layout it
    /// reads) to RGB, compositing its premultiplied alpha over white. Nil when libtiff cannot.
    public static func decodeRGBA(_ tif: OpaquePointer, width: Int, height: Int) -> [UInt8]? {
        let n = width * height
        var raster = [UInt32](repeating: 0, count: n)
        let ok = raster.withUnsafeMutableBufferPointer {
            TIFFReadRGBAImageOriented(tif, UInt32(width), UInt32(height), $0.baseAddress, Int32(ORIENTATION_TOPLEFT), 0)
        }
        guard ok != 0 else { return nil }
        // libtiff's RGBA words are 0xAABBGGRR with premultiplied colour.
        return [UInt8](unsafeUninitializedCapacity: n * 3) { buf, count in
            raster.withUnsafeBufferPointer { src in
                for i in 0..<n {
                    let v = src[i]
                    let a = v >> 24
                    var r = v & 0xFF, g = (v >> 8) & 0xFF, b = (v >> 16) & 0xFF
                    if a != 255 { r = min(255, r + 255 - a); g = min(255, g + 255 - a); b = min(255, b + 255 - a) }
                    buf[3 * i] = UInt8(r); buf[3 * i + 1] = UInt8(g); buf[3 * i + 2] = UInt8(b)
                }
            }
            count = n * 3
        }
    }
}

/// TIFFGetField is variadic and cannot be called from Swift directly; TIFFVGetField takes a va_list.
@discardableResult
public func withVaTag<T>(_ tif: OpaquePointer, _ tag: Int32, _ value: inout T) -> Bool {
    withUnsafeMutablePointer(to: &value) { p in
        withVaList([OpaquePointer(p)]) { TIFFVGetField(tif, UInt32(tag), $0) != 0 }
    }
}
