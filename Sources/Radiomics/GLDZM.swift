import Foundation

/// Grey level distance zone matrix (IBSI 3.9): the GLSZM zones counted by level and by their
/// distance to the ROI edge: the smallest, over the zone's voxels, city-block distance to a voxel
/// outside the morphological mask (4-connected in the slice for 2D/2.5D, 6-connected in 3D; a
/// voxel on the edge has distance 1; outside the grid counts as outside).
enum GLDZM {
    static let names = [
        "sde", "lde", "lgze", "hgze", "sdlge", "sdhge", "ldlge", "ldhge",
        "glnu", "glnu_norm", "zdnu", "zdnu_norm", "z_perc", "gl_var", "zd_var", "zd_entr",
    ]

    static func features(_ grid: TextureGrid, _ dimension: TextureDimension, _ options: TextureOptions) -> [FeatureValue] {
        let inPlane = dimension != .threeD
        let distance = edgeDistance(grid, inPlane: inPlane)
        let groups = TextureZones.label(grid, inPlane: inPlane, distance: distance)
        let matrices = groups.map { g in TextureSizeMatrix(keys: g.zones.map { UInt64($0.level) << 32 | UInt64($0.distance) }, voxels: Double(g.voxels)) }
        let values = TextureSizeMatrix.aggregate(matrices, dimension)
        return textureTagged("dzm", names, dimension.rawValue, Array(values.prefix(names.count)))
    }

    /// City-block distance of each morphological-mask voxel to the nearest voxel outside it
    /// (0 outside), by the classic two-pass sweep; the padding keeps the sweeps in bounds.
    static func edgeDistance(_ grid: TextureGrid, inPlane: Bool) -> [Int32] {
        let n = grid.levels.count
        let sx = 1, sy = grid.nx, sz = inPlane ? 0 : grid.nx * grid.ny
        var d = [Int32](repeating: 0, count: n)
        grid.morph.withUnsafeBufferPointer { m in
            d.withUnsafeMutableBufferPointer { dp in
                let big = Int32.max / 2
                for v in 0..<n where m[v] != 0 { dp[v] = big }
                // Mask voxels are never on the grid's outer layer (pad ≥ 1), so v ± strides stay inside.
                for v in 0..<n where m[v] != 0 {
                    var best = min(dp[v - sx], dp[v - sy]) + 1
                    if sz > 0 { best = min(best, dp[v - sz] + 1) }
                    dp[v] = min(dp[v], best)
                }
                for v in stride(from: n - 1, through: 0, by: -1) where m[v] != 0 {
                    var best = min(dp[v + sx], dp[v + sy]) + 1
                    if sz > 0 { best = min(best, dp[v + sz] + 1) }
                    dp[v] = min(dp[v], best)
                }
            }
        }
        return d
    }
}
