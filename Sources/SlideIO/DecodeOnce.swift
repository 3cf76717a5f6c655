import Foundation

/// A value decoded on first use under a lock and then shared by every reader; a failure is
/// remembered and reported again on every later call (a broken file stays broken, cheaply).
final class DecodeOnce<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var result: Result<Value, Error>?
    private let decode: () throws -> Value

    init(_ decode: @escaping () throws -> Value) { self.decode = decode }

    func value() throws -> Value {
        lock.lock()
        defer { lock.unlock() }
        if result == nil { result = Result { try decode() } }
        return try result!.get()
    }
}
