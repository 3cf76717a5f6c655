import Foundation

/// Grey level run length matrix (IBSI 3.7): runs of equal level along each of the 13
/// directions (4 in the slice). Merged matrices sum their Nv too, as IBSI asks for the run
/// percentage.
enum GLRLM {
    static let names = [
        "sre", "lre", "lgre", "hgre", "srlge", "srhge", "lrlge", "lrhge",
        "glnu", "glnu_norm", "rlnu", "rlnu_norm", "r_perc", "gl_var", "rl_var", "rl_entr",
    ]

    static func features(_ grid: TextureGrid, _ dimension: TextureDimension, _ options: TextureOptions) -> [FeatureValue] {
        let inPlane = textureDirections[0..<4].map { grid.offset($0.x, $0.y, 0) }
        let all = textureDirections.map { grid.offset($0.x, $0.y, $0.z) }
        let n = names.count
        let f = { (m: TextureSizeMatrix) -> [Double] in Array(m.features().prefix(n)) }
        var averaged: [Double], merged: [Double]
        switch dimension {
        case .twoD:
            var perMatrix: [[Double]] = [], perSlice: [[Double]] = []
            for s in 0..<grid.sliceCount {
                let range = grid.roiRange(slice: s)
                guard !range.isEmpty else { continue }
                let ms = inPlane.map { runs(grid, range, $0) }
                perMatrix += ms.map(f)
                perSlice.append(f(TextureSizeMatrix.merged(ms)))
            }
            averaged = textureFeatureMean(perMatrix, count: n)
            merged = textureFeatureMean(perSlice, count: n)
        case .twoAndHalfD, .threeD:
            let whole = 0..<grid.voxelCount
            let ms = (dimension == .threeD ? all : inPlane).map { runs(grid, whole, $0) }
            averaged = textureFeatureMean(ms.filter { !$0.cells.isEmpty }.map(f), count: n)
            merged = ms.isEmpty || grid.voxelCount == 0 ? [Double](repeating: .nan, count: n) : f(TextureSizeMatrix.merged(ms))
        }
        var out: [FeatureValue] = []
        for merging in TextureMerging.allCases where options.merging.contains(merging) {
            out += textureTagged("rlm", names, "\(dimension.rawValue)_\(merging.rawValue)", merging == .averaged ? averaged : merged)
        }
        return out
    }

    /// Runs along `offset` starting at the ROI voxels `grid.roi[range]`.
    static func runs(_ grid: TextureGrid, _ range: Range<Int>, _ offset: Int) -> TextureSizeMatrix {
        let ng = grid.ng, width = max(grid.nx, grid.ny, grid.nz)
        var m = [Double](repeating: 0, count: ng * width)
        grid.levels.withUnsafeBufferPointer { lv in
            grid.roi.withUnsafeBufferPointer { roi in
                m.withUnsafeMutableBufferPointer { mp in
                    for r in range {
                        let v = Int(roi[r])
                        let g = lv[v]
                        guard lv[v - offset] != g else { continue }   // not the start of a run
                        var length = 1, w = v + offset
                        while lv[w] == g { length += 1; w += offset }
                        mp[(Int(g) - 1) * width + length - 1] += 1
                    }
                }
            }
        }
        return TextureSizeMatrix(dense: m, ng: ng, width: width, voxels: Double(range.count))
    }
}
