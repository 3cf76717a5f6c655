import CTIFF
import Foundation
import ImageCore
@testable import SlideIO
import SlideSynth
import TestSupport
import XCTest

/// `PatchStream`: every patch must equal `Slide.readRegion` (+ `resizedArea` when shrunk)
/// byte for byte on both paths; the fast path must really be taken where it can; order,
/// batching, buffer reuse, bad tiles and cancellation behave as documented.
final class PatchStreamTests: XCTestCase {
    struct Delivered {
        var indices: [Int] = []
        var coords: [Int64] = []
        var patches: [[UInt8]] = []
        var batches: [(start: Int, count: Int)] = []
        var bases = Set<UnsafeRawPointer>()
    }

    /// Runs the stream, copying everything out of the batches.
    func collect(_ stream: PatchStream, onBatch: ((Int) -> Void)? = nil) throws -> (PatchStreamReport, Delivered) {
        var d = Delivered()
        let report = try stream.run { b in
            XCTAssertEqual(b.indices.count, b.count)
            XCTAssertEqual(b.coords.count, 2 * b.count)
            XCTAssertEqual(b.pixels.count, b.count * b.patchSize * b.patchSize * 3)
            d.batches.append((b.startIndex, b.count))
            d.bases.insert(UnsafeRawPointer(b.pixels.baseAddress!))
            for i in 0..<b.count {
                d.indices.append(b.indices[i])
                d.coords.append(b.coords[2 * i]); d.coords.append(b.coords[2 * i + 1])
                d.patches.append(Array(b.patch(i)))
            }
            onBatch?(d.batches.count)
        }
        return (report, d)
    }

    func reference(_ s: Slide, _ x: Int64, _ y: Int64, _ r: PatchRequest) throws -> [UInt8] {
        let img = try s.readRegion(x: Int(x), y: Int(y), level: r.level, width: r.readSize, height: r.readSize)
        return r.outputSize == r.readSize ? img.pixels : img.resizedArea(width: r.outputSize, height: r.outputSize).pixels
    }

    /// Every delivered patch equals the reference; reports the first mismatching patch.
    func assertMatchesReadRegion(_ s: Slide, _ r: PatchRequest, _ d: Delivered, _ what: String,
                                 file: StaticString = #filePath, line: UInt = #line) throws {
        XCTAssertEqual(d.indices, Array(0..<(r.coords.count / 2)), "\(what): bag order", file: file, line: line)
        XCTAssertEqual(d.coords, r.coords, "\(what): coordinates", file: file, line: line)
        var bad: [String] = []
        for (k, i) in d.indices.enumerated() {
            let x = r.coords[2 * i], y = r.coords[2 * i + 1]
            let ref = try reference(s, x, y, r)
            if d.patches[k] != ref {
                let diffs = zip(d.patches[k], ref).filter { $0 != $1 }.count
                bad.append("patch \(i) at (\(x), \(y)): \(diffs) bytes differ")
            }
        }
        XCTAssertTrue(bad.isEmpty, "\(what): \(bad.count) patches differ from readRegion: \(bad.prefix(5))", file: file, line: line)
    }

    static func grid(x0: Int, y0: Int, step: Int, x1: Int, y1: Int) -> [Int64] {
        var c: [Int64] = []
        for y in stride(from: y0, to: y1, by: step) { for x in stride(from: x0, to: x1, by: step) { c += [Int64(x), Int64(y)] } }
        return c
    }

    static func synthetic(_ test: XCTestCase, width: Int = 6000, height: Int = 4500) throws -> String {
        try ReadLevelTests.writeSynthetic(try TestEnv.scratch(test, "stream"), width: width, height: height)
    }

    // MARK: identical pixels

