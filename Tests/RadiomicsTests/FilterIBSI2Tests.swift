import Foundation
import XCTest
import TestSupport
import VolumeIO
@testable import Radiomics

/// IBSI 2 phase-1 checks: impulse responses that must equal the kernels (always run), and the
/// IBSI reference response maps on the IBSI digital phantoms when they are present under
/// `ibsi2/` in the test data (phantoms from github.com/theibsi/data_sets
/// `ibsi_2_digital_phantom/nifti/<name>/image/<name>.nii.gz` → `ibsi2/phantoms/<name>.nii.gz`;
/// maps from github.com/theibsi/ibsi_2_reference_data `reference_response_maps/` →
/// `ibsi2/reference_response_maps/`).
final class FilterIBSI2Tests: XCTestCase {
    /// Mean 2-D of an impulse: 1/M² on the M×M square of the impulse's slice, 0 elsewhere.
    func testMeanImpulseResponse() throws {
        let v = FilterFixtures.impulse(11)
        let r = try FilterFixtures.single(.mean(support: 5, dimension: .twoD, padding: .constant), v)
        for k in 0..<11 { for j in 0..<11 { for i in 0..<11 {
            let inside = k == 5 && abs(i - 5) <= 2 && abs(j - 5) <= 2
            XCTAssertEqual(r[v.index(i, j, k)], inside ? 1 / 25 : 0, accuracy: 1e-7)
        } } }
    }

    /// LoG of an impulse is the IBSI kernel: −(1/σ²)(1/(σ√2π))³(3 − |k|²/σ²)e^(−|k|²/2σ²),
    /// σ in voxels, and exactly 0 beyond the support ⌊4σ + 0.5⌋.
    func testLoGImpulseResponse() throws {
        let v = FilterFixtures.impulse(33, spacing: 2)
        let r = try FilterFixtures.single(.laplacianOfGaussian(sigma: 3, padding: .constant), v)
        let s = 1.5
        for (i, j, k) in [(16, 16, 16), (18, 15, 16), (20, 20, 19), (16, 16, 22)] {
            let n2 = Double((i - 16) * (i - 16) + (j - 16) * (j - 16) + (k - 16) * (k - 16))
            let expected = -1 / (s * s) * pow(1 / (s * (2 * Double.pi).squareRoot()), 3) * (3 - n2 / (s * s)) * exp(-n2 / (2 * s * s))
            XCTAssertEqual(Double(r[v.index(i, j, k)]), expected, accuracy: 1e-7)
        }
        XCTAssertEqual(r[v.index(16, 16, 16 + 7)], 0)      // ⌊4·1.5 + 0.5⌋ = 6
        XCTAssertNotEqual(r[v.index(16, 16, 16 + 6)], 0)
    }

    /// Laws E5L5S5 and a db2 wavelet band of an impulse: the separable kernel, E5 along i,
    /// as a convolution (the kernel's tap at offset o lands at impulse + o).
    func testLawsAndWaveletImpulseResponses() throws {
        let v = FilterFixtures.impulse(15)
        let laws = try FilterFixtures.single(.laws(kernel: "E5L5S5", padding: .constant), v)
        let e5 = [-1.0, -2, 0, 2, 1].map { $0 / 10.0.squareRoot() }, l5 = [1.0, 4, 6, 4, 1].map { $0 / 70.0.squareRoot() }
        let s5 = [-1.0, 0, 2, 0, -1].map { $0 / 6.0.squareRoot() }
        for a in 0..<5 { for b in 0..<5 { for c in 0..<5 {
            XCTAssertEqual(Double(laws[v.index(5 + a, 5 + b, 5 + c)]), e5[a] * l5[b] * s5[c], accuracy: 1e-7)
        } } }
        let band = try apply(.wavelet(WaveletParameters(family: "db2", subbands: ["LHL"], padding: .constant)), to: v)[0].volume
        let lo = [-0.12940952255126037, 0.2241438680420134, 0.8365163037378079, 0.48296291314453416]
        let hi = (0..<4).map { k in (k % 2 == 0 ? -1.0 : 1.0) * lo[3 - k] }
        for a in 0..<4 { for b in 0..<4 { for c in 0..<4 {     // even kernel: offsets −2…1
            XCTAssertEqual(Double(band[5 + a, 5 + b, 5 + c]), lo[a] * hi[b] * lo[c], accuracy: 1e-7)
        } } }
    }

    /// Gabor of an impulse: the modulus of the kernel is its Gaussian envelope.
    func testGaborImpulseResponse() throws {
        let v = FilterFixtures.impulse(41, spacing: 2)
        let p = GaborParameters(sigma: 6, lambda: 4, gamma: 0.5, theta: 60, padding: .constant)
        let r = try FilterFixtures.single(.gabor(p), v)
        let t = 60 * Double.pi / 180
        for (i, j) in [(20, 20), (23, 18), (14, 25), (20, 30)] {
            let x = Double(i - 20) * 2, y = Double(j - 20) * 2
            let t1 = x * cos(t) + y * sin(t), t2 = -x * sin(t) + y * cos(t)
            XCTAssertEqual(Double(r[v.index(i, j, 20)]), exp(-(t1 * t1 + 0.25 * t2 * t2) / 72), accuracy: 1e-6)
        }
        XCTAssertEqual(r[v.index(20, 20, 21)], 0, accuracy: 1e-6)   // in-plane only
    }

