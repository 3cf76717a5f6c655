import Foundation
import VolumeIO

/// Finds the plane of an MRI volume that a histology section was cut along: slice position and
/// small out-of-plane tilts (issue 8, item 3). Each candidate plane is resampled from the volume
/// and its organ mask (trilinear) and scored by the engine's objective (intensity cost + mask
/// weight · mask mismatch), coarse to fine:
/// 1. every axial slice with organ: moments initialisation + linear stages (coarse pyramid);
/// 2. a grid over z (½ slice spacing) × tilts (−max, −max/2, 0, max/2, max about each axis);
/// 3. a compass search on (z, tilts) from each of the three best grid planes, steps halving
///    to 1/32 slice spacing and 0.15°; the lowest cost wins.
/// Every candidate's cost comes after its own affine refit at pyramid level 2 (≤ 30 iterations,
/// from the best transform so far): a transform held fixed favours the plane it was fitted on,
/// and a B-spline would absorb the tilt.
public enum SliceSearch {
    public struct Result: Codable, Sendable {
        public var plane: ObliquePlane
        /// Continuous slice index of the plane's centre.
        public var sliceIndex: Double
        public var zMm: Double
        public var angleXDegrees: Double, angleYDegrees: Double
        /// Objective at the chosen plane (intensity cost + mask weight · mismatch).
        public var cost: Double
        public var evaluations: Int
        public var seconds: Double
        /// The axial start (step 1): slice, Dice and score per slice.
        public var axial: [SectionRegistration.Candidate]
    }

    /// `range`: slice indices to consider (default: every slice with organ); `maxAngle`: tilt
    /// limit (degrees) about x and y.
    public static func search(mri: Volume, mask: Volume, moving: Image2D, movingMask: Image2D, settings: Registration2DSettings,
                              range: ClosedRange<Int>? = nil, maxAngle: Double = 5, progress: (String) -> Void = { _ in }) throws -> Result {
        let start = Date()
        _ = try Image2D(slice: 0, of: mri) // axial, identity in-plane: refuses oblique volumes with a hint
        guard mask.size == mri.size else {
            throw RegistrationError("the organ mask's grid \(mask.size) differs from the MRI's \(mri.size)", hint: "resample the mask onto the MRI grid")
        }
        let organ = organSlices(mask)
        guard let first = organ.first, let last = organ.last else {
            throw RegistrationError("the organ mask is empty", hint: "give a mask with the organ labelled (non-zero)")
        }
        let lo = max(range?.lowerBound ?? first, first), hi = min(range?.upperBound ?? last, last)
        guard lo <= hi else {
            throw RegistrationError("no slice in \(range.map { "\($0)" } ?? "the volume") holds organ (organ on slices \(first)…\(last))", hint: "widen the range")
        }
        let grid = cropGrid(mri, mask, margin: settings.margin + 10)
        let centroid = organCentroid(mask)
        let dz = mri.spacing.z
        func plane(_ z: Double, _ ax: Double, _ ay: Double) -> ObliquePlane {
            ObliquePlane(center: SIMD3(centroid.x, centroid.y, z), angleXDegrees: ax, angleYDegrees: ay)
        }
        func images(_ p: ObliquePlane) -> (Image2D, Image2D) {
            (p.resample(mri, onto: grid), p.resample(mask, onto: grid).mapped { $0 > 0 ? min($0, 1) : 0 })
        }
        var evaluations = 0
        func linear(_ p: ObliquePlane, coarse: Bool) throws -> Registration2DResult {
            var s = settings
            s.linearOnly = true
            if coarse { s.levels = [8, 4, 2]; s.iterations = min(s.iterations, 50) }
            let (f, fm) = images(p)
            return try Registration2D(settings: s).register(fixed: f, fixedMask: fm.mapped { $0 > 0.5 ? 1 : 0 }, moving: moving, movingMask: movingMask)
        }

        // 1. Axial slices.
        var axial: [SectionRegistration.Candidate] = []
        var best: (z: Double, t: MatrixTransform2D, score: Double)?
        for k in lo...hi {
            let t0 = Date()
            let z = mri.point(ofIndex: SIMD3(0, 0, Double(k))).z
            do {
                let r = try linear(plane(z, 0, 0), coarse: true)
                let a = r.stages.last!
                let score = a.metric + settings.maskWeight * 2 * (1 - a.dice)
                axial.append(.init(slice: k, zMm: z, dice: a.dice, metric: a.metric, score: score, seconds: Date().timeIntervalSince(t0)))
                progress(String(format: "slice %d (z %.1f mm): Dice %.4f, score %.4f", k, z, a.dice, score))
                if score < best?.score ?? .infinity { best = (z, r.affine, score) }
            } catch {
                axial.append(.init(slice: k, zMm: z, seconds: Date().timeIntervalSince(t0), note: "\(error)"))
                progress("slice \(k): \(error)")
            }
        }
        guard let axialBest = best else {
            throw RegistrationError("no slice in \(lo)…\(hi) could be registered (\(axial.compactMap(\.note).first ?? ""))", hint: "check the masks")
        }

        // 2–3. Every candidate plane gets its own in-plane affine refit (level 2, from the
        // current best transform): a transform held fixed would favour the plane it was fitted on.
        let zLo = mri.point(ofIndex: SIMD3(0, 0, Double(lo) - 0.5)).z, zHi = mri.point(ofIndex: SIMD3(0, 0, Double(hi) + 0.5)).z
        let zRange = min(zLo, zHi)...max(zLo, zHi)
        var refitSettings = settings
        refitSettings.iterations = min(settings.iterations, 30)
        let refitEngine = Registration2D(settings: refitSettings)
        let movingSide = refitEngine.movingLevel(2, moving, movingMask)
        let radius = ((try? MaskMoments(movingMask).area) ?? 100 / .pi).squareRoot() / Double.pi.squareRoot()
        func refit(_ p: ObliquePlane, _ t: MatrixTransform2D) -> (cost: Double, t: MatrixTransform2D) {
            evaluations += 1
            let (f, fm) = images(p)
            guard fm.pixels.contains(where: { $0 > 0.5 }) else { return (.infinity, t) }
            let r = refitEngine.minimise(t, scales: t.parameterScales(radius: radius), refitEngine.makeLevel(2, f, fm, movingSide))
            return (r.2, r.0)
        }
        var scored: [(p: ObliquePlane, cost: Double, t: MatrixTransform2D)] = []
        let zs = stride(from: zRange.lowerBound, through: zRange.upperBound + 1e-9, by: dz / 2).map { $0 }
        let tilts = [-maxAngle, -maxAngle / 2, 0, maxAngle / 2, maxAngle]
        for z in zs {
            for ax in tilts {
                for ay in tilts {
                    let q = plane(z, ax, ay), v = refit(q, axialBest.t)
                    scored.append((q, v.cost, v.t))
                }
            }
        }
        scored.sort { $0.cost < $1.cost }
        progress(String(format: "grid: z %.2f mm, tilt x %.1f°, y %.1f° (cost %.4f)", scored[0].p.center[2], scored[0].p.angleXDegrees, scored[0].p.angleYDegrees, scored[0].cost))
        // Compass search on (z, tilts) from the three best grid planes, steps halving from
        // (¼ spacing, ¼ max tilt) to (1/32 spacing, 0.15°).
        func compass(_ start: (p: ObliquePlane, cost: Double, t: MatrixTransform2D)) -> (p: ObliquePlane, cost: Double, t: MatrixTransform2D) {
            var (p, c, t) = start
            var step = SIMD3(dz / 4, maxAngle / 4, maxAngle / 4)
            while step.x >= dz / 32 || step.y >= 0.15 {
                var moved = false
                for (axis, sign) in [(0, 1.0), (0, -1), (1, 1), (1, -1), (2, 1), (2, -1)] {
                    var q = p
                    switch axis {
                    case 0: q.center[2] += sign * step.x
                    case 1: q.angleXDegrees += sign * step.y
                    default: q.angleYDegrees += sign * step.z
                    }
                    guard zRange.contains(q.center[2]), abs(q.angleXDegrees) <= maxAngle + 1e-9, abs(q.angleYDegrees) <= maxAngle + 1e-9 else { continue }
                    let v = refit(q, t)
                    if v.cost < c { p = q; (c, t) = v; moved = true }
                }
                if !moved { step /= 2 }
            }
            return (p, c, t)
        }
        let best3 = scored.prefix(3).map(compass).min { $0.cost < $1.cost }!
        let p = best3.p, c = best3.cost
        progress(String(format: "refined: z %.2f mm, tilt x %.2f°, y %.2f° (cost %.4f)", p.center[2], p.angleXDegrees, p.angleYDegrees, c))
        return Result(plane: p, sliceIndex: mri.continuousIndex(ofPoint: p.centerPoint).z, zMm: p.center[2],
                      angleXDegrees: p.angleXDegrees, angleYDegrees: p.angleYDegrees, cost: c, evaluations: evaluations,
                      seconds: Date().timeIntervalSince(start), axial: axial)
    }

