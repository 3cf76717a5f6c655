import COpenSlide
import CTIFF
import Foundation
import ImageCore
@testable import SlideSynth
import XCTest

/// One 4000 x 3000 slide (tile 256) written once and shared by the read-only tests.
private final class Fixture {
    private static var made: Fixture?
    static var shared: Fixture {
        if let f = made { return f }
        let f = Fixture()
        made = f
        return f
    }
    /// Removes the shared slide if a test made it.
    static func cleanUp() {
        if let f = made { try? FileManager.default.removeItem(atPath: f.dir) }
        made = nil
    }
    let dir: String
    let path: String
    let truthDir: String
    let spec: SyntheticSlideSpec
    let truth: SyntheticTruth
    var progress: [Double] = []

    private init() {
        dir = NSTemporaryDirectory() + "slidesynth-\(getpid())-\(UUID().uuidString)"
        path = dir + "/slides/synthetic.svs"
        truthDir = dir + "/truth"
        var s = SyntheticSlideSpec(width: 4000, height: 3000)
        s.seed = 7
        spec = s
        var seen: [Double] = []
        truth = try! SlideSynth.write(s, to: path, truthDirectory: truthDir) { seen.append($0) }
        progress = seen
    }
}

/// An OpenSlide handle for the tests (C API directly, independent of SlideIO).
private final class OSlide {
    let osr: OpaquePointer
    init(_ path: String) throws {
        guard let o = openslide_open(path) else { throw XCTSkip("openslide_open returned NULL for \(path)") }
        if let e = openslide_get_error(o) { let m = String(cString: e); openslide_close(o); throw NSError(domain: m, code: 1) }
        osr = o
    }
    deinit { openslide_close(osr) }

    func property(_ name: String) -> String? { openslide_get_property_value(osr, name).map { String(cString: $0) } }
    var levelCount: Int { Int(openslide_get_level_count(osr)) }
    func dimensions(_ level: Int) -> (Int, Int) {
        var w: Int64 = 0, h: Int64 = 0
        openslide_get_level_dimensions(osr, Int32(level), &w, &h)
        return (Int(w), Int(h))
    }
    func downsample(_ level: Int) -> Double { openslide_get_level_downsample(osr, Int32(level)) }

    /// RGB of a region; (x, y) in level-0 px, (w, h) in level px. Fully opaque slides only.
    func read(x: Int, y: Int, level: Int, w: Int, h: Int) -> RGBImage {
        var argb = [UInt32](repeating: 0, count: w * h)
        argb.withUnsafeMutableBufferPointer { openslide_read_region(osr, $0.baseAddress, Int64(x), Int64(y), Int32(level), Int64(w), Int64(h)) }
        var px = [UInt8](repeating: 0, count: w * h * 3)
        for i in 0..<(w * h) {
            let v = argb[i]
            px[3 * i] = UInt8((v >> 16) & 0xFF); px[3 * i + 1] = UInt8((v >> 8) & 0xFF); px[3 * i + 2] = UInt8(v & 0xFF)
        }
        return RGBImage(width: w, height: h, pixels: px)
    }
}

private func mean(_ img: RGBImage) -> (Double, Double, Double) {
    var r = 0.0, g = 0.0, b = 0.0
    let n = Double(img.width * img.height)
    for i in 0..<(img.width * img.height) {
        r += Double(img.pixels[3 * i]); g += Double(img.pixels[3 * i + 1]); b += Double(img.pixels[3 * i + 2])
    }
    return (r / n, g / n, b / n)
}

/// HSV saturation on OpenCV's 0-255 scale: (max - min) / max * 255.
private func saturation(_ r: UInt8, _ g: UInt8, _ b: UInt8) -> Double {
    let mx = Double(max(r, g, b)), mn = Double(min(r, g, b))
    return mx == 0 ? 0 : (mx - mn) / mx * 255
}

