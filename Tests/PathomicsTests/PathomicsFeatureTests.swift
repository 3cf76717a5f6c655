import Foundation
import XCTest
import Cells
import ImageCore
@testable import Pathomics
import TestSupport

/// Per-patch pathomic features against numpy (nuclear statistics), scikit-image (stain
/// deconvolution, GLCM, LBP) and Cells.GraphFeatures (graph columns); slide aggregation against
/// numpy's nan-aware statistics.
final class PathomicsFeatureTests: XCTestCase {
    private func randomNuclei(_ seed: UInt64, _ n: Int) throws -> NucleusTable {
        var rng = SeededRNG(seed)
        var pos: [SIMD2<Double>] = [], feats: [Double] = []
        for i in 0..<n {
            pos.append(SIMD2(Double.random(in: 1000..<3000, using: &rng), Double.random(in: 2000..<4000, using: &rng)))
            let area = Double.random(in: 10..<400, using: &rng)
            feats += [area, i % 17 == 0 ? .nan : Double.random(in: 0..<1, using: &rng), Double(i % 5)]
        }
        return try NucleusTable(positions: pos, featureNames: ["area_um2", "eccentricity", "ring"], features: feats)
    }

    /// Counts, densities and mean / std / p10 / p50 / p90 of every nuclear feature within 1e-12
    /// relative of numpy (`nanmean`, `nanstd`, `nanpercentile`) over the same centroid selection.
    func testNuclearStatisticsMatchNumpy() throws {
        let table = try randomNuclei(1, 5000)
        let ex = try PatchFeatureExtractor(nuclei: table, micronsPerPixel: 0.5)
        let rects = [PixelRect(x: 1200, y: 2100, width: 512, height: 512), PixelRect(x: 2900, y: 3900, width: 512, height: 512),
                     PixelRect(x: 0, y: 0, width: 256, height: 256), PixelRect(x: 1000, y: 2000, width: 2000, height: 2000)]
        let rows = rects.map { ex.features(rect: $0, image: nil) }
        let peer = try PathPeer(self)
        try peer.put("pos", doubles: table.positions.flatMap { [$0.x, $0.y] })
        try peer.put("feat", doubles: table.features)
        try peer.put("rects", doubles: rects.flatMap { [Double($0.x), Double($0.y), Double($0.width), Double($0.height)] })
        let out = try peer.run("""
        import warnings; warnings.simplefilter('ignore')
        p = loadf('pos').reshape(-1, 2); f = loadf('feat').reshape(len(p), -1); rects = loadf('rects').reshape(-1, 4)
        res = []
        for x, y, w, h in rects:
            m = (p[:, 0] >= x) & (p[:, 0] < x + w) & (p[:, 1] >= y) & (p[:, 1] < y + h)
            row = [int(m.sum()), m.sum() / (w * h * 0.25 / 1e6)]
            for c in range(f.shape[1]):
                v = f[m, c]; v = v[np.isfinite(v)]
                row += [float(np.mean(v)), float(np.std(v))] + [float(np.percentile(v, q)) for q in (10, 50, 90)] if len(v) else [None] * 5
            res.append(row)
        emit({'rows': res})
        """)
        let ref = out["rows"] as! [[Any]]
        let names = ex.names
        for (r, row) in rows.enumerated() {
            let expected = ref[r]
            let cols = ["nuclei_count", "nuclei_density_per_mm2"] + table.featureNames.flatMap { f in ["mean", "std", "p10", "p50", "p90"].map { "nuclei_\(f)_\($0)" } }
            XCTAssertEqual(cols.count, expected.count)
            for (k, col) in cols.enumerated() {
                let ours = row[names.firstIndex(of: col)!]
                if let e = expected[k] as? Double {
                    XCTAssertEqual(ours, e, accuracy: 1e-12 * max(1, abs(e)), "rect \(r) \(col)")
                } else {
                    XCTAssertTrue(ours.isNaN, "rect \(r) \(col) should be undefined")
                }
            }
        }
        XCTAssertEqual(rows[2][names.firstIndex(of: "nuclei_count")!], 0)
    }

