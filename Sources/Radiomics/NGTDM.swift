import Foundation

/// Neighbourhood grey tone difference matrix (IBSI 3.10): for each level i, s_i sums
/// |i − mean level of the voxel's ROI neighbours within Chebyshev δ| over the voxels of level i
/// that have at least one such neighbour; n_i counts those voxels.
enum NGTDM {
    static let names = ["coarseness", "contrast", "busyness", "complexity", "strength"]

    struct Matrix { var s: [Double]; var n: [Double] }

    static func features(_ grid: TextureGrid, _ dimension: TextureDimension, _ options: TextureOptions) -> [FeatureValue] {
        let inPlane = dimension != .threeD
        let neighbours = grid.neighbourhood(options.neighbourhoodDistance, inPlane: inPlane)
        let ranges = inPlane ? (0..<grid.sliceCount).map { grid.roiRange(slice: $0) } : [0..<grid.voxelCount]
        let matrices = ranges.map { matrix(grid, $0, neighbours) }
        let values: [Double]
        switch dimension {
        case .twoD:
            values = textureFeatureMean(matrices.map { matrixFeatures($0, options.convention) }, count: names.count)
        case .twoAndHalfD, .threeD:
            var sum = Matrix(s: [Double](repeating: 0, count: grid.ng), n: [Double](repeating: 0, count: grid.ng))
            for m in matrices {
                for i in 0..<grid.ng { sum.s[i] += m.s[i]; sum.n[i] += m.n[i] }
            }
            values = matrixFeatures(sum, options.convention)
        }
        return textureTagged("ngt", names, dimension.rawValue, values)
    }

    static func matrix(_ grid: TextureGrid, _ range: Range<Int>, _ neighbours: [Int]) -> Matrix {
        var m = Matrix(s: [Double](repeating: 0, count: grid.ng), n: [Double](repeating: 0, count: grid.ng))
        grid.levels.withUnsafeBufferPointer { lv in
            grid.roi.withUnsafeBufferPointer { roi in
                neighbours.withUnsafeBufferPointer { nb in
                    for r in range {
                        let v = Int(roi[r])
                        var sum = 0, count = 0
                        for o in nb {
                            let g = Int(lv[v + o])
                            if g > 0 { sum += g; count += 1 }
                        }
                        guard count > 0 else { continue }
                        let g = Int(lv[v])
                        m.s[g - 1] += abs(Double(g) - Double(sum) / Double(count))
                        m.n[g - 1] += 1
                    }
                }
            }
        }
        return m
    }

    /// Coarseness, contrast, busyness, complexity, strength; NaN when undefined (IBSI) or
    /// PyRadiomics' stand-ins (coarseness 10⁶, the others 0).
    static func matrixFeatures(_ m: Matrix, _ convention: Convention) -> [Double] {
        let nvc = m.n.reduce(0, +)
        guard nvc > 0 else { return [Double](repeating: .nan, count: names.count) }
        let present = (0..<m.n.count).filter { m.n[$0] > 0 }
        let p = m.n.map { $0 / nvc }
        let ngp = Double(present.count)
        let sSum = m.s.reduce(0, +)
        var psSum = 0.0
        for i in present { psSum += p[i] * m.s[i] }
        var contrastSum = 0.0, busyDen = 0.0, complexity = 0.0, strengthNum = 0.0
        for i in present {
            for j in present {
                let d = Double(i - j), li = Double(i + 1), lj = Double(j + 1)
                contrastSum += p[i] * p[j] * d * d
                busyDen += abs(li * p[i] - lj * p[j])
                complexity += abs(d) * (p[i] * m.s[i] + p[j] * m.s[j]) / (p[i] + p[j])
                strengthNum += (p[i] + p[j]) * d * d
            }
        }
        let py = convention == .pyradiomics
        let coarseness = psSum > 0 ? 1 / psSum : (py ? 1e6 : .nan)
        let contrast = ngp > 1 ? contrastSum / (ngp * (ngp - 1)) * sSum / nvc : (py ? 0 : .nan)
        let busyness = busyDen > 0 ? psSum / busyDen : (py ? 0 : .nan)
        let strength = sSum > 0 ? strengthNum / sSum : (py ? 0 : .nan)
        return [coarseness, contrast, busyness, complexity / nvc, strength]
    }
}
