import CTurboJPEG
import Foundation

/// Encodes RGB tiles as JPEG streams whose three components ARE R, G, B — no colour
/// transform, 4:4:4 — for TIFF levels with Photometric RGB, the layout of Aperio's own
/// RGB-coded tiles. TurboJPEG 2.1 has no RGB-component option, so the planes are handed
/// to it as if they were Y, Cb, Cr (tjCompressFromYUVPlanes stores planes unconverted),
/// and the JFIF marker it writes is replaced by an Adobe APP14 marker with transform 0,
/// which tells standalone decoders the components are RGB. (TIFF readers take the
/// Photometric tag anyway: OpenSlide forces RGB, libtiff leaves the components as stored.)
/// G and B use TurboJPEG's chroma quantisation table, a little coarser than the luma one.
/// One instance per thread.
final class RGBJPEGEncoder {
    private let handle: tjhandle?
    private var planes: UnsafeMutablePointer<UInt8>
    private var capacity = 0

    init() {
        handle = tjInitCompress()
        planes = .allocate(capacity: 1)
    }

    deinit {
        if let handle { tjDestroy(handle) }
        planes.deallocate()
    }

    /// Adobe APP14, version 100, flags 0/0, transform 0 (= RGB, no colour transform).
    static let adobeRGB: [UInt8] = [0xFF, 0xEE, 0x00, 0x0E, 0x41, 0x64, 0x6F, 0x62, 0x65, 0x00, 0x64, 0x00, 0x00, 0x00, 0x00, 0x00]

    func encode(rgb: UnsafePointer<UInt8>, width: Int, height: Int, quality: Int) throws -> Data {
        guard let handle else { throw HeatmapError(path: "<jpeg>", reason: "cannot create a TurboJPEG compressor") }
        let n = width * height
        if n > capacity {
            planes.deallocate()
            planes = .allocate(capacity: 3 * n)
            capacity = n
        }
        for i in 0..<n {
            planes[i] = rgb[3 * i]; planes[n + i] = rgb[3 * i + 1]; planes[2 * n + i] = rgb[3 * i + 2]
        }
        var buf: UnsafeMutablePointer<UInt8>? = nil
        var size: UInt = 0
        var sources: [UnsafePointer<UInt8>?] = [UnsafePointer(planes), UnsafePointer(planes + n), UnsafePointer(planes + 2 * n)]
        let rc = sources.withUnsafeMutableBufferPointer { src in
            tjCompressFromYUVPlanes(handle, src.baseAddress, Int32(width), nil, Int32(height), Int32(TJSAMP_444.rawValue),
                                    &buf, &size, Int32(max(1, min(100, quality))), 0)
        }
        defer { if let b = buf { tjFree(b) } }
        guard rc == 0, let b = buf, size > 4 else {
            throw HeatmapError(path: "<jpeg>", reason: "RGB JPEG encoding failed (\(String(cString: tjGetErrorStr2(handle))))")
        }
        let stream = UnsafeBufferPointer(start: b, count: Int(size))
        // SOI, then (if present) the JFIF APP0 segment, which is dropped.
        var rest = 2
        if stream[2] == 0xFF, stream[3] == 0xE0 { rest = 4 + (Int(stream[4]) << 8 | Int(stream[5])) }
        var out = Data(capacity: Int(size) + RGBJPEGEncoder.adobeRGB.count)
        out.append(contentsOf: [0xFF, 0xD8])
        out.append(contentsOf: RGBJPEGEncoder.adobeRGB)
        out.append(UnsafeBufferPointer(rebasing: stream[rest...]))
        return out
    }
}
