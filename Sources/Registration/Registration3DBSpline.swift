import Foundation
import VolumeIO

/// The 3D B-spline stage: x ↦ A(x + u(x)) with the affine A held, u's control grid over the
/// fixed mask's box (+ margin), coarse grid on a coarse in-plane pyramid level first; cost =
/// intensity metric + maskWeight · mask overlap + bendingWeight · bending energy, by L-BFGS.
extension Registration3D {
    struct DeformableLevel {
        var fixed: Volume, moving: Volume
        var fixedMask: Volume?, movingMask: Volume?
    }

    func registerBSpline(_ affine: AffineTransform3D, fixed: Volume, fixedMask: Volume, moving: Volume, movingMask: Volume,
                         box: (SIMD3<Double>, SIMD3<Double>)) -> (AffineBSplineTransform3D, Int, Bool) {
        let minZ = settings.minSlicesPerNode * fixed.spacing.z
        let s = settings.gridSpacing
        var t = AffineBSplineTransform3D(affine: affine, bspline: BSplineTransform3D(lower: box.0, upper: box.1, spacing: SIMD3(s, s, max(s, minZ))))
        let smoothF = settings.maskWeight > 0 ? Self.smoothed(fixedMask, sigma: settings.maskSmoothing) : nil
        let smoothM = settings.maskWeight > 0 ? Self.smoothed(movingMask, sigma: settings.maskSmoothing) : nil
        var total = 0
        for (n, f) in settings.deformableLevels.enumerated() {
            if n > 0 { t.bspline = t.bspline.refined(along: [true, true, t.bspline.gridSpacing.z / 2 >= minZ - 1e-9]) }
            let level = DeformableLevel(fixed: Self.downsampled(fixed, f), moving: Self.downsampled(moving, f),
                                        fixedMask: smoothF.map { Self.downsampled($0, f) }, movingMask: smoothM.map { Self.downsampled($0, f) })
            var opt = LBFGS()
            opt.maxIterations = settings.iterations
            opt.maxStep = Double(f) * fixed.spacing.x
            var work = t
            let r = opt.minimise(t.bspline.parameters, scales: [Double](repeating: 1, count: t.bspline.parameters.count)) { p in
                work.bspline.parameters = p
                return deformableCost(work, level, box)
            }
            t.bspline.parameters = r.parameters
            total += r.iterations
        }
        // The coarse levels' optimum must also lower the full-resolution cost (metric + mask
        // term); otherwise the deformation fitted pyramid artefacts and is dropped.
        let full = DeformableLevel(fixed: fixed, moving: moving, fixedMask: smoothF, movingMask: smoothM)
        var zero = t
        zero.bspline.parameters = [Double](repeating: 0, count: t.bspline.parameters.count)
        var plain = self
        plain.settings.bendingWeight = 0
        let before = plain.deformableCost(zero, full, box).0, after = plain.deformableCost(t, full, box).0
        return (after < before ? t : zero, total, after < before)
    }

    /// Cost and gradient with respect to the B-spline coefficients.
    func deformableCost(_ t: AffineBSplineTransform3D, _ l: DeformableLevel, _ box: (SIMD3<Double>, SIMD3<Double>)) -> (Double, [Double]) {
        let np = t.bspline.parameters.count
        let samples = Self.samples(t.map, l.fixed, l.moving, box)
        guard let (c, dm) = Self.metricTerms(settings.metric, samples, l.moving) else { return (.infinity, [Double](repeating: 0, count: np)) }
        var cost = c
        var grad = Self.chain(t, samples, dm, weight: 1)
        if settings.maskWeight > 0, let fm = l.fixedMask, let mm = l.movingMask {
            let ms = Self.samples(t.map, fm, mm, box)
            if let (mc, mdm) = Self.maskTerms(ms) {
                cost += settings.maskWeight * mc
                let g = Self.chain(t, ms, mdm, weight: settings.maskWeight)
                for k in 0..<np { grad[k] += g[k] }
            }
        }
        if settings.bendingWeight > 0 {
            cost += settings.bendingWeight * grad.withUnsafeMutableBufferPointer {
                t.bspline.bendingEnergy(weight: settings.bendingWeight, gradient: $0.baseAddress!)
            }
        }
        return (cost, grad)
    }

    /// Σ weight · dC/dm · (Aᵀ ∇m) · ∂u(x)/∂c over the samples (y = A(x + u(x)), A linear part M).
    static func chain(_ t: AffineBSplineTransform3D, _ samples: [Sample3D], _ dm: [Double], weight: Double) -> [Double] {
        let m = t.affine.parameters
        return samples.withUnsafeBufferPointer { sb in
            dm.withUnsafeBufferPointer { db in
                bandedSum(count: samples.count, parameters: t.bspline.parameters.count) { r, grad in
                    for i in r {
                        let g = sb[i].g * (db[i] * weight)
                        let v = SIMD3(m[0] * g.x + m[3] * g.y + m[6] * g.z, m[1] * g.x + m[4] * g.y + m[7] * g.z, m[2] * g.x + m[5] * g.y + m[8] * g.z)
                        t.bspline.accumulate(sb[i].x, v, into: grad)
                    }
                    return 0
                }.1
            }
        }
    }
}
