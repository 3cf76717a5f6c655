import Foundation
import ImageCore
import VolumeIO

/// A 3D affine transform, fixed → moving (ITK's direction): y = M(x − c) + c + t. Parameters:
/// M row-major (9), then t (3) — ITK's `AffineTransform_double_3_3` order; c is fixed.
public struct AffineTransform3D: Sendable, Equatable {
    public var center: SIMD3<Double>
    public var parameters: [Double]

    public init(center: SIMD3<Double> = .zero, parameters: [Double]? = nil) {
        self.center = center
        self.parameters = parameters ?? [1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0]
    }

    @inline(__always) public func map(_ x: SIMD3<Double>) -> SIMD3<Double> {
        let m = parameters, v = x - center
        return SIMD3(m[0] * v.x + m[1] * v.y + m[2] * v.z + center.x + m[9],
                     m[3] * v.x + m[4] * v.y + m[5] * v.z + center.y + m[10],
                     m[6] * v.x + m[7] * v.y + m[8] * v.z + center.z + m[11])
    }

    /// The exact inverse (same centre).
    public var inverted: AffineTransform3D {
        let m = parameters
        let a = m[0], b = m[1], c = m[2], d = m[3], e = m[4], f = m[5], g = m[6], h = m[7], i = m[8]
        let det = a * (e * i - f * h) - b * (d * i - f * g) + c * (d * h - e * g)
        let inv = [(e * i - f * h), -(b * i - c * h), (b * f - c * e),
                   -(d * i - f * g), (a * i - c * g), -(a * f - c * d),
                   (d * h - e * g), -(a * h - b * g), (a * e - b * d)].map { $0 / det }
        // x = M⁻¹(y − c − t) + c.
        let t = SIMD3(m[9], m[10], m[11])
        let u = -t
        let tt = SIMD3(inv[0] * u.x + inv[1] * u.y + inv[2] * u.z, inv[3] * u.x + inv[4] * u.y + inv[5] * u.z, inv[6] * u.x + inv[7] * u.y + inv[8] * u.z)
        return AffineTransform3D(center: center, parameters: inv + [tt.x, tt.y, tt.z])
    }

    /// `moving` sampled on `grid`'s voxel centres through the transform (trilinear, or the
    /// nearest voxel), `outside` beyond the volume.
    public func resample(_ moving: Volume, onto grid: Volume, outside: Float = 0, nearest: Bool = false) -> Volume {
        Registration3D.resampled(moving, onto: grid, outside: outside, nearest: nearest) { map($0) }
    }
}

/// Settings of the 3D pipeline (moments → translation → rigid → affine).
public struct Registration3DSettings: Sendable {
    public enum Metric: Sendable { case meanSquares, normalizedCorrelation, mattesMutualInformation(bins: Int) }
    public var metric = Metric.normalizedCorrelation
    /// In-plane pyramid factors, coarse to fine (slices are kept: MRI slices are thick).
    public var levels = [4, 2, 1]
    public var iterations = 100
    /// Samples: fixed voxels in the fixed mask's bounding box grown by this margin (mm).
    public var margin = 10.0
    /// Run the B-spline stage after the affine (off by default in the library, so affine
    /// callers keep their four stages; `radiopath register --moving-volume` turns it on).
    public var deformable = false
    /// Control-node spacing (mm) of the first B-spline level; it halves at each further level.
    /// 20 → 10 mm: a prostate (≈ 40–50 mm) gets 4–5 cells across at the end.
    public var gridSpacing = 20.0
    /// In-plane pyramid factor of each B-spline level (their count is the number of levels).
    public var deformableLevels = [4, 2]
    /// Node spacing along z never goes below this many fixed slices (thick MRI slices carry
    /// no information between them).
    public var minSlicesPerNode = 2.0
    /// Weight of the bending energy (mm², against the intensity cost).
    public var bendingWeight = 5.0
    /// Weight of the mask-overlap term in the B-spline stage (0: off), masks smoothed by σ mm.
    public var maskWeight = 0.5
    public var maskSmoothing = 1.0
    public init() {}
}

