import Foundation
import ImageCore
import Registration
import TestSupport
import VolumeIO
import XCTest

final class RegionsCommandTests: XCTestCase {
    static let t2 = "radiology/prostate/aaa0060_T2_axial.nii.gz"
    static let gland = "radiology/prostate/aaa0060_T2_axial_prostate_label.nii.gz"

    /// A 6 mm ball at the gland's centroid on slice 14, on the gland's grid.
    func lesion(_ gland: Volume, centre: SIMD3<Double>? = nil, radius: Double = 6) -> Volume {
        var c = SIMD3<Double>(0, 0, 0), n = 0.0
        for v in 0..<gland.count where gland.voxels[v] != 0 {
            c += gland.point(ofIndex: SIMD3(Double(v % gland.size.x), Double((v / gland.size.x) % gland.size.y), Double(v / (gland.size.x * gland.size.y))))
            n += 1
        }
        let at = centre ?? c / n
        var out = gland
        for v in 0..<gland.count {
            let p = gland.point(ofIndex: SIMD3(Double(v % gland.size.x), Double((v / gland.size.x) % gland.size.y), Double(v / (gland.size.x * gland.size.y)))) - at
            out.voxels[v] = (p * p).sum() <= radius * radius ? 1 : 0
        }
        return out
    }

    func testSectorsRingsAndHabitatsOnTheProstate() throws {
        let t2 = try TestEnv.testdata(Self.t2), glandPath = try TestEnv.testdata(Self.gland)
        let gland = try NIfTI.read(glandPath)
        let dir = try TestEnv.scratch(self, "regions-cli")
        let lesionVolume = lesion(gland)
        try NIfTI.write(lesionVolume, to: dir + "/lesion.nii.gz", as: .uint8)
        var outputs: [Data] = []
        for run in ["a", "b"] {
            let r = try radiopath(["regions", "--image", t2, "--mask", glandPath, "--lesion", dir + "/lesion.nii.gz", "--sectors", "prostate",
                                   "--rings", "-3,0,3,6", "--habitats", "3", "--seed", "4", "--out", dir + "/" + run, "--json"])
            XCTAssertEqual(r.status, 0, r.stderr)
            let summary = try TestEnv.json(Data(r.stdout.utf8)) as! [String: Any]
            let families = (summary["families"] as! [[String: Any]]).map { $0["family"] as! String }
            XCTAssertEqual(families, ["sectors", "rings", "habitats"])
            for f in families { for ext in ["nii.gz", "json", "png"] {
                XCTAssertTrue(FileManager.default.fileExists(atPath: "\(dir)/\(run)/\(f).\(ext)"), "\(f).\(ext)")
            } }
            outputs.append(try Data(contentsOf: URL(fileURLWithPath: "\(dir)/\(run)/habitats.nii.gz")))
        }
        XCTAssertEqual(outputs[0], outputs[1], "same seed, same bytes")
        let sectors = try NIfTI.read(dir + "/a/sectors.nii.gz")
        XCTAssertEqual(sectors.voxels.map { $0 != 0 }, gland.voxels.map { $0 != 0 })
        let doc = try TestEnv.json(try Data(contentsOf: URL(fileURLWithPath: dir + "/a/sectors.json"))) as! [String: Any]
        XCTAssertEqual((doc["regions"] as! [[String: Any]]).count, 12)
        let provenance = doc["provenance"] as! [String: Any]
        XCTAssertEqual((provenance["image_sha256"] as! String).count, 64)
        XCTAssertNotNil((provenance["atlas"] as? [String: Any])?["zones"])
        // Rings are around the lesion; habitats are inside it, ordered by intensity.
        let rings = try NIfTI.read(dir + "/a/rings.nii.gz")
        for v in 0..<rings.count where rings.voxels[v] == 1 { XCTAssertEqual(lesionVolume.voxels[v], 1) }
        XCTAssertTrue((0..<rings.count).contains { rings.voxels[$0] == 3 })
        let habitats = try NIfTI.read(dir + "/a/habitats.nii.gz")
        XCTAssertEqual(habitats.voxels.map { $0 != 0 }, lesionVolume.voxels.map { $0 != 0 })
        let image = try NIfTI.read(t2)
        var means = [Double](repeating: 0, count: 4), counts = [Double](repeating: 0, count: 4)
        for v in 0..<habitats.count where habitats.voxels[v] != 0 { means[Int(habitats.voxels[v])] += Double(image.voxels[v]); counts[Int(habitats.voxels[v])] += 1 }
        XCTAssertLessThan(means[1] / counts[1], means[2] / counts[2])
        XCTAssertLessThan(means[2] / counts[2], means[3] / counts[3])
        let h = try TestEnv.json(try Data(contentsOf: URL(fileURLWithPath: dir + "/a/habitats.json"))) as! [String: Any]
        XCTAssertEqual((h["provenance"] as! [String: Any])["seed"] as? Int, 4)

        // Region values painted back on the MRI, for families already in --out.
        try "family,region,attention\nsectors,base_L_PZ,0.9\nsectors,2,0.25\nrings,ring_0_3mm,0.5\n".write(toFile: dir + "/v.csv", atomically: true, encoding: .utf8)
        let p = try radiopath(["regions", "--image", t2, "--mask", glandPath, "--paint", dir + "/v.csv", "--out", dir + "/a", "--json"])
        XCTAssertEqual(p.status, 0, p.stderr)
        let scores = try NIfTI.read(dir + "/a/maps/sectors_attention_scores.nii.gz")
        XCTAssertTrue(scores.hasSameGrid(as: image))
        for v in 0..<scores.count {
            let expected: Float = sectors.voxels[v] == 11 ? 0.9 : (sectors.voxels[v] == 2 ? 0.25 : 0)
            if scores.voxels[v] != expected { XCTFail("voxel \(v): \(scores.voxels[v]) vs \(expected)"); break }
        }
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/a/maps/rings_attention.png"))
        try "family,region,attention\nsectors,nowhere,1\n".write(toFile: dir + "/bad.csv", atomically: true, encoding: .utf8)
        let bad = try radiopath(["regions", "--image", t2, "--mask", glandPath, "--paint", dir + "/bad.csv", "--out", dir + "/a"])
        XCTAssertEqual(bad.status, 2)
        XCTAssertTrue(bad.stderr.contains("no region 'nowhere'"), bad.stderr)
    }

