import Foundation
import Registration
import TestSupport
import VolumeIO
import XCTest

/// Writes the validation pairs for bench/bench_register.py (elastix side by side) and times
/// RadioPath on them. Skipped unless RADIOPATH_REG_BENCH names an output folder; the number of
/// cases comes from RADIOPATH_REG_BENCH_CASES (default 6).
final class BenchExportTests: XCTestCase {
    func testExportBenchPairs() throws {
        guard let out = ProcessInfo.processInfo.environment["RADIOPATH_REG_BENCH"], !out.isEmpty else {
            throw XCTSkip("SKIPPED: set RADIOPATH_REG_BENCH=<folder> to export registration bench pairs")
        }
        let count = Int(ProcessInfo.processInfo.environment["RADIOPATH_REG_BENCH_CASES"] ?? "") ?? 6
        let mri = try NIfTI.read(try TestEnv.testdata("radiology/prostate/aaa0060_T2_axial.nii.gz"))
        let label = try NIfTI.read(try TestEnv.testdata("radiology/prostate/aaa0060_T2_axial_prostate_label.nii.gz"))
        let slices = [13, 14, 15]
        for n in 0..<count {
            let p = SyntheticSection.parameters(slice: slices[n % 3], seed: UInt64(100 + n))
            let s = try SyntheticSection(mri: mri, label: label, p)
            let dir = out + "/case\(n)"
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            try writeMHA(s.fixed, dir + "/fixed.mha")
            try writeMHA(s.fixedMask, dir + "/fixed_mask.mha")
            try writeMHA(s.moving, dir + "/moving.mha")
            try writeMHA(s.movingMask, dir + "/moving_mask.mha")
            let settings = Registration2DSettings()
            let t0 = Date()
            let r = try Registration2D(settings: settings).register(fixed: s.fixed, fixedMask: s.fixedMask, moving: s.moving, movingMask: s.movingMask)
            let seconds = Date().timeIntervalSince(t0)
            // The sample region (mask bounding box + margin), which elastix gets as its fixed mask.
            var region = s.fixedMask
            var lo = SIMD2(Double.infinity, .infinity), hi = -lo
            for j in 0..<region.height { for i in 0..<region.width where s.fixedMask[i, j] > 0.5 {
                let q = region.point(ofIndex: SIMD2(Double(i), Double(j))); lo = pointwiseMin(lo, q); hi = pointwiseMax(hi, q)
            } }
            lo -= settings.margin; hi += settings.margin
            for j in 0..<region.height { for i in 0..<region.width {
                let q = region.point(ofIndex: SIMD2(Double(i), Double(j)))
                region[i, j] = q.x >= lo.x && q.y >= lo.y && q.x <= hi.x && q.y <= hi.y ? 1 : 0
            } }
            try writeMHA(region, dir + "/region.mha")
            try elastixInitial(r.initial, s.fixed).write(toFile: dir + "/initial.txt", atomically: true, encoding: .utf8)
            try ITKTransformFile.write(r.affine, to: dir + "/radiopath_affine.tfm")
            let e = s.tre(r.map)
            let t = s.truth
            let json: [String: Any] = [
                "case": "\(p)",
                "truth": ["fixedCenter": [t.fixedCenter.x, t.fixedCenter.y], "movingCenter": [t.movingCenter.x, t.movingCenter.y],
                          "scale": t.scale, "angle": t.angle, "flipped": t.flipped,
                          "bumps": t.bumps.map { ["center": [$0.center.x, $0.center.y], "amplitude": [$0.amplitude.x, $0.amplitude.y], "sigma": $0.sigma] }],
                "points": s.points.map { [$0.x, $0.y] },
                "radiopath": ["dice": r.stages.last!.dice, "tre_mean": e.mean, "tre_max": e.max, "seconds": seconds,
                              "stages": r.stages.map { ["stage": $0.stage, "dice": $0.dice, "metric": $0.metric, "seconds": $0.seconds, "iterations": $0.iterations] }],
            ]
            try JSONSerialization.data(withJSONObject: json, options: [.prettyPrinted, .sortedKeys]).write(to: URL(fileURLWithPath: dir + "/case.json"))
            print("BENCH case\(n) \(p): RadioPath dice \(String(format: "%.4f", r.stages.last!.dice)) TRE \(String(format: "%.3f", e.mean)) mm \(String(format: "%.2f", seconds)) s")
            XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/case.json"))
        }
    }

    /// MetaImage (.mha): LPS like ITK, so 2D images keep their frame; elastix reads it.
    func writeMHA(_ img: Image2D, _ path: String) throws {
        var d = Data("""
        ObjectType = Image
        NDims = 2
        BinaryData = True
        BinaryDataByteOrderMSB = False
        TransformMatrix = 1 0 0 1
        Offset = \(img.origin.x) \(img.origin.y)
        ElementSpacing = \(img.spacing.x) \(img.spacing.y)
        DimSize = \(img.width) \(img.height)
        ElementType = MET_FLOAT
        ElementDataFile = LOCAL

        """.utf8)
        img.pixels.withUnsafeBufferPointer { d.append(Data(buffer: $0)) }
        try d.write(to: URL(fileURLWithPath: path))
    }

    /// Our moment/rotation-search start as an elastix initial transform (-t0).
    func elastixInitial(_ t: MatrixTransform2D, _ fixed: Image2D) -> String {
        let a = t.asAffine.parameters
        return """
        (Transform "AffineTransform")
        (NumberOfParameters 6)
        (TransformParameters \(a.map { "\($0)" }.joined(separator: " ")))
        (InitialTransformParametersFileName "NoInitialTransform")
        (HowToCombineTransforms "Compose")
        (FixedImageDimension 2)
        (MovingImageDimension 2)
        (FixedInternalImagePixelType "float")
        (MovingInternalImagePixelType "float")
        (Size \(fixed.width) \(fixed.height))
        (Index 0 0)
        (Spacing \(fixed.spacing.x) \(fixed.spacing.y))
        (Origin \(fixed.origin.x) \(fixed.origin.y))
        (Direction 1 0 0 1)
        (UseDirectionCosines "true")
        (CenterOfRotationPoint \(t.center.x) \(t.center.y))

        """
    }
}
