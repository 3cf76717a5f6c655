import CTIFF
import Dispatch
import Foundation
import ImageCore

/// One directory of a tiled, JPEG-compressed TIFF pyramid.
public struct TiledTIFFLevel: Sendable {
    public var width: Int, height: Int
    /// Square tile edge, a multiple of 16.
    public var tileSize: Int
    /// Chroma subsampling of every tile of this level (written as YCbCrSubsampling, so
    /// the tiles must be encoded with it); ignored for `photometricRGB` levels.
    public var subsampling: JPEGCodec.Subsampling
    /// Photometric RGB instead of YCbCr: the tiles' three JPEG components are R, G, B with
    /// no colour transform (as in Aperio's RGB-coded SVS levels).
    public var photometricRGB: Bool
    /// Pixels per centimetre (XResolution/YResolution, unit cm).
    public var pixelsPerCentimetre: Double
    /// ImageDescription (an "Aperio ..." text makes OpenSlide read the file as Aperio).
    public var description: String

    public init(width: Int, height: Int, tileSize: Int, subsampling: JPEGCodec.Subsampling, photometricRGB: Bool = false,
                pixelsPerCentimetre: Double, description: String) {
        self.width = width; self.height = height; self.tileSize = tileSize; self.subsampling = subsampling
        self.photometricRGB = photometricRGB; self.pixelsPerCentimetre = pixelsPerCentimetre; self.description = description
    }

    public var tilesAcross: Int { (width + tileSize - 1) / tileSize }
    public var tilesDown: Int { (height + tileSize - 1) / tileSize }
}

/// Streams a tiled JPEG TIFF pyramid to disk tile by tile with bounded memory: directory 0
/// is the first level, the others are written as reduced-resolution images.
///
/// Each tile is a complete JPEG stream (no shared JPEGTables) written with
/// TIFFWriteRawTile; OpenSlide 3.4.1 and libtiff's JPEG codec both read such tiles. The
/// caller makes the tiles: `tile(level, col, row, worker)` returns the tile's JPEG bytes
/// (edge tiles are full tiles; the part outside the image is ignored by readers). It runs
/// concurrently on all cores for one tile row at a time, and the row is written in
/// order, so memory is one row of encoded tiles plus one `Worker` per core, and the file's
/// bytes do not depend on scheduling.
public enum TiledTIFFWriter {
    /// Per-thread scratch for the tile callback: an RGB tile buffer, a JPEG encoder and a
    /// slot for the caller's own per-thread state (decoders, renderers, file handles).
    public final class Worker {
        /// `tileSize² × 3` bytes for the largest tile of the pyramid.
        public let rgb: UnsafeMutablePointer<UInt8>
        public let codec = JPEGCodec()
        public var state: AnyObject?
        init(capacity: Int) { rgb = .allocate(capacity: capacity) }
        deinit { rgb.deallocate() }
    }

    /// Writes `levels` to `path` (which is created or overwritten; use AtomicFile for
    /// atomicity). `bigTIFF` selects 64-bit offsets (needed past ~4 GB). `progress`
    /// receives (tiles done, tiles in all) after each tile row. Errors thrown by `tile`
    /// are rethrown unchanged; libtiff failures are `ImageCodecError`s naming `path`.
    public static func write(to path: String, levels: [TiledTIFFLevel], bigTIFF: Bool, software: String,
                             progress: ((Int, Int) -> Void)? = nil,
                             tile: (_ level: Int, _ col: Int, _ row: Int, _ worker: Worker) throws -> Data) throws {
        TIFFMessages.install()
        _ = TIFFMessages.takeLast()
        func fail(_ what: String) -> ImageCodecError {
            ImageCodecError(path: path, reason: "\(what) (\(TIFFMessages.takeLast() ?? "libtiff error")); check free disk space and that the folder is writable")
        }
        for (i, l) in levels.enumerated() where l.width < 1 || l.height < 1 || l.tileSize < 16 || l.tileSize % 16 != 0 {
            throw ImageCodecError(path: path, reason: "level \(i) is \(l.width)x\(l.height) with tile \(l.tileSize); sizes must be positive and tiles a multiple of 16")
        }
        guard let tif = TIFFOpen(path, bigTIFF ? "w8" : "w") else {
            throw ImageCodecError(path: path, reason: "cannot create the TIFF (\(TIFFMessages.takeLast() ?? "libtiff error")); check the folder is writable")
        }
        var closed = false
        defer { if !closed { TIFFClose(tif) } }

        let capacity = (levels.map(\.tileSize).max() ?? 16).squared * 3
        let pool = Pool { Worker(capacity: capacity) }
        let totalTiles = levels.reduce(0) { $0 + $1.tilesAcross * $1.tilesDown }
        var tilesDone = 0

        for (li, level) in levels.enumerated() {
            try setTags(tif, level, index: li, software: software, path: path)
            let across = level.tilesAcross
            let results = UnsafeMutableBufferPointer<Data>.allocate(capacity: across)
            results.initialize(repeating: Data())
            let failures = UnsafeMutableBufferPointer<Error?>.allocate(capacity: across)
            failures.initialize(repeating: nil)
            defer {
                results.deinitialize(); results.deallocate()
                failures.deinitialize(); failures.deallocate()
            }
            for row in 0..<level.tilesDown {
                DispatchQueue.concurrentPerform(iterations: across) { col in
                    let w = pool.take(); defer { pool.put(w) }
                    do { results[col] = try tile(li, col, row, w) } catch { failures[col] = error }
                }
                for col in 0..<across {
                    if let f = failures[col] { throw f }
                    let index = UInt32(row * across + col)
                    let n = results[col].count
                    guard n > 0 else { throw ImageCodecError(path: path, reason: "level \(li) tile (\(col), \(row)) is empty; this is a bug in the tile source") }
                    let written = results[col].withUnsafeBytes { raw in
                        TIFFWriteRawTile(tif, index, UnsafeMutableRawPointer(mutating: raw.baseAddress!), tmsize_t(n))
                    }
                    guard written == tmsize_t(n) else { throw fail("writing level \(li) tile (\(col), \(row)) failed") }
                    results[col] = Data()
                }
                tilesDone += across
                progress?(tilesDone, totalTiles)
            }
            guard TIFFWriteDirectory(tif) != 0 else { throw fail("writing the TIFF directory of level \(li) failed") }
        }
        closed = true
        TIFFClose(tif)
        if let err = TIFFMessages.takeLast() {
            throw ImageCodecError(path: path, reason: "libtiff reported an error while finishing the file: \(err)")
        }
    }

