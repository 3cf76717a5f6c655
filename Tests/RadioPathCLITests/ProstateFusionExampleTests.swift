import Foundation
import Tabular
import TestSupport
import XCTest

/// Examples/prostate-fusion/run.sh end to end at reduced size (one section of slice 14, 3000 px
/// at 20 µm/px) with the debug binary: the script runs, and the region table it builds holds
/// supported, covered regions with patches — i.e. the sections, registration, tiling and fusion
/// reached each other, not just that files appeared.
final class ProstateFusionExampleTests: XCTestCase {
    func testExampleRunsAndFillsTheRegionTable() throws {
        _ = try TestEnv.testdata("radiology/prostate/aaa0060_T2_axial.nii.gz")
        let data = try TestEnv.testdata()
        let python = try TestEnv.python()
        _ = try TestEnv.runPython("import json, csv")
        let bin = try binary()
        let out = try TestEnv.scratch(self, "prostate-fusion")
        let script = TestEnv.packageRoot + "/Examples/prostate-fusion/run.sh"
        let r = try TestEnv.run("/bin/bash", [script, out], environment: [
            "BIN": bin, "PYTHON": python, "RADIOPATH_TESTDATA": data,
            "SLICES": "14", "MPP": "20", "SIZE": "3000", "PATCH": "50",
            "PAINT_COLUMNS": "patch_count,coverage_fraction",
        ])
        let stdout = String(decoding: r.stdout, as: UTF8.self)
        XCTAssertEqual(r.status, 0, "run.sh failed:\n\(stdout)\n\(r.stderr)")
        guard r.status == 0 else { return }

        // Registration of the one section: the targets (Dice ≥ 0.97, TRE ≤ 1 mm).
        let report = try TestEnv.json(Data(contentsOf: URL(fileURLWithPath: out + "/register/s14/report.json"))) as? [String: Any]
        let result = try XCTUnwrap(report?["result"] as? [String: Any])
        XCTAssertGreaterThanOrEqual(try XCTUnwrap(result["dice"] as? Double), 0.97)
        XCTAssertLessThanOrEqual(try XCTUnwrap(result["treMeanMm"] as? Double), 1.0)

        // The main outputs.
        for f in ["fused/region_table.csv", "fused/region_dictionary.md", "fused/case_table.csv",
                  "regions/sectors.nii.gz", "regions/rings.nii.gz", "regions/sectors_slide.geojson", "regions/sectors_slide.png",
                  "regions/maps/sectors_patch_count.png", "regions/maps/sectors_patch_count_scores.nii.gz",
                  "regions/maps/rings_coverage_fraction.png"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: out + "/" + f), "missing \(f)")
        }

        // Region table: the slice-14 sectors (mid level) and the inner ring are supported with
        // patches; the outer rings (periprostatic, no tissue on the section) are not.
        let table = try CSVTable.read(path: out + "/fused/region_table.csv")
        let header = table.header
        func col(_ name: String) throws -> Int { try XCTUnwrap(header.firstIndex(of: name), "no column \(name)") }
        let (fam, reg, sup, patches, cov) = (try col("family"), try col("region"), try col("supported"), try col("patch_count"), try col("coverage_fraction"))
        var supported: [String: Int] = [:]
        XCTAssertFalse(table.rows.isEmpty, "the region table has rows")
        for row in table.rows {
            let name = row[fam] + "/" + row[reg]
            if row[sup] == "1" {
                supported[name] = Int(row[patches]) ?? 0
                XCTAssertGreaterThanOrEqual(Double(row[cov]) ?? 0, 0.5, name)
            }
        }
        for name in ["sectors/mid_L_PZ", "sectors/mid_R_PZ", "sectors/mid_L_TZ", "sectors/mid_R_TZ", "rings/ring_-6_-3mm"] {
            XCTAssertGreaterThan(supported[name] ?? 0, 0, "\(name) should be supported with patches; supported: \(supported)")
        }
        XCTAssertNil(supported["rings/ring_3_6mm"], "a periprostatic ring has no histology")
        XCTAssertNil(supported["sectors/apex_L_PZ"], "apex sectors lie off the one section's slice")
        XCTAssertTrue(stdout.contains("section s14 → slice 14: Dice"), stdout)
    }
}
