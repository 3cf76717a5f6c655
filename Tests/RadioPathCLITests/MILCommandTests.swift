import Foundation
import MIL
import PatchBag
import TestSupport
import XCTest

/// `radiopath train`, `score` and `heatmap` end to end through the built binary, on feature
/// bags laid over a real tiling of CMU-1-Small-Region (so attention maps back onto the slide).
final class MILCommandTests: XCTestCase {
    static let dim = 16
    static let classes = "normal,tumour"

    struct Cohort {
        let dir: String, features: String, labels: String, ids: [String], tiled: String
        let coords: [Int64]
        var slide: String
    }

    /// Tiles the slide, then writes 24 feature bags over its patches: Gaussian features
    /// (seeded), and in the 12 tumour bags a few patches shifted along every feature.
    func cohort(_ label: String) throws -> Cohort {
        let slide = try TestEnv.testdata("slides/CMU-1-Small-Region.svs")
        let dir = try TestEnv.scratch(self, label)
        let t = try radiopath(["tile", slide, "--out", dir + "/tiles", "--patch-size", "224"])
        XCTAssertEqual(t.status, 0, t.stderr)
        let tiled = dir + "/tiles/patches/CMU-1-Small-Region.h5"
        let bag = try PatchBag.read(path: tiled)
        XCTAssertGreaterThan(bag.count, 20, "the slide gives a real bag")
        guard case .string? = bag.fileAttributes["slide_path"] else { throw XCTSkip("tile output records no slide_path") }

        var rng = SeededRNG(3)
        var ids: [String] = [], rows = ["slide_id,label"]
        for s in 0..<24 {
            let id = String(format: "slide_%02d", s), tumour = s % 2 == 1
            var f = (0..<(bag.count * Self.dim)).map { _ in rng.gaussian() }
            if tumour {
                for p in stride(from: s % 5, to: bag.count, by: max(1, bag.count / 6)) { for j in 0..<Self.dim { f[p * Self.dim + j] += 3 } }
            }
            try PatchBag.write(path: "\(dir)/features/\(id).h5", coords: bag.coords, coordsAttributes: bag.coordsAttributes,
                               tissueFraction: nil, features: f, featureDim: Self.dim, fileAttributes: bag.fileAttributes)
            ids.append(id); rows.append("\(id),\(tumour ? "tumour" : "normal")")
        }
        try (rows.joined(separator: "\n") + "\n").write(toFile: dir + "/labels.csv", atomically: true, encoding: .utf8)
        return Cohort(dir: dir, features: dir + "/features", labels: dir + "/labels.csv", ids: ids, tiled: tiled, coords: bag.coords, slide: slide)
    }

    func csv(_ path: String) throws -> [[String]] {
        try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
    }

    func isPNG(_ path: String) -> Bool {
        (try? Data(contentsOf: URL(fileURLWithPath: path)).prefix(8)) == Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
    }

    func train(_ c: Cohort, out: String, _ extra: [String] = []) throws -> (status: Int32, stdout: String, stderr: String) {
        try radiopath(["train", c.features, "--labels", c.labels, "--classes", Self.classes, "--out", out] + extra)
    }

    // MARK: train → score → heatmap

