import Foundation

/// Intensity statistics (IBSI 3.3) on the intensity-mask values, and the descriptive statistics
/// the intensity histogram (IBSI 3.4) shares with them.
enum IntensityStatistics {
    static let tags = ["stat_mean", "stat_var", "stat_skew", "stat_kurt", "stat_median", "stat_min", "stat_p10",
                       "stat_p90", "stat_max", "stat_iqr", "stat_range", "stat_mad", "stat_rmad", "stat_medad",
                       "stat_cov", "stat_qcod", "stat_energy", "stat_rms"]

    /// `energyShift` is PyRadiomics' `voxelArrayShift`: energy and RMS of (x + shift), which
    /// keeps them positive for CT; 0 is IBSI's definition.
    static func features(_ values: [Double], convention: Convention, energyShift: Double = 0) -> [FeatureValue] {
        guard !values.isEmpty else { return tags.map { FeatureValue($0, .nan) } }
        var f = descriptive(values.sorted(), prefix: "stat", convention: convention)
        var energy = 0.0
        for v in values { energy += (v + energyShift) * (v + energyShift) }
        f["stat_energy"] = energy
        f["stat_rms"] = (energy / Double(values.count)).squareRoot()
        return tags.map { FeatureValue($0, f[$0] ?? .nan) }
    }

    /// Mean, variance, skewness, (excess) kurtosis, median, minimum, P10, P90, maximum, IQR,
    /// range, mean/robust-mean/median absolute deviations, CoV and QCoD, keyed `<prefix>_<name>`.
    static func descriptive(_ sorted: [Double], prefix: String, convention: Convention) -> [String: Double] {
        let n = Double(sorted.count)
        var mean = 0.0
        for v in sorted { mean += v }
        mean /= n
        var m2 = 0.0, m3 = 0.0, m4 = 0.0, mad = 0.0
        for v in sorted {
            let d = v - mean, d2 = d * d
            m2 += d2; m3 += d2 * d; m4 += d2 * d2; mad += abs(d)
        }
        m2 /= n; m3 /= n; m4 /= n; mad /= n
        let median = percentile(sorted, 0.5), p10 = percentile(sorted, 0.1), p90 = percentile(sorted, 0.9)
        let p25 = percentile(sorted, 0.25), p75 = percentile(sorted, 0.75)
        // Robust MAD: deviations from the mean of the values within [P10, P90].
        var rs = 0.0, rn = 0.0
        for v in sorted where v >= p10 && v <= p90 { rs += v; rn += 1 }
        let rmean = rs / rn
        var rmad = 0.0, medad = 0.0
        for v in sorted {
            if v >= p10 && v <= p90 { rmad += abs(v - rmean) }
            medad += abs(v - median)
        }
        // A constant ROI has no skewness or kurtosis (PyRadiomics reports 0).
        let flat = m2 <= 0
        let flatValue = convention == .pyradiomics ? 0.0 : .nan
        return [
            "\(prefix)_mean": mean,
            "\(prefix)_var": m2,
            "\(prefix)_skew": flat ? flatValue : m3 / pow(m2, 1.5),
            "\(prefix)_kurt": flat ? flatValue : m4 / (m2 * m2) - (convention == .pyradiomics ? 0 : 3),
            "\(prefix)_median": median,
            "\(prefix)_min": sorted.first!,
            "\(prefix)_p10": p10,
            "\(prefix)_p90": p90,
            "\(prefix)_max": sorted.last!,
            "\(prefix)_iqr": p75 - p25,
            "\(prefix)_range": sorted.last! - sorted.first!,
            "\(prefix)_mad": mad,
            "\(prefix)_rmad": rmad / rn,
            "\(prefix)_medad": medad / n,
            "\(prefix)_cov": m2.squareRoot() / mean,
            "\(prefix)_qcod": (p75 - p25) / (p75 + p25),
        ]
    }

    /// Linear interpolation between closest ranks, position q·(N − 1) (NumPy's default).
    static func percentile(_ sorted: [Double], _ q: Double) -> Double {
        let pos = q * Double(sorted.count - 1)
        let i = Int(pos.rounded(.down)), frac = pos - Double(i)
        return i + 1 < sorted.count ? sorted[i] + (sorted[i + 1] - sorted[i]) * frac : sorted[i]
    }
}

/// Intensity histogram features (IBSI 3.4) on the discretised grey levels.
enum IntensityHistogram {
    static let tags = ["ih_mean", "ih_var", "ih_skew", "ih_kurt", "ih_median", "ih_min", "ih_p10", "ih_p90",
                       "ih_max", "ih_mode", "ih_iqr", "ih_range", "ih_mad", "ih_rmad", "ih_medad", "ih_cov",
                       "ih_qcod", "ih_entropy", "ih_uniformity", "ih_max_grad", "ih_max_grad_g", "ih_min_grad",
                       "ih_min_grad_g"]

    static func features(_ roi: DiscretisedROI, convention: Convention) -> [FeatureValue] {
        let ng = roi.levelCount
        var hist = [Int](repeating: 0, count: ng + 1)
        for l in roi.levels where l > 0 { hist[Int(l)] += 1 }
        let total = hist.reduce(0, +)
        guard total > 0, ng > 0 else { return tags.map { FeatureValue($0, .nan) } }
        var sorted: [Double] = []
        sorted.reserveCapacity(total)
        for l in 1...ng where hist[l] > 0 { sorted += repeatElement(Double(l), count: hist[l]) }
        var f = IntensityStatistics.descriptive(sorted, prefix: "ih", convention: convention)
        let mean = f["ih_mean"]!
        // Mode: the most frequent level; among equals the one closest to the mean (then the lower).
        var mode = 1
        for l in 1...ng where hist[l] > hist[mode] || (hist[l] == hist[mode] && abs(Double(l) - mean) < abs(Double(mode) - mean)) { mode = l }
        f["ih_mode"] = Double(mode)
        var entropy = 0.0, uniformity = 0.0
        for l in 1...ng where hist[l] > 0 {
            let p = Double(hist[l]) / Double(total)
            entropy -= p * log2(p); uniformity += p * p
        }
        f["ih_entropy"] = entropy
        f["ih_uniformity"] = uniformity
        // Histogram gradient: central differences inside, one-sided at the ends.
        if ng > 1 {
            var best = (max: -Double.infinity, maxAt: 0, min: Double.infinity, minAt: 0)
            for l in 1...ng {
                let g: Double
                if l == 1 { g = Double(hist[2] - hist[1]) } else if l == ng { g = Double(hist[ng] - hist[ng - 1]) } else { g = Double(hist[l + 1] - hist[l - 1]) / 2 }
                if g > best.max { best.max = g; best.maxAt = l }
                if g < best.min { best.min = g; best.minAt = l }
            }
            f["ih_max_grad"] = best.max; f["ih_max_grad_g"] = Double(best.maxAt)
            f["ih_min_grad"] = best.min; f["ih_min_grad_g"] = Double(best.minAt)
        }
        return tags.map { FeatureValue($0, f[$0] ?? .nan) }
    }
}
