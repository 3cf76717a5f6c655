import Foundation
import TestSupport
import XCTest

/// `radiopath cells` end to end, as a user runs it.
final class CellsCommandTests: XCTestCase {
    /// Outputs as Python (gzip, json, csv) reads them: feature count, detection type, CSV rows.
    static let reader = """
    import sys, gzip, json, csv
    g = json.load(gzip.open(sys.argv[1], 'rt'))
    rows = list(csv.DictReader(open(sys.argv[2])))
    f = g['features']
    xs = [p[0] for ft in f for p in ft['geometry']['coordinates'][0]]
    ys = [p[1] for ft in f for p in ft['geometry']['coordinates'][0]]
    closed = all(ft['geometry']['coordinates'][0][0] == ft['geometry']['coordinates'][0][-1] for ft in f)
    print(json.dumps(dict(n=len(f), rows=len(rows), types=sorted({ft['properties']['objectType'] for ft in f}),
        measurements=len(f[0]['properties']['measurements']) if f else 0, columns=list(rows[0].keys()) if rows else [],
        xmin=min(xs) if xs else 0, xmax=max(xs) if xs else 0, ymin=min(ys) if ys else 0, ymax=max(ys) if ys else 0,
        closed=closed, ids=len({ft['id'] for ft in f}), patches=sorted({int(r['patch_index']) for r in rows})[:3],
        area0=float(rows[0]['area_um2']) if rows else 0, m0=f[0]['properties']['measurements']['area_um2'] if f else 0)))
    """

