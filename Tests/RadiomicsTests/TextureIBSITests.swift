import Foundation
import XCTest
import TestSupport
import VolumeIO
@testable import Radiomics

/// The IBSI-1 digital phantom as IBSI computes its texture features: no resampling, no
/// re-segmentation, the integer grey levels (1, 3, 4, 6) used as discretised levels, Ng = 6.
func textureIBSIPhantomROI() throws -> DiscretisedROI {
    let image = try NIfTI.read(try TestEnv.testdata("ibsi/digital_phantom_image.nii.gz"))
    let mask = try NIfTI.read(try TestEnv.testdata("ibsi/digital_phantom_mask.nii.gz"))
    let inside = mask.voxels.map { $0 > 0 }
    let levels = zip(image.voxels, inside).map { $1 ? Int32($0.rounded()) : 0 }
    return DiscretisedROI(size: image.size, spacing: image.spacing, levels: levels, levelCount: 6, morphologicalMask: inside)
}

/// One reference row of the IBSI table: tag, value as printed, tolerance.
struct TextureIBSIReference {
    let tag: String
    let text: String
    let value: Double
    let tolerance: Double

    /// IBSI prints each reference rounded to 3 significant digits (trailing zeros dropped, so
    /// "2.9" is 2.90 and "1490" is 1.49e3): half a unit of the last significant digit is
    /// 0.5·10^(⌊log10|ref|⌋ − 2), or of the last printed digit where more than 3 are printed.
    /// A reference of exactly 0 allows only floating-point rounding (1e-12).
    var rounding: Double {
        guard value != 0 else { return 1e-12 }
        let digits = text.filter(\.isNumber).drop { $0 == "0" }
        var significant = digits.count
        if !text.contains(".") { significant = digits.reversed().drop { $0 == "0" }.count }
        let e = floor(log10(abs(value)))
        return 0.5 * pow(10, e - Double(max(significant, 3) - 1))
    }

    var allowed: Double { max(tolerance, rounding) }
}

/// Reads ibsi_1_reference_values_digital_phantom.csv (quoted fields may hold commas).
func textureIBSIReferences(prefixes: [String]) throws -> [TextureIBSIReference] {
    let path = try TestEnv.testdata("ibsi/ibsi_1_reference_values_digital_phantom.csv")
    let text = try String(contentsOfFile: path, encoding: .utf8).replacingOccurrences(of: "\r", with: "")
    var rows: [TextureIBSIReference] = []
    for line in text.split(separator: "\n").dropFirst() {
        let fields = IBSIPhantom.splitCSV(String(line))
        guard fields.count >= 10, let value = Double(fields[4]), let tol = Double(fields[5]) else { continue }
        let tag = fields[9].trimmingCharacters(in: .whitespaces)
        if prefixes.contains(where: { tag.hasPrefix($0 + "_") }) {
            rows.append(TextureIBSIReference(tag: tag, text: fields[4], value: value, tolerance: tol))
        }
    }
    return rows
}

final class TextureIBSITests: XCTestCase {
    /// Every GLCM, GLRLM, GLSZM, GLDZM, NGTDM and NGLDM reference row of the digital phantom
    /// (all aggregations): |ours − ref| ≤ max(tolerance column, half a unit of the reference's
    /// last significant digit — see `TextureIBSIReference.rounding`).
    func testDigitalPhantomMatchesIBSIReference() throws {
        let roi = try textureIBSIPhantomROI()
        let refs = try textureIBSIReferences(prefixes: ["cm", "rlm", "szm", "dzm", "ngt", "ngl"])
        XCTAssertEqual(refs.count, 408, "the reference table's texture rows")
        let ours = Dictionary(try TextureFeatures.compute(roi).map { ($0.tag, $0.value) }, uniquingKeysWith: { a, _ in a })
        var failures: [String] = []
        for r in refs {
            guard let v = ours[r.tag] else { failures.append("\(r.tag): not computed"); continue }
            if !(abs(v - r.value) <= r.allowed) {
                failures.append("\(r.tag): ours \(v), reference \(r.text) ± \(r.allowed)")
            }
        }
        print("IBSI phantom texture: \(refs.count - failures.count)/\(refs.count) features within tolerance")
        XCTAssertTrue(failures.isEmpty, "outside tolerance:\n" + failures.joined(separator: "\n"))
    }

    func testRoundingRule() {
        let r = { (t: String) in TextureIBSIReference(tag: "x", text: t, value: Double(t)!, tolerance: 0).rounding }
        XCTAssertEqual(r("2.9"), 0.005, accuracy: 1e-15)
        XCTAssertEqual(r("1490"), 5, accuracy: 1e-12)
        XCTAssertEqual(r("0.0676"), 0.00005, accuracy: 1e-15)
        XCTAssertEqual(r("-0.0121"), 0.00005, accuracy: 1e-15)
        XCTAssertEqual(r("1"), 0.005, accuracy: 1e-15)
        XCTAssertEqual(r("0.00963"), 0.000005, accuracy: 1e-16)
    }
}
