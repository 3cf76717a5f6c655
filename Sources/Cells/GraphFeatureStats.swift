import Foundation

/// Summary statistics of one population (Voronoi areas, Delaunay sides, ...), as HistomicsTK's
/// `_pop_stats` forms them.
///
/// With `trim`, values more than 3 standard deviations from the mean are dropped and the test
/// repeated until none is (HistomicsTK's outlier rule); mean, standard deviation (population,
/// ddof = 0), minimum and maximum then describe what is left. `min_max_ratio` is min / max (0 when
/// max is 0) and `disorder` std / (mean + std) (0 when that sum is 0). An empty population gives
/// all zeros.
struct PopulationStats: Equatable {
    var mean = 0.0, stddev = 0.0, min = 0.0, max = 0.0, minMaxRatio = 0.0, disorder = 0.0
    /// Size before trimming.
    var count = 0

    static let suffixes = ["mean", "stddev", "min", "max", "min_max_ratio", "disorder"]

    var values: [Double] { [mean, stddev, min, max, minMaxRatio, disorder] }

    init() {}

    init(_ values: [Double], trim: Bool) {
        count = values.count
        guard !values.isEmpty else { return }
        var pop = values
        var m = 0.0, s = 0.0
        while true {
            (m, s) = Self.meanStd(pop)
            guard trim else { break }
            let kept = pop.filter { abs($0 - m) <= 3 * s }
            if kept.count == pop.count || kept.isEmpty { break }
            pop = kept
        }
        mean = m; stddev = s
        min = pop.min()!; max = pop.max()!
        minMaxRatio = max != 0 ? min / max : 0
        disorder = (m + s) != 0 ? s / (m + s) : 0
    }

    /// Mean and population standard deviation; two passes for accuracy.
    static func meanStd(_ v: [Double]) -> (Double, Double) {
        var sum = 0.0
        for x in v { sum += x }
        let m = sum / Double(v.count)
        var ss = 0.0
        for x in v { ss += (x - m) * (x - m) }
        return (m, (ss / Double(v.count)).squareRoot())
    }
}