    /// Graph columns are `GraphFeatures.compute` over the patch's nuclei, NaN exactly where a
    /// statistic summarises nothing.
    func testGraphColumnsAreGraphFeaturesOfThePatch() throws {
        let table = try randomNuclei(2, 3000)
        let ex = try PatchFeatureExtractor(nuclei: table, micronsPerPixel: 0.5)
        for rect in [PixelRect(x: 1500, y: 2500, width: 600, height: 600), PixelRect(x: 1500, y: 2500, width: 40, height: 40)] {
            let row = ex.features(rect: rect, image: nil)
            let inside = ex.nucleiIndices(in: rect)
            let g = GraphFeatures.compute(positions: inside.map { table.positions[$0] }, micronsPerPixel: 0.5)
            for (k, name) in g.names.enumerated() {
                let ours = row[ex.names.firstIndex(of: "graph_\(name)")!]
                if g.populations[k] == 0 { XCTAssertTrue(ours.isNaN, name) } else { XCTAssertEqual(ours, g.values[k], name) }
            }
        }
        // Clipping the Voronoi cells to the patch: cells tile the patch area (in µm²).
        var o = PathomicsOptions(); o.clipVoronoiToPatch = true
        let clipped = try PatchFeatureExtractor(nuclei: table, micronsPerPixel: 0.5, options: o)
        let rect = PixelRect(x: 1500, y: 2500, width: 600, height: 600)
        let row = clipped.features(rect: rect, image: nil)
        let cells = row[clipped.names.firstIndex(of: "graph_voronoi_cells")!]
        let mean = row[clipped.names.firstIndex(of: "graph_voronoi_area_mean")!]
        XCTAssertEqual(cells, Double(clipped.nucleiIndices(in: rect).count))
        var untrimmed = o; untrimmed.graph.trimOutliers = false
        let plain = try PatchFeatureExtractor(nuclei: table, micronsPerPixel: 0.5, options: untrimmed).features(rect: rect, image: nil)
        XCTAssertEqual(plain[clipped.names.firstIndex(of: "graph_voronoi_area_mean")!] * cells, 600 * 600 * 0.25, accuracy: 1e-6)
        XCTAssertGreaterThan(mean, 0)
    }

