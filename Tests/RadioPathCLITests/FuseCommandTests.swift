import Foundation
import ImageCore
import PatchBag
import Registration
import Tabular
import TestSupport
import VolumeIO
import XCTest

/// `radiopath fuse` end to end: the real prostate T2 and gland label, a section rendered from
/// slice 14 through a known similarity map, registered by `radiopath register`, regions built
/// here (gland left / right on slice 14, the gland on slice 15) and patches placed at known slide
/// positions with known attention → the region table must count and average exactly those.
final class FuseCommandTests: XCTestCase {
    static let mpp = 75.0, size = 1000, slice = 14

    /// Slide mm → MRI LPS mm (slice plane): mirror, turn 35°, undo 10 % shrinkage, a 2 mm bump
    /// (the map `RegisterCommandTests` registers to 0.05 mm TRE).
    struct Truth {
        var fixedCenter: SIMD2<Double>
        var movingCenter = SIMD2(37.5, 37.5)
        var scale = 1 / 0.9, angle = 35.0 * .pi / 180
        var bump = (center: SIMD2<Double>.zero, amplitude: SIMD2(1.6, -1.2), sigma: 10.0)
        func toMRI(_ y: SIMD2<Double>) -> SIMD2<Double> {
            var v = y - movingCenter
            v.x = -v.x
            let c = cos(angle), s = sin(angle)
            let z = fixedCenter + SIMD2(c * v.x - s * v.y, s * v.x + c * v.y) * scale
            let r = z - bump.center
            return z + bump.amplitude * exp(-0.5 * (r * r).sum() / (bump.sigma * bump.sigma))
        }
    }

