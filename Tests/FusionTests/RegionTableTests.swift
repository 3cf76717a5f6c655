import Foundation
import PatchBag
import Regions
import Registration
import TestSupport
import VolumeIO
import XCTest
@testable import Fusion

/// The region table on a hand-built case whose every number is known: a 20×20×5 MRI (1 mm
/// voxels), a section on slice 2 mapped by slide px = 100·(mm + 0.5), patches placed by hand.
final class RegionTableTests: XCTestCase {
    func makeCase() throws -> (CaseInput, String) {
        let dir = try TestEnv.scratch(self, "regiontable")
        var image = Volume(size: SIMD3(20, 20, 5), spacing: SIMD3(1, 1, 2), origin: .zero, voxels: [Float](repeating: 0, count: 2000))
        for i in 0..<image.count { image.voxels[i] = Float((i * 7919) % 97) }
        try VolumeFile.write(image, to: dir + "/image.nii.gz")
        // Family "halves": left (x < 10) and right (x ≥ 10) of a 16×10 block on slices 1–3;
        // "apex": a 4×4 block on slice 0 only (never on the section).
        var halves = image, apex = image
        halves.voxels = [Float](repeating: 0, count: 2000); apex.voxels = halves.voxels
        for k in 1...3 { for j in 5..<15 { for i in 2..<18 { halves[i, j, k] = i < 10 ? 1 : 2 } } }
        for j in 0..<4 { for i in 0..<4 { apex[i, j, 0] = 1 } }
        try RegionMap(family: "halves", labels: halves, regions: [
            RegionInfo(label: 1, name: "left", kind: .sector, definition: "x < 10 mm"),
            RegionInfo(label: 2, name: "right", kind: .sector, definition: "x ≥ 10 mm")]).write(folder: dir + "/regions")
        try RegionMap(family: "apex", labels: apex, regions: [
            RegionInfo(label: 1, name: "apex", kind: .roi, definition: "slice 0")]).write(folder: dir + "/regions")
        // Transform: MRI mm → slide px = 100·(p + 0.5), on slice 2; report with HD95 and TRE.
        let t = SectionTransform(affine: MatrixTransform2D(kind: .affine, parameters: [100, 0, 0, 100, 50, 50]), field: nil,
                                 mri: .init(path: dir + "/image.nii.gz", volume: image, slice: 2),
                                 slide: .init(path: "slide.tiff", width: 2000, height: 2000, mppX: 10, mppY: 10))
        try FileManager.default.createDirectory(atPath: dir + "/reg", withIntermediateDirectories: true)
        try t.write(folder: dir + "/reg")
        try #"{"result": {"hausdorff95Mm": 0.75, "treMeanMm": 0.4, "dice": 0.98}}"#.write(toFile: dir + "/reg/report.json", atomically: true, encoding: .utf8)
        // Patches of 100 px (1 voxel): tissue = x < 1400 px (voxels 0…13 of each row).
        // Voxel (i, j) of slice 2 is slide px [100 i, 100 i + 100) — its centre at 100 i + 50.
        var coords: [Int64] = [], attention: [Float] = []
        for j in 0..<20 { for i in 0..<14 { coords += [Int64(100 * i), Int64(100 * j)]; attention.append(Float(i)) } }
        try PatchBag.write(path: dir + "/bag.h5", coords: coords, coordsAttributes: ["patch_size_level0": .int(100)],
                           tissueFraction: nil, scores: ["attention": attention], fileAttributes: [:])
        // Pathomics: two patches, one in each half; graph column on the left only.
        try "x,y,width,height,nuclei_count,graph_nodes\n300,600,100,100,4,4\n300,700,100,100,6,\n1100,600,100,100,10,\n"
            .write(toFile: dir + "/pathomics.csv", atomically: true, encoding: .utf8)
        // Annotation: slide px x < 600 (voxels i < 6 — inside "left" that is i = 2…5).
        try #"{"type":"FeatureCollection","features":[{"type":"Feature","geometry":{"type":"Polygon","coordinates":[[[0,0],[600,0],[600,2000],[0,2000],[0,0]]]}}]}"#
            .write(toFile: dir + "/ann.geojson", atomically: true, encoding: .utf8)
        let s = SectionInput(registerDir: dir + "/reg", patchBag: dir + "/bag.h5", scores: dir + "/bag.h5", pathomics: dir + "/pathomics.csv", annotations: dir + "/ann.geojson")
        return (CaseInput(id: "case1", image: dir + "/image.nii.gz", regionsDir: dir + "/regions", sections: [s], outcome: true), dir)
    }