public struct Registration3DResult: Sendable {
    public var initial: AffineTransform3D
    public var translation: AffineTransform3D
    /// Rotation (about the fixed mask's centroid) and translation, the moments' scale held.
    public var rigid: AffineTransform3D
    public var affine: AffineTransform3D
    /// x ↦ A(x + u(x)) with A = `affine`, when the B-spline stage ran.
    public var deformable: AffineBSplineTransform3D?
    /// False when the B-spline did not lower the full-resolution cost (metric + mask term) and
    /// was reset to zero displacement.
    public var deformableKept: Bool
    public var stages: [StageReport]

    /// The final fixed → moving mapping (mm).
    public func map(_ x: SIMD3<Double>) -> SIMD3<Double> { deformable?.map(x) ?? affine.map(x) }
}

/// Volume-to-volume registration (e.g. MRI ⇄ CT, or a reconstructed histology stack ⇄ MRI):
/// mask moments (centroids, volume ratio as scale), then translation, rigid and affine stages by
/// L-BFGS over an in-plane pyramid, on NCC, mean squares or Mattes MI (as in 2D: fixed box
/// windows, moving cubic B-spline Parzen windows, two padding bins), then optionally a B-spline
/// stage (`settings.deformable`, Registration3DBSpline.swift). The result maps fixed mm to moving mm.
public struct Registration3D {
    public var settings: Registration3DSettings
    public init(settings: Registration3DSettings = Registration3DSettings()) { self.settings = settings }

    public func register(fixed: Volume, fixedMask: Volume, moving: Volume, movingMask: Volume) throws -> Registration3DResult {
        guard fixedMask.size == fixed.size, movingMask.size == moving.size else {
            throw RegistrationError("a mask's grid differs from its volume's", hint: "give each volume a mask on the same voxel grid")
        }
        guard let fc = Self.moments(fixedMask), let mc = Self.moments(movingMask) else {
            throw RegistrationError("a mask is empty (no voxel > 0.5)", hint: "give masks with the organ labelled")
        }
        let scale = cbrt(mc.volume / fc.volume)
        let initial = AffineTransform3D(center: fc.centroid, parameters: [scale, 0, 0, 0, scale, 0, 0, 0, scale] + [mc.centroid.x - fc.centroid.x, mc.centroid.y - fc.centroid.y, mc.centroid.z - fc.centroid.z])
        let radius = cbrt(fc.volume * 3 / (4 * .pi))
        let box = Self.box(fixedMask, margin: settings.margin)
        let levels = settings.levels.map { f in (f, Self.downsampled(fixed, f), Self.downsampled(moving, f)) }
        var stages: [StageReport] = []
        func report(_ name: String, _ map: (SIMD3<Double>) -> SIMD3<Double>, _ start: Date, _ its: Int) {
            let seconds = Date().timeIntervalSince(start)
            let c = Self.metricTerms(settings.metric, Self.samples(map, levels.last!.1, levels.last!.2, box), levels.last!.2)?.0 ?? .infinity
            let warped = Self.warpedMask(movingMask, onto: fixedMask, map)
            stages.append(StageReport(stage: name, metric: c, dice: Self.dice(fixedMask, warped), seconds: seconds, iterations: its,
                                      hausdorff95: MaskDistance3D.hausdorff95(fixedMask, warped)))
        }
        func report(_ name: String, _ t: AffineTransform3D, _ start: Date, _ its: Int) { report(name, t.map, start, its) }
        var t0 = Date()
        report("initial", initial, t0, 0)
        t0 = Date()
        var t = initial, its = 0
        let translationScales = [Double](repeating: 0, count: 9) + [1, 1, 1]
        for (f, fl, ml) in levels {
            let r = minimise(t, translationScales, fl, ml, box, maxStep: Double(f) * fixed.spacing.x)
            t = r.0; its += r.1
        }
        let translation = t
        report("translation", t, t0, its)
        t0 = Date(); its = 0
        for (f, fl, ml) in levels {
            let r = minimiseRigid(t, radius, fl, ml, box, maxStep: Double(f) * fixed.spacing.x)
            t = r.0; its += r.1
        }
        let rigid = t
        report("rigid", t, t0, its)
        t0 = Date(); its = 0
        let affineScales = [Double](repeating: radius, count: 9) + [1, 1, 1]
        for (f, fl, ml) in levels {
            let r = minimise(t, affineScales, fl, ml, box, maxStep: Double(f) * fixed.spacing.x)
            t = r.0; its += r.1
        }
        report("affine", t, t0, its)
        var deformable: AffineBSplineTransform3D?, deformableKept = false
        if settings.deformable {
            t0 = Date()
            let r = registerBSpline(t, fixed: fixed, fixedMask: fixedMask, moving: moving, movingMask: movingMask, box: box)
            deformable = r.0
            deformableKept = r.2
            report("bspline", r.0.map, t0, r.1)
        }
        return Registration3DResult(initial: initial, translation: translation, rigid: rigid, affine: t, deformable: deformable, deformableKept: deformableKept, stages: stages)
    }

