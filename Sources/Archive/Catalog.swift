import Foundation

/// The catalog of one output folder (`<out>/radiopath.sqlite`): slides, and per slide and
/// job kind (tile, embed:<encoder>, …) the status, attempts, timings, errors and outputs.
/// Several processes share it: SQLite in WAL mode, every change in one BEGIN IMMEDIATE
/// transaction, and `running` rows act as locks naming host and pid, so two workers never
/// take one job and a dead worker's job is taken over.
public final class Catalog: @unchecked Sendable {
    public static let fileName = "radiopath.sqlite"
    /// Version of the tables below. A newer catalog is refused; an older one is migrated
    /// when `migrations` knows how, refused otherwise.
    public static let schemaVersion = 2
    /// SQL taking a catalog from version N (the key) to N + 1, run in one transaction.
    static let migrations: [Int: String] = [
        // 2: per-job warnings and details (summaries are rebuilt from the catalog), parameter texts.
        1: """
        ALTER TABLE jobs ADD COLUMN warnings TEXT;
        ALTER TABLE jobs ADD COLUMN details TEXT;
        CREATE TABLE parameters(params_hash TEXT PRIMARY KEY, kind TEXT NOT NULL, tool_version TEXT, text TEXT NOT NULL, first_seen REAL NOT NULL);
        """,
    ]

    public let path: String
    /// This worker, as lock rows name it.
    public let host: String
    public let pid: Int
    /// A running job whose holder has not sent a heartbeat for this long is taken over (the
    /// only test that works across hosts; on this host a dead pid is enough).
    public var staleAfter: TimeInterval = 1800

    private let db: SQLiteDB
    private let lock = NSLock()
    private var timer: DispatchSourceTimer?

    public static func path(in folder: String) -> String { (folder as NSString).appendingPathComponent(fileName) }
    public static func exists(in folder: String) -> Bool { FileManager.default.fileExists(atPath: path(in: folder)) }

    /// Opens (or creates) the catalog of `folder`. Read-only opening never creates or migrates.
    public init(folder: String, readOnly: Bool = false, toolVersion: String = "") throws {
        path = Self.path(in: folder)
        host = Self.hostName()
        pid = Int(getpid())
        if readOnly && !FileManager.default.fileExists(atPath: path) {
            throw CatalogError(path: path, what: "no catalog here", hint: "run `radiopath tile` or `radiopath embed` with --out \(folder) first")
        }
        db = try SQLiteDB(path: path, readOnly: readOnly)
        if !readOnly {
            // Switching a new file to WAL needs an exclusive lock, and SQLite reports a clash
            // there as busy at once instead of waiting in the busy handler: two workers that
            // open a fresh catalog together retry here (WAL, once set, persists in the file).
            var attempt = 0
            while true {
                do {
                    try db.exec("PRAGMA journal_mode=WAL")
                    break
                } catch let e as CatalogError where e.isBusy && attempt < 200 {
                    attempt += 1
                    usleep(useconds_t(20_000 + Int.random(in: 0..<30_000)))
                }
            }
            try db.exec("PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON")
        }
        try prepareSchema(readOnly: readOnly, toolVersion: toolVersion)
    }

    deinit { timer?.cancel() }

    static func hostName() -> String {
        var buf = [CChar](repeating: 0, count: 256)
        gethostname(&buf, buf.count - 1)
        return String(cString: buf)
    }

