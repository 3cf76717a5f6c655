import CTIFF
import Dispatch
import Foundation
import ImageCore

/// Streams the pyramid into a tiled, JPEG-compressed (Photometric YCbCr) TIFF
/// laid out like an Aperio SVS: directory 0 is level 0 with an "Aperio ..." description
/// carrying MPP and AppMag, the further tiled directories are the reduced levels.
///
/// Tiles are complete JPEG streams from TurboJPEG written by `TiledTIFFWriter` (no shared
/// JPEGTables). OpenSlide 3.4.1 decodes such tiles itself with libjpeg (it reads the raw
/// tile and sets the colour space from the Photometric tag), and libtiff's JPEG codec
/// accepts them too (both checked by the tests). Tiles are rendered and encoded one tile
/// row at a time on all cores and written in order, so memory stays at one row of JPEG
/// tiles plus one scratch renderer per core.
enum PyramidWriter {
    static func write(layout: SlideLayout, spec: SyntheticSlideSpec, tempPath: String, finalPath: String,
                      progress: ((Double) -> Void)?, progressScale: Double) throws {
        let ts = spec.tileSize
        let downsamples = layout.levelDownsamples
        let levels = downsamples.enumerated().map { li, d -> TiledTIFFLevel in
            let (lw, lh) = SyntheticTruth.levelSize(spec, d)
            return TiledTIFFLevel(width: lw, height: lh, tileSize: ts, subsampling: encoding(spec, downsample: d).1,
                                  pixelsPerCentimetre: 10_000 / (spec.mpp * Double(d)),
                                  description: aperioDescription(spec, levelWidth: lw, levelHeight: lh, level: li))
        }

        // Classic TIFF offsets are 32-bit: use BigTIFF when the file could pass ~3.5 GB.
        let bytesPerPixel = spec.jpegQuality > 90 ? 1.5 : 0.75
        let pixels = levels.reduce(0.0) { $0 + Double($1.width) * Double($1.height) }
        let big = pixels * bytesPerPixel > 3.5e9

        func renderer(_ w: TiledTIFFWriter.Worker) -> TileRenderer {
            if let r = w.state as? TileRenderer { return r }
            let r = TileRenderer(layout: layout, tileSize: ts)
            w.state = r
            return r
        }
        // One pre-encoded glass tile per level for every all-glass tile of it.
        let scratch = TileRenderer(layout: layout, tileSize: ts)
        let codec = JPEGCodec()
        let glass: [Data] = try downsamples.map { d in
            let (quality, chroma) = encoding(spec, downsample: d)
            scratch.render(downsample: d, col: 0, row: 0, glassOnly: true)
            do {
                return try codec.encode(rgb: scratch.output, width: ts, height: ts, quality: quality, subsampling: chroma)
            } catch {
                throw SlideSynthError(path: finalPath, reason: "JPEG encoding of the glass tile at downsample \(d) failed: \(error)")
            }
        }

        do {
            try TiledTIFFWriter.write(to: tempPath, levels: levels, bigTIFF: big, software: "RadioPath SlideSynth",
                                      progress: { done, total in progress?(progressScale * Double(done) / Double(total)) }) {
                li, col, row, worker in
                let d = downsamples[li]
                let span = Double(ts * d)
                let box = Box(minX: Double(col) * span, minY: Double(row) * span,
                              maxX: Double(col + 1) * span, maxY: Double(row + 1) * span)
                if !layout.touchesContent(box) { return glass[li] }
                let r = renderer(worker)
                r.render(downsample: d, col: col, row: row)
                let (quality, chroma) = encoding(spec, downsample: d)
                do {
                    return try worker.codec.encode(rgb: r.output, width: ts, height: ts, quality: quality, subsampling: chroma)
                } catch {
                    throw SlideSynthError(path: finalPath, reason: "JPEG encoding of level \(li) tile (\(col), \(row)) failed: \(error)")
                }
            }
        } catch let e as ImageCodecError {
            throw SlideSynthError(path: finalPath, reason: e.reason)
        }
    }

    /// JPEG quality and chroma subsampling of the level at `d`. Levels 0 and 1 use the
    /// spec's quality with 4:2:0, as scanners do. At 16x and coarser a tissue edge is one
    /// pixel wide and 4:2:0 chroma at ordinary qualities rings up to 16 px into the glass,
    /// lifting its HSV saturation above CLAM's threshold of 8 around every piece of tissue;
    /// these levels are under 1 % of the file, so they get quality >= 95 and 4:4:4.
    static func encoding(_ spec: SyntheticSlideSpec, downsample d: Int) -> (Int, JPEGCodec.Subsampling) {
        d >= 16 ? (max(spec.jpegQuality, 95), .s444) : (spec.jpegQuality, .s420)
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
