import Foundation
import ImageCore
import Registration
import TestSupport
import VolumeIO
import XCTest
@testable import Regions

/// Region files, maps back on the MRI, and regions across a section ⇄ slice registration.
final class MappingTests: XCTestCase {
    static let t2 = "radiology/prostate/aaa0060_T2_axial.nii.gz"
    static let label = "radiology/prostate/aaa0060_T2_axial_prostate_label.nii.gz"

    /// A known section transform for slice 14: mirror, 30°, 50 px per mm (20 µm/px), gland
    /// centre at slide (2000, 2000) of a 4000 × 4000 slide.
    static func transform(_ volume: Volume, slice: Int = 14) -> SectionTransform {
        let grid = SectionTransform.MRIGrid(path: t2, volume: volume, slice: slice)
        let centre = SIMD2(-7.0, 15.0)
        let a = 30 * Double.pi / 180, s = 50.0
        let m = [-s * cos(a), -s * sin(a), -s * sin(a), s * cos(a)]   // rotation × mirror × scale
        let affine = MatrixTransform2D(kind: .affine, center: centre, parameters: m + [2000 - centre.x, 2000 - centre.y])
        return SectionTransform(affine: affine, field: nil, mri: grid, slide: .init(path: "slide.tiff", width: 4000, height: 4000, mppX: 20, mppY: 20))
    }

    func testRegionFilesRoundTripAndReadInSimpleITK() throws {
        let gland = try NIfTI.read(try TestEnv.testdata(Self.label))
        let map = try SectorAtlas.named("prostate").apply(gland: gland)
        let dir = try TestEnv.scratch(self, "regions-files")
        try map.write(folder: dir, provenance: ["atlas": "prostate"])
        let back = try RegionMap.read(folder: dir, family: "sectors")
        XCTAssertEqual(back.regions, map.regions)
        XCTAssertEqual(back.labels.voxels, map.labels.voxels)
        XCTAssertTrue(back.labels.hasSameGrid(as: gland, tolerance: 1e-5))
        let doc = try TestEnv.json(try Data(contentsOf: URL(fileURLWithPath: dir + "/sectors.json"))) as! [String: Any]
        let regions = doc["regions"] as! [[String: Any]]
        XCTAssertEqual(regions.reduce(0) { $0 + ($1["voxels"] as! Int) }, gland.voxels.filter { $0 != 0 }.count)
    }

    func testMapsBackWriteScoreAndLabelNIfTIOnTheMRIGrid() throws {
        let t2Path = try TestEnv.testdata(Self.t2)
        let image = try NIfTI.read(t2Path)
        let gland = try NIfTI.read(try TestEnv.testdata(Self.label))
        let map = try SectorAtlas.named("prostate").apply(gland: gland)
        // Values for all sectors but one (label 5 has no evidence).
        var values: [Int: Double] = [:]
        for r in map.regions where r.label != 5 { values[r.label] = Double(r.label) / 10 }
        let dir = try TestEnv.scratch(self, "maps-back")
        let files = try MapsBack.write(map, image: image, values: values, folder: dir, name: "attention", colormap: "viridis")
        let png = try PNGCodec.decodeRGB(try Data(contentsOf: URL(fileURLWithPath: files.png)))
        let viridisTop = try RegionColormap.named("viridis").colour(1)
        var coloured = 0, hasTop = false
        for p in stride(from: 0, to: png.pixels.count, by: 3) {
            let r = png.pixels[p], g = png.pixels[p + 1], b = png.pixels[p + 2]
            if r != g || r != b { coloured += 1 }
            if r == viridisTop.0 && g == viridisTop.1 && b == viridisTop.2 { hasTop = true }
        }
        XCTAssertGreaterThan(coloured, 1000)
        XCTAssertTrue(hasTop, "the colour bar ends in viridis(1)")
        let out = try TestEnv.runPython("""
        import sys, json, numpy as np, SimpleITK as sitk
        ref = sitk.ReadImage(sys.argv[1]); s = sitk.ReadImage(sys.argv[2]); l = sitk.ReadImage(sys.argv[3])
        def same(a):
            return bool(a.GetSize() == ref.GetSize() and np.allclose(a.GetSpacing(), ref.GetSpacing(), atol=1e-5)
                and np.allclose(a.GetOrigin(), ref.GetOrigin(), atol=1e-4) and np.allclose(a.GetDirection(), ref.GetDirection(), atol=1e-6))
        sa = sitk.GetArrayFromImage(s); la = sitk.GetArrayFromImage(l)
        print(json.dumps({'same': [same(s), same(l)], 'stype': s.GetPixelIDTypeAsString(),
                          'pairs': sorted({(int(a), float(b)) for a, b in zip(la[la > 0], sa[la > 0])}),
                          'outside': float(np.abs(sa[la == 0]).max())}))
        """, [t2Path, files.scores, files.labels])
        let peer = try TestEnv.json(out) as! [String: Any]
        XCTAssertEqual(peer["same"] as! [Bool], [true, true])
        XCTAssertEqual(peer["stype"] as! String, "32-bit float")
        let pairs = (peer["pairs"] as! [[Any]]).map { ($0[0] as! Int, ($0[1] as! NSNumber).doubleValue) }
        XCTAssertEqual(pairs.map(\.0), map.regions.map(\.label).filter { $0 != 5 })
        for (l, v) in pairs { XCTAssertEqual(v, Double(l) / 10, accuracy: 1e-6) }
        XCTAssertEqual(peer["outside"] as! Double, 0)
        XCTAssertThrowsError(try MapsBack.write(map, image: image, values: [99: 1], folder: dir, name: "x")) { XCTAssertTrue("\($0)".contains("99")) }
    }

