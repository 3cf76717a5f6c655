import CTIFF
import Foundation
import ImageCore

/// Works around a bug of OpenSlide 3.4.1 with libtiff ≥ 4.5 (Debian 12's pair).
///
/// For tiles that are not JPEG (deflate, LZW, none, ...), OpenSlide 3.4.1 decodes each tile
/// with `TIFFRGBAImageGet(tile_w, tile_h)`. libtiff 4.5 shrinks that request to the image
/// size when a tile is larger than the whole level ("Raster width of 64 shall not be larger
/// than image width of 37 -> raster width adapted for reading"), so the rows land with the
/// wrong stride and the rest of OpenSlide's buffer is uninitialised memory: the level reads
/// as garbage that changes from run to run (edge-cases/boxes.tiff levels 2 and 3).
///
/// Such levels are by construction smaller than one tile in at least one direction, so
/// SlideIO decodes the level's TIFF directory whole with libtiff (once, lazily, under a
/// lock) and serves reads from it. JPEG tiles take OpenSlide's libjpeg path and are fine.
final class TIFFLevelImage: @unchecked Sendable {
    let path: String
    let directory: Int
    let width: Int, height: Int
    private let lock = NSLock()
    private var decoded: RGBImage?
    private var failure: SlideError?

    /// Largest level decoded whole (pixels); bigger ones are left to OpenSlide.
    static let maxPixels = 64 << 20

    init(path: String, directory: Int, width: Int, height: Int) {
        self.path = path; self.directory = directory; self.width = width; self.height = height
    }

    /// For each level of a TIFF-based slide that OpenSlide 3.4.1 would read wrongly, the
    /// TIFF directory holding it. Levels are matched to tiled directories by size.
    static func affectedLevels(path: String, vendor: String, levels: [SlideLevel]) -> [Int: TIFFLevelImage] {
        guard vendor == "generic-tiff" || vendor == "aperio" else { return [:] }
        TIFFMessages.install()
        guard let tif = TIFFOpen(path, "r") else { _ = TIFFMessages.takeLast(); return [:] }
        defer { TIFFClose(tif) }
        struct Dir { var index: Int; var w: Int; var h: Int; var tw: Int; var th: Int; var direct: Bool }
        var dirs: [Dir] = []
        var index = 0
        repeat {
            if TIFFIsTiled(tif) != 0 {
                var w: UInt32 = 0, h: UInt32 = 0, tw: UInt32 = 0, th: UInt32 = 0
                var comp: UInt16 = 1, planar: UInt16 = 1, photo: UInt16 = 0, bps: UInt16 = 1, spp: UInt16 = 1
                withVaTag(tif, TIFFTAG_IMAGEWIDTH, &w); withVaTag(tif, TIFFTAG_IMAGELENGTH, &h)
                withVaTag(tif, TIFFTAG_TILEWIDTH, &tw); withVaTag(tif, TIFFTAG_TILELENGTH, &th)
                withVaTag(tif, TIFFTAG_COMPRESSION, &comp); withVaTag(tif, TIFFTAG_PLANARCONFIG, &planar)
                withVaTag(tif, TIFFTAG_PHOTOMETRIC, &photo); withVaTag(tif, TIFFTAG_BITSPERSAMPLE, &bps)
                withVaTag(tif, TIFFTAG_SAMPLESPERPIXEL, &spp)
                // OpenSlide 3.4.1's "read direct" rule (decode-tiff.c): these tiles bypass libtiff.
                let direct = comp == UInt16(COMPRESSION_JPEG) && planar == UInt16(PLANARCONFIG_CONTIG)
                    && (photo == UInt16(PHOTOMETRIC_RGB) || photo == UInt16(PHOTOMETRIC_YCBCR)) && bps == 8 && spp == 3
                dirs.append(Dir(index: index, w: Int(w), h: Int(h), tw: Int(tw), th: Int(th), direct: direct))
            }
            index += 1
        } while TIFFReadDirectory(tif) != 0
        _ = TIFFMessages.takeLast()
        var used = Set<Int>()
        var out: [Int: TIFFLevelImage] = [:]
        for level in levels {
            guard let d = dirs.first(where: { !used.contains($0.index) && $0.w == level.width && $0.h == level.height }) else { continue }
            used.insert(d.index)
            if !d.direct && (d.tw > d.w || d.th > d.h) && d.w * d.h <= maxPixels {
                out[level.index] = TIFFLevelImage(path: path, directory: d.index, width: d.w, height: d.h)
            }
        }
        return out
    }

    /// The whole level, decoded on first use; a failure is remembered.
    func image() throws -> RGBImage {
        lock.lock()
        defer { lock.unlock() }
        if let decoded { return decoded }
        if let failure { throw failure }
        do {
            let img = try decode()
            decoded = img
            return img
        } catch let e as SlideError {
            failure = e
            throw e
        }
    }

    private func decode() throws -> RGBImage {
        func fail(_ why: String) -> SlideError {
            SlideError(kind: .corrupt, path: path, reason: "libtiff cannot decode TIFF directory \(directory) (\(width)x\(height)): \(why)",
                       hint: "the file is damaged; re-export it or rebuild its pyramid")
        }
        TIFFMessages.install()
        _ = TIFFMessages.takeLast()
        guard let tif = TIFFOpen(path, "r") else { throw fail(TIFFMessages.takeLast() ?? "cannot open") }
        defer { TIFFClose(tif) }
        guard TIFFSetDirectory(tif, UInt32(directory)) != 0 else { throw fail(TIFFMessages.takeLast() ?? "no such directory") }
        let n = width * height
        var raster = [UInt32](repeating: 0, count: n)
        let ok = raster.withUnsafeMutableBufferPointer {
            TIFFReadRGBAImageOriented(tif, UInt32(width), UInt32(height), $0.baseAddress, Int32(ORIENTATION_TOPLEFT), 0)
        }
        guard ok != 0 else { throw fail(TIFFMessages.takeLast() ?? "unsupported layout") }
        // libtiff's RGBA words are 0xAABBGGRR with premultiplied colour: composite over white.
        let pixels = [UInt8](unsafeUninitializedCapacity: n * 3) { buf, count in
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
        return RGBImage(width: width, height: height, pixels: pixels)
    }
}