    func testCMUSmallRegionUnalignedPatchesMatchReadRegionOnFastPath() throws {
        let s = try Slide.open(path: try Env.slide("CMU-1-Small-Region.svs")) // 240-px tiles
        for (step, rs, os, cache) in [(256, 256, 256, 64 << 20), (257, 257, 224, 64 << 20), (256, 256, 256, 0)] {
            // Starts off the tile grid; the last row/column reach outside the 2220x2967 slide.
            let coords = Self.grid(x0: 7, y0: 13, step: step, x1: s.width, y1: s.height) + [-100, -37, 2100, 2900]
            let r = PatchRequest(coords: coords, level: 0, readSize: rs, outputSize: os)
            let stream = try PatchStream(slide: s, request: r, batchSize: 16, workers: 2, tileCacheBytes: cache)
            let (report, d) = try collect(stream)
            XCTAssertTrue(report.fastPath, "CMU-1-Small-Region must be streamed directly: \(report.note ?? "")")
            XCTAssertNil(report.note)
            XCTAssertEqual(stream.lastFastPatches, coords.count / 2)
            XCTAssertEqual(stream.lastGeneralPatches, 0)
            XCTAssertEqual(report.patches, coords.count / 2)
            if cache > 0 {
                // 240-px tiles under 256/257-px patches: neighbours share tiles.
                XCTAssertGreaterThan(report.tileCacheHits, 0)
                XCTAssertGreaterThan(report.tileCacheMisses, 0)
            } else {
                XCTAssertEqual(report.tileCacheHits + report.tileCacheMisses, 0)
            }
            try assertMatchesReadRegion(s, r, d, "CMU step \(step) read \(rs) out \(os) cache \(cache)")
        }
    }

    /// The peer: a few streamed patches against openslide-python's read_region.
    func testCMUAgainstOpenSlidePython() throws {
        let path = try Env.slide("CMU-1-Small-Region.svs")
        let s = try Slide.open(path: path)
        let coords: [Int64] = [0, 0, 1000, 1234, 2000, 2800]
        let (report, d) = try collect(try PatchStream(slide: s, request: PatchRequest(coords: coords, level: 0, readSize: 256, outputSize: 256)))
        XCTAssertTrue(report.fastPath)
        let out = try Env.runPython(pyReadRegions, [path] + stride(from: 0, to: coords.count, by: 2).map { "\(coords[$0]),\(coords[$0 + 1]),0,256,256" })
        XCTAssertEqual(out.count, 3 * 256 * 256 * 3)
        XCTAssertEqual([UInt8](out), d.patches.flatMap { $0 }, "streamed patches differ from openslide-python read_region")
    }

    func testSyntheticAlignedUnalignedEdgesAndLevel1() throws {
        let s = try Slide.open(path: try Self.synthetic(self))
        XCTAssertGreaterThanOrEqual(s.levels.count, 2)
        let W = s.width, H = s.height
        // Level 0: aligned grid, an unaligned grid, patches reaching outside every edge.
        var coords = Self.grid(x0: 0, y0: 0, step: 256, x1: W, y1: H)
        coords += Self.grid(x0: 133, y0: 77, step: 611, x1: W, y1: H)
        coords += [-128, -128, Int64(W - 100), 0, 0, Int64(H - 30), Int64(W - 1), Int64(H - 1), Int64(W + 10), 5]
        for (rs, os, workers, cache) in [(256, 256, 2, 64 << 20), (256, 256, 1, 3 * 256 * 256 * 3), (300, 224, 2, 64 << 20)] {
            let r = PatchRequest(coords: coords, level: 0, readSize: rs, outputSize: os)
            let stream = try PatchStream(slide: s, request: r, batchSize: 32, workers: workers, tileCacheBytes: cache)
            let (report, d) = try collect(stream)
            XCTAssertTrue(report.fastPath, report.note ?? "")
            XCTAssertEqual(stream.lastFastPatches, coords.count / 2)
            try assertMatchesReadRegion(s, r, d, "synthetic level 0 read \(rs) out \(os) workers \(workers)")
        }
        // Level 1: origins on whole level pixels take the fast path, the others OpenSlide's.
        let ds = s.levels[1].downsample
        XCTAssertEqual(ds, ds.rounded(), "SlideSynth level 1 has a whole downsample")
        let d1 = Int64(ds)
        var c1: [Int64] = []
        for (i, v) in Self.grid(x0: 0, y0: 0, step: Int(d1) * 200, x1: W, y1: H).enumerated() { c1.append(v + (i % 4 == 1 ? 3 : 0)) }
        let offGrid = stride(from: 0, to: c1.count, by: 2).filter { c1[$0] % d1 != 0 || c1[$0 + 1] % d1 != 0 }.count
        XCTAssertGreaterThan(offGrid, 0)
        for (rs, os) in [(256, 256), (300, 200)] {
            let r = PatchRequest(coords: c1, level: 1, readSize: rs, outputSize: os)
            let stream = try PatchStream(slide: s, request: r, batchSize: 8, workers: 2)
            let (report, d) = try collect(stream)
            XCTAssertTrue(report.fastPath)
            XCTAssertEqual(stream.lastGeneralPatches, offGrid)
            XCTAssertEqual(stream.lastFastPatches, c1.count / 2 - offGrid)
            XCTAssertTrue(report.note?.contains("\(offGrid) patches are not at whole pixels of level 1") ?? false, report.note ?? "no note")
            try assertMatchesReadRegion(s, r, d, "synthetic level 1 read \(rs) out \(os)")
        }
    }

