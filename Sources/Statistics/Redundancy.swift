import Foundation

public enum CorrelationMethod: String, Codable, Sendable, CaseIterable {
    case pearson
    /// Pearson correlation of mid-ranks (ties share their mean rank), as scipy.stats.spearmanr.
    case spearman
}

/// Correlation matrices and the greedy redundancy filter of radiomics papers.
public enum Redundancy {
    /// The p × p correlation matrix of the columns of `rows` (n × p). A constant column has
    /// correlation NaN with everything (numpy's corrcoef gives NaN too).
    public static func correlationMatrix(_ rows: [[Double]], method: CorrelationMethod) -> [[Double]] {
        let n = rows.count, p = rows.first?.count ?? 0
        var cols = (0..<p).map { j in rows.map { $0[j] } }
        if method == .spearman { cols = cols.map(midranks) }
        // Centred, unit-norm columns: r is then a dot product.
        let unit = cols.map { c -> [Double] in
            let m = c.reduce(0, +) / Double(n)
            let d = c.map { $0 - m }
            let norm = d.reduce(0) { $0 + $1 * $1 }.squareRoot()
            return norm > 0 ? d.map { $0 / norm } : [Double](repeating: .nan, count: n)
        }
        var r = [[Double]](repeating: [Double](repeating: 0, count: p), count: p)
        for a in 0..<p {
            r[a][a] = unit[a].first?.isNaN == true ? .nan : 1
            for b in (a + 1)..<max(a + 1, p) {
                var s = 0.0
                for i in 0..<n { s += unit[a][i] * unit[b][i] }
                let v = max(-1, min(1, s))
                r[a][b] = s.isNaN ? .nan : v; r[b][a] = r[a][b]
            }
        }
        return r
    }

    /// Which of two correlated features survives.
    public enum Priority: Codable, Equatable, Sendable {
        /// The earlier column wins.
        case columnOrder
        /// The feature with the larger univariable |AUC − 0.5| wins (ties: the earlier column) —
        /// the usual "keep the more predictive of a correlated pair" rule of radiomics papers.
        case univariableAUC(labels: [Bool])
    }

    /// The result of the filter: survivors, and for each dropped feature the kept one it
    /// correlated with.
    public struct Result: Codable, Equatable, Sendable {
        /// Kept feature indices, in column order.
        public var kept: [Int]
        /// dropped feature → (kept feature it correlates with, |r|).
        public var droppedBy: [Int: Int]
        public var correlationWith: [Int: Double]
        /// Per-feature score used for the order (|AUC − 0.5| or nil for column order).
        public var priorityScores: [Double]?
    }

    /// Visits features by priority and keeps one unless |r| ≥ `threshold` with a feature already
    /// kept. Deterministic: ties in priority fall back to column order.
    public static func filter(_ rows: [[Double]], threshold: Double, method: CorrelationMethod = .pearson,
                              priority: Priority = .columnOrder) throws -> Result {
        guard threshold > 0 && threshold <= 1 else {
            throw StatisticsError.invalidParameter("redundancy filter: threshold \(threshold); use a |r| in (0, 1], e.g. 0.85")
        }
        let p = rows.first?.count ?? 0
        let r = correlationMatrix(rows, method: method)
        var order = Array(0..<p), scores: [Double]? = nil
        if case let .univariableAUC(labels) = priority {
            let s = try (0..<p).map { j in abs(try rocAUC(scores: rows.map { $0[j] }, labels: labels) - 0.5) }
            scores = s
            order.sort { s[$0] != s[$1] ? s[$0] > s[$1] : $0 < $1 }
        }
        var kept: [Int] = [], by: [Int: Int] = [:], with: [Int: Double] = [:]
        for j in order {
            if let k = kept.first(where: { abs(r[j][$0]) >= threshold }) {
                by[j] = k; with[j] = abs(r[j][k])
            } else {
                kept.append(j)
            }
        }
        return Result(kept: kept.sorted(), droppedBy: by, correlationWith: with, priorityScores: scores)
    }
}