    /// Stain amounts (scikit-image `rgb2hed`, our float32 planes: within 1e-6), GLCM properties
    /// (`graycomatrix`/`graycoprops` with background as an extra level that is dropped: 1e-10
    /// relative), LBP histogram (`local_binary_pattern`: exact) and tissue fraction (exact) over the
    /// tissue mask, on a real H&E crop and a synthetic patch with background.
    func testImageFeaturesMatchScikitImage() throws {
        var images: [(String, RGBImage)] = [("synthetic", syntheticPatch())]
        if let dir = try? TestEnv.testdata("histology/he_tumour_1000px.png") {
            let full = try ImageFile.read(path: dir)
            images.append(("tumour", crop(full, x: 300, y: 200, w: 256, h: 192)))
        }
        let table = try NucleusTable(positions: [])
        var o = PathomicsOptions(); o.glcmDistances = [1, 2]
        let ex = try PatchFeatureExtractor(nuclei: table, micronsPerPixel: 0.5, options: o)
        let peer = try PathPeer(self)
        for (name, img) in images { try peer.put(name, bytes: img.pixels) }
        let shapes = images.map { "'\($0.0)': (\($0.1.height), \($0.1.width))" }.joined(separator: ", ")
        let out = try peer.run("""
        from skimage.color import rgb2hed
        from skimage.feature import graycomatrix, graycoprops, local_binary_pattern
        res = {}
        for name, (h, w) in {\(shapes)}.items():
            img = np.fromfile(f'{D}/{name}.u8', dtype=np.uint8).reshape(h, w, 3)
            od = -np.log10(np.maximum(img, 1) / 255.0)
            mask = (od[..., 0] + od[..., 1] + od[..., 2]) >= 0.15
            r, g, b = [img[..., k].astype(np.int64) for k in range(3)]
            grey = ((2125 * r + 7154 * g + 721 * b + 5000) // 10000).astype(np.uint8)
            L = 32
            q = np.where(mask, grey.astype(np.int64) * L // 256, L).astype(np.uint8)
            P = graycomatrix(q, [1, 2], [0, np.pi / 4, np.pi / 2, 3 * np.pi / 4], levels=L + 1, symmetric=True, normed=False)[:L, :L]
            glcm = [float(graycoprops(P, p).mean()) for p in ['contrast', 'dissimilarity', 'homogeneity', 'energy', 'ASM', 'correlation']]
            hed = rgb2hed(img)
            stains = []
            for k in range(3):
                v = hed[..., k][mask]; stains += [float(v.mean()), float(v.std())]
            codes = local_binary_pattern(grey, 8, 1, 'uniform').astype(int)
            lbp = (np.bincount(codes[mask], minlength=10) / mask.sum()).tolist()
            res[name] = [float(mask.mean())] + stains + glcm + lbp
        emit(res)
        """)
        let cols = ["stain_tissue_fraction"] + ["hematoxylin", "eosin", "dab"].flatMap { ["stain_\($0)_mean", "stain_\($0)_std"] }
            + ["contrast", "dissimilarity", "homogeneity", "energy", "asm", "correlation"].map { "texture_glcm_\($0)" }
            + (0..<10).map { "texture_lbp_\($0)" }
        for (name, img) in images {
            let row = ex.features(rect: PixelRect(x: 0, y: 0, width: img.width * 2, height: img.height * 2), image: img)
            let ref = out[name] as! [Double]
            for (k, col) in cols.enumerated() {
                let ours = row[ex.names.firstIndex(of: col)!]
                let tol = col.hasPrefix("stain_") && k > 0 ? 1e-6 : 1e-10 * max(1, abs(ref[k]))
                XCTAssertEqual(ours, ref[k], accuracy: tol, "\(name) \(col)")
            }
            let tf = row[ex.names.firstIndex(of: "stain_tissue_fraction")!]
            XCTAssertGreaterThan(tf, 0.2, name); XCTAssertLessThan(tf, 1.0001, name)
        }
    }

    /// White, black, empty images and an empty nucleus table give NaN where documented and finite
    /// values elsewhere, never a crash.
    func testEdgeCases() throws {
        let ex = try PatchFeatureExtractor(nuclei: try NucleusTable(positions: []), micronsPerPixel: 0.25)
        let rect = PixelRect(x: 0, y: 0, width: 64, height: 64)
        let names = ex.names
        func col(_ row: [Double], _ n: String) -> Double { row[names.firstIndex(of: n)!] }
        let white = ex.features(rect: rect, image: RGBImage(width: 32, height: 32))
        XCTAssertEqual(col(white, "nuclei_count"), 0)
        XCTAssertEqual(col(white, "nuclei_density_per_mm2"), 0)
        XCTAssertEqual(col(white, "stain_tissue_fraction"), 0)
        XCTAssertTrue(col(white, "stain_hematoxylin_mean").isNaN)
        XCTAssertTrue(col(white, "texture_glcm_contrast").isNaN)
        XCTAssertTrue(col(white, "nuclei_density_per_mm2_tissue").isNaN)
        XCTAssertEqual(col(white, "graph_nodes"), 0)
        XCTAssertTrue(col(white, "graph_delaunay_sides_mean").isNaN)
        let black = ex.features(rect: rect, image: RGBImage(width: 32, height: 32, fill: (0, 0, 0)))
        XCTAssertEqual(col(black, "stain_tissue_fraction"), 1)
        XCTAssertEqual(col(black, "texture_glcm_contrast"), 0)
        XCTAssertEqual(col(black, "texture_glcm_correlation"), 1)  // constant patch, scikit-image's convention
        XCTAssertEqual(col(black, "texture_lbp_8"), 1)
        let empty = ex.features(rect: PixelRect(x: 5, y: 5, width: 0, height: 0), image: RGBImage(width: 0, height: 0))
        XCTAssertTrue(col(empty, "stain_tissue_fraction").isNaN)
        XCTAssertEqual(empty.count, names.count)
        XCTAssertThrowsError(try PatchFeatureExtractor(nuclei: try NucleusTable(positions: []), micronsPerPixel: 0))
        XCTAssertThrowsError(try NucleusTable(positions: [SIMD2(1, 1)], featureNames: ["a", "b"], features: [1]))
        XCTAssertThrowsError(try NucleusTable(positions: [SIMD2(1, 1)], featureNames: ["a,b"], features: [1]))
    }

