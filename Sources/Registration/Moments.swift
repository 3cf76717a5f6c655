import Foundation

/// Area, centroid and principal-axis angle of a mask (pixels > 0.5), in mm.
public struct MaskMoments: Sendable {
    public var area: Double
    public var centroid: SIMD2<Double>
    /// Angle (radians) of the major axis from +x.
    public var axisAngle: Double

    public init(_ mask: Image2D) throws {
        var n = 0.0, s = SIMD2<Double>.zero, sxx = 0.0, syy = 0.0, sxy = 0.0
        for j in 0..<mask.height {
            for i in 0..<mask.width where mask[i, j] > 0.5 {
                let p = mask.point(ofIndex: SIMD2(Double(i), Double(j)))
                n += 1; s += p
                sxx += p.x * p.x; syy += p.y * p.y; sxy += p.x * p.y
            }
        }
        guard n >= 3 else {
            throw RegistrationError("the mask is empty (\(Int(n)) pixels above 0.5)",
                                    hint: "check the tissue/organ mask: it must mark the region to align with values of 1")
        }
        let c = s / n
        let cxx = sxx / n - c.x * c.x, cyy = syy / n - c.y * c.y, cxy = sxy / n - c.x * c.y
        area = n * mask.spacing.x * mask.spacing.y
        centroid = c
        axisAngle = 0.5 * atan2(2 * cxy, cxx - cyy)
    }
}

/// Fraction of agreement 2|A∩B|/(|A|+|B|) between the fixed mask and the moving mask pulled
/// into fixed space through `t` (both thresholded at 0.5).
public func dice<T: Transform2D>(fixedMask: Image2D, movingMask: Image2D, transform t: T) -> Double {
    let warped = movingMask.resampled(onto: fixedMask, through: t, outside: 0)
    var both = 0, a = 0, b = 0
    for k in 0..<fixedMask.pixels.count {
        let f = fixedMask.pixels[k] > 0.5, m = warped.pixels[k] >= 0.5
        if f { a += 1 }
        if m { b += 1 }
        if f && m { both += 1 }
    }
    return a + b == 0 ? 1 : 2 * Double(both) / Double(a + b)
}
