import Foundation

/// The ROI cropped to its bounding box and padded with `pad` empty voxels on every side, so
/// neighbour look-ups up to `pad` away need no bounds checks. Every family reads this one copy.
struct TextureGrid: Sendable {
    let nx: Int, ny: Int, nz: Int
    let pad: Int
    /// Grey level 1…ng inside the intensity mask, 0 elsewhere (padding included).
    let levels: [Int32]
    /// Morphological mask (1 inside), for the GLDZM distance map.
    let morph: [UInt8]
    let ng: Int
    /// Indices of the intensity-mask voxels, ascending, so each slice is one contiguous run.
    let roi: [Int32]
    /// `roi[sliceStart[s]..<sliceStart[s+1]]` lie in padded slice `pad + s`.
    let sliceStart: [Int]
    /// Highest level present (PyRadiomics' Ng).
    let maxLevel: Int
    /// How many distinct levels the ROI holds.
    let presentLevels: Int

    var sliceCount: Int { sliceStart.count - 1 }
    var voxelCount: Int { roi.count }
    @inline(__always) func offset(_ dx: Int, _ dy: Int, _ dz: Int) -> Int { dx + nx * (dy + ny * dz) }
    func roiRange(slice s: Int) -> Range<Int> { sliceStart[s]..<sliceStart[s + 1] }

    init(_ r: DiscretisedROI, padding: Int) throws {
        let ng = r.levelCount
        var lo = SIMD3<Int>(Int.max, Int.max, Int.max), hi = SIMD3<Int>(-1, -1, -1)
        try r.levels.withUnsafeBufferPointer { lv in
            for k in 0..<r.size.z {
                for j in 0..<r.size.y {
                    for i in 0..<r.size.x {
                        let idx = r.index(i, j, k)
                        let g = Int(lv[idx])
                        guard g >= 0, g <= ng else {
                            throw TextureError(description: "discretised ROI: voxel (\(i), \(j), \(k)) has level \(g) outside 0…\(ng); "
                                               + "levels must be 1…levelCount inside the mask and 0 outside")
                        }
                        if g > 0 || r.morphologicalMask[idx] {
                            let p = SIMD3(i, j, k)
                            lo = pointwiseMin(lo, p)
                            hi = pointwiseMax(hi, p)
                        }
                    }
                }
            }
        }
        if hi.x < 0 { lo = .zero; hi = SIMD3(-1, -1, -1) }   // empty ROI: an all-padding grid
        pad = padding
        self.ng = ng
        nx = hi.x - lo.x + 1 + 2 * padding
        ny = hi.y - lo.y + 1 + 2 * padding
        nz = hi.z - lo.z + 1 + 2 * padding
        var levels = [Int32](repeating: 0, count: nx * ny * nz)
        var morph = [UInt8](repeating: 0, count: levels.count)
        var roi: [Int32] = []
        var starts = [0]
        var maxLevel = 0
        if hi.x >= lo.x {
            for k in lo.z...hi.z {
                for j in lo.y...hi.y {
                    for i in lo.x...hi.x {
                        let src = r.index(i, j, k)
                        let dst = (i - lo.x + padding) + nx * ((j - lo.y + padding) + ny * (k - lo.z + padding))
                        let g = r.levels[src]
                        levels[dst] = g
                        // Intensity voxels count as morphological too, so no zone has distance 0.
                        morph[dst] = r.morphologicalMask[src] || g > 0 ? 1 : 0
                        if g > 0 {
                            roi.append(Int32(dst))
                            maxLevel = max(maxLevel, Int(g))
                        }
                    }
                }
                starts.append(roi.count)
            }
        }
        self.levels = levels
        self.morph = morph
        self.roi = roi
        self.sliceStart = starts
        self.maxLevel = maxLevel
        var seen = [Bool](repeating: false, count: ng + 1)
        for v in roi { seen[Int(levels[Int(v)])] = true }
        presentLevels = seen.filter { $0 }.count
    }
}

/// Offsets of the 13 IBSI directions (one of each ± pair); the first four lie in the slice.
let textureDirections: [SIMD3<Int>] = [
    SIMD3(1, 0, 0), SIMD3(0, 1, 0), SIMD3(1, 1, 0), SIMD3(1, -1, 0),
    SIMD3(0, 0, 1), SIMD3(1, 0, 1), SIMD3(1, 0, -1), SIMD3(0, 1, 1), SIMD3(0, 1, -1),
    SIMD3(1, 1, 1), SIMD3(1, 1, -1), SIMD3(1, -1, 1), SIMD3(1, -1, -1),
]

extension TextureGrid {
    /// Offsets of every neighbour within Chebyshev distance δ, in the slice only or in 3D.
    func neighbourhood(_ delta: Int, inPlane: Bool) -> [Int] {
        var out: [Int] = []
        let dzRange = inPlane ? 0...0 : -delta...delta
        for dz in dzRange {
            for dy in -delta...delta {
                for dx in -delta...delta where dx != 0 || dy != 0 || dz != 0 {
                    out.append(offset(dx, dy, dz))
                }
            }
        }
        return out
    }
}
