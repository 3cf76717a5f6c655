import Cells
import Foundation
import ImageCore

/// Per-patch pathomic features: nuclear counts and density, statistics of every per-nucleus
/// feature, global cell-graph features of the patch's nuclei, stain amounts and texture of the
/// patch image. Values follow `definitions`; NaN means undefined (written as an empty CSV cell).
///
/// Immutable after `init`, so one extractor may serve many threads (patches in parallel).
public struct PatchFeatureExtractor: Sendable {
    public let nuclei: NucleusTable
    public let micronsPerPixel: Double
    public let options: PathomicsOptions
    /// Column definitions, in value order.
    public let definitions: [PathomicFeature]
    private let grid: NucleusGrid

    public var names: [String] { definitions.map(\.name) }

    /// - Parameters:
    ///   - nuclei: the slide's nuclei (centroids in level-0 px).
    ///   - micronsPerPixel: level-0 resolution of the slide.
    /// - Throws: `PathomicsError` for a resolution that is not a positive number or options that
    ///   cannot work.
    public init(nuclei: NucleusTable, micronsPerPixel: Double, options: PathomicsOptions = .init()) throws {
        guard micronsPerPixel > 0 && micronsPerPixel.isFinite else {
            throw PathomicsError("PatchFeatureExtractor: micronsPerPixel must be a positive number (got \(micronsPerPixel)); give the slide's level-0 µm/px")
        }
        guard (2...256).contains(options.glcmLevels), !options.glcmDistances.isEmpty, options.glcmDistances.allSatisfy({ $0 >= 1 }) else {
            throw PathomicsError("PathomicsOptions: glcmLevels must be 2…256 and glcmDistances non-empty positive (got \(options.glcmLevels), \(options.glcmDistances))")
        }
        guard options.graph.knnK >= 0, options.graph.neighbourCounts.allSatisfy({ $0 >= 1 }),
              options.graph.neighbourRadii.allSatisfy({ $0 >= 0 && $0.isFinite }) else {
            throw PathomicsError("PathomicsOptions.graph: k, neighbour counts and radii must be non-negative (counts ≥ 1)")
        }
        self.nuclei = nuclei
        self.micronsPerPixel = micronsPerPixel
        self.options = options
        definitions = PathomicCatalogue.definitions(options, nuclearNames: nuclei.featureNames)
        grid = NucleusGrid(nuclei.positions)
    }

    /// Input indices (ascending) of the nuclei whose centroid lies in `rect`.
    public func nucleiIndices(in rect: PixelRect) -> [Int] {
        grid.inside(nuclei.positions, x0: Double(rect.x), y0: Double(rect.y), x1: Double(rect.maxX), y1: Double(rect.maxY))
    }

    /// Features of the patch covering `rect` (level-0 px). `image` is the patch's pixels at any
    /// resolution (texture distances are in its pixels; keep one resolution across a study), or nil
    /// to leave the stain and texture columns empty.
    public func features(rect: PixelRect, image: RGBImage?) -> [Double] {
        var v: [Double] = [Double(rect.x), Double(rect.y), Double(rect.width), Double(rect.height)]
        v.reserveCapacity(definitions.count)
        let inside = nucleiIndices(in: rect)
        let areaMM2 = Double(rect.width) * Double(rect.height) * micronsPerPixel * micronsPerPixel / 1e6
        let imageValues = image.map { PatchImageFeatures.compute($0, options) }
        let tissueFraction = imageValues?[0] ?? .nan
        v.append(Double(inside.count))
        v.append(areaMM2 > 0 ? Double(inside.count) / areaMM2 : .nan)
        v.append(tissueFraction > 0 && areaMM2 > 0 ? Double(inside.count) / (areaMM2 * tissueFraction) : .nan)

        // Per-nucleus feature statistics.
        let f = nuclei.featureNames.count
        var column: [Double] = []
        column.reserveCapacity(inside.count)
        for c in 0..<f {
            column.removeAll(keepingCapacity: true)
            for i in inside { let x = nuclei.features[i * f + c]; if x.isFinite { column.append(x) } }
            v.append(contentsOf: Self.summary(&column))
        }

        // Graph features of the patch's nuclei; statistics over nothing become NaN.
        var go = options.graph
        if options.clipVoronoiToPatch, let r = try? ConvexRegion.rect(x: Double(rect.x), y: Double(rect.y),
                                                                          width: Double(rect.width), height: Double(rect.height)) {
            go.voronoi = .region(r)
        }
        let g = GraphFeatures.compute(positions: inside.map { nuclei.positions[$0] }, micronsPerPixel: micronsPerPixel, options: go)
        for k in g.values.indices { v.append(g.populations[k] == 0 ? .nan : g.values[k]) }

        v.append(contentsOf: imageValues ?? [Double](repeating: .nan, count: PatchImageFeatures.count))
        precondition(v.count == definitions.count, "PatchFeatureExtractor: \(v.count) values for \(definitions.count) columns (internal error)")
        return v
    }

    /// Mean, population std, p10, p50, p90 (numpy's linear interpolation); NaN when empty. Sorts `x`.
    static func summary(_ x: inout [Double]) -> [Double] {
        guard !x.isEmpty else { return [.nan, .nan, .nan, .nan, .nan] }
        x.sort()
        let n = Double(x.count)
        let mean = x.reduce(0, +) / n
        let sd = (x.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / n).squareRoot()
        return [mean, sd, percentile(x, 10), percentile(x, 50), percentile(x, 90)]
    }

    /// numpy.percentile(x, q) with method="linear" on sorted `x`.
    static func percentile(_ sorted: [Double], _ q: Double) -> Double {
        let h = Double(sorted.count - 1) * q / 100
        let lo = Int(h.rounded(.down)), hi = min(lo + 1, sorted.count - 1)
        return sorted[lo] + (h - Double(lo)) * (sorted[hi] - sorted[lo])
    }
}
