@testable import Embedder
import Foundation
import ImageCore
import SlideIO
import TestSupport
import XCTest

/// pathomic-v1: names and dictionary, defined values on degenerate patches, real H&E, determinism,
/// and every feature against an independent numpy / scikit-image / OpenCV computation.
final class PathomicEncoderTests: XCTestCase {
    private let encoder = PathomicEncoder()
    private var names: [String] { encoder.featureNames }

    func testNamesContractAndDataDictionary() throws {
        XCTAssertEqual(encoder.name, "pathomic-v1")
        XCTAssertEqual(encoder.featureDim, 58)
        XCTAssertEqual(names.count, encoder.featureDim)
        XCTAssertEqual(Set(names).count, names.count, "names are unique")
        for n in names { XCTAssertNotNil(n.range(of: "^[a-z][a-z0-9]*(_[a-z0-9]+)*$", options: .regularExpression), n) }
        XCTAssertEqual(encoder.contract, InputContract(patchPx: 224, mpp: 0.5, resize: "area", mean: [], std: []))
        // Pinned positions of the versioned format.
        XCTAssertEqual(names[0], "tissue_fraction")
        XCTAssertEqual(names[7], "h_od_mean")
        XCTAssertEqual(names[19], "glcm_contrast_d1_mean")
        XCTAssertEqual(names[43], "lbp_uniform_0")
        XCTAssertEqual(names[57], "nuclei_area_fraction")
        // docs/pathomic-v1.md lists every feature, in order.
        let doc = try String(contentsOfFile: TestEnv.packageRoot + "/docs/pathomic-v1.md", encoding: .utf8)
        let documented = doc.split(separator: "\n").compactMap { line -> String? in
            guard line.hasPrefix("| `"), let end = line.dropFirst(3).firstIndex(of: "`") else { return nil }
            return String(line[line.index(line.startIndex, offsetBy: 3)..<end])
        }
        XCTAssertEqual(documented, names)
        XCTAssertEqual(encoder.provenance["definition"], "docs/pathomic-v1.md")
    }

    func testRejectsWrongSizes() {
        let bytes = [UInt8](repeating: 255, count: 224 * 224 * 3 - 1)
        var out = [Float](repeating: 0, count: 58)
        XCTAssertThrowsError(try bytes.withUnsafeBufferPointer { b in
            try out.withUnsafeMutableBufferPointer { try encoder.encode(b, count: 1, into: $0) }
        }) { XCTAssertTrue("\($0)".contains("224×224") && "\($0)".contains("150527 bytes"), "\($0)") }
        let ok = [UInt8](repeating: 255, count: 2 * 224 * 224 * 3)
        XCTAssertThrowsError(try ok.withUnsafeBufferPointer { b in
            try out.withUnsafeMutableBufferPointer { try encoder.encode(b, count: 2, into: $0) }
        }) { XCTAssertTrue("\($0)".contains("2×58") && "\($0)".contains("got 301056 bytes and 58 floats"), "\($0)") }
    }

    func testDegeneratePatchesHaveDefinedValues() throws {
        let white = try features(solid(255, 255, 255)), black = try features(solid(0, 0, 0))
        for (what, f, level) in [("white", white, Float(1)), ("black", black, Float(0))] {
            XCTAssertTrue(f.allSatisfy { $0.isFinite }, what)
            for (k, n) in names.enumerated() {
                let expected: Float = n.hasPrefix("rgb_") && n.hasSuffix("_mean") ? level : 0
                XCTAssertEqual(f[k], expected, "\(what) \(n)")
            }
        }
        // Single colours that are tissue: pale pink (H below threshold) and dark purple (above).
        for (r, g, b) in [(UInt8(235), UInt8(180), UInt8(210)), (90, 40, 130)] {
            let what = "solid \(r),\(g),\(b)"
            let f = try features(solid(r, g, b))
            XCTAssertTrue(f.allSatisfy { $0.isFinite }, what)
            let stains = StainMatrix.hed.separate(RGBImage(width: 1, height: 1, fill: (r, g, b)))
            let v = value(f)
            XCTAssertEqual(v("tissue_fraction"), 1, what)
            XCTAssertEqual(v("rgb_r_mean"), Float(r) / 255, accuracy: 1e-6, what)
            XCTAssertEqual(v("rgb_g_std"), 0, what)
            for (s, amount) in [("h", stains[0]), ("e", stains[1])] {
                for stat in ["mean", "p10", "p50", "p90"] { XCTAssertEqual(v("\(s)_od_\(stat)"), amount, accuracy: 1e-7, "\(what) \(s) \(stat)") }
                XCTAssertEqual(v("\(s)_od_std"), 0, accuracy: 1e-7, what)
            }
            let hPositive: Float = stains[0] > 0.07 ? 1 : 0
            XCTAssertEqual(v("h_positive_fraction"), hPositive, what)
            for d in [1, 3] {
                for (p, expected) in [("contrast", 0), ("dissimilarity", 0), ("homogeneity", 1), ("energy", 1), ("asm", 1), ("correlation", 1)] as [(String, Float)] {
                    XCTAssertEqual(v("glcm_\(p)_d\(d)_mean"), expected, accuracy: 1e-7, "\(what) \(p) d\(d)")
                    XCTAssertEqual(v("glcm_\(p)_d\(d)_range"), 0, accuracy: 1e-7, "\(what) \(p) d\(d) range")
                }
            }
            XCTAssertEqual((0..<10).map { v("lbp_uniform_\($0)") }.reduce(0, +), 1, accuracy: 1e-5, what)
            for n in ["nuclei_count", "nuclei_per_mm2", "nucleus_area_mean_um2", "nucleus_area_std_um2", "nuclei_area_fraction"] {
                XCTAssertEqual(v(n), 0, "\(what) \(n)") // no blob, or one blob of 12544 µm²
            }
        }
        XCTAssertGreaterThan(StainMatrix.hed.separate(RGBImage(width: 1, height: 1, fill: (90, 40, 130)))[0], 0.07,
                             "the dark purple case exercises the H-positive branch")
    }

