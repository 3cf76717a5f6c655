import Foundation
import XCTest
import TestSupport
@testable import Radiomics

/// Edge cases, options and small hand-worked examples; the IBSI phantom and PyRadiomics tests
/// cover the definitions at large.
final class TextureFeaturesTests: XCTestCase {
    /// A ROI from a z-slices-of-rows literal: levels > 0 are in both masks unless `morph` says otherwise.
    static func roi(_ slices: [[[Int32]]], ng: Int, morph: [[[Bool]]]? = nil) -> DiscretisedROI {
        let nz = slices.count, ny = slices[0].count, nx = slices[0][0].count
        let levels = slices.flatMap { $0.flatMap { $0 } }
        let mask: [Bool] = morph?.flatMap { $0.flatMap { $0 } } ?? levels.map { $0 > 0 }
        return DiscretisedROI(size: SIMD3(nx, ny, nz), spacing: SIMD3(1, 1, 1), levels: levels, levelCount: ng, morphologicalMask: mask)
    }

    static func values(_ roi: DiscretisedROI, _ options: TextureOptions = TextureOptions()) throws -> [String: Double] {
        Dictionary(try TextureFeatures.compute(roi, options).map { ($0.tag, $0.value) }, uniquingKeysWith: { a, _ in a })
    }

    func testEmptyROIGivesEveryTagAsNaN() throws {
        let empty = Self.roi([[[0, 0], [0, 0]]], ng: 4)
        let out = try TextureFeatures.compute(empty)
        XCTAssertEqual(out.count, 408, "25×6 GLCM + 16×6 GLRLM + 16×3 GLSZM + 16×3 GLDZM + 5×3 NGTDM + 17×3 NGLDM")
        XCTAssertEqual(Set(out.map(\.tag)).count, out.count, "tags are unique")
        XCTAssertTrue(out.allSatisfy { $0.value.isNaN })
    }

    func testSingleVoxel() throws {
        let v = try Self.values(Self.roi([[[0, 0, 0], [0, 3, 0], [0, 0, 0]]], ng: 4))
        XCTAssertTrue(v["cm_joint_max_3D_avg"]!.isNaN, "no pairs: the GLCM is empty")
        XCTAssertTrue(v["ngt_coarseness_3D"]!.isNaN, "no neighbours: the NGTDM is empty")
        XCTAssertEqual(v["szm_sze_3D"], 1)
        XCTAssertEqual(v["szm_z_perc_2D"], 1)
        XCTAssertEqual(v["dzm_sde_3D"], 1)
        XCTAssertEqual(v["rlm_sre_2D_avg"], 1)
        XCTAssertEqual(v["ngl_lde_3D"], 1)
        XCTAssertEqual(v["ngl_hgce_3D"], 9)
    }

    func testRejectsLevelsOutsideRange() {
        XCTAssertThrowsError(try TextureFeatures.compute(Self.roi([[[1, 7]]], ng: 6))) { e in
            XCTAssertTrue("\(e)".contains("(1, 0, 0)") && "\(e)".contains("level 7"), "\(e)")
        }
        var bad = TextureOptions()
        bad.glcmDistance = 0
        XCTAssertThrowsError(try TextureFeatures.compute(Self.roi([[[1, 2]]], ng: 2), bad))
    }

    /// One row 1 1 2 2 2: along x two runs (lengths 2 and 3); along y and the in-plane diagonals
    /// every voxel is a run of 1. SRE = Σ r/j² / Nr.
    func testRunLengthsByHand() throws {
        let v = try Self.values(Self.roi([[[1, 1, 2, 2, 2]]], ng: 2))
        let alongX = (1.0 / 4 + 1.0 / 9) / 2
        XCTAssertEqual(v["rlm_sre_2D_avg"]!, (alongX + 3) / 4, accuracy: 1e-12)
        XCTAssertEqual(v["rlm_sre_3D_avg"]!, (alongX + 12) / 13, accuracy: 1e-12)
        // Merged over the 4 in-plane directions: 2 + 15 runs, Nv = 4 × 5.
        XCTAssertEqual(v["rlm_sre_2D_comb"]!, (1.0 / 4 + 1.0 / 9 + 15) / 17, accuracy: 1e-12)
        XCTAssertEqual(v["rlm_r_perc_2D_comb"]!, 17.0 / 20, accuracy: 1e-12)
    }