    /// Slices (k) holding organ.
    static func organSlices(_ mask: Volume) -> [Int] {
        let plane = mask.size.x * mask.size.y
        return (0..<mask.size.z).filter { k in mask.voxels[(k * plane)..<((k + 1) * plane)].contains { $0 > 0.5 } }
    }

    /// LPS centroid of the organ.
    static func organCentroid(_ mask: Volume) -> SIMD3<Double> {
        Registration3D.moments(mask)?.centroid ?? .zero
    }

    /// The axial grid cropped to the organ's x–y extent (all slices) grown by `margin` mm.
    public static func cropGrid(_ mri: Volume, _ mask: Volume, margin: Double) -> Image2D {
        var lo = SIMD2(Int.max, Int.max), hi = SIMD2(Int.min, Int.min)
        for k in 0..<mask.size.z { for j in 0..<mask.size.y { for i in 0..<mask.size.x where mask[i, j, k] > 0.5 {
            lo = pointwiseMin(lo, SIMD2(i, j)); hi = pointwiseMax(hi, SIMD2(i, j))
        } } }
        let m = SIMD2(Int((margin / mri.spacing.x).rounded(.up)), Int((margin / mri.spacing.y).rounded(.up)))
        lo = pointwiseMax(lo &- m, SIMD2(0, 0)); hi = pointwiseMin(hi &+ m, SIMD2(mri.size.x - 1, mri.size.y - 1))
        let o = mri.point(ofIndex: SIMD3(Double(lo.x), Double(lo.y), 0))
        return Image2D(width: hi.x - lo.x + 1, height: hi.y - lo.y + 1, spacing: SIMD2(mri.spacing.x, mri.spacing.y), origin: SIMD2(o.x, o.y))
    }
}

extension Image2D {
    func mapped(_ f: (Float) -> Float) -> Image2D {
        var o = self
        for k in 0..<o.pixels.count { o.pixels[k] = f(o.pixels[k]) }
        return o
    }
}
