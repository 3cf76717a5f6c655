import Foundation

/// Colour deconvolution (Ruifrok & Johnston 2001) with scikit-image's conventions, so that
/// `StainMatrix.hed.separate(...)` gives the numbers of `skimage.color.rgb2hed`:
///
/// 1. a byte `v` becomes the transmittance `max(v · (1/255), 10⁻⁶)`;
/// 2. its optical density is `ln(transmittance) / ln(10⁻⁶)`, i.e. the decadic OD divided by 6
///    (0 for white, 1 for black, never negative);
/// 3. the row vector of the three channel ODs times the inverse of the stain matrix gives the stain
///    amounts, and negative amounts are clipped to 0.
///
/// Stain vectors are the rows of the matrix (each the OD colour R, G, B of one stain) and are used
/// exactly as given, without re-normalisation, as scikit-image does.
public struct StainMatrix: Sendable {
    /// The three stain OD colours (R, G, B), one per output plane, in order.
    public let stains: [SIMD3<Double>]
    /// Inverse of the matrix whose rows are `stains`: amounts = od (row vector) × inverse.
    public let inverse: [SIMD3<Double>]
    /// `table[c * 256 + v]`: the contribution of value v in channel c to the three stain amounts,
    /// od(v) · inverse[c]. Bytes have only 256 values, so the logarithms are taken once here.
    let table: [SIMD3<Double>]

    /// Ruifrok–Johnston haematoxylin, eosin and DAB vectors (scikit-image's `rgb_from_hed`).
    public static let hed = try! StainMatrix(SIMD3(0.65, 0.70, 0.29), SIMD3(0.07, 0.99, 0.11), SIMD3(0.27, 0.57, 0.78))

    /// A matrix from three stain OD colours (R, G, B each), e.g. an H and E estimate (Macenko) and a
    /// third vector orthogonal to both. Throws when the vectors are (nearly) linearly dependent.
    public init(_ s0: SIMD3<Double>, _ s1: SIMD3<Double>, _ s2: SIMD3<Double>) throws {
        let rows = [s0, s1, s2]
        // Inverse by cofactors: column j of the inverse is (row k × row l) / det.
        let c0 = cross(s1, s2), c1 = cross(s2, s0), c2 = cross(s0, s1)
        let det = (s0 * c0).sum()
        let scale = rows.map { ($0 * $0).sum().squareRoot() }.reduce(1, *)
        guard det.isFinite, scale > 0, abs(det) > 1e-9 * scale else {
            throw StainMatrixError(message: "stain vectors \(rows.map { [$0.x, $0.y, $0.z] }) are linearly dependent (determinant \(det)); give three independent OD colours, e.g. complete two stains with their cross product")
        }
        // inverse[i][j] = c_j[i] / det (the adjugate is the transposed cofactor matrix).
        let inv = (0..<3).map { i in SIMD3(c0[i], c1[i], c2[i]) / det }
        stains = rows
        inverse = inv
        var t = [SIMD3<Double>](repeating: .zero, count: 3 * 256)
        let logAdjust = log(1e-6)
        for v in 0..<256 {
            let od = log(max(Double(v) * (1.0 / 255.0), 1e-6)) / logAdjust
            for c in 0..<3 { t[c * 256 + v] = od * inv[c] }
        }
        table = t
    }

    /// Stain amounts of `rgb` (interleaved R, G, B bytes, `3·n` of them) written **planar** to `out`
    /// (`3·n` floats): stain k of pixel i at `out[k·n + i]`. Runs on the calling thread (callers
    /// working on many patches parallelise over patches).
    public func separate(_ rgb: UnsafeBufferPointer<UInt8>, into out: UnsafeMutableBufferPointer<Float>) {
        let n = rgb.count / 3
        precondition(rgb.count == 3 * n && out.count >= 3 * n,
                     "StainMatrix.separate: \(rgb.count) bytes (need a multiple of 3) into \(out.count) floats (need \(3 * n))")
        guard n > 0, let src = rgb.baseAddress, let dst = out.baseAddress else { return }
        table.withUnsafeBufferPointer { tB in
            separateRange(src, dst, n, tB.baseAddress!, 0..<n)
        }
    }

    /// Stain amounts of a whole image as three planes of `width·height` floats (see
    /// ``separate(_:into:)``), in parallel bands for large images.
    public func separate(_ image: RGBImage) -> [Float] {
        let n = image.width * image.height
        var out = [Float](repeating: 0, count: 3 * n)
        guard n > 0 else { return out }
        table.withUnsafeBufferPointer { tB in
        image.pixels.withUnsafeBufferPointer { sB in
        out.withUnsafeMutableBufferPointer { oB in
            let t = tB.baseAddress!, src = sB.baseAddress!, dst = oB.baseAddress!
            parallelBands(count: n, workPerItem: 12) { range in separateRange(src, dst, n, t, range) }
        }}}
        return out
    }
}

@inline(__always)
private func separateRange(_ src: UnsafePointer<UInt8>, _ dst: UnsafeMutablePointer<Float>, _ n: Int,
                           _ t: UnsafePointer<SIMD3<Double>>, _ range: Range<Int>) {
    let p0 = dst, p1 = dst + n, p2 = dst + 2 * n
    for i in range {
        let s = t[Int(src[3 * i])] + t[256 + Int(src[3 * i + 1])] + t[512 + Int(src[3 * i + 2])]
        p0[i] = Float(max(s.x, 0)); p1[i] = Float(max(s.y, 0)); p2[i] = Float(max(s.z, 0))
    }
}

@inline(__always)
private func cross(_ a: SIMD3<Double>, _ b: SIMD3<Double>) -> SIMD3<Double> {
    SIMD3(a.y * b.z - a.z * b.y, a.z * b.x - a.x * b.z, a.x * b.y - a.y * b.x)
}

/// A stain matrix that cannot be inverted.
public struct StainMatrixError: Error, CustomStringConvertible, LocalizedError {
    public let message: String
    public var description: String { "StainMatrix: \(message)" }
    public var errorDescription: String? { description }
}
