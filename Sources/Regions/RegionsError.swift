import Foundation

/// Why a region family could not be built, and what to do about it.
public struct RegionsError: Error, CustomStringConvertible, Sendable {
    public let reason: String
    public let hint: String
    public init(_ reason: String, hint: String = "") {
        self.reason = reason
        self.hint = hint
    }
    public var description: String { reason + (hint.isEmpty ? "" : " — \(hint)") }
}