    /// M = R(θ)·M₀ with R = Rz·Ry·Rx (θ = x, y, z angles from 0) and t free: the affine
    /// gradient G = ∂C/∂M chained through ∂M/∂θₖ = (∂R/∂θₖ)·M₀.
    func minimiseRigid(_ t: AffineTransform3D, _ radius: Double, _ f: Volume, _ m: Volume, _ box: (SIMD3<Double>, SIMD3<Double>), maxStep: Double) -> (AffineTransform3D, Int) {
        let m0 = Array(t.parameters[0..<9])
        func mul(_ a: [Double], _ b: [Double]) -> [Double] {
            (0..<9).map { k in let i = k / 3, j = k % 3; return a[3 * i] * b[j] + a[3 * i + 1] * b[3 + j] + a[3 * i + 2] * b[6 + j] }
        }
        func rx(_ a: Double, _ d: Bool) -> [Double] { let c = cos(a), s = sin(a); return d ? [0, 0, 0, 0, -s, -c, 0, c, -s] : [1, 0, 0, 0, c, -s, 0, s, c] }
        func ry(_ a: Double, _ d: Bool) -> [Double] { let c = cos(a), s = sin(a); return d ? [-s, 0, c, 0, 0, 0, -c, 0, -s] : [c, 0, s, 0, 1, 0, -s, 0, c] }
        func rz(_ a: Double, _ d: Bool) -> [Double] { let c = cos(a), s = sin(a); return d ? [-s, -c, 0, c, -s, 0, 0, 0, 0] : [c, -s, 0, s, c, 0, 0, 0, 1] }
        func affine(_ p: [Double]) -> AffineTransform3D {
            let r = mul(rz(p[2], false), mul(ry(p[1], false), rx(p[0], false)))
            return AffineTransform3D(center: t.center, parameters: mul(r, m0) + Array(p[3..<6]))
        }
        var opt = LBFGS()
        opt.maxIterations = settings.iterations
        opt.maxStep = maxStep
        let start = [0, 0, 0] + Array(t.parameters[9..<12])
        let r = opt.minimise(start, scales: [radius, radius, radius, 1, 1, 1]) { p in
            let (c, g) = cost(affine(p), f, m, box)
            let dr = [mul(rz(p[2], false), mul(ry(p[1], false), rx(p[0], true))),
                      mul(rz(p[2], false), mul(ry(p[1], true), rx(p[0], false))),
                      mul(rz(p[2], true), mul(ry(p[1], false), rx(p[0], false)))].map { mul($0, m0) }
            let ga = dr.map { d in (0..<9).reduce(0.0) { $0 + g[$1] * d[$1] } }
            return (c, ga + Array(g[9..<12]))
        }
        return (affine(r.parameters), r.iterations)
    }

    func minimise(_ t: AffineTransform3D, _ scales: [Double], _ f: Volume, _ m: Volume, _ box: (SIMD3<Double>, SIMD3<Double>), maxStep: Double) -> (AffineTransform3D, Int) {
        var opt = LBFGS()
        opt.maxIterations = settings.iterations
        opt.maxStep = maxStep
        var work = t
        let r = opt.minimise(t.parameters, scales: scales) { p in
            work.parameters = p
            return cost(work, f, m, box)
        }
        var out = t
        out.parameters = r.parameters
        return (out, r.iterations)
    }

