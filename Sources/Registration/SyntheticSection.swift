import SeededRandom
import Foundation
import VolumeIO

/// A histology-like section generated from an MRI slice with a known mapping: the truth the
/// registration is measured against (issue 8, item 6). Used by the validation tests and by
/// `radiopath synth section` (the bench cases).
public struct SyntheticSection: Sendable {
    public var fixed: Image2D
    public var fixedMask: Image2D
    public var moving: Image2D
    public var movingMask: Image2D
    /// Known moving (histology) mm → fixed (MRI) mm.
    public var truth: Truth
    /// Interior gland points in fixed mm for TRE.
    public var points: [SIMD2<Double>]

    public struct Bump: Sendable {
        public var center: SIMD2<Double>, amplitude: SIMD2<Double>, sigma: Double
    }

    public struct Truth: Sendable {
        public var fixedCenter: SIMD2<Double>, movingCenter: SIMD2<Double>
        public var scale: Double, angle: Double, flipped: Bool
        public var bumps: [Bump]

        /// Similarity part (moving → fixed), then the smooth displacement in fixed space.
        public func map(_ y: SIMD2<Double>) -> SIMD2<Double> {
            let z = similarity(y)
            return z + displacement(z)
        }

        func similarity(_ y: SIMD2<Double>) -> SIMD2<Double> {
            var v = y - movingCenter
            if flipped { v.x = -v.x }
            let c = cos(angle), s = sin(angle)
            return fixedCenter + SIMD2(c * v.x - s * v.y, s * v.x + c * v.y) * scale
        }

        func displacement(_ z: SIMD2<Double>) -> SIMD2<Double> {
            var d = SIMD2<Double>.zero
            for b in bumps {
                let r = z - b.center
                d += b.amplitude * exp(-0.5 * (r * r).sum() / (b.sigma * b.sigma))
            }
            return d
        }

        /// Fixed mm → moving mm: z = x − d(z) by fixed-point iteration (the bumps are gentle, so
        /// it contracts), then the exact inverse similarity.
        public func inverse(_ x: SIMD2<Double>) -> SIMD2<Double> {
            var z = x
            for _ in 0..<100 {
                let next = x - displacement(z)
                if ((next - z) * (next - z)).sum() < 1e-24 { z = next; break }
                z = next
            }
            let c = cos(angle), s = sin(angle)
            let w = (z - fixedCenter) / scale
            var v = SIMD2(c * w.x + s * w.y, -s * w.x + c * w.y)
            if flipped { v.x = -v.x }
            return v + movingCenter
        }
    }

    public struct Parameters: CustomStringConvertible, Sendable {
        public var slice: Int, seed: UInt64, shrink: Double, angleDegrees: Double, flipped: Bool
        public var description: String {
            "slice \(slice) seed \(seed): shrink \(String(format: "%.1f", shrink * 100))%, rotation \(String(format: "%.0f", angleDegrees))°\(flipped ? ", flipped" : "")"
        }
    }

    /// Random shrinkage 5–15 %, any rotation, mirror or not — fixed by slice and seed.
    public static func parameters(slice: Int, seed: UInt64) -> Parameters {
        var rng = SplitMix64(seed: seed &* 7919 &+ UInt64(slice))
        return Parameters(slice: slice, seed: seed, shrink: 0.05 + 0.10 * rng.unit(),
                          angleDegrees: -180 + 360 * rng.unit(), flipped: rng.unit() < 0.5)
    }

    /// `spacing` and `size` of the histology grid; the MRI keeps its own. `movingOrigin`: the
    /// position of the first histology pixel's centre (spacing/2 puts the grid in slide mm, as
    /// `HistologySection` reads it).
    /// `mriTexture` 1: gland luminance follows the T2 signal; 0: uniform tissue with nuclei only,
    /// so only the gland outline can drive the alignment.
    public init(mri: Volume, label: Volume, _ p: Parameters, spacing: Double = 0.25, size: Int = 300,
                mriTexture: Double = 1, movingOrigin: SIMD2<Double> = .zero) throws {
        try self.init(fixed: try Image2D(slice: p.slice, of: mri), fixedMask: try Image2D(slice: p.slice, of: label), p,
                      spacing: spacing, size: size, mriTexture: mriTexture, movingOrigin: movingOrigin)
    }