/// OpenCV's medianBlur(k) followed by `> threshold` on integer values: the median of the
/// k*k window exceeds the threshold iff more than half the window does (border: replicate).
private func medianAbove(_ v: [Int], w: Int, h: Int, k: Int, threshold: Int) -> [Bool] {
    let r = k / 2
    var out = [Bool](repeating: false, count: w * h)
    for y in 0..<h {
        for x in 0..<w {
            var above = 0
            for dy in -r...r {
                let row = min(h - 1, max(0, y + dy)) * w
                for dx in -r...r where v[row + min(w - 1, max(0, x + dx))] > threshold { above += 1 }
            }
            out[y * w + x] = above > (k * k) / 2
        }
    }
    return out
}

/// True where any pixel within `radius` (Chebyshev) is true, via a summed-area table.
private func boxAny(_ m: [Bool], w: Int, h: Int, radius: Int) -> [Bool] {
    var sum = [Int](repeating: 0, count: (w + 1) * (h + 1))
    for y in 0..<h { for x in 0..<w {
        sum[(y + 1) * (w + 1) + x + 1] = (m[y * w + x] ? 1 : 0) + sum[y * (w + 1) + x + 1] + sum[(y + 1) * (w + 1) + x] - sum[y * (w + 1) + x]
    } }
    var out = [Bool](repeating: false, count: w * h)
    for y in 0..<h { for x in 0..<w {
        let x0 = max(0, x - radius), x1 = min(w, x + radius + 1), y0 = max(0, y - radius), y1 = min(h, y + radius + 1)
        out[y * w + x] = sum[y1 * (w + 1) + x1] - sum[y0 * (w + 1) + x1] - sum[y1 * (w + 1) + x0] + sum[y0 * (w + 1) + x0] > 0
    } }
    return out
}

final class SlideSynthTests: XCTestCase {
    private var fx: Fixture { Fixture.shared }

    override class func tearDown() {
        Fixture.cleanUp()
        super.tearDown()
    }

    func testOpenSlideSeesAnAperioSlideWithTheSpecScale() throws {
        let f = fx
        XCTAssertEqual(openslide_detect_vendor(f.path).map { String(cString: $0) }, "aperio")
        let s = try OSlide(f.path)
        XCTAssertEqual(s.property("openslide.vendor"), "aperio")
        XCTAssertEqual(Double(s.property("openslide.mpp-x") ?? ""), f.spec.mpp)
        XCTAssertEqual(Double(s.property("openslide.mpp-y") ?? ""), f.spec.mpp)
        XCTAssertEqual(Double(s.property("openslide.objective-power") ?? ""), f.spec.magnification)
        XCTAssertEqual(s.property("tiff.ResolutionUnit"), "centimeter")
        XCTAssertEqual(Double(s.property("tiff.XResolution") ?? "") ?? 0, 10_000 / f.spec.mpp, accuracy: 0.5)
        // 4000 px: levels at 1, 4, 16, 64 (the 64x level is 63 px, under 512: the last one).
        XCTAssertEqual(f.truth.levelDownsamples, [1, 4, 16, 64])
        XCTAssertEqual(s.levelCount, 4)
        for (l, d) in f.truth.levelDownsamples.enumerated() {
            let (w, h) = s.dimensions(l)
            XCTAssertEqual(w, (f.spec.width + d - 1) / d)
            XCTAssertEqual(h, (f.spec.height + d - 1) / d)
            XCTAssertEqual(s.downsample(l), Double(d), accuracy: Double(d) * 0.01, "level \(l)")
            XCTAssertEqual(s.property("openslide.level[\(l)].tile-width"), "256")
        }
        XCTAssertEqual(f.progress.last, 1)
        XCTAssertEqual(f.progress, f.progress.sorted(), "progress must not go backwards")
        XCTAssertGreaterThan(f.progress.count, 10)
    }

