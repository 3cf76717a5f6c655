/// A failure of the embedding engine, naming the file, what is wrong and what to do.
public struct EmbedderError: Error, CustomStringConvertible, Sendable {
    public enum Kind: Sendable, Equatable {
        /// The weight file cannot be read or is not a valid safetensors file.
        case unreadableWeights
        /// The weights do not fit the architecture (missing, unexpected or mis-shaped tensors).
        case weightMismatch
        /// An encoder name the registry does not know, or options it does not take.
        case unknownEncoder
        /// Input that breaks the encoder's contract (patch size, batch layout).
        case badInput
        /// NaN or Inf came out of the network.
        case nonFinite
    }

    public let kind: Kind
    /// The file concerned (weights or input), or "" when none.
    public let path: String
    public let what: String
    public let hint: String

    public init(_ kind: Kind, path: String, what: String, hint: String) {
        self.kind = kind; self.path = path; self.what = what; self.hint = hint
    }

    public var description: String {
        (path.isEmpty ? "" : "\(path): ") + what + (hint.isEmpty ? "" : " — \(hint)")
    }
}
