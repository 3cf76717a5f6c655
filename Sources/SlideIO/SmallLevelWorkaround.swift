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
    private let pixels: DecodeOnce<RGBImage>

    /// Largest level decoded whole (pixels); bigger ones are left to OpenSlide.
    static let maxPixels = 64 << 20

    init(path: String, directory: Int, width: Int, height: Int) {
        self.path = path; self.directory = directory; self.width = width; self.height = height
        pixels = DecodeOnce { try TIFFLevelImage.decode(path: path, directory: directory, width: width, height: height) }
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
    func image() throws -> RGBImage { try pixels.value() }

    private static func decode(path: String, directory: Int, width: Int, height: Int) throws -> RGBImage {
        func fail(_ why: String) -> SlideError {
            SlideError(kind: .corrupt, path: path, reason: "libtiff cannot decode TIFF directory \(directory) (\(width)x\(height)): \(why)",
                       hint: "the file is damaged; re-export it or rebuild its pyramid")
        }
        TIFFMessages.install()
        _ = TIFFMessages.takeLast()
        guard let tif = TIFFOpen(path, "r") else { throw fail(TIFFMessages.takeLast() ?? "cannot open") }
        defer { TIFFClose(tif) }
        guard TIFFSetDirectory(tif, UInt32(directory)) != 0 else { throw fail(TIFFMessages.takeLast() ?? "no such directory") }
        guard let pixels = ImageFile.decodeRGBA(tif, width: width, height: height) else {
            throw fail(TIFFMessages.takeLast() ?? "unsupported layout")
        }
        return RGBImage(width: width, height: height, pixels: pixels)
    }
}