    func testTrainScoreHeatmapOnRealSlideTiling() throws {
        let c = try cohort("mil-e2e")
        let m = c.dir + "/model"
        let args = ["--folds", "3", "--epochs", "15", "--patience", "0", "--seed", "3", "--json"]
        let r = try train(c, out: m, args)
        XCTAssertEqual(r.status, 0, r.stderr)
        let folds = try XCTUnwrap(try TestEnv.json(Data(r.stdout.utf8)) as? [[String: Any]], r.stdout)
        XCTAssertEqual(folds.map { $0["fold"] as? Int }, [0, 1, 2])
        var tested: [String] = []
        for k in 0..<3 {
            let d = "\(m)/fold_\(k)"
            for f in ["model.safetensors", "predictions.csv", "metrics.json", "roc.csv"] {
                XCTAssertTrue(FileManager.default.fileExists(atPath: "\(d)/\(f)"), "fold \(k): \(f)")
            }
            XCTAssertTrue(isPNG(d + "/roc.png"), "fold \(k): roc.png is a PNG")
            let hist = try csv(d + "/history.csv")
            XCTAssertEqual(hist.first?.first, "epoch")
            XCTAssertEqual(hist.count, 16, "header + 15 epochs (no early stopping)")
            XCTAssertEqual(hist.dropFirst().map { Int($0[0]) }, Array(0..<15).map { Optional($0) }, "0-based epochs, as CLAM counts")
            let preds = try csv(d + "/predictions.csv")
            XCTAssertEqual(preds.first, ["slide_id", "label", "p_normal", "p_tumour", "predicted"])
            for row in preds.dropFirst() {
                let p = row[2...3].compactMap(Double.init)
                XCTAssertEqual(p.count, 2)
                XCTAssertEqual(p.reduce(0, +), 1, accuracy: 1e-4, "\(row)")
            }
            tested += preds.dropFirst().map { $0[0] }
            let metrics = try XCTUnwrap(try TestEnv.json(Data(contentsOf: URL(fileURLWithPath: d + "/metrics.json"))) as? [String: Any])
            XCTAssertEqual(metrics["epochs"] as? Int, 15)
            XCTAssertNotNil(metrics["evaluation"] as? [String: Any], "binary task: AUC and metrics")

            // CLAM's layout: unnamed index column, then train, val, test; folds partition the cohort.
            let split = try csv("\(m)/splits/splits_\(k).csv")
            XCTAssertEqual(split.first, ["", "train", "val", "test"])
            let test = split.dropFirst().map { $0[3] }.filter { !$0.isEmpty }
            XCTAssertEqual(Set(test), Set(preds.dropFirst().map { $0[0] }), "fold \(k): predictions are the split's test slides")
            let all = split.dropFirst().flatMap { $0[1...3] }.filter { !$0.isEmpty }
            XCTAssertEqual(all.sorted(), c.ids, "fold \(k): every slide once")
        }
        XCTAssertEqual(tested.sorted(), c.ids, "each slide is tested in exactly one fold")
        let summary = try csv(m + "/summary.csv")
        let mean = try XCTUnwrap(summary.first { $0.first == "mean" }, "summary.csv has a mean row")
        let auc = try XCTUnwrap(Double(mean[5]), "\(mean)")
        XCTAssertGreaterThanOrEqual(auc, 0.9, "planted signal is easy: mean test AUC \(auc)\n\(r.stderr)")
        XCTAssertNotNil(try TestEnv.json(Data(contentsOf: URL(fileURLWithPath: m + "/summary.json"))) as? [String: Any])

        // Same seed → the same weights, byte for byte.
        let again = try train(c, out: c.dir + "/model2", args)
        XCTAssertEqual(again.status, 0, again.stderr)
        for k in 0..<3 {
            let a = try Data(contentsOf: URL(fileURLWithPath: "\(m)/fold_\(k)/model.safetensors"))
            let b = try Data(contentsOf: URL(fileURLWithPath: "\(c.dir)/model2/fold_\(k)/model.safetensors"))
            XCTAssertEqual(a, b, "fold \(k): same seed, same model bytes")
        }

        // score
        let s = c.dir + "/scores"
        let model = m + "/fold_0/model.safetensors"
        let sr = try radiopath(["score", c.features, "--model", model, "--labels", c.labels, "--classes", Self.classes, "--out", s, "--json"])
        XCTAssertEqual(sr.status, 0, sr.stderr)
        let scored = try XCTUnwrap(try TestEnv.json(Data(sr.stdout.utf8)) as? [[String: Any]], sr.stdout)
        XCTAssertEqual(scored.count, 24)
        let rows = try csv(s + "/scores.csv")
        XCTAssertEqual(rows.first, ["slide_id", "label", "p_normal", "p_tumour", "predicted"])
        XCTAssertEqual(rows.dropFirst().map { $0[0] }, c.ids)
        XCTAssertEqual(rows.dropFirst().map { $0[1] }, c.ids.indices.map { $0 % 2 == 1 ? "tumour" : "normal" })
        XCTAssertNotNil(try TestEnv.json(Data(contentsOf: URL(fileURLWithPath: s + "/metrics.json"))) as? [String: Any])
        XCTAssertTrue(isPNG(s + "/roc.png"))
        for id in c.ids {
            let a = try PatchBag.read(path: "\(s)/attention/\(id).h5", scores: ["attention", "attention_raw"])
            XCTAssertEqual(a.coords, c.coords, "\(id): coords as in the bag")
            let att = try XCTUnwrap(a.scores["attention"]), raw = try XCTUnwrap(a.scores["attention_raw"])
            XCTAssertEqual(att.count, a.count); XCTAssertEqual(raw.count, a.count)
            XCTAssertEqual(Double(att.reduce(0, +)), 1, accuracy: 1e-4, id)
            XCTAssertTrue(att.allSatisfy { $0 > 0 })
            // attention = softmax(attention_raw)
            let mx = raw.max()!, e = raw.map { exp(Double($0 - mx)) }, z = e.reduce(0, +)
            for i in att.indices { XCTAssertEqual(Double(att[i]), e[i] / z, accuracy: 1e-5 + 1e-4 * Double(att[i])) }
            XCTAssertEqual(a.fileAttributes["slide_path"], try PatchBag.read(path: c.tiled).fileAttributes["slide_path"])
        }
        // Also readable by h5py as CLAM's tools read it.
        let h5 = try TestEnv.runPython("""
        import sys, json, h5py
        f = h5py.File(sys.argv[1], 'r')
        print(json.dumps(dict(keys=sorted(f.keys()), n=len(f['coords']), sum=float(f['attention'][:].sum()))))
        """, ["\(s)/attention/\(c.ids[1]).h5"])
        let info = try XCTUnwrap(try TestEnv.json(h5) as? [String: Any])
        XCTAssertEqual(info["keys"] as? [String], ["attention", "attention_raw", "coords"])
        XCTAssertEqual(info["n"] as? Int, c.coords.count / 2)
        XCTAssertEqual(info["sum"] as? Double ?? 0, 1, accuracy: 1e-4)

        // A bag of another width fails alone; the rest are scored.
        let bag = try PatchBag.read(path: c.tiled)
        try PatchBag.write(path: c.features + "/wide.h5", coords: bag.coords, coordsAttributes: bag.coordsAttributes, tissueFraction: nil,
                           features: [Float](repeating: 0.5, count: bag.count * 8), featureDim: 8, fileAttributes: bag.fileAttributes)
        let s2 = c.dir + "/scores2"
        let bad = try radiopath(["score", c.features, "--model", model, "--classes", Self.classes, "--out", s2])
        XCTAssertEqual(bad.status, 1, bad.stderr)
        XCTAssertTrue(bad.stderr.contains("wide"), bad.stderr)
        XCTAssertTrue(bad.stderr.contains("24 scored, 1 failed"), bad.stderr)
        XCTAssertEqual(try csv(s2 + "/scores.csv").count, 25)
        XCTAssertFalse(FileManager.default.fileExists(atPath: s2 + "/attention/wide.h5"))

        // Unusable arguments: exit 2, naming the file.
        let nolabel = c.dir + "/nolabel.csv"
        try "slide_id,diagnosis\nslide_00,x\n".write(toFile: nolabel, atomically: true, encoding: .utf8)
        let nl = try radiopath(["score", c.features, "--model", model, "--labels", nolabel, "--out", c.dir + "/s3"])
        XCTAssertEqual(nl.status, 2, nl.stderr)
        XCTAssertTrue(nl.stderr.contains(nolabel) && nl.stderr.contains("label"), nl.stderr)
        let nowhere = try radiopath(["score", c.dir + "/no-such-folder", "--model", model, "--out", c.dir + "/s4"])
        XCTAssertEqual(nowhere.status, 2, nowhere.stderr)
        XCTAssertTrue(nowhere.stderr.contains("no-such-folder: no such file or folder"), nowhere.stderr)

        // heatmap
        let h = c.dir + "/heatmaps"
        let id = c.ids[1]
        let hr = try radiopath(["heatmap", "\(s)/attention/\(id).h5", "--out", h, "--top-k", "4", "--geojson", "--full-res"])
        XCTAssertEqual(hr.status, 0, hr.stderr)
        let peer = try TestEnv.runPython("""
        import sys, json, openslide
        from PIL import Image
        slide = openslide.OpenSlide(sys.argv[1])
        heat = Image.open(sys.argv[2]); heat.load()
        overlay = openslide.OpenSlide(sys.argv[3])
        tops = [Image.open(p).size for p in sys.argv[4:6]]
        geo = json.load(open(sys.argv[6]))
        print(json.dumps(dict(slide=list(slide.dimensions), heat=list(heat.size), heat_mode=heat.mode,
                              overlay=list(overlay.dimensions), levels=overlay.level_count, tops=tops,
                              type=geo['type'], features=len(geo['features']),
                              geometry=geo['features'][0]['geometry']['type'])))
        """, [c.slide, "\(h)/\(id)_heatmap.png", "\(h)/\(id)_overlay.tiff", "\(h)/\(id)_top4.png", "\(h)/\(id)_bottom4.png",
              "\(h)/\(id)_patches.geojson"])
        let p = try XCTUnwrap(try TestEnv.json(peer) as? [String: Any])
        let size = try XCTUnwrap(p["slide"] as? [Int]), heat = try XCTUnwrap(p["heat"] as? [Int])
        let w32 = Int((Double(size[0]) / 32).rounded()), h32 = Int((Double(size[1]) / 32).rounded())
        // The slide at 1/32 plus a legend panel to the right and a title band above.
        XCTAssertGreaterThan(heat[0], w32, "\(heat) vs slide/32 \(w32)×\(h32)")
        XCTAssertLessThan(heat[0], w32 + 400, "\(heat)")
        XCTAssertGreaterThan(heat[1], h32, "\(heat)")
        XCTAssertLessThan(heat[1], h32 + 300, "\(heat)")
        XCTAssertEqual(p["overlay"] as? [Int], size, "full-resolution overlay at the slide's size")
        XCTAssertGreaterThanOrEqual(p["levels"] as? Int ?? 0, 1)
        XCTAssertEqual((p["tops"] as? [[Int]])?.count, 2)
        XCTAssertEqual(p["type"] as? String, "FeatureCollection")
        XCTAssertEqual(p["features"] as? Int, c.coords.count / 2, "one GeoJSON feature per patch")
        XCTAssertEqual(p["geometry"] as? String, "Polygon")
    }

