import Foundation

/// SplitMix64 (Steele, Lea & Flood 2014): the one seeded random source of RadioPath. Small,
/// fast and fixed, so a seed reproduces every bit on every platform, and simple enough that a
/// NumPy reference can replay a stream exactly (bench/mil_reference.py does).
public struct SplitMix64: RandomNumberGenerator, Sendable {
    public static let gamma: UInt64 = 0x9E37_79B9_7F4A_7C15
    public private(set) var state: UInt64

    /// The stream whose first output is mix64(seed + γ).
    public init(seed: UInt64) { state = seed }

    /// An independent stream for one purpose (`tag`) and one occurrence of it (`index`, e.g.
    /// the epoch), so adding a purpose never shifts another's numbers.
    public init(seed: UInt64, tag: UInt64, index: UInt64 = 0) {
        state = mix64(mix64(seed ^ tag) &+ index)
    }

    @inline(__always) public mutating func next() -> UInt64 {
        state &+= Self.gamma
        return mix64(state)
    }

    /// Uniform in [0, 1) from the 53 high bits.
    @inline(__always) public mutating func unit() -> Double { Double(next() >> 11) * 0x1.0p-53 }

    /// Uniform in [lo, hi).
    public mutating func uniform(_ lo: Double, _ hi: Double) -> Double { lo + (hi - lo) * unit() }

    /// Uniform integer in lo...hi (modulo; the bias is below 2⁻⁵⁰ for the small ranges used).
    public mutating func int(_ lo: Int, _ hi: Int) -> Int { lo + Int(next() % UInt64(hi - lo + 1)) }

    /// Uniform in 0..<n without modulo bias (Lemire's multiply-and-reject).
    public mutating func next(below n: Int) -> Int {
        let bound = UInt64(n)
        var m = next().multipliedFullWidth(by: bound)
        if m.low < bound {
            let t = (0 &- bound) % bound
            while m.low < t { m = next().multipliedFullWidth(by: bound) }
        }
        return Int(m.high)
    }

    /// A standard normal (Box–Muller, cosine branch) from two draws.
    public mutating func normal() -> Double {
        let u1 = Double((next() >> 11) + 1) * 0x1p-53      // (0, 1]
        let u2 = Double(next() >> 11) * 0x1p-53            // [0, 1)
        return (-2 * Foundation.log(u1)).squareRoot() * Foundation.cos(2 * Double.pi * u2)
    }

    /// 0..<n in the Fisher–Yates order of this stream (j = draw mod (i+1), i from n−1 down).
    public mutating func permutation(_ n: Int) -> [Int] {
        var p = Array(0..<n)
        var i = n - 1
        while i > 0 {
            p.swapAt(i, Int(next() % UInt64(i + 1)))
            i -= 1
        }
        return p
    }
}

/// The SplitMix64 finaliser: a bijective avalanche of 64 bits (also a good integer hash).
@inline(__always)
public func mix64(_ z0: UInt64) -> UInt64 {
    var z = z0
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
}
