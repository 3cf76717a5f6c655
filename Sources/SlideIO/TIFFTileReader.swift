import CTIFF
import Foundation
import ImageCore

/// Reads whole pyramid levels of TIFF-family slides (OpenSlide vendors "aperio" and
/// "generic-tiff") straight from the file: raw JPEG tiles (`TIFFReadRawTile`), decoded by
/// TurboJPEG on all cores directly into the output image. This skips OpenSlide's per-tile
/// ARGB buffers, Cairo/pixman compositing and our un-premultiply pass, which are most of
/// the cost of reading a level through `openslide_read_region`.
///
/// The pixels are OpenSlide 3.4.1's, bit for bit, because only the cases where OpenSlide
/// itself bypasses libtiff are taken ("read direct" in its decode-tiff.c: JPEG, contiguous
/// planes, Photometric RGB or YCbCr, 8 bits, 3 samples), and the stream libjpeg sees is
/// the same:
/// - JPEGTables (abbreviated tile streams, as in Aperio SVS) are put before the tile, as
///   SOI + tables + tile without its SOI — one stream equal to OpenSlide's tables-then-tile.
/// - Photometric YCbCr: libjpeg's own inference must say YCbCr (it does for JFIF tiles and
///   for ids 1,2,3); OpenSlide forces that colour space.
/// - Photometric RGB: OpenSlide forces `JCS_RGB`; TurboJPEG 2.1 cannot, so an Adobe APP14
///   marker with transform 0 (= "RGB, no colour transform") is put in front of the tables,
///   which makes libjpeg infer RGB itself. A tile whose own markers override that (a JFIF
///   APP0) is detected from the header and the level falls back to OpenSlide.
/// - Defaults everywhere (integer DCT, fancy upsampling); libjpeg warnings are errors, as
///   in OpenSlide's error manager.
/// Anything else — other compressions or vendors, a directory that cannot be matched to
/// the level with certainty, zero-length (missing) tiles, which OpenSlide 3.4.1 renders
/// from the finer level (Aperio) or fails on (generic TIFF) — is left to OpenSlide.
final class TIFFTileReader: @unchecked Sendable {
    /// How one level can be read directly.
    struct LevelPlan: Sendable {
        let level: Int, directory: Int
        let width: Int, height: Int
        let tileWidth: Int, tileHeight: Int
        let across: Int, down: Int
        /// Photometric RGB (else YCbCr).
        let rgb: Bool
        /// Bytes put before each tile's bytes (which then lose their own SOI); empty when
        /// the raw tile is decoded as it is.
        let prefix: [UInt8]
        let maxTileBytes: Int
    }

    enum Plan: Sendable {
        case direct(LevelPlan)
        case fallback(String)
    }

    private let lock = NSLock()
    private var plans: [Plan]?

    /// Largest raw tile accepted (bytes); more is a damaged byte-count table.
    static let maxTileBytes = 256 << 20

    /// Adobe APP14, version 100, flags 0/0, transform 0: tells libjpeg the 3 components
    /// are R, G, B with no colour transform.
    static let adobeRGBMarker: [UInt8] = [0xFF, 0xEE, 0x00, 0x0E, 0x41, 0x64, 0x6F, 0x62, 0x65, 0x00, 0x64,
                                          0x00, 0x00, 0x00, 0x00, 0x00]

    /// The plan for `level`, worked out for all levels on first use (one pass over the
    /// TIFF directories).
    func plan(level: Int, path: String, vendor: String, levels: [SlideLevel]) -> Plan {
        lock.lock()
        defer { lock.unlock() }
        if plans == nil { plans = TIFFTileReader.makePlans(path: path, vendor: vendor, levels: levels) }
        return plans![level]
    }

    /// Remembers that `level` must go through OpenSlide (found while decoding).
    func demote(level: Int, reason: String) {
        lock.lock()
        defer { lock.unlock() }
        plans?[level] = .fallback(reason)
    }

    // MARK: planning

    private struct Directory {
        var index: Int
        var width = 0, height = 0, tileWidth = 0, tileHeight = 0
        var compression: UInt16 = 1, planar: UInt16 = 1, photometric: UInt16 = 0
        var bitsPerSample: UInt16 = 1, samplesPerPixel: UInt16 = 1
        var subfileType: UInt32? = nil
        var tiles = 0
        var hasZeroTile = false
        var maxTileBytes = 0
        var tables: [UInt8]? = nil
        var readDirect: Bool {
            compression == UInt16(COMPRESSION_JPEG) && planar == UInt16(PLANARCONFIG_CONTIG)
                && (photometric == UInt16(PHOTOMETRIC_RGB) || photometric == UInt16(PHOTOMETRIC_YCBCR))
                && bitsPerSample == 8 && samplesPerPixel == 3
        }
    }