    // MARK: bad input

    func testTrainRefusesLabelsItCannotUse() throws {
        let c = try cohort("mil-bad")
        // A labelled slide without a bag: listed; skipped by default, fatal with --missing fail.
        var rows = try String(contentsOfFile: c.labels, encoding: .utf8)
        rows += "ghost_slide,tumour\n"
        let withGhost = c.dir + "/ghost.csv"
        try rows.write(toFile: withGhost, atomically: true, encoding: .utf8)
        let quick = ["--folds", "2", "--epochs", "1", "--patience", "0"]
        let skip = try radiopath(["train", c.features, "--labels", withGhost, "--classes", Self.classes, "--out", c.dir + "/skip"] + quick)
        XCTAssertEqual(skip.status, 0, skip.stderr)
        XCTAssertTrue(skip.stderr.contains("1 labelled slides have no feature bag: ghost_slide"), skip.stderr)
        XCTAssertTrue(FileManager.default.fileExists(atPath: c.dir + "/skip/fold_1/model.safetensors"))
        let fail = try radiopath(["train", c.features, "--labels", withGhost, "--classes", Self.classes, "--out", c.dir + "/fail",
                                  "--missing", "fail"] + quick)
        XCTAssertEqual(fail.status, 2, fail.stderr)
        XCTAssertTrue(fail.stderr.contains("ghost_slide"), fail.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: c.dir + "/fail/fold_0"), "nothing trained")