    func testVolumeRegionsToSlideAndBackAreExact() throws {
        let gland = try NIfTI.read(try TestEnv.testdata(Self.label))
        let map = try SectorAtlas.named("prostate").apply(gland: gland)
        let t = Self.transform(gland)
        let onSlide = try SlideRegions.toSlide(map, transform: t)
        let plane = gland.size.x * gland.size.y
        let slice = Array(map.labels.voxels[(14 * plane)..<(15 * plane)])
        XCTAssertEqual(Set(onSlide.map(\.label)), Set(slice.filter { $0 != 0 }.map { Int($0) }))
        let geojson = SlideRegions.qupathGeoJSON(onSlide, family: map.family)
        // Shapely: valid polygons whose areas are the pixel counts × (50 px/mm · 0.40625 mm)².
        let dir = try TestEnv.scratch(self, "to-slide")
        try geojson.write(to: URL(fileURLWithPath: dir + "/s.geojson"))
        let out = try TestEnv.runPython("""
        import sys, json
        from shapely.geometry import shape
        fc = json.load(open(sys.argv[1]))
        areas = {}
        for f in fc['features']:
            g = shape(f['geometry']); assert g.is_valid, f['properties']
            n = f['properties']['classification']['name']; areas[n] = areas.get(n, 0) + g.area
        print(json.dumps(areas))
        """, [dir + "/s.geojson"])
        let areas = try TestEnv.json(out) as! [String: Double]
        let px = pow(50 * gland.spacing.x, 2)
        for r in onSlide {
            let count = slice.filter { $0 == Float(r.label) }.count
            XCTAssertEqual(areas[r.name]!, Double(count) * px, accuracy: 1e-3 * Double(count) * px, r.name)
        }
        // Back to the MRI through the inverse: the same pixels.
        let back = try SlideRegions.fromGeoJSON(geojson, file: "s.geojson", transform: t)
        let names = Dictionary(uniqueKeysWithValues: back.regions.map { ($0.label, $0.name) })
        let original = Dictionary(uniqueKeysWithValues: map.regions.map { ($0.label, $0.name) })
        let backSlice = Array(back.labels.voxels[(14 * plane)..<(15 * plane)])
        XCTAssertEqual(backSlice.map { $0 == 0 ? "" : names[Int($0)]! }, slice.map { $0 == 0 ? "" : original[Int($0)]! })
        XCTAssertTrue(back.labels.voxels[0..<(14 * plane)].allSatisfy { $0 == 0 })
        XCTAssertTrue(back.regions.allSatisfy { $0.kind == .slide })

        // Drawn on a 400 × 400 thumbnail: tinted pixels cover the polygons' area.
        let thumb = SlideRegions.draw(onSlide, on: RGBImage(width: 400, height: 400), slideWidth: 4000, slideHeight: 4000)
        var tinted = 0
        for p in stride(from: 0, to: thumb.pixels.count, by: 3) where thumb.pixels[p] != 255 || thumb.pixels[p + 1] != 255 || thumb.pixels[p + 2] != 255 { tinted += 1 }
        let expected = Double(slice.filter { $0 != 0 }.count) * px / 100
        XCTAssertEqual(Double(tinted), expected, accuracy: 0.15 * expected)
    }

    func testHotSpotsOfASlideScoreMapLandOnTheirMRIRegion() throws {
        let gland = try NIfTI.read(try TestEnv.testdata(Self.label))
        let t = Self.transform(gland)
        let plane = gland.size.x * gland.size.y
        // A score map (400 × 400 over the slide) that is 1 over the gland of slice 14, 0.2 elsewhere.
        var slice = t.mri.sliceGrid
        slice.pixels = Array(gland.voxels[(14 * plane)..<(15 * plane)]).map { $0 != 0 ? 1 : 0 }
        let scores = t.pushToSlide(slice, width: 400, height: 400, nearest: true).map { $0 == 1 ? Float(1) : 0.2 }
        let map = try SlideRegions.hotSpots(scores: scores, width: 400, height: 400, threshold: 0.5, minPixels: 4, transform: t)
        XCTAssertEqual(map.regions.count, 1)
        XCTAssertTrue(map.regions[0].definition.contains("score ≥ 0.5"))
        let mine = Array(map.labels.voxels[(14 * plane)..<(15 * plane)])
        let both = zip(mine, slice.pixels).filter { $0 != 0 && $1 != 0 }.count
        let dice = 2 * Double(both) / Double(mine.filter { $0 != 0 }.count + slice.pixels.filter { $0 != 0 }.count)
        XCTAssertGreaterThan(dice, 0.95)
        XCTAssertThrowsError(try SlideRegions.hotSpots(scores: scores, width: 400, height: 400, threshold: 2, transform: t))
    }

    func testROILabels() throws {
        let v = Volume(size: SIMD3(4, 1, 1), spacing: SIMD3(1, 1, 1), voxels: [0, 3, 1, 3])
        let map = try ROILabels.make(v, names: [3: "lesion"])
        XCTAssertEqual(map.regions.map(\.name), ["roi_1", "lesion"])
        XCTAssertEqual(map.voxels(of: 3), [1, 3])
        XCTAssertThrowsError(try ROILabels.make(Volume(size: SIMD3(2, 1, 1), spacing: SIMD3(1, 1, 1), voxels: [0, 0.5])))
    }
}
