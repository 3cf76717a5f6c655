import Foundation
@testable import Registration
import SeededRandom
import TestSupport
import VolumeIO
import XCTest

/// Issue 8, items 1 and 4 (3D deformable): the prostate T2 (cropped around the gland) warped by
/// a known affine after smooth in-plane Gaussian bumps, registered back with the B-spline
/// stage; the displacement field + .tfm checked against SimpleITK's composite transform.
final class BSpline3DTests: XCTestCase {
    struct Case {
        var fixed: Volume, fixedMask: Volume, moving: Volume, movingMask: Volume
        /// The true fixed → moving map x ↦ T(x + d(x)).
        var truth: (SIMD3<Double>) -> SIMD3<Double>
    }

    /// The gland's box + 15 mm, cropped (keeps debug runs short).
    static func crop(_ v: Volume, _ lo: SIMD3<Int>, _ hi: SIMD3<Int>) -> Volume {
        let n = hi &- lo &+ 1
        var out = Volume(size: n, spacing: v.spacing, origin: v.point(ofIndex: SIMD3(Double(lo.x), Double(lo.y), Double(lo.z))),
                         direction: v.direction, voxels: [Float](repeating: 0, count: n.x * n.y * n.z))
        for k in 0..<n.z { for j in 0..<n.y { for i in 0..<n.x { out[i, j, k] = v[lo.x + i, lo.y + j, lo.z + k] } } }
        return out
    }

    static func makeCase() throws -> Case {
        let mri = try NIfTI.read(try TestEnv.testdata("radiology/prostate/aaa0060_T2_axial.nii.gz"))
        var label = try NIfTI.read(try TestEnv.testdata("radiology/prostate/aaa0060_T2_axial_prostate_label.nii.gz"))
        for k in 0..<label.voxels.count { label.voxels[k] = label.voxels[k] > 0.5 ? 1 : 0 }
        var lo = label.size, hi = SIMD3<Int>(-1, -1, -1)
        for k in 0..<label.size.z { for j in 0..<label.size.y { for i in 0..<label.size.x where label[i, j, k] > 0.5 {
            lo = pointwiseMin(lo, SIMD3(i, j, k)); hi = pointwiseMax(hi, SIMD3(i, j, k))
        } } }
        let m = SIMD3(Int(15 / mri.spacing.x), Int(15 / mri.spacing.y), 2)
        lo = pointwiseMax(lo &- m, .zero); hi = pointwiseMin(hi &+ m, label.size &- 1)
        let fixed = crop(mri, lo, hi), fixedMask = crop(label, lo, hi)
        let c = try XCTUnwrap(Registration3D.moments(fixedMask)).centroid
        // Affine part: 4° about z, 1 % smaller in-plane, shifted (1.5, −1) mm and one slice (4 mm)
        // along z. A sub-slice z shift would make the moving slices blends of two fixed ones,
        // which trilinear sampling cannot tell from a smaller shift (docs/registration.md).
        let a = 4 * Double.pi / 180
        let affine = AffineTransform3D(center: c, parameters: [0.99 * cos(a), -0.99 * sin(a), 0, 0.99 * sin(a), 0.99 * cos(a), 0, 0, 0, 1, 1.5, -1, mri.spacing.z])
        let inverse = affine.inverted
        // Non-rigid part: in-plane Gaussian bumps (σ 9 mm, 2–3 mm) about the gland.
        let bumps: [(SIMD3<Double>, SIMD3<Double>)] = [(c + SIMD3(-9, -6, 0), SIMD3(2.5, 1, 0)), (c + SIMD3(8, 5, 4), SIMD3(-1.5, 2.5, 0)),
                                                       (c + SIMD3(2, -10, -6), SIMD3(-2, -2, 0))]
        func e(_ z: SIMD3<Double>) -> SIMD3<Double> {
            var d = SIMD3<Double>.zero
            for (p, v) in bumps { let r = z - p; d += v * exp(-(r * r).sum() / (2 * 81)) }
            return d
        }
        // moving(y) = fixed(G(y)), G(y) = z + e(z), z = T⁻¹(y); so truth(x) = T(z) with z + e(z) = x.
        let g: (SIMD3<Double>) -> SIMD3<Double> = { y in let z = inverse.map(y); return z + e(z) }
        let moving = Registration3D.resampled(fixed, onto: fixed, g)
        var movingMask = Registration3D.resampled(fixedMask, onto: fixedMask, g)
        for k in 0..<movingMask.voxels.count { movingMask.voxels[k] = movingMask.voxels[k] >= 0.5 ? 1 : 0 }
        let truth: (SIMD3<Double>) -> SIMD3<Double> = { x in
            var z = x
            for _ in 0..<60 { z = x - e(z) }
            return affine.map(z)
        }
        return Case(fixed: fixed, fixedMask: fixedMask, moving: moving, movingMask: movingMask, truth: truth)
    }

