import Foundation

/// Intensity-volume histogram features (IBSI 3.5). On a grid of intensities g (every step or bin
/// from the lowest to the highest, empty ones included) the volume fraction ν(g) is the share of
/// voxels with intensity ≥ g and the intensity fraction γ(g) = (g − g_min)/(g_max − g_min).
/// V_x = ν at the first g with γ ≥ x; I_x = the first g with ν(g) ≤ x.
enum IntensityVolumeHistogram {
    static let tags = ["ivh_v10", "ivh_v90", "ivh_i10", "ivh_i90", "ivh_diff_v10_v90", "ivh_diff_i10_i90", "ivh_auc"]

    /// At most this many grid points (a step far below the intensity range is refused).
    static let gridLimit = 1_000_000

    static func features(_ values: [Double], _ option: IVHDiscretisation, lower: Double?, upper: Double?) -> [FeatureValue] {
        guard let lo = values.min(), let hi = values.max() else { return tags.map { FeatureValue($0, .nan) } }
        // Grid values and, per grid point, how many voxels sit at or above it.
        var grid: [Double] = []
        var atOrAbove: [Int] = []
        var gammaRange: (Double, Double)
        let bounded = lower.map(\.isFinite) == true && upper.map(\.isFinite) == true
        switch option {
        case .intensities(let step):
            guard step > 0, (hi - lo) / step < Double(gridLimit) else { return tags.map { FeatureValue($0, .nan) } }
            let sorted = values.sorted()
            let count = Int(((hi - lo) / step).rounded(.up)) + 1
            var cursor = 0
            for i in 0..<count {
                let g = lo + Double(i) * step
                while cursor < sorted.count && sorted[cursor] < g { cursor += 1 }
                grid.append(g); atOrAbove.append(sorted.count - cursor)
            }
            gammaRange = bounded ? (lower!, upper!) : (lo, hi)
        case .fixedBinSize, .fixedBinNumber:
            let d: Discretisation
            if case .fixedBinSize(let w) = option { d = .fixedBinSize(w) } else if case .fixedBinNumber(let n) = option { d = .fixedBinNumber(n) } else { d = .fixedBinNumber(1) }
            let map = LevelMapping(d, values: values, lower: lower, upper: upper, convention: .ibsi)
            var hist = [Int](repeating: 0, count: map.levelCount + 2)
            var top = 1, bottom = map.levelCount
            for v in values { let l = map.level(v); hist[l] += 1; top = max(top, l); bottom = min(bottom, l) }
            var above = 0
            var levels: [Int] = []
            for l in stride(from: map.levelCount, through: 1, by: -1) { above += hist[l]; atOrAbove.append(above); levels.append(l) }
            atOrAbove.reverse(); levels.reverse()
            if case .fixedBinSize(let w) = option {
                // Bin centres, over the bins from the lowest to the highest occupied one.
                grid = levels.map { map.minimum + (Double($0) - 0.5) * w }
                atOrAbove = Array(atOrAbove[(bottom - 1)..<top]); grid = Array(grid[(bottom - 1)..<top])
                gammaRange = bounded ? (lower!, upper!) : (grid.first!, grid.last!)
            } else {
                grid = levels.map(Double.init)
                gammaRange = (1, Double(map.levelCount))
            }
        }
        let n = Double(values.count)
        let nu = atOrAbove.map { Double($0) / n }
        let span = gammaRange.1 - gammaRange.0
        let gamma = grid.map { span > 0 ? ($0 - gammaRange.0) / span : 0 }
        func volumeAt(_ x: Double) -> Double {
            if let i = gamma.firstIndex(where: { $0 >= x }) { return nu[i] }
            return 0
        }
        func intensityAt(_ x: Double) -> Double {
            if let i = nu.firstIndex(where: { $0 <= x }) { return grid[i] }
            // Every grid point holds more than x: the next grid point would be the first empty one.
            return grid.count > 1 ? 2 * grid[grid.count - 1] - grid[grid.count - 2] : grid[0] + 1
        }
        var auc = 0.0
        for i in 1..<max(1, grid.count) { auc += (gamma[i] - gamma[i - 1]) * (nu[i] + nu[i - 1]) / 2 }
        let v10 = volumeAt(0.1), v90 = volumeAt(0.9), i10 = intensityAt(0.1), i90 = intensityAt(0.9)
        return [FeatureValue("ivh_v10", v10), FeatureValue("ivh_v90", v90), FeatureValue("ivh_i10", i10),
                FeatureValue("ivh_i90", i90), FeatureValue("ivh_diff_v10_v90", v10 - v90),
                FeatureValue("ivh_diff_i10_i90", i10 - i90), FeatureValue("ivh_auc", auc)]
    }
}

