import CTIFF
import Foundation
import ImageCore
@testable import SlideIO
import XCTest

/// Opening real slides: formats, levels, scale and its source, errors.
final class SlideOpenTests: XCTestCase {
    func testAperioSmallRegion() throws {
        let path = try Env.slide("CMU-1-Small-Region.svs")
        let s = try Slide.open(path: path)
        XCTAssertEqual(s.format, "aperio")
        XCTAssertEqual(s.width, 2220)
        XCTAssertEqual(s.height, 2967)
        XCTAssertEqual(s.levels, [SlideLevel(index: 0, width: 2220, height: 2967, downsample: 1)])
        let scale = try s.requireScale()
        XCTAssertEqual(scale.mppX, 0.499, accuracy: 1e-12)
        XCTAssertEqual(scale.mppY, 0.499, accuracy: 1e-12)
        XCTAssertEqual(scale.source, .openslide)
        XCTAssertEqual(scale.detail, "openslide.mpp-x")
        XCTAssertFalse(scale.isEstimate)
        XCTAssertEqual(s.objectivePower, 20)
        XCTAssertEqual(s.quickHash, "6335ea0e6cc54c2cba64bb265d3c713a50cd84484924e3a9c109558c13521d5c")
        XCTAssertEqual(s.properties["aperio.MPP"], "0.4990")
        XCTAssertEqual(s.associatedImageNames.sorted(), ["label", "macro", "thumbnail"])
        XCTAssertEqual(s.bestLevel(forDownsample: 64), 0)
    }

    func testUserOverrideBeatsEverything() throws {
        let path = try Env.slide("CMU-1-Small-Region.svs")
        let s = try Slide.open(path: path, mppOverride: 0.25)
        XCTAssertEqual(s.scale, SlideScale(mppX: 0.25, mppY: 0.25, source: .user, detail: "user-override 0.25"))
        // Also beats a TIFF resolution and an objective power.
        let dir = try Env.tempDir()
        let tif = dir.appendingPathComponent("res.tif").path
        try TIFFWriter(xResolution: 20000, resolutionUnit: Int(RESUNIT_CENTIMETER)).write(to: tif)
        XCTAssertEqual(try Slide.open(path: tif, mppOverride: 0.3).scale?.source, .user)
        XCTAssertEqual(try Slide.open(path: tif, mppOverride: 0.3).scale?.mpp, 0.3)
        // Unusable overrides are refused, naming the value.
        for bad in [-1.0, 0, .nan, .infinity, 500, 0.001] {
            let e = expectSlideError(.invalidRequest) { try Slide.open(path: path, mppOverride: bad) }
            XCTAssertTrue(e?.reason.contains("override") ?? false, "\(String(describing: e))")
        }
    }

