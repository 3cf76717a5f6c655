import Foundation
import VolumeIO

/// One fixed sample of the 3D metrics: position x (fixed mm), fixed value, moving value at the
/// mapped point and the moving image's gradient there (per mm, LPS).
struct Sample3D { var x: SIMD3<Double>; var f: Double; var m: Double; var g: SIMD3<Double> }

extension Registration3D {
    /// Fixed voxels inside `box` whose image under `map` lies inside the moving volume, with the
    /// moving value and gradient there; gathered per z-slab on all cores, kept in slab order.
    static func samples(_ map: (SIMD3<Double>) -> SIMD3<Double>, _ f: Volume, _ m: Volume, _ box: (SIMD3<Double>, SIMD3<Double>)) -> [Sample3D] {
        let lo = f.continuousIndex(ofPoint: box.0), hi = f.continuousIndex(ofPoint: box.1)
        let i0 = max(0, Int(min(lo.x, hi.x).rounded(.up))), i1 = min(f.size.x - 1, Int(max(lo.x, hi.x)))
        let j0 = max(0, Int(min(lo.y, hi.y).rounded(.up))), j1 = min(f.size.y - 1, Int(max(lo.y, hi.y)))
        let k0 = max(0, Int(min(lo.z, hi.z).rounded(.up))), k1 = min(f.size.z - 1, Int(max(lo.z, hi.z)))
        guard i0 <= i1, j0 <= j1, k0 <= k1 else { return [] }
        let slabs = k1 - k0 + 1
        var perSlab = [[Sample3D]](repeating: [], count: slabs)
        let d = m.direction, inv = 1 / m.spacing
        withoutActuallyEscaping(map) { map in
            m.voxels.withUnsafeBufferPointer { mb in
                f.voxels.withUnsafeBufferPointer { fb in
                    let mv = mb.baseAddress!, fv = fb.baseAddress!
                    perSlab.withUnsafeMutableBufferPointer { ps in
                        DispatchQueue.concurrentPerform(iterations: slabs) { s in
                            let k = k0 + s
                            var out: [Sample3D] = []
                            out.reserveCapacity((i1 - i0 + 1) * (j1 - j0 + 1))
                            for j in j0...j1 {
                                for i in i0...i1 {
                                    let x = f.point(ofIndex: SIMD3(Double(i), Double(j), Double(k)))
                                    let q = m.continuousIndex(ofPoint: map(x))
                                    guard let (v, gi) = trilinearGradient(mv, m.size, q) else { continue }
                                    // Index gradient → mm: ∂/∂y = D (∂/∂index ⊙ 1/spacing).
                                    let gs = gi * inv
                                    let g = SIMD3(d[0] * gs.x + d[1] * gs.y + d[2] * gs.z, d[3] * gs.x + d[4] * gs.y + d[5] * gs.z, d[6] * gs.x + d[7] * gs.y + d[8] * gs.z)
                                    out.append(Sample3D(x: x, f: Double(fv[i + f.size.x * (j + f.size.y * k)]), m: v, g: g))
                                }
                            }
                            ps[s] = out
                        }
                    }
                }
            }
        }
        return perSlab.flatMap { $0 }
    }

    /// The metric's cost and dC/dm for each sample (nil with fewer than 64 samples or a flat image).
    static func metricTerms(_ metric: Registration3DSettings.Metric, _ samples: [Sample3D], _ m: Volume) -> (Double, [Double])? {
        let n = Double(samples.count)
        guard samples.count >= 64 else { return nil }
        var dm = [Double](repeating: 0, count: samples.count)
        switch metric {
        case .meanSquares:
            var s = 0.0
            for (i, p) in samples.enumerated() { let e = p.m - p.f; s += e * e; dm[i] = 2 * e / n }
            return (s / n, dm)
        case .mattesMutualInformation(let bins):
            var mlo = Float.infinity, mhi = -Float.infinity
            for x in m.voxels { mlo = min(mlo, x); mhi = max(mhi, x) }
            guard let r = mattes(bins, samples.map(\.f), samples.map(\.m), (Double(mlo), Double(mhi))) else { return nil }
            return (r.cost, r.dCostdM)
        case .normalizedCorrelation:
            let fm = samples.reduce(0) { $0 + $1.f } / n, mm = samples.reduce(0) { $0 + $1.m } / n
            var a = 0.0, ff = 0.0, b = 0.0
            for p in samples { a += (p.f - fm) * p.m; ff += (p.f - fm) * (p.f - fm); b += (p.m - mm) * (p.m - mm) }
            guard ff > 0, b > 0 else { return nil }
            let F = ff.squareRoot(), B = b.squareRoot()
            for (i, p) in samples.enumerated() { dm[i] = -((p.f - fm) / (F * B) - a * (p.m - mm) / (F * B * b)) }
            return (-a / (F * B), dm)
        }
    }

