import Foundation

/// SplitMix64: the one random source of MIL (initial weights, epoch shuffles, dropout
/// masks), so a seed fixes every bit of a run. Its n-th output is a pure function of the key
/// and n, which lets a NumPy reference reproduce initial weights and bag order exactly
/// (bench/mil_reference.py does).
struct SplitMix64 {
    static let gamma: UInt64 = 0x9E37_79B9_7F4A_7C15
    var state: UInt64

    init(key: UInt64) { state = key }

    /// The stream for one purpose: `tag` 1 initial weights, 2 the shuffle of epoch `index`,
    /// 3 dropout masks.
    init(seed: UInt64, tag: UInt64, index: UInt64 = 0) {
        state = Self.mix(Self.mix(seed ^ tag) &+ index)
    }

    @inline(__always) static func mix(_ x: UInt64) -> UInt64 {
        var z = x
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    @inline(__always) mutating func next() -> UInt64 {
        state &+= Self.gamma
        return Self.mix(state)
    }

    /// A standard normal (Box–Muller, cosine branch) from two draws.
    mutating func normal() -> Double {
        let u1 = Double((next() >> 11) + 1) * 0x1p-53      // (0, 1]
        let u2 = Double(next() >> 11) * 0x1p-53            // [0, 1)
        return (-2 * Foundation.log(u1)).squareRoot() * Foundation.cos(2 * Double.pi * u2)
    }

    /// 0..<n in the Fisher–Yates order of this stream (j = draw mod (i+1), i from n−1 down).
    mutating func permutation(_ n: Int) -> [Int] {
        var p = Array(0..<n)
        var i = n - 1
        while i > 0 {
            p.swapAt(i, Int(next() % UInt64(i + 1)))
            i -= 1
        }
        return p
    }
}
