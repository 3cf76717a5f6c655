/// A failure of MIL training, scoring or checkpoint I/O: what it concerns (a bag id, a file),
/// what is wrong and what to do.
public struct MILError: Error, CustomStringConvertible, Sendable {
    public enum Kind: Sendable, Equatable {
        /// A bag that cannot be used: no patches, wrong feature width, NaN/Inf features.
        case badBag
        /// Labels or settings that cannot train a model (one class only, label out of range).
        case badTrainingSet
        /// A checkpoint that cannot be read or does not fit the architecture.
        case badCheckpoint
        /// A setting out of range.
        case badConfig
        /// Training produced a non-finite loss.
        case diverged
    }

    public let kind: Kind
    /// The bag id or file concerned, or "" when none.
    public let subject: String
    public let what: String
    public let hint: String

    public init(_ kind: Kind, subject: String = "", what: String, hint: String = "") {
        self.kind = kind; self.subject = subject; self.what = what; self.hint = hint
    }

    public var description: String {
        (subject.isEmpty ? "" : "\(subject): ") + what + (hint.isEmpty ? "" : " — \(hint)")
    }
}
