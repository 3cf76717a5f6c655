import Foundation
import VolumeIO

/// IBSI 2 Gabor filter: g(k) = exp(−(k̃₁² + γ²k̃₂²)/2σ²) · exp(i2πk̃₁/λ) with
/// k̃₁ = k₁cosθ + k₂sinθ, k̃₂ = −k₁sinθ + k₂cosθ (k in mm, no normalisation), applied per
/// plane; the response is the modulus. Convolution by FFT of each padded slice, on the
/// mixed-radix grid (256 + 2·12 pads to 288, where radix 2 needed 512).
enum GaborFilter {
    static func apply(_ volume: Volume, _ p: GaborParameters) -> [Float] {
        var thetas = [p.theta]
        if let step = p.thetaStep {
            let n = Int((360 / step - 1e-9).rounded(.up))
            thetas = (0..<n).map { Double($0) * step }
        }
        // (plane axis 1, plane axis 2, stacking axis): axial i–j first.
        let planes = p.orthogonalPlanes ? [(0, 1, 2), (0, 2, 1), (1, 2, 0)] : [(0, 1, 2)]
        var sum = [Float](repeating: 0, count: volume.count)
        for (a1, a2, a3) in planes {
            let r = plane(volume, axes: (a1, a2, a3), thetas: thetas, p)
            for i in sum.indices { sum[i] += r[i] }
        }
        if planes.count > 1 { let s = 1 / Float(planes.count); for i in sum.indices { sum[i] *= s } }
        return sum
    }

    /// θ-pooled modulus response of every slice along `axes.2`.
    private static func plane(_ volume: Volume, axes: (Int, Int, Int), thetas: [Double], _ p: GaborParameters) -> [Float] {
        let size = volume.size, sp = volume.spacing
        let (a1, a2, a3) = axes
        let n1 = size[a1], n2 = size[a2], n3 = size[a3]
        let h1 = sp[a1], h2 = sp[a2]
        let reach = p.truncate * p.sigma * max(1, 1 / p.gamma)
        let r1 = Int((reach / h1 + 0.5).rounded(.down)), r2 = Int((reach / h2 + 0.5).rounded(.down))
        let m1 = n1 + 2 * r1, m2 = n2 + 2 * r2   // the padded slice
        let grid = MixedRadixFFT.Grid2D(MixedRadixFFT.paddedLength(m1), MixedRadixFFT.paddedLength(m2))
        let f1 = grid.n1, f2 = grid.n2
        let spectra = thetas.map { kernelSpectrum(p, theta: $0, r1: r1, r2: r2, h1: h1, h2: h2, grid: grid) }
        let stride = [1, size.x, size.x * size.y]
        let s1 = stride[a1], s2 = stride[a2], s3 = stride[a3]
        var out = [Float](repeating: 0, count: volume.count)
        let scale = 1 / Double(f1 * f2)
        volume.voxels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                let src = src.baseAddress!, dst = dst.baseAddress!
                DispatchQueue.concurrentPerform(iterations: n3) { slice in
                    let scratch = MixedRadixFFT.Scratch(max(f1, f2))
                    let count = f1 * f2
                    let xr = UnsafeMutablePointer<Double>.allocate(capacity: count), xi = UnsafeMutablePointer<Double>.allocate(capacity: count)
                    let yr = UnsafeMutablePointer<Double>.allocate(capacity: count), yi = UnsafeMutablePointer<Double>.allocate(capacity: count)
                    let pooled = UnsafeMutablePointer<Double>.allocate(capacity: n1 * n2)
                    defer { [xr, xi, yr, yi, pooled].forEach { $0.deallocate() } }
                    xr.update(repeating: 0, count: count)
                    xi.update(repeating: 0, count: count)
                    let base = slice * s3
                    for q2 in 0..<m2 {
                        guard let t2 = p.padding.source(q2 - r2, n2) else { continue }
                        for q1 in 0..<m1 {
                            if let t1 = p.padding.source(q1 - r1, n1) { xr[q1 + f1 * q2] = Double(src[base + t1 * s1 + t2 * s2]) }
                        }
                    }
                    grid.transform(xr, xi, scratch: scratch, inverse: false, extentIn: (m1, m2), extentOut: (f1, f2))
                    for (t, spectrum) in spectra.enumerated() {
                        spectrum.re.withUnsafeBufferPointer { sr in
                            spectrum.im.withUnsafeBufferPointer { si in
                                for i in 0..<count {
                                    let kr = sr[i], ki = si[i]
                                    yr[i] = xr[i] * kr - xi[i] * ki
                                    yi[i] = xr[i] * ki + xi[i] * kr
                                }
                            }
                        }
                        // The kernel is stored shifted by (−r1, −r2), so the wanted window starts at 0.
                        grid.transform(yr, yi, scratch: scratch, inverse: true, extentIn: (f1, f2), extentOut: (n1, n2))
                        for q2 in 0..<n2 {
                            for q1 in 0..<n1 {
                                let k = q1 + f1 * q2
                                let m = (yr[k] * yr[k] + yi[k] * yi[k]).squareRoot() * scale
                                let o = q1 + n1 * q2
                                if t == 0 { pooled[o] = m } else {
                                    switch p.pooling {
                                    case .max: pooled[o] = Swift.max(pooled[o], m)
                                    case .min: pooled[o] = Swift.min(pooled[o], m)
                                    case .average: pooled[o] += m
                                    }
                                }
                            }
                        }
                    }
                    let norm = p.pooling == .average ? 1 / Double(spectra.count) : 1
                    for q2 in 0..<n2 {
                        for q1 in 0..<n1 { dst[base + q1 * s1 + q2 * s2] = Float(pooled[q1 + n1 * q2] * norm) }
                    }
                }
            }
        }
        return out
    }

    /// The kernel at offsets (u, v) ∈ [−r1, r1] × [−r2, r2] voxels, stored at (u − r1, v − r2)
    /// wrapped onto the FFT grid: the convolution then lands shifted so the output window of
    /// the padded slice starts at (0, 0), and the inverse transform can skip the rest.
    private static func kernelSpectrum(_ p: GaborParameters, theta: Double, r1: Int, r2: Int, h1: Double, h2: Double,
                                       grid: MixedRadixFFT.Grid2D) -> (re: [Double], im: [Double]) {
        let f1 = grid.n1, f2 = grid.n2
        var re = [Double](repeating: 0, count: f1 * f2), im = re
        let c = cos(theta * .pi / 180), s = sin(theta * .pi / 180)
        for v in -r2...r2 {
            for u in -r1...r1 {
                let x = Double(u) * h1, y = Double(v) * h2
                let t1 = x * c + y * s, t2 = -x * s + y * c
                let envelope = exp(-(t1 * t1 + p.gamma * p.gamma * t2 * t2) / (2 * p.sigma * p.sigma))
                let phase = 2 * Double.pi * t1 / p.lambda
                let k = ((u - r1 + f1) % f1) + f1 * ((v - r2 + f2) % f2)
                re[k] = envelope * cos(phase)
                im[k] = envelope * sin(phase)
            }
        }
        re.withUnsafeMutableBufferPointer { r in
            im.withUnsafeMutableBufferPointer { i in
                grid.transform(r.baseAddress!, i.baseAddress!, scratch: MixedRadixFFT.Scratch(max(f1, f2)), inverse: false,
                               extentIn: (f1, f2), extentOut: (f1, f2))
            }
        }
        return (re, im)
    }
}
