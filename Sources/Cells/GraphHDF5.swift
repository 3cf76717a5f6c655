import CHDF5
import Foundation
import ImageCore
import PatchBag

/// Cell graphs as HDF5 files that PyTorch Geometric users load in three lines:
///
/// ```python
/// with h5py.File(path) as f:
///     data = Data(x=torch.from_numpy(f['x'][:]), edge_index=torch.from_numpy(f['edge_index'][:]),
///                 edge_attr=torch.from_numpy(f['edge_attr'][:]), pos=torch.from_numpy(f['pos'][:]))
/// ```
///
/// Layout: `x` (N × F float32 node features), `edge_index` (2 × E int64, every undirected edge in
/// both directions, sorted by source then target), `edge_attr` (E × 1 float32 edge length in µm),
/// `pos` (N × 2 float32 level-0 px), `feature_names` (F variable-length UTF-8 strings, the columns
/// of `x`). Root attributes: the format, graph kind and builder parameters, units, counts and the
/// caller's provenance. The file is written under a temporary name and renamed into place.
public enum GraphHDF5 {
    /// Location columns appended to `x` (HistoCartography appends centroids divided by the image size).
    public enum Location: Sendable, Equatable {
        case none
        /// `pos_x_px`, `pos_y_px`: level-0 pixels.
        case pixels
        /// `pos_x_norm`, `pos_y_norm`: level-0 position divided by the given width and height.
        case normalised(width: Double, height: Double)
    }

    public static let formatName = "radiopath-cellgraph"
    public static let formatVersion: Int64 = 1

    /// Writes `graph` with `nodeFeatures` (row-major N × featureNames.count) to `path`.
    /// - Throws: `CellGraphError` naming the file, what is wrong and what to do.
    public static func write(path: String, graph: CellGraph, nodeFeatures: [Float], featureNames: [String],
                             location: Location = .none, attributes: [String: HDF5Value] = [:]) throws {
        let n = graph.nodeCount, f0 = featureNames.count
        guard nodeFeatures.count == n * f0 else {
            throw CellGraphError("\(path): \(nodeFeatures.count) node feature values for \(n) nodes × \(f0) names; give one row of \(f0) values per node")
        }
        var names = featureNames
        switch location {
        case .none: break
        case .pixels: names += ["pos_x_px", "pos_y_px"]
        case .normalised(let w, let h):
            guard w > 0 && h > 0 && w.isFinite && h.isFinite else {
                throw CellGraphError("\(path): normalised location needs a positive width and height (got \(w) × \(h))")
            }
            names += ["pos_x_norm", "pos_y_norm"]
        }
        let f = names.count
        let reserved = Set(["format", "format_version", "graph_kind", "num_nodes", "num_edges", "undirected",
                            "microns_per_pixel", "pos_unit", "edge_attr_unit"])
        if let clash = attributes.keys.first(where: { reserved.contains($0) }) {
            throw CellGraphError("\(path): attribute '\(clash)' is written by the graph writer itself; rename it")
        }
        var attrs = attributes
        attrs["format"] = .string(formatName)
        attrs["format_version"] = .int(formatVersion)
        attrs["graph_kind"] = .string(graph.kind.rawValue)
        attrs["num_nodes"] = .int(Int64(n))
        attrs["num_edges"] = .int(Int64(2 * graph.edgeCount))
        attrs["undirected"] = .int(1)
        attrs["microns_per_pixel"] = .double(graph.micronsPerPixel)
        attrs["pos_unit"] = .string("level-0 px")
        attrs["edge_attr_unit"] = .string("um")
        for (k, v) in graph.parameters where attrs[k] == nil { attrs[k] = k == "k" ? .int(Int64(v)) : .double(v) }

        do {
            try AtomicFile.produce(path) { tmp in
                try HDF5.locked {
                    let file = try HDF5.createFile(tmp)
                    var closed = false
                    defer { if !closed { H5Fclose(file) } }
                    try writeNodes(file, graph, nodeFeatures, f0, f, location)
                    try writeEdges(file, graph)
                    try GraphH5.writeStrings(file, "feature_names", names)
                    try HDF5.writeAttributes(file, attrs, owner: "the graph file")
                    closed = true
                    try HDF5.check(H5Fclose(file), "close the file")
                }
                // Flush before the rename so a crash cannot leave a complete name with empty content.
                let fd = open(tmp, O_RDONLY | O_CLOEXEC)
                if fd >= 0 { _ = fsync(fd); close(fd) }
            }
        } catch let e as H5Failure {
            throw CellGraphError("\(path): cannot \(e.step): \(e.reason); check free disk space and the output folder, then rerun")
        } catch let e as CellGraphError {
            throw e
        } catch {
            throw CellGraphError("\(path): cannot write the graph: \(error.localizedDescription); check the output folder is writable")
        }
    }

