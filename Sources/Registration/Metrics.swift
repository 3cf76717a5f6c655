import SeededRandom
import Foundation

/// Image similarity for registration; each is turned into a cost to minimise.
public enum Metric: Sendable, Equatable {
    /// Mean of (moving − fixed)²; cost = MSD.
    case meanSquares
    /// Normalised cross-correlation; cost = −NCC.
    case normalizedCorrelation
    /// Mattes mutual information with cubic B-spline Parzen windows on the moving side and
    /// box windows on the fixed side (two bins of padding each end, as in ITK); cost = −MI.
    case mattesMutualInformation(bins: Int)
}

/// Fixed-space sample points (mm) with the fixed image's values there.
public struct SampleSet: Sendable {
    public var points: [SIMD2<Double>]
    public var values: [Float]

    /// Pixel centres of `image` where `region` (same grid, optional) is > 0.5; all of them when
    /// `fraction` ≥ 1, else a seeded random subset of that fraction.
    public init(image: Image2D, region: Image2D? = nil, fraction: Double = 1, seed: UInt64 = 0) {
        var rng = SplitMix64(seed: seed)
        points = []
        values = []
        for j in 0..<image.height {
            for i in 0..<image.width {
                if let region, region[i, j] <= 0.5 { continue }
                if fraction < 1, rng.unit() >= fraction { continue }
                points.append(image.point(ofIndex: SIMD2(Double(i), Double(j))))
                values.append(image[i, j])
            }
        }
    }

    public var count: Int { points.count }
}

/// Runs body over a fixed number of contiguous bands in parallel, each with its own gradient
/// accumulator, then sums bands in order: the result does not depend on the core count.
func bandedSum(count: Int, parameters: Int, _ body: (Range<Int>, UnsafeMutablePointer<Double>) -> Double) -> (Double, [Double]) {
    let bands = count < 4096 ? 1 : 8
    var grads = [Double](repeating: 0, count: bands * max(parameters, 1))
    var sums = [Double](repeating: 0, count: bands)
    grads.withUnsafeMutableBufferPointer { g in
        sums.withUnsafeMutableBufferPointer { s in
            let gp = g.baseAddress!, sp = s.baseAddress!
            DispatchQueue.concurrentPerform(iterations: bands) { b in
                sp[b] = body((count * b / bands)..<(count * (b + 1) / bands), gp + b * max(parameters, 1))
            }
        }
    }
    var total = [Double](repeating: 0, count: parameters)
    for b in 0..<bands {
        for k in 0..<parameters { total[k] += grads[b * parameters + k] }
    }
    return (sums.reduce(0, +), total)
}

/// Moving values and gradients at the mapped samples; `outside` nil skips samples mapped off
/// the image, otherwise the image is extended with that value. Owns raw buffers so the metric
/// loops index without bounds checks.
final class MovingSamples {
    let values: UnsafeMutablePointer<Float>
    let gradients: UnsafeMutablePointer<SIMD2<Double>>
    let valid: UnsafeMutablePointer<Bool>
    let validCount: Int

    init<T: Transform2D>(_ samples: SampleSet, _ moving: Image2D, _ t: T, outside: Float?) {
        let n = samples.count
        values = .allocate(capacity: max(n, 1))
        gradients = .allocate(capacity: max(n, 1))
        valid = .allocate(capacity: max(n, 1))
        var counts = [Int](repeating: 0, count: 8)
        let (v, g, ok) = (values, gradients, valid)
        moving.pixels.withUnsafeBufferPointer { mp in
            let s = Sampler(mp.baseAddress!, moving)
            samples.points.withUnsafeBufferPointer { pts in
                counts.withUnsafeMutableBufferPointer { cb in
                    DispatchQueue.concurrentPerform(iterations: 8) { b in
                        var c = 0
                        var value: Float = 0, grad = SIMD2<Double>.zero
                        for i in (n * b / 8)..<(n * (b + 1) / 8) {
                            let y = t.map(pts[i])
                            var inside = true
                            if let outside { s.padded(y, outside, &value, &grad) } else { inside = s.inside(y, &value, &grad) }
                            v[i] = inside ? value : 0
                            g[i] = inside ? grad : .zero
                            ok[i] = inside
                            if inside { c += 1 }
                        }
                        cb[b] = c
                    }
                }
            }
        }
        validCount = counts.reduce(0, +)
    }

    deinit {
        values.deallocate()
        gradients.deallocate()
        valid.deallocate()
    }
}

/// One similarity cost and its gradient for transform `t`.
func similarity<T: Transform2D>(_ metric: Metric, _ samples: SampleSet, _ moving: Image2D, movingRange: (Float, Float),
                                _ t: T) -> (cost: Double, gradient: [Double], valid: Int) {
    let m = MovingSamples(samples, moving, t, outside: nil)
    return samples.points.withUnsafeBufferPointer { pb in
        samples.values.withUnsafeBufferPointer { fb in
            similarity(metric, pb.baseAddress!, fb.baseAddress!, samples.count, m, movingRange, t)
        }
    }
}

