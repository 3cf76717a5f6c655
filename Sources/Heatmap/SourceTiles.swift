import CTIFF
import Foundation
import ImageCore
import SlideIO

/// The slide's own JPEG tiles, read raw from its TIFF, so the overlay can copy the tiles it
/// leaves untouched byte for byte (no decode, no re-encode, no loss) and decode the others
/// without OpenSlide's compositing.
///
/// A level qualifies when OpenSlide maps it one-to-one to a TIFF directory (Aperio: tiled
/// directories in file order; generic TIFF: directory 0 and reduced ones, widest first) that
/// is tiled with square tiles, 8-bit 3-sample contiguous JPEG, and has no missing
/// (zero-length) tiles itself or above it; either Photometric YCbCr with tiles libjpeg reads
/// as YCbCr at 4:2:0, 4:2:2 or 4:4:4, or Photometric RGB (Aperio's usual coding) with 4:4:4
/// components taken as R, G, B. The copied tile is the stream libjpeg sees in OpenSlide:
/// SOI + JPEGTables without SOI/EOI + tile without SOI (or the tile alone when there are no
/// tables); to decode an RGB-coded one, an Adobe marker saying "RGB, no transform" goes
/// after the SOI, as OpenSlide forces that colour space. Every other level is read through
/// `Slide.readRegion`.
final class SourceTiles: @unchecked Sendable {
    struct Level: Sendable {
        let directory: Int
        let tileSize: Int
        let across: Int
        let subsampling: JPEGCodec.Subsampling
        /// Photometric RGB: the JPEG components are R, G, B.
        let rgb: Bool
        /// Put before each tile's bytes after its SOI; empty = the raw tile as it is.
        let prefix: [UInt8]
    }

    let path: String
    /// Slide level index → plan; levels without one go through OpenSlide.
    let levels: [Int: Level]
    /// Why levels were left to OpenSlide (for the report).
    let notes: [String]

    init(slide: Slide) {
        path = slide.path
        var notes: [String] = []
        levels = SourceTiles.plan(slide: slide, notes: &notes)
        self.notes = notes
    }

    private struct Directory {
        var index = 0, width = 0, height = 0, tileWidth = 0, tileHeight = 0, tiles = 0
        var compression: UInt16 = 1, planar: UInt16 = 1, photometric: UInt16 = 0, bits: UInt16 = 1, samples: UInt16 = 1
        var subfileType: UInt32 = 0
        var hasZeroTile = false
        var tables: [UInt8]?
    }