    func testPixelsShowTissueGlassPenAndCoarseLevelsMatchLevelZero() throws {
        let f = fx, t = f.truth
        let s = try OSlide(f.path)
        // A 48x48 window fully inside stroma (not tumour) and one fully on glass.
        func findWindow(_ want: (Double, Double) -> Bool) -> (Int, Int)? {
            for y in stride(from: 100, to: f.spec.height - 100, by: 37) {
                for x in stride(from: 100, to: f.spec.width - 100, by: 41) {
                    var ok = true
                    for dy in stride(from: 0, through: 48, by: 8) { for dx in stride(from: 0, through: 48, by: 8) where !want(Double(x + dx), Double(y + dy)) { ok = false } }
                    if ok { return (x, y) }
                }
            }
            return nil
        }
        let tissue = try XCTUnwrap(findWindow { t.isTissue(x: $0, y: $1) && !t.isTumour(x: $0, y: $1) })
        let glass = try XCTUnwrap(findWindow { !t.isTissue(x: $0, y: $1) && !t.isPenMark(x: $0, y: $1) })
        let pen = try XCTUnwrap(findWindow { t.isPenMark(x: $0, y: $1) })
        let (tr, tg, tb) = mean(s.read(x: tissue.0, y: tissue.1, level: 0, w: 48, h: 48))
        XCTAssertGreaterThan(tr - tg, 40, "tissue is pink: R well above G (\(tr), \(tg), \(tb))")
        XCTAssertGreaterThan(tb - tg, 15, "tissue is pink: B above G")
        let (gr, gg, gb) = mean(s.read(x: glass.0, y: glass.1, level: 0, w: 48, h: 48))
        for c in [gr, gg, gb] { XCTAssert((232...246).contains(c), "glass is near white: \(gr), \(gg), \(gb)") }
        let (pr, pg, pb) = mean(s.read(x: pen.0, y: pen.1, level: 0, w: 48, h: 48))
        XCTAssertGreaterThan(max(pg, pb) - pr, 50, "pen ink is blue or green: \(pr), \(pg), \(pb)")

        // A 64x64 level-1 window over the tissue edge vs the 4x4 average of level 0.
        let ox = tissue.0 - 128, oy = tissue.1 - 128
        let l1 = s.read(x: ox, y: oy, level: 1, w: 64, h: 64)
        let l0 = s.read(x: ox, y: oy, level: 0, w: 256, h: 256)
        let m1 = mean(l1), m0 = mean(l0)
        XCTAssertEqual(m1.0, m0.0, accuracy: 3); XCTAssertEqual(m1.1, m0.1, accuracy: 3); XCTAssertEqual(m1.2, m0.2, accuracy: 3)
    }