    /// Slide rows: numpy nanmean / nanstd / nanpercentile per column within 1e-12 relative; empty
    /// where no patch defines a column; the CSV reads back to the same numbers and empty cells.
    func testSlideAggregationAndCSV() throws {
        let table = try randomNuclei(3, 4000)
        let ex = try PatchFeatureExtractor(nuclei: table, micronsPerPixel: 0.5)
        var rects: [PixelRect] = []
        for y in stride(from: 1800, to: 4200, by: 512) { for x in stride(from: 800, to: 3200, by: 512) { rects.append(PixelRect(x: x, y: y, width: 512, height: 512)) } }
        let rows = rects.map { ex.features(rect: $0, image: nil) }
        let slide = try PathomicsTables.aggregate(patchRows: rows, patchDefinitions: ex.definitions)
        let names = PathomicsTables.slideNames(patchDefinitions: ex.definitions)
        XCTAssertEqual(slide.count, names.count)
        let peer = try PathPeer(self)
        try peer.put("rows", doubles: rows.flatMap { $0 })
        let out = try peer.run("""
        import warnings; warnings.simplefilter('ignore')
        r = loadf('rows').reshape(\(rows.count), -1)[:, 4:]
        res = []
        for c in range(r.shape[1]):
            v = r[:, c]; v = v[~np.isnan(v)]
            res.append([float(v.mean()), float(v.std())] + [float(np.percentile(v, q)) for q in (10, 50, 90)] if len(v) else None)
        emit({'cols': res, 'with': int((r[:, 0] > 0).sum())})
        """)
        let ref = out["cols"] as! [Any]
        XCTAssertEqual(slide[0], Double(rects.count))
        XCTAssertEqual(slide[1], Double(out["with"] as! Int))
        for (c, e) in ref.enumerated() {
            let ours = Array(slide[(2 + 5 * c)..<(7 + 5 * c)])
            if let e = e as? [Double] {
                for k in 0..<5 { XCTAssertEqual(ours[k], e[k], accuracy: 1e-12 * max(1, abs(e[k])), names[2 + 5 * c + k]) }
            } else {
                XCTAssertTrue(ours.allSatisfy(\.isNaN), names[2 + 5 * c])
            }
        }
        // CSV round trip.
        let dir = try TestEnv.scratch(self, "pathomics-csv")
        try PathomicsTables.write(PathomicsTables.patchTable(slide: "s1", definitions: ex.definitions, rows: rows), to: dir + "/patches.csv")
        try PathomicsTables.write(PathomicsTables.slideTable(slides: ["s1"], patchDefinitions: ex.definitions, rows: [slide]), to: dir + "/slides.csv")
        let back = try CSVTableReader.read(dir + "/patches.csv")
        XCTAssertEqual(back.header, ["slide"] + ex.names)
        for (r, row) in rows.enumerated() {
            for (k, v) in row.enumerated() {
                let cell = back.rows[r][k + 1]
                if v.isNaN { XCTAssertEqual(cell, "") } else { XCTAssertEqual(Double(cell), v, "\(ex.names[k]) = '\(cell)'") }
            }
        }
        let slides = try CSVTableReader.read(dir + "/slides.csv")
        XCTAssertEqual(slides.header.count, names.count + 1)
        XCTAssertEqual(slides.rows.count, 1)
    }

