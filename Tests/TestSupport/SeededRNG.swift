@_exported import SeededRandom

/// Tests draw from the product's own generator, so a seed means the same stream in both.
public typealias SeededRNG = SplitMix64

extension SplitMix64 {
    public init(_ seed: UInt64) { self.init(seed: seed) }
}
