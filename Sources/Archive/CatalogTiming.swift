import Foundation

/// Time spent in catalog operations by this process, per operation, so the catalog's cost
/// per slide can be measured on a real run (`RADIOPATH_CATALOG_TIMING=1` prints it at the end).
public enum CatalogTiming {
    public enum Op: String, CaseIterable, Sendable { case addPending = "add pending", claim, finish, hashOutputs = "hash outputs", progress, report }

    nonisolated(unsafe) private static var seconds: [Op: Double] = [:]
    nonisolated(unsafe) private static var calls: [Op: Int] = [:]
    private static let lock = NSLock()

    static func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

    /// Adds the time since `start` (from `now()`) to `op`.
    public static func add(_ op: Op, since start: UInt64) {
        let s = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        lock.lock(); defer { lock.unlock() }
        seconds[op, default: 0] += s
        calls[op, default: 0] += 1
    }

    /// Runs `body`, counting its time against `op`.
    public static func measure<T>(_ op: Op, _ body: () throws -> T) rethrows -> T {
        let t = now()
        defer { add(op, since: t) }
        return try body()
    }

    public static func snapshot() -> [(op: Op, calls: Int, seconds: Double)] {
        lock.lock(); defer { lock.unlock() }
        return Op.allCases.compactMap { op in calls[op].map { (op, $0, seconds[op] ?? 0) } }
    }

    /// Whether the user asked for the timing line (`RADIOPATH_CATALOG_TIMING=1`).
    public static var requested: Bool { ProcessInfo.processInfo.environment["RADIOPATH_CATALOG_TIMING"].map { $0 != "" && $0 != "0" } ?? false }

    /// One line: per operation calls and milliseconds, and the total per slide claimed.
    public static func line(slides: Int) -> String {
        let s = snapshot()
        let total = s.reduce(0) { $0 + $1.seconds }
        let parts = s.map { String(format: "%@ %d× %.2f ms", $0.op.rawValue, $0.calls, $0.seconds * 1000) }
        return String(format: "catalog timing: %@; total %.2f ms, %.3f ms per slide (%d slides)",
                      parts.joined(separator: ", "), total * 1000, slides > 0 ? total * 1000 / Double(slides) : 0, slides)
    }
}
