import Foundation
import ImageCore

/// Stain vectors for nuclei: Ruifrok's fixed H&E(&DAB) or an image's own (Macenko), as an
/// `ImageCore.StainMatrix` whose amounts are in decadic optical density.
public enum StainVectors {
    /// Ruifrok–Johnston H, E, DAB (scikit-image's `rgb_from_hed`).
    public static let ruifrok: [SIMD3<Double>] = StainMatrix.hed.stains

    /// A matrix whose amounts are decadic optical densities: `StainMatrix` follows scikit-image,
    /// whose OD is the decadic OD divided by 6, so the vectors are divided by 6 here — the
    /// haematoxylin plane is then exactly 6 × `rgb2hed(...)[..., 0]` for Ruifrok's vectors.
    /// Without a third vector the cross product of the first two (unit length) completes it.
    public static func odMatrix(_ h: SIMD3<Double>, _ e: SIMD3<Double>, _ third: SIMD3<Double>? = nil) throws -> StainMatrix {
        var r = third ?? cross(h, e)
        if third == nil { r /= max(1e-12, (r * r).sum().squareRoot()) }
        do { return try StainMatrix(h / 6, e / 6, r / 6) } catch {
            throw CellsError(what: "stain vectors H \(h), E \(e) are not independent", hint: "give two different OD colours, e.g. the Ruifrok defaults")
        }
    }

    /// Angle (degrees) between two OD colours.
    public static func angle(_ a: SIMD3<Double>, _ b: SIMD3<Double>) -> Double {
        let c = (a * b).sum() / max(1e-12, ((a * a).sum() * (b * b).sum()).squareRoot())
        return acos(min(1, max(-1, c))) * 180 / .pi
    }

    static func cross(_ a: SIMD3<Double>, _ b: SIMD3<Double>) -> SIMD3<Double> {
        SIMD3(a.y * b.z - a.z * b.y, a.z * b.x - a.x * b.z, a.x * b.y - a.y * b.x)
    }
}

/// Macenko et al. (2009) stain estimation: optical densities of the stained pixels lie near the
/// plane of the two stain vectors; the plane is spanned by the two main eigenvectors of their
/// covariance and the stains are the directions at the 1st and 99th percentiles of the angle
/// within it.
///
/// OD is decadic, −log10(max(v, 1) / 255) per channel; a pixel counts as stained when every
/// channel's OD is at least `odThreshold` (0.15, the paper's β). The vector with the larger red
/// OD is haematoxylin. Both come back with unit length and non-negative components.
public enum Macenko {
    public struct Estimate: Sendable {
        public var hematoxylin: SIMD3<Double>
        public var eosin: SIMD3<Double>
        /// Stained pixels the estimate used.
        public var pixels: Int
        /// Angle between the estimated and Ruifrok's haematoxylin (degrees): large values mean
        /// the image is not H&E-like (IHC, special stains) and the estimate should be checked.
        public var hematoxylinAngleToRuifrok: Double
    }