    func testDeflateTIFFUsesGeneralPathWithNote() throws {
        let s = try Slide.open(path: try Env.slide("edge-cases/boxes.tiff"))
        for level in [0, 1, 2] { // 2 is one of the libtiff-workaround levels
            let coords = Self.grid(x0: 0, y0: 0, step: 40, x1: s.width, y1: s.height)
            let r = PatchRequest(coords: coords, level: level, readSize: 64, outputSize: 48)
            let stream = try PatchStream(slide: s, request: r, batchSize: 5, workers: 2)
            let (report, d) = try collect(stream)
            XCTAssertFalse(report.fastPath)
            let note = report.note ?? ""
            XCTAssertTrue(note.contains("level \(level)"), note)
            XCTAssertTrue(level == 2 ? note.contains("libtiff workaround") : note.contains("not 8-bit 3-sample JPEG"), note)
            XCTAssertEqual(stream.lastFastPatches, 0)
            try assertMatchesReadRegion(s, r, d, "boxes.tiff level \(level)")
        }
    }

    /// A Photometric RGB level whose tiles carry a JFIF marker: planned as direct, but the
    /// first tile shows TurboJPEG would decode it unlike OpenSlide — the stream demotes the
    /// slide to OpenSlide, says so once, and the pixels are still OpenSlide's.
    func testJPEGVariantDemotesToGeneralPath() throws {
        let dir = try TestEnv.scratch(self, "stream-jfif")
        let path = dir + "/rgb-jfif.tiff"
        guard let tif = TIFFOpen(path, "w") else { return XCTFail("cannot create \(path)") }
        func set(_ tag: Int32, _ args: CVarArg...) { _ = withVaList(args) { TIFFVSetField(tif, UInt32(tag), $0) } }
        let (w, h, t) = (300, 200, 64)
        set(TIFFTAG_IMAGEWIDTH, UInt32(w)); set(TIFFTAG_IMAGELENGTH, UInt32(h))
        set(TIFFTAG_BITSPERSAMPLE, Int32(8)); set(TIFFTAG_SAMPLESPERPIXEL, Int32(3))
        set(TIFFTAG_PLANARCONFIG, Int32(PLANARCONFIG_CONTIG)); set(TIFFTAG_COMPRESSION, Int32(COMPRESSION_JPEG))
        set(TIFFTAG_PHOTOMETRIC, Int32(PHOTOMETRIC_RGB))
        set(TIFFTAG_TILEWIDTH, UInt32(t)); set(TIFFTAG_TILELENGTH, UInt32(t))
        let codec = JPEGCodec()
        var n: UInt32 = 0
        for ty in stride(from: 0, to: h, by: t) {
            for tx in stride(from: 0, to: w, by: t) {
                var tile = RGBImage(width: t, height: t)
                for y in 0..<t { for x in 0..<t { tile[x, y] = (UInt8((tx + x) * 3 & 0xFF), UInt8((ty + y) * 5 & 0xFF), UInt8(((tx + x) ^ (ty + y)) & 0xFF)) } }
                let jpeg = try codec.encode(tile, quality: 90, subsampling: .s444)
                _ = jpeg.withUnsafeBytes { TIFFWriteRawTile(tif, n, UnsafeMutableRawPointer(mutating: $0.baseAddress!), tmsize_t($0.count)) }
                n += 1
            }
        }
        XCTAssertEqual(TIFFWriteDirectory(tif), 1)
        TIFFClose(tif)
        let s = try Slide.open(path: path)
        guard case .direct = s.tiffTileReader.plan(level: 0, path: path, vendor: s.format, levels: s.levels) else {
            return XCTFail("the level should be planned as direct before the first tile is seen")
        }
        let coords = Self.grid(x0: 0, y0: 0, step: 50, x1: w, y1: h)
        let r = PatchRequest(coords: coords, level: 0, readSize: 80, outputSize: 80)
        let stream = try PatchStream(slide: s, request: r, batchSize: 4, workers: 2)
        let (report, d) = try collect(stream)
        XCTAssertFalse(report.fastPath)
        XCTAssertEqual(report.note?.components(separatedBy: "OpenSlide's decoder").count, 2, report.note ?? "no note")
        XCTAssertTrue(report.badTiles.isEmpty)
        XCTAssertEqual(stream.lastGeneralPatches, coords.count / 2)
        try assertMatchesReadRegion(s, r, d, "RGB/JFIF TIFF")
    }

