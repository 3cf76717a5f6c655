import Foundation

/// Maps a slide's raw patch scores (attention, probabilities, ...) to 0–1 for colouring.
/// NaN scores stay NaN (the patch is not painted) and are left out of every statistic.
public enum ScoreNormalisation: Sendable, Equatable {
    /// CLAM's `convert_to_percentiles`: each score's percentile among the reference scores
    /// (the slide's own when nil), as `scipy.stats.percentileofscore(ref, s, kind='rank')`,
    /// divided by 100. With the slide's own scores this is CLAM's
    /// `rankdata(s, 'average') / n`, in (0, 1].
    case percentile(reference: [Double]? = nil)
    /// Average rank scaled to [0, 1]: (rank − 1) / (n − 1), ties sharing their mean rank;
    /// 0.5 for a single score.
    case rank
    /// (s − min) / (max − min) over the slide; 0.5 when all scores are equal.
    case minMax
    /// (s − low) / (high − low), clipped to [0, 1] (a fixed scale across slides; `raw(0, 1)`
    /// colours probabilities as they are).
    case fixed(low: Double, high: Double)

    /// Normalised scores in the same order; NaN in, NaN out. Throws for an empty reference
    /// or a `fixed` range that is empty.
    public func apply(_ scores: [Double]) throws -> [Double] {
        switch self {
        case .percentile(let reference):
            let ref = (reference ?? scores).filter { !$0.isNaN }
            guard !ref.isEmpty || scores.allSatisfy(\.isNaN) else {
                throw HeatmapError(path: "scores", reason: "percentile normalisation has no reference scores (all NaN or none)",
                                   hint: "give reference scores with at least one number")
            }
            return ScoreNormalisation.percentilesOfScore(ref, scores).map { $0 / 100 }
        case .rank:
            let ranks = ScoreNormalisation.averageRanks(scores)
            let n = scores.filter { !$0.isNaN }.count
            return ranks.map { r in r.isNaN ? .nan : (n > 1 ? (r - 1) / Double(n - 1) : 0.5) }
        case .minMax:
            let valid = scores.filter { !$0.isNaN }
            guard let lo = valid.min(), let hi = valid.max() else { return scores }
            return scores.map { s in s.isNaN ? .nan : (hi > lo ? (s - lo) / (hi - lo) : 0.5) }
        case .fixed(let lo, let hi):
            guard hi > lo, lo.isFinite, hi.isFinite else {
                throw HeatmapError(path: "scores", reason: "the fixed score range [\(lo), \(hi)] is empty", hint: "give low < high")
            }
            return scores.map { s in s.isNaN ? .nan : min(1, max(0, (s - lo) / (hi - lo))) }
        }
    }

    /// `scipy.stats.percentileofscore(reference, s, kind='rank')` for every s (0–100),
    /// computed as scipy does: with `left` = #(ref < s), `right` = #(ref ≤ s),
    /// (left + right + (left < right ? 1 : 0)) · (50 / n). `reference` must hold no NaN.
    public static func percentilesOfScore(_ reference: [Double], _ scores: [Double]) -> [Double] {
        let sorted = reference.sorted()
        let n = sorted.count
        let scale = 50.0 / Double(n)
        return scores.map { s in
            if s.isNaN || n == 0 { return .nan }
            let left = lowerBound(sorted, s), right = upperBound(sorted, s)
            return Double(left + right + (left < right ? 1 : 0)) * scale
        }
    }

    /// 1-based ranks with ties given their mean rank (scipy's `rankdata(method='average')`
    /// over the non-NaN scores); NaN stays NaN.
    public static func averageRanks(_ scores: [Double]) -> [Double] {
        let order = scores.indices.filter { !scores[$0].isNaN }.sorted { scores[$0] < scores[$1] }
        var ranks = [Double](repeating: .nan, count: scores.count)
        var i = 0
        while i < order.count {
            var j = i
            while j + 1 < order.count && scores[order[j + 1]] == scores[order[i]] { j += 1 }
            let mean = Double(i + j + 2) / 2
            for k in i...j { ranks[order[k]] = mean }
            i = j + 1
        }
        return ranks
    }

    static func lowerBound(_ a: [Double], _ v: Double) -> Int {
        var lo = 0, hi = a.count
        while lo < hi { let m = (lo + hi) / 2; if a[m] < v { lo = m + 1 } else { hi = m } }
        return lo
    }

    static func upperBound(_ a: [Double], _ v: Double) -> Int {
        var lo = 0, hi = a.count
        while lo < hi { let m = (lo + hi) / 2; if a[m] <= v { lo = m + 1 } else { hi = m } }
        return lo
    }
}
