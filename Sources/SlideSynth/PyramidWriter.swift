import CTIFF
import Dispatch
import Foundation
import ImageCore

/// Streams the pyramid into a tiled, JPEG-compressed (Photometric YCbCr) TIFF
/// laid out like an Aperio SVS: directory 0 is level 0 with an "Aperio ..." description
/// carrying MPP and AppMag, the further tiled directories are the reduced levels.
///
/// Each tile is a complete JPEG stream from TurboJPEG written with TIFFWriteRawTile (no
/// shared JPEGTables). OpenSlide 3.4.1 decodes such tiles itself with libjpeg (it reads
/// the raw tile and sets the colour space from the Photometric tag), and libtiff's JPEG
/// codec accepts them too (both checked by the tests), so libtiff's own encoder is not
/// needed. Tiles are rendered and encoded one tile row at a time on all cores and
/// written in order, so memory stays at one row of JPEG tiles plus one scratch
/// renderer per core.
enum PyramidWriter {
    static func write(layout: SlideLayout, spec: SyntheticSlideSpec, tempPath: String, finalPath: String,
                      progress: ((Double) -> Void)?, progressScale: Double) throws {
        TIFFMessages.install()
        _ = TIFFMessages.takeLast()
        let ts = spec.tileSize
        let levels = layout.levelDownsamples
        let sizes = levels.map { SyntheticTruth.levelSize(spec, $0) }
        let grids = sizes.map { (($0.0 + ts - 1) / ts, ($0.1 + ts - 1) / ts) }
        let totalTiles = grids.reduce(0) { $0 + $1.0 * $1.1 }

        // Classic TIFF offsets are 32-bit: use BigTIFF when the file could pass ~3.5 GB.
        let bytesPerPixel = spec.jpegQuality > 90 ? 1.5 : 0.75
        let pixels = sizes.reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        let big = pixels * bytesPerPixel > 3.5e9
        guard let tif = TIFFOpen(tempPath, big ? "w8" : "w") else {
            throw SlideSynthError(path: finalPath, reason: "cannot create the TIFF (\(TIFFMessages.takeLast() ?? "libtiff error")); check the folder is writable")
        }
        var closed = false
        defer { if !closed { TIFFClose(tif) } }

        func fail(_ what: String) -> SlideSynthError {
            SlideSynthError(path: finalPath, reason: "\(what) (\(TIFFMessages.takeLast() ?? "libtiff error")); check free disk space and that the folder is writable")
        }

        let pool = WorkerPool(layout: layout, tileSize: ts)
        var tilesDone = 0

        for (li, d) in levels.enumerated() {
            let (lw, lh) = sizes[li]
            let (across, down) = grids[li]
            let (quality, chroma) = encoding(spec, downsample: d)
            try setTags(tif, spec: spec, levelWidth: lw, levelHeight: lh, downsample: d, level: li,
                         chroma: chroma, path: finalPath)

            // One pre-encoded glass tile for every all-glass tile of this level.
            let glass: Data = try {
                let w = pool.take(); defer { pool.put(w) }
                w.renderer.render(downsample: d, col: 0, row: 0, glassOnly: true)
                return try w.codec.encode(rgb: w.renderer.output, width: ts, height: ts, quality: quality, subsampling: chroma)
            }()

            let results = UnsafeMutableBufferPointer<Data>.allocate(capacity: across)
            results.initialize(repeating: Data())
            let failures = UnsafeMutableBufferPointer<String?>.allocate(capacity: across)
            failures.initialize(repeating: nil)
            defer {
                results.deinitialize(); results.deallocate()
                failures.deinitialize(); failures.deallocate()
            }
            let span = Double(ts * d)
            for row in 0..<down {
                DispatchQueue.concurrentPerform(iterations: across) { col in
                    let box = Box(minX: Double(col) * span, minY: Double(row) * span,
                                  maxX: Double(col + 1) * span, maxY: Double(row + 1) * span)
                    if !layout.touchesContent(box) {
                        results[col] = glass
                        return
                    }
                    let w = pool.take(); defer { pool.put(w) }
                    w.renderer.render(downsample: d, col: col, row: row)
                    do {
                        results[col] = try w.codec.encode(rgb: w.renderer.output, width: ts, height: ts,
                                                          quality: quality, subsampling: chroma)
                    } catch {
                        failures[col] = "\(error)"
                    }
                }
                for col in 0..<across {
                    if let f = failures[col] {
                        throw SlideSynthError(path: finalPath, reason: "JPEG encoding of level \(li) tile (\(col), \(row)) failed: \(f)")
                    }
                    let tile = UInt32(row * across + col)
                    let written = results[col].withUnsafeBytes { raw in
                        TIFFWriteRawTile(tif, tile, UnsafeMutableRawPointer(mutating: raw.baseAddress!), tmsize_t(raw.count))
                    }
                    guard written == raw(results[col].count) else { throw fail("writing level \(li) tile (\(col), \(row)) failed") }
                    results[col] = Data()
                }
                tilesDone += across
                progress?(progressScale * Double(tilesDone) / Double(totalTiles))
            }
            guard TIFFWriteDirectory(tif) != 0 else { throw fail("writing the TIFF directory of level \(li) failed") }
        }
        closed = true
        TIFFClose(tif)
        if let err = TIFFMessages.takeLast() {
            throw SlideSynthError(path: finalPath, reason: "libtiff reported an error while finishing the file: \(err)")
        }
    }

