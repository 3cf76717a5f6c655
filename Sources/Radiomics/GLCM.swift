import Foundation

/// Grey level co-occurrence matrix (IBSI 3.6): pairs of ROI voxels δ apart along each of the
/// 13 directions (4 in the slice). Counts are Ng×Ng, row = level at the voxel, column = level
/// at the neighbour.
enum GLCM {
    static let names = [
        "joint_max", "joint_avg", "joint_var", "joint_entr", "diff_avg", "diff_var", "diff_entr",
        "sum_avg", "sum_var", "sum_entr", "energy", "contrast", "dissimilarity", "inv_diff",
        "inv_diff_norm", "inv_diff_mom", "inv_diff_mom_norm", "inv_var", "corr", "auto_corr",
        "clust_tend", "clust_shade", "clust_prom", "info_corr1", "info_corr2",
    ]

    /// PyRadiomics' maximal correlation coefficient, not an IBSI feature: only in that convention.
    static func featureNames(_ convention: Convention) -> [String] {
        convention == .pyradiomics ? names + ["mcc"] : names
    }

    static func features(_ grid: TextureGrid, _ dimension: TextureDimension, _ options: TextureOptions) -> [FeatureValue] {
        let ng = grid.ng, cells = ng * ng
        let names = featureNames(options.convention)
        let flat = grid.presentLevels == 1
        let steps = offsets(options.glcmDistance, options.convention)
        let inPlane = steps.filter { $0.z == 0 }.map { grid.offset($0.x, $0.y, 0) }
        let all = steps.map { grid.offset($0.x, $0.y, $0.z) }
        let normNg = Double(options.convention == .pyradiomics ? grid.maxLevel : ng)
        let f = { (m: [Double]) -> [Double] in
            let values = matrixFeatures(m, ng: ng, normNg: normNg, convention: options.convention)
            guard options.convention == .pyradiomics else { return values }
            return values + [flat ? 1 : maximalCorrelation(m, ng: ng)]
        }
        var averaged: [Double], merged: [Double]
        switch dimension {
        case .twoD:
            // Per slice: each direction alone (averaged), and the slice's directions summed (merged).
            var perMatrix: [[Double]] = [], perSlice: [[Double]] = []
            for s in 0..<grid.sliceCount {
                let range = grid.roiRange(slice: s)
                var sliceSum = [Double](repeating: 0, count: cells)
                for o in inPlane {
                    let m = count(grid, range, o, options.glcmSymmetric)
                    if m.total > 0 { perMatrix.append(f(m.counts)) }
                    add(&sliceSum, m.counts)
                }
                if sliceSum.contains(where: { $0 > 0 }) { perSlice.append(f(sliceSum)) }
            }
            averaged = textureFeatureMean(perMatrix, count: names.count)
            merged = textureFeatureMean(perSlice, count: names.count)
        case .twoAndHalfD:
            // Per direction, all slices summed (averaged over directions), and everything summed.
            let whole = 0..<grid.voxelCount
            let perDirection = inPlane.map { count(grid, whole, $0, options.glcmSymmetric) }
            (averaged, merged) = combine(perDirection, names.count, f)
        case .threeD:
            let whole = 0..<grid.voxelCount
            let perDirection = all.map { count(grid, whole, $0, options.glcmSymmetric) }
            (averaged, merged) = combine(perDirection, names.count, f)
        }
        var out: [FeatureValue] = []
        for merging in TextureMerging.allCases where options.merging.contains(merging) {
            out += textureTagged("cm", names, "\(dimension.rawValue)_\(merging.rawValue)", merging == .averaged ? averaged : merged)
        }
        return out
    }

    /// IBSI: the 13 directions scaled by δ. PyRadiomics (`distances: [δ]`): every offset at
    /// Chebyshev distance exactly δ, one of each ± pair (49 for δ = 2); the same 13 for δ = 1.
    static func offsets(_ delta: Int, _ convention: Convention) -> [SIMD3<Int>] {
        guard convention == .pyradiomics, delta > 1 else { return textureDirections.map { $0 &* delta } }
        var out: [SIMD3<Int>] = []
        for dz in -delta...delta {
            for dy in -delta...delta {
                for dx in -delta...delta where max(abs(dx), abs(dy), abs(dz)) == delta {
                    // Keep the half whose first non-zero component (z, then y, then x) is positive.
                    let first = dz != 0 ? dz : (dy != 0 ? dy : dx)
                    if first > 0 { out.append(SIMD3(dx, dy, dz)) }
                }
            }
        }
        return out
    }

