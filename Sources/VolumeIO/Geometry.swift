import Foundation

/// Small vector helpers shared by the readers.
@inline(__always) func dot(_ a: SIMD3<Double>, _ b: SIMD3<Double>) -> Double { (a * b).sum() }
@inline(__always) func cross(_ a: SIMD3<Double>, _ b: SIMD3<Double>) -> SIMD3<Double> {
    SIMD3(a.y * b.z - a.z * b.y, a.z * b.x - a.x * b.z, a.x * b.y - a.y * b.x)
}
@inline(__always) func norm(_ a: SIMD3<Double>) -> Double { dot(a, a).squareRoot() }

/// Spacing and row-major unit direction from three axis vectors (the columns), refusing
/// zero-length or non-orthogonal axes: `Volume` maps points with the transpose as inverse.
func gridFromAxes(_ axes: [SIMD3<Double>], path: String, what: String) throws -> (SIMD3<Double>, [Double]) {
    var spacing = SIMD3<Double>(1, 1, 1)
    var units: [SIMD3<Double>] = []
    for (k, a) in axes.enumerated() {
        let n = norm(a)
        guard n > 0, n.isFinite else {
            throw VolumeError(path: path, reason: "\(what): axis \(k) has zero or undefined length (\(a))", hint: "the header is damaged")
        }
        spacing[k] = n
        units.append(a / n)
    }
    for i in 0..<3 {
        for j in (i + 1)..<3 where abs(dot(units[i], units[j])) > 1e-4 {
            let angle = acos(max(-1, min(1, dot(units[i], units[j])))) * 180 / .pi
            throw VolumeError(path: path, reason: "\(what): axes \(i) and \(j) are not orthogonal (\(String(format: "%.3f", angle))°)",
                              hint: "RadioPath needs an orthogonal grid; resample the volume onto one first (e.g. SimpleITK Resample)")
        }
    }
    return (spacing, [units[0].x, units[1].x, units[2].x, units[0].y, units[1].y, units[2].y, units[0].z, units[1].z, units[2].z])
}
