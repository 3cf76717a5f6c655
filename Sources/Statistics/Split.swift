import Foundation
import SeededRandom

public enum DataSplit {
    /// k-fold assignment: positives and negatives each shuffled with the seed and dealt
    /// round-robin, so every fold holds nearly the same class balance.
    public static func stratifiedFolds(_ labels: [Bool], _ k: Int, seed: UInt64) -> [Int] {
        var rng = SplitMix64(seed: seed)
        var fold = [Int](repeating: 0, count: labels.count), next = 0
        for cls in [true, false] {
            var idx = labels.indices.filter { labels[$0] == cls }
            for i in stride(from: idx.count - 1, to: 0, by: -1) { idx.swapAt(i, rng.next(below: i + 1)) }
            for i in idx { fold[i] = next % k; next += 1 }
        }
        return fold
    }

    /// A seeded stratified hold-out: within each outcome class, cases are shuffled and the first
    /// round(fraction·class size) go to the test set (at least one per class when the class has
    /// two or more cases). Returns `isTest` per case.
    public static func stratified(labels: [Bool], testFraction: Double, seed: UInt64) throws -> [Bool] {
        guard testFraction > 0 && testFraction < 1 else {
            throw StatisticsError.invalidParameter("split: test fraction \(testFraction); use a fraction in (0, 1), e.g. 0.3")
        }
        var rng = SplitMix64(seed: seed)
        var isTest = [Bool](repeating: false, count: labels.count)
        for cls in [true, false] {
            var idx = labels.indices.filter { labels[$0] == cls }
            for i in stride(from: idx.count - 1, to: 0, by: -1) { idx.swapAt(i, rng.next(below: i + 1)) }
            var m = Int((testFraction * Double(idx.count)).rounded())
            if idx.count >= 2 { m = min(max(m, 1), idx.count - 1) }
            for i in idx.prefix(m) { isTest[i] = true }
        }
        return isTest
    }
}

/// Observed event rate against mean predicted probability in groups of equal size (deciles by
/// default) sorted by prediction — the points of a binned calibration plot.
public struct CalibrationCurve: Codable, Equatable, Sendable {
    public var meanPredicted: [Double]
    public var observed: [Double]
    public var counts: [Int]

    public init(probabilities: [Double], labels: [Bool], groups: Int = 10) throws {
        try checkProbabilities(probabilities, labels)
        let order = probabilities.indices.sorted { probabilities[$0] != probabilities[$1] ? probabilities[$0] < probabilities[$1] : $0 < $1 }
        let g = max(1, min(groups, order.count))
        meanPredicted = []; observed = []; counts = []
        for k in 0..<g {
            let part = order[(k * order.count / g)..<((k + 1) * order.count / g)]
            guard !part.isEmpty else { continue }
            meanPredicted.append(part.reduce(0) { $0 + probabilities[$1] } / Double(part.count))
            observed.append(Double(part.filter { labels[$0] }.count) / Double(part.count))
            counts.append(part.count)
        }
    }
}
