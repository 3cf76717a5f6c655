import Foundation

/// Why a patch bag could not be written or read: which file, what failed, the concise cause
/// (from errno or the HDF5 error stack, which the module keeps from printing) and what to do.
public struct PatchBagError: Error, CustomStringConvertible, Sendable {
    /// Broad class of failure, for callers that react differently (e.g. resume vs. report).
    public enum Kind: Sendable, Equatable {
        /// The arrays or attributes handed to `write` do not fit together.
        case invalidInput
        /// The target folder cannot be created or written.
        case notWritable
        /// The file to read does not exist.
        case notFound
        /// The file exists but this process may not read it.
        case notReadable
        /// The file exists but is not a readable patch bag (not HDF5, no `coords`, bad shape).
        case notAPatchBag
        /// HDF5 failed while writing or reading.
        case hdf5
    }

    public let kind: Kind
    /// The patch bag file the operation was about (the target, never the temporary file).
    public let path: String
    /// What failed, e.g. "cannot create the temporary file".
    public let what: String
    /// The concise cause, when one is known (errno text or the innermost HDF5 message).
    public let reason: String?
    /// What the user can do about it.
    public let hint: String

    public init(kind: Kind, path: String, what: String, reason: String? = nil, hint: String) {
        self.kind = kind
        self.path = path
        self.what = what
        self.reason = reason
        self.hint = hint
    }

    public var description: String {
        var s = "\(path): \(what)"
        if let reason, !reason.isEmpty { s += " (\(reason))" }
        return s + ": " + hint
    }
}