    static func makePlans(path: String, vendor: String, levels: [SlideLevel]) -> [Plan] {
        func all(_ why: String) -> [Plan] { Array(repeating: .fallback(why), count: levels.count) }
        guard vendor == "aperio" || vendor == "generic-tiff" else { return all("format \(vendor) is not read directly") }
        TIFFMessages.install()
        _ = TIFFMessages.takeLast()
        guard let tif = TIFFOpen(path, "rDm") else { return all("libtiff cannot open the file (\(TIFFMessages.takeLast() ?? "?"))") }
        defer { TIFFClose(tif) }

        // Tiled directories, as OpenSlide 3.4.1 picks them.
        var tiled: [Directory] = []
        var index = 0
        repeat {
            defer { index += 1 }
            guard TIFFIsTiled(tif) != 0 else { continue }
            var d = Directory(index: index)
            var w: UInt32 = 0, h: UInt32 = 0, tw: UInt32 = 0, th: UInt32 = 0, sft: UInt32 = 0
            withVaTag(tif, TIFFTAG_IMAGEWIDTH, &w); withVaTag(tif, TIFFTAG_IMAGELENGTH, &h)
            withVaTag(tif, TIFFTAG_TILEWIDTH, &tw); withVaTag(tif, TIFFTAG_TILELENGTH, &th)
            withVaTag(tif, TIFFTAG_COMPRESSION, &d.compression); withVaTag(tif, TIFFTAG_PLANARCONFIG, &d.planar)
            withVaTag(tif, TIFFTAG_PHOTOMETRIC, &d.photometric); withVaTag(tif, TIFFTAG_BITSPERSAMPLE, &d.bitsPerSample)
            withVaTag(tif, TIFFTAG_SAMPLESPERPIXEL, &d.samplesPerPixel)
            if withVaTag(tif, TIFFTAG_SUBFILETYPE, &sft) { d.subfileType = sft }
            d.width = Int(w); d.height = Int(h); d.tileWidth = Int(tw); d.tileHeight = Int(th)
            if d.width > 0, d.height > 0, d.tileWidth > 0, d.tileHeight > 0 {
                d.tiles = Int(TIFFNumberOfTiles(tif))
                for t in 0..<d.tiles {
                    let n = Int(clamping: TIFFGetStrileByteCount(tif, UInt32(t)))
                    if n == 0 { d.hasZeroTile = true }
                    d.maxTileBytes = max(d.maxTileBytes, n)
                }
                if d.readDirect { d.tables = jpegTables(tif) }
            }
            tiled.append(d)
        } while TIFFReadDirectory(tif) != 0
        _ = TIFFMessages.takeLast()

        var candidates: [Directory]
        if vendor == "aperio" {
            candidates = tiled // openslide-vendor-aperio.c: every tiled directory, in file order
        } else {
            // openslide-vendor-generic-tiff.c: directory 0 or reduced-resolution ones, sorted by
            // width, largest first (GLib's stable sort; Swift's sort is stable too).
            candidates = tiled.filter { $0.index == 0 || (($0.subfileType ?? 0) & UInt32(FILETYPE_REDUCEDIMAGE)) != 0 }
            candidates.sort { $0.width > $1.width }
        }
        guard candidates.count == levels.count,
              zip(candidates, levels).allSatisfy({ $0.width == $1.width && $0.height == $1.height }) else {
            return all("the TIFF directories do not map one-to-one onto OpenSlide's levels")
        }

        var plans: [Plan] = []
        for (li, d) in candidates.enumerated() {
            let across = (d.width + d.tileWidth - 1) / max(1, d.tileWidth)
            let down = (d.height + d.tileHeight - 1) / max(1, d.tileHeight)
            if !d.readDirect {
                plans.append(.fallback("TIFF directory \(d.index) is not 8-bit 3-sample JPEG (compression \(d.compression), photometric \(d.photometric))"))
            } else if d.tileWidth <= 0 || d.tileHeight <= 0 || d.tiles != across * down {
                plans.append(.fallback("TIFF directory \(d.index) has an unexpected tile layout"))
            } else if d.hasZeroTile || (vendor == "aperio" && candidates[..<li].contains { $0.hasZeroTile }) {
                // Aperio renders missing tiles (and those of coarser levels over them) from the
                // finer level; generic TIFF fails on them. Either way: OpenSlide's business.
                plans.append(.fallback("level \(li) has or inherits missing (zero-length) tiles"))
            } else if d.maxTileBytes > maxTileBytes {
                plans.append(.fallback("TIFF directory \(d.index) has a tile of \(d.maxTileBytes) bytes"))
            } else if let prefix = streamPrefix(rgb: d.photometric == UInt16(PHOTOMETRIC_RGB), tables: d.tables) {
                plans.append(.direct(LevelPlan(level: li, directory: d.index, width: d.width, height: d.height,
                                               tileWidth: d.tileWidth, tileHeight: d.tileHeight, across: across, down: down,
                                               rgb: d.photometric == UInt16(PHOTOMETRIC_RGB), prefix: prefix,
                                               maxTileBytes: d.maxTileBytes)))
            } else {
                plans.append(.fallback("TIFF directory \(d.index) has JPEGTables that are not a JPEG tables stream"))
            }
        }
        return plans
    }

