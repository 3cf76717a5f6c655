import Foundation

/// Recognises a slide that failed because the output disk filled up, from the error text the
/// writers produce (Foundation, HDF5, SQLite, errno), and says so plainly: which file (its
/// final name, not the hidden temporary one), that the disk is full, how much is free, and
/// that a rerun retries the slide once there is space.
public enum DiskFull {
    static let markers = ["no space left on device", "errno = 28", "code=28", "enospc", "disk is full", "disk quota exceeded",
                          "isn’t enough space", "isn't enough space", "the disk is full"]

    /// A clear error and hint when `text` reports a full disk while writing under `folder`.
    public static func classify(_ text: String, folder: String) -> (error: String, hint: String)? {
        let lower = text.lowercased()
        guard markers.contains(where: { lower.contains($0) }) else { return nil }
        let file = path(in: text, folder: folder).map(finalName)
        let error = "disk full: no space left on device" + (file.map { " writing \($0)" } ?? " under \(folder)")
        let free = freeBytes(folder).map { " (\(human($0)) free now)" } ?? ""
        return (error, "free space on the disk holding \(folder)\(free) or choose another --out; a rerun retries this slide without --retry-failed")
    }

    /// The file the error names: Foundation's NSFilePath, else the first path under `folder`.
    static func path(in text: String, folder: String) -> String? {
        if let r = text.range(of: "NSFilePath=") {
            let rest = text[r.upperBound...]
            let end = rest.firstIndex { $0 == "," || $0 == "}" } ?? rest.endIndex
            return String(rest[..<end]).trimmingCharacters(in: .whitespaces)
        }
        guard let r = text.range(of: folder.hasSuffix("/") ? folder : folder + "/") else { return nil }
        let rest = text[r.lowerBound...]
        // Paths may hold spaces; PatchBag, Foundation and our errors end them with ": " or " (".
        let stops = [": ", " (", ", ", "\n"].compactMap { rest.range(of: $0)?.lowerBound }
        return String(rest[..<(stops.min() ?? rest.endIndex)])
    }

    /// `dir/.name.tmp-PID-RANDOM` → `dir/name`: the user knows the file by its final name.
    static func finalName(_ path: String) -> String {
        let url = URL(fileURLWithPath: path)
        let name = url.lastPathComponent
        guard name.hasPrefix("."), let r = name.range(of: ".tmp-", options: .backwards) else { return path }
        return url.deletingLastPathComponent().appendingPathComponent(String(name[name.index(after: name.startIndex)..<r.lowerBound])).path
    }

    /// Bytes an unprivileged writer may still use on `folder`'s filesystem.
    public static func freeBytes(_ folder: String) -> Int64? {
        var s = statvfs()
        guard statvfs(folder, &s) == 0 else { return nil }
        return Int64(s.f_bavail) * Int64(s.f_frsize)
    }

    static func human(_ b: Int64) -> String {
        b >= 1 << 30 ? String(format: "%.1f GiB", Double(b) / Double(1 << 30))
            : b >= 1 << 20 ? String(format: "%.1f MiB", Double(b) / Double(1 << 20)) : "\(b / 1024) KiB"
    }

    /// The details key marking a failure as caused by the environment (retried on rerun).
    public static let transientKey = "transient"
}
