import Foundation
import Registration
import TestSupport
import VolumeIO
import XCTest

/// Issue 8, item 6: histology-like sections generated from the real prostate T2 MRI with a
/// known flip/rotation/shrinkage and smooth warp, registered back.
final class ValidationTests: XCTestCase {
    /// The issue's targets, for every case.
    static let minDice = 0.97
    static let maxMeanTRE = 1.0

    func testSyntheticSectionsAreRecovered() throws {
        let mri = try NIfTI.read(try TestEnv.testdata("radiology/prostate/aaa0060_T2_axial.nii.gz"))
        let label = try NIfTI.read(try TestEnv.testdata("radiology/prostate/aaa0060_T2_axial_prostate_label.nii.gz"))
        let cases = [(13, 1), (14, 2), (15, 3), (14, 4)].map { SyntheticSection.parameters(slice: $0.0, seed: UInt64($0.1)) }
        for p in cases {
            let s = try SyntheticSection(mri: mri, label: label, p)
            let t0 = Date()
            let r = try Registration2D().register(fixed: s.fixed, fixedMask: s.fixedMask, moving: s.moving, movingMask: s.movingMask)
            let seconds = Date().timeIntervalSince(t0)
            let d = r.stages.last!.dice
            let e = s.tre(r.map)
            let line = r.stages.map { "\($0.stage) dice \(String(format: "%.4f", $0.dice)) cost \(String(format: "%.4f", $0.metric)) it \($0.iterations) \(String(format: "%.2f", $0.seconds))s" }
            print("VALIDATION \(p): dice \(String(format: "%.4f", d)), TRE mean \(String(format: "%.3f", e.mean)) max \(String(format: "%.3f", e.max)) mm, \(String(format: "%.2f", seconds)) s\n  " + line.joined(separator: "\n  "))
            XCTAssertGreaterThanOrEqual(d, Self.minDice, "\(p)")
            XCTAssertLessThanOrEqual(e.mean, Self.maxMeanTRE, "\(p)")
            // The other way: 60 random histology tissue pixels carried to the MRI by the inverse,
            // against where the truth puts them.
            var rng = SplitMix64(seed: p.seed)
            let tissue = (0..<s.movingMask.pixels.count).filter { s.movingMask.pixels[$0] > 0.5 }
            var back = 0.0
            for _ in 0..<60 {
                let k = tissue[Int(rng.next() % UInt64(tissue.count))]
                let y = s.moving.point(ofIndex: SIMD2(Double(k % s.moving.width), Double(k / s.moving.width)))
                guard let xi = r.inverseMap(y) else { XCTFail("no inverse at \(y)"); continue }
                let d = xi - s.truth.map(y)
                back += (d * d).sum().squareRoot() / 60
            }
            print("  histology → MRI TRE mean \(String(format: "%.3f", back)) mm")
            XCTAssertLessThanOrEqual(back, Self.maxMeanTRE, "\(p) histology → MRI")
        }
    }
}

extension ValidationTests {
    /// Sections whose gland interior carries no MRI-related texture (nuclei only): the outline
    /// and the bending-energy prior alone place interior points. A near-symmetric outline cannot
    /// tell mirror or rotation apart, so — as RAPSODI takes them from its stack JSON — the true
    /// mirror and a rotation hint off by 8° are given. Looser thresholds, set from what
    /// the engine reaches (not the issue's target): Dice ≥ 0.97 and mean TRE ≤ 2.5 mm.
    func testOutlineOnlySectionsAreRecovered() throws {
        let mri = try NIfTI.read(try TestEnv.testdata("radiology/prostate/aaa0060_T2_axial.nii.gz"))
        let label = try NIfTI.read(try TestEnv.testdata("radiology/prostate/aaa0060_T2_axial_prostate_label.nii.gz"))
        for p in [(13, 5), (14, 6), (15, 7)].map({ SyntheticSection.parameters(slice: $0.0, seed: UInt64($0.1)) }) {
            let s = try SyntheticSection(mri: mri, label: label, p, mriTexture: 0)
            var settings = Registration2DSettings()
            settings.flip = p.flipped
            // Truth rotates histology → MRI by θ after the mirror; fixed → moving is then θ with a
            // mirror and −θ without.
            settings.rotationHint = (p.flipped ? p.angleDegrees : -p.angleDegrees) + 8
            let r = try Registration2D(settings: settings).register(fixed: s.fixed, fixedMask: s.fixedMask, moving: s.moving, movingMask: s.movingMask)
            let e = s.tre(r.map), affine = s.tre(r.affine.map)
            print("OUTLINE-ONLY \(p): dice \(String(format: "%.4f", r.stages.last!.dice)), TRE mean \(String(format: "%.3f", e.mean)) max \(String(format: "%.3f", e.max)) mm (affine stage \(String(format: "%.3f", affine.mean)) mm)")
            XCTAssertGreaterThanOrEqual(r.stages.last!.dice, 0.97, "\(p)")
            XCTAssertLessThanOrEqual(e.mean, 2.5, "\(p)")
        }
    }
}