    private static func plan(slide: Slide, notes: inout [String]) -> [Int: Level] {
        guard slide.format == "aperio" || slide.format == "generic-tiff", ImageFile.sniff(path: slide.path) == .tiff else {
            notes.append("format \(slide.format) is read through OpenSlide")
            return [:]
        }
        TIFFMessages.install()
        guard let tif = TIFFOpen(slide.path, "rm") else {
            notes.append("libtiff cannot open the slide (\(TIFFMessages.takeLast() ?? "?"))")
            return [:]
        }
        defer { TIFFClose(tif) }
        var tiled: [Directory] = []
        var index = 0
        repeat {
            defer { index += 1 }
            guard TIFFIsTiled(tif) != 0 else { continue }
            var d = Directory(index: index)
            var w: UInt32 = 0, h: UInt32 = 0, tw: UInt32 = 0, th: UInt32 = 0
            withVaTag(tif, TIFFTAG_IMAGEWIDTH, &w); withVaTag(tif, TIFFTAG_IMAGELENGTH, &h)
            withVaTag(tif, TIFFTAG_TILEWIDTH, &tw); withVaTag(tif, TIFFTAG_TILELENGTH, &th)
            withVaTag(tif, TIFFTAG_COMPRESSION, &d.compression); withVaTag(tif, TIFFTAG_PLANARCONFIG, &d.planar)
            withVaTag(tif, TIFFTAG_PHOTOMETRIC, &d.photometric); withVaTag(tif, TIFFTAG_BITSPERSAMPLE, &d.bits)
            withVaTag(tif, TIFFTAG_SAMPLESPERPIXEL, &d.samples); withVaTag(tif, TIFFTAG_SUBFILETYPE, &d.subfileType)
            d.width = Int(w); d.height = Int(h); d.tileWidth = Int(tw); d.tileHeight = Int(th)
            d.tiles = Int(TIFFNumberOfTiles(tif))
            for t in 0..<d.tiles where TIFFGetStrileByteCount(tif, UInt32(t)) == 0 { d.hasZeroTile = true; break }
            d.tables = jpegTables(tif)
            tiled.append(d)
        } while TIFFReadDirectory(tif) != 0
        _ = TIFFMessages.takeLast()

        var candidates = tiled
        if slide.format != "aperio" {
            candidates = tiled.filter { $0.index == 0 || ($0.subfileType & UInt32(FILETYPE_REDUCEDIMAGE)) != 0 }
            candidates.sort { $0.width > $1.width }
        }
        guard candidates.count == slide.levels.count,
              zip(candidates, slide.levels).allSatisfy({ $0.width == $1.width && $0.height == $1.height }) else {
            notes.append("the TIFF directories do not map one-to-one onto OpenSlide's levels")
            return [:]
        }
        var out: [Int: Level] = [:]
        var missingAbove = false
        let decoder = JPEGTileDecoder()
        for (li, d) in candidates.enumerated() {
            missingAbove = missingAbove || (d.hasZeroTile && slide.format == "aperio")
            let across = (d.width + d.tileWidth - 1) / max(1, d.tileWidth)
            let down = (d.height + d.tileHeight - 1) / max(1, d.tileHeight)
            let rgb = d.photometric == UInt16(PHOTOMETRIC_RGB)
            guard d.compression == UInt16(COMPRESSION_JPEG), rgb || d.photometric == UInt16(PHOTOMETRIC_YCBCR),
                  d.bits == 8, d.samples == 3, d.planar == UInt16(PLANARCONFIG_CONTIG) else {
                notes.append("level \(li): not 8-bit RGB or YCbCr JPEG (compression \(d.compression), photometric \(d.photometric))")
                continue
            }
            guard d.tileWidth == d.tileHeight, d.tileWidth >= 16, d.tileWidth % 16 == 0, d.tiles == across * down else {
                notes.append("level \(li): tiles \(d.tileWidth)x\(d.tileHeight) are not square multiples of 16")
                continue
            }
            guard !d.hasZeroTile, !missingAbove else {
                notes.append("level \(li): has or inherits missing tiles")
                continue
            }
            guard let prefix = streamPrefix(d.tables) else {
                notes.append("level \(li): JPEGTables are not a JPEG tables stream")
                continue
            }
            // The first tile tells the colour space and chroma subsampling of the level.
            guard TIFFSetDirectory(tif, UInt32(d.index)) != 0, let first = readRaw(tif, tile: 0, prefix: prefix),
                  let header = try? decodable(first, rgb: rgb).withUnsafeBytes({ try decoder.header($0.baseAddress!, count: $0.count) }),
                  header.colorSpace == (rgb ? .rgb : .ycbcr), header.width == d.tileWidth, header.height == d.tileHeight,
                  let sub = chromaSubsampling(first), !rgb || sub == .s444 else {
                notes.append("level \(li): its JPEG tiles are not plain \(rgb ? "4:4:4 RGB" : "YCbCr") streams of the tile size")
                continue
            }
            out[li] = Level(directory: d.index, tileSize: d.tileWidth, across: across, subsampling: sub, rgb: rgb, prefix: prefix)
        }
        return out
    }

    private static func jpegTables(_ tif: OpaquePointer) -> [UInt8]? {
        var count: UInt32 = 0
        var data: UnsafeMutableRawPointer? = nil
        let ok = withUnsafeMutablePointer(to: &count) { c in
            withUnsafeMutablePointer(to: &data) { d in
                withVaList([OpaquePointer(c), OpaquePointer(d)]) { TIFFVGetField(tif, UInt32(TIFFTAG_JPEGTABLES), $0) != 0 }
            }
        }
        guard ok, let data, count > 0 else { return nil }
        return [UInt8](UnsafeRawBufferPointer(start: data, count: Int(count)))
    }

    /// SOI + the tables without SOI/EOI; empty without tables; nil when malformed.
    static func streamPrefix(_ tables: [UInt8]?) -> [UInt8]? {
        guard let t = tables else { return [] }
        guard t.count >= 4, t[0] == 0xFF, t[1] == 0xD8 else { return nil }
        var body = t[2...]
        if body.count >= 2, body[body.endIndex - 2] == 0xFF, body[body.endIndex - 1] == 0xD9 { body = body.dropLast(2) }
        return body.isEmpty ? [] : [0xFF, 0xD8] + Array(body)
    }

