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

extension Shard {
    /// The shard of a Slurm job-array task, from its environment: task SLURM_ARRAY_TASK_ID of
    /// SLURM_ARRAY_TASK_COUNT, counted from SLURM_ARRAY_TASK_MIN (0 when unset) in steps of
    /// SLURM_ARRAY_TASK_STEP (1 when unset). Nil outside an array job. A task id that does not
    /// fall on that grid (an array given as a list such as 1,4,9) cannot be placed and throws:
    /// give --shard i/n instead.
    public static func slurmArrayTask(environment env: [String: String]) throws -> Shard? {
        guard let idText = env["SLURM_ARRAY_TASK_ID"], !idText.isEmpty else { return nil }
        func number(_ name: String, default value: Int? = nil) throws -> Int {
            guard let text = env[name], !text.isEmpty else {
                if let value { return value }
                throw InputProblem(path: name, reason: "is not set although SLURM_ARRAY_TASK_ID=\(idText) is",
                                   hint: "run inside an sbatch --array job, or give --shard i/n")
            }
            guard let v = Int(text.trimmingCharacters(in: .whitespaces)) else {
                throw InputProblem(path: name, reason: "'\(text)' is not a whole number", hint: "give --shard i/n instead")
            }
            return v
        }
        let id = try number("SLURM_ARRAY_TASK_ID"), count = try number("SLURM_ARRAY_TASK_COUNT")
        let low = try number("SLURM_ARRAY_TASK_MIN", default: 0), step = try number("SLURM_ARRAY_TASK_STEP", default: 1)
        guard count >= 1, step >= 1 else {
            throw InputProblem(path: "SLURM_ARRAY_TASK_COUNT", reason: "array of \(count) tasks in steps of \(step)",
                               hint: "give --shard i/n instead")
        }
        let offset = id - low
        guard offset >= 0, offset % step == 0, offset / step < count else {
            throw InputProblem(path: "SLURM_ARRAY_TASK_ID=\(id)",
                               reason: "not one of \(count) tasks from \(low) in steps of \(step) (an array given as a list?)",
                               hint: "submit the array as a range (--array=0-\(count - 1)), or give --shard i/n")
        }
        return Shard(index: offset / step + 1, count: count)
    }
}