    /// Cost (MSD, −NCC or −MI) and its gradient over the fixed voxels inside `box` whose mapped
    /// point lies inside the moving volume.
    func cost(_ t: AffineTransform3D, _ f: Volume, _ m: Volume, _ box: (SIMD3<Double>, SIMD3<Double>)) -> (Double, [Double]) {
        let samples = Self.samples(t.map, f, m, box)
        guard let (c, dm) = Self.metricTerms(settings.metric, samples, m) else { return (.infinity, [Double](repeating: 0, count: 12)) }
        var grad = [Double](repeating: 0, count: 12)
        for (n_, p) in samples.enumerated() {
            let g = p.g * dm[n_], v = p.x - t.center
            grad[0] += g.x * v.x; grad[1] += g.x * v.y; grad[2] += g.x * v.z
            grad[3] += g.y * v.x; grad[4] += g.y * v.y; grad[5] += g.y * v.z
            grad[6] += g.z * v.x; grad[7] += g.z * v.y; grad[8] += g.z * v.z
            grad[9] += g.x; grad[10] += g.y; grad[11] += g.z
        }
        return (c, grad)
    }

    /// −MI and its derivative with respect to each sample's moving value (the 2D engine's
    /// Parzen scheme on plain arrays).
    static func mattes(_ bins: Int, _ f: [Double], _ m: [Double], _ range: (Double, Double)) -> (cost: Double, dCostdM: [Double])? {
        let pad = 2, n = f.count
        guard n > 0, bins > 2 * pad + 1 else { return nil }
        let fmin = f.min()!, fmax = f.max()!
        let df = max(fmax - fmin, 1e-12) / Double(bins - 2 * pad), dmv = max(range.1 - range.0, 1e-12) / Double(bins - 2 * pad)
        let fbin = f.map { min(max(Int(($0 - fmin) / df) + pad, pad), bins - pad - 1) }
        let mpos = m.map { min(max(($0 - range.0) / dmv + Double(pad), Double(pad)), Double(bins - pad) - 1e-9) }
        var joint = [Double](repeating: 0, count: bins * bins)
        for i in 0..<n {
            let c = Int(mpos[i])
            for k in (c - 1)...(c + 2) { joint[fbin[i] * bins + k] += CubicBSpline.kernel(Double(k) - mpos[i]) }
        }
        let norm = 1 / Double(n)
        var pf = [Double](repeating: 0, count: bins), pm = [Double](repeating: 0, count: bins)
        for a in 0..<bins { for b in 0..<bins { joint[a * bins + b] *= norm; pf[a] += joint[a * bins + b]; pm[b] += joint[a * bins + b] } }
        var mi = 0.0, logRatio = [Double](repeating: 0, count: bins * bins)
        for a in 0..<bins { for b in 0..<bins {
            let p = joint[a * bins + b]
            guard p > 1e-16 else { continue }
            mi += p * log(p / (pf[a] * pm[b]))
            logRatio[a * bins + b] = log(p / pm[b])
        } }
        var d = [Double](repeating: 0, count: n)
        for i in 0..<n {
            let c = Int(mpos[i])
            var w = 0.0
            for k in (c - 1)...(c + 2) { w -= CubicBSpline.kernelDerivative(Double(k) - mpos[i]) * logRatio[fbin[i] * bins + k] }
            d[i] = -w * norm / dmv
        }
        return (-mi, d)
    }

