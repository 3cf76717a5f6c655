import Foundation

/// Grey level size zone matrix (IBSI 3.8): zones of connected voxels sharing a level
/// (8-connected in the slice for 2D/2.5D, 26-connected in 3D), counted by level and size.
enum GLSZM {
    static let names = [
        "sze", "lze", "lgze", "hgze", "szlge", "szhge", "lzlge", "lzhge",
        "glnu", "glnu_norm", "zsnu", "zsnu_norm", "z_perc", "gl_var", "zs_var", "zs_entr",
    ]

    static func features(_ grid: TextureGrid, _ dimension: TextureDimension, _ options: TextureOptions) -> [FeatureValue] {
        let groups = TextureZones.label(grid, inPlane: dimension != .threeD, distance: nil)
        let matrices = groups.map { g in TextureSizeMatrix(keys: g.zones.map { UInt64($0.level) << 32 | UInt64($0.size) }, voxels: Double(g.voxels)) }
        let values = TextureSizeMatrix.aggregate(matrices, dimension)
        return textureTagged("szm", names, dimension.rawValue, Array(values.prefix(names.count)))
    }
}

/// Connected zones of equal grey level, shared by GLSZM and GLDZM.
enum TextureZones {
    struct Zone { var level: Int32; var size: Int32; var distance: Int32 }
    /// Zones of one slice (2D) or of the volume (3D), with the ROI voxel count they cover.
    struct Group { var zones: [Zone]; var voxels: Int }

    /// Labels zones slice by slice (`inPlane`, 8-connected) or in 3D (26-connected). With a
    /// `distance` map, each zone records the smallest distance among its voxels.
    static func label(_ grid: TextureGrid, inPlane: Bool, distance: [Int32]?) -> [Group] {
        let neighbours = grid.neighbourhood(1, inPlane: inPlane)
        var visited = [UInt8](repeating: 0, count: grid.levels.count)
        var stack: [Int32] = []
        stack.reserveCapacity(1024)
        let ranges = inPlane ? (0..<grid.sliceCount).map { grid.roiRange(slice: $0) } : [0..<grid.voxelCount]
        var groups: [Group] = []
        grid.levels.withUnsafeBufferPointer { lv in
            grid.roi.withUnsafeBufferPointer { roi in
                visited.withUnsafeMutableBufferPointer { seen in
                    for range in ranges {
                        var zones: [Zone] = []
                        for r in range {
                            let seed = Int(roi[r])
                            guard seen[seed] == 0 else { continue }
                            let g = lv[seed]
                            seen[seed] = 1
                            stack.append(Int32(seed))
                            var size: Int32 = 0, dmin = Int32.max
                            while let top = stack.popLast() {
                                let v = Int(top)
                                size += 1
                                if let distance { dmin = min(dmin, distance[v]) }
                                for o in neighbours {
                                    let w = v + o
                                    if lv[w] == g && seen[w] == 0 {
                                        seen[w] = 1
                                        stack.append(Int32(w))
                                    }
                                }
                            }
                            zones.append(Zone(level: g, size: size, distance: distance == nil ? 0 : dmin))
                        }
                        groups.append(Group(zones: zones, voxels: range.count))
                    }
                }
            }
        }
        return groups
    }
}
