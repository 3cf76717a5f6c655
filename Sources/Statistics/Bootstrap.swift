import SeededRandom
/// A percentile bootstrap interval.
public struct BootstrapInterval: Codable, Equatable, Sendable {
    /// The statistic on the original sample.
    public var estimate: Double
    public var interval: ConfidenceInterval
    /// Standard deviation of the replicate values (n − 1 denominator).
    public var standardError: Double
    /// Replicates drawn, and how many were skipped because the statistic was undefined on them
    /// (threw or returned NaN, e.g. an AUC on a resample with one class).
    public var replicates: Int
    public var skipped: Int
    public var seed: UInt64
    public var stratified: Bool
}

/// Seeded, resampling-with-replacement bootstrap. The same seed, sample count and strata give
/// the same resamples on every platform (own generator, not the standard library's).
public enum Bootstrap {
    /// The general form: `statistic` receives the indices of one resample (with repeats) and
    /// returns its value; pair it with any data, e.g. two models' scores for a paired difference.
    /// With `strata` (one key per sample, e.g. the class label) every resample keeps each
    /// stratum's size. The interval is the percentile interval, quantiles interpolated
    /// linearly as `numpy.percentile`.
    public static func interval(sampleCount: Int, strata: [Int]? = nil, replicates: Int = 2000, level: Double = 0.95,
                                seed: UInt64 = 0, statistic: ([Int]) throws -> Double) throws -> BootstrapInterval {
        try intervals(sampleCount: sampleCount, strata: strata, replicates: replicates, level: level, seed: seed) {
            [try statistic($0)]
        }[0]
    }

    /// Several statistics on the same resamples (one pass, comparable intervals): `statistics`
    /// returns one value per statistic, always the same count; a NaN skips that statistic only.
    public static func intervals(sampleCount: Int, strata: [Int]? = nil, replicates: Int = 2000, level: Double = 0.95,
                                 seed: UInt64 = 0, statistics: ([Int]) throws -> [Double]) throws -> [BootstrapInterval] {
        try checkLevel(level)
        guard sampleCount > 0 else { throw StatisticsError.empty }
        guard replicates >= 2 else {
            throw StatisticsError.invalidParameter("bootstrap needs at least 2 replicates (\(replicates) given); 2000 is usual")
        }
        if let s = strata, s.count != sampleCount {
            throw StatisticsError.invalidParameter("bootstrap strata has \(s.count) keys for \(sampleCount) samples; give one per sample")
        }
        let groups: [[Int]] = {
            guard let s = strata else { return [Array(0..<sampleCount)] }
            return Dictionary(grouping: 0..<sampleCount) { s[$0] }.sorted { $0.key < $1.key }.map { $0.value }
        }()
        let estimates = try statistics(Array(0..<sampleCount))
        var rng = SplitMix64(seed: seed)
        var values = [[Double]](repeating: [], count: estimates.count)
        var idx = [Int](repeating: 0, count: sampleCount)
        for _ in 0..<replicates {
            var k = 0
            for g in groups { for _ in 0..<g.count { idx[k] = g[rng.next(below: g.count)]; k += 1 } }
            guard let v = try? statistics(idx) else { continue }
            precondition(v.count == estimates.count, "Bootstrap: the statistics returned \(v.count) values, first \(estimates.count)")
            for (j, x) in v.enumerated() where !x.isNaN { values[j].append(x) }
        }
        let alpha = (1 - level) / 2
        return try zip(estimates, values).map { estimate, vals in
            guard vals.count >= 2 else {
                throw StatisticsError.invalidParameter("bootstrap: the statistic was undefined on \(replicates - vals.count) of " +
                                                       "\(replicates) resamples; stratify by class or check the statistic")
            }
            let sorted = vals.sorted()
            let mean = sorted.reduce(0, +) / Double(sorted.count)
            let sd = (sorted.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(sorted.count - 1)).squareRoot()
            return BootstrapInterval(estimate: estimate,
                                     interval: ConfidenceInterval(lower: percentile(sorted, alpha), upper: percentile(sorted, 1 - alpha), level: level),
                                     standardError: sd, replicates: replicates, skipped: replicates - sorted.count,
                                     seed: seed, stratified: strata != nil)
        }
    }

    /// For a metric of (scores, labels), stratified by label unless told otherwise.
    public static func interval(scores: [Double], labels: [Bool], replicates: Int = 2000, level: Double = 0.95,
                                seed: UInt64 = 0, stratified: Bool = true,
                                metric: ([Double], [Bool]) throws -> Double) throws -> BootstrapInterval {
        _ = try validateBinary(scores, labels)
        return try interval(sampleCount: scores.count, strata: stratified ? labels.map { $0 ? 1 : 0 } : nil,
                            replicates: replicates, level: level, seed: seed) { idx in
            try metric(idx.map { scores[$0] }, idx.map { labels[$0] })
        }
    }

    /// Linear interpolation between order statistics (numpy's default "linear" method).
    static func percentile(_ sorted: [Double], _ q: Double) -> Double {
        let h = Double(sorted.count - 1) * q
        let lo = Int(h.rounded(.down)), hi = Swift.min(lo + 1, sorted.count - 1)
        return sorted[lo] + (h - Double(lo)) * (sorted[hi] - sorted[lo])
    }
}