    /// The JPEGTables tag's bytes, if any.
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

    /// SOI + (Adobe RGB marker) + tables without their SOI/EOI; empty when the tile needs
    /// nothing in front. nil when the tables are malformed.
    static func streamPrefix(rgb: Bool, tables: [UInt8]?) -> [UInt8]? {
        var body: ArraySlice<UInt8> = []
        if let t = tables {
            guard t.count >= 4, t[0] == 0xFF, t[1] == 0xD8 else { return nil }
            body = t[2...]
            if body.count >= 2, body[body.endIndex - 2] == 0xFF, body[body.endIndex - 1] == 0xD9 { body = body.dropLast(2) }
        }
        if !rgb && body.isEmpty { return [] }
        return [0xFF, 0xD8] + (rgb ? adobeRGBMarker : []) + Array(body)
    }

    // MARK: decoding

    /// Why a direct read stopped.
    enum Stop: Error {
        /// The file is damaged here (becomes a SlideError).
        case corrupt(String)
        /// OpenSlide would decode this level differently; let it.
        case fallback(String)
    }

    /// Decodes the whole level. Workers (one per core) take batches of tiles; each has its
    /// own libtiff handle (they are not thread-safe), TurboJPEG handle and raw-tile buffer.
    /// Interior tiles are decoded straight into the output; edge tiles into a scratch tile
    /// whose valid part is copied.
    static func read(_ plan: LevelPlan, path: String) throws -> RGBImage {
        let W = plan.width, H = plan.height
        let tileCount = plan.across * plan.down
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let workers = max(1, min(cores, tileCount))
        let batch = max(1, min(16, tileCount / (workers * 8)))
        let state = SharedState()

        let pixels = try [UInt8](unsafeUninitializedCapacity: W * H * 3) { buf, count in
            let out = buf.baseAddress!
            let work = { (_: Int) in
                do {
                    try decodeTiles(plan, path: path, out: out, state: state, batch: batch)
                } catch let stop as Stop {
                    state.fail(stop)
                } catch {
                    state.fail(.corrupt("\(error)"))
                }
            }
            if workers == 1 { work(0) } else { DispatchQueue.concurrentPerform(iterations: workers, execute: work) }
            if let stop = state.stop { throw stop }
            count = W * H * 3
        }
        return RGBImage(width: W, height: H, pixels: pixels)
    }

    /// Hands out tile batches and keeps the first failure.
    final class SharedState: @unchecked Sendable {
        private let lock = NSLock()
        private var next = 0
        private(set) var stop: Stop?

        func take(_ n: Int, of total: Int) -> Range<Int>? {
            lock.lock(); defer { lock.unlock() }
            guard stop == nil, next < total else { return nil }
            let r = next..<min(total, next + n)
            next = r.upperBound
            return r
        }

        func fail(_ s: Stop) {
            lock.lock(); defer { lock.unlock() }
            if stop == nil { stop = s }
        }
    }

