import Foundation

/// What `radiopath status` shows: per job kind how many slides are in each state and the
/// time spent, plus every failure with its error and every running job with its holder.
public struct CatalogSummary: Codable, Sendable {
    public struct Kind: Codable, Sendable {
        public var kind: String
        public var pending = 0, running = 0, stale = 0, done = 0, failed = 0
        /// Seconds of work recorded (finished jobs), and units (patches) produced by done jobs.
        public var seconds = 0.0
        public var units = 0
        public var attempts = 0
        public var total: Int { pending + running + done + failed }
    }
    public var catalog: String
    public var schemaVersion: Int
    public var slides: Int
    public var kinds: [Kind]
    public var failures: [JobRecord]
    public var running: [JobRecord]

    public init(catalog: Catalog) throws {
        self.catalog = catalog.path
        schemaVersion = try catalog.storedSchemaVersion()
        let jobs = try catalog.jobs()
        slides = Set(try catalog.slides().map(\.slideID)).union(jobs.map(\.slideID)).count
        var byKind: [String: Kind] = [:]
        for j in jobs {
            var k = byKind[j.kind] ?? Kind(kind: j.kind)
            switch j.status {
            case .pending: k.pending += 1
            case .running: k.running += 1; if j.stale == true { k.stale += 1 }
            case .done: k.done += 1; k.units += j.units ?? 0
            case .failed: k.failed += 1
            }
            k.seconds += j.seconds ?? 0
            k.attempts += j.attempts
            byKind[j.kind] = k
        }
        kinds = byKind.values.sorted { $0.kind < $1.kind }
        failures = jobs.filter { $0.status == .failed }
        running = jobs.filter { $0.status == .running }
    }
}