    /// `x` and `pos`, in row blocks so no second N × F copy is made.
    private static func writeNodes(_ file: hid_t, _ g: CellGraph, _ feats: [Float], _ f0: Int, _ f: Int,
                                   _ location: Location) throws {
        let n = g.nodeCount
        let x = try GraphH5.createDataset(file, "x", type: rp_h5t_ieee_f32le(), dims: [n, f], elementSize: 4)
        defer { H5Dclose(x) }
        let pos = try GraphH5.createDataset(file, "pos", type: rp_h5t_ieee_f32le(), dims: [n, 2], elementSize: 4)
        defer { H5Dclose(pos) }
        let block = max(1, (1 << 20) / max(1, f))
        var xb = [Float](repeating: 0, count: min(n, block) * f)
        var pb = [Float](repeating: 0, count: min(n, block) * 2)
        var start = 0
        while start < n {
            let rows = min(block, n - start)
            for r in 0..<rows {
                let i = start + r, p = g.positions[i]
                for c in 0..<f0 { xb[r * f + c] = feats[i * f0 + c] }
                switch location {
                case .none: break
                case .pixels: xb[r * f + f0] = Float(p.x); xb[r * f + f0 + 1] = Float(p.y)
                case .normalised(let w, let h): xb[r * f + f0] = Float(p.x / w); xb[r * f + f0 + 1] = Float(p.y / h)
                }
                pb[2 * r] = Float(p.x); pb[2 * r + 1] = Float(p.y)
            }
            try xb.withUnsafeBytes { try GraphH5.writeBlock(x, "x", memType: rp_h5t_native_float(), offset: [start, 0], count: [rows, f], $0.baseAddress!) }
            try pb.withUnsafeBytes { try GraphH5.writeBlock(pos, "pos", memType: rp_h5t_native_float(), offset: [start, 0], count: [rows, 2], $0.baseAddress!) }
            start += rows
        }
    }

    /// `edge_index` and `edge_attr` from a compressed adjacency, a block of directed edges at a time.
    private static func writeEdges(_ file: hid_t, _ g: CellGraph) throws {
        let adj = Adjacency(g.edges, nodeCount: g.nodeCount)
        let e = adj.neighbours.count
        let ei = try GraphH5.createDataset(file, "edge_index", type: rp_h5t_std_i64le(), dims: [2, e], elementSize: 8, axis: 1)
        defer { H5Dclose(ei) }
        let ea = try GraphH5.createDataset(file, "edge_attr", type: rp_h5t_ieee_f32le(), dims: [e, 1], elementSize: 4)
        defer { H5Dclose(ea) }
        let block = 1 << 17
        var src = [Int64](repeating: 0, count: min(e, block)), dst = src
        var len = [Float](repeating: 0, count: min(e, block))
        var node = 0, k = 0
        while k < e {
            let rows = min(block, e - k)
            for r in 0..<rows {
                while adj.offsets[node + 1] <= k + r { node += 1 }
                let j = Int(adj.neighbours[k + r])
                src[r] = Int64(node); dst[r] = Int64(j)
                let d = g.positions[node] - g.positions[j]
                len[r] = Float((d * d).sum().squareRoot() * g.micronsPerPixel)
            }
            try src.withUnsafeBytes { try GraphH5.writeBlock(ei, "edge_index", memType: rp_h5t_native_int64(), offset: [0, k], count: [1, rows], $0.baseAddress!) }
            try dst.withUnsafeBytes { try GraphH5.writeBlock(ei, "edge_index", memType: rp_h5t_native_int64(), offset: [1, k], count: [1, rows], $0.baseAddress!) }
            try len.withUnsafeBytes { try GraphH5.writeBlock(ea, "edge_attr", memType: rp_h5t_native_float(), offset: [k, 0], count: [rows, 1], $0.baseAddress!) }
            k += rows
        }
    }
}