    /// The committed data dictionary is the generated one (set RADIOPATH_WRITE_DOCS=1 to rewrite it).
    func testCommittedDataDictionaryIsCurrent() throws {
        let path = TestEnv.packageRoot + "/docs/pathomics.md"
        let generated = PathomicsDictionary.markdown()
        if ProcessInfo.processInfo.environment["RADIOPATH_WRITE_DOCS"] == "1" {
            try generated.write(toFile: path, atomically: true, encoding: .utf8)
        }
        let committed = try String(contentsOfFile: path, encoding: .utf8)
        XCTAssertEqual(committed, generated, "docs/pathomics.md is stale: rerun this test with RADIOPATH_WRITE_DOCS=1 and commit the file")
        // Every column the extractor writes is documented (template rows cover the nuclear blocks).
        let ex = try PatchFeatureExtractor(nuclei: try randomNuclei(4, 10), micronsPerPixel: 0.5)
        for name in ex.names {
            let documented = committed.contains("`\(name)`")
                || (name.hasPrefix("nuclei_") && ["area_um2", "eccentricity", "ring"].contains { name.hasPrefix("nuclei_\($0)_") })
            XCTAssertTrue(documented, "\(name) missing from the dictionary")
        }
        XCTAssertEqual(Set(ex.names).count, ex.names.count, "column names are unique")
    }

    // MARK: helpers

    private func syntheticPatch() -> RGBImage {
        var rng = SeededRNG(9)
        var img = RGBImage(width: 160, height: 120)
        for y in 0..<120 { for x in 0..<160 where x < 110 {
            // Pink stroma with purple blobs; the right third stays background.
            let blob = ((x / 12) + (y / 12)) % 3 == 0
            let n = { UInt8.random(in: 0...25, using: &rng) }
            img[x, y] = blob ? (90 + n(), 40 + n(), 140 + n()) : (220 + n() / 2, 140 + n(), 190 + n())
        } }
        return img
    }

    private func crop(_ img: RGBImage, x: Int, y: Int, w: Int, h: Int) -> RGBImage {
        var out = [UInt8](repeating: 0, count: w * h * 3)
        for r in 0..<h {
            let s = 3 * ((y + r) * img.width + x)
            out.replaceSubrange((3 * r * w)..<(3 * (r + 1) * w), with: img.pixels[s..<(s + 3 * w)])
        }
        return RGBImage(width: w, height: h, pixels: out)
    }
}

enum CSVTableReader {
    static func read(_ path: String) throws -> (header: [String], rows: [[String]]) {
        let records = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: true)
            .map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
        return (records[0], Array(records.dropFirst()))
    }
}

/// Raw arrays in a scratch folder and one Python run whose `emit(obj)` prints JSON.
final class PathPeer {
    let dir: String
    init(_ test: XCTestCase) throws {
        _ = try TestEnv.python()
        dir = try TestEnv.scratch(test, "pathpeer")
    }

    func put(_ name: String, doubles: [Double]) throws {
        try doubles.withUnsafeBytes { try Data($0).write(to: URL(fileURLWithPath: "\(dir)/\(name).f64")) }
    }

    func put(_ name: String, bytes: [UInt8]) throws {
        try Data(bytes).write(to: URL(fileURLWithPath: "\(dir)/\(name).u8"))
    }

    func run(_ body: String, file: StaticString = #filePath, line: UInt = #line) throws -> [String: Any] {
        let prelude = """
        import json, sys
        import numpy as np
        D = sys.argv[1]
        def loadf(n): return np.fromfile(f'{D}/{n}.f64', dtype='<f8')
        def emit(o): print(json.dumps(o))

        """
        let data = try TestEnv.runPython(prelude + body, [dir], file: file, line: line)
        return try XCTUnwrap(try TestEnv.json(data) as? [String: Any], file: file, line: line)
    }
}
