extension Blend {
    /// For every colormap entry, the three 16-lane vectors of `front` values that line up
    /// with 48 bytes (16 RGB pixels): byte 16m + k belongs to channel (16m + k) mod 3.
    static func phases(_ front: [UInt32]) -> [SIMD16<UInt16>] {
        var out = [SIMD16<UInt16>](repeating: SIMD16(), count: 768)
        for e in 0..<256 {
            for m in 0..<3 {
                var v = SIMD16<UInt16>()
                for k in 0..<16 { v[k] = UInt16(front[3 * e + (16 * m + k) % 3]) }
                out[3 * e + m] = v
            }
        }
        return out
    }

    /// Blends one colormap entry over `count` consecutive RGB pixels at `p`: per byte
    /// (f + back·bg) / 255 with f = a·c + 127 — the same integers as `apply`, 16 pixels at a
    /// time. Every sum is below 65,536, and x / 255 = (x + 1 + (x >> 8)) >> 8 there.
    /// `phase` points at the entry's three vectors from `phases`.
    @inline(__always)
    static func run(_ p: UnsafeMutablePointer<UInt8>, count: Int, phase: UnsafePointer<SIMD16<UInt16>>,
                    f0: UInt32, f1: UInt32, f2: UInt32, back: UInt32) {
        var i = 0
        if count >= 16 {
            let b = SIMD16<UInt16>(repeating: UInt16(back))
            let one = SIMD16<UInt16>(repeating: 1)
            let v0 = phase[0], v1 = phase[1], v2 = phase[2]
            @inline(__always) func mix(_ q: UnsafeMutablePointer<UInt8>, _ fv: SIMD16<UInt16>) {
                let raw = UnsafeMutableRawPointer(q)
                let bg = SIMD16<UInt16>(truncatingIfNeeded: raw.loadUnaligned(as: SIMD16<UInt8>.self))
                let x = fv &+ b &* bg
                let d = (x &+ one &+ (x &>> 8)) &>> 8
                raw.storeBytes(of: SIMD16<UInt8>(truncatingIfNeeded: d), as: SIMD16<UInt8>.self)
            }
            while i + 16 <= count {
                let q = p + 3 * i
                mix(q, v0); mix(q + 16, v1); mix(q + 32, v2)
                i += 16
            }
        }
        while i < count {
            let q = p + 3 * i
            q[0] = UInt8(truncatingIfNeeded: (f0 &+ back &* UInt32(q[0])) / 255)
            q[1] = UInt8(truncatingIfNeeded: (f1 &+ back &* UInt32(q[1])) / 255)
            q[2] = UInt8(truncatingIfNeeded: (f2 &+ back &* UInt32(q[2])) / 255)
            i += 1
        }
    }
}