    private static func combine(_ matrices: [(counts: [Double], total: Double)], _ n: Int, _ f: ([Double]) -> [Double]) -> ([Double], [Double]) {
        let nonEmpty = matrices.filter { $0.total > 0 }
        let averaged = textureFeatureMean(nonEmpty.map { f($0.counts) }, count: n)
        guard var sum = matrices.first?.counts else { return (averaged, averaged) }
        for m in matrices.dropFirst() { add(&sum, m.counts) }
        let merged = nonEmpty.isEmpty ? [Double](repeating: .nan, count: n) : f(sum)
        return (averaged, merged)
    }

    private static func add(_ a: inout [Double], _ b: [Double]) {
        a.withUnsafeMutableBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in for i in 0..<pa.count { pa[i] += pb[i] } }
        }
    }

    /// Co-occurrences of the ROI voxels `grid.roi[range]` with their neighbour at `offset`.
    static func count(_ grid: TextureGrid, _ range: Range<Int>, _ offset: Int, _ symmetric: Bool) -> (counts: [Double], total: Double) {
        let ng = grid.ng
        var m = [Double](repeating: 0, count: ng * ng)
        var total = 0.0
        grid.levels.withUnsafeBufferPointer { lv in
            grid.roi.withUnsafeBufferPointer { roi in
                m.withUnsafeMutableBufferPointer { mp in
                    for r in range {
                        let v = Int(roi[r])
                        let b = Int(lv[v + offset])
                        guard b > 0 else { continue }
                        let a = Int(lv[v])
                        mp[(a - 1) * ng + b - 1] += 1
                        if symmetric { mp[(b - 1) * ng + a - 1] += 1 }
                        total += symmetric ? 2 : 1
                    }
                }
            }
        }
        return (m, total)
    }

    /// The 25 IBSI GLCM features of one count matrix (NaN if it is empty).
    static func matrixFeatures(_ counts: [Double], ng: Int, normNg: Double, convention: Convention) -> [Double] {
        let total = counts.reduce(0, +)
        guard total > 0 else { return [Double](repeating: .nan, count: names.count) }
        var px = [Double](repeating: 0, count: ng), py = px
        var pSum = [Double](repeating: 0, count: 2 * ng + 1), pDiff = [Double](repeating: 0, count: ng)
        var jointMax = 0.0, hxy = 0.0, energy = 0.0, autoCorr = 0.0
        counts.withUnsafeBufferPointer { c in
            for i in 0..<ng {
                for j in 0..<ng {
                    let n = c[i * ng + j]
                    guard n > 0 else { continue }
                    let p = n / total
                    px[i] += p
                    py[j] += p
                    pSum[i + j + 2] += p
                    pDiff[abs(i - j)] += p
                    jointMax = max(jointMax, p)
                    hxy -= p * log2(p)
                    energy += p * p
                    autoCorr += Double((i + 1) * (j + 1)) * p
                }
            }
        }
        var mux = 0.0, muy = 0.0, hx = 0.0, hy = 0.0
        for i in 0..<ng {
            mux += Double(i + 1) * px[i]
            muy += Double(i + 1) * py[i]
            if px[i] > 0 { hx -= px[i] * log2(px[i]) }
            if py[i] > 0 { hy -= py[i] * log2(py[i]) }
        }
        var varx = 0.0, vary = 0.0
        for i in 0..<ng {
            varx += (Double(i + 1) - mux) * (Double(i + 1) - mux) * px[i]
            vary += (Double(i + 1) - muy) * (Double(i + 1) - muy) * py[i]
        }
        // Difference distribution: k = |i − j|.
        var diffAvg = 0.0, diffEntr = 0.0, contrast = 0.0, invDiff = 0.0, invDiffNorm = 0.0
        var invDiffMom = 0.0, invDiffMomNorm = 0.0, invVar = 0.0
        for k in 0..<ng where pDiff[k] > 0 {
            let p = pDiff[k], dk = Double(k)
            diffAvg += dk * p
            diffEntr -= p * log2(p)
            contrast += dk * dk * p
            invDiff += p / (1 + dk)
            invDiffNorm += p / (1 + dk / normNg)
            invDiffMom += p / (1 + dk * dk)
            invDiffMomNorm += p / (1 + dk * dk / (normNg * normNg))
            if k > 0 { invVar += p / (dk * dk) }
        }
        var diffVar = 0.0
        for k in 0..<ng where pDiff[k] > 0 { diffVar += (Double(k) - diffAvg) * (Double(k) - diffAvg) * pDiff[k] }
        // Sum distribution: k = i + j (levels 1-based, so 2…2Ng).
        var sumAvg = 0.0, sumEntr = 0.0
        for k in 2...(2 * ng) where pSum[k] > 0 {
            sumAvg += Double(k) * pSum[k]
            sumEntr -= pSum[k] * log2(pSum[k])
        }
        var sumVar = 0.0, clustTend = 0.0, clustShade = 0.0, clustProm = 0.0
        for k in 2...(2 * ng) where pSum[k] > 0 {
            let d = Double(k) - sumAvg, c = Double(k) - mux - muy
            sumVar += d * d * pSum[k]
            clustTend += c * c * pSum[k]
            clustShade += c * c * c * pSum[k]
            clustProm += c * c * c * c * pSum[k]
        }
        let jointVar = varx
        var corr = (autoCorr - mux * muy) / (varx * vary).squareRoot()
        // HXY1 = HXY2 = HX + HY: both are sums of p·log(px·py) whose marginals give HX + HY.
        let hxy2 = hx + hy
        let hxMax = max(hx, hy)
        var infoCorr1 = (hxy - hxy2) / hxMax
        var infoCorr2 = (1 - exp(-2 * max(hxy2 - hxy, 0))).squareRoot()
        if !(varx * vary > 0) { corr = convention == .pyradiomics ? 1 : .nan }
        if !(hxMax > 0) { infoCorr1 = convention == .pyradiomics ? 0 : .nan }
        if convention == .pyradiomics, hxy2 == hxy { infoCorr2 = 0 }
        return [
            jointMax, mux, jointVar, hxy, diffAvg, diffVar, diffEntr, sumAvg, sumVar, sumEntr,
            energy, contrast, diffAvg, invDiff, invDiffNorm, invDiffMom, invDiffMomNorm, invVar,
            corr, autoCorr, clustTend, clustShade, clustProm, infoCorr1, infoCorr2,
        ]
    }

    /// PyRadiomics' MCC: √(second largest eigenvalue of Q), Q(i,j) = Σ_k p(i,k)p(j,k)/(px(i)py(k)).
    /// Q = D⁻¹A with A symmetric and D = diag(px), so its eigenvalues are those of the symmetric
    /// D^-½ A D^-½ (over the levels with px > 0; the others add zero eigenvalues).
    static func maximalCorrelation(_ counts: [Double], ng: Int) -> Double {
        let total = counts.reduce(0, +)
        guard total > 0 else { return .nan }
        var px = [Double](repeating: 0, count: ng), py = px
        for i in 0..<ng {
            for j in 0..<ng {
                px[i] += counts[i * ng + j] / total
                py[j] += counts[i * ng + j] / total
            }
        }
        let rows = (0..<ng).filter { px[$0] > 0 }, cols = (0..<ng).filter { py[$0] > 0 }
        let m = rows.count
        guard m >= 2 else { return 0 }
        var s = [Double](repeating: 0, count: m * m)
        for a in 0..<m {
            for b in a..<m {
                let i = rows[a], j = rows[b]
                var sum = 0.0
                for k in cols { sum += counts[i * ng + k] * counts[j * ng + k] / (total * total * py[k]) }
                let v = sum / (px[i] * px[j]).squareRoot()
                s[a * m + b] = v
                s[b * m + a] = v
            }
        }
        let eigen = symmetricEigenvalues(&s, m).sorted()
        return max(eigen[m - 2], 0).squareRoot()
    }

    /// Eigenvalues of a symmetric n×n matrix (cyclic Jacobi rotations; n ≤ Ng is small).
    static func symmetricEigenvalues(_ a: inout [Double], _ n: Int) -> [Double] {
        for _ in 0..<100 {
            var off = 0.0, diag = 0.0
            for p in 0..<n {
                diag += a[p * n + p] * a[p * n + p]
                for q in (p + 1)..<n { off += a[p * n + q] * a[p * n + q] }
            }
            if off <= 1e-30 * max(diag, 1e-300) { break }
            for p in 0..<(n - 1) {
                for q in (p + 1)..<n {
                    let apq = a[p * n + q]
                    guard abs(apq) > 1e-300 else { continue }
                    let theta = (a[q * n + q] - a[p * n + p]) / (2 * apq)
                    let t = (theta >= 0 ? 1.0 : -1.0) / (abs(theta) + (theta * theta + 1).squareRoot())
                    let c = 1 / (t * t + 1).squareRoot(), sn = t * c
                    for k in 0..<n {
                        let akp = a[k * n + p], akq = a[k * n + q]
                        a[k * n + p] = c * akp - sn * akq
                        a[k * n + q] = sn * akp + c * akq
                    }
                    for k in 0..<n {
                        let apk = a[p * n + k], aqk = a[q * n + k]
                        a[p * n + k] = c * apk - sn * aqk
                        a[q * n + k] = sn * apk + c * aqk
                    }
                }
            }
        }
        return (0..<n).map { a[$0 * n + $0] }
    }
}