        // One class only.
        let one = c.dir + "/one.csv"
        try ("slide_id,label\n" + c.ids.map { "\($0),tumour" }.joined(separator: "\n") + "\n").write(toFile: one, atomically: true, encoding: .utf8)
        let single = try radiopath(["train", c.features, "--labels", one, "--classes", Self.classes, "--out", c.dir + "/one"] + quick)
        XCTAssertEqual(single.status, 2, single.stderr)
        XCTAssertTrue(single.stderr.contains("only one class"), single.stderr)
        XCTAssertTrue(single.stderr.contains("a classifier needs two"), single.stderr)
        XCTAssertTrue(single.stderr.contains(one), "names the file: \(single.stderr)")

        // No label column.
        let nolabel = c.dir + "/nolabel.csv"
        try ("slide_id,diagnosis\n" + c.ids.map { "\($0),x" }.joined(separator: "\n") + "\n").write(toFile: nolabel, atomically: true, encoding: .utf8)
        let nl = try radiopath(["train", c.features, "--labels", nolabel, "--out", c.dir + "/nl"] + quick)
        XCTAssertEqual(nl.status, 2, nl.stderr)
        XCTAssertTrue(nl.stderr.contains(nolabel), "names the file: \(nl.stderr)")
        XCTAssertTrue(nl.stderr.contains("label"), nl.stderr)