    func testRealPatchHasTissueAndNuclei() throws {
        let patch = try svsPatch(x: 1120, y: 896)
        let v = value(try features(patch))
        XCTAssertGreaterThan(v("tissue_fraction"), 0.5)
        XCTAssertGreaterThan(v("nuclei_count"), 0)
        XCTAssertTrue((500...20000).contains(v("nuclei_per_mm2")), "nuclei/mm² \(v("nuclei_per_mm2"))")
        XCTAssertTrue((10...250).contains(v("nucleus_area_mean_um2")), "area \(v("nucleus_area_mean_um2"))")
        XCTAssertLessThan(v("h_od_p10"), v("h_od_p50"))
        XCTAssertLessThan(v("h_od_p50"), v("h_od_p90"))
        XCTAssertEqual((0..<10).map { v("lbp_uniform_\($0)") }.reduce(0, +), 1, accuracy: 1e-5)
        XCTAssertGreaterThan(v("glcm_correlation_d1_mean"), v("glcm_correlation_d3_mean"), "texture decorrelates with distance")
    }

    func testDeterministicAcrossThreadsAndBatches() throws {
        let before = Compute.threads
        defer { Compute.setThreads(before) }
        var patches = try [(1120, 896), (896, 448), (224, 896), (1568, 1344), (672, 2688)].map { try svsPatch(x: $0.0, y: $0.1) }
        patches += [solid(255, 255, 255), solid(90, 40, 130)]
        Compute.setThreads(1)
        let one = try encodeRows(patches)
        Compute.setThreads(2)
        let two = try encodeRows(patches), again = try encodeRows(patches)
        XCTAssertTrue(one == two && two == again, "same bytes whatever the thread count")
        XCTAssertTrue(try encodeRows([patches[3]])[0] == two[3], "a row does not depend on its batch")
        XCTAssertFalse(two[0] == two[1], "different patches differ")
    }