    /// 100 random gland voxel centres (seeded).
    static func points(_ mask: Volume) -> [SIMD3<Double>] {
        var inside: [SIMD3<Double>] = []
        for k in 0..<mask.size.z { for j in 0..<mask.size.y { for i in 0..<mask.size.x where mask[i, j, k] > 0.5 {
            inside.append(mask.point(ofIndex: SIMD3(Double(i), Double(j), Double(k))))
        } } }
        var rng = SplitMix64(seed: 8)
        return (0..<100).map { _ in inside[Int(rng.unit() * Double(inside.count)) % inside.count] }
    }

    func testBSplineRecoversAKnownDeformationAndSimpleITKComposesTheSame() throws {
        let c = try Self.makeCase()
        var st = Registration3DSettings()
        st.deformable = true
        let r = try Registration3D(settings: st).register(fixed: c.fixed, fixedMask: c.fixedMask, moving: c.moving, movingMask: c.movingMask)
        for s in r.stages { print(String(format: "3D %@: Dice %.4f, HD95 %.2f mm, cost %.4f, %d it, %.2f s", s.stage, s.dice, s.hausdorff95 ?? -1, s.metric, s.iterations, s.seconds)) }
        XCTAssertEqual(r.stages.map(\.stage), ["initial", "translation", "rigid", "affine", "bspline"])
        let affineDice = r.stages[3].dice, bsplineDice = r.stages[4].dice
        XCTAssertGreaterThanOrEqual(bsplineDice, affineDice)
        XCTAssertGreaterThanOrEqual(bsplineDice, 0.95)
        let deformable = try XCTUnwrap(r.deformable)
        let pts = Self.points(c.fixedMask)
        func meanError(_ map: (SIMD3<Double>) -> SIMD3<Double>) -> Double {
            pts.reduce(0.0) { s, x in let d = map(x) - c.truth(x); return s + (d * d).sum().squareRoot() } / Double(pts.count)
        }
        let eAffine = meanError(r.affine.map), eBSpline = meanError(deformable.map)
        let comp = pts.reduce(SIMD3<Double>.zero) { s, x in let d = deformable.map(x) - c.truth(x); return s + SIMD3(abs(d.x), abs(d.y), abs(d.z)) } / Double(pts.count)
        print("B-spline mean |error| per axis (mm): \(comp)")
        print(String(format: "3D mean error on %d gland points: affine %.3f mm, B-spline %.3f mm", pts.count, eAffine, eBSpline))
        XCTAssertLessThanOrEqual(eBSpline, 1.0)
        XCTAssertLessThan(eBSpline, eAffine)
        if let h = r.stages[4].hausdorff95, let ha = r.stages[3].hausdorff95 { XCTAssertLessThanOrEqual(h, ha + 0.5) } else { XCTFail("no HD95") }

        // The field (B-spline part on the fixed grid) + .tfm through SimpleITK.
        let field = DisplacementField3D(sampling: deformable.bspline.map, on: c.fixed)
        var worst = 0.0
        for k in stride(from: 0, to: c.fixed.size.z, by: 3) { for j in stride(from: 0, to: c.fixed.size.y, by: 7) { for i in stride(from: 0, to: c.fixed.size.x, by: 7) {
            let x = c.fixed.point(ofIndex: SIMD3(Double(i), Double(j), Double(k)))
            let d = field.map(x) - deformable.bspline.map(x)
            worst = max(worst, (d * d).sum().squareRoot())
        } } }
        XCTAssertLessThanOrEqual(worst, 1e-4, "field at voxel centres vs the B-spline")
        let dir = try TestEnv.scratch(self, "bspline3d")
        try ITKTransformFile.write(deformable.affine, to: dir + "/affine.tfm")
        try field.writeNIfTI(to: dir + "/field.nii.gz")
        var rng = SplitMix64(seed: 3)
        let lo = c.fixed.point(ofIndex: SIMD3(2, 2, 1)), hi = c.fixed.point(ofIndex: SIMD3(Double(c.fixed.size.x - 3), Double(c.fixed.size.y - 3), Double(c.fixed.size.z - 2)))
        let probe = (0..<200).map { _ in SIMD3(rng.unit(), rng.unit(), rng.unit()) * (hi - lo) + lo }
        let json = try JSONSerialization.data(withJSONObject: probe.map { [$0.x, $0.y, $0.z] })
        try json.write(to: URL(fileURLWithPath: dir + "/points.json"))
        let script = """
        import sys, json, SimpleITK as sitk
        d = sys.argv[1]
        a = sitk.ReadTransform(d + "/affine.tfm")
        f = sitk.DisplacementFieldTransform(sitk.Cast(sitk.ReadImage(d + "/field.nii.gz"), sitk.sitkVectorFloat64))
        t = sitk.CompositeTransform([a, f])
        pts = json.load(open(d + "/points.json"))
        print(json.dumps([list(t.TransformPoint(p)) for p in pts]))
        """
        guard let data = try? TestEnv.runPython(script, [dir]) else { throw XCTSkip("SKIPPED: SimpleITK not available for the composite check") }
        let theirs = try XCTUnwrap(try TestEnv.json(data) as? [[Double]])
        XCTAssertEqual(theirs.count, probe.count)
        var maxDiff = 0.0, moved = 0.0
        for (p, q) in zip(probe, theirs) {
            let ours = deformable.affine.map(field.map(p))
            maxDiff = max(maxDiff, ((ours - SIMD3(q[0], q[1], q[2])) * (ours - SIMD3(q[0], q[1], q[2]))).sum().squareRoot())
            let u = field.map(p) - p
            moved = max(moved, (u * u).sum().squareRoot())
        }
        print(String(format: "SimpleITK composite vs ours on %d points: max %.2g mm (largest displacement %.2f mm)", probe.count, maxDiff, moved))
        XCTAssertGreaterThan(moved, 0.5, "the field should carry a real deformation")
        XCTAssertLessThanOrEqual(maxDiff, 1e-4)
    }