    private static func raw(_ n: Int) -> tmsize_t { tmsize_t(n) }

    /// JPEG quality and chroma subsampling of the level at `d`. Levels 0 and 1 use the
    /// spec's quality with 4:2:0, as scanners do. At 16x and coarser a tissue edge is one
    /// pixel wide and 4:2:0 chroma at ordinary qualities rings up to 16 px into the glass,
    /// lifting its HSV saturation above CLAM's threshold of 8 around every piece of tissue;
    /// these levels are under 1 % of the file, so they get quality >= 95 and 4:4:4.
    static func encoding(_ spec: SyntheticSlideSpec, downsample d: Int) -> (Int, JPEGCodec.Subsampling) {
        d >= 16 ? (max(spec.jpegQuality, 95), .s444) : (spec.jpegQuality, .s420)
    }

    private static func setTags(_ tif: OpaquePointer, spec: SyntheticSlideSpec, levelWidth: Int, levelHeight: Int,
                                downsample: Int, level: Int, chroma: JPEGCodec.Subsampling, path: String) throws {
        var ok = true
        func set(_ tag: Int32, _ args: CVarArg...) {
            let r = withVaList(args) { TIFFVSetField(tif, UInt32(tag), $0) }
            if r == 0 { ok = false }
        }
        set(TIFFTAG_SUBFILETYPE, UInt32(level == 0 ? 0 : UInt32(FILETYPE_REDUCEDIMAGE)))
        set(TIFFTAG_IMAGEWIDTH, UInt32(levelWidth))
        set(TIFFTAG_IMAGELENGTH, UInt32(levelHeight))
        set(TIFFTAG_BITSPERSAMPLE, Int32(8))
        set(TIFFTAG_SAMPLESPERPIXEL, Int32(3))
        set(TIFFTAG_PLANARCONFIG, Int32(PLANARCONFIG_CONTIG))
        set(TIFFTAG_COMPRESSION, Int32(COMPRESSION_JPEG))
        set(TIFFTAG_PHOTOMETRIC, Int32(PHOTOMETRIC_YCBCR))
        let sub: Int32 = chroma == .s420 ? 2 : (chroma == .s422 ? 2 : 1)
        set(TIFFTAG_YCBCRSUBSAMPLING, sub, chroma == .s420 ? Int32(2) : Int32(1))
        set(TIFFTAG_TILEWIDTH, UInt32(spec.tileSize))
        set(TIFFTAG_TILELENGTH, UInt32(spec.tileSize))
        set(TIFFTAG_RESOLUTIONUNIT, Int32(RESUNIT_CENTIMETER))
        let pxPerCm = 10_000 / (spec.mpp * Double(downsample))
        set(TIFFTAG_XRESOLUTION, pxPerCm)
        set(TIFFTAG_YRESOLUTION, pxPerCm)
        "RadioPath SlideSynth".withCString { set(TIFFTAG_SOFTWARE, $0) }
        aperioDescription(spec, levelWidth: levelWidth, levelHeight: levelHeight, level: level).withCString {
            set(TIFFTAG_IMAGEDESCRIPTION, $0)
        }
        guard ok else {
            throw SlideSynthError(path: path, reason: "libtiff refused a tag of level \(level) (\(TIFFMessages.takeLast() ?? "unknown")); this is a bug in SlideSynth")
        }
    }

    /// OpenSlide detects Aperio by the "Aperio" prefix of directory 0's description and
    /// reads the `|key = value` pairs after the first `|` as `aperio.*` properties
    /// (MPP -> openslide.mpp-x/y, AppMag -> openslide.objective-power).
    static func aperioDescription(_ spec: SyntheticSlideSpec, levelWidth: Int, levelHeight: Int, level: Int) -> String {
        let head = "Aperio Image Library v12.0.15 (RadioPath SlideSynth)\r\n"
        if level > 0 {
            return head + "\(spec.width)x\(spec.height) -> \(levelWidth)x\(levelHeight) - "
        }
        let mag = spec.magnification == spec.magnification.rounded() ? String(Int(spec.magnification)) : String(spec.magnification)
        return head + "\(spec.width)x\(spec.height) [0,0 \(spec.width)x\(spec.height)] (\(spec.tileSize)x\(spec.tileSize)) JPEG/RGB Q=\(spec.jpegQuality)"
            + "|MPP = \(spec.mpp)|AppMag = \(mag)|ScanScope ID = SLIDESYNTH|Filename = synthetic-\(spec.seed)"
            + "|Title = SlideSynth synthetic slide, seed \(spec.seed)"
    }
}

/// Per-core scratch: a renderer and a JPEG codec, handed out to concurrentPerform iterations.
final class WorkerPool: @unchecked Sendable {
    final class Worker {
        let renderer: TileRenderer
        let codec = JPEGCodec()
        init(renderer: TileRenderer) { self.renderer = renderer }
    }
    private let lock = NSLock()
    private var free: [Worker] = []
    private let layout: SlideLayout
    private let tileSize: Int

    init(layout: SlideLayout, tileSize: Int) {
        self.layout = layout
        self.tileSize = tileSize
    }

    func take() -> Worker {
        lock.lock(); defer { lock.unlock() }
        if let w = free.popLast() { return w }
        return Worker(renderer: TileRenderer(layout: layout, tileSize: tileSize))
    }

    func put(_ w: Worker) {
        lock.lock(); free.append(w); lock.unlock()
    }
}