    func testPlainTIFFKidney() throws {
        let path = try Env.slide("kidney-48-5.tif")
        let s = try Slide.open(path: path)
        XCTAssertEqual(s.format, "plain-tiff")
        XCTAssertEqual(s.width, 1493)
        XCTAssertEqual(s.height, 901)
        XCTAssertEqual(s.levels.count, 1)
        XCTAssertEqual(s.properties["tiff.ImageWidth"], "1493")
        XCTAssertNil(s.properties["tiff.XResolution"], "kidney-48-5.tif has no resolution tags")
        XCTAssertNil(s.scale)
        XCTAssertNil(s.objectivePower)
        let e = expectSlideError(.noScale) { try s.requireScale() }
        XCTAssertTrue(e?.hint.contains("--slide-mpp") ?? false)
        XCTAssertTrue(e?.hint.contains("--mpp-csv FILE (columns slide,mpp)") ?? false)
        XCTAssertEqual(e?.path, path)
        XCTAssertTrue(e?.description.contains("kidney-48-5.tif") ?? false)
        // No quickhash from OpenSlide: the SHA-256 of the file, as Python's hashlib computes it.
        let py = try Env.runPython("import hashlib,sys; print(hashlib.sha256(open(sys.argv[1],'rb').read()).hexdigest())", [path])
        XCTAssertEqual(s.quickHash, String(decoding: py, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
        XCTAssertEqual(s.quickHash.count, 64)
        XCTAssertEqual(s.associatedImageNames, [])
        expectSlideError(.invalidRequest) { try s.associatedImage("label") }
    }

    func testBrokenSVS() throws {
        let path = try Env.slide("broken.svs")
        let e = expectSlideError(.corrupt) { try Slide.open(path: path) }
        XCTAssertTrue(e?.description.contains("broken.svs") ?? false)
        XCTAssertTrue(e?.reason.contains("Aperio SVS") ?? false, "\(String(describing: e))")
        XCTAssertFalse(e?.hint.isEmpty ?? true)
    }

    func testEdgeCases() throws {
        let small = try Slide.open(path: try Env.slide("edge-cases/small.svs"))
        XCTAssertEqual(small.format, "aperio")
        XCTAssertEqual(small.width, 16)
        XCTAssertEqual(small.height, 16)
        XCTAssertEqual(small.scale?.source, .openslide)

        // Unicode file name: opens and reads the same pixels as its twin.
        let smiley = try Slide.open(path: try Env.slide("edge-cases/😐.svs"))
        XCTAssertEqual(smiley.quickHash, small.quickHash)
        XCTAssertEqual(try smiley.readRegion(x: 0, y: 0, level: 0, width: 16, height: 16),
                       try small.readRegion(x: 0, y: 0, level: 0, width: 16, height: 16))

        let unopenable = try Env.slide("edge-cases/unopenable.tiff")
        let e1 = expectSlideError(.corrupt) { try Slide.open(path: unopenable) }
        XCTAssertTrue(e1?.reason.contains("Unsupported TIFF compression: 52479") ?? false, "\(String(describing: e1))")
        XCTAssertTrue(e1?.description.contains("unopenable.tiff") ?? false)

        let dcm = try Env.slide("edge-cases/boxes_0.dcm")
        let e2 = expectSlideError(.unsupported) { try Slide.open(path: dcm) }
        XCTAssertTrue(e2?.reason.contains("DICOM") ?? false)
        XCTAssertTrue(e2?.hint.contains("convert") ?? false)
        XCTAssertTrue(e2?.description.contains("boxes_0.dcm") ?? false)
    }

    func testUnreadableSVSFailsOnReadAndStaysFailed() throws {
        let path = try Env.slide("edge-cases/unreadable.svs")
        let s = try Slide.open(path: path)   // metadata is fine; the tile data is not
        XCTAssertEqual(s.width, 16)
        let e = expectSlideError(.corrupt) { try s.readRegion(x: 0, y: 0, level: 0, width: 16, height: 16) }
        XCTAssertTrue(e?.reason.contains("Bogus marker length") ?? false, "\(String(describing: e))")
        XCTAssertTrue(e?.description.contains("unreadable.svs") ?? false)
        // The handle is dead: every later call reports the same reason, even tiny reads.
        for _ in 0..<2 {
            let again = expectSlideError(.corrupt) { try s.readRegion(x: 100, y: 100, level: 0, width: 1, height: 1) }
            XCTAssertEqual(again?.reason, e?.reason)
        }
        XCTAssertEqual(expectSlideError(.corrupt) { try s.thumbnail(maxSize: 8) }?.reason, e?.reason)
        XCTAssertEqual(expectSlideError(.corrupt) { try s.downsampledImage(downsample: 2) }?.reason, e?.reason)
        XCTAssertEqual(expectSlideError(.corrupt) { try s.associatedImage("thumbnail") }?.reason, e?.reason)
    }

    func testGenericTIFFPyramidBoxes() throws {
        let path = try Env.slide("edge-cases/boxes.tiff")
        let s = try Slide.open(path: path)
        XCTAssertEqual(s.format, "generic-tiff")
        XCTAssertEqual(s.levels.map { [$0.width, $0.height] }, [[300, 250], [150, 125], [75, 62], [37, 31]])
        XCTAssertEqual(s.levels[2].downsample, 4.016129032258064, accuracy: 1e-12)
        // Its resolution tags say 28.35 px/cm (72 dpi): 352.8 µm/px is a screen DPI, not a
        // microscope, so it is rejected and there is no scale (no objective power either).
        XCTAssertNil(s.scale)
        let note = try XCTUnwrap(s.scaleNote)
        XCTAssertTrue(note.contains("tiff-resolution"), note)
        XCTAssertTrue(note.contains("352.778"), note)
        let e = expectSlideError(.noScale) { try s.requireScale() }
        XCTAssertTrue(e?.reason.contains("352.778") ?? false)
        XCTAssertTrue(e?.hint.contains("--slide-mpp") ?? false)

        // bestLevel follows openslide_get_best_level_for_downsample exactly.
        let ds = [0.5, 1, 1.5, 1.99, 2, 3, 4.016, 4.0162, 8, 8.09, 1000]
        let py = try Env.runPython("""
            import sys, openslide
            s = openslide.OpenSlide(sys.argv[1])
            print(' '.join(str(s.get_best_level_for_downsample(float(d))) for d in sys.argv[2:]))
            """, [path] + ds.map { String($0) })
        let expected = String(decoding: py, as: UTF8.self).split(separator: " ").map { Int($0.trimmingCharacters(in: .whitespacesAndNewlines))! }
        XCTAssertEqual(ds.map { s.bestLevel(forDownsample: $0) }, expected)
        XCTAssertEqual(expected, [0, 0, 0, 0, 1, 1, 1, 2, 2, 3, 3])
    }

    func testMissingFolderEmptyAndGarbage() throws {
        let dir = try Env.tempDir()
        let missing = dir.appendingPathComponent("nope.svs").path
        let e = expectSlideError(.notFound) { try Slide.open(path: missing) }
        XCTAssertTrue(e?.description.contains("nope.svs") ?? false)
        expectSlideError(.unreadable) { try Slide.open(path: dir.path) }
        let empty = dir.appendingPathComponent("empty.ndpi").path
        XCTAssertTrue(FileManager.default.createFile(atPath: empty, contents: Data()))
        expectSlideError(.corrupt) { try Slide.open(path: empty) }
        let garbage = dir.appendingPathComponent("notes.xyz").path
        XCTAssertTrue(FileManager.default.createFile(atPath: garbage, contents: Data("hello, not a slide".utf8)))
        let g = expectSlideError(.unsupported) { try Slide.open(path: garbage) }
        XCTAssertTrue(g?.hint.contains("tiff") ?? false)
    }

    func testTIFFResolutionCentimetreInchNone() throws {
        let dir = try Env.tempDir()
        func open(_ w: TIFFWriter, _ name: String, fallback: Bool = true) throws -> Slide {
            let p = dir.appendingPathComponent(name).path
            try w.write(to: p)
            return try Slide.open(path: p, allowObjectivePowerFallback: fallback)
        }
        let cm = try open(TIFFWriter(xResolution: 20000, resolutionUnit: Int(RESUNIT_CENTIMETER)), "cm.tif")
        XCTAssertEqual(cm.format, "plain-tiff")
        XCTAssertEqual(cm.scale?.source, .tiffResolution)
        XCTAssertEqual(cm.scale?.mppX ?? 0, 0.5, accuracy: 1e-9)
        XCTAssertEqual(cm.scale?.mppY ?? 0, 0.5, accuracy: 1e-9)
        XCTAssertEqual(cm.scale?.detail, "XResolution=20000 px/cm")

        let inch = try open(TIFFWriter(xResolution: 101600, resolutionUnit: Int(RESUNIT_INCH)), "inch.tif")
        XCTAssertEqual(inch.scale?.source, .tiffResolution)
        XCTAssertEqual(inch.scale?.mpp ?? 0, 0.25, accuracy: 1e-9)
        XCTAssertEqual(inch.scale?.detail, "XResolution=101600 px/inch")

        let aniso = try open(TIFFWriter(xResolution: 20000, yResolution: 25000, resolutionUnit: Int(RESUNIT_CENTIMETER)), "aniso.tif")
        XCTAssertEqual(aniso.scale?.mppX ?? 0, 0.5, accuracy: 1e-9)
        XCTAssertEqual(aniso.scale?.mppY ?? 0, 0.4, accuracy: 1e-9)

        let none = try open(TIFFWriter(xResolution: 20000, resolutionUnit: Int(RESUNIT_NONE)), "none.tif")
        XCTAssertNil(none.scale)
        XCTAssertTrue(none.scaleNote?.contains("ResolutionUnit none") ?? false, none.scaleNote ?? "")

        let dpi72 = try open(TIFFWriter(xResolution: 72, resolutionUnit: Int(RESUNIT_INCH)), "72dpi.tif")
        XCTAssertNil(dpi72.scale)
        XCTAssertTrue(dpi72.scaleNote?.contains("outside the plausible range") ?? false, dpi72.scaleNote ?? "")

        // A tiled TIFF is OpenSlide's generic-tiff, which (3.4.1) gives no mpp: the
        // resolution tags still give the scale, read with libtiff.
        let tiled = try open(TIFFWriter(width: 80, height: 70, tile: 16, xResolution: 40000, resolutionUnit: Int(RESUNIT_CENTIMETER)), "tiled.tif")
        XCTAssertEqual(tiled.format, "generic-tiff")
        XCTAssertNil(tiled.properties["openslide.mpp-x"])
        XCTAssertEqual(tiled.scale?.source, .tiffResolution)
        XCTAssertEqual(tiled.scale?.mpp ?? 0, 0.25, accuracy: 1e-9)
    }

    func testObjectivePowerFallbackIsFlagged() throws {
        // An Aperio file with AppMag but no MPP: OpenSlide sets objective-power, no mpp.
        let dir = try Env.tempDir()
        let p = dir.appendingPathComponent("appmag.svs").path
        try TIFFWriter(width: 64, height: 64, tile: 16,
                       description: "Aperio Image Library v10.0.0\n64x64 [0,0 64x64] (16x16) RAW|AppMag = 40|Filename = synthetic").write(to: p)
        let s = try Slide.open(path: p)
        XCTAssertEqual(s.format, "aperio")
        XCTAssertNil(s.properties["openslide.mpp-x"])
        XCTAssertEqual(s.objectivePower, 40)
        let scale = try s.requireScale()
        XCTAssertEqual(scale.source, .objectivePower)
        XCTAssertEqual(scale.mpp, 0.25, accuracy: 1e-12)
        XCTAssertTrue(scale.isEstimate)
        XCTAssertEqual(scale.detail, "objective power 40")

        let strict = try Slide.open(path: p, allowObjectivePowerFallback: false)
        XCTAssertNil(strict.scale)
        XCTAssertEqual(strict.objectivePower, 40)
        let e = expectSlideError(.noScale) { try strict.requireScale() }
        XCTAssertTrue(e?.reason.contains("objective power 40") ?? false, "\(String(describing: e))")
    }

    func testAbsurdDimensionsAreCorrupt() throws {
        let dir = try Env.tempDir()
        let p = dir.appendingPathComponent("wide.tif").path
        try TIFFWriter(width: 1_000_001, height: 1, compression: Int(COMPRESSION_NONE)).write(to: p)
        let e = expectSlideError(.corrupt) { try Slide.open(path: p) }
        XCTAssertTrue(e?.reason.contains("1000001x1") ?? false, "\(String(describing: e))")
        XCTAssertThrowsError(try Slide.validate(levels: [SlideLevel(index: 0, width: 100, height: 100, downsample: 1),
                                                         SlideLevel(index: 1, width: 200, height: 50, downsample: 2)], path: "x")) {
            XCTAssertTrue("\($0)".contains("not decreasing"))
        }
    }

    func testInfoJSON() throws {
        let s = try Slide.open(path: try Env.slide("CMU-1-Small-Region.svs"))
        let data = try JSONEncoder().encode(s.info())
        let json = String(decoding: data, as: UTF8.self)
        XCTAssertTrue(json.contains("\"openslide-property\""), json)
        let back = try JSONDecoder().decode(SlideInfo.self, from: data)
        XCTAssertEqual(back, s.info())
        XCTAssertEqual(back.format, "aperio")
        XCTAssertEqual(back.width, 2220)
        XCTAssertEqual(back.scale?.mpp, 0.499)
        XCTAssertEqual(back.objectivePower, 20)
        XCTAssertEqual(back.quickHash, s.properties["openslide.quickhash-1"])
        XCTAssertEqual(back.properties["openslide.vendor"], "aperio")
        XCTAssertEqual(back.properties["aperio.MPP"], "0.4990")
        XCTAssertNil(back.properties["aperio.User"], "only selected properties")
        XCTAssertEqual(back.associatedImages.sorted(), ["label", "macro", "thumbnail"])
    }
}

/// Pixels: regions, associated images, concurrency, downsampling, thumbnails.
final class SlidePixelTests: XCTestCase {
    func testRegionsMatchOpenSlidePython() throws {
        let path = try Env.slide("CMU-1-Small-Region.svs")
        let s = try Slide.open(path: path)
        let regions = [(0, 0, 0, 256, 256), (1000, 1500, 0, 300, 200), (-10, -5, 0, 50, 40),
                       (2200, 2950, 0, 64, 64), (2219, 2966, 0, 1, 1), (5000, 5000, 0, 3, 2)]
        let py = try Env.runPython(pyReadRegions, [path] + regions.map { "\($0.0),\($0.1),\($0.2),\($0.3),\($0.4)" })
        var offset = 0
        for r in regions {
            let img = try s.readRegion(x: r.0, y: r.1, level: r.2, width: r.3, height: r.4)
            XCTAssertEqual(img.width, r.3); XCTAssertEqual(img.height, r.4)
            let expected = [UInt8](py[offset..<(offset + r.3 * r.4 * 3)])
            offset += r.3 * r.4 * 3
            XCTAssertEqual(img.pixels, expected, "region \(r)")
        }
        XCTAssertEqual(offset, py.count)
        // Outside the slide is white; the overlap part is real tissue.
        let edge = try s.readRegion(x: -10, y: -5, level: 0, width: 50, height: 40)
        XCTAssertTrue(edge[0, 0] == (255, 255, 255))
        XCTAssertTrue(try s.readRegion(x: 5000, y: 5000, level: 0, width: 3, height: 2).pixels.allSatisfy { $0 == 255 })
    }

    func testPyramidRegionsMatchPeers() throws {
        let path = try Env.slide("edge-cases/boxes.tiff")
        let s = try Slide.open(path: path)
        // Levels 0-1: byte-equal to openslide-python.
        let regions = [(0, 0, 0, 300, 250), (0, 0, 1, 150, 125), (37, 21, 1, 40, 30), (-16, 200, 1, 10, 10)]
        let py = try Env.runPython(pyReadRegions, [path] + regions.map { "\($0.0),\($0.1),\($0.2),\($0.3),\($0.4)" })
        var offset = 0
        for r in regions {
            let img = try s.readRegion(x: r.0, y: r.1, level: r.2, width: r.3, height: r.4)
            let expected = [UInt8](py[offset..<(offset + r.3 * r.4 * 3)])
            XCTAssertTrue(img.pixels == expected, "region \(r): \(zip(img.pixels, expected).filter { $0 != $1 }.count) bytes differ")
            offset += r.3 * r.4 * 3
        }
        // Levels 2-3 are smaller than one 64-px deflate tile: OpenSlide 3.4.1 + libtiff 4.5
        // returns uninitialised memory there, so SlideIO decodes them with libtiff. Peer:
        // PIL's own decoder, page by page.
        XCTAssertEqual(Set(s.libtiffLevels.keys), [2, 3])
        let pages = try Env.runPython("""
            import sys, numpy as np
            from PIL import Image
            im = Image.open(sys.argv[1])
            for p in (2, 3):
                im.seek(p)
                sys.stdout.buffer.write(np.asarray(im.convert('RGB')).tobytes())
            """, [path])
        let l2 = try s.readRegion(x: 0, y: 0, level: 2, width: 75, height: 62)
        let l3 = try s.readRegion(x: 0, y: 0, level: 3, width: 37, height: 31)
        XCTAssertTrue(l2.pixels == [UInt8](pages.prefix(75 * 62 * 3)), "level 2 differs from PIL")
        XCTAssertTrue(l3.pixels == [UInt8](pages.suffix(37 * 31 * 3)), "level 3 differs from PIL")
        // Windows in level coordinates (x / downsample), white outside.
        let ds3 = s.levels[3].downsample
        let w = try s.readRegion(x: Int((10 * ds3).rounded()), y: Int((5 * ds3).rounded()), level: 3, width: 30, height: 30)
        XCTAssertTrue(w[0, 0] == l3[10, 5] && w[26, 25] == l3[36, 30] && w[27, 0] == (255, 255, 255) && w[0, 26] == (255, 255, 255))
        // Deterministic: a second handle reads the same bytes.
        XCTAssertEqual(try Slide.open(path: path).readRegion(x: 0, y: 0, level: 3, width: 37, height: 31), l3)
    }

    func testInvalidRequests() throws {
        let s = try Slide.open(path: try Env.slide("edge-cases/small.svs"))
        expectSlideError(.invalidRequest) { try s.readRegion(x: 0, y: 0, level: 1, width: 4, height: 4) }
        expectSlideError(.invalidRequest) { try s.readRegion(x: 0, y: 0, level: -1, width: 4, height: 4) }
        expectSlideError(.invalidRequest) { try s.readRegion(x: 0, y: 0, level: 0, width: -4, height: 4) }
        expectSlideError(.invalidRequest) { try s.readRegion(x: 0, y: 0, level: 0, width: 1 << 20, height: 1 << 20) }
        expectSlideError(.invalidRequest) { try s.downsampledImage(downsample: 0.5) }
        expectSlideError(.invalidRequest) { try s.thumbnail(maxSize: 0) }
        expectSlideError(.invalidRequest) { try s.associatedImage("macro") }
        // ...and none of them poisons the handle.
        XCTAssertEqual(try s.readRegion(x: 0, y: 0, level: 0, width: 0, height: 3).pixels.count, 0)
        XCTAssertEqual(try s.readRegion(x: 0, y: 0, level: 0, width: 16, height: 16).width, 16)
    }

    func testAssociatedImagesMatchOpenSlidePython() throws {
        let path = try Env.slide("CMU-1-Small-Region.svs")
        let s = try Slide.open(path: path)
        let py = try Env.runPython("""
            import sys, numpy as np, openslide
            s = openslide.OpenSlide(sys.argv[1])
            for n in sys.argv[2:]:
                a = np.asarray(s.associated_images[n]).astype(np.float64)
                rgb, al = a[..., :3], a[..., 3:4]
                comp = np.where(al == 255, rgb, np.where(al == 0, 255.0, np.clip(np.rint(rgb * al / 255 + 255 - al), 0, 255)))
                sys.stdout.buffer.write(b'%d %d\\n' % (a.shape[1], a.shape[0]))
                sys.stdout.buffer.write(comp.astype(np.uint8).tobytes())
            """, [path, "label", "thumbnail"])
        var rest = py[...]
        for name in ["label", "thumbnail"] {
            let nl = rest.firstIndex(of: 10)!
            let dims = String(decoding: rest[rest.startIndex..<nl], as: UTF8.self).split(separator: " ").map { Int($0)! }
            rest = rest[(nl + 1)...]
            let n = dims[0] * dims[1] * 3
            let img = try s.associatedImage(name)
            XCTAssertEqual([img.width, img.height], dims, name)
            XCTAssertEqual(img.pixels, [UInt8](rest.prefix(n)), name)
            rest = rest.dropFirst(n)
        }
    }

    func testPlainImagePixelsMatchPIL() throws {
        let path = try Env.slide("kidney-48-5.tif")
        let s = try Slide.open(path: path)
        let py = try Env.runPython("""
            import sys, numpy as np
            from PIL import Image
            a = np.asarray(Image.open(sys.argv[1]).convert('RGB'))
            sys.stdout.buffer.write(a.tobytes())
            """, [path])
        let whole = try s.readRegion(x: 0, y: 0, level: 0, width: 1493, height: 901)
        XCTAssertEqual(whole.pixels, [UInt8](py))
        // A region hanging over the bottom-right corner: inside copied, outside white.
        let r = try s.readRegion(x: 1490, y: 899, level: 0, width: 5, height: 4)
        for y in 0..<4 {
            for x in 0..<5 {
                let inside = 1490 + x < 1493 && 899 + y < 901
                XCTAssertTrue(r[x, y] == (inside ? whole[1490 + x, 899 + y] : (255, 255, 255)), "(\(x), \(y))")
            }
        }
    }

    func testWrittenTIFFsReadBackExactly() throws {
        // A stripped TIFF (plain reader) and a tiled one (OpenSlide generic-tiff) with known pixels.
        let dir = try Env.tempDir()
        for (name, w) in [("strip.tif", TIFFWriter(width: 50, height: 30)), ("tiled.tif", TIFFWriter(width: 50, height: 30, tile: 16))] {
            let p = dir.appendingPathComponent(name).path
            try w.write(to: p)
            let s = try Slide.open(path: p)
            XCTAssertEqual(s.format, name == "strip.tif" ? "plain-tiff" : "generic-tiff")
            XCTAssertEqual(try s.readRegion(x: 0, y: 0, level: 0, width: 50, height: 30), w.image, name)
            let sub = try s.readRegion(x: 7, y: 3, level: 0, width: 20, height: 11)
            XCTAssertTrue(sub[0, 0] == w.pixel(7, 3) && sub[19, 10] == w.pixel(26, 13), name)
        }
        // PNG and JPEG plain images.
        let img = TIFFWriter(width: 33, height: 21).image
        let png = dir.appendingPathComponent("a.png").path
        try PNGCodec.encode(img).write(to: URL(fileURLWithPath: png))
        let sp = try Slide.open(path: png)
        XCTAssertEqual(sp.format, "plain-png")
        XCTAssertEqual([sp.width, sp.height], [33, 21])
        XCTAssertEqual(try sp.readRegion(x: 0, y: 0, level: 0, width: 33, height: 21), img)
        let jpg = dir.appendingPathComponent("a.jpg").path
        try JPEGCodec().encode(img, quality: 95).write(to: URL(fileURLWithPath: jpg))
        let sj = try Slide.open(path: jpg)
        XCTAssertEqual(sj.format, "plain-jpeg")
        XCTAssertEqual([sj.width, sj.height], [33, 21])
        XCTAssertEqual(try sj.readRegion(x: 0, y: 0, level: 0, width: 33, height: 21), try ImageFile.read(path: jpg))
        // A plain file whose pixels cannot be decoded fails on read, and stays failed.
        let trunc = dir.appendingPathComponent("trunc.png").path
        let full = try Data(contentsOf: URL(fileURLWithPath: png))
        try full.prefix(40).write(to: URL(fileURLWithPath: trunc))
        let st = try Slide.open(path: trunc)
        let e = expectSlideError(.corrupt) { try st.readRegion(x: 0, y: 0, level: 0, width: 2, height: 2) }
        XCTAssertTrue(e?.description.contains("trunc.png") ?? false)
        XCTAssertEqual(expectSlideError(.corrupt) { try st.thumbnail(maxSize: 4) }?.reason, e?.reason)
    }

    func testConcurrentReadsEqualSerialReads() throws {
        for name in ["CMU-1-Small-Region.svs", "kidney-48-5.tif"] {
            let s = try Slide.open(path: try Env.slide(name))
            var rng = SystemRandomNumberGenerator()
            let regions: [(Int, Int, Int, Int)] = (0..<24).map { _ in
                (Int.random(in: -50..<(s.width - 50), using: &rng), Int.random(in: -50..<(s.height - 50), using: &rng),
                 Int.random(in: 1...300, using: &rng), Int.random(in: 1...300, using: &rng))
            }
            // Concurrent first (so the plain image's one-time decode is raced too), then serial.
            let threads = 8
            final class Results: @unchecked Sendable {
                let lock = NSLock()
                var images: [[RGBImage?]]
                init(_ t: Int, _ n: Int) { images = [[RGBImage?]](repeating: [RGBImage?](repeating: nil, count: n), count: t) }
            }
            let results = Results(threads, regions.count)
            let group = DispatchGroup()
            for t in 0..<threads {
                group.enter()
                let th = Thread {
                    for k in 0..<regions.count {
                        let i = (k + t * 5) % regions.count
                        let r = regions[i]
                        let img = try? s.readRegion(x: r.0, y: r.1, level: 0, width: r.2, height: r.3)
                        results.lock.lock(); results.images[t][i] = img; results.lock.unlock()
                    }
                    group.leave()
                }
                th.start()
            }
            group.wait()
            let serial = try regions.map { try s.readRegion(x: $0.0, y: $0.1, level: 0, width: $0.2, height: $0.3) }
            for t in 0..<threads {
                for i in regions.indices { XCTAssertTrue(results.images[t][i] == serial[i], "\(name) thread \(t) region \(i)") }
            }
        }
    }

    func testDownsampledImageMatchesNumpyAreaAverage() throws {
        let path = try Env.slide("CMU-1-Small-Region.svs")
        let s = try Slide.open(path: path)
        let py = try Env.runPython(pyDownsample, [path, "8"])
        let nl = py.firstIndex(of: 10)!
        let dims = String(decoding: py[..<nl], as: UTF8.self).split(separator: " ").map { Int($0)! }
        let expected = [UInt8](py[(nl + 1)...])
        let r = try s.downsampledImage(downsample: 8)
        XCTAssertEqual([r.image.width, r.image.height], [278, 371]) // round(2220/8), round(2967/8)
        XCTAssertEqual([r.image.width, r.image.height], dims)
        XCTAssertEqual(r.downsampleX, 8)
        XCTAssertEqual(r.downsampleY, 8)
        XCTAssertEqual(r.image.pixels.count, expected.count)
        var maxDiff = 0
        for (a, b) in zip(r.image.pixels, expected) { maxDiff = max(maxDiff, abs(Int(a) - Int(b))) }
        XCTAssertLessThanOrEqual(maxDiff, 1, "area average differs from numpy by \(maxDiff)")

        // Bounded memory: with 100-px chunks no read exceeds 100×100 px, yet the result is
        // identical (box sums of whole pixels are exact, whatever the chunking).
        let small = try s.downsampled(downsample: 8, level: nil, chunk: 100)
        XCTAssertLessThanOrEqual(small.stats.maxReadPixels, 100 * 100)
        XCTAssertGreaterThan(small.stats.reads, (2220 / 100) * (2967 / 100))
        XCTAssertEqual(small.image, r.image)
        let def = try s.downsampled(downsample: 8, level: nil, chunk: Slide.downsampleChunk)
        XCTAssertLessThanOrEqual(def.stats.maxReadPixels, Slide.downsampleChunk * Slide.downsampleChunk)
        // A box bigger than the chunk is itself read in pieces.
        let huge = try s.downsampled(downsample: 600, level: nil, chunk: 64)
        XCTAssertLessThanOrEqual(huge.stats.maxReadPixels, 64 * 64)
        XCTAssertEqual(huge.image, try s.downsampled(downsample: 600, level: nil, chunk: 4096).image)
        XCTAssertEqual([huge.image.width, huge.image.height], [4, 5])
    }

    func testDownsampleFromPyramidLevelAgreesWithLevelZero() throws {
        let s = try Slide.open(path: try Env.slide("edge-cases/boxes.tiff"))
        XCTAssertEqual(s.bestLevel(forDownsample: 4), 1)
        let fromL0 = try s.downsampled(downsample: 4, level: 0, chunk: 2048)
        for level in [1, 2] {
            let fromL = try s.downsampled(downsample: 4, level: level, chunk: 2048)
            XCTAssertEqual(fromL.stats.level, level)
            XCTAssertEqual([fromL.image.width, fromL.image.height], [75, 63])
            let diffs = zip(fromL0.image.pixels, fromL.image.pixels).map { abs(Int($0) - Int($1)) }
            let mean = Double(diffs.reduce(0, +)) / Double(diffs.count)
            print("boxes.tiff d=4 from level \(level) vs level 0: mean |diff| \(mean), max \(diffs.max() ?? 0)")
            XCTAssertLessThan(mean, level == 1 ? 0.1 : 3.0, "level \(level) vs level 0: mean |diff| \(mean)")
        }
        // Chunking a fractional-box level does not change the result beyond rounding.
        let a = try s.downsampled(downsample: 4.5, level: 2, chunk: 16).image
        let b = try s.downsampled(downsample: 4.5, level: 2, chunk: 2048).image
        XCTAssertLessThanOrEqual(zip(a.pixels, b.pixels).map { abs(Int($0) - Int($1)) }.max() ?? 0, 1)
    }

    func testThumbnailSize() throws {
        let s = try Slide.open(path: try Env.slide("CMU-1-Small-Region.svs"))
        let t = try s.thumbnail(maxSize: 500)
        XCTAssertEqual(t.height, 500)
        XCTAssertEqual(t.width, 374) // round(2220 * 500 / 2967)
        let tiny = try Slide.open(path: try Env.slide("edge-cases/small.svs"))
        let big = try tiny.thumbnail(maxSize: 1000)
        XCTAssertEqual([big.width, big.height], [16, 16])
        XCTAssertEqual(big, try tiny.readRegion(x: 0, y: 0, level: 0, width: 16, height: 16))
        let boxes = try Slide.open(path: try Env.slide("edge-cases/boxes.tiff"))
        let bt = try boxes.thumbnail(maxSize: 64)
        XCTAssertEqual([bt.width, bt.height], [64, 53])
    }
}
