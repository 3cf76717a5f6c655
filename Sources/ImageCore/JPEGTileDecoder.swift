import CTurboJPEG

/// Decodes JPEG streams straight into caller-owned RGB memory at any row stride (a tile
/// into its place in a larger image, no per-tile copy), through TurboJPEG with its
/// defaults: accurate integer DCT and fancy (smooth) chroma upsampling — the settings
/// plain libjpeg uses, so the pixels equal those of any libjpeg-turbo reader that keeps
/// the defaults (OpenSlide does).
///
/// One instance holds one TurboJPEG handle and is not thread-safe: use one per thread.
public final class JPEGTileDecoder {
    private let handle: tjhandle?

    public init() { handle = tjInitDecompress() }

    deinit { if let handle { tjDestroy(handle) } }

    /// The colour space the decoder infers from the stream's markers (JFIF → YCbCr, Adobe
    /// APP14 transform 0 → RGB, component ids 'R','G','B' → RGB, otherwise YCbCr for 3 components).
    public enum ColorSpace: Sendable, Equatable { case rgb, ycbcr, gray, cmyk, ycck, unknown }

    /// What the stream's headers say.
    public struct Header: Sendable, Equatable {
        public let width: Int, height: Int
        public let colorSpace: ColorSpace
    }

    /// Parses the headers of the `count` bytes at `data`.
    public func header(_ data: UnsafeRawPointer, count: Int) throws -> Header {
        guard let handle else { throw ImageCodecError(path: "<jpeg>", reason: "cannot create a TurboJPEG decompressor") }
        var w: Int32 = 0, h: Int32 = 0, sub: Int32 = 0, cs: Int32 = 0
        guard tjDecompressHeader3(handle, data.assumingMemoryBound(to: UInt8.self), UInt(count), &w, &h, &sub, &cs) == 0 else {
            throw ImageCodecError(path: "<jpeg>", reason: "unreadable JPEG header (\(String(cString: tjGetErrorStr2(handle))))")
        }
        let space: ColorSpace
        switch cs {
        case Int32(TJCS_RGB.rawValue): space = .rgb
        case Int32(TJCS_YCbCr.rawValue): space = .ycbcr
        case Int32(TJCS_GRAY.rawValue): space = .gray
        case Int32(TJCS_CMYK.rawValue): space = .cmyk
        case Int32(TJCS_YCCK.rawValue): space = .ycck
        default: space = .unknown
        }
        return Header(width: Int(w), height: Int(h), colorSpace: space)
    }

    /// Decodes the `count` bytes at `data`, which must be a `width` × `height` JPEG, as RGB
    /// into `destination`, row r starting at `destination + r * rowStride`. Any libjpeg
    /// warning (truncated or corrupt entropy data, ...) is an error, as in OpenSlide, so a
    /// damaged stream never yields half-grey pixels silently.
    public func decode(_ data: UnsafeRawPointer, count: Int, width: Int, height: Int,
                       into destination: UnsafeMutablePointer<UInt8>, rowStride: Int) throws {
        guard let handle else { throw ImageCodecError(path: "<jpeg>", reason: "cannot create a TurboJPEG decompressor") }
        precondition(width > 0 && height > 0 && rowStride >= width * 3, "JPEGTileDecoder: bad destination geometry")
        let rc = tjDecompress2(handle, data.assumingMemoryBound(to: UInt8.self), UInt(count), destination,
                               Int32(width), Int32(rowStride), Int32(height), Int32(TJPF_RGB.rawValue),
                               Int32(TJFLAG_STOPONWARNING))
        guard rc == 0 else {
            throw ImageCodecError(path: "<jpeg>", reason: "JPEG decode failed (\(String(cString: tjGetErrorStr2(handle))))")
        }
    }
}
