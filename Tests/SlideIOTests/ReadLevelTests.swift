import CTIFF
import Foundation
import ImageCore
@testable import SlideIO
import SlideSynth
import TestSupport
import XCTest

/// `Slide.readLevel`: the direct libtiff + TurboJPEG path must give OpenSlide's pixels
/// byte for byte (OpenSlide's `readRegion` of the whole level is the reference), must
/// really be taken for JPEG levels, and must fall back, or fail cleanly, otherwise.
final class ReadLevelTests: XCTestCase {
    /// Byte-exact comparison that reports the first difference instead of two huge arrays.
    func assertSamePixels(_ a: RGBImage, _ b: RGBImage, _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.width, b.width, "\(what): width", file: file, line: line)
        XCTAssertEqual(a.height, b.height, "\(what): height", file: file, line: line)
        guard a.pixels.count == b.pixels.count else { return XCTFail("\(what): sizes differ", file: file, line: line) }
        if a.pixels == b.pixels { return }
        var diffs = 0, first = -1, maxDiff = 0
        for i in 0..<a.pixels.count where a.pixels[i] != b.pixels[i] {
            diffs += 1
            if first < 0 { first = i }
            maxDiff = max(maxDiff, abs(Int(a.pixels[i]) - Int(b.pixels[i])))
        }
        let px = first / 3
        XCTFail("\(what): \(diffs) bytes differ, first at pixel (\(px % a.width), \(px / a.width)), max difference \(maxDiff)",
                file: file, line: line)
    }

    /// Reads the level directly (asserting the fast path was taken) and through OpenSlide.
    @discardableResult
    func checkDirect(_ s: Slide, level: Int, file: StaticString = #filePath, line: UInt = #line) throws -> RGBImage? {
        let lv = s.levels[level]
        let reference = try s.readRegion(x: 0, y: 0, level: level, width: lv.width, height: lv.height)
        switch try s.readLevelDirect(level) {
        case .fallback(let why):
            XCTFail("\(s.path) level \(level): expected the direct path, fell back: \(why)", file: file, line: line)
            return nil
        case .image(let img):
            assertSamePixels(img, reference, "\(URL(fileURLWithPath: s.path).lastPathComponent) level \(level)", file: file, line: line)
            assertSamePixels(try s.readLevel(level), reference, "readLevel level \(level)", file: file, line: line)
            return img
        }
    }

    static func writeSynthetic(_ dir: String, width: Int = 6000, height: Int = 4500) throws -> String {
        var spec = SyntheticSlideSpec(width: width, height: height)
        spec.writeNucleiTruth = false
        spec.seed = 7
        let path = dir + "/synthetic.svs"
        try SlideSynth.write(spec, to: path, truthDirectory: nil)
        return path
    }

    /// (directory, YCbCr horizontal subsampling, tile count, tile offsets, byte counts) per TIFF directory.
    static func tiffLayout(_ path: String) -> [(sub: UInt16, offsets: [UInt64], counts: [UInt64])] {
        guard let tif = TIFFOpen(path, "r") else { return [] }
        defer { TIFFClose(tif) }
        var out: [(UInt16, [UInt64], [UInt64])] = []
        repeat {
            var h: UInt16 = 0, v: UInt16 = 0
            _ = withUnsafeMutablePointer(to: &h) { hp in
                withUnsafeMutablePointer(to: &v) { vp in
                    withVaList([OpaquePointer(hp), OpaquePointer(vp)]) { TIFFVGetField(tif, UInt32(TIFFTAG_YCBCRSUBSAMPLING), $0) }
                }
            }
            let n = Int(TIFFNumberOfTiles(tif))
            out.append((h, (0..<n).map { TIFFGetStrileOffset(tif, UInt32($0)) }, (0..<n).map { TIFFGetStrileByteCount(tif, UInt32($0)) }))
        } while TIFFReadDirectory(tif) != 0
        return out
    }

    // MARK: real files

    func testCMUSmallRegionLevel0WithJPEGTablesAndRGBPhotometric() throws {
        let s = try Slide.open(path: try Env.slide("CMU-1-Small-Region.svs"))
        XCTAssertEqual(s.format, "aperio")
        // The file stores abbreviated RGB-coded tiles + JPEGTables: the case that needs both
        // the tables and the Adobe marker to decode like OpenSlide.
        guard case .direct(let plan) = s.tiffTileReader.plan(level: 0, path: s.path, vendor: s.format, levels: s.levels) else {
            return XCTFail("level 0 of CMU-1-Small-Region.svs should be planned as direct")
        }
        XCTAssertTrue(plan.rgb, "CMU-1-Small-Region.svs level 0 is Photometric RGB")
        XCTAssertGreaterThan(plan.prefix.count, 200, "JPEGTables should be in the stream prefix")
        XCTAssertEqual(Array(plan.prefix[2..<18]), TIFFTileReader.adobeRGBMarker)
        let img = try checkDirect(s, level: 0)
        // Not a blank read: the slide has tissue (dark pixels) and glass.
        if let img {
            var dark = 0
            for i in stride(from: 0, to: img.pixels.count, by: 3) where img.pixels[i] < 150 { dark += 1 }
            XCTAssertGreaterThan(dark, img.width * img.height / 20)
        }
    }

    func testTinyAperio() throws {
        let s = try Slide.open(path: try Env.slide("edge-cases/small.svs"))
        XCTAssertEqual(s.levels.count, 1)
        try checkDirect(s, level: 0) // 16x16 level in one 64x64 tile: only the edge-tile copy
    }

    func testDeflateGenericTIFFFallsBackAndMatches() throws {
        let s = try Slide.open(path: try Env.slide("edge-cases/boxes.tiff"))
        XCTAssertEqual(s.format, "generic-tiff")
        for lv in s.levels {
            guard case .fallback = try s.readLevelDirect(lv.index) else {
                return XCTFail("deflate level \(lv.index) must not take the JPEG path")
            }
            assertSamePixels(try s.readLevel(lv.index), try s.readRegion(x: 0, y: 0, level: lv.index, width: lv.width, height: lv.height),
                             "boxes.tiff level \(lv.index)")
        }
    }

    func testPlainImageFallsBack() throws {
        let s = try Slide.open(path: try Env.slide("kidney-48-5.tif"))
        XCTAssertTrue(s.format.hasPrefix("plain-"))
        guard case .fallback = try s.readLevelDirect(0) else { return XCTFail("a plain image has no direct path") }
        XCTAssertEqual(try s.readLevel(0), try s.readRegion(x: 0, y: 0, level: 0, width: s.width, height: s.height))
    }

    // MARK: synthetic

    func testSyntheticEveryLevel420And444() throws {
        let dir = try TestEnv.scratch(self, "readlevel")
        let path = try Self.writeSynthetic(dir)
        let s = try Slide.open(path: path)
        XCTAssertEqual(s.format, "aperio")
        XCTAssertGreaterThanOrEqual(s.levels.count, 3)
        // Both chroma layouts are exercised: 4:2:0 on the fine levels, 4:4:4 on the coarse ones.
        let subs = Self.tiffLayout(path).map(\.sub)
        XCTAssertTrue(subs.contains(2) && subs.contains(1), "subsampling per directory: \(subs)")
        for lv in s.levels {
            // 6000 and 4500 are not multiples of 256 at any level: every level has edge tiles.
            XCTAssertTrue(lv.width % 256 != 0 || lv.height % 256 != 0)
            try checkDirect(s, level: lv.index)
        }
    }

    func testConcurrentReadLevelIsDeterministic() throws {
        let dir = try TestEnv.scratch(self, "readlevel-conc")
        let path = try Self.writeSynthetic(dir, width: 3000, height: 2200)
        let s = try Slide.open(path: path)
        let serial = try s.readLevel(0)
        final class Results: @unchecked Sendable {
            let lock = NSLock()
            var all: [Result<RGBImage, Error>] = []
        }
        let results = Results()
        let group = DispatchGroup()
        for _ in 0..<4 {
            let t = Thread {
                let r = Result { try s.readLevel(0) }
                results.lock.lock(); results.all.append(r); results.lock.unlock()
                group.leave()
            }
            group.enter()
            t.start()
        }
        group.wait()
        XCTAssertEqual(results.all.count, 4)
        for r in results.all { assertSamePixels(try r.get(), serial, "concurrent readLevel") }
        guard case .image = try s.readLevelDirect(0) else { return XCTFail("expected the direct path") }
    }

    /// Generic TIFF pyramid of JPEG tiles written here: directories out of size order and an
    /// extra full-size tiled directory that is not a reduced image, so the level → directory
    /// mapping must follow OpenSlide's generic-tiff rules. YCbCr levels go direct; a
    /// Photometric RGB level whose tiles are JFIF (libjpeg would see YCbCr, OpenSlide forces
    /// RGB) must fall back and still equal OpenSlide.
    func testGenericTIFFJPEGMappingAndRGBFallback() throws {
        let dir = try TestEnv.scratch(self, "readlevel-generic")
        let path = dir + "/pyramid.tiff"
        // (width, height, reduced, photometric RGB)
        let dirs: [(Int, Int, Bool, Bool)] = [(300, 200, false, false), (75, 50, true, true), (150, 100, true, false), (300, 200, false, false)]
        guard let tif = TIFFOpen(path, "w") else { return XCTFail("cannot create \(path)") }
        let codec = JPEGCodec()
        let t = 64
        for (di, d) in dirs.enumerated() {
            func set(_ tag: Int32, _ args: CVarArg...) { _ = withVaList(args) { TIFFVSetField(tif, UInt32(tag), $0) } }
            set(TIFFTAG_SUBFILETYPE, UInt32(d.2 ? UInt32(FILETYPE_REDUCEDIMAGE) : 0))
            set(TIFFTAG_IMAGEWIDTH, UInt32(d.0)); set(TIFFTAG_IMAGELENGTH, UInt32(d.1))
            set(TIFFTAG_BITSPERSAMPLE, Int32(8)); set(TIFFTAG_SAMPLESPERPIXEL, Int32(3))
            set(TIFFTAG_PLANARCONFIG, Int32(PLANARCONFIG_CONTIG)); set(TIFFTAG_COMPRESSION, Int32(COMPRESSION_JPEG))
            set(TIFFTAG_PHOTOMETRIC, Int32(d.3 ? PHOTOMETRIC_RGB : PHOTOMETRIC_YCBCR))
            if !d.3 { set(TIFFTAG_YCBCRSUBSAMPLING, Int32(2), Int32(2)) }
            set(TIFFTAG_TILEWIDTH, UInt32(t)); set(TIFFTAG_TILELENGTH, UInt32(t))
            var tile = RGBImage(width: t, height: t)
            var n: UInt32 = 0
            for ty in stride(from: 0, to: d.1, by: t) {
                for tx in stride(from: 0, to: d.0, by: t) {
                    for y in 0..<t { for x in 0..<t {
                        let gx = tx + x, gy = ty + y
                        tile[x, y] = (UInt8((gx * 3 + di * 40) & 0xFF), UInt8((gy * 5) & 0xFF), UInt8(((gx ^ gy) * 2) & 0xFF))
                    } }
                    let jpeg = try codec.encode(tile, quality: 90, subsampling: d.3 ? .s444 : .s420)
                    let w = jpeg.withUnsafeBytes { TIFFWriteRawTile(tif, n, UnsafeMutableRawPointer(mutating: $0.baseAddress!), tmsize_t($0.count)) }
                    XCTAssertEqual(Int(w), jpeg.count)
                    n += 1
                }
            }
            XCTAssertEqual(TIFFWriteDirectory(tif), 1)
        }
        TIFFClose(tif)

        let s = try Slide.open(path: path)
        XCTAssertEqual(s.format, "generic-tiff")
        XCTAssertEqual(s.levels.map(\.width), [300, 150, 75])
        try checkDirect(s, level: 0)
        try checkDirect(s, level: 1) // TIFF directory 2
        guard case .direct(let p1) = s.tiffTileReader.plan(level: 1, path: path, vendor: s.format, levels: s.levels) else {
            return XCTFail("level 1 should be direct")
        }
        XCTAssertEqual(p1.directory, 2)
        // Level 2: RGB photometric with JFIF tiles.
        guard case .fallback(let why) = try s.readLevelDirect(2) else {
            return XCTFail("an RGB level with JFIF tiles cannot be decoded like OpenSlide by TurboJPEG; it must fall back")
        }
        XCTAssertTrue(why.contains("rgb"), why)
        assertSamePixels(try s.readLevel(2), try s.readRegion(x: 0, y: 0, level: 2, width: 75, height: 50), "RGB JFIF level via OpenSlide")
    }

    // MARK: damage

    func testTruncatedSyntheticGivesSlideError() throws {
        let dir = try TestEnv.scratch(self, "readlevel-trunc")
        let path = try Self.writeSynthetic(dir, width: 3000, height: 2200)
        let layout = Self.tiffLayout(path)
        let l0 = layout[0]
        let mid = l0.offsets.count / 2
        let cut = Int(l0.offsets[mid] + l0.counts[mid] / 2)
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        let truncated = dir + "/truncated.svs"
        try data.prefix(cut).write(to: URL(fileURLWithPath: truncated))
        do {
            let s = try Slide.open(path: truncated)
            for lv in s.levels { _ = try s.readLevel(lv.index) }
            XCTFail("a slide cut in the middle of level 0's tiles read without error")
        } catch let e as SlideError {
            XCTAssertEqual(e.kind, .corrupt, "\(e)")
            XCTAssertTrue(e.path.hasSuffix("truncated.svs"))
        }
    }

    /// Truncation that leaves the directories readable (as when they precede the image data):
    /// one level-0 tile's offset is moved so its bytes run past the end of the file.
    func testTileRunningPastEndOfFileIsCorruptError() throws {
        let dir = try TestEnv.scratch(self, "readlevel-eof")
        let path = try Self.writeSynthetic(dir, width: 3000, height: 2200)
        let l0 = Self.tiffLayout(path)[0]
        var data = try Data(contentsOf: URL(fileURLWithPath: path))
        let k = 20, col = k % ((3000 + 255) / 256), row = k / ((3000 + 255) / 256)
        // The TileOffsets array of directory 0 (classic TIFF: little-endian UInt32s).
        var pattern = [UInt8]()
        for o in l0.offsets[k..<(k + 4)] { withUnsafeBytes(of: UInt32(o).littleEndian) { pattern += $0 } }
        guard let at = data.firstRange(of: Data(pattern)) else { return XCTFail("TileOffsets array not found") }
        let moved = UInt32(data.count) - UInt32(l0.counts[k] / 2)
        withUnsafeBytes(of: moved.littleEndian) { data.replaceSubrange(at.lowerBound..<(at.lowerBound + 4), with: $0) }
        let cut = dir + "/past-eof.svs"
        try data.write(to: URL(fileURLWithPath: cut))
        let s = try Slide.open(path: cut)
        let e = expectSlideError(.corrupt) { try s.readLevel(0) }
        XCTAssertTrue(e?.reason.contains("level 0") ?? false, e?.description ?? "")
        XCTAssertTrue(e?.reason.contains("tile (\(col), \(row))") ?? false, e?.description ?? "")
        XCTAssertTrue(e?.reason.contains("truncated") ?? false, e?.description ?? "")
        XCTAssertThrowsError(try s.readRegion(x: 0, y: 0, level: 0, width: s.width, height: s.height))
    }

    func testDamagedTileIsCorruptErrorNamingLevelAndTile() throws {
        let dir = try TestEnv.scratch(self, "readlevel-damaged")
        let path = try Self.writeSynthetic(dir, width: 3000, height: 2200)
        let l0 = Self.tiffLayout(path)[0]
        var data = try Data(contentsOf: URL(fileURLWithPath: path))
        // Zero one level-0 tile (tile 13 = column 1, row 1 of a 12-wide grid).
        let k = 13
        let off = Int(l0.offsets[k]), n = Int(l0.counts[k])
        data.replaceSubrange(off..<(off + n), with: [UInt8](repeating: 0, count: n))
        let damaged = dir + "/damaged.svs"
        try data.write(to: URL(fileURLWithPath: damaged))
        let s = try Slide.open(path: damaged)
        let e = expectSlideError(.corrupt) { try s.readLevel(0) }
        XCTAssertTrue(e?.reason.contains("level 0") ?? false, e?.description ?? "")
        XCTAssertTrue(e?.reason.contains("tile (1, 1)") ?? false, e?.description ?? "")
        XCTAssertFalse(e?.hint.isEmpty ?? true)
        // The other levels are intact and still read directly.
        try checkDirect(s, level: s.levels.count - 1)
        // OpenSlide agrees the tile is unreadable.
        XCTAssertThrowsError(try s.readRegion(x: 0, y: 0, level: 0, width: s.width, height: s.height))
    }

    func testInvalidLevel() throws {
        let s = try Slide.open(path: try Env.slide("edge-cases/small.svs"))
        expectSlideError(.invalidRequest) { try s.readLevel(1) }
        expectSlideError(.invalidRequest) { try s.readLevel(-1) }
    }

    // MARK: timing (release only)
}
