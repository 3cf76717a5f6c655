import Foundation

extension PreparedROI {
    /// Grey levels (IBSI 2.7) on the morphological mask's bounding box, for the intensity
    /// histogram and the texture families.
    public func discretised(_ d: Discretisation, convention: Convention = .ibsi) -> DiscretisedROI {
        guard !isEmpty else {
            return DiscretisedROI(size: SIMD3(0, 0, 0), spacing: spacing, levels: [], levelCount: 0, morphologicalMask: [])
        }
        let values = roiValues()
        let mapping = LevelMapping(d, values: values, lower: resegmentationLower, upper: resegmentationUpper, convention: convention)
        let lo = roiLower, box = roiUpper &- roiLower &+ 1
        var levels = [Int32](repeating: 0, count: box.x * box.y * box.z)
        var morph = [Bool](repeating: false, count: levels.count)
        for k in 0..<box.z { for j in 0..<box.y {
            for i in 0..<box.x {
                let v = index(lo.x + i, lo.y + j, lo.z + k), b = i + box.x * (j + box.y * k)
                morph[b] = morphologicalMask[v]
                if intensityMask[v] { levels[b] = Int32(mapping.level(intensities[v])) }
            }
        } }
        return DiscretisedROI(size: box, spacing: spacing, levels: levels, levelCount: mapping.levelCount, morphologicalMask: morph)
    }
}

/// Intensity → grey level 1…Ng.
struct LevelMapping {
    let binNumber: Int?
    let width: Double
    let minimum: Double
    let levelCount: Int

    init(_ d: Discretisation, values: [Double], lower: Double?, upper: Double?, convention: Convention) {
        let lo = values.min() ?? 0, hi = values.max() ?? 0
        switch d {
        case .fixedBinNumber(let n):
            binNumber = max(1, n); minimum = lo
            width = hi - lo   // the range; level = floor(Ng·(x − min)/range) + 1
            levelCount = max(1, n)
        case .fixedBinSize(let w):
            binNumber = nil; width = w
            switch convention {
            case .ibsi: minimum = lower.map { $0.isFinite ? $0 : lo } ?? lo
            case .pyradiomics: minimum = (lo / w).rounded(.down) * w   // edges at multiples of w
            }
            let top = upper.flatMap { $0.isFinite ? $0 : nil } ?? hi
            levelCount = max(1, Int(((top - minimum) / w).rounded(.down)) + 1)
        }
    }

    @inline(__always) func level(_ x: Double) -> Int {
        let l: Int
        if let n = binNumber {
            l = width > 0 ? Int((Double(n) * (x - minimum) / width).rounded(.down)) + 1 : 1
            return min(max(l, 1), n)
        }
        l = Int(((x - minimum) / width).rounded(.down)) + 1
        return min(max(l, 1), levelCount)
    }
}