    private static func setTags(_ tif: OpaquePointer, _ l: TiledTIFFLevel, index: Int, software: String, path: String) throws {
        var ok = true
        func set(_ tag: Int32, _ args: CVarArg...) {
            let r = withVaList(args) { TIFFVSetField(tif, UInt32(tag), $0) }
            if r == 0 { ok = false }
        }
        set(TIFFTAG_SUBFILETYPE, UInt32(index == 0 ? 0 : UInt32(FILETYPE_REDUCEDIMAGE)))
        set(TIFFTAG_IMAGEWIDTH, UInt32(l.width))
        set(TIFFTAG_IMAGELENGTH, UInt32(l.height))
        set(TIFFTAG_BITSPERSAMPLE, Int32(8))
        set(TIFFTAG_SAMPLESPERPIXEL, Int32(3))
        set(TIFFTAG_PLANARCONFIG, Int32(PLANARCONFIG_CONTIG))
        set(TIFFTAG_COMPRESSION, Int32(COMPRESSION_JPEG))
        if l.photometricRGB {
            set(TIFFTAG_PHOTOMETRIC, Int32(PHOTOMETRIC_RGB))
        } else {
            set(TIFFTAG_PHOTOMETRIC, Int32(PHOTOMETRIC_YCBCR))
            let horizontal: Int32 = l.subsampling == .s444 ? 1 : 2
            set(TIFFTAG_YCBCRSUBSAMPLING, horizontal, l.subsampling == .s420 ? Int32(2) : Int32(1))
        }
        set(TIFFTAG_TILEWIDTH, UInt32(l.tileSize))
        set(TIFFTAG_TILELENGTH, UInt32(l.tileSize))
        set(TIFFTAG_RESOLUTIONUNIT, Int32(RESUNIT_CENTIMETER))
        set(TIFFTAG_XRESOLUTION, l.pixelsPerCentimetre)
        set(TIFFTAG_YRESOLUTION, l.pixelsPerCentimetre)
        software.withCString { set(TIFFTAG_SOFTWARE, $0) }
        l.description.withCString { set(TIFFTAG_IMAGEDESCRIPTION, $0) }
        guard ok else {
            throw ImageCodecError(path: path, reason: "libtiff refused a tag of level \(index) (\(TIFFMessages.takeLast() ?? "unknown")); this is a bug in the writer")
        }
    }

    /// Hands out per-thread workers; grows to the number of threads that ask at once.
    private final class Pool: @unchecked Sendable {
        private let lock = NSLock()
        private var free: [Worker] = []
        private let make: () -> Worker
        init(_ make: @escaping () -> Worker) { self.make = make }
        func take() -> Worker {
            lock.lock(); defer { lock.unlock() }
            return free.popLast() ?? make()
        }
        func put(_ w: Worker) { lock.lock(); free.append(w); lock.unlock() }
    }
}

private extension Int {
    var squared: Int { self * self }
}