    /// Trilinear value and gradient (per index) inside the voxel-centre hull, nil outside.
    @inline(__always) static func trilinearGradient(_ v: UnsafePointer<Float>, _ n: SIMD3<Int>, _ q: SIMD3<Double>) -> (Double, SIMD3<Double>)? {
        guard q.x >= 0, q.y >= 0, q.z >= 0, q.x <= Double(n.x - 1), q.y <= Double(n.y - 1), q.z <= Double(n.z - 1), n.x > 1, n.y > 1, n.z > 1 else { return nil }
        let i = min(Int(q.x), n.x - 2), j = min(Int(q.y), n.y - 2), k = min(Int(q.z), n.z - 2)
        let fx = q.x - Double(i), fy = q.y - Double(j), fz = q.z - Double(k)
        let b = i + n.x * (j + n.y * k), dj = n.x, dk = n.x * n.y
        let c000 = Double(v[b]), c100 = Double(v[b + 1]), c010 = Double(v[b + dj]), c110 = Double(v[b + dj + 1])
        let c001 = Double(v[b + dk]), c101 = Double(v[b + dk + 1]), c011 = Double(v[b + dk + dj]), c111 = Double(v[b + dk + dj + 1])
        let x00 = c000 + (c100 - c000) * fx, x10 = c010 + (c110 - c010) * fx
        let x01 = c001 + (c101 - c001) * fx, x11 = c011 + (c111 - c011) * fx
        let y0 = x00 + (x10 - x00) * fy, y1 = x01 + (x11 - x01) * fy
        let value = y0 + (y1 - y0) * fz
        let gx0 = (c100 - c000) + ((c110 - c010) - (c100 - c000)) * fy
        let gx1 = (c101 - c001) + ((c111 - c011) - (c101 - c001)) * fy
        let gy0 = x10 - x00, gy1 = x11 - x01
        return (value, SIMD3(gx0 + (gx1 - gx0) * fz, gy0 + (gy1 - gy0) * fz, y1 - y0))
    }

    /// Centroid (LPS mm) and volume (mm³) of the voxels > 0.5.
    public static func moments(_ mask: Volume) -> (centroid: SIMD3<Double>, volume: Double)? {
        var s = SIMD3<Double>.zero, n = 0.0
        for k in 0..<mask.size.z { for j in 0..<mask.size.y { for i in 0..<mask.size.x where mask[i, j, k] > 0.5 {
            s += mask.point(ofIndex: SIMD3(Double(i), Double(j), Double(k))); n += 1
        } } }
        guard n > 0 else { return nil }
        return (s / n, n * mask.spacing.x * mask.spacing.y * mask.spacing.z)
    }

    /// The mask's LPS bounding box grown by `margin` mm.
    static func box(_ mask: Volume, margin: Double) -> (SIMD3<Double>, SIMD3<Double>) {
        var lo = SIMD3(Double.infinity, .infinity, .infinity), hi = -lo
        for k in 0..<mask.size.z { for j in 0..<mask.size.y { for i in 0..<mask.size.x where mask[i, j, k] > 0.5 {
            let p = mask.point(ofIndex: SIMD3(Double(i), Double(j), Double(k))); lo = pointwiseMin(lo, p); hi = pointwiseMax(hi, p)
        } } }
        return (lo - margin, hi + margin)
    }

    /// Means of f × f in-plane blocks (slices kept), on a grid in the same mm frame.
    static func downsampled(_ v: Volume, _ f: Int) -> Volume {
        guard f > 1 else { return v }
        let w = v.size.x / f, h = v.size.y / f
        let o = v.point(ofIndex: SIMD3(Double(f - 1) / 2, Double(f - 1) / 2, 0))
        var out = Volume(size: SIMD3(w, h, v.size.z), spacing: SIMD3(v.spacing.x * Double(f), v.spacing.y * Double(f), v.spacing.z),
                         origin: o, direction: v.direction, voxels: [Float](repeating: 0, count: w * h * v.size.z))
        let norm = 1 / Float(f * f)
        for k in 0..<v.size.z { for J in 0..<h { for I in 0..<w {
            var s: Float = 0
            for j in (J * f)..<(J * f + f) { for i in (I * f)..<(I * f + f) { s += v[i, j, k] } }
            out[I, J, k] = s * norm
        } } }
        return out
    }
}

extension ITKTransformFile {
    /// A 3D affine as `AffineTransform_double_3_3` (SimpleITK, 3D Slicer), atomically.
    public static func write(_ t: AffineTransform3D, to path: String) throws {
        let f: (Double) -> String = { "\($0)" }
        let text = "#Insight Transform File V1.0\n#Transform 0\nTransform: AffineTransform_double_3_3\nParameters: \(t.parameters.map(f).joined(separator: " "))\nFixedParameters: \(f(t.center.x)) \(f(t.center.y)) \(f(t.center.z))\n"
        try AtomicFile.write(Data(text.utf8), to: path)
    }
}
