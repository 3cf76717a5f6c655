import Foundation
import ImageCore

/// Stain and texture features of one patch image: tissue fraction, H/E/DAB amounts (mean, std),
/// GLCM properties and the uniform-LBP histogram, all over tissue pixels. 23 values in catalogue
/// order; NaN where undefined (no tissue, no co-occurring tissue pairs).
enum PatchImageFeatures {
    static let count = 1 + 6 + 6 + 10

    /// −log10(max(v, 1) / 255) per byte value.
    static let opticalDensity: [Double] = (0..<256).map { -log10(Double(max($0, 1)) / 255) }

    /// scikit-image's `rgb2gray` weights in integer form, rounded to a byte.
    @inline(__always) static func grey(_ r: UInt8, _ g: UInt8, _ b: UInt8) -> UInt8 {
        let sum: Int = 2125 * Int(r) + 7154 * Int(g) + 721 * Int(b) + 5000
        return UInt8(sum / 10000)
    }

    static func compute(_ image: RGBImage, _ o: PathomicsOptions) -> [Double] {
        let w = image.width, h = image.height, n = w * h
        var out = [Double](repeating: .nan, count: count)
        guard n > 0 else { return out }
        var mask = [UInt8](repeating: 0, count: n), grey = [UInt8](repeating: 0, count: n)
        var tissue = 0
        let thr = o.tissueODThreshold
        image.pixels.withUnsafeBufferPointer { px in
            opticalDensity.withUnsafeBufferPointer { od in
                for i in 0..<n {
                    let r = px[3 * i], g = px[3 * i + 1], b = px[3 * i + 2]
                    grey[i] = Self.grey(r, g, b)
                    if od[Int(r)] + od[Int(g)] + od[Int(b)] >= thr { mask[i] = 1; tissue += 1 }
                }
            }
        }
        out[0] = Double(tissue) / Double(n)
        guard tissue > 0 else { return out }

        // Stains: mean and population std over tissue pixels, per plane.
        let planes = StainMatrix.hed.separate(image)
        for s in 0..<3 {
            var sum = 0.0
            for i in 0..<n where mask[i] != 0 { sum += Double(planes[s * n + i]) }
            let mean = sum / Double(tissue)
            var ss = 0.0
            for i in 0..<n where mask[i] != 0 { let d = Double(planes[s * n + i]) - mean; ss += d * d }
            out[1 + 2 * s] = mean
            out[2 + 2 * s] = (ss / Double(tissue)).squareRoot()
        }

        // GLCM over tissue pairs, averaged over distances × 4 angles that have any pair.
        let levels = o.glcmLevels
        let quantised = grey.map { UInt8(Int($0) * levels / 256) }
        var counts = [UInt32](repeating: 0, count: levels * levels)
        var acc = [Double](repeating: 0, count: 6)
        var used = 0
        quantised.withUnsafeBufferPointer { q in
            mask.withUnsafeBufferPointer { m in
                counts.withUnsafeMutableBufferPointer { c in
                    for d in o.glcmDistances {
                        for angle in [0, Double.pi / 4, Double.pi / 2, 3 * Double.pi / 4] {
                            GLCM.symmetricCounts(q, width: w, height: h, levels: levels,
                                                 offset: GLCM.offset(distance: Double(d), angle: angle), mask: m, into: c)
                            var total: UInt64 = 0
                            for v in c { total += UInt64(v) }
                            guard total > 0 else { continue }
                            let p = GLCM.properties(UnsafeBufferPointer(c), levels: levels).values
                            for k in 0..<6 { acc[k] += p[k] }
                            used += 1
                        }
                    }
                }
            }
        }
        if used > 0 { for k in 0..<6 { out[7 + k] = acc[k] / Double(used) } }

        // Uniform LBP codes on the whole grey patch (neighbours may be background), counted at
        // tissue centres.
        let codes = LBP.uniformCodes(GrayImage(width: w, height: h, pixels: grey))
        let hist = codes.pixels.withUnsafeBufferPointer { c in mask.withUnsafeBufferPointer { LBP.histogram(c, mask: $0) } }
        for k in 0..<10 { out[13 + k] = hist[k] }
        return out
    }
}
