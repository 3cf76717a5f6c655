import Foundation

/// Atomic output: everything is written to a hidden temporary file beside the target and
/// renamed into place, so an interrupted run leaves either the old file or the new one,
/// never half a file.
public enum AtomicFile {
    /// A temporary path in the same folder as `path` (same filesystem, so rename is atomic).
    public static func temporaryPath(for path: String) -> String {
        let url = URL(fileURLWithPath: path)
        let name = ".\(url.lastPathComponent).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        return url.deletingLastPathComponent().appendingPathComponent(name).path
    }

    /// Writes `data` to `path` atomically, creating the parent folder if needed.
    public static func write(_ data: Data, to path: String) throws {
        try produce(path) { tmp in try data.write(to: URL(fileURLWithPath: tmp)) }
    }

    /// Runs `body` with a temporary path to fill, then renames it to `path`. On error the
    /// temporary file is removed and the error rethrown.
    public static func produce(_ path: String, _ body: (String) throws -> Void) throws {
        let dir = URL(fileURLWithPath: path).deletingLastPathComponent().path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let tmp = temporaryPath(for: path)
        do {
            try body(tmp)
            if rename(tmp, path) != 0 {
                throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path,
                    NSLocalizedDescriptionKey: "cannot rename into \(path): \(String(cString: strerror(errno)))"])
            }
        } catch {
            unlink(tmp)
            throw error
        }
    }
}
