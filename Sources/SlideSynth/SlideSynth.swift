import SeededRandom
import Foundation
import ImageCore

/// Synthetic whole-slide images with known ground truth, for tests, demos and benchmarks
/// that must run without private data: a pyramidal JPEG TIFF that OpenSlide opens as an
/// Aperio slide with a known mpp, plus the exact tissue, tumour and nuclei it shows.
public enum SlideSynth {
    /// Writes the slide to `path` atomically (temporary file + rename) and, when
    /// `truthDirectory` is given, the ground truth there (each file atomically too):
    /// - `tissue_mask.png`: 0/255 tissue mask at `truth.tissueMaskDownsample` (64 or coarser),
    /// - `tumour.geojson`: QuPath-style FeatureCollection of tumour Polygon annotations (level-0 px),
    /// - `nuclei.csv`: `x,y,radius_px,in_tumour` per nucleus (level-0 px, radius = sqrt(semi-axes
    ///   product)), streamed to disk; skipped when `spec.writeNucleiTruth` is false,
    /// - `truth.json`: the spec and every parameter of the scene, enough to re-derive the truth.
    /// `progress` receives 0...1 from the calling thread.
    @discardableResult
    public static func write(_ spec: SyntheticSlideSpec, to path: String, truthDirectory: String?,
                             progress: ((Double) -> Void)? = nil) throws -> SyntheticTruth {
        try spec.validate(path: path)
        let truth = SyntheticTruth(spec: spec)
        try makeFolder(containing: path)
        let scale = truthDirectory == nil ? 1.0 : 0.95
        try produce(path) { tmp in
            try PyramidWriter.write(layout: truth.layout, spec: spec, tempPath: tmp, finalPath: path,
                                    progress: progress, progressScale: scale)
        }
        if let dir = truthDirectory {
            try TruthFiles.write(truth, to: dir)
        }
        progress?(1)
        return truth
    }

    /// The same truth `write` returns, without writing anything.
    public static func truth(for spec: SyntheticSlideSpec) -> SyntheticTruth { SyntheticTruth(spec: spec) }

    static func makeFolder(containing path: String) throws {
        let dir = URL(fileURLWithPath: path).deletingLastPathComponent().path
        try makeFolder(dir, for: path)
    }

    static func makeFolder(_ dir: String, for path: String) throws {
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: dir, isDirectory: &isDir) {
            guard isDir.boolValue else {
                throw SlideSynthError(path: path, reason: "cannot write here: \(dir) exists and is not a folder; choose another output path")
            }
            return
        }
        do {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        } catch {
            throw SlideSynthError(path: path, reason: "cannot create the folder \(dir) (\(error.localizedDescription)); choose a writable output folder")
        }
    }

    /// AtomicFile.produce, with any error turned into one that names `path`.
    static func produce(_ path: String, _ body: (String) throws -> Void) throws {
        do {
            try AtomicFile.produce(path, body)
        } catch let e as SlideSynthError {
            throw e
        } catch {
            throw SlideSynthError(path: path, reason: "writing failed (\(error.localizedDescription)); check free disk space and permissions")
        }
    }
}

/// The truth folder's files.
enum TruthFiles {
    static func write(_ truth: SyntheticTruth, to dir: String) throws {
        let url = URL(fileURLWithPath: dir)
        try SlideSynth.makeFolder(dir, for: url.appendingPathComponent("truth.json").path)
        let L = truth.layout

        // tissue_mask.png
        let md = L.tissueMaskDownsample
        let mask = truth.tissueMask(downsample: Double(md))
        let maskPath = url.appendingPathComponent("tissue_mask.png").path
        try SlideSynth.produce(maskPath) { tmp in
            try PNGCodec.encode(mask).write(to: URL(fileURLWithPath: tmp))
        }

        // tumour.geojson
        let geoPath = url.appendingPathComponent("tumour.geojson").path
        try SlideSynth.produce(geoPath) { tmp in
            try geoJSON(truth).write(to: URL(fileURLWithPath: tmp))
        }

        // nuclei.csv
        var nucleiCount: Int? = nil
        if truth.spec.writeNucleiTruth {
            let csvPath = url.appendingPathComponent("nuclei.csv").path
            try SlideSynth.produce(csvPath) { tmp in
                nucleiCount = try writeNuclei(L, to: tmp)
            }
        }

        // truth.json
        let record = TruthRecord(
            spec: truth.spec, scene: L, tissueFraction: truth.tissueFraction,
            tissueMask: .init(file: "tissue_mask.png", downsample: md, width: mask.width, height: mask.height,
                              sampling: "pixel (i,j) covers level-0 [i*d,(i+1)*d) x [j*d,(j+1)*d), sampled at its centre; 255 = tissue"),
            tumourFile: "tumour.geojson",
            nucleiFile: truth.spec.writeNucleiTruth ? "nuclei.csv" : nil,
            nucleiCount: nucleiCount,
            levelDownsamples: L.levelDownsamples,
            conventions: [
                "coordinates": "level-0 pixels, origin top-left, x right, y down",
                "tissue": "union of blobs: in the blob frame u=((x-cx)cos(theta)+(y-cy)sin(theta))/a, v=(-(x-cx)sin(theta)+(y-cy)cos(theta))/b, tissue iff (|u|^p+|v|^p)^(1/p) <= 1+sum(amplitude*cos(k*atan2(v,u)+phase)) and not (u-hole.u)^2+(v-hole.v)^2 <= hole.radius^2",
                "tumour": "inside any tumour polygon (even-odd rule); polygons lie inside tissue",
                "pen": "within thickness/2 of the pen polyline and not tissue; drawn on glass",
                "nuclei": "per layer, cell (i,j) of size cellPx: h=splitmix64-finaliser hash of (i,j,salt); present iff h/2^64 < presence; then a SplitMix64 stream seeded with h gives jitter x, jitter y, radius, elongation, angle, shade; stroma nuclei kept where the centre is tissue and not tumour, tumour nuclei where the centre is tumour",
            ])
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        let json = try enc.encode(record)
        try SlideSynth.produce(url.appendingPathComponent("truth.json").path) { tmp in
            try json.write(to: URL(fileURLWithPath: tmp))
        }
    }