    func testBackgroundSaturationSeparatesTissueLikeCLAM() throws {
        // CLAM's tissue segmentation: HSV saturation (uint8), 7x7 median blur, > 8. At the 4x
        // level the result must agree with the analytic mask (IoU >= 0.95) and glass away
        // from tissue and pen must stay well below 8 even before the blur.
        let f = fx
        let s = try OSlide(f.path)
        let level = 1, d = 4
        let (w, h) = s.dimensions(level)
        let img = s.read(x: 0, y: 0, level: level, w: w, h: h)
        var sat = [Int](repeating: 0, count: w * h)
        for i in 0..<(w * h) { sat[i] = Int(saturation(img.pixels[3 * i], img.pixels[3 * i + 1], img.pixels[3 * i + 2]).rounded()) }
        let clam = medianAbove(sat, w: w, h: h, k: 7, threshold: 8)
        let truth = f.truth.tissueMask(downsample: Double(d))
        XCTAssertEqual(truth.width, w); XCTAssertEqual(truth.height, h)
        // Tissue or pen within 16 px (one 4:2:0 chroma MCU, the reach of JPEG ringing) of each pixel.
        var ink = [Bool](repeating: false, count: w * h)
        for y in 0..<h { for x in 0..<w {
            ink[y * w + x] = truth[x, y] != 0 || f.truth.isPenMark(x: (Double(x) + 0.5) * Double(d), y: (Double(y) + 0.5) * Double(d))
        } }
        let nearInk = boxAny(ink, w: w, h: h, radius: 16)
        // The pen is saturated too (a tiler rejects it by colour, not by saturation): leave its
        // surroundings out of the comparison.
        let pen = try XCTUnwrap(f.truth.layout.pen).bounds
        var inter = 0, uni = 0, glassMax = 0, glassSum = 0, glassCount = 0, worst = (0, 0)
        for y in 0..<h {
            for x in 0..<w {
                let i = y * w + x
                let cx = (Double(x) + 0.5) * Double(d), cy = (Double(y) + 0.5) * Double(d)
                let m = 10.0 * Double(d)
                let nearPen = cx > pen.minX - m && cx < pen.maxX + m && cy > pen.minY - m && cy < pen.maxY + m
                if !nearPen {
                    let tfg = truth.pixels[i] != 0
                    if clam[i] && tfg { inter += 1 }
                    if clam[i] || tfg { uni += 1 }
                }
                if !nearInk[i] { if sat[i] > glassMax { glassMax = sat[i]; worst = (x, y) }; glassSum += sat[i]; glassCount += 1 }
            }
        }
        let iou = Double(inter) / Double(uni)
        XCTAssertGreaterThanOrEqual(iou, 0.95, "CLAM-style saturation mask vs truth IoU")
        XCTAssertGreaterThan(glassCount, w * h / 4)
        XCTAssertLessThanOrEqual(glassMax, 5, "background saturation after JPEG must stay well below 8 (worst at level-1 px \(worst): \(img[worst.0, worst.1]))")
        XCTAssertLessThan(Double(glassSum) / Double(glassCount), 3)
    }
    func testNucleiFromCSVAreDarkHematoxylinDiscs() throws {
        let f = fx
        let s = try OSlide(f.path)
        let csv = try String(contentsOfFile: f.truthDir + "/nuclei.csv", encoding: .utf8)
        var lines = csv.split(separator: "\n")
        XCTAssertEqual(lines.removeFirst(), "x,y,radius_px,in_tumour")
        let rows = lines.map { $0.split(separator: ",").map(String.init) }
        XCTAssertGreaterThan(rows.count, 100)
        var stroma = 0, tumour = 0, checked = 0, darker = 0
        let nuclei = rows.map { (Double($0[0])!, Double($0[1])!, Double($0[2])!, $0[3] == "1") }
        for (x, y, r, inT) in nuclei {
            XCTAssert(f.truth.isTissue(x: x, y: y), "nucleus centre on tissue")
            XCTAssertEqual(f.truth.isTumour(x: x, y: y), inT)
            let um = 2 * r * f.spec.mpp
            XCTAssert((5.5...11).contains(um), "nucleus diameter \(um) µm")
            if inT { tumour += 1 } else { stroma += 1 }
        }
        XCTAssertGreaterThan(stroma, 50); XCTAssertGreaterThan(tumour, 20)
        // Tumour is denser: nuclei per tumour area vs per non-tumour tissue area.
        let tumourArea = f.truth.tumourPolygons.reduce(0.0) { acc, p in
            var a = 0.0
            for i in 0..<p.count { let q = p[(i + 1) % p.count]; a += p[i].x * q.y - q.x * p[i].y }
            return acc + abs(a) / 2
        }
        let tissueArea = f.truth.tissueFraction * Double(f.spec.width * f.spec.height)
        XCTAssertGreaterThan(Double(tumour) / tumourArea, 1.5 * Double(stroma) / (tissueArea - tumourArea))

        // The centre of an isolated nucleus is much darker than the stroma ring around it.
        func lum(_ img: RGBImage, _ x: Int, _ y: Int) -> Double {
            let p = img[x, y]; return 0.299 * Double(p.0) + 0.587 * Double(p.1) + 0.114 * Double(p.2)
        }
        for (x, y, r, inT) in nuclei where !inT && checked < 40 {
            let isolated = !nuclei.contains { n in n.0 != x || n.1 != y ? hypot(n.0 - x, n.1 - y) < 4 * r : false }
            guard isolated else { continue }
            let ring = Int(2.6 * r) + 2
            guard x > Double(ring), y > Double(ring) else { continue }
            let ix = Int(x) - ring, iy = Int(y) - ring
            let img = s.read(x: ix, y: iy, level: 0, w: 2 * ring + 1, h: 2 * ring + 1)
            var centre = 0.0
            for dy in -1...1 { for dx in -1...1 { centre += lum(img, ring + dx, ring + dy) / 9 } }
            var around: [Double] = []
            for k in 0..<32 {
                let a = Double(k) * 2 * Double.pi / 32
                let px = Double(ring) + 2.4 * r * cos(a), py = Double(ring) + 2.4 * r * sin(a)
                guard f.truth.isTissue(x: Double(ix) + px, y: Double(iy) + py) else { continue }
                around.append(lum(img, Int(px), Int(py)))
            }
            guard around.count >= 16 else { continue }
            around.sort()
            checked += 1
            let c = img[ring, ring]
            if around[around.count / 2] - centre > 50 && Int(c.2) > Int(c.1) + 30 { darker += 1 }  // dark and blue-purple
        }
        XCTAssertGreaterThanOrEqual(checked, 10)
        XCTAssertEqual(darker, checked, "every isolated nucleus centre is dark")
    }

