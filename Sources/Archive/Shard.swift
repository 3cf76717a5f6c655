import Foundation

/// One part of a batch split among `count` workers (`--shard i/n`, i from 1 to n). Items are
/// sorted by key (the slide id: outputs are named by it, so it is unique) and dealt round
/// robin, so shards differ by at most one item and every shard given the same inputs agrees
/// on the split. Workers given different inputs are still safe: the catalog's locks stop
/// two of them doing one slide.
public struct Shard: Sendable, Equatable, CustomStringConvertible {
    public let index: Int
    public let count: Int

    public init(index: Int, count: Int) { self.index = index; self.count = count }

    /// Parses `i/n`.
    public init(parsing text: String) throws {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        guard parts.count == 2, let i = Int(parts[0]), let n = Int(parts[1]) else {
            throw InputProblem(path: "--shard \(text)", reason: "expected i/n, e.g. 2/8", hint: "give the shard number and the number of shards")
        }
        guard n >= 1, (1...n).contains(i) else {
            throw InputProblem(path: "--shard \(text)", reason: "shard number must be 1 to \(max(n, 1)) and the count at least 1",
                               hint: "shards are numbered from 1: --shard 1/\(max(n, 1)) … --shard \(max(n, 1))/\(max(n, 1))")
        }
        index = i; count = n
    }

    public var description: String { "\(index)/\(count)" }

    /// This shard's items, in their original order.
    public func select<T>(_ items: [T], key: (T) -> String) -> [T] {
        guard count > 1 else { return items }
        let order = items.indices.sorted { key(items[$0]) < key(items[$1]) || (key(items[$0]) == key(items[$1]) && $0 < $1) }
        var mine = Set<Int>()
        for (rank, i) in order.enumerated() where rank % count == index - 1 { mine.insert(i) }
        return items.indices.filter { mine.contains($0) }.map { items[$0] }
    }
}
