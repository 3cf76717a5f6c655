import CTIFF
import Foundation
import ImageCore
@testable import SlideIO
import TestSupport
import XCTest

/// Test data, the Python peer and scratch folders come from the shared TestSupport target.
enum Env {
    static func testdata() throws -> URL { URL(fileURLWithPath: try TestEnv.testdata("slides")).deletingLastPathComponent() }

    static func slide(_ name: String) throws -> String { try TestEnv.testdata("slides/" + name) }

    static func python() throws -> String { try TestEnv.python() }

    /// Runs `script` with the venv Python; returns stdout. Fails the test on a non-zero exit.
    static func runPython(_ script: String, _ args: [String]) throws -> Data { try TestEnv.runPython(script, args) }

    static func tempDir() throws -> URL {
        let u = FileManager.default.temporaryDirectory.appendingPathComponent("slideio-tests-\(getpid())-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: u, withIntermediateDirectories: true)
        return u
    }
}

/// Python: read regions with openslide-python, composite its (un-premultiplied) RGBA over
/// white the documented way, write RGB bytes of all regions to stdout.
let pyReadRegions = """
import sys, numpy as np, openslide
s = openslide.OpenSlide(sys.argv[1])
for spec in sys.argv[2:]:
    x, y, l, w, h = map(int, spec.split(','))
    a = np.asarray(s.read_region((x, y), l, (w, h))).astype(np.float64)
    rgb, al = a[..., :3], a[..., 3:4]
    over = np.clip(np.rint(rgb * al / 255.0 + 255.0 - al), 0, 255)
    comp = np.where(al == 255, rgb, np.where(al == 0, 255.0, over))
    sys.stdout.buffer.write(comp.astype(np.uint8).tobytes())
"""

/// Python: box average of the whole level-0 read at integer downsample d: numpy
/// reshape-mean over the full blocks, plain means over the clipped edge blocks.
let pyDownsample = """
import sys, numpy as np, openslide
s = openslide.OpenSlide(sys.argv[1]); d = int(sys.argv[2])
W, H = s.dimensions
a = np.asarray(s.read_region((0, 0), 0, (W, H))).astype(np.float64)
rgb, al = a[..., :3], a[..., 3:4]
a = np.where(al == 255, rgb, np.where(al == 0, 255.0, rgb * al / 255.0 + 255.0 - al))
ow, oh = int(np.floor(W / d + 0.5)), int(np.floor(H / d + 0.5))
iw, ih = min(ow, W // d), min(oh, H // d)
out = np.zeros((oh, ow, 3))
out[:ih, :iw] = a[:ih * d, :iw * d].reshape(ih, d, iw, d, 3).mean(axis=(1, 3))
for j in range(oh):
    for i in range(ow):
        if j < ih and i < iw:
            continue
        out[j, i] = a[j * d:min((j + 1) * d, H), i * d:min((i + 1) * d, W)].reshape(-1, 3).mean(axis=0)
sys.stdout.write('%d %d\\n' % (ow, oh))
sys.stdout.flush()
sys.stdout.buffer.write(np.rint(out).astype(np.uint8).tobytes())
"""

/// Writes an 8-bit RGB TIFF with libtiff (stripped or tiled, any resolution tags), so the
/// tests control exactly what the file says.
struct TIFFWriter {
    var width = 48, height = 40
    var tile: Int? = nil
    var xResolution: Double? = nil, yResolution: Double? = nil
    var resolutionUnit: Int? = nil
    var description: String? = nil
    var compression = Int(COMPRESSION_ADOBE_DEFLATE)

    /// Deterministic, non-trivial pixels: (x*5+y, y*3, (x^y)*7) mod 256.
    func pixel(_ x: Int, _ y: Int) -> (UInt8, UInt8, UInt8) {
        (UInt8((x * 5 + y) & 0xFF), UInt8((y * 3) & 0xFF), UInt8(((x ^ y) * 7) & 0xFF))
    }

    var image: RGBImage {
        var img = RGBImage(width: width, height: height)
        for y in 0..<height { for x in 0..<width { img[x, y] = pixel(x, y) } }
        return img
    }

    func write(to path: String) throws {
        guard let tif = TIFFOpen(path, "w") else { throw NSError(domain: "tiff", code: 1) }
        defer { TIFFClose(tif) }
        func set(_ tag: Int32, _ args: CVarArg...) {
            _ = withVaList(args) { TIFFVSetField(tif, UInt32(tag), $0) }
        }
        set(TIFFTAG_IMAGEWIDTH, UInt32(width))
        set(TIFFTAG_IMAGELENGTH, UInt32(height))
        set(TIFFTAG_BITSPERSAMPLE, Int32(8))
        set(TIFFTAG_SAMPLESPERPIXEL, Int32(3))
        set(TIFFTAG_PHOTOMETRIC, Int32(PHOTOMETRIC_RGB))
        set(TIFFTAG_PLANARCONFIG, Int32(PLANARCONFIG_CONTIG))
        set(TIFFTAG_COMPRESSION, Int32(compression))
        if let d = description { d.withCString { set(TIFFTAG_IMAGEDESCRIPTION, $0) } }
        if let x = xResolution { set(TIFFTAG_XRESOLUTION, x) }
        if let y = yResolution ?? xResolution { if xResolution != nil || yResolution != nil { set(TIFFTAG_YRESOLUTION, y) } }
        if let u = resolutionUnit { set(TIFFTAG_RESOLUTIONUNIT, Int32(u)) }
        let img = image
        if let t = tile {
            set(TIFFTAG_TILEWIDTH, UInt32(t))
            set(TIFFTAG_TILELENGTH, UInt32(t))
            var buf = [UInt8](repeating: 0, count: t * t * 3)
            for ty in stride(from: 0, to: height, by: t) {
                for tx in stride(from: 0, to: width, by: t) {
                    for i in 0..<buf.count { buf[i] = 0 }
                    for y in ty..<min(height, ty + t) {
                        for x in tx..<min(width, tx + t) {
                            let p = img[x, y]
                            let o = ((y - ty) * t + (x - tx)) * 3
                            buf[o] = p.0; buf[o + 1] = p.1; buf[o + 2] = p.2
                        }
                    }
                    let n = buf.withUnsafeMutableBytes { TIFFWriteTile(tif, $0.baseAddress, UInt32(tx), UInt32(ty), 0, 0) }
                    guard n >= 0 else { throw NSError(domain: "tiff", code: 2) }
                }
            }
        } else {
            set(TIFFTAG_ROWSPERSTRIP, UInt32(height))
            var px = img.pixels
            let n = px.withUnsafeMutableBytes { TIFFWriteEncodedStrip(tif, 0, $0.baseAddress, tmsize_t($0.count)) }
            guard n >= 0 else { throw NSError(domain: "tiff", code: 3) }
        }
    }
}

/// Runs `body`, expects a SlideError of `kind`, returns it for further checks.
@discardableResult
func expectSlideError<T>(_ kind: SlideError.Kind, file: StaticString = #filePath, line: UInt = #line,
                         _ body: () throws -> T) -> SlideError? {
    do {
        _ = try body()
        XCTFail("expected a SlideError of kind \(kind), got a result", file: file, line: line)
    } catch let e as SlideError {
        XCTAssertEqual(e.kind, kind, "\(e)", file: file, line: line)
        return e
    } catch {
        XCTFail("expected a SlideError, got \(error)", file: file, line: line)
    }
    return nil
}