    // MARK: batching

    func testOrderBatchesBufferReuseAndEmptyRequest() throws {
        let s = try Slide.open(path: try Env.slide("CMU-1-Small-Region.svs"))
        let coords = Self.grid(x0: 0, y0: 0, step: 100, x1: 2000, y1: 1000) // 200 patches
        let n = coords.count / 2
        for (bs, ahead) in [(7, 3), (64, 2), (1, 1), (500, 2)] {
            let r = PatchRequest(coords: coords, level: 0, readSize: 64, outputSize: 32)
            let stream = try PatchStream(slide: s, request: r, batchSize: bs, workers: 2, readAhead: ahead)
            let (report, d) = try collect(stream)
            XCTAssertEqual(report.patches, n)
            XCTAssertEqual(d.indices, Array(0..<n))
            XCTAssertEqual(d.coords, coords)
            let expected = stride(from: 0, to: n, by: bs).map { ($0, min(bs, n - $0)) }
            XCTAssertEqual(d.batches.map(\.start), expected.map(\.0), "batch starts, batch size \(bs)")
            XCTAssertEqual(d.batches.map(\.count), expected.map(\.1), "batch counts (last one partial), batch size \(bs)")
            XCTAssertLessThanOrEqual(d.bases.count, ahead, "pixel buffers must be reused: \(d.bases.count) distinct for readAhead \(ahead)")
            XCTAssertEqual(d.bases.count, min(ahead, expected.count))
            // Spot-check content against readRegion.
            for i in [0, n / 2, n - 1] {
                XCTAssertEqual(d.patches[i], try reference(s, coords[2 * i], coords[2 * i + 1], r))
            }
        }
        var calls = 0
        let empty = try PatchStream(slide: s, request: PatchRequest(coords: [], level: 0, readSize: 256, outputSize: 256))
        let report = try empty.run { _ in calls += 1 }
        XCTAssertEqual(calls, 0)
        XCTAssertEqual(report.patches, 0)
    }

    func testInvalidRequests() throws {
        let s = try Slide.open(path: try Env.slide("CMU-1-Small-Region.svs"))
        expectSlideError(.invalidRequest) { try PatchStream(slide: s, request: PatchRequest(coords: [0, 0], level: 1, readSize: 256, outputSize: 256)) }
        expectSlideError(.invalidRequest) { try PatchStream(slide: s, request: PatchRequest(coords: [0, 0], level: 0, readSize: 256, outputSize: 512)) }
        expectSlideError(.invalidRequest) { try PatchStream(slide: s, request: PatchRequest(coords: [0, 0, 1], level: 0, readSize: 256, outputSize: 256)) }
        expectSlideError(.invalidRequest) { try PatchStream(slide: s, request: PatchRequest(coords: [0, 0], level: 0, readSize: 0, outputSize: 0)) }
        expectSlideError(.invalidRequest) { try PatchStream(slide: s, request: PatchRequest(coords: [0, 0], level: 0, readSize: 8, outputSize: 8), batchSize: 0) }
        expectSlideError(.invalidRequest) { try PatchStream(slide: s, request: PatchRequest(coords: [0, 0], level: 0, readSize: 8, outputSize: 8), workers: 0) }
    }

    func testCancelAfterFirstBatch() throws {
        let s = try Slide.open(path: try Env.slide("CMU-1-Small-Region.svs"))
        let coords = Self.grid(x0: 0, y0: 0, step: 64, x1: 2000, y1: 2000)
        let stream = try PatchStream(slide: s, request: PatchRequest(coords: coords, level: 0, readSize: 64, outputSize: 64),
                                     batchSize: 4, workers: 2, readAhead: 2)
        var batches = 0
        let report = try stream.run { _ in
            batches += 1
            if batches == 1 { stream.cancel() }
        }
        XCTAssertEqual(batches, 1)
        XCTAssertEqual(report.patches, 4)
        // A cancelled stream stays cancelled.
        XCTAssertEqual(try stream.run { _ in XCTFail("no batch after cancel") }.patches, 0)
    }