    /// The same from an MRI slice already in hand (e.g. an oblique slice of the volume).
    public init(fixed: Image2D, fixedMask mask: Image2D, _ p: Parameters, spacing: Double = 0.25, size: Int = 300,
                mriTexture: Double = 1, movingOrigin: SIMD2<Double> = .zero) throws {
        self.fixed = fixed
        fixedMask = mask
        for k in 0..<fixedMask.pixels.count { fixedMask.pixels[k] = fixedMask.pixels[k] > 0.5 ? 1 : 0 }
        var rng = SplitMix64(seed: p.seed &* 104_729 &+ UInt64(p.slice) &+ 17)
        let fm = try MaskMoments(fixedMask)
        let movingCenter = movingOrigin + SIMD2(Double(size - 1), Double(size - 1)) * spacing * 0.5
        var bumps: [Bump] = []
        for _ in 0..<3 {
            let c = fm.centroid + SIMD2(rng.unit() - 0.5, rng.unit() - 0.5) * 24
            let a = 1.5 + 1.5 * rng.unit(), dir = 2 * Double.pi * rng.unit()
            bumps.append(Bump(center: c, amplitude: SIMD2(cos(dir), sin(dir)) * a, sigma: 8 + 6 * rng.unit()))
        }
        // The section shrinks by `shrink`, so one histology mm spans 1/(1 − shrink) MRI mm.
        truth = Truth(fixedCenter: fm.centroid, movingCenter: movingCenter, scale: 1 / (1 - p.shrink),
                      angle: p.angleDegrees * .pi / 180, flipped: p.flipped, bumps: bumps)

        // T2 normalised by the gland's robust range.
        let inside = zip(fixed.pixels, fixedMask.pixels).filter { $0.1 > 0.5 }.map { $0.0 }.sorted()
        let lo = inside[inside.count / 50], hi = inside[inside.count * 49 / 50]
        let smoothLabel = fixedMask.smoothed(sigma: 0.3)
        moving = Image2D(width: size, height: size, spacing: SIMD2(spacing, spacing), origin: movingOrigin)
        movingMask = moving
        for j in 0..<size {
            for i in 0..<size {
                let x = truth.map(moving.point(ofIndex: SIMD2(Double(i), Double(j))))
                let tissue = Double(smoothLabel.value(at: x, outside: 0))
                let t2 = min(max(Double((fixed.value(at: x, outside: lo) - lo) / (hi - lo)), 0), 1)
                // H&E-like luminance: stroma/epithelium darker where T2 is dark, dark nuclei dots.
                var stain = 0.78 - 0.38 * (mriTexture * (1 - t2) + (1 - mriTexture) * 0.5) + 0.03 * gaussian(&rng)
                if rng.unit() < 0.08 { stain -= 0.25 }
                let glass = 0.93 + 0.01 * gaussian(&rng)
                moving[i, j] = Float(tissue * stain + (1 - tissue) * glass)
                movingMask[i, j] = tissue >= 0.5 ? 1 : 0
            }
        }

        // Interior points: gland pixels whose 1.5 mm neighbourhood is gland too.
        var candidates: [SIMD2<Double>] = []
        let fixedMask = self.fixedMask
        for j in 0..<fixedMask.height {
            for i in 0..<fixedMask.width where fixedMask[i, j] > 0.5 {
                let q = fixedMask.point(ofIndex: SIMD2(Double(i), Double(j)))
                let ring = [SIMD2(1.5, 0), SIMD2(-1.5, 0), SIMD2(0, 1.5), SIMD2(0, -1.5)]
                if ring.allSatisfy({ fixedMask.value(at: q + $0, outside: 0) > 0.5 }) { candidates.append(q) }
            }
        }
        var pts: [SIMD2<Double>] = []
        for _ in 0..<60 {
            let q = candidates[Int(rng.next() % UInt64(candidates.count))]
            pts.append(q + SIMD2(rng.unit() - 0.5, rng.unit() - 0.5) * fixedMask.spacing)
        }
        points = pts
    }

    /// Mean and max target registration error (fixed mm) of a fixed → moving mapping: where the
    /// predicted histology point truly lies in the MRI, against where it should.
    public func tre(_ map: (SIMD2<Double>) -> SIMD2<Double>) -> (mean: Double, max: Double) {
        let e = points.map { p -> Double in
            let d = truth.map(map(p)) - p
            return (d * d).sum().squareRoot()
        }
        return (e.reduce(0, +) / Double(e.count), e.max() ?? 0)
    }
}

private func gaussian(_ rng: inout SplitMix64) -> Double {
    let u = max(rng.unit(), 1e-12), v = rng.unit()
    return (-2 * log(u)).squareRoot() * cos(2 * .pi * v)
}