    /// Every feature of 14 patches against numpy / scikit-image / OpenCV implementing the
    /// definitions of docs/pathomic-v1.md independently. Tolerances: integer-derived values 1e-6
    /// absolute (float32 output); stain statistics 1e-6 absolute; GLCM 1e-6 relative; LBP shares
    /// 1e-7; nuclei count exact, the rest 1e-6 relative.
    func testMatchesNumpyScikitImagePeer() throws {
        var patches = try [(1120, 896), (896, 448), (224, 896), (0, 448), (1568, 1344), (672, 2688), (1792, 2240)]
            .map { try svsPatch(x: $0.0, y: $0.1) }
        let tumour = try ImageFile.read(path: try TestEnv.testdata("histology/he_tumour_1000px.png"))
        patches += [crop(tumour, 0, 0), crop(tumour, 500, 600)]
        var half = patches[0]
        for y in 0..<224 { for x in 0..<112 { half[x, y] = (255, 255, 255) } }
        var noise = RGBImage(width: 224, height: 224)
        var state: UInt64 = 42 // fixed LCG: the same noise every run
        for i in 0..<noise.pixels.count { state = state &* 6364136223846793005 &+ 1442695040888963407; noise.pixels[i] = UInt8(truncatingIfNeeded: state >> 56) }
        patches += [half, noise, solid(255, 255, 255), solid(235, 180, 210), solid(90, 40, 130)]

        let dir = try TestEnv.scratch(self, "pathomic")
        try Data(patches.flatMap { $0.pixels }).write(to: URL(fileURLWithPath: dir + "/patches.u8"))
        let out = try TestEnv.runPython(Self.peer, [dir + "/patches.u8", "\(patches.count)"])
        let ref = try JSONSerialization.jsonObject(with: out) as! [[Double]]
        let ours = try encodeRows(patches)
        XCTAssertEqual(ref.count, patches.count)
        for (p, (row, expected)) in zip(ours, ref).enumerated() {
            XCTAssertEqual(expected.count, names.count, "peer feature count")
            for (k, n) in names.enumerated() {
                let a = Double(row[k]), b = expected[k]
                let tol: Double
                if n.hasPrefix("glcm_") || ["nuclei_per_mm2", "nucleus_area_mean_um2", "nucleus_area_std_um2"].contains(n) {
                    tol = 1e-6 * max(abs(b), 0.1)
                } else if n.hasPrefix("lbp_") {
                    tol = 1e-7
                } else if n == "nuclei_count" {
                    tol = 0
                } else {
                    tol = 1e-6
                }
                XCTAssertLessThanOrEqual(abs(a - b), tol, "patch \(p) \(n): ours \(a), peer \(b)")
            }
        }
        // The peer saw real variety: nuclei in the dense patch, partial tissue in others.
        XCTAssertGreaterThan(ref[0][names.firstIndex(of: "nuclei_count")!], 10)
        XCTAssertTrue(ref.contains { (0.1...0.9).contains($0[0]) }, "a partial-tissue patch")
    }

    /// The fast 3 × 3 opening gives the same bytes as ImageCore's (OpenCV-checked) `opened(size: 3)`.
    func testOpeningMatchesImageCore() {
        var state: UInt64 = 7
        func next() -> UInt8 { state = state &* 6364136223846793005 &+ 1442695040888963407; return UInt8(truncatingIfNeeded: state >> 56) }
        for (w, h) in [(1, 1), (1, 9), (9, 1), (2, 2), (3, 5), (31, 17), (224, 224)] {
            for binary in [true, false] {
                let img = GrayImage(width: w, height: h, pixels: (0..<(w * h)).map { _ in binary ? (next() < 150 ? 255 : 0) : next() })
                var tmp = [UInt8](repeating: 0, count: w * h), out = tmp
                img.pixels.withUnsafeBufferPointer { s in tmp.withUnsafeMutableBufferPointer { t in out.withUnsafeMutableBufferPointer {
                    open3x3(s.baseAddress!, width: w, height: h, tmp: t.baseAddress!, out: $0.baseAddress!)
                } } }
                XCTAssertEqual(out, img.opened(size: 3).pixels, "\(w)x\(h) binary \(binary)")
            }
        }
    }

    /// The bucketed selection gives numpy's linear percentiles, also with ties, zeros and n ≤ 2.
    func testPercentilesMatchNumpy() throws {
        var state: UInt64 = 3
        func next() -> Float { state = state &* 6364136223846793005 &+ 1442695040888963407; return Float(state >> 40) / Float(1 << 24) }
        var cases: [[Float]] = [[0.25], [0.5, 0.125], [0, 0, 0, 0], [3, 1, 2]]
        cases.append((0..<5000).map { _ in next() * 0.3 })                           // spread
        cases.append((0..<4000).map { _ in let v = next(); return v < 0.4 ? 0 : v })   // many zeros
        cases.append((0..<3001).map { _ in Float(Int(next() * 6)) * 0.01 })           // heavy ties
        cases.append((0..<2000).map { _ in 0.07 + next() * 1e-6 })                     // one bucket
        let dir = try TestEnv.scratch(self, "pct")
        var ours: [[Double]] = []
        for (k, c) in cases.enumerated() {
            try c.withUnsafeBufferPointer { try Data(buffer: $0).write(to: URL(fileURLWithPath: dir + "/c\(k).f32")) }
            var scratch = [Float](repeating: 0, count: c.count)
            let before = c
            ours.append(c.withUnsafeBufferPointer { v in scratch.withUnsafeMutableBufferPointer {
                linearPercentiles(v.baseAddress!, count: c.count, [0.1, 0.5, 0.9], scratch: $0.baseAddress!)
            } })
            XCTAssertEqual(c, before, "input untouched")
        }
        let out = try TestEnv.runPython("""
        import sys, json, numpy as np
        print(json.dumps([np.percentile(np.fromfile(f'{sys.argv[1]}/c{k}.f32', dtype=np.float32).astype(np.float64), [10, 50, 90]).tolist() for k in range(int(sys.argv[2]))]))
        """, [dir, "\(cases.count)"])
        let ref = try JSONSerialization.jsonObject(with: out) as! [[Double]]
        for (k, (a, b)) in zip(ours, ref).enumerated() {
            for (x, y) in zip(a, b) { XCTAssertEqual(x, y, accuracy: 1e-12 * max(1, abs(y)), "case \(k)") }
        }
    }

