import Foundation
import XCTest
import Cells
import PatchBag
import TestSupport

/// Graph HDF5 files load with h5py into the arrays PyTorch Geometric's `Data` takes.
final class GraphHDF5Tests: XCTestCase {
    private static let loadScript = """
    import h5py
    path = sys.argv[2]
    with h5py.File(path, 'r') as f:
        x = f['x'][:]; ei = f['edge_index'][:]; ea = f['edge_attr'][:]; pos = f['pos'][:]
        names = list(f['feature_names'].asstr()[()])
        attrs = {k: (v.item() if hasattr(v, 'item') else v) for k, v in f.attrs.items()}
    res = {'x': [list(x.shape), str(x.dtype)], 'ei': [list(ei.shape), str(ei.dtype)],
           'ea': [list(ea.shape), str(ea.dtype)], 'pos': [list(pos.shape), str(pos.dtype)],
           'names': names, 'attrs': {k: (v if isinstance(v, (int, float, str)) else str(v)) for k, v in attrs.items()}}
    if ei.shape[1]:
        src, dst = ei
        pairs = set(zip(src.tolist(), dst.tolist()))
        res['symmetric'] = all((b, a) in pairs for a, b in pairs) and len(pairs) == ei.shape[1]
        res['sorted'] = bool(np.all(np.diff(src * (1 << 32) + dst) > 0))
        L = np.sqrt(((pos[src].astype(float) - pos[dst].astype(float)) ** 2).sum(1)) * attrs['microns_per_pixel']
        res['len_err'] = float(np.max(np.abs(L - ea[:, 0])))
        res['max_index_ok'] = bool(ei.max() < x.shape[0] and ei.min() >= 0)
    res['x_first'] = x[0].tolist() if len(x) else []
    res['torch'] = None
    import importlib.util
    # torch takes seconds to import: only where asked, and only when installed.
    if len(sys.argv) > 3 and importlib.util.find_spec('torch'):
        import torch
        data = dict(x=torch.from_numpy(x), edge_index=torch.from_numpy(ei), edge_attr=torch.from_numpy(ea),
                    pos=torch.from_numpy(pos))
        res['torch'] = [str(data['x'].dtype), str(data['edge_index'].dtype), list(data['edge_index'].shape),
                        str(data['pos'].dtype)]
    emit(res)
    """

    func testKNNGraphLoadsAsPyGArrays() throws {
        var rng = SeededRNG(30)
        let pts = (0..<500).map { _ in SIMD2(Double.random(in: 10_000..<10_400, using: &rng), Double.random(in: 5_000..<5_300, using: &rng)) }
        let g = CellGraph.knn(positions: pts, micronsPerPixel: 0.25)
        let names = ["area_um2", "h_mean"]
        let feats = pts.indices.flatMap { [Float($0), Float($0) * 0.5] }
        let peer = try GraphPeer(self)
        let path = peer.dir + "/sub/slide.graph.h5"
        try GraphHDF5.write(path: path, graph: g, nodeFeatures: feats, featureNames: names, location: .pixels,
                            attributes: ["tool": .string("radiopath test"), "slide_hash": .string("abc")])
        let out = try peer.run(Self.loadScript, extraArgs: [path, "torch"])
        XCTAssertEqual(try arrayInfo(out["x"]), ArrayInfo(shape: [500, 4], dtype: "float32"))
        XCTAssertEqual(try arrayInfo(out["ei"]), ArrayInfo(shape: [2, 2 * g.edgeCount], dtype: "int64"))
        XCTAssertEqual(try arrayInfo(out["ea"]), ArrayInfo(shape: [2 * g.edgeCount, 1], dtype: "float32"))
        XCTAssertEqual(try arrayInfo(out["pos"]), ArrayInfo(shape: [500, 2], dtype: "float32"))
        XCTAssertEqual(out["names"] as! [String], names + ["pos_x_px", "pos_y_px"])
        XCTAssertEqual(out["symmetric"] as? Bool, true)
        XCTAssertEqual(out["sorted"] as? Bool, true)
        XCTAssertEqual(out["max_index_ok"] as? Bool, true)
        // edge_attr comes from float64 positions; lengths re-computed from the float32 `pos` (ulp
        // 0.001 px near 10 000 px) differ by at most a few ulps × 0.25 µm/px.
        XCTAssertLessThan(out["len_err"] as! Double, 1e-3)
        let first = out["x_first"] as! [Double]
        XCTAssertEqual(first[0], 0); XCTAssertEqual(first[2], pts[0].x, accuracy: 1e-3)
        let attrs = out["attrs"] as! [String: Any]
        XCTAssertEqual(attrs["graph_kind"] as? String, "knn")
        XCTAssertEqual(attrs["k"] as? Int, 5)
        XCTAssertEqual(attrs["max_distance_um"] as? Double, 25)
        XCTAssertEqual(attrs["num_edges"] as? Int, 2 * g.edgeCount)
        XCTAssertEqual(attrs["slide_hash"] as? String, "abc")
        XCTAssertEqual(attrs["format"] as? String, GraphHDF5.formatName)
        if let t = out["torch"] as? [Any] {
            XCTAssertEqual(t[0] as? String, "torch.float32"); XCTAssertEqual(t[1] as? String, "torch.int64")
            XCTAssertEqual(t[2] as? [Int], [2, 2 * g.edgeCount]); XCTAssertEqual(t[3] as? String, "torch.float32")
        }
        // No temporary files are left beside the output.
        let left = try FileManager.default.contentsOfDirectory(atPath: peer.dir + "/sub")
        XCTAssertEqual(left, ["slide.graph.h5"])
    }

