import Foundation
import XCTest
import TestSupport
import VolumeIO
@testable import Radiomics

/// The whole extraction as `radiopath radiomics` runs it: parameter file → configuration →
/// pre-processing → every family → named columns.
final class PipelineTests: XCTestCase {
    /// Every row of the IBSI-1 digital-phantom reference table that has a value (all families,
    /// all texture aggregations), through one configuration read from a parameter file.
    /// Rule: |ours − ref| ≤ max(tolerance column, half a unit of the reference's last
    /// significant digit); the references are printed to 3 significant digits.
    func testIBSIPhantomAllFamilies() throws {
        let (image, mask) = try IBSIPhantom.loadPhantom()
        let file = try ParameterFile.parse("""
        # The IBSI-1 digital phantom configuration: no resampling or re-segmentation; the
        # integer intensities are the grey levels and the IVH steps.
        setting:
          binWidth: 1
          ivhIntensityStep: 1
        """)
        let columns = try RadiomicsPipeline.run(image: image, mask: mask, configuration: try RadiomicsConfiguration(file: file, convention: .ibsi))
        let ours = Dictionary(columns.map { ($0.name(pyradiomicsNames: false), $0.value) }, uniquingKeysWith: { a, _ in a })
        let refs = try textureIBSIReferences(prefixes: ["morph", "loc", "stat", "ih", "ivh", "cm", "rlm", "szm", "dzm", "ngt", "ngl"])
        XCTAssertEqual(refs.count, 482, "reference rows with a value")
        var failures: [String] = []
        for r in refs {
            guard let v = ours["original_" + r.tag] else { failures.append("\(r.tag): not computed"); continue }
            if !(abs(v - r.value) <= r.allowed) { failures.append("\(r.tag): ours \(v), reference \(r.text) ± \(r.allowed)") }
        }
        print("IBSI phantom (all families, one pipeline): \(refs.count - failures.count)/\(refs.count) features within tolerance")
        XCTAssertTrue(failures.isEmpty, "outside tolerance:\n" + failures.joined(separator: "\n"))
    }

    /// PyRadiomics' own baseline tables (brain1 and breast1, the plain configuration: bin width
    /// 25, label 1, no resampling or filters) through `--mode pyradiomics`.
    func testPyRadiomicsBaselines() throws {
        let base = try TestEnv.testdata("radiology/pyradiomics")
        // The baseline's settings (its diagnostics_Configuration_Settings row).
        let configuration = try RadiomicsConfiguration(file: try ParameterFile.parse(
            "setting: {binWidth: 25, label: 1, voxelArrayShift: 2000, gldm_a: 0, distances: [1]}"), convention: .pyradiomics)
        var worst: [String: (Double, String)] = [:]
        var compared = 0
        var failures: [String] = []
        for case_ in ["brain1", "breast1"] {
            let image = try NRRD.read("\(base)/\(case_)_image.nrrd")
            let mask = try NRRD.read("\(base)/\(case_)_label.nrrd")
            let ours = Dictionary(try RadiomicsPipeline.run(image: image, mask: mask, configuration: configuration)
                .map { ($0.name(pyradiomicsNames: true), $0.value) }, uniquingKeysWith: { a, _ in a })
            for family in ["firstorder", "shape", "glcm", "glrlm", "glszm", "gldm", "ngtdm"] {
                for (name, ref) in try baseline("\(base)/baseline/baseline_\(family).csv", column: case_) {
                    guard let v = ours[name] else { continue }
                    compared += 1
                    let rel = abs(v - ref) / max(abs(ref), 1e-12)
                    // Mesh features: PyRadiomics' marching-cubes table leaves holes where voxels
                    // touch only along an edge (docs/radiomics.md); everything else is the same formula.
                    let tolerance = name.contains("shape_") ? 5e-3 : 1e-6
                    if rel > tolerance && abs(v - ref) > 1e-9 { failures.append("\(case_) \(name): ours \(v), PyRadiomics \(ref)") }
                    if rel > (worst[family]?.0 ?? -1) { worst[family] = (rel, name) }
                }
            }
        }
        print("PyRadiomics baselines: \(compared) values; worst relative difference per family: "
              + worst.sorted { $0.key < $1.key }.map { "\($0.key) \(String(format: "%.1e", $0.value.0))" }.joined(separator: ", "))
        XCTAssertGreaterThan(compared, 150, "most baseline features are compared")
        XCTAssertTrue(failures.isEmpty, failures.joined(separator: "\n"))
    }

    /// `original_*` rows of a PyRadiomics baseline CSV for one case column.
    private func baseline(_ path: String, column: String) throws -> [(String, Double)] {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let lines = text.split(whereSeparator: \.isNewline).map(String.init)
        let header = IBSIPhantom.splitCSV(lines[0])
        guard let c = header.firstIndex(of: column) else { throw XCTSkip("no column \(column) in \(path)") }
        return lines.dropFirst().compactMap { line in
            let cells = IBSIPhantom.splitCSV(line)
            guard cells.count > c, cells[0].hasPrefix("original_"), let v = Double(cells[c]) else { return nil }
            return (cells[0], v)
        }
    }

    func testConfigurationErrorsNameTheKey() throws {
        XCTAssertThrowsError(try RadiomicsConfiguration(file: try ParameterFile.parse("setting:\n  binWidht: 25\n"), convention: .ibsi)) { e in
            XCTAssertTrue("\(e)".contains("binWidht"), "\(e)")
        }
        XCTAssertThrowsError(try RadiomicsConfiguration(file: try ParameterFile.parse("featureClass:\n  glcmm:\n"), convention: .ibsi))
        let c = try RadiomicsConfiguration(file: try ParameterFile.parse("""
        imageType: {Original: {}, LoG: {sigma: [1.0, 2.0]}}
        featureClass: {firstorder: [Mean], glcm: }
        setting: {binCount: 16, resampledPixelSpacing: [1, 1, 1], interpolator: sitkBSpline, label: 2}
        """), convention: .pyradiomics)
        XCTAssertEqual(c.parameters.discretisation, .fixedBinNumber(16))
        XCTAssertEqual(c.parameters.interpolator, .cubicSpline)
        XCTAssertEqual(c.label, 2)
        XCTAssertEqual(c.filters.count, 2)
        XCTAssertEqual(c.texture.families, [.glcm])
        XCTAssertFalse(c.parameters.families.contains(.morphology))
    }
}