    func testRegionTableCountsThePlacedPatches() throws {
        let mriPath = try TestEnv.testdata("radiology/prostate/aaa0060_T2_axial.nii.gz")
        let labelPath = try TestEnv.testdata("radiology/prostate/aaa0060_T2_axial_prostate_label.nii.gz")
        let dir = try TestEnv.scratch(self, "fuse")
        let mri = try VolumeFile.read(mriPath), gland = try VolumeFile.read(labelPath)
        let fixed = try Image2D(slice: Self.slice, of: mri)
        var mask = try Image2D(slice: Self.slice, of: gland)
        for k in 0..<mask.pixels.count { mask.pixels[k] = mask.pixels[k] > 0.5 ? 1 : 0 }
        let m = try MaskMoments(mask)
        var truth = Truth(fixedCenter: m.centroid)
        truth.bump.center = m.centroid + SIMD2(4, -3)

        // Regions: left (x index < centroid column) and right halves of the gland on slice 14,
        // and the gland on slice 15 (off the section plane by one slice).
        let split = Int(fixed.continuousIndex(ofPoint: m.centroid).x.rounded())
        var regions = gland
        let nx = gland.size.x, ny = gland.size.y
        for k in 0..<gland.size.z { for j in 0..<ny { for i in 0..<nx {
            let g = gland[i, j, k] > 0.5
            regions[i, j, k] = !g ? 0 : k == Self.slice ? (i < split ? 1 : 2) : k == Self.slice + 1 ? 3 : 0
        } } }
        try FileManager.default.createDirectory(atPath: dir + "/regions", withIntermediateDirectories: true)
        try VolumeFile.write(regions, to: dir + "/regions/halves.nii.gz")
        try """
        {"family": "halves", "regions": [
          {"label": 1, "name": "left", "kind": "sector", "definition": "gland on slice 14, x index < \(split)"},
          {"label": 2, "name": "right", "kind": "sector", "definition": "gland on slice 14, x index ≥ \(split)"},
          {"label": 3, "name": "next", "kind": "roi", "definition": "gland on slice 15"}]}
        """.write(toFile: dir + "/regions/halves.json", atomically: true, encoding: .utf8)

        // The section (H&E-like) and its tissue mask, rendered through the truth.
        let sp = Self.mpp / 1000
        let inside = zip(fixed.pixels, mask.pixels).filter { $0.1 > 0.5 }.map { $0.0 }.sorted()
        let lo = inside[inside.count / 50], hi = inside[inside.count * 49 / 50]
        let smooth = mask.smoothed(sigma: 0.3)
        var rgb = RGBImage(width: Self.size, height: Self.size), tissue = RGBImage(width: Self.size, height: Self.size)
        var rng = SeededRNG(14)
        func unit() -> Double { Double(rng.next() >> 11) / Double(1 << 53) }
        for j in 0..<Self.size {
            for i in 0..<Self.size {
                let x = truth.toMRI(SIMD2(Double(i) + 0.5, Double(j) + 0.5) * sp)
                let t = Double(smooth.value(at: x, outside: 0))
                var stain = 0.78 - 0.38 * (1 - min(max(Double((fixed.value(at: x, outside: lo) - lo) / (hi - lo)), 0), 1)) + 0.03 * (unit() - 0.5)
                if unit() < 0.08 { stain -= 0.25 }
                rgb[i, j] = (UInt8(t * 255 * stain + (1 - t) * 240), UInt8(t * 170 * stain + (1 - t) * 240), UInt8(t * 215 * stain + (1 - t) * 242))
                if t > 0.5 { tissue[i, j] = (255, 255, 255) }
            }
        }
        try PNGCodec.encode(rgb).write(to: URL(fileURLWithPath: dir + "/section.png"))
        try PNGCodec.encode(tissue).write(to: URL(fileURLWithPath: dir + "/tissue.png"))
        // Patches: 20 px (1.5 mm) squares on a 24 px slide grid; kept where the truth puts the
        // centre at least 3 mm inside one half; attention known; three more off the tissue.
        func region(_ i: Int, _ j: Int) -> Int { i < 0 || j < 0 || i >= nx || j >= ny ? 0 : Int(regions[i, j, Self.slice]) }
        let r = Int((3 / fixed.spacing.x).rounded(.up))
        var coords: [Int64] = [], attention: [Float] = [], expected: [Int: [Float]] = [1: [], 2: []]
        for y in stride(from: 0, to: Self.size - 20, by: 24) { for x in stride(from: 0, to: Self.size - 20, by: 24) {
            let u = fixed.continuousIndex(ofPoint: truth.toMRI(SIMD2(Double(x) + 10, Double(y) + 10) * sp)).rounded(.toNearestOrAwayFromZero)
            let i = Int(u.x), j = Int(u.y), l = region(i, j)
            guard l != 0 else { continue }
            var interior = true
            for dj in -r...r { for di in -r...r where di * di + dj * dj <= r * r && region(i + di, j + dj) != l { interior = false } }
            guard interior else { continue }
            coords += [Int64(x), Int64(y)]
            let a = Float(coords.count % 7) / 10 + (l == 1 ? 0 : 1)
            attention.append(a)
            expected[l]!.append(a)
        } }
        for corner in [(10, 10), (950, 20), (30, 960)] { coords += [Int64(corner.0), Int64(corner.1)]; attention.append(5) }
        XCTAssertGreaterThanOrEqual(expected[1]!.count, 5); XCTAssertGreaterThanOrEqual(expected[2]!.count, 5)
        // Register, with the patch centres as landmarks so the report carries a TRE.
        var marks = "fixed_x,fixed_y,moving_x,moving_y\n"
        for k in 0..<(coords.count / 2 - 3) {
            let q = SIMD2(Double(coords[2 * k]) + 10, Double(coords[2 * k + 1]) + 10), p = truth.toMRI(q * sp)
            marks += "\(p.x),\(p.y),\(q.x),\(q.y)\n"
        }
        try marks.write(toFile: dir + "/landmarks.csv", atomically: true, encoding: .utf8)
        let reg = try radiopath(["register", "--fixed", mriPath, "--fixed-mask", labelPath, "--slice", "\(Self.slice)", "--moving", dir + "/section.png",
                                 "--moving-mpp", "\(Self.mpp)", "--landmarks", dir + "/landmarks.csv", "--out", dir + "/reg"])
        XCTAssertEqual(reg.status, 0, reg.stderr)
        let report = try XCTUnwrap(try TestEnv.json(try Data(contentsOf: URL(fileURLWithPath: dir + "/reg/report.json"))) as? [String: Any])
        let tre = try XCTUnwrap((report["result"] as? [String: Any])?["treMeanMm"] as? Double)
        print("FUSE register: TRE mean \(tre) mm at the patch centres")
        XCTAssertLessThanOrEqual(tre, 1.0)
        try PatchBag.write(path: dir + "/bag.h5", coords: coords, coordsAttributes: ["patch_size_level0": .int(20)], tissueFraction: nil,
                           scores: ["attention": attention], fileAttributes: [:])
        try """
        id,image,regions,register,patches,scores,tissue,outcome
        case1,\(mriPath),regions,reg,bag.h5,bag.h5,tissue.png,1
        broken,\(mriPath),regions,no-such-folder,bag.h5,,,0
        """.write(toFile: dir + "/cases.csv", atomically: true, encoding: .utf8)

        let run = try radiopath(["fuse", "--cases", dir + "/cases.csv", "--out", dir + "/out", "--json", "--params", try paramsFile(dir)])
        print(run.stderr)
        XCTAssertEqual(run.status, 1, "one case fails, the other goes on: \(run.stderr)")
        let summary = try XCTUnwrap(try TestEnv.json(Data(run.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(summary["casesFailed"] as? Int, 1)
        XCTAssertEqual(summary["supportedRegions"] as? Int, 2)
        let table = try CSVTable.read(path: dir + "/out/region_table.csv")
        func cell(_ row: [String], _ c: String) -> String { row[table.column(c)!] }
        let byRegion = Dictionary(uniqueKeysWithValues: table.rows.map { (cell($0, "region"), $0) })
        XCTAssertEqual(table.rows.count, 3)
        for (l, name) in [(1, "left"), (2, "right")] {
            let row = try XCTUnwrap(byRegion[name])
            let want = expected[l]!
            XCTAssertEqual(Int(cell(row, "patch_count")), want.count, name)
            XCTAssertEqual(try XCTUnwrap(Double(cell(row, "attention_mean"))), Double(want.reduce(0, +)) / Double(want.count), accuracy: 1e-6, name)
            XCTAssertEqual(try XCTUnwrap(Double(cell(row, "attention_max"))), Double(want.max()!), accuracy: 1e-6, name)
            XCTAssertEqual(cell(row, "supported"), "1")
            XCTAssertGreaterThan(try XCTUnwrap(Double(cell(row, "coverage_fraction"))), 0.95, name)
            XCTAssertEqual(cell(row, "plane_distance_mm"), "0")
            XCTAssertNotNil(Double(cell(row, "reg_hd95_mm")))
            XCTAssertEqual(cell(row, "radiomics_note"), "ok")
            print("FUSE \(name): \(cell(row, "patch_count")) patches, attention mean \(cell(row, "attention_mean")), coverage \(cell(row, "coverage_fraction")), HD95 \(cell(row, "reg_hd95_mm")) mm")
        }
        let next = try XCTUnwrap(byRegion["next"])
        XCTAssertEqual(cell(next, "supported"), "0")
        XCTAssertEqual(cell(next, "patch_count"), "0")
        XCTAssertEqual(try XCTUnwrap(Double(cell(next, "plane_distance_mm"))), mri.spacing.z, accuracy: 1e-9)
        XCTAssertTrue(run.stderr.contains("halves/next has coverage 0"), run.stderr)
        // The failure is isolated and recorded; provenance names the inputs' hashes.
        let failures = try CSVTable.read(path: dir + "/out/fuse_failures.csv")
        XCTAssertEqual(failures.rows.map { $0[0] }, ["broken"])
        let fuse = try XCTUnwrap(try TestEnv.json(try Data(contentsOf: URL(fileURLWithPath: dir + "/out/fuse.json"))) as? [String: Any])
        let prov = try XCTUnwrap(fuse["provenance"] as? [String: Any])
        XCTAssertEqual((prov["inputsSHA256"] as? [String: String])?[dir + "/cases.csv"]?.count, 64)
        XCTAssertNotNil(prov["version"] as? String)
        let cases = try CSVTable.read(path: dir + "/out/case_table.csv")
        XCTAssertEqual(cases.rows.count, 1)
        XCTAssertEqual(Int(cases.rows[0][try XCTUnwrap(cases.column("halves_left_patch_count"))]), expected[1]!.count)
        XCTAssertEqual(cases.rows[0][try XCTUnwrap(cases.column("halves_next_patch_count"))], "", "unsupported → no pathology evidence")
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/out/region_dictionary.md"))

        // Bad input: duplicate ids (exit 2, nothing modelled); one outcome class cannot be modelled.
        try "id,image,regions,register\na,\(mriPath),regions,reg\na,\(mriPath),regions,reg\n".write(toFile: dir + "/dup.csv", atomically: true, encoding: .utf8)
        let dup = try radiopath(["fuse", "--cases", dir + "/dup.csv", "--out", dir + "/dup"])
        XCTAssertEqual(dup.status, 2)
        XCTAssertTrue(dup.stderr.contains("duplicate case ids: a"), dup.stderr)
        try "id,image,regions,register,patches,tissue,outcome\ncase1,\(mriPath),regions,reg,bag.h5,tissue.png,1\n".write(toFile: dir + "/one.csv", atomically: true, encoding: .utf8)
        let one = try radiopath(["fuse", "--cases", dir + "/one.csv", "--out", dir + "/one", "--model", "late", "--params", try paramsFile(dir)])
        XCTAssertEqual(one.status, 2)
        XCTAssertTrue(one.stderr.contains("single class"), one.stderr)

        // Modelling through the CLI: 12 cases on the same section and regions; the outcome
        // brightens the MRI (radiology) and raises the attention (pathology); case m11 has no
        // section, so no pathology: late fusion falls back to radiology, early fusion refuses.
        var rows = "id,image,regions,register,patches,scores,tissue,outcome\n"
        for k in 0..<12 {
            let y = k % 2
            var v = mri
            let f = Float(1 + 0.15 * Double(y) + 0.04 * Double(k % 3))
            for i in 0..<v.voxels.count { v.voxels[i] *= f }
            try VolumeFile.write(v, to: dir + "/m\(k).nii.gz")
            let att = attention.map { $0 + 0.3 * Float(y) + 0.05 * Float(k % 4) }
            try PatchBag.write(path: dir + "/m\(k).h5", coords: coords, coordsAttributes: ["patch_size_level0": .int(20)], tissueFraction: nil,
                               scores: ["attention": att], fileAttributes: [:])
            rows += k == 11 ? "m\(k),m\(k).nii.gz,regions,,,,,\(y)\n" : "m\(k),m\(k).nii.gz,regions,reg,m\(k).h5,m\(k).h5,tissue.png,\(y)\n"
        }
        try rows.write(toFile: dir + "/many.csv", atomically: true, encoding: .utf8)
        let common = ["fuse", "--cases", dir + "/many.csv", "--params", try paramsFile(dir), "--folds", "3"]   // default selection: LassoCV (lasso-min)
        let late = try radiopath(common + ["--out", dir + "/late", "--model", "late"])
        XCTAssertEqual(late.status, 0, late.stderr)
        print(late.stderr)
        let preds = try CSVTable.read(path: dir + "/late/fusion_predictions.csv")
        XCTAssertEqual(preds.header, ["case", "outcome", "fold", "p_radiology", "p_pathology", "fused", "modalities_used"])
        XCTAssertEqual(preds.rows.count, 12)
        for r in preds.rows {
            if r[0] == "m11" {
                XCTAssertEqual(r[6], "radiology"); XCTAssertEqual(r[5], r[3]); XCTAssertEqual(r[4], "")
            } else {
                XCTAssertEqual(r[6], "radiology+pathology", r[0])
            }
        }
        let fusion = try XCTUnwrap(try TestEnv.json(try Data(contentsOf: URL(fileURLWithPath: dir + "/late/fusion.json"))) as? [String: Any])
        XCTAssertNotNil((fusion["provenance"] as? [String: Any])?["inputsSHA256"])
        let fusedAUC = try XCTUnwrap(((fusion["fused"] as? [String: Any])?["auc"] as? [String: Any])?["auc"] as? Double)
        print("FUSE late fusion through the CLI: out-of-fold AUC \(fusedAUC)")
        XCTAssertGreaterThan(fusedAUC, 0.5)
        let refused = try radiopath(common + ["--out", dir + "/early", "--model", "early"])
        XCTAssertEqual(refused.status, 2)
        XCTAssertTrue(refused.stderr.contains("1 of 12 case(s) lack a modality"), refused.stderr)
        let early = try radiopath(common + ["--out", dir + "/early", "--model", "early", "--missing", "fallback"])
        XCTAssertEqual(early.status, 0, early.stderr)
        let ep = try CSVTable.read(path: dir + "/early/fusion_predictions.csv")
        XCTAssertEqual(ep.rows.first { $0[0] == "m11" }?[6], "radiology")
    }

    /// First-order statistics only: keeps the test quick; the table logic is the same.
    func paramsFile(_ dir: String) throws -> String {
        let p = dir + "/params.yaml"
        try "setting:\n  binCount: 16\nfeatureClass:\n  firstorder:\n".write(toFile: p, atomically: true, encoding: .utf8)
        return p
    }
}
