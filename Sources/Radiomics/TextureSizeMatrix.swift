import Foundation

/// A (grey level i, size j) count matrix as GLRLM (run length), GLSZM (zone size), GLDZM
/// (zone distance) and NGLDM (dependence count) share it, held sparse because zone sizes reach
/// the ROI's voxel count. `voxels` is Nv, the denominator of the percentage feature.
struct TextureSizeMatrix {
    var cells: [(i: Int, j: Int, n: Double)]
    var voxels: Double

    /// Aggregates (level, size) observations; `keys` are `level << 32 | size`.
    init(keys: [UInt64], voxels: Double) {
        let sorted = keys.sorted()
        var cells: [(i: Int, j: Int, n: Double)] = []
        var r = 0
        while r < sorted.count {
            var e = r + 1
            while e < sorted.count && sorted[e] == sorted[r] { e += 1 }
            cells.append((Int(sorted[r] >> 32), Int(sorted[r] & 0xFFFF_FFFF), Double(e - r)))
            r = e
        }
        self.cells = cells
        self.voxels = voxels
    }

    /// From a dense row-major matrix: `ng` rows (levels 1…ng), `width` columns (sizes 1…width).
    init(dense: [Double], ng: Int, width: Int, voxels: Double) {
        var cells: [(i: Int, j: Int, n: Double)] = []
        for i in 0..<ng {
            for j in 0..<width where dense[i * width + j] > 0 { cells.append((i + 1, j + 1, dense[i * width + j])) }
        }
        self.cells = cells
        self.voxels = voxels
    }

    /// The sum of several matrices (IBSI merging), Nv summed too.
    static func merged(_ parts: [TextureSizeMatrix]) -> TextureSizeMatrix {
        var keys: [UInt64: Double] = [:]
        var voxels = 0.0
        for p in parts {
            voxels += p.voxels
            for c in p.cells { keys[UInt64(c.i) << 32 | UInt64(c.j), default: 0] += c.n }
        }
        var m = TextureSizeMatrix(keys: [], voxels: voxels)
        m.cells = keys.keys.sorted().map { (Int($0 >> 32), Int($0 & 0xFFFF_FFFF), keys[$0]!) }
        return m
    }

    static let featureCount = 17

    /// IBSI's shared list, in order: small/large size emphasis, low/high grey level emphasis,
    /// the four mixed emphases (small-low, small-high, large-low, large-high), grey level
    /// non-uniformity (plain, normalised), size non-uniformity (plain, normalised),
    /// percentage, grey level variance, size variance, size entropy, energy (NGLDM only).
    func features() -> [Double] {
        let ns = cells.reduce(0) { $0 + $1.n }
        guard ns > 0 else { return [Double](repeating: .nan, count: Self.featureCount) }
        let maxI = cells.reduce(0) { max($0, $1.i) }, maxJ = cells.reduce(0) { max($0, $1.j) }
        var rows = [Double](repeating: 0, count: maxI + 1), cols = [Double](repeating: 0, count: maxJ + 1)
        var sse = 0.0, lse = 0.0, lge = 0.0, hge = 0.0, slge = 0.0, shge = 0.0, llge = 0.0, lhge = 0.0
        var muI = 0.0, muJ = 0.0, entropy = 0.0, energy = 0.0
        for c in cells {
            let i2 = Double(c.i * c.i), j2 = Double(c.j) * Double(c.j), n = c.n, p = n / ns
            sse += n / j2
            lse += n * j2
            lge += n / i2
            hge += n * i2
            slge += n / (i2 * j2)
            shge += n * i2 / j2
            llge += n * j2 / i2
            lhge += n * i2 * j2
            rows[c.i] += n
            cols[c.j] += n
            muI += Double(c.i) * p
            muJ += Double(c.j) * p
            entropy -= p * log2(p)
            energy += p * p
        }
        var varI = 0.0, varJ = 0.0
        for c in cells {
            let p = c.n / ns
            varI += (Double(c.i) - muI) * (Double(c.i) - muI) * p
            varJ += (Double(c.j) - muJ) * (Double(c.j) - muJ) * p
        }
        let glnu = rows.reduce(0) { $0 + $1 * $1 } / ns
        let snu = cols.reduce(0) { $0 + $1 * $1 } / ns
        return [
            sse / ns, lse / ns, lge / ns, hge / ns, slge / ns, shge / ns, llge / ns, lhge / ns,
            glnu, glnu / ns, snu, snu / ns, ns / voxels, varI, varJ, entropy, energy,
        ]
    }
}

extension TextureSizeMatrix {
    /// Features of per-slice matrices averaged (2D), of their sum (2.5D), or of one matrix (3D).
    static func aggregate(_ perSlice: [TextureSizeMatrix], _ dimension: TextureDimension) -> [Double] {
        switch dimension {
        case .twoD: return textureFeatureMean(perSlice.filter { !$0.cells.isEmpty }.map { $0.features() }, count: featureCount)
        case .twoAndHalfD, .threeD: return merged(perSlice).features()
        }
    }
}
