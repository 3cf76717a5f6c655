import Foundation
import ImageCore

/// The fixed parameters of pathomic-v1 (see docs/pathomic-v1.md). Changing any of them changes
/// the numbers, so it would be a new version, not an edit.
enum PathomicV1 {
    /// Background: bright glass (every channel ≥ 220, i.e. no channel with OD −ln(v/255) > 0.15,
    /// Macenko's β) or black (every channel < 10, scanner padding). Everything else is tissue.
    static let glassMin: UInt8 = 220
    static let blackMax: UInt8 = 10
    /// Stain amounts in scikit-image `rgb2hed` units (decadic OD / 6).
    static let hematoxylinThreshold: Float = 0.07
    static let eosinThreshold: Float = 0.05
    static let glcmLevels = 32 // grey >> 3
    static let glcmDistances: [Double] = [1, 3]
    static let glcmAngles: [Double] = [0, Double.pi / 4, Double.pi / 2, 3 * Double.pi / 4]
    static let glcmProperties = ["contrast", "dissimilarity", "homogeneity", "energy", "asm", "correlation"]
    static let percentiles: [Double] = [0.10, 0.50, 0.90]
    /// µm/px the nuclear sizes are converted at (the contract's scale).
    static let mpp = 0.5
    static let nucleusAreaUm2: ClosedRange<Double> = 10...250
    static var pixelAreaUm2: Double { mpp * mpp }
    static var nucleusAreaPx: ClosedRange<Int> {
        Int((nucleusAreaUm2.lowerBound / pixelAreaUm2).rounded(.up))...Int((nucleusAreaUm2.upperBound / pixelAreaUm2).rounded(.down))
    }

    /// Feature names in output order. A versioned format: append in a new version, never reorder.
    static let featureNames: [String] = {
        var n = ["tissue_fraction",
                 "rgb_r_mean", "rgb_g_mean", "rgb_b_mean", "rgb_r_std", "rgb_g_std", "rgb_b_std"]
        for s in ["h", "e"] {
            n += ["\(s)_od_mean", "\(s)_od_std", "\(s)_od_p10", "\(s)_od_p50", "\(s)_od_p90"]
        }
        n += ["h_positive_fraction", "e_positive_fraction"]
        for d in glcmDistances {
            for p in glcmProperties { n += ["glcm_\(p)_d\(Int(d))_mean", "glcm_\(p)_d\(Int(d))_range"] }
        }
        n += (0..<LBP.uniformBins).map { "lbp_uniform_\($0)" }
        n += ["nuclei_count", "nuclei_per_mm2", "nucleus_area_mean_um2", "nucleus_area_std_um2", "nuclei_area_fraction"]
        return n
    }()

    /// Integer BT.601 luma with 16-bit weights (the formula Pillow's `convert("L")` uses).
    @inline(__always) static func grey(_ r: UInt8, _ g: UInt8, _ b: UInt8) -> UInt8 {
        UInt8(truncatingIfNeeded: (Int(r) &* 19595 &+ Int(g) &* 38470 &+ Int(b) &* 7471 &+ 32768) >> 16)
    }
}

/// Scratch buffers for one thread, sized for `width × height` patches and reused patch after patch.
final class PathomicWorkspace {
    let width: Int, height: Int, n: Int
    private let grey, tissue, quant, codes, nuclei, opened: UnsafeMutableBufferPointer<UInt8>
    private let stains, values, scratch: UnsafeMutableBufferPointer<Float>
    private let lbpScratch: UnsafeMutableBufferPointer<Double>
    private let counts: UnsafeMutableBufferPointer<UInt32>
    private let matrix = StainMatrix.hed

    init(width: Int, height: Int) {
        self.width = width; self.height = height; n = width * height
        grey = .allocate(capacity: n); tissue = .allocate(capacity: n); quant = .allocate(capacity: n)
        codes = .allocate(capacity: n); nuclei = .allocate(capacity: n); opened = .allocate(capacity: n)
        stains = .allocate(capacity: 3 * n); values = .allocate(capacity: n); scratch = .allocate(capacity: n)
        lbpScratch = .allocate(capacity: (width + 2) * (height + 2))
        counts = .allocate(capacity: PathomicV1.glcmLevels * PathomicV1.glcmLevels)
    }

    deinit {
        for b in [grey, tissue, quant, codes, nuclei, opened] { b.deallocate() }
        stains.deallocate(); values.deallocate(); scratch.deallocate(); lbpScratch.deallocate(); counts.deallocate()
    }

