import Foundation
import XCTest
import TestSupport
@testable import Radiomics

/// PyRadiomics-style `imageType` maps → filter specs and output names.
final class FilterSettingsTests: XCTestCase {
    func testPyRadiomicsImageTypes() throws {
        let params = try ParameterFile.parse("""
        imageType:
          Original: {}
          LoG:
            sigma: [1.0, 2.5]
          Wavelet:
            wavelet: 'db2'
            start_level: 1
            level: 2
          Square: {}
        setting:
          binWidth: 25
        """)
        let ibsi = try FilterSettings.filters(imageType: params["imageType"]!, setting: params["setting"])
        XCTAssertEqual(ibsi.count, 3)
        XCTAssertEqual(ibsi[0], .laplacianOfGaussian(sigma: 1, padding: .mirror))
        XCTAssertEqual(ibsi.flatMap(\.names).prefix(2), ["log-sigma-1-0-mm-3D", "log-sigma-2-5-mm-3D"])
        guard case let .wavelet(w) = ibsi[2] else { return XCTFail("expected a wavelet") }
        XCTAssertEqual(w.family, "db2")
        XCTAssertEqual(w.levels, 2...3)
        XCTAssertEqual(ibsi[2].names.count, 16)
        XCTAssertEqual(ibsi[2].names.first, "wavelet2-LLL")

        // PyRadiomics names: levels counted from start_level, LLL only at the last level.
        let py = try FilterSettings.filters(imageType: params["imageType"]!, convention: .pyradiomics)
        XCTAssertEqual(py[2].names, ["wavelet-LLH", "wavelet-LHL", "wavelet-LHH", "wavelet-HLL", "wavelet-HLH", "wavelet-HHL", "wavelet-HHH",
                                     "wavelet2-LLH", "wavelet2-LHL", "wavelet2-LHH", "wavelet2-HLL", "wavelet2-HLH", "wavelet2-HHL", "wavelet2-HHH",
                                     "wavelet2-LLL"])
        XCTAssertEqual(py[0], .laplacianOfGaussian(sigma: 1, padding: .nearest, convention: .pyradiomics))
    }

    func testRadioPathFiltersAndForce2D() throws {
        let params = try ParameterFile.parse("""
        imageType:
          Mean: {support: [3, 5], padding: constant, dimension: 2D}
          Laws: {kernel: [E5L5S5, L5S5], rotation_invariant: true, distance: 7}
          Gabor: {sigma: 10, lambda: 4, gamma: 0.5, theta_step: 45, planes: true}
          Wavelet: {wavelet: haar}
        setting:
          force2D: true
        """)
        let specs = try FilterSettings.filters(imageType: params["imageType"]!, setting: params["setting"])
        XCTAssertEqual(specs.flatMap(\.names), [
            "mean-3-2D", "mean-5-2D", "laws-E5L5S5-rot-max-energy-7", "laws-L5S5-rot-max-energy-7",
            "gabor-sigma-10-0-mm-lambda-4-0-mm-gamma-0-5-step-45-0-average-3D",
            "wavelet-LL", "wavelet-LH", "wavelet-HL", "wavelet-HH",
        ])
    }

    func testBadSettingsNameTheProblem() throws {
        for (yaml, words) in [
            ("LoG: {sigmma: [1.0]}", "sigmma"),
            ("LoG: {}", "sigma"),
            ("Sharpen: {}", "Sharpen"),
            ("Laws: {kernel: E5L5S5, padding: sideways}", "sideways"),
            ("Wavelet: {level: 0}", "level"),
        ] {
            let v = try ParameterFile.parse(yaml)
            XCTAssertThrowsError(try FilterSettings.filters(imageType: v)) { e in
                XCTAssertTrue("\(e)".contains(words), "\(e)")
            }
        }
    }
}
