import Foundation
import TestSupport
import Tabular
import XCTest

final class PathomicsCommandTests: XCTestCase {
    /// On the real CMU-1 crop: every nucleus is counted in exactly one patch, the slide row is
    /// the mean of the patch rows, the graph file has one node per nucleus and symmetric edges;
    /// a broken slide beside it fails alone and a rerun skips the finished slide.
    func testRealSlideEndToEnd() throws {
        let dir = try TestEnv.scratch(self, "pathomics")
        let slide = try TestEnv.testdata("slides/CMU-1-Small-Region.svs")
        let broken = try TestEnv.testdata("slides/broken.svs")
        let r = try radiopath(["pathomics", slide, broken, "--out", dir + "/p"])
        XCTAssertEqual(r.status, 1, "the broken slide fails: \(r.stderr)")
        XCTAssertTrue(r.stderr.contains("broken"), r.stderr)
        let id = "CMU-1-Small-Region"
        let patches = try CSVTable.read(path: "\(dir)/p/patches/\(id).csv")
        let nuclei = try CSVTable.read(path: "\(dir)/p/cells/\(id).nuclei.csv")
        let countColumn = try XCTUnwrap(patches.column("nuclei_count"))
        let counts = patches.rows.map { Double($0[countColumn])! }
        XCTAssertGreaterThan(nuclei.rows.count, 1000)
        XCTAssertEqual(Int(counts.reduce(0, +)), nuclei.rows.count, "each nucleus lies in exactly one patch")
        let slides = try CSVTable.read(path: "\(dir)/p/pathomics_slides.csv")
        XCTAssertEqual(slides.rows.map { $0[0] }, [id])
        let mean = Double(slides.rows[0][slides.column("nuclei_count_mean")!])!
        XCTAssertEqual(mean, counts.reduce(0, +) / Double(counts.count), accuracy: 1e-9)
        for column in ["graph_delaunay_sides_mean_mean", "stain_hematoxylin_mean_mean", "texture_glcm_contrast_mean"] {
            XCTAssertNotNil(slides.column(column), column)
        }
        let dictionary = try String(contentsOfFile: "\(dir)/p/pathomics_dictionary.md", encoding: .utf8)
        XCTAssertTrue(dictionary.contains("nuclei_density_per_mm2"))
        let check = try TestEnv.runPython("""
        import h5py, numpy as np, sys
        d = h5py.File(sys.argv[1])
        x, e, pos = d["x"][:], d["edge_index"][:], d["pos"][:]
        assert x.shape[0] == int(sys.argv[2]) and pos.shape == (x.shape[0], 2), (x.shape, pos.shape)
        assert e.shape[0] == 2 and e.dtype == np.int64 and e.max() < x.shape[0]
        pairs = set(map(tuple, e.T.tolist()))
        assert all((b, a) in pairs for a, b in pairs), "edges in both directions"
        print("ok", x.shape[1], len(d["feature_names"]))
        """, ["\(dir)/p/graphs/\(id).h5", "\(nuclei.rows.count)"])
        XCTAssertTrue(String(decoding: check, as: UTF8.self).hasPrefix("ok"))

        let again = try radiopath(["pathomics", slide, "--out", dir + "/p"])
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertTrue(again.stderr.contains("\(id): already done"), again.stderr)
    }
}