    /// Mask overlap on (smoothed) mask samples: Σ(moving − fixed)² / Σ fixed, as the 2D term.
    static func maskTerms(_ samples: [Sample3D]) -> (Double, [Double])? {
        let area = samples.reduce(0) { $0 + $1.f }
        guard area > 0 else { return nil }
        var s = 0.0, dm = [Double](repeating: 0, count: samples.count)
        for (i, p) in samples.enumerated() { let e = p.m - p.f; s += e * e; dm[i] = 2 * e / area }
        return (s / area, dm)
    }

    /// The moving mask pulled through `map` onto the fixed mask's grid (trilinear, ≥ 0.5 → 1).
    static func warpedMask(_ movingMask: Volume, onto fixedMask: Volume, _ map: (SIMD3<Double>) -> SIMD3<Double>) -> Volume {
        var out = resampled(movingMask, onto: fixedMask, map)
        out.voxels = out.voxels.map { $0 >= 0.5 ? 1 : 0 }
        return out
    }

    /// Dice of a (> 0.5) and b (≥ 0.5) on one grid.
    static func dice(_ a: Volume, _ b: Volume) -> Double {
        var inter = 0.0, na = 0.0, nb = 0.0
        for k in 0..<a.voxels.count {
            let x = a.voxels[k] > 0.5, y = b.voxels[k] >= 0.5
            if x { na += 1 }; if y { nb += 1 }; if x && y { inter += 1 }
        }
        return na + nb > 0 ? 2 * inter / (na + nb) : 0
    }

    /// Separable Gaussian (σ mm) along the axes whose voxels are finer than 2σ; thick slices are
    /// left alone.
    static func smoothed(_ v: Volume, sigma: Double) -> Volume {
        guard sigma > 0 else { return v }
        var out = v
        let n = v.size, strides = [1, n.x, n.x * n.y]
        for a in 0..<3 where v.spacing[a] < 2 * sigma && n[a] > 1 {
            let s = sigma / v.spacing[a], r = Int((3 * s).rounded(.up))
            var w = (-r...r).map { exp(-Double($0 * $0) / (2 * s * s)) }
            let sum = w.reduce(0, +); w = w.map { $0 / sum }
            let src = out.voxels
            let len = n[a], st = strides[a]
            out.voxels.withUnsafeMutableBufferPointer { ob in
                src.withUnsafeBufferPointer { sb in
                    let o = ob.baseAddress!, p = sb.baseAddress!
                    DispatchQueue.concurrentPerform(iterations: n.z) { k in
                        for j in 0..<n.y { for i in 0..<n.x {
                            let idx = i + n.x * (j + n.y * k), pos = a == 0 ? i : a == 1 ? j : k
                            var acc = 0.0
                            for d in -r...r {
                                let q = min(max(pos + d, 0), len - 1)
                                acc += w[d + r] * Double(p[idx + (q - pos) * st])
                            }
                            o[idx] = Float(acc)
                        } }
                    }
                }
            }
        }
        return out
    }
}

extension Registration3D {
    /// `v` sampled on `grid`'s voxel centres through `map` (grid mm → v mm): trilinear, or the
    /// nearest voxel; `outside` beyond the volume.
    static func resampled(_ v: Volume, onto grid: Volume, outside: Float = 0, nearest: Bool = false,
                          _ map: (SIMD3<Double>) -> SIMD3<Double>) -> Volume {
        var out = grid
        let n = grid.size
        withoutActuallyEscaping(map) { map in
            v.voxels.withUnsafeBufferPointer { vb in
                out.voxels.withUnsafeMutableBufferPointer { ob in
                    let o = ob.baseAddress!, src = vb.baseAddress!
                    DispatchQueue.concurrentPerform(iterations: n.z) { k in
                        for j in 0..<n.y { for i in 0..<n.x {
                            var q = v.continuousIndex(ofPoint: map(grid.point(ofIndex: SIMD3(Double(i), Double(j), Double(k)))))
                            if nearest { q = q.rounded(.toNearestOrAwayFromZero) }
                            o[i + n.x * (j + n.y * k)] = ObliquePlane.trilinear(src, v.size, q, outside)
                        } }
                    }
                }
            }
        }
        return out
    }
}