    func testRegionsOnTheSlideThroughARegistration() throws {
        let t2 = try TestEnv.testdata(Self.t2), glandPath = try TestEnv.testdata(Self.gland)
        let gland = try NIfTI.read(glandPath)
        let dir = try TestEnv.scratch(self, "regions-slide")
        let centre = SIMD2(-7.0, 15.0), s = 50.0
        let affine = MatrixTransform2D(kind: .affine, center: centre, parameters: [-s, 0, 0, s, 2000 - centre.x, 2000 - centre.y])
        let t = SectionTransform(affine: affine, field: nil, mri: .init(path: t2, volume: gland, slice: 14),
                                 slide: .init(path: dir + "/missing.tiff", width: 4000, height: 4000, mppX: 20, mppY: 20))
        try FileManager.default.createDirectory(atPath: dir + "/reg", withIntermediateDirectories: true)
        try t.write(folder: dir + "/reg")
        let r = try radiopath(["regions", "--image", t2, "--mask", glandPath, "--sectors", "prostate", "--transform", dir + "/reg", "--out", dir + "/out", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("blank canvas"))
        let geo = try Data(contentsOf: URL(fileURLWithPath: dir + "/out/sectors_slide.geojson"))
        let fc = try TestEnv.json(geo) as! [String: Any]
        let features = fc["features"] as! [[String: Any]]
        XCTAssertGreaterThanOrEqual(features.count, 4)
        let cls = (features[0]["properties"] as! [String: Any])["classification"] as! [String: Any]
        XCTAssertNotNil(cls["color"])
        XCTAssertTrue((cls["name"] as! String).contains("_"))
        let png = try PNGCodec.decodeRGB(try Data(contentsOf: URL(fileURLWithPath: dir + "/out/sectors_slide.png")))
        XCTAssertEqual(png.width, 1024)
        XCTAssertTrue(png.pixels.contains { $0 != 255 })
        // The slide outlines come back to the MRI as an annotations family on slice 14.
        let back = try radiopath(["regions", "--image", t2, "--mask", glandPath, "--transform", dir + "/reg",
                                  "--slide-geojson", dir + "/out/sectors_slide.geojson", "--out", dir + "/back"])
        XCTAssertEqual(back.status, 0, back.stderr)
        let annotations = try NIfTI.read(dir + "/back/annotations.nii.gz")
        let plane = gland.size.x * gland.size.y
        let sectors = try NIfTI.read(dir + "/out/sectors.nii.gz")
        XCTAssertEqual(annotations.voxels[(14 * plane)..<(15 * plane)].map { $0 != 0 }, sectors.voxels[(14 * plane)..<(15 * plane)].map { $0 != 0 })

        // A slide score map (.npy, 200 × 200 over the slide) hot over the gland of slice 14.
        var slice = t.mri.sliceGrid
        slice.pixels = Array(gland.voxels[(14 * plane)..<(15 * plane)]).map { $0 != 0 ? 0.9 : 0.1 }
        try NPY.write(t.pushToSlide(slice, width: 200, height: 200, nearest: true), width: 200, height: 200, to: dir + "/scores.npy")
        let hot = try radiopath(["regions", "--image", t2, "--mask", glandPath, "--transform", dir + "/reg", "--hotspots", dir + "/scores.npy",
                                 "--hotspot-threshold", "0.5", "--out", dir + "/hot", "--json"])
        XCTAssertEqual(hot.status, 0, hot.stderr)
        let hotspots = try NIfTI.read(dir + "/hot/hotspots.nii.gz")
        let mine = hotspots.voxels[(14 * plane)..<(15 * plane)], truth = gland.voxels[(14 * plane)..<(15 * plane)]
        let both = zip(mine, truth).filter { $0 != 0 && $1 != 0 }.count
        XCTAssertGreaterThan(2 * Double(both) / Double(mine.filter { $0 != 0 }.count + truth.filter { $0 != 0 }.count), 0.9)
    }

    func testBadInputExitsTwoWithAReason() throws {
        let t2 = try TestEnv.testdata(Self.t2), glandPath = try TestEnv.testdata(Self.gland)
        let gland = try NIfTI.read(glandPath)
        let dir = try TestEnv.scratch(self, "regions-bad")
        var empty = gland
        empty.voxels = empty.voxels.map { _ in 0 }
        try NIfTI.write(empty, to: dir + "/empty.nii.gz", as: .uint8)
        var other = gland
        other.spacing = SIMD3(1, 1, 1)
        try NIfTI.write(other, to: dir + "/other.nii.gz", as: .uint8)
        try NIfTI.write(lesion(gland, centre: SIMD3(25, 70, -15), radius: 4), to: dir + "/outside.nii.gz", as: .uint8)
        try NIfTI.write(lesion(gland, radius: 0.3), to: dir + "/tiny.nii.gz", as: .uint8)
        let cases: [([String], String)] = [
            (["--mask", dir + "/empty.nii.gz", "--sectors", "prostate"], "mask is empty"),
            (["--mask", dir + "/other.nii.gz", "--sectors", "prostate"], "another grid"),
            (["--mask", glandPath, "--lesion", dir + "/outside.nii.gz", "--rings", "0,3"], "outside the mask"),
            (["--mask", glandPath, "--lesion", dir + "/tiny.nii.gz", "--habitats", "3"], "larger than the ROI"),
            (["--mask", glandPath, "--rings", "3,0"], "increasing"),
            (["--mask", glandPath], "nothing to make"),
        ]
        for (args, reason) in cases {
            let r = try radiopath(["regions", "--image", t2, "--out", dir + "/out"] + args)
            XCTAssertEqual(r.status, 2, "\(args): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains(reason), "\(args): \(r.stderr)")
        }
    }
}