    /// The tile's complete JPEG stream, or nil for a missing or unreadable tile.
    static func readRaw(_ tif: OpaquePointer, tile: Int, prefix: [UInt8]) -> Data? {
        let n = Int(clamping: TIFFGetStrileByteCount(tif, UInt32(tile)))
        guard n > 2, n < 256 << 20 else { return nil }
        var raw = Data(count: n)
        let got = raw.withUnsafeMutableBytes { TIFFReadRawTile(tif, UInt32(tile), $0.baseAddress!, tmsize_t(n)) }
        guard got == tmsize_t(n), raw[0] == 0xFF, raw[1] == 0xD8 else { return nil }
        if prefix.isEmpty { return raw }
        var out = Data(capacity: prefix.count + n - 2)
        out.append(contentsOf: prefix)
        out.append(raw[2...])
        return out
    }

    /// The stream TurboJPEG decodes as OpenSlide does: RGB-coded tiles get an Adobe
    /// "RGB, no transform" marker after the SOI (TurboJPEG cannot be told the colour space).
    static func decodable(_ jpeg: Data, rgb: Bool) -> Data {
        guard rgb else { return jpeg }
        var out = Data(capacity: jpeg.count + RGBJPEGEncoder.adobeRGB.count)
        out.append(contentsOf: [0xFF, 0xD8])
        out.append(contentsOf: RGBJPEGEncoder.adobeRGB)
        out.append(jpeg[(jpeg.startIndex + 2)...])
        return out
    }

    /// 4:2:0, 4:2:2 or 4:4:4 from the stream's frame header (first component's sampling
    /// factors 2×2, 2×1 or 1×1, the others 1×1); nil for anything else.
    static func chromaSubsampling(_ jpeg: Data) -> JPEGCodec.Subsampling? {
        let b = [UInt8](jpeg)
        var i = 2
        while i + 4 <= b.count {
            guard b[i] == 0xFF else { return nil }
            let m = b[i + 1]
            if m == 0xFF { i += 1; continue }
            if m == 0xD8 || (0xD0...0xD7).contains(m) || m == 0x01 { i += 2; continue }
            if m == 0xD9 || m == 0xDA { return nil }
            let len = Int(b[i + 2]) << 8 | Int(b[i + 3])
            let isSOF = (0xC0...0xCF).contains(m) && m != 0xC4 && m != 0xC8 && m != 0xCC
            if isSOF {
                guard i + 2 + len <= b.count, len >= 8 + 9, b[i + 9] == 3 else { return nil }
                let y = b[i + 11], cb = b[i + 14], cr = b[i + 17]
                guard cb == 0x11, cr == 0x11 else { return nil }
                switch y {
                case 0x22: return .s420
                case 0x21: return .s422
                case 0x11: return .s444
                default: return nil
                }
            }
            i += 2 + len
        }
        return nil
    }

    /// One thread's libtiff handle (they are not thread-safe) and JPEG decoder.
    final class Reader {
        let decoder = JPEGTileDecoder()
        private var tif: OpaquePointer?
        private var directory = -1
        private let path: String

        init(path: String) { self.path = path }
        deinit { if let tif { TIFFClose(tif) } }

        /// The complete JPEG stream of tile (col, row) of `level`, or nil when missing.
        func tile(_ level: Level, col: Int, row: Int) throws -> Data? {
            if tif == nil {
                TIFFMessages.install()
                tif = TIFFOpen(path, "rm")
                guard tif != nil else {
                    throw HeatmapError(path: path, reason: "libtiff cannot reopen the slide (\(TIFFMessages.takeLast() ?? "?"))")
                }
            }
            if directory != level.directory {
                guard TIFFSetDirectory(tif, UInt32(level.directory)) != 0 else {
                    throw HeatmapError(path: path, reason: "cannot read TIFF directory \(level.directory) (\(TIFFMessages.takeLast() ?? "?"))")
                }
                directory = level.directory
            }
            return SourceTiles.readRaw(tif!, tile: row * level.across + col, prefix: level.prefix)
        }
    }
}