    /// The GLDZM distance comes from the morphological mask: a lone intensity voxel at the
    /// centre of a 5×5 morphological slice is 3 steps from its edge.
    func testZoneDistanceUsesMorphologicalMask() throws {
        var levels = [[[Int32]]](repeating: [[Int32]](repeating: [Int32](repeating: 0, count: 5), count: 5), count: 1)
        levels[0][2][2] = 1
        let morph = [[[Bool]]](repeating: [[Bool]](repeating: [Bool](repeating: true, count: 5), count: 5), count: 1)
        let v = try Self.values(Self.roi(levels, ng: 1, morph: morph))
        XCTAssertEqual(v["dzm_lde_2D"], 9)
        XCTAssertEqual(v["dzm_lde_3D"], 1, "one slice thick: 1 step from the edge in 3D")
        XCTAssertEqual(v["szm_lze_2D"], 1)
    }

    func testOptionsSelectFamiliesAndAggregations() throws {
        let r = Self.roi([[[1, 2, 2], [3, 1, 2]], [[2, 2, 1], [1, 3, 3]]], ng: 3)
        var o = TextureOptions()
        o.families = [.glszm, .glcm]
        o.dimensions = [.threeD]
        o.merging = [.merged]
        let tags = try TextureFeatures.compute(r, o).map(\.tag)
        XCTAssertEqual(tags.count, 25 + 16)
        XCTAssertTrue(tags.allSatisfy { $0.hasSuffix("_3D_comb") || ($0.hasPrefix("szm_") && $0.hasSuffix("_3D")) }, "\(tags)")
        XCTAssertEqual(tags.first, "cm_joint_max_3D_comb", "canonical family order, whatever the options' order")
    }

    func testDeterministic() throws {
        let phantom = try textureIBSIPhantomROI()
        let a = try TextureFeatures.compute(phantom), b = try TextureFeatures.compute(phantom)
        XCTAssertEqual(a.map(\.tag), b.map(\.tag))
        XCTAssertEqual(a.map { $0.value.bitPattern }, b.map { $0.value.bitPattern })
    }

    /// Where the conventions part: Ng in the normalised inverse differences (IBSI: the
    /// discretisation's Ng; PyRadiomics: the highest level present), GLCM offsets for δ > 1,
    /// stand-ins for undefined values, and PyRadiomics' MCC.
    func testConventions() throws {
        let p6 = try textureIBSIPhantomROI()
        let p32 = DiscretisedROI(size: p6.size, spacing: p6.spacing, levels: p6.levels, levelCount: 32, morphologicalMask: p6.morphologicalMask)
        var py = TextureOptions()
        py.convention = .pyradiomics
        let ibsi32 = try Self.values(p32), ibsi6 = try Self.values(p6), py32 = try Self.values(p32, py)
        XCTAssertNotEqual(ibsi32["cm_inv_diff_norm_3D_avg"]!, ibsi6["cm_inv_diff_norm_3D_avg"]!, accuracy: 1e-3)
        XCTAssertEqual(py32["cm_inv_diff_norm_3D_avg"]!, ibsi6["cm_inv_diff_norm_3D_avg"]!, accuracy: 1e-12)
        XCTAssertEqual(py32["cm_joint_entr_3D_avg"]!, ibsi32["cm_joint_entr_3D_avg"]!, accuracy: 1e-12)
        XCTAssertNotNil(py32["cm_mcc_3D_avg"])
        XCTAssertNil(ibsi32["cm_mcc_3D_avg"], "MCC is not an IBSI feature")

        var d2 = TextureOptions(), pyd2 = py
        d2.glcmDistance = 2
        pyd2.glcmDistance = 2
        XCTAssertNotEqual(try Self.values(p6, d2)["cm_contrast_3D_avg"]!, try Self.values(p6, pyd2)["cm_contrast_3D_avg"]!, accuracy: 1e-6)

        let flat = Self.roi([[[2, 2], [2, 2]], [[2, 2], [2, 2]]], ng: 2)
        let f = try Self.values(flat), fp = try Self.values(flat, py)
        XCTAssertTrue(f["cm_corr_3D_avg"]!.isNaN && f["ngt_coarseness_3D"]!.isNaN)
        XCTAssertEqual(fp["cm_corr_3D_avg"], 1)
        XCTAssertEqual(fp["cm_mcc_3D_avg"], 1)
        XCTAssertEqual(fp["ngt_coarseness_3D"], 1e6)
        XCTAssertEqual(fp["ngt_busyness_3D"], 0)
    }

    /// The symmetric Jacobi eigen solver behind MCC, on a matrix with known eigenvalues.
    func testSymmetricEigenvalues() {
        // [[2,1,0],[1,2,0],[0,0,5]] has eigenvalues 1, 3, 5.
        var a: [Double] = [2, 1, 0, 1, 2, 0, 0, 0, 5]
        let e = GLCM.symmetricEigenvalues(&a, 3).sorted()
        XCTAssertEqual(e[0], 1, accuracy: 1e-12)
        XCTAssertEqual(e[1], 3, accuracy: 1e-12)
        XCTAssertEqual(e[2], 5, accuracy: 1e-12)
    }
}