    static let schema = """
    CREATE TABLE schema_version(version INTEGER NOT NULL, tool_version TEXT, created REAL NOT NULL);
    CREATE TABLE slides(
        slide_id TEXT PRIMARY KEY, path TEXT NOT NULL, size INTEGER, mtime REAL, quickhash TEXT,
        mpp REAL, mpp_source TEXT, label TEXT, updated REAL NOT NULL);
    CREATE TABLE jobs(
        kind TEXT NOT NULL, slide_id TEXT NOT NULL, input TEXT,
        status TEXT NOT NULL CHECK (status IN ('pending', 'running', 'done', 'failed')),
        attempts INTEGER NOT NULL DEFAULT 0,
        host TEXT, pid INTEGER, started REAL, heartbeat REAL, finished REAL, seconds REAL, units INTEGER,
        error TEXT, hint TEXT, tool_version TEXT, params_hash TEXT, warnings TEXT, details TEXT,
        PRIMARY KEY (kind, slide_id));
    CREATE TABLE parameters(params_hash TEXT PRIMARY KEY, kind TEXT NOT NULL, tool_version TEXT, text TEXT NOT NULL, first_seen REAL NOT NULL);
    CREATE TABLE outputs(
        kind TEXT NOT NULL, slide_id TEXT NOT NULL, path TEXT NOT NULL, size INTEGER, sha256 TEXT,
        PRIMARY KEY (kind, slide_id, path),
        FOREIGN KEY (kind, slide_id) REFERENCES jobs(kind, slide_id) ON DELETE CASCADE);
    """

    private func prepareSchema(readOnly: Bool, toolVersion: String) throws {
        let check = { [self] () throws -> Void in
            let tables = Set(try db.query("SELECT name FROM sqlite_master WHERE type = 'table'").compactMap { $0[0].string })
            if tables.isEmpty {
                guard !readOnly else { throw CatalogError(path: path, what: "the catalog is empty", hint: "run a job into this folder first") }
                try db.exec(Self.schema)
                try db.query("INSERT INTO schema_version VALUES (?, ?, ?)", [.int(Int64(Self.schemaVersion)), .text(toolVersion), .real(Date().timeIntervalSince1970)])
                return
            }
            guard tables.contains("schema_version"), let v = try db.query("SELECT max(version) FROM schema_version").first?[0].int else {
                throw CatalogError(path: path, what: "not a RadioPath catalog (no schema_version table; tables: \(tables.sorted().joined(separator: ", ")))",
                                   hint: "move this file aside or choose another --out")
            }
            if v > Self.schemaVersion {
                throw CatalogError(path: path, what: "written by a newer RadioPath (catalog schema \(v); this radiopath reads schema \(Self.schemaVersion))",
                                   hint: "use a newer radiopath on this folder, or choose another --out")
            }
            if v < Self.schemaVersion {
                guard !readOnly, let steps = Optional((v..<Self.schemaVersion).compactMap { Self.migrations[$0] }),
                      steps.count == Self.schemaVersion - v else {
                    throw CatalogError(path: path, what: "written by an older RadioPath (catalog schema \(v); this radiopath reads schema \(Self.schemaVersion)) and cannot be migrated\(readOnly ? " read-only" : "")",
                                       hint: readOnly ? "run a job into this folder to migrate it" : "move the catalog aside and rerun: finished outputs on disk are found again and recorded")
                }
                for step in steps { try db.exec(step) }
                try db.query("INSERT INTO schema_version VALUES (?, ?, ?)", [.int(Int64(Self.schemaVersion)), .text(toolVersion), .real(Date().timeIntervalSince1970)])
            }
        }
        if readOnly { try check() } else { try db.immediate(check) }
    }

    // MARK: writing

    /// Adds jobs not yet known as `pending`, so `status` counts what is left.
    public func addPending(kind: String, jobs: [(slideID: String, input: String)]) throws {
        lock.lock(); defer { lock.unlock() }
        let t0 = CatalogTiming.now()
        defer { CatalogTiming.add(.addPending, since: t0) }
        try db.immediate {
            for j in jobs {
                try db.query("INSERT OR IGNORE INTO jobs(kind, slide_id, input, status, attempts) VALUES (?, ?, ?, 'pending', 0)",
                             [.text(kind), .text(j.slideID), .text(j.input)])
            }
        }
    }