    /// Empty and single-node graphs write valid files with zero-length axes.
    func testEmptyAndSingleNodeGraphs() throws {
        let peer = try GraphPeer(self)
        for (label, pts) in [("empty", [SIMD2<Double>]()), ("one", [SIMD2(3.0, 4.0)])] {
            let g = CellGraph.delaunay(positions: pts, micronsPerPixel: 0.5)
            let path = peer.dir + "/\(label).h5"
            try GraphHDF5.write(path: path, graph: g, nodeFeatures: pts.map { _ in 1 }, featureNames: ["f"])
            let out = try peer.run(Self.loadScript, extraArgs: [path])
            XCTAssertEqual(try arrayInfo(out["x"]), ArrayInfo(shape: [pts.count, 1], dtype: "float32"), label)
            XCTAssertEqual(try arrayInfo(out["ei"]), ArrayInfo(shape: [2, 0], dtype: "int64"), label)
            XCTAssertEqual(try arrayInfo(out["ea"]), ArrayInfo(shape: [0, 1], dtype: "float32"), label)
        }
    }

    func testBadInputIsRefusedWithAMessage() throws {
        let peer = try GraphPeer(self)
        let g = CellGraph.delaunay(positions: [SIMD2(0, 0), SIMD2(1, 1)], micronsPerPixel: 1)
        XCTAssertThrowsError(try GraphHDF5.write(path: peer.dir + "/a.h5", graph: g, nodeFeatures: [1, 2, 3], featureNames: ["f"])) {
            XCTAssertTrue("\($0)".contains("one row of 1 values per node"), "\($0)")
        }
        XCTAssertThrowsError(try GraphHDF5.write(path: peer.dir + "/b.h5", graph: g, nodeFeatures: [1, 2], featureNames: ["f"],
                                                 attributes: ["num_nodes": .int(3)]))
        // An unwritable destination names the file.
        XCTAssertThrowsError(try GraphHDF5.write(path: "/proc/nope/c.h5", graph: g, nodeFeatures: [1, 2], featureNames: ["f"])) {
            XCTAssertTrue("\($0)".contains("/proc/nope/c.h5"), "\($0)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: peer.dir + "/a.h5"))
    }
}

struct ArrayInfo: Equatable {
    var shape: [Int]
    var dtype: String
}

/// `[shape, dtype]` as the load script emits it.
func arrayInfo(_ v: Any?) throws -> ArrayInfo {
    let pair = try XCTUnwrap(v as? [Any])
    return ArrayInfo(shape: try XCTUnwrap(pair[0] as? [Int]), dtype: try XCTUnwrap(pair[1] as? String))
}
