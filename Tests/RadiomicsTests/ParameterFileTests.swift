import Foundation
import XCTest
import TestSupport
@testable import Radiomics

final class ParameterFileTests: XCTestCase {
    /// A PyRadiomics-style file (block maps, flow lists, comments, empty values, quotes)
    /// parses to what PyYAML gives: both are printed as canonical JSON and compared.
    func testAgreesWithPyYAML() throws {
        let yaml = """
        # Parameters in PyRadiomics' layout
        imageType:
          Original: {}
          LoG:
            sigma: [1.0, 2.0, 3.0]   # mm
          Wavelet:
            wavelet: 'coif1'
        featureClass:
          shape:
          firstorder: []
          glcm:
            - 'Autocorrelation'
            - JointAverage
        setting:
          binWidth: 25
          resampledPixelSpacing: [2, 2, 2]
          interpolator: "sitkBSpline"
          force2D: false
          label: 1
          note: 'a # inside quotes'
        """
        let dir = try TestEnv.scratch(self, "params")
        let path = dir + "/params.yaml"
        try yaml.write(toFile: path, atomically: true, encoding: .utf8)
        let ours = try ParameterFile.read(path)
        let theirs = try TestEnv.runPython("""
        import json, sys, yaml
        def floats(v):  # our numbers are all Double: compare integers as floats
            if isinstance(v, dict): return {k: floats(x) for k, x in v.items()}
            if isinstance(v, list): return [floats(x) for x in v]
            return float(v) if isinstance(v, int) and not isinstance(v, bool) else v
        print(json.dumps(floats(yaml.safe_load(open(sys.argv[1]))), sort_keys=True))
        """, [path])
        XCTAssertEqual(canonicalJSON(ours), String(decoding: theirs, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
        XCTAssertEqual(ours["setting"]?["binWidth"]?.number, 25)
        XCTAssertEqual(ours["imageType"]?["LoG"]?["sigma"]?.list?.compactMap(\.number), [1, 2, 3])
    }

    func testJSONAndErrors() throws {
        let v = try ParameterFile.parse(#"{"setting": {"binCount": 32, "force2D": true}}"#)
        XCTAssertEqual(v["setting"]?["binCount"]?.number, 32)
        XCTAssertEqual(v["setting"]?["force2D"]?.bool, true)
        XCTAssertThrowsError(try ParameterFile.parse("setting:\n  binWidth: 25\n  binWidth: 5\n", path: "p.yaml")) { e in
            XCTAssertTrue("\(e)".contains("p.yaml:3"), "names file and line: \(e)")
        }
        XCTAssertThrowsError(try ParameterFile.parse("setting:\n  binWidth [25\n"))
        XCTAssertThrowsError(try ParameterFile.parse("a: 1\n    b: 2\n"))
    }

    /// JSON with sorted keys and Python's separators, as json.dumps prints it.
    private func canonicalJSON(_ v: ParameterValue) -> String {
        switch v {
        case .null: return "null"
        case let .bool(b): return b ? "true" : "false"
        case let .number(d): return "\(d)"
        case let .string(s): return "\"\(s)\""
        case let .list(l): return "[" + l.map(canonicalJSON).joined(separator: ", ") + "]"
        case let .map(m): return "{" + m.sorted { $0.key < $1.key }.map { "\"\($0.key)\": \(canonicalJSON($0.value))" }.joined(separator: ", ") + "}"
        }
    }
}
