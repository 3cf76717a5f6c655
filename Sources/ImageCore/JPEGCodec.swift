import CTurboJPEG
import Foundation

/// JPEG through libjpeg-turbo's TurboJPEG API. Instances hold a codec handle and are
/// not thread-safe: use one per thread (they are cheap) and reuse it across images.
public final class JPEGCodec {
    private var compressor: tjhandle?
    private var decompressor: tjhandle?

    public init() {}

    deinit {
        if let c = compressor { tjDestroy(c) }
        if let d = decompressor { tjDestroy(d) }
    }

    /// Chroma subsampling of an encoded JPEG.
    public enum Subsampling: Sendable { case s444, s422, s420 }

    /// Encodes RGB pixels at `quality` (1–100).
    public func encode(_ image: RGBImage, quality: Int = 90, subsampling: Subsampling = .s420) throws -> Data {
        try image.pixels.withUnsafeBufferPointer {
            try encode(rgb: $0.baseAddress!, width: image.width, height: image.height, quality: quality, subsampling: subsampling)
        }
    }

    /// Encodes `width*height*3` RGB bytes at `rgb`.
    public func encode(rgb: UnsafePointer<UInt8>, width: Int, height: Int, quality: Int = 90,
                       subsampling: Subsampling = .s420) throws -> Data {
        if compressor == nil { compressor = tjInitCompress() }
        guard let handle = compressor else { throw ImageCodecError(path: "<jpeg>", reason: "cannot create a TurboJPEG compressor") }
        var buf: UnsafeMutablePointer<UInt8>? = nil
        var size: UInt = 0
        let samp: Int32
        switch subsampling {
        case .s444: samp = Int32(TJSAMP_444.rawValue)
        case .s422: samp = Int32(TJSAMP_422.rawValue)
        case .s420: samp = Int32(TJSAMP_420.rawValue)
        }
        let rc = tjCompress2(handle, rgb, Int32(width), 0, Int32(height), Int32(TJPF_RGB.rawValue),
                             &buf, &size, samp, Int32(max(1, min(100, quality))), 0)
        defer { if let b = buf { tjFree(b) } }
        guard rc == 0, let b = buf else { throw ImageCodecError(path: "<jpeg>", reason: String(cString: tjGetErrorStr2(handle))) }
        return Data(bytes: b, count: Int(size))
    }

    /// Decodes a JPEG to RGB.
    public func decode(_ data: Data, path: String = "<jpeg>") throws -> RGBImage {
        if decompressor == nil { decompressor = tjInitDecompress() }
        guard let handle = decompressor else { throw ImageCodecError(path: path, reason: "cannot create a TurboJPEG decompressor") }
        return try data.withUnsafeBytes { raw -> RGBImage in
            guard let base = raw.bindMemory(to: UInt8.self).baseAddress else {
                throw ImageCodecError(path: path, reason: "empty JPEG data")
            }
            var w: Int32 = 0, h: Int32 = 0, sub: Int32 = 0, cs: Int32 = 0
            guard tjDecompressHeader3(handle, base, UInt(raw.count), &w, &h, &sub, &cs) == 0 else {
                throw ImageCodecError(path: path, reason: "not a readable JPEG (\(String(cString: tjGetErrorStr2(handle))))")
            }
            guard w > 0, h > 0, Int(w) * Int(h) <= 1 << 31 else {
                throw ImageCodecError(path: path, reason: "JPEG dimensions \(w)x\(h) are out of range")
            }
            var out = [UInt8](repeating: 0, count: Int(w) * Int(h) * 3)
            let rc = out.withUnsafeMutableBufferPointer {
                tjDecompress2(handle, base, UInt(raw.count), $0.baseAddress, w, 0, h, Int32(TJPF_RGB.rawValue), 0)
            }
            guard rc == 0 else {
                throw ImageCodecError(path: path, reason: "JPEG decode failed (\(String(cString: tjGetErrorStr2(handle))))")
            }
            return RGBImage(width: Int(w), height: Int(h), pixels: out)
        }
    }
}
