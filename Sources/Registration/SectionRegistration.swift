import Foundation
import VolumeIO

/// Registration of one histology section to one MRI slice, with the figures of the QC report.
public enum SectionRegistration {
    /// Paired points: fixed in MRI LPS mm (slice plane), moving in slide level-0 px.
    public struct Landmarks: Sendable {
        public var fixed: [SIMD2<Double>]
        public var moving: [SIMD2<Double>]

        /// CSV with a header naming fixed_x, fixed_y, moving_x, moving_y (any order, extra columns ignored).
        public static func read(_ path: String) throws -> Landmarks {
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw RegistrationError("\(path): cannot be read", hint: "check the landmarks CSV path")
            }
            let lines = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            guard let header = lines.first?.split(separator: ",", omittingEmptySubsequences: false).map({ $0.trimmingCharacters(in: .whitespaces).lowercased() }) else {
                throw RegistrationError("\(path): empty", hint: "write a header fixed_x,fixed_y,moving_x,moving_y and one row per landmark pair")
            }
            let names = ["fixed_x", "fixed_y", "moving_x", "moving_y"]
            let cols = try names.map { n -> Int in
                guard let c = header.firstIndex(of: n) else {
                    throw RegistrationError("\(path): no column '\(n)' in the header (\(header.joined(separator: ",")))",
                                            hint: "columns fixed_x,fixed_y (MRI LPS mm) and moving_x,moving_y (slide level-0 px)")
                }
                return c
            }
            var out = Landmarks(fixed: [], moving: [])
            for (n, line) in lines.dropFirst().enumerated() {
                let f = line.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
                let v = cols.map { $0 < f.count ? Double(f[$0]) : nil }
                guard v.allSatisfy({ $0 != nil && $0!.isFinite }) else {
                    throw RegistrationError("\(path): row \(n + 2) ('\(line)') does not hold four numbers for \(names.joined(separator: ","))",
                                            hint: "every fixed point needs its moving partner; fix or delete the row")
                }
                out.fixed.append(SIMD2(v[0]!, v[1]!))
                out.moving.append(SIMD2(v[2]!, v[3]!))
            }
            guard !out.fixed.isEmpty else { throw RegistrationError("\(path): no landmark rows", hint: "add at least one pair") }
            return out
        }
    }

    /// One stage's figures, all measured on the MRI slice grid with that stage's transform.
    public struct StageFigures: Codable, Sendable {
        public var stage: String
        public var dice: Double
        public var hausdorff95Mm: Double?
        /// The engine's intensity cost (−MI, −NCC or MSD) at full resolution.
        public var metric: Double
        public var seconds: Double
        public var iterations: Int
        public var treMeanMm: Double?
        public var treMedianMm: Double?
        public var treMaxMm: Double?
        /// Landmarks whose inverse did not converge.
        public var treFailed: Int?
    }

    /// A candidate slice of the search.
    public struct Candidate: Codable, Sendable {
        public var slice: Int
        public var zMm: Double
        public var dice: Double?
        public var metric: Double?
        public var score: Double?
        public var seconds: Double
        public var note: String?
    }

    /// The stages of a result as fixed (MRI mm) → moving (slide mm) transforms, with their reports.
    public static func stages(_ r: Registration2DResult) -> [(report: StageReport, transform: any Transform2D)] {
        r.stages.map { s in
            let t: any Transform2D
            switch s.stage {
            case "initial": t = r.initial
            case "rigid": t = r.rigid
            case "similarity": t = r.similarity
            case "affine": t = r.affine
            default: t = r.deformable ?? r.affine
            }
            return (s, t)
        }
    }

    /// Dice, HD95 and (with landmarks) TRE of one stage. TRE: each slide landmark carried to the
    /// MRI by the stage's inverse (exact for the linear stages, Newton for the B-spline),
    /// distance (mm) to its MRI partner.
    public static func figures(_ s: StageReport, _ t: some Transform2D, fixedMask: Image2D, movingMask: Image2D,
                               section: HistologySection, landmarks: Landmarks?, warpedMask: Image2D? = nil) -> StageFigures {
        let warped = warpedMask ?? movingMask.warpedMask(onto: fixedMask, through: t)
        var f = StageFigures(stage: s.stage, dice: s.dice, hausdorff95Mm: MaskDistance.hausdorff95(fixedMask, warped),
                             metric: s.metric, seconds: s.seconds, iterations: s.iterations)
        if let landmarks {
            let linear: MatrixTransform2D? = (t as? MatrixTransform2D) ?? (t as? AffineBSplineTransform2D)?.affine
            var errors: [Double] = [], failed = 0
            for (p, q) in zip(landmarks.fixed, landmarks.moving) {
                let y = section.mm(ofPixel: q)
                let guess = linear?.inverted.map(y) ?? p
                let x: SIMD2<Double>? = t is MatrixTransform2D ? guess : t.inverse(y, guess: guess, tolerance: 1e-6)
                guard let x else { failed += 1; continue }
                let d = x - p
                errors.append((d * d).sum().squareRoot())
            }
            if !errors.isEmpty {
                f.treMeanMm = errors.reduce(0, +) / Double(errors.count)
                f.treMedianMm = MaskDistance.percentile(errors, 50)
                f.treMaxMm = errors.max()
            }
            f.treFailed = failed
        }
        return f
    }

    /// Registers the section to every slice in `range` with the linear stages only (coarser
    /// pyramid) and ranks them by intensity cost + mask weight · 2(1 − Dice), the engine's own
    /// objective at full resolution. Slices without organ are skipped.
    public static func searchSlices(mri: Volume, mask: Volume, range: ClosedRange<Int>, section: HistologySection,
                                    settings: Registration2DSettings, progress: (String) -> Void) throws -> [Candidate] {
        var s = settings
        s.linearOnly = true
        s.levels = [8, 4, 2]
        s.iterations = min(settings.iterations, 50)
        var out: [Candidate] = []
        for k in range {
            let t0 = Date()
            let z = mri.point(ofIndex: SIMD3(0, 0, Double(k))).z
            let fixed = try Image2D(slice: k, of: mri)
            var fm = try Image2D(slice: k, of: mask)
            for i in 0..<fm.pixels.count { fm.pixels[i] = fm.pixels[i] > 0.5 ? 1 : 0 }
            guard fm.pixels.contains(1) else {
                out.append(Candidate(slice: k, zMm: z, seconds: 0, note: "no organ on this slice"))
                continue
            }
            do {
                let r = try Registration2D(settings: s).register(fixed: fixed, fixedMask: fm, moving: section.image, movingMask: section.mask)
                let a = r.stages.last!
                let score = a.metric + s.maskWeight * 2 * (1 - a.dice)
                out.append(Candidate(slice: k, zMm: z, dice: a.dice, metric: a.metric, score: score, seconds: Date().timeIntervalSince(t0)))
                progress(String(format: "slice %d (z %.1f mm): Dice %.4f, cost %.4f, score %.4f", k, z, a.dice, a.metric, score))
            } catch {
                out.append(Candidate(slice: k, zMm: z, seconds: Date().timeIntervalSince(t0), note: "\(error)"))
                progress("slice \(k): \(error)")
            }
        }
        return out
    }
}
