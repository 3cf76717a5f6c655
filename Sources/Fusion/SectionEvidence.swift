import Foundation
import ImageCore
import PatchBag
import Registration
import Tabular

/// The files of one registered histology section (any of the optional ones may be absent).
public struct SectionInput: Sendable, Equatable {
    /// Output folder of `radiopath register` (transform.json, report.json, …).
    public var registerDir: String
    /// Patch bag (.h5): level-0 top-left corners and `patch_size_level0`.
    public var patchBag: String?
    /// MIL score output `attention/<id>.h5` (coords + per-patch `attention`).
    public var scores: String?
    /// Per-patch pathomics table (`radiopath pathomics` patches/<id>.csv).
    public var pathomics: String?
    /// QuPath GeoJSON annotations (slide level-0 px); their polygons count as tumour.
    public var annotations: String?
    /// Tissue mask image covering the whole slide at any size (non-black = tissue), as
    /// `radiopath register --moving-mask` takes; without it tissue = the patch squares.
    public var tissue: String?

    public init(registerDir: String, patchBag: String? = nil, scores: String? = nil, pathomics: String? = nil, annotations: String? = nil, tissue: String? = nil) {
        self.registerDir = registerDir; self.patchBag = patchBag; self.scores = scores; self.pathomics = pathomics; self.annotations = annotations
        self.tissue = tissue
    }
}

/// One section loaded: its transform, registration quality and evidence in slide level-0 px.
struct SectionEvidence {
    var transform: SectionTransform
    /// Final-stage 95 % Hausdorff (mm) and mean landmark TRE (mm) from report.json.
    var hd95Mm: Double?
    var treMm: Double?
    /// Patch squares (top-left x, y; side) in level-0 px.
    var patches: [(x: Double, y: Double)] = []
    var patchSize: Double = 0
    var attention: [Double]?
    /// Pathomics rows: patch centre and the numeric columns.
    var pathomicColumns: [String] = []
    var pathomicCentres: [SIMD2<Double>] = []
    var pathomicValues: [[Double]] = []
    var pathomicSquares: [(x: Double, y: Double, w: Double, h: Double)] = []
    var annotations: [PolygonWithHoles]?
    var tissueMask: RGBImage?
    /// How tissue was decided: patch squares, pathomics patch squares, or the whole slide.
    var tissueSource = "patch squares of the patch bag"

    static func load(_ s: SectionInput) throws -> SectionEvidence {
        let t = try SectionTransform.read(folder: s.registerDir)
        var e = SectionEvidence(transform: t)
        let reportPath = s.registerDir + "/report.json"
        if let d = FileManager.default.contents(atPath: reportPath),
           let j = try? JSONSerialization.jsonObject(with: d) as? [String: Any], let r = j["result"] as? [String: Any] {
            e.hd95Mm = (r["hausdorff95Mm"] as? NSNumber)?.doubleValue
            e.treMm = (r["treMeanMm"] as? NSNumber)?.doubleValue
        }
        if let bag = s.patchBag {
            let b = try PatchBag.read(path: bag)
            e.patches = (0..<b.count).map { (Double(b.coords[2 * $0]), Double(b.coords[2 * $0 + 1])) }
            guard case let .int(size)? = b.coordsAttributes["patch_size_level0"], size > 0 else {
                throw FusionError("\(bag): no patch_size_level0 attribute on coords", hint: "tile the slide with `radiopath tile` (CLAM/TRIDENT attributes)")
            }
            e.patchSize = Double(size)
        }
        if let scores = s.scores {
            let b = try PatchBag.read(path: scores, scores: ["attention"])
            guard let a = b.scores["attention"] else {
                throw FusionError("\(scores): no 'attention' dataset", hint: "give the attention/<id>.h5 that `radiopath score` writes")
            }
            let coords = (0..<b.count).map { (Double(b.coords[2 * $0]), Double(b.coords[2 * $0 + 1])) }
            if s.patchBag == nil {
                e.patches = coords
                if case let .int(size)? = b.coordsAttributes["patch_size_level0"] { e.patchSize = Double(size) }
            } else if coords.count != e.patches.count || zip(coords, e.patches).contains(where: { $0.0 != $1.0 || $0.1 != $1.1 }) {
                throw FusionError("\(scores): its coords differ from the patch bag \(s.patchBag!)", hint: "score the features made from this patch bag")
            }
            e.attention = a.map(Double.init)
        }
        if let p = s.pathomics { try e.readPathomics(p) }
        if let a = s.annotations {
            guard let d = FileManager.default.contents(atPath: a) else { throw FusionError("\(a): cannot read the annotations", hint: "give a QuPath GeoJSON in slide level-0 px") }
            e.annotations = try GeoJSONWarp.polygons(d, file: a).flatMap { $0 }
        }
        if let m = s.tissue {
            e.tissueMask = try ImageFile.read(path: m)
            e.tissueSource = "the tissue mask \(m)"
        } else if e.patches.isEmpty {
            if !e.pathomicSquares.isEmpty {
                e.tissueSource = "patch squares of the pathomics table"
            } else {
                e.tissueSource = "the whole slide (no patch bag or pathomics table: tissue unknown)"
            }
        }
        return e
    }

