import Foundation

/// The nuclei of a slide as Pathomics reads them: centroids in level-0 px and a matrix of named
/// per-nucleus features (area, eccentricity, haematoxylin OD, …). Any segmentation can fill it.
public struct NucleusTable: Sendable {
    /// Centroids, level-0 px (x, y).
    public let positions: [SIMD2<Double>]
    /// Column names of `features`; they become `nuclei_<name>_<stat>` columns.
    public let featureNames: [String]
    /// Row-major `count × featureNames.count`; non-finite values are skipped in the statistics.
    public let features: [Double]

    public var count: Int { positions.count }

    /// - Throws: `PathomicsError` when the matrix does not have one row per nucleus or a name is
    ///   empty, repeated or would break a CSV column name.
    public init(positions: [SIMD2<Double>], featureNames: [String], features: [Double]) throws {
        guard features.count == positions.count * featureNames.count else {
            throw PathomicsError("NucleusTable: \(features.count) feature values for \(positions.count) nuclei × \(featureNames.count) names; give one row of \(featureNames.count) values per nucleus")
        }
        guard Set(featureNames).count == featureNames.count else {
            throw PathomicsError("NucleusTable: repeated feature names \(featureNames); give each column a unique name")
        }
        if let bad = featureNames.first(where: { $0.isEmpty || $0.contains(where: { ",\"\n\r".contains($0) }) }) {
            throw PathomicsError("NucleusTable: feature name '\(bad)' is empty or holds a comma, quote or newline; use names like area_um2")
        }
        if let i = positions.firstIndex(where: { !$0.x.isFinite || !$0.y.isFinite }) {
            throw PathomicsError("NucleusTable: nucleus \(i) has a non-finite centroid \(positions[i]); drop it or fix the segmentation output")
        }
        self.positions = positions
        self.featureNames = featureNames
        self.features = features
    }

    /// A table without per-nucleus features (positions only).
    public init(positions: [SIMD2<Double>]) throws {
        try self.init(positions: positions, featureNames: [], features: [])
    }
}

/// Nuclei bucketed on a uniform grid so a patch finds its nuclei without scanning the slide.
struct NucleusGrid: Sendable {
    let cell: Double
    let originX: Double, originY: Double
    let columns: Int, rows: Int
    /// Nuclei of grid cell c are `order[start[c]..<start[c + 1]]`, in input order.
    let start: [Int]
    let order: [Int32]

    init(_ positions: [SIMD2<Double>]) {
        let n = positions.count
        var minX = Double.infinity, minY = Double.infinity, maxX = -Double.infinity, maxY = -Double.infinity
        for p in positions { minX = min(minX, p.x); maxX = max(maxX, p.x); minY = min(minY, p.y); maxY = max(maxY, p.y) }
        if n == 0 { minX = 0; minY = 0; maxX = 0; maxY = 0 }
        // About 32 nuclei per cell on average: n / 32 cells whatever the layout.
        let w = max(maxX - minX, 1), h = max(maxY - minY, 1)
        let size = (w * h * 32 / Double(max(n, 1))).squareRoot()
        cell = size
        originX = minX; originY = minY
        columns = Int(w / size) + 1; rows = Int(h / size) + 1
        var counts = [Int](repeating: 0, count: columns * rows + 1)
        var key = [Int](repeating: 0, count: n)
        for (i, p) in positions.enumerated() {
            let c = min(columns - 1, Int((p.x - minX) / size)) + columns * min(rows - 1, Int((p.y - minY) / size))
            key[i] = c
            counts[c + 1] += 1
        }
        for c in 0..<(columns * rows) { counts[c + 1] += counts[c] }
        var fill = counts
        var ord = [Int32](repeating: 0, count: n)
        for i in 0..<n { ord[fill[key[i]]] = Int32(i); fill[key[i]] += 1 }
        start = counts
        order = ord
    }

    /// Indices (ascending) of nuclei with x0 ≤ x < x1 and y0 ≤ y < y1.
    func inside(_ positions: [SIMD2<Double>], x0: Double, y0: Double, x1: Double, y1: Double) -> [Int] {
        guard !positions.isEmpty, x1 > x0, y1 > y0 else { return [] }
        let c0 = max(0, Int(((x0 - originX) / cell).rounded(.down))), c1 = min(columns - 1, Int(((x1 - originX) / cell).rounded(.down)))
        let r0 = max(0, Int(((y0 - originY) / cell).rounded(.down))), r1 = min(rows - 1, Int(((y1 - originY) / cell).rounded(.down)))
        guard c0 <= c1, r0 <= r1 else { return [] }
        var out: [Int] = []
        for r in r0...r1 {
            for c in c0...c1 {
                let g = r * columns + c
                for k in start[g]..<start[g + 1] {
                    let i = Int(order[k]), p = positions[i]
                    if p.x >= x0 && p.x < x1 && p.y >= y0 && p.y < y1 { out.append(i) }
                }
            }
        }
        out.sort()
        return out
    }
}

/// Pathomics input or output that cannot be used: what is wrong and what to do.
public struct PathomicsError: Error, CustomStringConvertible, Sendable {
    public let message: String
    init(_ message: String) { self.message = message }
    public var description: String { message }
}
