import XCTest
@testable import Tiler

final class PresetTests: XCTestCase {
    func testEveryShippedPresetParsesAndRoundTrips() throws {
        let names = PresetLibrary.available()
        for required in ["default", "biopsy", "resection", "tcga", "prostate-wholemount"] {
            XCTAssertTrue(names.contains(required), "Tiling/\(required).conf missing (found \(names))")
        }
        for name in names {
            let p = try PresetLibrary.load(name)
            XCTAssertEqual(p.name, name)
            XCTAssertEqual(try TilingPreset.parse(p.text, name: name, file: "roundtrip"), p, name)
        }
    }

    func testDefaultPresetIsCLAMSegmentation() throws {
        let p = try PresetLibrary.load("default")
        XCTAssertEqual(p.tissue.saturationThreshold, 8)
        XCTAssertEqual(p.tissue.medianSize, 7)
        XCTAssertEqual(p.tissue.closeSize, 4)
        XCTAssertEqual(p.tissue.segmentationDownsample, 64)
        XCTAssertEqual(p.grid.patchSize, 256)
        XCTAssertEqual(p.grid.targetMPP, 0.5)
        // CLAM's tcga a_t = 16 units of 512² px at 0.25 µm/px.
        XCTAssertEqual(try PresetLibrary.load("tcga").tissue.minTissueAreaMM2, 16 * pow(512 * 0.25, 2) / 1e6, accuracy: 0.005)
    }

    func testErrorsNameFileLineAndKey() {
        XCTAssertThrowsError(try TilingPreset.parse("patch_size = 256\nsaturation = 9\n", name: "x", file: "x.conf")) { e in
            let m = "\(e)"
            XCTAssertTrue(m.hasPrefix("x.conf:2:"), m)
            XCTAssertTrue(m.contains("unknown key 'saturation'"), m)
        }
        XCTAssertThrowsError(try TilingPreset.parse("median_size = 4", name: "x", file: "x.conf")) { e in
            XCTAssertTrue("\(e)".contains("odd"), "\(e)")
        }
        XCTAssertThrowsError(try TilingPreset.parse("overlap = 300", name: "x", file: "x.conf"))
        XCTAssertThrowsError(try TilingPreset.parse("use_otsu = maybe", name: "x", file: "x.conf"))
        XCTAssertThrowsError(try PresetLibrary.load("no-such-preset")) { e in
            XCTAssertTrue("\(e)".contains("default"), "the error lists the available presets: \(e)")
        }
    }

    func testMagnificationReplacesTargetMPPAndBack() throws {
        var p = TilingPreset(name: "t")
        try p.set("magnification", "40")
        XCTAssertEqual(p.grid.magnification, 40)
        try p.set("target_mpp", "1.0")
        XCTAssertNil(p.grid.magnification)
        XCTAssertEqual(p.grid.targetMPP, 1.0)
    }
}
