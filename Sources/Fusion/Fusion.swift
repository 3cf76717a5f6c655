// Fusion: the region table (one row per case × region, radiomics plus the pathology evidence
// that falls in the region) and early/late fusion models over a case-level table.
import Foundation

/// A fusion input that cannot be used: which file or case, what is wrong, what to do.
public struct FusionError: Error, CustomStringConvertible, Sendable {
    public let reason: String
    public let hint: String
    public init(_ reason: String, hint: String = "") { self.reason = reason; self.hint = hint }
    public var description: String { reason + (hint.isEmpty ? "" : " — \(hint)") }
}