    /// Takes the job if nobody live holds it and it is not finished: pending, or done but with
    /// outputs incomplete (`outputsComplete` false) or `force`, or failed with `retryFailed`
    /// (or `force`) or different parameters, or running under a dead or silent worker.
    public func claim(kind: String, slideID: String, input: String, outputsComplete: Bool, force: Bool = false,
                      retryFailed: Bool = false, parameters: JobParameters) throws -> Claim {
        lock.lock(); defer { lock.unlock() }
        let t0 = CatalogTiming.now()
        defer { CatalogTiming.add(.claim, since: t0) }
        return try db.immediate {
            let now = Date().timeIntervalSince1970
            let rows = try db.query("SELECT status, attempts, host, pid, started, heartbeat, error, params_hash, details FROM jobs WHERE kind = ? AND slide_id = ?",
                                    [.text(kind), .text(slideID)])
            var reclaimed: LockHolder?
            var attempts = 0
            if let r = rows.first {
                attempts = r[1].int ?? 0
                switch JobStatus(rawValue: r[0].string ?? "") ?? .pending {
                case .pending: break
                case .done:
                    if outputsComplete && !force { return .alreadyDone }
                case .failed:
                    // Same parameters, same failure: retried on request, or when the parameters changed (a fix).
                    // A failure of the environment (a full disk) is retried once the user fixed it.
                    let sameParameters = r[7].string == parameters.paramsHash
                    let transient = JobOutcome.decode(r[8].string)[DiskFull.transientKey] != nil
                    if !(retryFailed || force || transient) && sameParameters { return .failedBefore(error: r[6].string ?? "unknown error") }
                case .running:
                    let holder = LockHolder(host: r[2].string ?? "", pid: r[3].int ?? 0, started: r[4].double ?? 0, heartbeat: r[5].double ?? 0)
                    guard isStale(holder, now: now) else { return .heldElsewhere(holder) }
                    reclaimed = holder
                }
            }
            try db.query("""
                INSERT INTO jobs(kind, slide_id, input, status, attempts, host, pid, started, heartbeat, tool_version, params_hash)
                VALUES (?1, ?2, ?3, 'running', ?4, ?5, ?6, ?7, ?7, ?8, ?9)
                ON CONFLICT(kind, slide_id) DO UPDATE SET input = ?3, status = 'running', attempts = ?4, host = ?5, pid = ?6,
                    started = ?7, heartbeat = ?7, finished = NULL, seconds = NULL, units = NULL, error = NULL, hint = NULL,
                    tool_version = ?8, params_hash = ?9
                """, [.text(kind), .text(slideID), .text(input), .int(Int64(attempts + 1)), .text(host), .int(Int64(pid)),
                      .real(now), .text(parameters.toolVersion), SQLValue(parameters.paramsHash)])
            if let h = parameters.paramsHash, let text = parameters.text {
                try db.query("INSERT OR IGNORE INTO parameters VALUES (?, ?, ?, ?, ?)",
                             [.text(h), .text(kind), .text(parameters.toolVersion), .text(text), .real(now)])
            }
            return .granted(attempt: attempts + 1, reclaimed: reclaimed)
        }
    }

    /// Records how a job this worker holds ended, its outputs and (when given) its slide, in
    /// one transaction. Returns false, changing nothing, when another worker took the job
    /// over meanwhile (this one was silent past the stale timeout).
    @discardableResult
    public func finish(kind: String, slideID: String, outcome: JobOutcome, slide: SlideRecord? = nil) throws -> Bool {
        precondition(outcome.status == .done || outcome.status == .failed, "a job finishes done or failed")
        lock.lock(); defer { lock.unlock() }
        let t0 = CatalogTiming.now()
        defer { CatalogTiming.add(.finish, since: t0) }
        return try db.immediate {
            let held = try db.query("SELECT 1 FROM jobs WHERE kind = ? AND slide_id = ? AND status = 'running' AND host = ? AND pid = ?",
                                    [.text(kind), .text(slideID), .text(host), .int(Int64(pid))])
            guard !held.isEmpty else { return false }
            try db.query("""
                UPDATE jobs SET status = ?, finished = ?, seconds = ?, units = ?, error = ?, hint = ?, warnings = ?, details = ?
                WHERE kind = ? AND slide_id = ?
                """, [.text(outcome.status.rawValue), .real(Date().timeIntervalSince1970), .real(outcome.seconds), SQLValue(outcome.units),
                      SQLValue(outcome.error), SQLValue(outcome.hint), SQLValue(outcome.warnings.isEmpty ? nil : outcome.warnings.joined(separator: "\n")),
                      SQLValue(JobOutcome.encode(outcome.details)), .text(kind), .text(slideID)])
            try db.query("DELETE FROM outputs WHERE kind = ? AND slide_id = ?", [.text(kind), .text(slideID)])
            for o in outcome.outputs {
                try db.query("INSERT OR REPLACE INTO outputs VALUES (?, ?, ?, ?, ?)",
                             [.text(kind), .text(slideID), .text(o.path), SQLValue(o.size), SQLValue(o.sha256)])
            }
            if let s = slide { try upsert(s) }
            return true
        }
    }

