import Foundation

/// Neighbouring grey level dependence matrix (IBSI 3.11): each ROI voxel counted by its level
/// and its dependence count, 1 + the ROI neighbours within Chebyshev δ whose level differs by
/// at most α.
enum NGLDM {
    static let names = [
        "lde", "hde", "lgce", "hgce", "ldlge", "ldhge", "hdlge", "hdhge", "glnu", "glnu_norm",
        "dcnu", "dcnu_norm", "dc_perc", "gl_var", "dc_var", "dc_entr", "dc_energy",
    ]

    static func features(_ grid: TextureGrid, _ dimension: TextureDimension, _ options: TextureOptions) -> [FeatureValue] {
        let inPlane = dimension != .threeD
        let neighbours = grid.neighbourhood(options.neighbourhoodDistance, inPlane: inPlane)
        let ranges = inPlane ? (0..<grid.sliceCount).map { grid.roiRange(slice: $0) } : [0..<grid.voxelCount]
        let matrices = ranges.map { matrix(grid, $0, neighbours, alpha: options.ngldmCoarseness) }
        return textureTagged("ngl", names, dimension.rawValue, TextureSizeMatrix.aggregate(matrices, dimension))
    }

    static func matrix(_ grid: TextureGrid, _ range: Range<Int>, _ neighbours: [Int], alpha: Int) -> TextureSizeMatrix {
        let ng = grid.ng, width = neighbours.count + 1
        var m = [Double](repeating: 0, count: ng * width)
        grid.levels.withUnsafeBufferPointer { lv in
            grid.roi.withUnsafeBufferPointer { roi in
                neighbours.withUnsafeBufferPointer { nb in
                    m.withUnsafeMutableBufferPointer { mp in
                        for r in range {
                            let v = Int(roi[r])
                            let g = Int(lv[v])
                            var k = 1
                            for o in nb {
                                let h = Int(lv[v + o])
                                if h > 0 && abs(h - g) <= alpha { k += 1 }
                            }
                            mp[(g - 1) * width + k - 1] += 1
                        }
                    }
                }
            }
        }
        return TextureSizeMatrix(dense: m, ng: ng, width: width, voxels: Double(range.count))
    }
}
