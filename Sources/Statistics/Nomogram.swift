import Foundation

/// A points nomogram for a logistic model, built as R's `rms::nomogram` builds one: every
/// predictor's contribution βⱼxⱼ over its axis range is shifted to start at 0, the predictor with
/// the widest contribution range spans 0–100 points and the others are scaled alike; total points
/// map back linearly to the linear predictor and through the logistic to a probability.
public struct Nomogram: Codable, Equatable, Sendable {
    public struct Axis: Codable, Equatable, Sendable {
        public var name: String
        public var coefficient: Double
        /// The axis runs over [low, high] (the training range of the predictor).
        public var low: Double
        public var high: Double
        /// Tick values with their points, for tables and plots.
        public var ticks: [Double]
        public var tickPoints: [Double]
    }

    public var axes: [Axis]
    /// Linear-predictor units per point: (widest contribution range) / 100.
    public var unitsPerPoint: Double
    /// The linear predictor at 0 total points: β₀ + Σⱼ min(βⱼ·low, βⱼ·high).
    public var baseline: Double
    /// Total points at which the probability is 0.05, 0.1, 0.2, …, 0.9, 0.95 (those reachable).
    public var probabilityTicks: [Double]
    public var probabilityTickPoints: [Double]
    /// The largest total (every axis at its maximum points).
    public var maxTotalPoints: Double

    /// `ranges[j]` is predictor j's axis range; nil uses the training rows' min and max.
    public init(model: LogisticModel, names: [String], rows: [[Double]], ranges: [ClosedRange<Double>]? = nil) throws {
        let p = model.coefficients.count
        guard names.count == p else {
            throw StatisticsError.invalidParameter("nomogram: \(names.count) names for \(p) coefficients; name every predictor")
        }
        guard !rows.isEmpty || ranges != nil else { throw StatisticsError.invalidParameter("nomogram: no rows to take the axis ranges from") }
        let r = ranges ?? (0..<p).map { j in
            let v = rows.map { $0[j] }
            return v.min()!...v.max()!
        }
        let width = (0..<p).map { abs(model.coefficients[$0]) * (r[$0].upperBound - r[$0].lowerBound) }
        guard let widest = width.max(), widest > 0 else {
            throw StatisticsError.invalidParameter("nomogram: every predictor has a zero coefficient or a zero range; nothing to draw")
        }
        unitsPerPoint = widest / 100
        baseline = model.intercept + (0..<p).reduce(0) { s, j in
            s + min(model.coefficients[j] * r[j].lowerBound, model.coefficients[j] * r[j].upperBound)
        }
        let upp = unitsPerPoint
        axes = (0..<p).map { j in
            let b = model.coefficients[j], lo = r[j].lowerBound, hi = r[j].upperBound
            let ticks = niceTicks(lo, hi)
            let m = min(b * lo, b * hi)
            return Axis(name: names[j], coefficient: b, low: lo, high: hi, ticks: ticks, tickPoints: ticks.map { (b * $0 - m) / upp })
        }
        maxTotalPoints = width.reduce(0, +) / unitsPerPoint
        let probs = [0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95]
        let base = baseline
        let pts = probs.map { (log($0 / (1 - $0)) - base) / upp }
        let ok = pts.indices.filter { pts[$0] >= 0 && pts[$0] <= width.reduce(0, +) / upp }
        probabilityTicks = ok.map { probs[$0] }
        probabilityTickPoints = ok.map { pts[$0] }
    }

    /// Points per predictor for one case (values outside the axis range extrapolate linearly).
    public func points(_ row: [Double]) -> [Double] {
        axes.indices.map { j in
            let a = axes[j]
            return (a.coefficient * row[j] - min(a.coefficient * a.low, a.coefficient * a.high)) / unitsPerPoint
        }
    }

    public func totalPoints(_ row: [Double]) -> Double { points(row).reduce(0, +) }
    public func linearPredictor(totalPoints t: Double) -> Double { baseline + t * unitsPerPoint }
    public func probability(totalPoints t: Double) -> Double { logistic(linearPredictor(totalPoints: t)) }
}

/// About 5 round tick values (steps of 1, 2 or 5 × 10ᵏ) inside [lo, hi], always including both
/// ends when the range is degenerate.
func niceTicks(_ lo: Double, _ hi: Double, target: Int = 5) -> [Double] {
    guard hi > lo else { return [lo] }
    let raw = (hi - lo) / Double(target)
    let mag = pow(10, floor(log10(raw)))
    let step = [1.0, 2, 5, 10].map { $0 * mag }.first { $0 >= raw } ?? 10 * mag
    var t: [Double] = []
    var v = ceil(lo / step) * step
    while v <= hi + 1e-9 * step { t.append(abs(v) < 1e-12 * step ? 0 : v); v += step }
    return t
}