    mutating func readPathomics(_ path: String) throws {
        let t = try CSVTable.read(path: path)
        guard let xi = t.column("x"), let yi = t.column("y"), let wi = t.column("width"), let hi = t.column("height") else {
            throw FusionError("\(path): needs x, y, width and height columns", hint: "give the patches/<id>.csv of `radiopath pathomics`")
        }
        let skip: Set<Int> = [xi, yi, wi, hi]
        let cols = t.header.indices.filter { !skip.contains($0) && $0 != t.column("slide") }
        pathomicColumns = cols.map { t.header[$0] }
        for (n, r) in t.rows.enumerated() {
            guard let x = Double(r[xi]), let y = Double(r[yi]), let w = Double(r[wi]), let h = Double(r[hi]) else {
                throw FusionError("\(path): row \(n + 2) has no numeric x, y, width, height", hint: "regenerate the table")
            }
            pathomicSquares.append((x, y, w, h))
            pathomicCentres.append(SIMD2(x + w / 2, y + h / 2))
            pathomicValues.append(cols.map { Double(r[$0]) ?? .nan })
        }
    }

    /// Patch centres in level-0 px.
    var patchCentres: [SIMD2<Double>] { patches.map { SIMD2($0.x + patchSize / 2, $0.y + patchSize / 2) } }

    /// A point-in-tissue test in slide px: inside a patch square (bucketed by square size).
    func tissueTest() -> (SIMD2<Double>) -> Bool {
        if let m = tissueMask {
            let sx = Double(transform.slide.width) / Double(m.width), sy = Double(transform.slide.height) / Double(m.height)
            return { p in
                let u = Int((p.x / sx).rounded(.down)), v = Int((p.y / sy).rounded(.down))
                guard u >= 0, v >= 0, u < m.width, v < m.height else { return false }
                let k = 3 * (v * m.width + u)
                return m.pixels[k] != 0 || m.pixels[k + 1] != 0 || m.pixels[k + 2] != 0
            }
        }
        var squares: [(x: Double, y: Double, w: Double, h: Double)] = patches.map { ($0.x, $0.y, patchSize, patchSize) }
        if squares.isEmpty { squares = pathomicSquares }
        let w = Double(transform.slide.width), h = Double(transform.slide.height)
        guard !squares.isEmpty else { return { $0.x >= 0 && $0.y >= 0 && $0.x < w && $0.y < h } }
        let cell = max(1, squares.map { max($0.w, $0.h) }.max()!)
        var buckets: [SIMD2<Int>: [Int]] = [:]
        for (n, s) in squares.enumerated() { buckets[SIMD2(Int((s.x / cell).rounded(.down)), Int((s.y / cell).rounded(.down))), default: []].append(n) }
        return { p in
            let bx = Int((p.x / cell).rounded(.down)), by = Int((p.y / cell).rounded(.down))
            for dy in -1...0 { for dx in -1...0 {
                for n in buckets[SIMD2(bx + dx, by + dy)] ?? [] {
                    let s = squares[n]
                    if p.x >= s.x && p.x < s.x + s.w && p.y >= s.y && p.y < s.y + s.h { return true }
                }
            } }
            return false
        }
    }

    /// Even-odd point-in-polygon over every annotation polygon (holes excluded).
    func insideAnnotation(_ p: SIMD2<Double>) -> Bool {
        guard let annotations else { return false }
        let q = Point(x: p.x, y: p.y)
        func inRing(_ r: [Point]) -> Bool { Polygon.contains(r, q) }
        return annotations.contains { inRing($0.outer) && !$0.holes.contains(where: inRing) }
    }
}