    func testEvidenceAndCoverageAreWhatWasPlaced() throws {
        let (c, _) = try makeCase()
        var o = RegionTableOptions()
        o.minVoxels = 20
        o.radiomics.parameters.families = [.statistics]
        var notes: [String] = []
        let rows = try RegionTable.rows(for: c, options: o) { notes.append($0) }
        XCTAssertEqual(rows.map { "\($0.text["family"]!)/\($0.text["region"]!)" }, ["apex/apex", "halves/left", "halves/right"])
        let apex = rows[0], left = rows[1], right = rows[2]
        // Left: i = 2…9 on 10 rows = 80 voxels per slice, all in tissue (x < 14); patches 8 × 10.
        XCTAssertEqual(left.value("voxels"), 240)
        XCTAssertEqual(left.value("slice_voxels"), 80)
        XCTAssertEqual(left.value("covered_voxels"), 80)
        XCTAssertEqual(left.value("coverage_fraction"), 1)
        XCTAssertEqual(left.value("coverage_volume_fraction"), 80.0 / 240, accuracy: 1e-12)
        XCTAssertEqual(left.value("patch_count"), 80)
        XCTAssertEqual(left.value("attention_mean"), 5.5, accuracy: 1e-6)     // i = 2…9
        XCTAssertEqual(left.value("attention_max"), 9)
        XCTAssertEqual(left.value("attention_p90"), 9)                        // numpy: 9 (ties)
        XCTAssertEqual(left.value("tumour_fraction"), 0.5)                    // i = 2…5 of 2…9
        XCTAssertEqual(left.value("pathomics_patches"), 2)
        XCTAssertEqual(left.value("path_nuclei_count"), 5)
        XCTAssertEqual(left.value("path_graph_nodes"), 4)                     // empty cell skipped
        XCTAssertEqual(left.value("supported"), 1)
        XCTAssertEqual(left.value("plane_distance_mm"), 0)
        XCTAssertEqual(left.value("reg_hd95_mm"), 0.75)
        XCTAssertEqual(left.value("reg_tre_mm"), 0.4)
        XCTAssertEqual(left.text["radiomics_note"], "ok")
        XCTAssertFalse(left.value("rad_original_stat_mean").isNaN)
        // Right: i = 10…17, tissue only i ≤ 13 → 40 of 80 covered; patches i = 10…13.
        XCTAssertEqual(right.value("covered_voxels"), 40)
        XCTAssertEqual(right.value("coverage_fraction"), 0.5)
        XCTAssertEqual(right.value("patch_count"), 40)
        XCTAssertEqual(right.value("attention_mean"), 11.5, accuracy: 1e-6)
        XCTAssertEqual(right.value("attention_p90"), 13)
        XCTAssertEqual(right.value("tumour_fraction"), 0)
        XCTAssertEqual(right.value("path_nuclei_count"), 10)
        XCTAssertTrue(right.value("path_graph_nodes").isNaN)
        XCTAssertEqual(right.value("supported"), 1)                           // 0.5 ≥ 0.5
        // Apex: 16 voxels on slice 0 only — no coverage, too small for radiomics, 4 mm off-plane.
        XCTAssertEqual(apex.value("slice_voxels"), 0)
        XCTAssertEqual(apex.value("coverage_fraction"), 0)
        XCTAssertEqual(apex.value("supported"), 0)
        XCTAssertEqual(apex.value("patch_count"), 0)
        XCTAssertTrue(apex.value("attention_mean").isNaN)
        XCTAssertEqual(apex.value("plane_distance_mm"), 4)
        XCTAssertEqual(apex.value("sections"), 0)
        XCTAssertEqual(apex.text["radiomics_note"], "skipped: 16 voxels < minimum 20")
        XCTAssertTrue(apex.value("rad_original_stat_mean").isNaN)
        XCTAssertTrue(notes.contains { $0.contains("apex/apex") && $0.contains("supported = 0") }, "\(notes)")

        // The case table leaves out the unsupported region's pathology.
        let table = CaseTable(rows: rows, cases: [("case1", true)])
        let col = { (n: String) in table.values[0][table.columns.firstIndex(of: n)!] }
        XCTAssertEqual(col("halves_left_patch_count"), 80)
        XCTAssertTrue(col("apex_apex_patch_count").isNaN)
        XCTAssertEqual(table.roles[table.columns.firstIndex(of: "halves_left_rad_original_stat_mean")!], .radiology)
        XCTAssertFalse(table.columns.contains { $0.hasSuffix("_coverage_fraction") })
        let csv = RegionTable.csv(rows)
        XCTAssertTrue(csv.hasPrefix("case,family,region,label,kind,voxels"))
        XCTAssertEqual(csv.split(separator: "\n").count, 4)
    }

    /// docs/fusion.md's dictionary section is the generated one (RADIOPATH_WRITE_DOCS=1 rewrites it).
    func testDictionaryInDocsIsGenerated() throws {
        let path = TestEnv.packageRoot + "/docs/fusion.md"
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let begin = "<!-- region-dictionary:begin -->\n", end = "<!-- region-dictionary:end -->"
        guard let b = text.range(of: begin), let e = text.range(of: end) else { return XCTFail("\(path) lacks the dictionary markers") }
        let generated = RegionColumns.markdown()
        if ProcessInfo.processInfo.environment["RADIOPATH_WRITE_DOCS"] == "1" {
            try (String(text[..<b.upperBound]) + generated + String(text[e.lowerBound...])).write(toFile: path, atomically: true, encoding: .utf8)
        }
        XCTAssertEqual(String(text[b.upperBound..<e.lowerBound]), generated, "docs/fusion.md is stale: rerun with RADIOPATH_WRITE_DOCS=1")
        for c in RegionColumns.fixed { XCTAssertTrue(generated.contains("`\(c.name)`")) }
    }
}