    // MARK: Helpers

    private static let peer = #"""
    import sys, json
    import numpy as np, cv2
    from skimage.color import rgb2hed
    from skimage.feature import graycomatrix, graycoprops, local_binary_pattern
    from skimage.measure import label
    n = int(sys.argv[2])
    P = np.fromfile(sys.argv[1], dtype=np.uint8).reshape(n, 224, 224, 3)
    def feats(a):
        ai = a.astype(np.int64)
        t = (a.min(-1) < 220) & (a.max(-1) >= 10)
        tc = int(t.sum())
        f = [tc / t.size]
        f += [a[..., c].mean() / 255 for c in range(3)]
        f += [a[..., c].astype(np.float64).std() / 255 for c in range(3)]
        hed = rgb2hed(a).astype(np.float32)
        for k in (0, 1):
            v = hed[..., k][t].astype(np.float64)
            f += [v.mean(), v.std(), *np.percentile(v, [10, 50, 90])] if tc else [0.0] * 5
        hp = t & (hed[..., 0] > np.float32(0.07))
        ep = t & (hed[..., 1] > np.float32(0.05))
        f += [hp.sum() / tc, ep.sum() / tc] if tc else [0.0, 0.0]
        grey = ((ai[..., 0] * 19595 + ai[..., 1] * 38470 + ai[..., 2] * 7471 + 32768) >> 16).astype(np.uint8)
        q = np.where(t, grey >> 3, 32).astype(np.uint8)  # level 32 = not tissue, dropped below
        angles = [0, np.pi / 4, np.pi / 2, 3 * np.pi / 4]
        G = graycomatrix(q, [1, 3], angles, levels=33, symmetric=True)[:32, :32]
        for di in range(2):
            used = [ai_ for ai_ in range(4) if G[:, :, di, ai_].sum() > 0]
            for p in ['contrast', 'dissimilarity', 'homogeneity', 'energy', 'ASM', 'correlation']:
                vals = graycoprops(G, p)[di, used]
                f += [vals.mean(), vals.max() - vals.min()] if used else [0.0, 0.0]
        codes = local_binary_pattern(grey, 8, 1, 'uniform').astype(np.int64)
        f += list(np.bincount(codes[t], minlength=10) / tc) if tc else [0.0] * 10
        o = cv2.morphologyEx(hp.astype(np.uint8) * 255, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8)) > 0
        areas = np.bincount(label(o, connectivity=2).ravel())[1:]
        keep = areas[(areas >= 40) & (areas <= 1000)].astype(np.float64)
        f += [len(keep), len(keep) / (tc * 0.25e-6) if tc else 0.0,
              keep.mean() * 0.25 if len(keep) else 0.0, keep.std() * 0.25 if len(keep) else 0.0,
              keep.sum() / tc if tc else 0.0]
        return [float(x) for x in f]
    print(json.dumps([feats(P[i]) for i in range(n)]))
    """#

    private func solid(_ r: UInt8, _ g: UInt8, _ b: UInt8) -> RGBImage { RGBImage(width: 224, height: 224, fill: (r, g, b)) }

    private func svsPatch(x: Int, y: Int) throws -> RGBImage {
        let slide = try Slide.open(path: try TestEnv.testdata("slides/CMU-1-Small-Region.svs"))
        return try slide.readRegion(x: x, y: y, level: 0, width: 224, height: 224)
    }

    private func crop(_ img: RGBImage, _ x: Int, _ y: Int) -> RGBImage {
        var out = RGBImage(width: 224, height: 224)
        for r in 0..<224 { for c in 0..<224 { out[c, r] = img[x + c, y + r] } }
        return out
    }

    private func encodeRows(_ patches: [RGBImage]) throws -> [[Float]] {
        let bytes = patches.flatMap { $0.pixels }
        var out = [Float](repeating: .nan, count: patches.count * encoder.featureDim)
        try bytes.withUnsafeBufferPointer { b in
            try out.withUnsafeMutableBufferPointer { try encoder.encode(b, count: patches.count, into: $0) }
        }
        return (0..<patches.count).map { Array(out[($0 * encoder.featureDim)..<(($0 + 1) * encoder.featureDim)]) }
    }

    private func features(_ patch: RGBImage) throws -> [Float] { try encodeRows([patch])[0] }

    private func value(_ f: [Float]) -> (String) -> Float {
        let index = Dictionary(uniqueKeysWithValues: names.enumerated().map { ($1, $0) })
        return { f[index[$0]!] }
    }
}