    private static func decodeTiles(_ plan: LevelPlan, path: String, out: UnsafeMutablePointer<UInt8>,
                                    state: SharedState, batch: Int) throws {
        let ctx = try TileContext(plan, path: path)
        let tw = plan.tileWidth, th = plan.tileHeight
        let W = plan.width, H = plan.height
        var scratch: UnsafeMutablePointer<UInt8>? = nil
        defer { scratch?.deallocate() }
        while let range = state.take(batch, of: plan.across * plan.down) {
            for t in range {
                let col = t % plan.across, row = t / plan.across
                let x0 = col * tw, y0 = row * th
                if x0 + tw <= W && y0 + th <= H {
                    try ctx.decodeTile(col: col, row: row, into: out + (y0 * W + x0) * 3, rowStride: W * 3)
                } else {
                    if scratch == nil { scratch = .allocate(capacity: tw * th * 3) }
                    let s = scratch!
                    try ctx.decodeTile(col: col, row: row, into: s, rowStride: tw * 3)
                    let vw = min(tw, W - x0), vh = min(th, H - y0)
                    for r in 0..<vh {
                        (out + ((y0 + r) * W + x0) * 3).update(from: s + r * tw * 3, count: vw * 3)
                    }
                }
            }
        }
    }

    /// One thread's means of decoding tiles of one level: its own libtiff handle (libtiff
    /// handles are not thread-safe), TurboJPEG handle and raw-tile buffer, all reused for
    /// every tile. Not thread-safe: one per thread.
    final class TileContext {
        let plan: LevelPlan
        private let tif: OpaquePointer
        /// Replaced after a failed decode: TurboJPEG 2.1 leaves a handle whose header parse
        /// failed mid-stream in a state that misreads the next stream.
        private var decoder = JPEGTileDecoder()
        private let buffer: UnsafeMutableRawPointer
        /// Raw tile lands at `start`; with a prefix, it overwrites the prefix's last two bytes
        /// with its SOI, which are then put back: one contiguous stream, no copy.
        private let start: Int

        init(_ plan: LevelPlan, path: String) throws {
            self.plan = plan
            TIFFMessages.install()
            _ = TIFFMessages.takeLast()
            // "m": no memory-mapping. A mapped slide counts every tile read into this process's RSS,
            // which then grows with the slide; pread into our own buffers keeps memory flat.
            guard let tif = TIFFOpen(path, "rDm") else {
                throw Stop.corrupt("libtiff cannot open the file (\(TIFFMessages.takeLast() ?? "?"))")
            }
            guard TIFFSetDirectory(tif, UInt32(plan.directory)) != 0 else {
                TIFFClose(tif)
                throw Stop.corrupt("libtiff cannot read TIFF directory \(plan.directory) (\(TIFFMessages.takeLast() ?? "?"))")
            }
            self.tif = tif
            let P = plan.prefix.count
            start = P > 0 ? P - 2 : 0
            buffer = UnsafeMutableRawPointer.allocate(byteCount: start + plan.maxTileBytes + 16, alignment: 16)
            plan.prefix.withUnsafeBytes { buffer.copyMemory(from: $0.baseAddress!, byteCount: P) }
        }

        deinit {
            TIFFClose(tif)
            buffer.deallocate()
        }

        /// "level L (TIFF directory D) tile (c, r)", for messages.
        func describe(col: Int, row: Int) -> String {
            "level \(plan.level) (TIFF directory \(plan.directory)) tile (\(col), \(row))"
        }

        /// Decodes the whole tile (`tileWidth` × `tileHeight`, edge tiles included) as RGB
        /// into `destination` at `rowStride` bytes per row. Throws `Stop.corrupt` for a
        /// damaged tile, `Stop.fallback` when OpenSlide would decode it differently.
        func decodeTile(col: Int, row: Int, into destination: UnsafeMutablePointer<UInt8>, rowStride: Int) throws {
            do {
                try decodeTileOnce(col: col, row: row, into: destination, rowStride: rowStride)
            } catch {
                decoder = JPEGTileDecoder()
                throw error
            }
        }

