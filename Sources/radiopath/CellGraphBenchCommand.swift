import ArgumentParser
import Cells
import Foundation

/// `radiopath graph-bench` (hidden): times the cell-graph steps on a given point set, for
/// bench/bench_graphs.py, which times the Python peers on the same points.
struct CellGraphBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "graph-bench",
        abstract: "Time Delaunay, kNN, radius, Voronoi, MST and graph features.",
        discussion: """
        Reads N points (float64 x,y pairs in µm) from a raw file and prints one
        `label<TAB>seconds` line per step, best of --repeats. `make bench` runs it
        beside scipy/networkx on the same points (bench/bench_graphs.py).
        """,
        shouldDisplay: false)

    @Argument(help: "Number of points in the file.")
    var count: Int

    @Argument(help: "Raw little-endian float64 x,y pairs (µm).")
    var points: String

    @Option(help: "Repeats per step (the best is printed).")
    var repeats = 3

    func run() throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: points))
        guard data.count == count * 16 else {
            throw ValidationError("\(points): holds \(data.count) bytes, expected \(count * 16) for \(count) float64 x,y pairs")
        }
        let xy: [SIMD2<Double>] = data.withUnsafeBytes { raw in
            let d = raw.bindMemory(to: Double.self)
            return (0..<count).map { SIMD2(d[2 * $0], d[2 * $0 + 1]) }
        }
        func time(_ label: String, _ body: () -> Void) {
            var best = Double.infinity
            for _ in 0..<max(1, repeats) {
                let t0 = DispatchTime.now().uptimeNanoseconds
                body()
                best = min(best, Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
            }
            print("\(label)\t\(best)")
        }
        var sink = 0
        time("delaunay") { sink &+= Delaunay(points: xy).triangleCount }
        time("knn_graph_k5_25um") { sink &+= CellGraph.knn(positions: xy, micronsPerPixel: 1, k: 5, maxDistance: 25).edgeCount }
        time("radius_graph_15um") { sink &+= CellGraph.radius(positions: xy, micronsPerPixel: 1, radius: 15).edgeCount }
        time("voronoi_bounded") {
            let d = Delaunay(points: xy)
            sink &+= VoronoiCells(positions: xy, delaunay: d, clip: .boundedOnly).areas.count
        }
        time("mst") { sink &+= CellGraph.minimumSpanningTree(positions: xy, micronsPerPixel: 1).edgeCount }
        time("features_all") { sink &+= GraphFeatures.compute(positions: xy, micronsPerPixel: 1).values.count }
        if sink == 42 { print("") }   // keeps the work observable to the optimiser
    }
}