    /// Estimates from interleaved RGB bytes; at most `maxPixels` pixels are used (an even stride
    /// over the image). Throws when fewer than 100 pixels are stained.
    public static func estimate(_ image: RGBImage, odThreshold: Double = 0.15, percentile: Double = 1,
                                maxPixels: Int = 1_000_000) throws -> Estimate {
        let n = image.width * image.height
        let stride = max(1, n / max(1, maxPixels))
        var od: [SIMD3<Double>] = []
        let table = (0..<256).map { -log10(Double(max($0, 1)) / 255) }
        image.pixels.withUnsafeBufferPointer { px in
            var i = 0
            while i < n {
                let v = SIMD3(table[Int(px[3 * i])], table[Int(px[3 * i + 1])], table[Int(px[3 * i + 2])])
                if v.min() >= odThreshold { od.append(v) }
                i += stride
            }
        }
        guard od.count >= 100 else {
            throw CellsError(what: "Macenko stain estimation found only \(od.count) stained pixels (OD ≥ \(odThreshold) in every channel)",
                             hint: "the image is mostly background or very pale; use the Ruifrok vectors (--stain ruifrok) or give --stain-vectors")
        }
        // Covariance of the OD samples (centred; the scale does not matter for the eigenvectors).
        var mean = SIMD3<Double>.zero
        for v in od { mean += v }
        mean /= Double(od.count)
        var cov = [[Double]](repeating: [0, 0, 0], count: 3)
        for v in od {
            let d = v - mean
            for a in 0..<3 { for b in 0..<3 { cov[a][b] += d[a] * d[b] } }
        }
        let (values, vectors) = symmetricEigen3(cov)
        let order = (0..<3).sorted { values[$0] > values[$1] }
        var e1 = vectors[order[0]], e2 = vectors[order[1]]
        if e1.sum() < 0 { e1 = -e1 }
        if e2.sum() < 0 { e2 = -e2 }
        var phi = od.map { atan2(($0 * e2).sum(), ($0 * e1).sum()) }
        phi.sort()
        let lo = quantile(phi, percentile / 100), hi = quantile(phi, 1 - percentile / 100)
        var vMin = e1 * cos(lo) + e2 * sin(lo), vMax = e1 * cos(hi) + e2 * sin(hi)
        if vMin.sum() < 0 { vMin = -vMin }
        if vMax.sum() < 0 { vMax = -vMax }
        var (h, e) = vMin.x > vMax.x ? (vMin, vMax) : (vMax, vMin)
        h = normalisedPositive(h); e = normalisedPositive(e)
        return Estimate(hematoxylin: h, eosin: e, pixels: od.count,
                        hematoxylinAngleToRuifrok: StainVectors.angle(h, StainVectors.ruifrok[0]))
    }

    static func normalisedPositive(_ v: SIMD3<Double>) -> SIMD3<Double> {
        let c = SIMD3(max(v.x, 0), max(v.y, 0), max(v.z, 0))
        return c / max(1e-12, (c * c).sum().squareRoot())
    }

    /// NumPy's default (linear) percentile of sorted values, q in [0, 1].
    static func quantile(_ sorted: [Double], _ q: Double) -> Double {
        let pos = q * Double(sorted.count - 1)
        let i = Int(pos.rounded(.down)), f = pos - Double(i)
        return i + 1 < sorted.count ? sorted[i] + f * (sorted[i + 1] - sorted[i]) : sorted[i]
    }

    /// Eigenvalues and unit eigenvectors of a symmetric 3×3 matrix (cyclic Jacobi rotations).
    static func symmetricEigen3(_ m: [[Double]]) -> ([Double], [SIMD3<Double>]) {
        var a = m
        var v: [[Double]] = [[1, 0, 0], [0, 1, 0], [0, 0, 1]]
        for _ in 0..<50 {
            let off = a[0][1] * a[0][1] + a[0][2] * a[0][2] + a[1][2] * a[1][2]
            if off < 1e-30 * max(1e-300, a[0][0] * a[0][0] + a[1][1] * a[1][1] + a[2][2] * a[2][2]) { break }
            for (p, q) in [(0, 1), (0, 2), (1, 2)] where a[p][q] != 0 {
                let theta = (a[q][q] - a[p][p]) / (2 * a[p][q])
                let t = (theta >= 0 ? 1.0 : -1.0) / (abs(theta) + (theta * theta + 1).squareRoot())
                let c = 1 / (t * t + 1).squareRoot(), s = t * c
                for k in 0..<3 { // rotate columns p, q
                    let akp = a[k][p], akq = a[k][q]
                    a[k][p] = c * akp - s * akq; a[k][q] = s * akp + c * akq
                }
                for k in 0..<3 { // rotate rows p, q
                    let apk = a[p][k], aqk = a[q][k]
                    a[p][k] = c * apk - s * aqk; a[q][k] = s * apk + c * aqk
                }
                for k in 0..<3 {
                    let vkp = v[k][p], vkq = v[k][q]
                    v[k][p] = c * vkp - s * vkq; v[k][q] = s * vkp + c * vkq
                }
            }
        }
        let vectors = (0..<3).map { j in SIMD3(v[0][j], v[1][j], v[2][j]) }
        return ([a[0][0], a[1][1], a[2][2]], vectors)
    }
}