    /// Gives a job this worker holds back as pending (it was interrupted before starting).
    public func release(kind: String, slideID: String) throws {
        lock.lock(); defer { lock.unlock() }
        try db.immediate {
            try db.query("UPDATE jobs SET status = 'pending', host = NULL, pid = NULL WHERE kind = ? AND slide_id = ? AND status = 'running' AND host = ? AND pid = ?",
                         [.text(kind), .text(slideID), .text(host), .int(Int64(pid))])
        }
    }

    /// Records a slide (insert or update).
    public func record(slide: SlideRecord) throws {
        lock.lock(); defer { lock.unlock() }
        try db.immediate { try upsert(slide) }
    }

    private func upsert(_ s: SlideRecord) throws {
        try db.query("""
            INSERT INTO slides VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
            ON CONFLICT(slide_id) DO UPDATE SET path = ?2, size = coalesce(?3, size), mtime = coalesce(?4, mtime),
                quickhash = coalesce(?5, quickhash), mpp = coalesce(?6, mpp), mpp_source = coalesce(?7, mpp_source),
                label = coalesce(?8, label), updated = ?9
            """, [.text(s.slideID), .text(s.path), SQLValue(s.size), SQLValue(s.mtime), SQLValue(s.quickhash), SQLValue(s.mpp),
                  SQLValue(s.mppSource), SQLValue(s.label), .real(Date().timeIntervalSince1970)])
    }

    /// Marks this worker's running jobs alive now.
    public func heartbeat() throws {
        lock.lock(); defer { lock.unlock() }
        try db.immediate {
            try db.query("UPDATE jobs SET heartbeat = ? WHERE status = 'running' AND host = ? AND pid = ?",
                         [.real(Date().timeIntervalSince1970), .text(host), .int(Int64(pid))])
        }
    }

    /// Sends heartbeats every `interval` seconds in the background until the catalog is released.
    public func startHeartbeat(every interval: TimeInterval = 60) {
        let t = DispatchSource.makeTimerSource(queue: .global(qos: .utility))
        t.schedule(deadline: .now() + interval, repeating: interval)
        t.setEventHandler { [weak self] in try? self?.heartbeat() }
        t.resume()
        timer = t
    }

    /// A holder is gone when it ran on this host and its process no longer exists, or when it
    /// has been silent longer than `staleAfter` (another host, or a reused pid).
    func isStale(_ h: LockHolder, now: Double) -> Bool {
        if h.host == host && h.pid != pid && h.pid > 0 && kill(pid_t(h.pid), 0) != 0 && errno == ESRCH { return true }
        return now - h.heartbeat > staleAfter
    }

    // MARK: reading

    public func slides() throws -> [SlideRecord] {
        lock.lock(); defer { lock.unlock() }
        return try db.query("SELECT slide_id, path, size, mtime, quickhash, mpp, mpp_source, label FROM slides ORDER BY slide_id").map {
            SlideRecord(slideID: $0[0].string ?? "", path: $0[1].string ?? "", size: $0[2].int, mtime: $0[3].double, quickhash: $0[4].string,
                        mpp: $0[5].double, mppSource: $0[6].string, label: $0[7].string)
        }
    }