    /// The IBSI 2 phase-1 configurations on the IBSI digital phantoms: every voxel within 1% of
    /// the reference map's range (the IBSI criterion). Prints how many pass.
    func testIBSIReferenceResponseMaps() throws {
        let root = try TestEnv.testdata("ibsi2/reference_response_maps/1_a_1-ValidCRM.nii")
            .replacingOccurrences(of: "/reference_response_maps/1_a_1-ValidCRM.nii", with: "")
        let gaborA = GaborParameters(sigma: 10, lambda: 4, gamma: 0.5, theta: 60, padding: .constant)
        var gaborA2 = gaborA
        gaborA2.thetaStep = 45
        gaborA2.orthogonalPlanes = true
        let gaborB = GaborParameters(sigma: 20, lambda: 8, gamma: 2.5, theta: 225, padding: .mirror)
        var gaborB2 = gaborB
        gaborB2.thetaStep = 22.5
        gaborB2.orthogonalPlanes = true
        func wavelet(_ w: String, _ band: String, level: Int, rot: Bool, _ pad: PaddingMode) -> FilterSpec {
            .wavelet(WaveletParameters(family: w, levels: level...level, subbands: [band], rotationInvariant: rot, padding: pad))
        }
        let cases: [(String, String, FilterSpec)] = [
            ("1_a_1", "checkerboard", .mean(support: 15, padding: .constant)),
            ("1_a_2", "checkerboard", .mean(support: 15, padding: .nearest)),
            ("1_a_3", "checkerboard", .mean(support: 15, padding: .periodic)),
            ("1_a_4", "checkerboard", .mean(support: 15, padding: .mirror)),
            ("1_b_1", "impulse", .mean(support: 15, dimension: .twoD, padding: .constant)),
            ("2_a", "impulse", .laplacianOfGaussian(sigma: 3, padding: .constant)),
            ("2_b", "checkerboard", .laplacianOfGaussian(sigma: 5, padding: .mirror)),
            ("2_c", "checkerboard", .laplacianOfGaussian(sigma: 5, dimension: .twoD, padding: .mirror)),
            ("3_a_1", "impulse", .laws(kernel: "E5L5S5", padding: .constant)),
            ("3_a_2", "impulse", .laws(kernel: "E5L5S5", rotationInvariant: true, padding: .constant)),
            ("3_a_3", "impulse", .laws(kernel: "E5L5S5", rotationInvariant: true, energyDistance: 7, padding: .constant)),
            ("3_b_1", "checkerboard", .laws(kernel: "E3W5R5", padding: .mirror)),
            ("3_b_2", "checkerboard", .laws(kernel: "E3W5R5", rotationInvariant: true, padding: .mirror)),
            ("3_b_3", "checkerboard", .laws(kernel: "E3W5R5", rotationInvariant: true, energyDistance: 7, padding: .mirror)),
            ("3_c_1", "checkerboard", .laws(kernel: "L5S5", padding: .mirror)),
            ("3_c_2", "checkerboard", .laws(kernel: "L5S5", rotationInvariant: true, padding: .mirror)),
            ("3_c_3", "checkerboard", .laws(kernel: "L5S5", rotationInvariant: true, energyDistance: 7, padding: .mirror)),
            ("4_a_1", "impulse", .gabor(gaborA)),
            ("4_a_2", "impulse", .gabor(gaborA2)),
            ("4_b_1", "sphere", .gabor(gaborB)),
            ("4_b_2", "sphere", .gabor(gaborB2)),
            ("5_a_1", "impulse", wavelet("db2", "LHL", level: 1, rot: false, .constant)),
            ("5_a_2", "impulse", wavelet("db2", "LHL", level: 1, rot: true, .constant)),
            ("6_a_1", "sphere", wavelet("coif1", "HHL", level: 1, rot: false, .periodic)),
            ("6_a_2", "sphere", wavelet("coif1", "HHL", level: 1, rot: true, .periodic)),
            ("7_a_1", "checkerboard", wavelet("haar", "LLL", level: 2, rot: true, .mirror)),
            ("7_a_2", "checkerboard", wavelet("haar", "HHH", level: 2, rot: true, .mirror)),
        ]
        var passed = 0
        var phantoms: [String: Volume] = [:]
        for (id, phantom, spec) in cases {
            if phantoms[phantom] == nil { phantoms[phantom] = try NIfTI.read("\(root)/phantoms/\(phantom).nii.gz") }
            let ref = try NIfTI.read("\(root)/reference_response_maps/\(id)-ValidCRM.nii")
            let ours = try FilterFixtures.single(spec, phantoms[phantom]!)
            let range = Double(ref.voxels.max()! - ref.voxels.min()!)
            var worst = 0.0
            for i in ours.indices { worst = max(worst, abs(Double(ours[i] - ref.voxels[i]))) }
            let percent = 100 * worst / range
            print("IBSI 2 \(id) \(spec.names[0]): max |Δ| = \(String(format: "%.5f", percent))% of range")
            XCTAssertLessThan(percent, 1, "IBSI 2 test \(id)")
            if percent < 1 { passed += 1 }
        }
        print("IBSI 2 phase 1: \(passed) of \(cases.count) reference response maps within tolerance")
    }
}
