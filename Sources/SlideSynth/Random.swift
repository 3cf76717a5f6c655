// Deterministic randomness: no global RNG anywhere in SlideSynth. Layout parameters come
// from a seeded SplitMix64 stream; anything tied to a position (nuclei, texture, noise)
// comes from hashing integer coordinates with the seed, so it is a pure function of
// (position, seed) and can be re-derived for any tile in any order, on any thread.
import SeededRandom

/// Hash of an integer lattice point with a salt (seed and purpose folded in by the caller).
@inline(__always)
func hash2(_ x: Int, _ y: Int, _ salt: UInt64) -> UInt64 {
    let a = UInt64(bitPattern: Int64(x)) &* 0x9E37_79B9_7F4A_7C15
    let b = UInt64(bitPattern: Int64(y)) &* 0xC2B2_AE3D_27D4_EB4F
    return mix64(a ^ (b &+ 0x1656_67B1_9E37_79F9) ^ salt)
}

/// Uniform Float in [0, 1) from a hash (24 high bits).
@inline(__always)
func unitFloat(_ h: UInt64) -> Float { Float(h >> 40) * 0x1.0p-24 }

/// Smooth value noise in [0, 1) along one row (fixed y): bilinear interpolation of hashed
/// lattice values with a smoothstep fade. The lattice corners are re-hashed only when x
/// enters a new lattice cell, so a row costs about one lerp per sample. Requires x, y >= 0.
struct RowNoise {
    private let iy: Int
    private let ty: Float
    private let salt: UInt64
    private let invScaleX: Double
    private var cell = Int.min
    private var left: Float = 0, right: Float = 0

    /// Noise of lattice spacing `scaleX` along x and `scaleY` along y (level-0 px) at row `y`.
    init(y: Double, scaleX: Double, scaleY: Double, salt: UInt64) {
        let fy = y / scaleY
        iy = Int(fy)
        let t = Float(fy - Double(iy))
        ty = t * t * (3 - 2 * t)
        self.salt = salt
        invScaleX = 1 / scaleX
    }

    @inline(__always) mutating func at(_ x: Double) -> Float {
        let fx = x * invScaleX
        let ix = Int(fx)
        if ix != cell {
            cell = ix
            let a0 = unitFloat(hash2(ix, iy, salt)), a1 = unitFloat(hash2(ix, iy + 1, salt))
            let b0 = unitFloat(hash2(ix + 1, iy, salt)), b1 = unitFloat(hash2(ix + 1, iy + 1, salt))
            left = a0 + (a1 - a0) * ty
            right = b0 + (b1 - b0) * ty
        }
        var tx = Float(fx - Double(ix))
        tx = tx * tx * (3 - 2 * tx)
        return left + (right - left) * tx
    }
}