    /// Writes the `featureNames.count` features of one RGB patch (`3·width·height` bytes) to `out`.
    func describe(_ rgb: UnsafePointer<UInt8>, into out: UnsafeMutablePointer<Float>) {
        var f: [Double] = []
        f.reserveCapacity(PathomicV1.featureNames.count)

        // Colour, grey, tissue — one pass, exact integer sums.
        let tis = tissue.baseAddress!, gr = grey.baseAddress!, qu = quant.baseAddress!
        var sum = (0, 0, 0), sq = (0, 0, 0), tissueCount = 0
        for i in 0..<n {
            let r = rgb[3 * i], g = rgb[3 * i + 1], b = rgb[3 * i + 2]
            sum.0 &+= Int(r); sum.1 &+= Int(g); sum.2 &+= Int(b)
            sq.0 &+= Int(r) &* Int(r); sq.1 &+= Int(g) &* Int(g); sq.2 &+= Int(b) &* Int(b)
            let lo = min(r, min(g, b)), hi = max(r, max(g, b))
            let isTissue = lo < PathomicV1.glassMin && hi >= PathomicV1.blackMax
            tis[i] = isTissue ? 255 : 0
            tissueCount &+= isTissue ? 1 : 0
            let y = PathomicV1.grey(r, g, b)
            gr[i] = y
            qu[i] = isTissue ? y >> 3 : 255 // ≥ levels: never pairs in the GLCM
        }
        let nd = Double(n)
        f.append(Double(tissueCount) / nd)
        for s in [sum.0, sum.1, sum.2] { f.append(Double(s) / nd / 255) }
        for (s, q) in [(sum.0, sq.0), (sum.1, sq.1), (sum.2, sq.2)] {
            // Var = (n·Σx² − (Σx)²) / n², exact in integers up to the final division.
            f.append((Double(n &* q &- s &* s) / (nd * nd)).squareRoot() / 255)
        }

        // Stains over tissue.
        matrix.separate(UnsafeBufferPointer(start: rgb, count: 3 * n), into: stains)
        // Local pointers: the loops then need not reload the class's properties after every store.
        let h = stains.baseAddress!, e = h + n, nuc = nuclei.baseAddress!
        let vals = values.baseAddress!
        let hT = PathomicV1.hematoxylinThreshold, eT = PathomicV1.eosinThreshold
        var hPositive = 0, ePositive = 0
        for i in 0..<n {
            let t = tis[i] != 0
            let hp = t && h[i] > hT
            nuc[i] = hp ? 255 : 0
            hPositive &+= hp ? 1 : 0
            ePositive &+= (t && e[i] > eT) ? 1 : 0
        }
        for plane in [h, e] {
            // Branch-free gather of the tissue values: always write, advance only on tissue.
            var m = 0
            for i in 0..<n { vals[m] = plane[i]; m &+= Int(tis[i] & 1) }
            if m == 0 {
                f += [0, 0, 0, 0, 0]
            } else {
                let (mean, std) = meanStd(vals, count: m)
                f += [mean, std] + linearPercentiles(vals, count: m, PathomicV1.percentiles, scratch: scratch.baseAddress!)
            }
        }
        f.append(tissueCount == 0 ? 0 : Double(hPositive) / Double(tissueCount))
        f.append(tissueCount == 0 ? 0 : Double(ePositive) / Double(tissueCount))

        appendGLCM(&f)

        // Uniform LBP of the whole grey patch, histogram over tissue.
        LBP.uniformCodes(UnsafeBufferPointer(grey), width: width, height: height, into: codes, scratch: lbpScratch)
        f += LBP.histogram(UnsafeBufferPointer(codes), mask: UnsafeBufferPointer(tissue))

        appendNuclei(&f, tissueCount: tissueCount)

        precondition(f.count == PathomicV1.featureNames.count, "pathomic-v1: \(f.count) features for \(PathomicV1.featureNames.count) names")
        for k in 0..<f.count { out[k] = f[k].isFinite ? Float(f[k]) : 0 }
    }

    /// Per distance and property: mean and range (max − min) over the angles whose matrix has at
    /// least one tissue pair; all 0 when none has.
    private func appendGLCM(_ f: inout [Double]) {
        let lv = PathomicV1.glcmLevels, np = PathomicV1.glcmProperties.count
        for d in PathomicV1.glcmDistances {
            var lo = [Double](repeating: .infinity, count: np), hi = [Double](repeating: -.infinity, count: np)
            var sum = [Double](repeating: 0, count: np), used = 0
            for a in PathomicV1.glcmAngles {
                GLCM.symmetricCounts(UnsafeBufferPointer(quant), width: width, height: height, levels: lv,
                                     offset: GLCM.offset(distance: d, angle: a), into: counts)
                var pairs: UInt64 = 0
                for c in counts { pairs += UInt64(c) }
                if pairs == 0 { continue }
                let v = GLCM.properties(UnsafeBufferPointer(counts), levels: lv).values
                for k in 0..<np { sum[k] += v[k]; lo[k] = min(lo[k], v[k]); hi[k] = max(hi[k], v[k]) }
                used += 1
            }
            for k in 0..<np {
                f += used == 0 ? [0, 0] : [sum[k] / Double(used), hi[k] - lo[k]]
            }
        }
    }

    /// Haematoxylin-positive tissue, opened, 8-connected blobs within the nucleus area range.
    private func appendNuclei(_ f: inout [Double], tissueCount: Int) {
        // 3 × 3 opening (`codes` is free again and serves as scratch), then 8-connected blobs.
        open3x3(nuclei.baseAddress!, width: width, height: height, tmp: codes.baseAddress!, out: opened.baseAddress!)
        let labels = ConnectedComponents.label(GrayImage(width: width, height: height, pixels: Array(opened)), connectivity: .eight)
        let range = PathomicV1.nucleusAreaPx, px = PathomicV1.pixelAreaUm2
        var count = 0, s = 0.0
        for a in labels.areas.dropFirst() where range.contains(a) { count += 1; s += Double(a) }
        let mean = count == 0 ? 0 : s / Double(count)
        var v = 0.0
        for a in labels.areas.dropFirst() where range.contains(a) { let d = Double(a) - mean; v += d * d }
        let tissueUm2 = Double(tissueCount) * px
        f.append(Double(count))
        f.append(tissueCount == 0 ? 0 : Double(count) / (tissueUm2 * 1e-6))
        f.append(mean * px)
        f.append(count == 0 ? 0 : (v / Double(count)).squareRoot() * px)
        f.append(tissueCount == 0 ? 0 : s / Double(tissueCount))
    }
}
