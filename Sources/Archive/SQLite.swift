import CSQLite
import Foundation

/// A catalog that cannot be opened, read or written: which file, what went wrong, what to do.
public struct CatalogError: Error, CustomStringConvertible, Sendable {
    public let path: String
    public let what: String
    public let hint: String
    /// SQLite said another connection holds the lock (SQLITE_BUSY / SQLITE_LOCKED).
    public internal(set) var isBusy = false
    public init(path: String, what: String, hint: String) { self.path = path; self.what = what; self.hint = hint }
    public var description: String { "\(path): \(what) — \(hint)" }
}

/// A value bound to or read from a statement.
enum SQLValue: Equatable {
    case null, int(Int64), real(Double), text(String)

    init(_ s: String?) { self = s.map { .text($0) } ?? .null }
    init(_ i: Int?) { self = i.map { .int(Int64($0)) } ?? .null }
    init(_ d: Double?) { self = d.map { .real($0) } ?? .null }

    var string: String? {
        switch self {
        case .text(let s): return s
        case .int(let i): return String(i)
        case .real(let d): return String(d)
        case .null: return nil
        }
    }
    var int: Int? {
        switch self {
        case .int(let i): return Int(i)
        case .real(let d): return Int(d)
        case .text(let s): return Int(s)
        case .null: return nil
        }
    }
    var double: Double? {
        switch self {
        case .real(let d): return d
        case .int(let i): return Double(i)
        case .text(let s): return Double(s)
        case .null: return nil
        }
    }
}

/// The few SQLite calls the catalog needs: one connection, statements with bound values,
/// and write transactions that take the write lock up front (BEGIN IMMEDIATE), so two
/// processes never both read-then-write and deadlock; waiting writers retry for `busyMillis`.
final class SQLiteDB {
    let path: String
    private var db: OpaquePointer?
    private static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

    init(path: String, readOnly: Bool, busyMillis: Int32 = 60_000) throws {
        self.path = path
        let flags = (readOnly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) | SQLITE_OPEN_FULLMUTEX
        let rc = sqlite3_open_v2(path, &db, flags, nil)
        if rc != SQLITE_OK {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? String(cString: sqlite3_errstr(rc))
            sqlite3_close_v2(db)
            db = nil
            throw CatalogError(path: path, what: "cannot open the catalog (\(message))",
                               hint: readOnly ? "check the path" : "the output folder must be writable: fix its permissions or choose another --out")
        }
        sqlite3_busy_timeout(db, busyMillis)
    }

    deinit { sqlite3_close_v2(db) }

    private func failure(_ what: String, _ rc: Int32) -> CatalogError {
        let message = String(cString: sqlite3_errmsg(db))
        let busy = rc == SQLITE_BUSY || rc == SQLITE_LOCKED
        let full = rc == SQLITE_FULL
        let readonly = rc == SQLITE_READONLY || rc == SQLITE_CANTOPEN || rc == SQLITE_PERM
        let hint = busy ? "another process held the catalog too long; rerun (finished slides are kept)"
            : full ? "the disk holding the output folder is full: free space and rerun"
            : readonly ? "the output folder must be writable: fix its permissions or choose another --out"
            : "the catalog may be damaged: move it aside and rerun (outputs on disk are reused)"
        var error = CatalogError(path: path, what: "\(what) failed (\(message))", hint: hint)
        error.isBusy = busy
        return error
    }

    /// Runs SQL without results (several statements allowed).
    func exec(_ sql: String) throws {
        let rc = sqlite3_exec(db, sql, nil, nil, nil)
        if rc != SQLITE_OK { throw failure(String(sql.prefix(40)), rc) }
    }

    /// Runs one statement with bound values and returns its rows.
    @discardableResult
    func query(_ sql: String, _ args: [SQLValue] = []) throws -> [[SQLValue]] {
        var stmt: OpaquePointer?
        var rc = sqlite3_prepare_v2(db, sql, -1, &stmt, nil)
        guard rc == SQLITE_OK, let stmt else { throw failure(String(sql.prefix(40)), rc) }
        defer { sqlite3_finalize(stmt) }
        for (i, a) in args.enumerated() {
            let n = Int32(i + 1)
            switch a {
            case .null: rc = sqlite3_bind_null(stmt, n)
            case .int(let v): rc = sqlite3_bind_int64(stmt, n, v)
            case .real(let v): rc = sqlite3_bind_double(stmt, n, v)
            case .text(let v): rc = sqlite3_bind_text(stmt, n, v, -1, Self.transient)
            }
            if rc != SQLITE_OK { throw failure("binding \(sql.prefix(40))", rc) }
        }
        var rows: [[SQLValue]] = []
        while true {
            rc = sqlite3_step(stmt)
            if rc == SQLITE_DONE { return rows }
            guard rc == SQLITE_ROW else { throw failure(String(sql.prefix(40)), rc) }
            var row: [SQLValue] = []
            for c in 0..<sqlite3_column_count(stmt) {
                switch sqlite3_column_type(stmt, c) {
                case SQLITE_INTEGER: row.append(.int(sqlite3_column_int64(stmt, c)))
                case SQLITE_FLOAT: row.append(.real(sqlite3_column_double(stmt, c)))
                case SQLITE_NULL: row.append(.null)
                default: row.append(.text(String(cString: sqlite3_column_text(stmt, c))))
                }
            }
            rows.append(row)
        }
    }

    /// Runs `body` in a write transaction; rolls back when it throws.
    func immediate<T>(_ body: () throws -> T) throws -> T {
        try exec("BEGIN IMMEDIATE")
        do {
            let r = try body()
            try exec("COMMIT")
            return r
        } catch {
            try? exec("ROLLBACK")
            throw error
        }
    }
}