/// Local intensity features (IBSI 3.2): the mean intensity in a 1 cm³ sphere (every image voxel
/// whose centre lies within r = 6.2 mm) around the ROI's brightest voxel(s) — the highest such
/// mean if several share the maximum — and the highest sphere mean over all ROI voxels.
enum LocalIntensity {
    static let tags = ["loc_peak_loc", "loc_peak_glob"]

    static func features(_ roi: PreparedROI) -> [FeatureValue] {
        guard !roi.isEmpty else { return tags.map { FeatureValue($0, .nan) } }
        let n = roi.size, s = roi.spacing, r = PreparedROI.peakRadius
        // Row prefix sums (finite voxels only) so each sphere is a sum over its (j, k) rows.
        var prefix = [Double](repeating: 0, count: (n.x + 1) * n.y * n.z)
        var finite = [Int32](repeating: 0, count: prefix.count)
        for k in 0..<n.z { for j in 0..<n.y {
            let row = j + n.y * k
            for i in 0..<n.x {
                let v = roi.intensities[roi.index(i, j, k)]
                let ok = v.isFinite
                prefix[row * (n.x + 1) + i + 1] = prefix[row * (n.x + 1) + i] + (ok ? v : 0)
                finite[row * (n.x + 1) + i + 1] = finite[row * (n.x + 1) + i] + (ok ? 1 : 0)
            }
        } }
        var rows: [(dj: Int, dk: Int, half: Int)] = []
        let ry = Int((r / s.y).rounded(.down)), rz = Int((r / s.z).rounded(.down))
        for dk in -rz...rz { for dj in -ry...ry {
            let rest = r * r * (1 + 1e-12) - pow(Double(dj) * s.y, 2) - pow(Double(dk) * s.z, 2)
            if rest >= 0 { rows.append((dj, dk, Int((rest.squareRoot() / s.x).rounded(.down)))) }
        } }
        func sphereMean(_ i: Int, _ j: Int, _ k: Int) -> Double {
            var sum = 0.0, count = 0
            for row in rows {
                let jj = j + row.dj, kk = k + row.dk
                if jj < 0 || kk < 0 || jj >= n.y || kk >= n.z { continue }
                let a = max(0, i - row.half), b = min(n.x - 1, i + row.half)
                let base = (jj + n.y * kk) * (n.x + 1)
                sum += prefix[base + b + 1] - prefix[base + a]
                count += Int(finite[base + b + 1] - finite[base + a])
            }
            return sum / Double(count)
        }
        var maxValue = -Double.infinity
        for v in 0..<roi.intensityMask.count where roi.intensityMask[v] { maxValue = max(maxValue, roi.intensities[v]) }
        guard maxValue.isFinite else { return tags.map { FeatureValue($0, .nan) } }
        var local = -Double.infinity, global = -Double.infinity
        let lo = roi.roiLower, hi = roi.roiUpper
        for k in lo.z...hi.z { for j in lo.y...hi.y { for i in lo.x...hi.x {
            let v = roi.index(i, j, k)
            guard roi.intensityMask[v] else { continue }
            let m = sphereMean(i, j, k)
            global = max(global, m)
            if roi.intensities[v] == maxValue { local = max(local, m) }
        } } }
        return [FeatureValue("loc_peak_loc", local), FeatureValue("loc_peak_glob", global)]
    }
}
