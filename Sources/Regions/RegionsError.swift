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

/// SplitMix64: the seeded generator behind k-means++ and the restarts, so a seed gives the same
/// regions on every run and platform.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    mutating func uniform() -> Double { Double(next() >> 11) * 0x1p-53 }
}
