/// A heatmap job that cannot go on: which file, what is wrong and what to do.
public struct HeatmapError: Error, CustomStringConvertible, Sendable {
    public let path: String, reason: String, hint: String
    public init(path: String, reason: String, hint: String = "") {
        self.path = path; self.reason = reason; self.hint = hint
    }
    public var description: String { hint.isEmpty ? "\(path): \(reason)" : "\(path): \(reason). \(hint)" }
}