    func testLibtiffDecodesTheSameTilesAsOpenSlide() throws {
        let f = fx, ts = f.spec.tileSize
        let s = try OSlide(f.path)
        TIFFMessages.install()
        let tif = try XCTUnwrap(TIFFOpen(f.path, "r"))
        defer { TIFFClose(tif) }
        var compression: UInt16 = 0, photometric: UInt16 = 0, tw: UInt32 = 0, th: UInt32 = 0
        withVaTag(tif, TIFFTAG_COMPRESSION, &compression)
        withVaTag(tif, TIFFTAG_PHOTOMETRIC, &photometric)
        withVaTag(tif, TIFFTAG_TILEWIDTH, &tw)
        withVaTag(tif, TIFFTAG_TILELENGTH, &th)
        XCTAssertEqual(Int32(compression), COMPRESSION_JPEG)
        XCTAssertEqual(Int32(photometric), PHOTOMETRIC_YCBCR)
        XCTAssertEqual(Int(tw), ts); XCTAssertEqual(Int(th), ts)
        XCTAssertNotEqual(TIFFIsTiled(tif), 0)
        XCTAssertEqual(Int(TIFFNumberOfDirectories(tif)), f.truth.levelDownsamples.count)

        var maxDiff = 0, compared = 0
        var raster = [UInt32](repeating: 0, count: ts * ts)
        for (level, d) in f.truth.levelDownsamples.enumerated() {
            XCTAssertEqual(TIFFSetDirectory(tif, tdir_t(level)), 1)
            let (lw, lh) = s.dimensions(level)
            let across = (lw + ts - 1) / ts, down = (lh + ts - 1) / ts
            // every tile of the small levels, a diagonal plus the corners of the big ones
            var tiles: [(Int, Int)] = []
            for r in 0..<down { for c in 0..<across where across * down <= 20 || c == r || (c == across - 1 && r == down - 1) || (c == across / 2 && r == down / 2) { tiles.append((c, r)) } }
            for (c, r) in tiles {
                let ok = raster.withUnsafeMutableBufferPointer { TIFFReadRGBATile(tif, UInt32(c * ts), UInt32(r * ts), $0.baseAddress) }
                XCTAssertEqual(ok, 1, "libtiff decodes level \(level) tile (\(c), \(r)): \(TIFFMessages.takeLast() ?? "")")
                let w = min(ts, lw - c * ts), h = min(ts, lh - r * ts)
                let os = s.read(x: c * ts * d, y: r * ts * d, level: level, w: w, h: h)
                for y in 0..<h {
                    for x in 0..<w {
                        let v = raster[(ts - 1 - y) * ts + x]   // RGBA tiles are bottom-up
                        let p = os[x, y]
                        maxDiff = max(maxDiff, abs(Int(v & 0xFF) - Int(p.0)), abs(Int((v >> 8) & 0xFF) - Int(p.1)), abs(Int((v >> 16) & 0xFF) - Int(p.2)))
                        compared += 1
                    }
                }
            }
        }
        XCTAssertGreaterThan(compared, 200_000)
        XCTAssertLessThanOrEqual(maxDiff, 2, "libtiff and OpenSlide decode the same pixels")
    }