        // Features that are not there.
        let nowhere = try radiopath(["train", c.dir + "/no-such-folder", "--labels", c.labels, "--out", c.dir + "/nw"] + quick)
        XCTAssertEqual(nowhere.status, 2, nowhere.stderr)
        XCTAssertTrue(nowhere.stderr.contains("no-such-folder: no such file or folder"), nowhere.stderr)
    }

    func testHeatmapNamesAMissingScoreColumn() throws {
        let slide = try TestEnv.testdata("slides/CMU-1-Small-Region.svs")
        let dir = try TestEnv.scratch(self, "mil-heat-bad")
        let t = try radiopath(["tile", slide, "--out", dir + "/tiles", "--patch-size", "224"])
        XCTAssertEqual(t.status, 0, t.stderr)
        // A tiling bag has coords and slide_path but no attention column.
        let r = try radiopath(["heatmap", dir + "/tiles/patches/CMU-1-Small-Region.h5", "--out", dir + "/h"])
        XCTAssertEqual(r.status, 1, r.stderr)
        XCTAssertTrue(r.stderr.contains("'attention'"), "names the column: \(r.stderr)")
        XCTAssertTrue(r.stderr.contains("CMU-1-Small-Region.h5"), r.stderr)
        let other = try radiopath(["heatmap", dir + "/tiles/patches/CMU-1-Small-Region.h5", "--out", dir + "/h", "--score", "tumour_prob"])
        XCTAssertEqual(other.status, 1, other.stderr)
        XCTAssertTrue(other.stderr.contains("'tumour_prob'"), other.stderr)
        let norm = try radiopath(["heatmap", dir + "/tiles/patches/CMU-1-Small-Region.h5", "--out", dir + "/h", "--normalise", "zscore"])
        XCTAssertEqual(norm.status, 2, "a bad argument: \(norm.stderr)")
        XCTAssertTrue(norm.stderr.contains("--normalise zscore"), norm.stderr)
    }
}

/// Seeded test data: Box–Muller for Gaussians.
private extension SeededRNG {
    mutating func uniform() -> Double { (Double(next() >> 11) + 0.5) / Double(1 << 53) }
    mutating func gaussian() -> Float { Float((-2 * log(uniform())).squareRoot() * cos(2 * .pi * uniform())) }
}

/// `heatmap --overlap`: the slide is tiled again with the recorded parameters and half-patch
/// steps, embedded with the recorded encoder and scored with the recorded model.
final class OverlapHeatmapTests: XCTestCase {
    func testOverlapRetilesEmbedsAndScoresTheDenserGrid() throws {
        let slide = try TestEnv.testdata("slides/CMU-1-Small-Region.svs")
        let dir = try TestEnv.scratch(self, "cli-overlap")
        let embed = try radiopath(["embed", slide, "--out", dir + "/run"])
        XCTAssertEqual(embed.status, 0, embed.stderr)
        let model = try MILModel(kind: .clamSB, inputDim: 58, classes: 2, seed: 5)   // pathomic-v1 is 58-d
        try model.save(to: dir + "/model.safetensors")
        let score = try radiopath(["score", dir + "/run/features_pathomic-v1", "--model", dir + "/model.safetensors", "--out", dir + "/s"])
        XCTAssertEqual(score.status, 0, score.stderr)
        let attention = dir + "/s/attention/CMU-1-Small-Region.h5"
        let r = try radiopath(["heatmap", attention, "--out", dir + "/h", "--overlap", "0.5"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let sparse = try PatchBag.read(path: attention, scores: ["attention"])
        let dense = try PatchBag.read(path: dir + "/h/overlap/attention/CMU-1-Small-Region.h5", scores: ["attention"])
        XCTAssertGreaterThan(dense.count, 2 * sparse.count, "half-patch steps give about four times the patches")
        XCTAssertEqual(dense.coordsAttributes["overlap"], .int(112))
        let a = try XCTUnwrap(dense.scores["attention"])
        XCTAssertEqual(a.reduce(0, +), 1, accuracy: 1e-4)
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/h/CMU-1-Small-Region_heatmap.png"))

        // A file that does not say how it was made cannot be re-tiled.
        try PatchBag.write(path: dir + "/bare.h5", coords: sparse.coords, coordsAttributes: sparse.coordsAttributes, tissueFraction: nil,
                           scores: ["attention": try XCTUnwrap(sparse.scores["attention"])],
                           fileAttributes: ["slide_path": .string(slide)])
        let bare = try radiopath(["heatmap", dir + "/bare.h5", "--out", dir + "/h2", "--overlap", "0.5"])
        XCTAssertEqual(bare.status, 1)
        XCTAssertTrue(bare.stderr.contains("does not record tiling_parameters"), bare.stderr)
    }
}