    struct MaskInfo: Encodable { var file: String; var downsample: Int; var width: Int; var height: Int; var sampling: String }
    struct TruthRecord: Encodable {
        var spec: SyntheticSlideSpec
        var scene: SlideLayout
        var tissueFraction: Double
        var tissueMask: MaskInfo
        var tumourFile: String
        var nucleiFile: String?
        var nucleiCount: Int?
        var levelDownsamples: [Int]
        var conventions: [String: String]
    }

    /// QuPath reads a FeatureCollection whose features carry `objectType: annotation` and a
    /// `classification` with name and colour.
    static func geoJSON(_ truth: SyntheticTruth) throws -> Data {
        var features: [[String: Any]] = []
        for (k, poly) in truth.tumourPolygons.enumerated() {
            var ring = poly.map { [round2($0.x), round2($0.y)] }
            if let first = ring.first { ring.append(first) }
            let h = hash2(k, 0, truth.spec.seed ^ 0x6E05)
            let id = String(format: "%08x-%04x-4%03x-8%03x-%012llx", UInt32(truncatingIfNeeded: h >> 32), UInt16(truncatingIfNeeded: h >> 16),
                            UInt16(truncatingIfNeeded: h) & 0xFFF, UInt16(truncatingIfNeeded: h >> 4) & 0xFFF, (h ^ 0x5EED) & 0xFFFF_FFFF_FFFF)
            features.append([
                "type": "Feature",
                "id": id,
                "geometry": ["type": "Polygon", "coordinates": [ring]],
                "properties": [
                    "objectType": "annotation",
                    "name": "tumour \(k + 1)",
                    "classification": ["name": "Tumor", "color": [200, 0, 0]],
                    "isLocked": false,
                ] as [String: Any],
            ])
        }
        let doc: [String: Any] = ["type": "FeatureCollection", "features": features]
        return try JSONSerialization.data(withJSONObject: doc, options: [.sortedKeys])
    }

    static func round2(_ v: Double) -> Double { (v * 100).rounded() / 100 }

    /// Streams every nucleus, stroma layer first then tumour layer, each in row-major cell
    /// order. Returns the count.
    static func writeNuclei(_ L: SlideLayout, to path: String) throws -> Int {
        guard FileManager.default.createFile(atPath: path, contents: nil),
              let fh = FileHandle(forWritingAtPath: path) else {
            throw SlideSynthError(path: path, reason: "cannot create the file; check the folder is writable")
        }
        defer { try? fh.close() }
        var buf = [UInt8]()
        buf.reserveCapacity(1 << 20)
        buf.append(contentsOf: Array("x,y,radius_px,in_tumour\n".utf8))
        var count = 0
        var content: Box? = nil
        for b in L.blobs { content = content.map { $0.union(b.bounds) } ?? b.bounds }
        for layer in [L.stromaNuclei, L.tumourNuclei] {
            guard let region = layer.inTumour ? L.tumourBounds : content else { continue }
            let i0 = max(0, Int((region.minX / layer.cellPx).rounded(.down)))
            let i1 = Int((region.maxX / layer.cellPx).rounded(.down))
            let j0 = max(0, Int((region.minY / layer.cellPx).rounded(.down)))
            let j1 = Int((region.maxY / layer.cellPx).rounded(.down))
            guard i1 >= i0, j1 >= j0 else { continue }
            for j in j0...j1 {
                for i in i0...i1 {
                    guard let n = L.nucleus(layer: layer, i: i, j: j) else { continue }
                    appendFixed2(&buf, n.x); buf.append(44)
                    appendFixed2(&buf, n.y); buf.append(44)
                    appendFixed2(&buf, n.radius); buf.append(44)
                    buf.append(n.tumour ? 49 : 48); buf.append(10)
                    count += 1
                }
                if buf.count > (1 << 20) - 4096 {
                    try fh.write(contentsOf: buf)
                    buf.removeAll(keepingCapacity: true)
                }
            }
        }
        try fh.write(contentsOf: buf)
        return count
    }

    /// Appends a non-negative value with two decimals ("123.45").
    static func appendFixed2(_ buf: inout [UInt8], _ v: Double) {
        let q = Int((max(0, v) * 100).rounded())
        let whole = q / 100, frac = q % 100
        buf.append(contentsOf: Array(String(whole).utf8))
        buf.append(46)
        buf.append(UInt8(48 + frac / 10)); buf.append(UInt8(48 + frac % 10))
    }
}