    func testTruthIsConsistentAndTheTruthFilesSayTheSame() throws {
        let f = fx, t = f.truth
        let m16 = t.tissueMask(downsample: 16)
        XCTAssertEqual(m16.width, 250); XCTAssertEqual(m16.height, 188)
        let frac16 = Double(m16.foregroundCount) / Double(m16.width * m16.height)
        XCTAssertEqual(frac16, t.tissueFraction, accuracy: 0.01)
        XCTAssert((0.2...0.45).contains(t.tissueFraction), "tissue fraction \(t.tissueFraction)")
        // pieces: 3 (with a hole in the first): more than one connected blob of tissue
        XCTAssertEqual(t.layout.blobs.count, 3)
        XCTAssertNotNil(t.layout.blobs[0].hole)
        let hole = t.layout.blobs[0].point(u: t.layout.blobs[0].hole!.u, v: t.layout.blobs[0].hole!.v)
        XCTAssertFalse(t.isTissue(x: hole.x, y: hole.y), "the hole is glass")

        // tumours: 1-3 polygons, entirely inside tissue
        XCTAssert((1...3).contains(t.tumourPolygons.count))
        for poly in t.tumourPolygons {
            let b = Box.around(poly)
            var inside = 0
            for y in stride(from: b.minY, through: b.maxY, by: 3) {
                for x in stride(from: b.minX, through: b.maxX, by: 3) where t.isTumour(x: x, y: y) {
                    XCTAssert(t.isTissue(x: x, y: y), "tumour point (\(x), \(y)) is tissue")
                    inside += 1
                }
            }
            XCTAssertGreaterThan(inside, 100)
        }
        // pen: present, on glass; every pen pixel is not tissue and the stroke clears the tissue
        let pen = try XCTUnwrap(t.layout.pen)
        var penPixels = 0
        for y in stride(from: pen.bounds.minY, through: pen.bounds.maxY, by: 2) {
            for x in stride(from: pen.bounds.minX, through: pen.bounds.maxX, by: 2) where pen.contains(x, y) {
                XCTAssertFalse(t.isTissue(x: x, y: y)); XCTAssert(t.isPenMark(x: x, y: y))
                penPixels += 1
            }
        }
        XCTAssertGreaterThan(penPixels, 1000)
        for blob in t.layout.blobs { XCTAssertFalse(blob.bounds.intersects(pen.bounds)) }

        // tissue_mask.png == tissueMask(downsample: recorded)
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: f.truthDir + "/truth.json"))) as! [String: Any]
        let maskInfo = json["tissueMask"] as! [String: Any]
        let md = maskInfo["downsample"] as! Int
        XCTAssertEqual(md, 64)
        XCTAssertEqual(md, t.tissueMaskDownsample)
        let png = try PNGCodec.decodeGray(Data(contentsOf: URL(fileURLWithPath: f.truthDir + "/tissue_mask.png")))
        XCTAssertEqual(png, t.tissueMask(downsample: Double(md)))
        let specJSON = json["spec"] as! [String: Any]
        XCTAssertEqual(specJSON["seed"] as? Int, 7)
        XCTAssertEqual(specJSON["mpp"] as? Double, 0.25)
        XCTAssertEqual((json["scene"] as! [String: Any])["levelDownsamples"] as? [Int], [1, 4, 16, 64])
        // re-deriving from the recorded spec gives the same truth
        let spec2 = try JSONDecoder().decode(SyntheticSlideSpec.self, from: JSONSerialization.data(withJSONObject: specJSON))
        XCTAssertEqual(spec2, f.spec)
        XCTAssertEqual(SlideSynth.truth(for: spec2).tumourPolygons, t.tumourPolygons)
        // a tumour-free slide keeps the seed's tissue but has no tumour anywhere
        var negative = f.spec
        negative.tumour = false
        let n = SlideSynth.truth(for: negative)
        XCTAssertTrue(n.tumourPolygons.isEmpty)
        XCTAssertEqual(n.tissueMask(downsample: 64), t.tissueMask(downsample: 64))
        for poly in t.tumourPolygons { for p in poly { XCTAssertFalse(n.isTumour(x: p.x, y: p.y)) } }
        // a partial JSON spec takes the defaults for what it leaves out
        let partial = try JSONDecoder().decode(SyntheticSlideSpec.self, from: Data(#"{"width": 5000, "height": 4000, "seed": 9}"#.utf8))
        var expected = SyntheticSlideSpec(width: 5000, height: 4000)
        expected.seed = 9
        XCTAssertEqual(partial, expected)

        // tumour.geojson: FeatureCollection of closed Polygon annotations matching the truth
        let geo = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: f.truthDir + "/tumour.geojson"))) as! [String: Any]
        XCTAssertEqual(geo["type"] as? String, "FeatureCollection")
        let features = geo["features"] as! [[String: Any]]
        XCTAssertEqual(features.count, t.tumourPolygons.count)
        for (k, feat) in features.enumerated() {
            XCTAssertEqual((feat["properties"] as! [String: Any])["objectType"] as? String, "annotation")
            let geom = feat["geometry"] as! [String: Any]
            XCTAssertEqual(geom["type"] as? String, "Polygon")
            let ring = (geom["coordinates"] as! [[[Double]]])[0]
            XCTAssertEqual(ring.first, ring.last)
            XCTAssertEqual(ring.count, t.tumourPolygons[k].count + 1)
            for (a, b) in zip(ring, t.tumourPolygons[k]) {
                XCTAssertEqual(a[0], b.x, accuracy: 0.01); XCTAssertEqual(a[1], b.y, accuracy: 0.01)
            }
        }
    }

    func testSameSeedSameBytesOtherSeedOtherBytes() throws {
        let dir = NSTemporaryDirectory() + "slidesynth-det-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var spec = SyntheticSlideSpec(width: 1200, height: 900)
        spec.tileSize = 128
        spec.seed = 42
        try SlideSynth.write(spec, to: dir + "/a.svs", truthDirectory: dir + "/ta")
        try SlideSynth.write(spec, to: dir + "/b.svs", truthDirectory: dir + "/tb")
        spec.seed = 43
        try SlideSynth.write(spec, to: dir + "/c.svs", truthDirectory: nil)
        let a = try Data(contentsOf: URL(fileURLWithPath: dir + "/a.svs"))
        let b = try Data(contentsOf: URL(fileURLWithPath: dir + "/b.svs"))
        let c = try Data(contentsOf: URL(fileURLWithPath: dir + "/c.svs"))
        XCTAssertGreaterThan(a.count, 10_000)
        XCTAssertEqual(a, b, "same spec and seed give identical bytes")
        XCTAssertNotEqual(a, c, "another seed gives another slide")
        for name in ["truth.json", "nuclei.csv", "tumour.geojson", "tissue_mask.png"] {
            XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: dir + "/ta/" + name)),
                           try Data(contentsOf: URL(fileURLWithPath: dir + "/tb/" + name)), name)
        }
        let names = try FileManager.default.contentsOfDirectory(atPath: dir)
        XCTAssertEqual(names.filter { $0.hasPrefix(".") }, [], "no temporary files left behind")
    }

    func testUnwritableDestinationThrowsNamingThePathAndLeavesNoTempFile() throws {
        let dir = NSTemporaryDirectory() + "slidesynth-atomic-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // A regular file where a folder should be: the folder cannot be created (even as root).
        _ = FileManager.default.createFile(atPath: dir + "/blocker", contents: Data("x".utf8))
        let target = dir + "/blocker/sub/slide.svs"
        let spec = SyntheticSlideSpec(width: 600, height: 400)
        XCTAssertThrowsError(try SlideSynth.write(spec, to: target, truthDirectory: nil)) { error in
            XCTAssert("\(error)".contains(target), "error names the path: \(error)")
        }
        // Truth folder that cannot be created: the slide is written, the error names the truth file.
        XCTAssertThrowsError(try SlideSynth.write(spec, to: dir + "/ok.svs", truthDirectory: dir + "/blocker/truth")) { error in
            XCTAssert("\(error)".contains(dir + "/blocker/truth"), "error names the truth path: \(error)")
        }
        // An invalid spec fails before anything is written.
        var bad = spec
        bad.tileSize = 100
        XCTAssertThrowsError(try SlideSynth.write(bad, to: dir + "/bad.svs", truthDirectory: nil)) { error in
            XCTAssert("\(error)".contains("tileSize"), "\(error)")
        }
        let names = try FileManager.default.contentsOfDirectory(atPath: dir).sorted()
        XCTAssertEqual(names, ["blocker", "ok.svs"], "only complete files, no temporary files")
    }

    func testOtherScalesTinySlidesAndEmptyGlass() throws {
        let dir = NSTemporaryDirectory() + "slidesynth-small-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // 20x scan, one piece, no pen, tiles larger than some levels
        var a = SyntheticSlideSpec(width: 2100, height: 1500)
        a.mpp = 0.5; a.magnification = 20; a.tissueRegions = 1; a.penMark = false; a.tileSize = 512; a.seed = 3
        let ta = try SlideSynth.write(a, to: dir + "/a.svs", truthDirectory: dir + "/ta")
        let sa = try OSlide(dir + "/a.svs")
        XCTAssertEqual(Double(sa.property("openslide.mpp-x") ?? ""), 0.5)
        XCTAssertEqual(sa.property("openslide.objective-power"), "20")
        XCTAssertEqual(sa.levelCount, ta.levelDownsamples.count)
        XCTAssertNil(ta.layout.pen)
        XCTAssertEqual(ta.tumourPolygons.count, 1)
        // nuclei scale with mpp: 6-11 µm diameters are 12-22 px at 0.5 µm/px
        let csv = try String(contentsOfFile: dir + "/ta/nuclei.csv", encoding: .utf8).split(separator: "\n").dropFirst()
        XCTAssertGreaterThan(csv.count, 50)
        for line in csv { let r = Double(line.split(separator: ",")[2])!; XCTAssert((5.5...11).contains(2 * r * 0.5), "\(r)") }
        // No tissue at all: every tile is the glass tile, the truth is empty.
        var b = SyntheticSlideSpec(width: 700, height: 300)
        b.tissueRegions = 0; b.penMark = false; b.writeNucleiTruth = false
        let tb = try SlideSynth.write(b, to: dir + "/b.svs", truthDirectory: dir + "/tb")
        XCTAssertEqual(tb.tissueFraction, 0)
        XCTAssertEqual(tb.tissueMask(downsample: 8).foregroundCount, 0)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/tb/nuclei.csv"))
        let sb = try OSlide(dir + "/b.svs")
        let (r, g, bl) = mean(sb.read(x: 0, y: 0, level: 0, w: 700, h: 300))
        for c in [r, g, bl] { XCTAssertEqual(c, 238.5, accuracy: 3) }
    }

    func testTinyAndLargePyramidPlans() {
        XCTAssertEqual(SlideSynth.truth(for: SyntheticSlideSpec(width: 100_000, height: 80_000)).levelDownsamples, [1, 4, 16, 64, 256])
        XCTAssertEqual(SlideSynth.truth(for: SyntheticSlideSpec(width: 20_000, height: 16_000)).levelDownsamples, [1, 4, 16, 64])
        let big = SlideSynth.truth(for: SyntheticSlideSpec(width: 400_000, height: 300_000))
        XCTAssertEqual(big.levelDownsamples, [1, 4, 16, 64, 256, 1024])
        XCTAssertEqual(big.tissueMaskDownsample, 128)
        // tissue fraction stays in range across seeds and region counts
        for seed in 1...12 as ClosedRange<UInt64> {
            var s = SyntheticSlideSpec(width: 30_000, height: 20_000)
            s.seed = seed
            s.tissueRegions = Int(seed % 5) + 1
            s.penMark = seed % 2 == 0
            let f = SlideSynth.truth(for: s).tissueFraction
            XCTAssert((0.2...0.45).contains(f), "seed \(seed): tissue fraction \(f)")
        }
    }
}