    func testRegionRunWithBadSlidesResumesAndIsReadable() throws {
        let slides = try TestEnv.testdata("slides")
        let dir = try TestEnv.scratch(self, "cli-cells")
        let out = dir + "/out"
        let args = ["cells", slides + "/CMU-1-Small-Region.svs", slides + "/broken.svs", dir + "/missing.svs",
                    "--out", out, "--region", "600,800,1000,900", "--json"]
        let r = try radiopath(args)
        XCTAssertEqual(r.status, 1, "a failed slide makes exit 1\n\(r.stderr)")
        XCTAssertTrue(r.stderr.contains("1 done, 0 skipped, 2 failed"), r.stderr)
        XCTAssertTrue(r.stderr.contains("broken.svs"), r.stderr)
        let results = try XCTUnwrap(try TestEnv.json(Data(r.stdout.utf8)) as? [[String: Any]])
        let good = try XCTUnwrap(results.first { $0["slideID"] as? String == "CMU-1-Small-Region" })
        XCTAssertEqual(good["status"] as? String, "done")
        let n = try XCTUnwrap(good["nuclei"] as? Int)
        XCTAssertGreaterThan(n, 100)
        XCTAssertNotNil(results.first { $0["slideID"] as? String == "broken" }?["hint"] as? String)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out + "/broken.nuclei.csv"), "nothing written for a failed slide")

        let id = "CMU-1-Small-Region"
        let py = try TestEnv.runPython(Self.reader, ["\(out)/\(id).nuclei.geojson.gz", "\(out)/\(id).nuclei.csv"])
        let g = try XCTUnwrap(try TestEnv.json(py) as? [String: Any])
        XCTAssertEqual(g["n"] as? Int, n)
        XCTAssertEqual(g["rows"] as? Int, n)
        XCTAssertEqual(g["ids"] as? Int, n, "unique feature ids")
        XCTAssertEqual(g["types"] as? [String], ["detection"])
        XCTAssertEqual(g["measurements"] as? Int, 28)
        XCTAssertEqual(g["closed"] as? Bool, true)
        XCTAssertEqual((g["columns"] as? [String])?.prefix(5).map { $0 }, ["nucleus_id", "centroid_x", "centroid_y", "patch_index", "area_um2"])
        XCTAssertEqual(g["patches"] as? [Int], [-1], "a region run has no patches")
        XCTAssertEqual(g["area0"] as? Double, g["m0"] as? Double, "GeoJSON measurements at full precision, equal to the CSV")
        // Outlines inside the region (level-0 px), give or take the region's edge nuclei.
        XCTAssertGreaterThanOrEqual(try XCTUnwrap(g["xmin"] as? Double), 600)
        XCTAssertLessThanOrEqual(try XCTUnwrap(g["xmax"] as? Double), 1600)
        XCTAssertGreaterThanOrEqual(try XCTUnwrap(g["ymin"] as? Double), 800)
        XCTAssertLessThanOrEqual(try XCTUnwrap(g["ymax"] as? Double), 1700)

        let prov = try XCTUnwrap(try TestEnv.json(Data(contentsOf: URL(fileURLWithPath: "\(out)/\(id).nuclei.json"))) as? [String: Any])
        XCTAssertEqual((prov["quickhash"] as? String)?.isEmpty, false)
        XCTAssertNotNil(prov["parameters"] as? [String: Any])
        XCTAssertEqual(prov["region"] as? [Int], [600, 800, 1000, 900])
        let summary = try String(contentsOfFile: out + "/cells_summary.csv", encoding: .utf8)
        XCTAssertEqual(summary.split(separator: "\n").count, 4)
        XCTAssertTrue(summary.hasPrefix("slide_id,path,status,nuclei"))

        // Rerun: finished slides are skipped; --force redoes them with the same result.
        let again = try radiopath(["cells", slides + "/CMU-1-Small-Region.svs", "--out", out, "--region", "600,800,1000,900"])
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertTrue(again.stderr.contains("already done (\(n) nuclei)"), again.stderr)
        let before = try Data(contentsOf: URL(fileURLWithPath: "\(out)/\(id).nuclei.csv"))
        let forced = try radiopath(["cells", slides + "/CMU-1-Small-Region.svs", "--out", out, "--region", "600,800,1000,900", "--force"])
        XCTAssertEqual(forced.status, 0, forced.stderr)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: "\(out)/\(id).nuclei.csv")), before, "same input, same bytes")
    }

    func testSlideIsTiledForTissueAndNucleiCarryTheirPatch() throws {
        let dir = try TestEnv.scratch(self, "cli-cells-synth")
        let slide = dir + "/s.tiff"
        let s = try radiopath(["synth", "slide", "--width", "6000", "--height", "4500", "--seed", "5", "--out", slide])
        XCTAssertEqual(s.status, 0, s.stderr)
        let out = dir + "/out"
        let r = try radiopath(["cells", slide, "--out", out, "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(FileManager.default.fileExists(atPath: out + "/tissue/patches/s.h5"), "tissue patches from radiopath tile")
        let res = try XCTUnwrap((try TestEnv.json(Data(r.stdout.utf8)) as? [[String: Any]])?.first)
        XCTAssertGreaterThan(res["patches"] as? Int ?? 0, 10)
        XCTAssertGreaterThan(res["nuclei"] as? Int ?? 0, 300)
        let csv = try String(contentsOfFile: out + "/s.nuclei.csv", encoding: .utf8).split(separator: "\n").dropFirst()
        XCTAssertTrue(csv.allSatisfy { Int($0.split(separator: ",")[3])! >= 0 }, "every nucleus lies in a tissue patch")

        // The bag itself is an input too (same nuclei, since the same patches).
        let out2 = dir + "/out2"
        let b = try radiopath(["cells", out + "/tissue/patches/s.h5", "--out", out2])
        XCTAssertEqual(b.status, 0, b.stderr)
        XCTAssertEqual(try String(contentsOfFile: out2 + "/s.nuclei.csv", encoding: .utf8).split(separator: "\n").count, csv.count + 1)
    }

    func testHelpExplainsParametersAndBadArgumentsExit2() throws {
        let h = try radiopath(["cells", "--help"])
        XCTAssertEqual(h.status, 0)
        for word in ["--pixel-size", "--sigma", "--background-radius", "--threshold", "--min-area", "--split-depth", "--tile-margin",
                     "--single-channel", "macenko", "nuclei.geojson.gz", "Otsu"] {
            XCTAssertTrue(h.stdout.contains(word), "help mentions \(word)")
        }
        let dir = try TestEnv.scratch(self, "cli-cells-bad")
        let bad = try radiopath(["cells", dir, "--out", dir + "/o", "--region", "1,2,3"])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.stderr.contains("--region needs x,y,w,h"), bad.stderr)
        let badT = try radiopath(["cells", dir, "--out", dir + "/o", "--threshold", "lots"])
        XCTAssertNotEqual(badT.status, 0)
        XCTAssertTrue(badT.stderr.contains("--threshold must be"), badT.stderr)
    }
}