private func similarity<T: Transform2D>(_ metric: Metric, _ P: UnsafePointer<SIMD2<Double>>, _ F: UnsafePointer<Float>, _ count: Int,
                                        _ m: MovingSamples, _ movingRange: (Float, Float), _ t: T) -> (cost: Double, gradient: [Double], valid: Int) {
    let np = t.parameters.count
    let n = Double(max(m.validCount, 1))
    guard m.validCount > 0 else { return (.infinity, [Double](repeating: 0, count: np), 0) }
    switch metric {
    case .meanSquares:
        let (sum, g) = bandedSum(count: count, parameters: np) { r, grad in
            var s = 0.0
            for i in r where m.valid[i] {
                let d = Double(m.values[i] - F[i])
                s += d * d
                t.accumulate(P[i], m.gradients[i] * (2 * d / n), into: grad)
            }
            return s
        }
        return (sum / n, g, m.validCount)

    case .normalizedCorrelation:
        var sf = 0.0, sm = 0.0, sff = 0.0, smm = 0.0, sfm = 0.0
        for i in 0..<count where m.valid[i] {
            let f = Double(F[i]), v = Double(m.values[i])
            sf += f; sm += v; sff += f * f; smm += v * v; sfm += f * v
        }
        let fbar = sf / n, mbar = sm / n
        let vf = sff - n * fbar * fbar, vm = smm - n * mbar * mbar, cfm = sfm - n * fbar * mbar
        guard vf > 0, vm > 0 else { return (0, [Double](repeating: 0, count: np), m.validCount) }
        let root = (vf * vm).squareRoot(), ncc = cfm / root
        let (_, g) = bandedSum(count: count, parameters: np) { r, grad in
            for i in r where m.valid[i] {
                let d = (Double(F[i]) - fbar) / root - ncc * (Double(m.values[i]) - mbar) / vm
                t.accumulate(P[i], m.gradients[i] * -d, into: grad)
            }
            return 0
        }
        return (-ncc, g, m.validCount)

    case .mattesMutualInformation(let bins):
        return mattes(bins, P, F, count, m, movingRange, t)
    }
}

private func mattes<T: Transform2D>(_ bins: Int, _ P: UnsafePointer<SIMD2<Double>>, _ F: UnsafePointer<Float>, _ count: Int,
                                    _ m: MovingSamples, _ movingRange: (Float, Float), _ t: T) -> (cost: Double, gradient: [Double], valid: Int) {
    let np = t.parameters.count
    let pad = 2
    var fmin = Float.infinity, fmax = -Float.infinity
    for i in 0..<count { fmin = min(fmin, F[i]); fmax = max(fmax, F[i]) }
    let df = max(Double(fmax - fmin), 1e-12) / Double(bins - 2 * pad)
    let dm = max(Double(movingRange.1 - movingRange.0), 1e-12) / Double(bins - 2 * pad)
    let fbin: (Float) -> Int = { min(max(Int(Double($0 - fmin) / df) + pad, pad), bins - pad - 1) }
    // Continuous moving bin position, kept where the four Parzen nodes stay inside the table.
    let mpos: (Float) -> Double = { min(max(Double($0 - movingRange.0) / dm + Double(pad), Double(pad)), Double(bins - pad) - 1e-9) }

    var joint = [Double](repeating: 0, count: bins * bins)
    for i in 0..<count where m.valid[i] {
        let r = fbin(F[i]) * bins
        let x = mpos(m.values[i])
        let c = Int(x)
        for k in (c - 1)...(c + 2) { joint[r + k] += CubicBSpline.kernel(Double(k) - x) }
    }
    let norm = 1 / Double(m.validCount)
    var pf = [Double](repeating: 0, count: bins), pm = [Double](repeating: 0, count: bins)
    for a in 0..<bins {
        for b in 0..<bins {
            joint[a * bins + b] *= norm
            pf[a] += joint[a * bins + b]
            pm[b] += joint[a * bins + b]
        }
    }
    var mi = 0.0
    // log(p(ι,κ)/p_m(κ)): the factor the gradient of each joint entry is weighted by.
    var logRatio = [Double](repeating: 0, count: bins * bins)
    for a in 0..<bins {
        for b in 0..<bins {
            let p = joint[a * bins + b]
            guard p > 1e-16 else { continue }
            mi += p * log(p / (pf[a] * pm[b]))
            logRatio[a * bins + b] = log(p / pm[b])
        }
    }
    let (_, g) = logRatio.withUnsafeBufferPointer { lb in bandedSum(count: count, parameters: np) { r, grad in
        let logRatio = lb.baseAddress!
        for i in r where m.valid[i] {
            let row = fbin(F[i]) * bins
            let x = mpos(m.values[i])
            let c = Int(x)
            var w = 0.0
            // d/dx β³(k − x) = −β³′(k − x).
            for k in (c - 1)...(c + 2) { w -= CubicBSpline.kernelDerivative(Double(k) - x) * logRatio[row + k] }
            // cost = −MI.
            t.accumulate(P[i], m.gradients[i] * (-w * norm / dm), into: grad)
        }
        return 0
    } }
    return (-mi, g, m.validCount)
}

/// Mask overlap: Σ(fixed mask − warped moving mask)² / Σ fixed mask over the samples (moving
/// mask 0 beyond its image). 0 for perfect overlap; ≈ 2(1 − Dice) for hard masks.
func maskOverlap<T: Transform2D>(_ samples: SampleSet, _ movingMask: Image2D, _ t: T) -> (cost: Double, gradient: [Double]) {
    let m = MovingSamples(samples, movingMask, t, outside: 0)
    let area = max(samples.values.reduce(0) { $0 + Double($1) }, 1e-9)
    let (sum, g) = samples.points.withUnsafeBufferPointer { pb in samples.values.withUnsafeBufferPointer { fb in
        bandedSum(count: samples.count, parameters: t.parameters.count) { r, grad in
            let P = pb.baseAddress!, F = fb.baseAddress!
            var s = 0.0
            for i in r {
                let d = Double(m.values[i] - F[i])
                s += d * d
                if d != 0 { t.accumulate(P[i], m.gradients[i] * (2 * d / area), into: grad) }
            }
            return s
        }
    } }
    return (sum / area, g)
}