        private func decodeTileOnce(col: Int, row: Int, into destination: UnsafeMutablePointer<UInt8>, rowStride: Int) throws {
            let tw = plan.tileWidth, th = plan.tileHeight
            let P = plan.prefix.count
            let tileNo = TIFFComputeTile(tif, UInt32(col * tw), UInt32(row * th), 0, 0)
            let size = Int(clamping: TIFFGetStrileByteCount(tif, tileNo))
            guard size > 0, size <= plan.maxTileBytes else {
                throw Stop.corrupt("\(describe(col: col, row: row)) has a byte count of \(size)")
            }
            let n = Int(TIFFReadRawTile(tif, tileNo, buffer + start, tmsize_t(size)))
            guard n > 0 else {
                throw Stop.corrupt("\(describe(col: col, row: row)) cannot be read (\(TIFFMessages.takeLast() ?? "libtiff read error"); the file may be truncated)")
            }
            let bytes = buffer.assumingMemoryBound(to: UInt8.self)
            let streamLength: Int
            if P > 0 {
                guard n >= 2, bytes[start] == 0xFF, bytes[start + 1] == 0xD8 else {
                    throw Stop.corrupt("\(describe(col: col, row: row)) does not start with a JPEG SOI marker")
                }
                bytes[start] = plan.prefix[P - 2]
                bytes[start + 1] = plan.prefix[P - 1]
                streamLength = start + n
            } else {
                streamLength = n
            }
            let header: JPEGTileDecoder.Header
            do {
                header = try decoder.header(buffer, count: streamLength)
            } catch let e as ImageCodecError {
                throw Stop.corrupt("\(describe(col: col, row: row)) is not a readable JPEG: \(e.reason)")
            }
            guard header.width == tw, header.height == th else {
                throw Stop.corrupt("\(describe(col: col, row: row)) is a \(header.width)x\(header.height) JPEG in \(tw)x\(th) tiles")
            }
            let expected: JPEGTileDecoder.ColorSpace = plan.rgb ? .rgb : .ycbcr
            guard header.colorSpace == expected else {
                throw Stop.fallback("\(describe(col: col, row: row)) decodes as \(header.colorSpace) but the TIFF says \(expected)")
            }
            do {
                try decoder.decode(buffer, count: streamLength, width: tw, height: th, into: destination, rowStride: rowStride)
            } catch let e as ImageCodecError {
                throw Stop.corrupt("\(describe(col: col, row: row)): \(e.reason)")
            }
        }
    }
}

extension Slide {
    /// The whole pyramid level as RGB — what `readRegion(x: 0, y: 0, level: index, width:
    /// levelWidth, height: levelHeight)` returns, pixel for pixel, but several times faster
    /// for TIFF-family slides (format "aperio" or "generic-tiff") whose level is a tiled,
    /// JPEG-compressed, 8-bit, 3-sample directory: those are decoded straight from the
    /// file on all cores, bypassing OpenSlide's compositing. Everything else (other
    /// compressions, other vendors, plain images, levels with missing tiles) goes through
    /// `readRegion`. Whole levels are what tissue detection and overviews need.
    ///
    /// Throws `.invalidRequest` for a level out of range or larger than `readRegion`'s
    /// limit, `.corrupt` (naming the level and tile) for a damaged tile.
    public func readLevel(_ index: Int) throws -> RGBImage {
        switch try readLevelDirect(index) {
        case .image(let img): return img
        case .fallback: return try readRegion(x: 0, y: 0, level: index, width: levels[index].width, height: levels[index].height)
        }
    }

    enum DirectRead {
        case image(RGBImage)
        case fallback(String)
    }

    /// The direct (libtiff + TurboJPEG) read of a level, or why it is not taken; level and
    /// size are validated here.
    func readLevelDirect(_ index: Int) throws -> DirectRead {
        try checkUsable()
        guard levels.indices.contains(index) else {
            throw SlideError(kind: .invalidRequest, path: path,
                             reason: "level \(index) does not exist (the slide has levels 0–\(levels.count - 1))", hint: "")
        }
        let lv = levels[index]
        guard lv.width * lv.height <= Slide.maxRegionPixels else {
            throw SlideError(kind: .invalidRequest, path: path,
                             reason: "level \(index) (\(lv.width)x\(lv.height)) is larger than \(Slide.maxRegionPixels) px",
                             hint: "read it in tiles with readRegion, or use downsampledImage for an overview")
        }
        guard case .openslide = backend else { return .fallback("not an OpenSlide slide") }
        if libtiffLevels[index] != nil { return .fallback("served by the libtiff workaround") }
        switch tiffTileReader.plan(level: index, path: path, vendor: format, levels: levels) {
        case .fallback(let why):
            return .fallback(why)
        case .direct(let plan):
            do {
                return .image(try TIFFTileReader.read(plan, path: path))
            } catch TIFFTileReader.Stop.fallback(let why) {
                tiffTileReader.demote(level: index, reason: why)
                return .fallback(why)
            } catch TIFFTileReader.Stop.corrupt(let why) {
                throw SlideError(kind: .corrupt, path: path, reason: why,
                                 hint: "the file is damaged or truncated; re-copy it, or re-export it from the scanner software")
            }
        }
    }
}