    func testBodyErrorStopsTheStream() throws {
        let s = try Slide.open(path: try Env.slide("CMU-1-Small-Region.svs"))
        let coords = Self.grid(x0: 0, y0: 0, step: 64, x1: 2000, y1: 2000)
        let stream = try PatchStream(slide: s, request: PatchRequest(coords: coords, level: 0, readSize: 64, outputSize: 64), batchSize: 4)
        struct Stop: Error {}
        var batches = 0
        XCTAssertThrowsError(try stream.run { _ in batches += 1; if batches == 2 { throw Stop() } }) { XCTAssertTrue($0 is Stop) }
        XCTAssertEqual(batches, 2)
    }

    func testTwoStreamsOnOneSlideConcurrently() throws {
        let s = try Slide.open(path: try Self.synthetic(self, width: 3000, height: 2200))
        let coords = Self.grid(x0: 37, y0: 11, step: 200, x1: s.width, y1: s.height)
        let r = PatchRequest(coords: coords, level: 0, readSize: 256, outputSize: 256)
        let (_, serial) = try collect(try PatchStream(slide: s, request: r, workers: 1))
        final class Box: @unchecked Sendable { var results: [Result<[[UInt8]], Error>] = []; let lock = NSLock() }
        let box = Box()
        let group = DispatchGroup()
        for _ in 0..<2 {
            group.enter()
            Thread {
                let res = Result { () throws -> [[UInt8]] in
                    var out: [[UInt8]] = []
                    _ = try PatchStream(slide: s, request: r, batchSize: 16, workers: 2).run { b in
                        for i in 0..<b.count { out.append(Array(b.patch(i))) }
                    }
                    return out
                }
                box.lock.lock(); box.results.append(res); box.lock.unlock()
                group.leave()
            }.start()
        }
        group.wait()
        XCTAssertEqual(box.results.count, 2)
        for res in box.results { XCTAssertTrue(try res.get() == serial.patches, "concurrent stream differs from a serial one") }
    }

    // MARK: bad tiles

    /// A 3000x2200 synthetic copy with level-0 tile (1, 1) overwritten by garbage.
    func damagedSlide() throws -> (damaged: String, original: String) {
        let original = try Self.synthetic(self, width: 3000, height: 2200)
        let l0 = ReadLevelTests.tiffLayout(original)[0]
        var data = try Data(contentsOf: URL(fileURLWithPath: original))
        let k = 13 // column 1, row 1 of a 12-wide grid
        let off = Int(l0.offsets[k]), n = Int(l0.counts[k])
        var rng = SystemRandomNumberGenerator()
        // Keep the SOI so the damage is in the entropy-coded data, not just the header.
        data.replaceSubrange((off + 2)..<(off + n), with: (0..<(n - 2)).map { _ in UInt8.random(in: 0...255, using: &rng) })
        let damaged = URL(fileURLWithPath: original).deletingLastPathComponent().path + "/damaged.svs"
        try data.write(to: URL(fileURLWithPath: damaged))
        return (damaged, original)
    }

