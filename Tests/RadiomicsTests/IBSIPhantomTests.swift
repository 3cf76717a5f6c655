import Foundation
import XCTest
import TestSupport
import VolumeIO
@testable import Radiomics

/// The IBSI-1 digital phantom (5×4×4 voxels of 2 mm, integer intensities 1…6, 74 ROI voxels)
/// against the IBSI reference table, for the non-texture families.
final class IBSIPhantomTests: XCTestCase {
    /// The phantom configuration of the IBSI reference manual: no interpolation, no
    /// re-segmentation; the intensities are already the grey levels (fixed bin size 1 from the
    /// ROI minimum 1 keeps them), and the intensity-volume histogram uses the intensities themselves.
    static func phantomParameters() -> RadiomicsParameters {
        var p = RadiomicsParameters()
        p.discretisation = .fixedBinSize(1)
        p.ivhDiscretisation = .intensities(step: 1)
        return p
    }

    static func loadPhantom() throws -> (image: Volume, mask: Volume) {
        (try NIfTI.read(try TestEnv.testdata("ibsi/digital_phantom_image.nii.gz")),
         try NIfTI.read(try TestEnv.testdata("ibsi/digital_phantom_mask.nii.gz")))
    }

    struct Reference { let tag: String; let text: String; let value: Double; let tolerance: Double }

    /// Rows of the reference table with a value, for tags starting with one of `prefixes`.
    static func references(prefixes: [String]) throws -> [Reference] {
        let text = try String(contentsOfFile: try TestEnv.testdata("ibsi/ibsi_1_reference_values_digital_phantom.csv"), encoding: .utf8)
        var rows: [Reference] = []
        for line in text.split(whereSeparator: \.isNewline).dropFirst() {
            let cells = splitCSV(String(line))
            guard cells.count >= 10, let value = Double(cells[4]), let tol = Double(cells[5]) else { continue }
            let tag = cells[9]
            if prefixes.contains(where: { tag.hasPrefix($0) }) { rows.append(Reference(tag: tag, text: cells[4], value: value, tolerance: tol)) }
        }
        return rows
    }

    static func splitCSV(_ line: String) -> [String] {
        var cells: [String] = [], cur = "", quoted = false
        for ch in line {
            if ch == "\"" { quoted.toggle() } else if ch == "," && !quoted { cells.append(cur); cur = "" } else { cur.append(ch) }
        }
        cells.append(cur)
        return cells.map { $0.trimmingCharacters(in: .whitespaces) }
    }

    /// Half a unit of the last digit written in the reference ("0.698" → 0.0005, "556" → 0.5):
    /// many rows have tolerance 0 and a value rounded to 3 significant digits.
    static func roundingHalfUnit(_ text: String) -> Double {
        let lower = text.lowercased()
        let parts = lower.split(separator: "e", maxSplits: 1)
        let exponent = parts.count == 2 ? Double(parts[1]) ?? 0 : 0
        let mantissa = String(parts[0])
        let decimals = mantissa.firstIndex(of: ".").map { mantissa.distance(from: $0, to: mantissa.endIndex) - 1 } ?? 0
        return 0.5 * pow(10, -Double(decimals)) * pow(10, exponent)
    }

    /// Rule: |ours − reference| ≤ max(IBSI tolerance, half a unit of the reference's last written digit).
    func testPhantomMatchesIBSIReference() throws {
        let (image, mask) = try Self.loadPhantom()
        let features = try RadiomicsExtractor(parameters: Self.phantomParameters()).extract(image: image, mask: mask)
        let ours = Dictionary(features.map { ($0.tag, $0.value) }, uniquingKeysWith: { a, _ in a })
        let refs = try Self.references(prefixes: ["morph_", "loc_", "stat_", "ih_", "ivh_"])
        XCTAssertGreaterThan(refs.count, 70, "reference table lost rows")
        var passed = 0
        for r in refs {
            let allowed = max(r.tolerance, Self.roundingHalfUnit(r.text))
            guard let v = ours[r.tag] else { XCTFail("\(r.tag): not computed"); continue }
            if abs(v - r.value) <= allowed * (1 + 1e-9) { passed += 1 } else {
                XCTFail("\(r.tag): ours \(v), reference \(r.text) ± \(allowed)")
            }
        }
        print("IBSI phantom: \(passed)/\(refs.count) features within tolerance")
    }
}