    /// Analytic gradient of the B-spline objective (NCC + mask term + bending energy) and of
    /// the bending energy alone against central differences.
    func testBSplineObjectiveGradient() throws {
        let c = try Self.makeCase()
        let box = Registration3D.box(c.fixedMask, margin: 10)
        var st = Registration3DSettings()
        st.bendingWeight = 5
        st.maskWeight = 0.5
        let e = Registration3D(settings: st)
        let center = try XCTUnwrap(Registration3D.moments(c.fixedMask)).centroid
        let affine = AffineTransform3D(center: center, parameters: [0.99, -0.06, 0, 0.06, 0.99, 0.01, 0, 0, 0.99, 1.4, -0.8, 0.9])
        var t = AffineBSplineTransform3D(affine: affine, bspline: BSplineTransform3D(lower: box.0, upper: box.1, spacing: SIMD3(15, 15, 15)))
        var rng = SplitMix64(seed: 5)
        t.bspline.parameters = t.bspline.parameters.map { _ in (rng.unit() - 0.5) * 2 }
        let level = Registration3D.DeformableLevel(fixed: Registration3D.downsampled(c.fixed, 2), moving: Registration3D.downsampled(c.moving, 2),
                                    fixedMask: Registration3D.downsampled(Registration3D.smoothed(c.fixedMask, sigma: 1), 2),
                                    movingMask: Registration3D.downsampled(Registration3D.smoothed(c.movingMask, sigma: 1), 2))
        for metric: Registration3DSettings.Metric in [.normalizedCorrelation, .meanSquares, .mattesMutualInformation(bins: 32)] {
            var e = e
            e.settings.metric = metric
            let (_, g) = e.deformableCost(t, level, box)
            let order = g.indices.sorted { abs(g[$0]) > abs(g[$1]) }
            for k in order.prefix(4) + [order[order.count / 3]] {
                let h = 1e-3
                var p = t, q = t
                p.bspline.parameters[k] += h; q.bspline.parameters[k] -= h
                let fd = (e.deformableCost(p, level, box).0 - e.deformableCost(q, level, box).0) / (2 * h)
                print("B-spline 3D \(metric) ∂/∂c\(k): analytic \(g[k]), central difference \(fd)")
                XCTAssertEqual(g[k], fd, accuracy: 0.03 * max(abs(fd), 1e-6), "\(metric) coefficient \(k)")
            }
        }
        // Bending energy alone (a quadratic: central differences are exact up to rounding).
        var bg = [Double](repeating: 0, count: t.bspline.parameters.count)
        _ = bg.withUnsafeMutableBufferPointer { t.bspline.bendingEnergy(gradient: $0.baseAddress!) }
        for k in [0, 7, bg.count / 2, bg.count - 5] + [bg.indices.max { abs(bg[$0]) < abs(bg[$1]) }!] {
            var p = t.bspline, q = t.bspline
            p.parameters[k] += 1e-3; q.parameters[k] -= 1e-3
            let fd = (p.bendingEnergy(gradient: nil) - q.bendingEnergy(gradient: nil)) / 2e-3
            XCTAssertEqual(bg[k], fd, accuracy: 0.03 * max(abs(fd), 1e-9), "bending coefficient \(k)")
        }
        // Refinement keeps the deformation.
        let fine = t.bspline.refined(along: [true, true, false])
        for x in Self.points(c.fixedMask).prefix(20) {
            let d = fine.displacement(x) - t.bspline.displacement(x)
            XCTAssertLessThanOrEqual((d * d).sum().squareRoot(), 1e-9)
        }
    }
}