    func testBadTilePolicies() throws {
        let (damagedPath, originalPath) = try damagedSlide()
        let original = try Slide.open(path: originalPath)
        let coords = Self.grid(x0: 128, y0: 128, step: 256, x1: 3000, y1: 2200)
        let r = PatchRequest(coords: coords, level: 0, readSize: 256, outputSize: 256)
        let n = coords.count / 2
        // Patches meeting tile (1, 1) = [256, 512) x [256, 512).
        let touching = (0..<n).filter { i in
            let x = Int(coords[2 * i]), y = Int(coords[2 * i + 1])
            return x < 512 && x + 256 > 256 && y < 512 && y + 256 > 256
        }
        XCTAssertEqual(touching.count, 4)

        // .fail: throws naming file, level and tile, after delivering the batches before it.
        do {
            let s = try Slide.open(path: damagedPath)
            var delivered: [Int] = []
            let stream = try PatchStream(slide: s, request: r, batchSize: 4, workers: 2, badTiles: .fail)
            let e = expectSlideError(.corrupt) { try stream.run { b in delivered += Array(b.indices) } }
            XCTAssertEqual(e?.path, damagedPath)
            XCTAssertTrue(e?.reason.contains("level 0") ?? false, e?.description ?? "")
            XCTAssertTrue(e?.reason.contains("tile (1, 1)") ?? false, e?.description ?? "")
            XCTAssertEqual(delivered, Array(0..<(touching[0] / 4 * 4)), "the batches before the bad tile are delivered, in order")
        }
        // .fill: every patch, the tile's area white, counted.
        do {
            let s = try Slide.open(path: damagedPath)
            let stream = try PatchStream(slide: s, request: r, batchSize: 5, workers: 2, badTiles: .fill)
            let (report, d) = try collect(stream)
            XCTAssertEqual(report.patches, n)
            XCTAssertEqual(report.filled, touching.count)
            XCTAssertEqual(report.skipped, 0)
            XCTAssertEqual(report.badTiles.count, 1, "\(report.badTiles)")
            XCTAssertTrue(report.badTiles.first?.hasPrefix("level 0 tile (1, 1): ") ?? false, "\(report.badTiles)")
            XCTAssertTrue(report.fastPath)
            for i in 0..<n {
                let x = Int(coords[2 * i]), y = Int(coords[2 * i + 1])
                var expected = try original.readRegion(x: x, y: y, level: 0, width: 256, height: 256)
                if touching.contains(i) {
                    for yy in max(y, 256)..<min(y + 256, 512) { for xx in max(x, 256)..<min(x + 256, 512) {
                        expected[xx - x, yy - y] = (255, 255, 255)
                    } }
                }
                XCTAssertTrue(d.patches[i] == expected.pixels, "patch \(i) at (\(x), \(y)) differs from the intact slide with the tile filled white")
            }
        }
        // .skip: exactly the patches touching the tile are left out, and listed.
        do {
            let s = try Slide.open(path: damagedPath)
            let stream = try PatchStream(slide: s, request: r, batchSize: 5, workers: 2, badTiles: .skip)
            let (report, d) = try collect(stream)
            XCTAssertEqual(report.skipped, touching.count)
            XCTAssertEqual(report.skippedIndices, touching)
            XCTAssertEqual(report.patches, n - touching.count)
            XCTAssertEqual(d.indices, (0..<n).filter { !touching.contains($0) })
            XCTAssertEqual(report.badTiles.count, 1)
            for (k, i) in d.indices.enumerated() {
                let x = Int(coords[2 * i]), y = Int(coords[2 * i + 1])
                XCTAssertTrue(d.patches[k] == (try original.readRegion(x: x, y: y, level: 0, width: 256, height: 256)).pixels, "patch \(i)")
                XCTAssertEqual([d.coords[2 * k], d.coords[2 * k + 1]], [Int64(x), Int64(y)])
            }
            // Batches stay on their bag ranges; a batch that lost patches is shorter.
            XCTAssertEqual(d.batches.map(\.start), stride(from: 0, to: n, by: 5).map { $0 })
        }
    }

    // MARK: ImageCore

    func testAreaResizerEqualsResizedArea() {
        var img = RGBImage(width: 311, height: 311)
        var seed: UInt32 = 12345
        for i in 0..<img.pixels.count { seed = seed &* 1664525 &+ 1013904223; img.pixels[i] = UInt8(seed >> 24) }
        for (sw, sh, dw, dh) in [(257, 257, 224, 224), (300, 300, 224, 224), (256, 256, 128, 128), (311, 257, 100, 37), (7, 5, 3, 2), (64, 64, 64, 64)] {
            var src = RGBImage(width: sw, height: sh)
            for y in 0..<sh { for x in 0..<sw { src[x, y] = img[x, y] } }
            let expected = src.resizedArea(width: dw, height: dh).pixels
            let resizer = AreaResizer(sourceWidth: sw, sourceHeight: sh, destinationWidth: dw, destinationHeight: dh)
            // Source inside a wider image (row stride > width), destination with padding.
            let dstStride = dw * 3 + 9
            var out = [UInt8](repeating: 7, count: dstStride * dh)
            img.pixels.withUnsafeBufferPointer { s in
                out.withUnsafeMutableBufferPointer { o in
                    resizer.resize(s.baseAddress!, sourceRowStride: 311 * 3, into: o.baseAddress!, destinationRowStride: dstStride)
                }
            }
            var got: [UInt8] = []
            for y in 0..<dh { got += out[(y * dstStride)..<(y * dstStride + dw * 3)] }
            XCTAssertEqual(got, expected, "\(sw)x\(sh) → \(dw)x\(dh)")
            XCTAssertTrue((0..<dh).allSatisfy { y in out[(y * dstStride + dw * 3)..<((y + 1) * dstStride)].allSatisfy { $0 == 7 } }, "padding overwritten")
        }
    }
}