    /// Jobs (of one kind, or all), sorted by kind and slide, with their outputs.
    public func jobs(kind: String? = nil) throws -> [JobRecord] {
        lock.lock(); defer { lock.unlock() }
        let filter = kind == nil ? "" : " WHERE kind = ?"
        let args: [SQLValue] = kind.map { [.text($0)] } ?? []
        var outputs: [String: [OutputRecord]] = [:]
        for r in try db.query("SELECT kind, slide_id, path, size, sha256 FROM outputs\(filter) ORDER BY path", args) {
            outputs[(r[0].string ?? "") + "\u{0}" + (r[1].string ?? ""), default: []].append(OutputRecord(path: r[2].string ?? "", size: r[3].int, sha256: r[4].string))
        }
        let now = Date().timeIntervalSince1970
        return try db.query("""
            SELECT kind, slide_id, input, status, attempts, host, pid, started, heartbeat, finished, seconds, units, error, hint,
                   tool_version, params_hash, warnings, details FROM jobs\(filter) ORDER BY kind, slide_id
            """, args).map { r in
            let status = JobStatus(rawValue: r[3].string ?? "") ?? .pending
            let holder = r[5].string.map { LockHolder(host: $0, pid: r[6].int ?? 0, started: r[7].double ?? 0, heartbeat: r[8].double ?? 0) }
            let kind = r[0].string ?? "", id = r[1].string ?? ""
            return JobRecord(kind: kind, slideID: id, input: r[2].string, status: status, attempts: r[4].int ?? 0, holder: holder,
                             finished: r[9].double, seconds: r[10].double, units: r[11].int, error: r[12].string, hint: r[13].string,
                             toolVersion: r[14].string, paramsHash: r[15].string, outputs: outputs[kind + "\u{0}" + id] ?? [],
                             stale: status == .running ? holder.map { isStale($0, now: now) } ?? true : nil,
                             warnings: r[16].string.map { $0.components(separatedBy: "\n") } ?? [], details: JobOutcome.decode(r[17].string))
        }
    }

    /// Counts of one job kind (or all) in one aggregate query: what a progress display polls,
    /// so it stays cheap however many slides the archive has.
    public func counts(kind: String? = nil) throws -> JobCounts {
        lock.lock(); defer { lock.unlock() }
        let t0 = CatalogTiming.now()
        defer { CatalogTiming.add(.progress, since: t0) }
        let filter = kind == nil ? "" : " WHERE kind = ?"
        let r = try db.query("""
            SELECT count(*), total(status = 'pending'), total(status = 'running'), total(status = 'done'), total(status = 'failed'),
                   total(CASE WHEN status = 'done' THEN units END), total(CASE WHEN status IN ('done', 'failed') THEN seconds END),
                   count(DISTINCT CASE WHEN status = 'running' THEN host || ' ' || pid END)
            FROM jobs\(filter)
            """, kind.map { [.text($0)] } ?? []).first ?? []
        func n(_ i: Int) -> Int { r.count > i ? Int(r[i].double ?? 0) : 0 }
        return JobCounts(total: n(0), pending: n(1), running: n(2), done: n(3), failed: n(4), unitsDone: n(5),
                         seconds: r.count > 6 ? r[6].double ?? 0 : 0, workers: n(7))
    }

    /// The job kinds present (tile, embed:<encoder>, …).
    public func jobKinds() throws -> [String] {
        lock.lock(); defer { lock.unlock() }
        return try db.query("SELECT DISTINCT kind FROM jobs ORDER BY kind").compactMap { $0[0].string }
    }

    /// Parameter texts by hash, as recorded by the workers that used them.
    public func parameterSets() throws -> [ParameterSet] {
        lock.lock(); defer { lock.unlock() }
        return try db.query("SELECT params_hash, kind, tool_version, text, first_seen FROM parameters ORDER BY kind, first_seen").map {
            ParameterSet(paramsHash: $0[0].string ?? "", kind: $0[1].string ?? "", toolVersion: $0[2].string, text: $0[3].string ?? "",
                         firstSeen: $0[4].double ?? 0)
        }
    }

    /// The schema version stored in the file.
    public func storedSchemaVersion() throws -> Int {
        lock.lock(); defer { lock.unlock() }
        return try db.query("SELECT max(version) FROM schema_version").first?[0].int ?? 0
    }

    /// Runs raw SQL (tests: damage or age a catalog on purpose).
    func execute(_ sql: String) throws {
        lock.lock(); defer { lock.unlock() }
        try db.exec(sql)
    }
}
