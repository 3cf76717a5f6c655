import ArgumentParser
import Foundation
import ImageCore
import Registration
import VolumeIO
import ZlibIO

/// `radiopath register`: one histology section onto one MRI slice (issue 8).
struct RegisterCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "register",
        abstract: "Register a histology section to its MRI slice (rigid → similarity → affine → B-spline).",
        discussion: """
        Spaces: the MRI slice in LPS mm (x, y in the slice plane; z is the slice's
        position) and the slide in level-0 px (top-left corner at 0, 0). The
        section is read at --working-mpp (default: half the MRI pixel) with its
        tissue mask (CLAM-style detector, or --moving-mask).
        Under --out:
          transform.json              what warp reads: spaces, MRI grid, slide scale
          mri_to_slide_affine.tfm     ITK affine, MRI LPS mm → slide level-0 px
          mri_displacement.nii        B-spline part as a displacement field on the
                                      MRI slice grid (MRI mm → MRI mm), applied
                                      before the affine: p → A(p + d(p))
          stages/<stage>.tfm          each linear stage, MRI mm → slide px
          report.json                 Dice, 95 % Hausdorff (mm), landmark TRE (mm),
                                      cost, time per stage
          qc/<n>_<stage>_checkerboard.png, qc/<n>_<stage>_contours.png
        --landmarks CSV: fixed_x,fixed_y (MRI LPS mm), moving_x,moving_y (slide px).
        --slice auto searches the slice position and tilt (± --max-tilt) and
        registers on that oblique plane (transform.json records it).
        --stack without --section registers every section: section n on slice
        a + n − 1 of --slice-range a:b, or --slice auto; <out>/<key>/ each, and
        <out>/stack_report.json.
        --moving-volume/--moving-volume-mask: 3D registration of a volume onto
        --fixed (translation → rigid → affine → B-spline; --no-volume-bspline or
        --linear-only stop at the affine):
          volume_affine.tfm           ITK affine, fixed LPS mm → moving LPS mm
          volume_displacement.nii.gz  B-spline part on the fixed grid, applied
                                      before the affine: x → A(x + d(x)), i.e.
                                      SimpleITK CompositeTransform([affine, field])
          report.json                 Dice, 95 % Hausdorff (mm), cost, time per stage
          qc/<stage>_checkerboard.png, qc/<stage>_contours.png (axial | coronal |
                                      sagittal through the fixed mask's centroid)
        A run whose final Dice is under --min-dice writes the report and QC but no
        transform. Exit status: 0 done, 1 registration failed, 2 bad input.
        """)

    @Option(help: "MRI volume (NIfTI, NRRD or DICOM folder).") var fixed: String
    @Option(name: .customLong("fixed-mask"), help: "Organ mask on the MRI grid.") var fixedMask: String
    @Option(help: "MRI slice index (0-based) of the section, or 'auto': search position and tilt.") var slice: String?
    @Option(name: .customLong("max-tilt"), help: "With --slice auto: largest out-of-plane tilt (degrees) about x and y.") var maxTilt = 5.0
    @Option(name: .customLong("slice-range"), help: "Search slices a:b (inclusive) for the best match.") var sliceRange: String?
    @Option(help: "Slide or section image (anything SlideIO opens, or PNG/JPEG/TIFF).") var moving: String?
    @Option(name: .customLong("moving-mpp"), help: "µm per level-0 pixel of the section (overrides the file).") var movingMPP: Double?
    @Option(name: .customLong("moving-mask"), help: "Mask image of the section (non-black = tissue), any size covering the slide.") var movingMask: String?
    @Option(help: "RAPSODI histology stack JSON (file, µm/px, flip, rotation per section).") var stack: String?
    @Option(help: "Section of --stack: 1-based number or key (slice1).") var section: String?
    @Option(name: .customLong("working-mpp"), help: "µm/px at which the section is registered.") var workingMPP: Double?
    @Option(help: "Landmark pairs CSV for TRE.") var landmarks: String?
    @Flag(help: "The section is mirrored (left–right) relative to the MRI view.") var flip = false
    @Option(help: "Rotation hint (degrees, CCW as displayed) that brings the section into the MRI view.") var rotation: Double?
    @Flag(name: .customLong("linear-only"), help: "Stop after the affine stage.") var linearOnly = false
    @Option(name: .customLong("min-dice"), help: "Below this final Dice no transform is written.") var minDice = 0.8
    @Option(name: .customLong("moving-volume"), help: "3D: a volume to register to --fixed (affine), instead of a section.") var movingVolume: String?
    @Option(name: .customLong("moving-volume-mask"), help: "3D: organ mask on the --moving-volume grid.") var movingVolumeMask: String?
    @Option(name: .customLong("volume-metric"), help: "3D metric: ncc, msd or mi (Mattes, 32 bins).") var volumeMetric = "ncc"
    @Flag(name: .customLong("volume-bspline"), inversion: .prefixedNo, help: "3D: B-spline stage (20 → 10 mm control grid) after the affine.") var volumeBSpline = true
    @Option(help: "Output folder (created if missing).") var out: String
    @Flag(help: "Print a JSON summary on standard output.") var json = false

    func run() throws {
        let t0 = Date()
        do {
            if let stack, section == nil, movingVolume == nil { try registerStack(stack) } else { try work(t0) }
        } catch let e as RegistrationError {
            fail(e.reason, e.hint)
        } catch let e as VolumeError {
            fail("\(e.path): \(e.reason)", e.hint)
        } catch let e as ExitCode {
            throw e
        } catch {
            fail("\(error)", "")
        }
    }

    func fail(_ reason: String, _ hint: String, status: Int32 = 2) -> Never {
        FileHandle.standardError.write(Data("✗ \(reason)\n\(hint.isEmpty ? "" : "  → \(hint)\n")".utf8))
        Foundation.exit(status)
    }

    func note(_ s: String) { FileHandle.standardError.write(Data((s + "\n").utf8)) }

    func work(_ t0: Date) throws {
        // Inputs.
        var settings = Registration2DSettings()
        settings.linearOnly = linearOnly
        var movingPath = moving, mpp = movingMPP
        var stackSection: HistologyStack.Section?
        if let stack {
            guard let section else { throw RegistrationError("--stack needs --section N (which section of \(stack))", hint: "e.g. --section 1") }
            let st = try HistologyStack.read(stack)
            let s = try st.section(section, file: stack)
            stackSection = s
            if movingPath == nil { movingPath = s.resolvedPath(root: (stack as NSString).deletingLastPathComponent) }
            if mpp == nil { mpp = (s.mppX + s.mppY) / 2 }
            let h = s.registrationHints
            settings.flip = h.flip
            settings.rotationHint = h.rotationDegrees
        }
        if flip || rotation != nil {
            let a = rotation ?? 0
            settings.flip = flip
            settings.rotationHint = flip ? -a : a
        }
        if let movingVolume { return try registerVolumes(movingVolume, t0) }
        guard let movingPath else { throw RegistrationError("no section: give --moving FILE (or --stack with --section)", hint: "") }
        let auto = slice?.lowercased() == "auto"
        let sliceIndex = auto ? nil : slice.map { Int($0) }
        if let slice, !auto, sliceIndex! == nil { throw RegistrationError("--slice \(slice): expected a slice index (0-based) or auto", hint: "e.g. --slice 14 or --slice auto") }
        if sliceIndex != nil && sliceRange != nil { throw RegistrationError("give --slice or --slice-range, not both", hint: "--slice auto --slice-range a:b searches a:b with tilts") }
        guard (0...20).contains(maxTilt) else { throw RegistrationError("--max-tilt \(maxTilt): expected 0–20 degrees", hint: "") }
        try Self.requireOrientation(fixed)
        let mri = try VolumeFile.read(fixed)
        let organ = try VolumeFile.read(fixedMask)
        guard organ.hasSameGrid(as: mri) else {
            throw RegistrationError("\(fixedMask): its grid (\(organ.size), spacing \(organ.spacing)) differs from \(fixed)'s (\(mri.size), spacing \(mri.spacing))",
                                    hint: "resample the mask onto the MRI grid")
        }
        let range: ClosedRange<Int>
        if let slice = sliceIndex ?? nil {
            range = slice...slice
        } else if let sliceRange {
            let p = sliceRange.split(separator: ":").map { Int($0) }
            guard p.count == 2, let a = p[0], let b = p[1], a <= b else {
                throw RegistrationError("--slice-range \(sliceRange): expected a:b with a ≤ b", hint: "e.g. --slice-range 10:18")
            }
            range = a...b
        } else if auto {
            range = 0...(mri.size.z - 1)
        } else {
            throw RegistrationError("which MRI slice? give --slice K, --slice-range a:b or --slice auto", hint: "slices are 0-based, 0..<\(mri.size.z)")
        }
        guard range.lowerBound >= 0, range.upperBound < mri.size.z else {
            throw RegistrationError("\(fixed): slice(s) \(range) outside the volume (0..<\(mri.size.z))", hint: "slices are 0-based")
        }
        let working = workingMPP ?? min(mri.spacing.x, mri.spacing.y) * 1000 / 2
        note("reading \(movingPath) at \(String(format: "%.0f", working)) µm/px …")
        let sec = try HistologySection.load(path: movingPath, mpp: mpp, workingMPP: working, maskPath: movingMask)
        note("  \(sec.image.width)×\(sec.image.height) px, \(String(format: "%.4g", sec.mppX)) µm/px (\(sec.mppSource)), mask: \(sec.maskSource)")
        let marks = try landmarks.map { try SectionRegistration.Landmarks.read($0) }

        // Clear an earlier run's transform so a failure cannot leave a valid-looking one.
        try FileManager.default.createDirectory(atPath: out + "/qc", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: out + "/stages", withIntermediateDirectories: true)
        for f in [SectionTransform.manifestName, SectionTransform.affineName, SectionTransform.fieldName] {
            try? FileManager.default.removeItem(atPath: out + "/" + f)
        }

        // Slice.
        var candidates: [SectionRegistration.Candidate]?
        var k = range.lowerBound
        var planeSearch: SliceSearch.Result?
        if auto {
            note("searching slice position and tilt (± \(maxTilt)°) …")
            let r = try SliceSearch.search(mri: mri, mask: organ, moving: sec.image, movingMask: sec.mask, settings: settings,
                                           range: sliceRange == nil ? nil : range, maxAngle: maxTilt) { note("  " + $0) }
            planeSearch = r
            k = min(max(Int(r.sliceIndex.rounded()), 0), mri.size.z - 1)
            note(String(format: "  plane: slice %.2f (z %.2f mm), tilt %.2f° about x, %.2f° about y", r.sliceIndex, r.zMm, r.angleXDegrees, r.angleYDegrees))
        } else if range.count > 1 {
            note("searching slices \(range.lowerBound)…\(range.upperBound) (linear stages) …")
            let c = try SectionRegistration.searchSlices(mri: mri, mask: organ, range: range, section: sec, settings: settings) { note("  " + $0) }
            guard let best = c.filter({ $0.score != nil }).min(by: { $0.score! < $1.score! }) else {
                throw RegistrationError("no slice in \(range) could be registered (\(c.compactMap(\.note).first ?? "no organ"))", hint: "check the range and the masks")
            }
            k = best.slice
            candidates = c
            note("  best slice \(k)")
        }
        var fixedImage = try Image2D(slice: k, of: mri)
        var fm = try Image2D(slice: k, of: organ)
        if let p = planeSearch?.plane {
            fixedImage = p.resample(mri, onto: fixedImage)
            fm = p.resample(organ, onto: fm)
        }
        for i in 0..<fm.pixels.count { fm.pixels[i] = fm.pixels[i] > 0.5 ? 1 : 0 }
        guard fm.pixels.contains(1) else {
            throw RegistrationError("\(fixedMask): no organ on slice \(k)", hint: "pick a slice through the organ (--slice-range searches)")
        }

        note("registering to slice \(k) …")
        let result = try Registration2D(settings: settings).register(fixed: fixedImage, fixedMask: fm, moving: sec.image, movingMask: sec.mask)
        var figures: [SectionRegistration.StageFigures] = []
        var outputs: [String] = []
        let glass = Float(Self.median(sec.image.pixels))
        for (n, (report, t)) in SectionRegistration.stages(result).enumerated() {
            let warpedMask = sec.mask.warpedMask(onto: fm, through: t)
            let f = SectionRegistration.figures(report, t, fixedMask: fm, movingMask: sec.mask, section: sec, landmarks: marks,
                                                warpedMask: warpedMask)
            figures.append(f)
            var line = String(format: "  %-10@ Dice %.4f  HD95 %@  %.2f s", report.stage, f.dice, f.hausdorff95Mm.map { String(format: "%.2f mm", $0) } ?? "–", f.seconds)
            if let m = f.treMeanMm { line += String(format: "  TRE mean %.3f mm (max %.3f)", m, f.treMaxMm ?? 0) }
            note(line)
            let warped = sec.image.resampled(onto: fixedImage, through: t, outside: glass)
            let title = String(format: "%@  Dice %.4f", report.stage, f.dice)
            let stem = "qc/\(n)_\(report.stage)"
            try AtomicFile.write(try PNGCodec.encode(RegistrationQC.checkerboard(fixed: fixedImage, warped: warped, title: title)), to: "\(out)/\(stem)_checkerboard.png")
            try AtomicFile.write(try PNGCodec.encode(RegistrationQC.contours(fixed: fixedImage, fixedMask: fm, warpedMask: warpedMask, title: title)), to: "\(out)/\(stem)_contours.png")
            outputs += ["\(stem)_checkerboard.png", "\(stem)_contours.png"]
            if let m = t as? MatrixTransform2D {
                try ITKTransformFile.write(SectionTransform.toPixels(m, mppX: sec.mppX, mppY: sec.mppY), to: "\(out)/stages/\(report.stage).tfm")
                outputs.append("stages/\(report.stage).tfm")
            }
        }
        let final = figures.last!
        let ok = final.dice >= minDice
        if ok {
            let affine = result.deformable?.affine ?? result.affine
            let field = result.deformable.map { DisplacementField2D(sampling: $0.bspline, on: fixedImage) }
            let st = SectionTransform(affine: SectionTransform.toPixels(affine, mppX: sec.mppX, mppY: sec.mppY), field: field,
                                      mri: .init(path: fixed, volume: mri, slice: k, plane: planeSearch?.plane),
                                      slide: .init(path: movingPath, width: sec.slideWidth, height: sec.slideHeight, mppX: sec.mppX, mppY: sec.mppY))
            try st.write(folder: out)
            outputs = [SectionTransform.manifestName, SectionTransform.affineName] + (field == nil ? [] : [SectionTransform.fieldName]) + outputs
        }

        let report = Report(
            status: ok ? "ok" : "failed",
            error: ok ? nil : String(format: "final Dice %.4f is under --min-dice %.2f: no transform written", final.dice, minDice),
            version: RadioPath.version,
            fixed: fixed, fixedMask: fixedMask, slice: k, sliceZMm: planeSearch?.zMm ?? mri.point(ofIndex: SIMD3(0, 0, Double(k))).z,
            sliceSelection: planeSearch != nil ? "searched position and tilt (± \(maxTilt)°): oblique plane resampled from the volume (trilinear), lowest cost + \(settings.maskWeight)·mask mismatch; slice = nearest axial slice"
                : candidates == nil ? "given" : "searched \(range.lowerBound):\(range.upperBound), lowest cost + \(settings.maskWeight)·2(1 − Dice) after the affine stage",
            candidates: candidates ?? planeSearch?.axial, plane: planeSearch,
            moving: movingPath, movingMppX: sec.mppX, movingMppY: sec.mppY, movingMppSource: sec.mppSource,
            stackSection: stackSection?.key,
            workingMpp: sec.image.spacing.x * 1000, workingSize: [sec.image.width, sec.image.height], movingMask: sec.maskSource,
            flipHint: settings.flip, rotationHintDegrees: settings.rotationHint, landmarks: landmarks, landmarkCount: marks?.fixed.count,
            spaces: [
                "fixed": "MRI slice, LPS mm (x, y in the slice plane; z = sliceZMm); with plane: the oblique plane, whose 2D x, y map to LPS through plane.plane",
                "moving": "slide level-0 px (top-left corner at 0, 0; pixel centres at i + 0.5)",
                "transforms": "fixed → moving (ITK convention): mri_to_slide_affine.tfm maps MRI LPS mm to slide px after the displacement field (MRI mm → MRI mm)",
                "measuredAt": "every stage figure uses that stage's transform: Dice and HD95 of the MRI mask vs the section mask resampled onto the MRI slice grid (threshold 0.5); TRE = distance (MRI mm) between each fixed landmark and its slide partner carried to the MRI by the stage's inverse",
            ],
            stages: figures, result: final, outputs: outputs, seconds: Date().timeIntervalSince(t0))
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        enc.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        try AtomicFile.write(try enc.encode(report), to: out + "/report.json")
        let summary = String(format: "%@ slice %d: Dice %.4f, HD95 %@", ok ? "✓" : "✗", k, final.dice, final.hausdorff95Mm.map { String(format: "%.2f mm", $0) } ?? "–")
            + (final.treMeanMm.map { String(format: ", TRE %.3f mm", $0) } ?? "") + String(format: ", %.1f s — report: %@/report.json", report.seconds, out)
        note(summary)
        if json {
            let s: [String: Any] = ["status": report.status, "slice": k, "dice": final.dice, "hausdorff95_mm": final.hausdorff95Mm ?? NSNull(),
                                    "tre_mean_mm": final.treMeanMm ?? NSNull(), "report": out + "/report.json", "out": out, "seconds": report.seconds]
            print(String(decoding: try JSONSerialization.data(withJSONObject: s, options: [.sortedKeys]), as: UTF8.self))
        }
        if !ok {
            note("  → \(report.error!); check the masks and the orientation hints (--flip, --rotation), or lower --min-dice")
            throw ExitCode(1)
        }
    }

    /// Every section of a RAPSODI stack, in order: section n on slice a + n − 1 of
    /// --slice-range a:b (one slice per section), or each searched with --slice auto. Each goes
    /// to <out>/<key>/ as a single run would; <out>/stack_report.json lists them all. A failed
    /// section does not stop the others; the exit status is then 1.
    func registerStack(_ stackPath: String) throws {
        let t0 = Date()
        guard moving == nil, movingMask == nil, landmarks == nil else {
            throw RegistrationError("--moving, --moving-mask and --landmarks name one section's files; a whole-stack run takes each section from \(stackPath)",
                                    hint: "register one section with --section N to use them")
        }
        let st = try HistologyStack.read(stackPath)
        let n = st.sections.count
        var slices: [String]
        if slice?.lowercased() == "auto" {
            slices = Array(repeating: "auto", count: n)
        } else if let sliceRange, slice == nil {
            let p = sliceRange.split(separator: ":").map { Int($0) }
            guard p.count == 2, let a = p[0], let b = p[1], a <= b else {
                throw RegistrationError("--slice-range \(sliceRange): expected a:b with a ≤ b", hint: "one MRI slice per section, e.g. --slice-range 13:15 for 3 sections")
            }
            guard b - a + 1 == n else {
                throw RegistrationError("\(stackPath) has \(n) sections but --slice-range \(sliceRange) spans \(b - a + 1) slices",
                                        hint: "give one MRI slice per section (a:\(a + n - 1)), or --slice auto to search each section's plane")
            }
            slices = (a...b).map(String.init)
        } else {
            throw RegistrationError("a whole stack needs --slice-range a:b (section n on slice a + n − 1) or --slice auto",
                                    hint: "or register one section with --section N")
        }
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        var rows: [[String: Any]] = []
        var failed = 0
        for (i, s) in st.sections.enumerated() {
            note("section \(i + 1)/\(n) (\(s.key), \(s.id)) → slice \(slices[i]) …")
            var c = self
            c.section = "\(i + 1)"
            c.slice = slices[i]
            c.sliceRange = nil
            c.out = out + "/" + s.key
            c.json = false
            var row: [String: Any] = ["section": s.key, "id": s.id, "out": s.key]
            do {
                try c.work(Date())
                row["status"] = "ok"
            } catch let e as RegistrationError {
                row["status"] = "error"; row["error"] = e.description; failed += 1
                note("  ✗ \(e.reason)\(e.hint.isEmpty ? "" : " → \(e.hint)")")
            } catch let e as VolumeError {
                row["status"] = "error"; row["error"] = e.description; failed += 1
                note("  ✗ \(e.description)")
            } catch is ExitCode {
                row["status"] = "failed"; failed += 1
            }
            if let d = FileManager.default.contents(atPath: c.out + "/report.json"), row["status"] as? String != "error",
               let rep = try? JSONSerialization.jsonObject(with: d) as? [String: Any] {
                row["slice"] = rep["slice"]; row["result"] = rep["result"]; row["report"] = s.key + "/report.json"
            }
            rows.append(row)
        }
        let report: [String: Any] = ["stack": stackPath, "fixed": fixed, "fixedMask": fixedMask, "sections": rows, "failed": failed,
                                     "version": RadioPath.version, "seconds": Date().timeIntervalSince(t0)]
        try AtomicFile.write(try JSONSerialization.data(withJSONObject: report, options: [.prettyPrinted, .sortedKeys]), to: out + "/stack_report.json")
        note("\(failed == 0 ? "✓" : "✗") stack: \(n - failed)/\(n) sections registered, \(String(format: "%.1f", Date().timeIntervalSince(t0))) s — report: \(out)/stack_report.json")
        if json { print(String(decoding: try JSONSerialization.data(withJSONObject: ["failed": failed, "sections": n, "report": out + "/stack_report.json"], options: [.sortedKeys]), as: UTF8.self)) }
        if failed > 0 { throw ExitCode(1) }
    }

    /// 3D: --moving-volume onto --fixed (moments → translation → rigid → affine → B-spline);
    /// writes volume_affine.tfm, volume_displacement.nii.gz, report.json and the QC pictures.
    func registerVolumes(_ movingVolume: String, _ t0: Date) throws {
        guard let movingVolumeMask else {
            throw RegistrationError("--moving-volume needs --moving-volume-mask (the organ on its grid)", hint: "the masks drive the initialisation and the sample region")
        }
        try Self.requireOrientation(fixed)
        try Self.requireOrientation(movingVolume)
        let f = try VolumeFile.read(fixed), fm = try VolumeFile.read(fixedMask)
        let m = try VolumeFile.read(movingVolume), mm = try VolumeFile.read(movingVolumeMask)
        guard fm.hasSameGrid(as: f) else { throw RegistrationError("\(fixedMask): not on the grid of \(fixed)", hint: "resample the mask onto the volume's grid") }
        guard mm.hasSameGrid(as: m) else { throw RegistrationError("\(movingVolumeMask): not on the grid of \(movingVolume)", hint: "resample the mask onto the volume's grid") }
        try FileManager.default.createDirectory(atPath: out + "/qc", withIntermediateDirectories: true)
        let tfm = out + "/volume_affine.tfm", field = out + "/volume_displacement.nii.gz"
        try? FileManager.default.removeItem(atPath: tfm)
        try? FileManager.default.removeItem(atPath: field)
        var settings = Registration3DSettings()
        settings.deformable = volumeBSpline && !linearOnly
        switch volumeMetric.lowercased() {
        case "ncc": settings.metric = .normalizedCorrelation
        case "msd": settings.metric = .meanSquares
        case "mi": settings.metric = .mattesMutualInformation(bins: 32)
        default: throw RegistrationError("--volume-metric \(volumeMetric): expected ncc, msd or mi", hint: "mi for different modalities (MRI ⇄ CT)")
        }
        note("registering \(movingVolume) to \(fixed) (3D \(settings.deformable ? "affine + B-spline" : "affine"), \(volumeMetric)) …")
        let r = try Registration3D(settings: settings).register(fixed: f, fixedMask: fm, moving: m, movingMask: mm)
        for st in r.stages {
            note(String(format: "  %-12@ Dice %.4f  HD95 %@  cost %.4f  %d it  %.2f s", st.stage, st.dice,
                        st.hausdorff95.map { String(format: "%.2f mm", $0) } ?? "n/a", st.metric, st.iterations, st.seconds))
        }
        // QC: each stage through the fixed mask's centroid.
        let centre = Registration3D.moments(fm)?.centroid ?? .zero
        let maps: [String: (SIMD3<Double>) -> SIMD3<Double>] = [
            "initial": r.initial.map, "translation": r.translation.map, "rigid": r.rigid.map, "affine": r.affine.map,
            "bspline": r.deformable.map { d in { d.map($0) } } ?? r.affine.map,
        ]
        var qc: [String] = []
        for (n, st) in r.stages.enumerated() {
            guard let map = maps[st.stage] else { continue }
            let pics = RegistrationQC3D.overlays(fixed: f, fixedMask: fm, moving: m, movingMask: mm, through: map, at: centre,
                                                 title: String(format: "%@ Dice %.3f", st.stage, st.dice))
            let stem = "qc/\(n)_\(st.stage)"
            try AtomicFile.write(try PNGCodec.encode(pics.checkerboard), to: "\(out)/\(stem)_checkerboard.png")
            try AtomicFile.write(try PNGCodec.encode(pics.contours), to: "\(out)/\(stem)_contours.png")
            qc += ["\(stem)_checkerboard.png", "\(stem)_contours.png"]
        }
        if r.deformable != nil, !r.deformableKept { note("  (B-spline reset: it did not lower the full-resolution cost)") }
        let dice = r.stages.last!.dice, ok = dice >= minDice
        if ok {
            try ITKTransformFile.write(r.affine, to: tfm)
            if let d = r.deformable { try DisplacementField3D(sampling: d.bspline.map, on: f).writeNIfTI(to: field) }
        }
        let report: [String: Any] = [
            "status": ok ? "ok" : "failed", "version": RadioPath.version, "fixed": fixed, "fixedMask": fixedMask,
            "moving": movingVolume, "movingMask": movingVolumeMask, "metric": volumeMetric.lowercased(),
            "transform": ok ? "volume_affine.tfm" : NSNull(),
            "displacement": ok && r.deformable != nil ? "volume_displacement.nii.gz" : NSNull(),
            "transformSpace": "fixed LPS mm -> moving LPS mm: x -> A(x + d(x)), A = volume_affine.tfm (ITK AffineTransform_double_3_3), d = volume_displacement.nii.gz (vector NIfTI on the fixed grid, LPS mm); SimpleITK CompositeTransform([ReadTransform(tfm), DisplacementFieldTransform(field)]) then Resample(moving, fixed, composite)",
            "bspline": r.deformable.map { d -> [String: Any] in
                ["gridSpacingMm": [d.bspline.gridSpacing.x, d.bspline.gridSpacing.y, d.bspline.gridSpacing.z],
                 "nodes": [d.bspline.nodes.x, d.bspline.nodes.y, d.bspline.nodes.z], "bendingWeight": settings.bendingWeight, "maskWeight": settings.maskWeight,
                 "kept": r.deformableKept,
                 "note": r.deformableKept ? "" : "the B-spline did not lower the full-resolution cost and was reset to zero displacement (the field is zero)"]
            } ?? NSNull(),
            "stages": r.stages.map { ["stage": $0.stage, "dice": $0.dice, "hausdorff95Mm": $0.hausdorff95 ?? NSNull(), "metric": $0.metric,
                                      "iterations": $0.iterations, "seconds": $0.seconds, "measuredAt": "fixed grid, full resolution"] as [String: Any] },
            "qc": qc,
            "error": ok ? NSNull() : String(format: "final Dice %.4f is under --min-dice %.2f: no transform written", dice, minDice),
            "seconds": Date().timeIntervalSince(t0),
        ]
        try AtomicFile.write(try JSONSerialization.data(withJSONObject: report, options: [.prettyPrinted, .sortedKeys]), to: out + "/report.json")
        note(String(format: "%@ 3D %@: Dice %.4f, %.1f s — report: %@/report.json", ok ? "✓" : "✗", r.stages.last!.stage, dice, Date().timeIntervalSince(t0), out))
        if !ok { throw ExitCode(1) }
    }

    /// A NIfTI whose qform and sform codes are both 0 has no patient orientation (readers fall
    /// back to an identity grid at the origin): registering in mm would give transforms that
    /// look valid and are not. Other formats always carry their geometry.
    static func requireOrientation(_ path: String) throws {
        let lower = path.lowercased()
        guard lower.hasSuffix(".nii") || lower.hasSuffix(".nii.gz"),
              var d = FileManager.default.contents(atPath: path) else { return }
        if Gzip.isGzip(d) { d = try Gzip.decompress(d) }
        guard d.count >= 352 else { return }
        let b = [UInt8](d.prefix(352))
        func le32(_ o: Int) -> Int32 { Int32(bitPattern: UInt32(b[o]) | UInt32(b[o + 1]) << 8 | UInt32(b[o + 2]) << 16 | UInt32(b[o + 3]) << 24) }
        func i16(_ o: Int, _ little: Bool) -> Int { let v = little ? UInt16(b[o]) | UInt16(b[o + 1]) << 8 : UInt16(b[o]) << 8 | UInt16(b[o + 1]); return Int(Int16(bitPattern: v)) }
        let q: Int, s: Int
        if le32(0) == 348 || le32(0).byteSwapped == 348 {
            let little = le32(0) == 348
            q = i16(252, little); s = i16(254, little)
        } else if le32(0) == 540 {
            q = Int(le32(344)); s = Int(le32(348))
        } else { return }
        if q <= 0 && s <= 0 {
            throw RegistrationError("\(path): the volume has no orientation (NIfTI qform_code and sform_code are both 0), so its voxels have no place in patient mm",
                                    hint: "convert the scanner's DICOM again (e.g. dcm2niix) or pass the DICOM folder itself")
        }
    }

    static func median(_ v: [Float]) -> Double { let s = v.sorted(); return s.isEmpty ? 0 : Double(s[s.count / 2]) }

    struct Report: Encodable {
        var status: String
        var error: String?
        var version: String
        var fixed: String, fixedMask: String
        var slice: Int
        var sliceZMm: Double
        var sliceSelection: String
        var candidates: [SectionRegistration.Candidate]?
        /// With --slice auto: the plane found (centre, tilts, continuous slice index).
        var plane: SliceSearch.Result?
        var moving: String
        var movingMppX: Double, movingMppY: Double
        var movingMppSource: String
        var stackSection: String?
        var workingMpp: Double
        var workingSize: [Int]
        var movingMask: String
        var flipHint: Bool?
        var rotationHintDegrees: Double?
        var landmarks: String?
        var landmarkCount: Int?
        var spaces: [String: String]
        var stages: [SectionRegistration.StageFigures]
        var result: SectionRegistration.StageFigures
        var outputs: [String]
        var seconds: Double
    }
}
