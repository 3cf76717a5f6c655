import Foundation
import ImageCore
import PatchBag
import Registration
import TestSupport
import VolumeIO
import XCTest

/// `radiopath register` and `warp` end to end on a histology-like section rendered from the
/// real prostate T2 slice through a known map (mirror, rotation, 10 % shrinkage, a smooth bump).
final class RegisterCommandTests: XCTestCase {
    /// Known slide mm → MRI mm (moving → fixed).
    struct Truth {
        var fixedCenter: SIMD2<Double>, movingCenter: SIMD2<Double>
        var scale = 1 / 0.9, angle = 35.0 * .pi / 180, flipped = true
        var bump = (center: SIMD2<Double>.zero, amplitude: SIMD2(1.6, -1.2), sigma: 10.0)
        func map(_ y: SIMD2<Double>) -> SIMD2<Double> {
            var v = y - movingCenter
            if flipped { v.x = -v.x }
            let c = cos(angle), s = sin(angle)
            let z = fixedCenter + SIMD2(c * v.x - s * v.y, s * v.x + c * v.y) * scale
            let r = z - bump.center
            return z + bump.amplitude * exp(-0.5 * (r * r).sum() / (bump.sigma * bump.sigma))
        }
    }

    static let mpp = 50.0, size = 1500

    struct Case { var dir: String; var section: String; var truth: Truth; var mri: String; var label: String; var tissue: [SIMD2<Double>] }

    /// Renders the section of `slice` as an H&E-coloured PNG (0.25 mm/px) with its truth.
    func makeCase(slice: Int, label: String = "case") throws -> Case {
        let mriPath = try TestEnv.testdata("radiology/prostate/aaa0060_T2_axial.nii.gz")
        let labelPath = try TestEnv.testdata("radiology/prostate/aaa0060_T2_axial_prostate_label.nii.gz")
        let dir = try TestEnv.scratch(self, label)
        let fixed = try Image2D(slice: slice, of: try VolumeFile.read(mriPath))
        var mask = try Image2D(slice: slice, of: try VolumeFile.read(labelPath))
        for k in 0..<mask.pixels.count { mask.pixels[k] = mask.pixels[k] > 0.5 ? 1 : 0 }
        let m = try MaskMoments(mask)
        let sp = Self.mpp / 1000
        var truth = Truth(fixedCenter: m.centroid, movingCenter: SIMD2(repeating: Double(Self.size) * sp / 2))
        truth.bump.center = m.centroid + SIMD2(4, -3)
        let inside = zip(fixed.pixels, mask.pixels).filter { $0.1 > 0.5 }.map { $0.0 }.sorted()
        let lo = inside[inside.count / 50], hi = inside[inside.count * 49 / 50]
        let smooth = mask.smoothed(sigma: 0.3)
        var rgb = RGBImage(width: Self.size, height: Self.size)
        var rng = SplitMix64(seed: UInt64(slice))
        var tissue: [SIMD2<Double>] = []
        for j in 0..<Self.size {
            for i in 0..<Self.size {
                let y = SIMD2(Double(i) + 0.5, Double(j) + 0.5) * sp // pixel centre, slide mm
                let x = truth.map(y)
                let t = Double(smooth.value(at: x, outside: 0))
                let t2 = min(max(Double((fixed.value(at: x, outside: lo) - lo) / (hi - lo)), 0), 1)
                var stain = 0.78 - 0.38 * (1 - t2) + 0.03 * (rng.unit() - 0.5)
                if rng.unit() < 0.08 { stain -= 0.25 }
                // Eosin-pink tissue whose darkness follows `stain`, near-white glass.
                let pink = (255 * stain, 170 * stain, 215 * stain)
                let c = (t * pink.0 + (1 - t) * 240, t * pink.1 + (1 - t) * 240, t * pink.2 + (1 - t) * 242)
                rgb[i, j] = (UInt8(c.0), UInt8(c.1), UInt8(c.2))
                if t > 0.5, mask.value(at: x, outside: 0) > 0.5, i % 35 == 0, j % 35 == 0 { tissue.append(SIMD2(Double(i) + 0.5, Double(j) + 0.5)) }
            }
        }
        let png = dir + "/section.png"
        try PNGCodec.encode(rgb).write(to: URL(fileURLWithPath: png))
        return Case(dir: dir, section: png, truth: truth, mri: mriPath, label: labelPath, tissue: tissue)
    }

    func slideMM(_ px: SIMD2<Double>) -> SIMD2<Double> { px * Self.mpp / 1000 }

    func testRegisterAndWarpRecoverTheKnownMap() throws {
        let c = try makeCase(slice: 14)
        // Landmarks: 40 tissue pixels and where the truth puts them on the MRI.
        let marks = stride(from: 0, to: c.tissue.count, by: max(1, c.tissue.count / 40)).map { c.tissue[$0] }
        var csv = "fixed_x,fixed_y,moving_x,moving_y\n"
        for q in marks { let p = c.truth.map(slideMM(q)); csv += "\(p.x),\(p.y),\(q.x),\(q.y)\n" }
        try csv.write(toFile: c.dir + "/landmarks.csv", atomically: true, encoding: .utf8)

        let out = c.dir + "/reg"
        let r = try radiopath(["register", "--fixed", c.mri, "--fixed-mask", c.label, "--slice", "14", "--moving", c.section,
                               "--moving-mpp", "\(Self.mpp)", "--landmarks", c.dir + "/landmarks.csv", "--out", out, "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        print(r.stderr)
        let report = try XCTUnwrap(try TestEnv.json(try Data(contentsOf: URL(fileURLWithPath: out + "/report.json"))) as? [String: Any])
        let final = try XCTUnwrap(report["result"] as? [String: Any])
        let dice = try XCTUnwrap(final["dice"] as? Double), tre = try XCTUnwrap(final["treMeanMm"] as? Double)
        print("REGISTER dice \(dice) HD95 \(final["hausdorff95Mm"] ?? "-") TRE mean \(tre) max \(final["treMaxMm"] ?? "-")")
        XCTAssertGreaterThanOrEqual(dice, 0.97)
        XCTAssertLessThanOrEqual(tre, 1.0)
        XCTAssertNotNil(final["hausdorff95Mm"] as? Double)
        XCTAssertEqual((report["stages"] as? [Any])?.count, 5)
        for f in ["transform.json", "mri_to_slide_affine.tfm", "mri_displacement.nii", "qc/4_bspline_checkerboard.png", "qc/0_initial_contours.png"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: out + "/" + f), f)
        }

        // Points MRI → slide → MRI: the round trip, and the slide points against the truth.
        var pts = "x,y\n"
        for q in marks { let p = c.truth.map(slideMM(q)); pts += "\(p.x),\(p.y)\n" }
        try pts.write(toFile: c.dir + "/mri.csv", atomically: true, encoding: .utf8)
        XCTAssertEqual(try radiopath(["warp", "--transform", out, "--direction", "to-slide", "--points", c.dir + "/mri.csv", "--out", c.dir + "/slide.csv"]).status, 0)
        XCTAssertEqual(try radiopath(["warp", "--transform", out, "--direction", "to-mri", "--points", c.dir + "/slide.csv", "--out", c.dir + "/back.csv"]).status, 0)
        let slide = try readCSV(c.dir + "/slide.csv"), back = try readCSV(c.dir + "/back.csv")
        var roundTrip = 0.0, slideErr = 0.0
        for (n, q) in marks.enumerated() {
            let p = c.truth.map(slideMM(q))
            roundTrip = max(roundTrip, dist(SIMD2(back[n][0], back[n][1]), p))
            slideErr += dist(c.truth.map(slideMM(SIMD2(slide[n][0], slide[n][1]))), p) / Double(marks.count)
            XCTAssertEqual(back[n][2], report["sliceZMm"] as? Double ?? .nan, accuracy: 1e-9)
        }
        print("WARP round trip max \(roundTrip) mm, to-slide error mean \(slideErr) mm")
        XCTAssertLessThanOrEqual(roundTrip, 0.05)
        XCTAssertLessThanOrEqual(slideErr, 1.0)

        // SimpleITK reads the .tfm and the field; CompositeTransform([A, D]) maps as warp does.
        let peer = try TestEnv.runPython("""
        import sys, SimpleITK as sitk
        a = sitk.ReadTransform(sys.argv[1] + '/mri_to_slide_affine.tfm')
        d = sitk.DisplacementFieldTransform(sitk.Cast(sitk.ReadImage(sys.argv[1] + '/mri_displacement.nii'), sitk.sitkVectorFloat64))
        t = sitk.CompositeTransform([a, d])
        for line in open(sys.argv[2]).read().split()[1:]:
            q = t.TransformPoint(tuple(map(float, line.split(',')))); print(repr(q[0]), repr(q[1]))
        """, [out, c.dir + "/mri.csv"])
        let peerRows = String(decoding: peer, as: UTF8.self).split(separator: "\n").map { $0.split(separator: " ").compactMap { Double($0) } }
        XCTAssertEqual(peerRows.count, marks.count)
        var sitkDiff = 0.0
        for (a, b) in zip(peerRows, slide) { sitkDiff = max(sitkDiff, dist(SIMD2(a[0], a[1]), SIMD2(b[0], b[1]))) }
        print("SimpleITK vs warp: max \(sitkDiff) slide px")
        XCTAssertLessThanOrEqual(sitkDiff, 1e-3)

        // A GeoJSON square (slide px) to the MRI: as GeoJSON (corner vs truth) and as a label slice.
        let centre = marks[marks.count / 2], h = 80.0
        let square = [SIMD2(-h, -h), SIMD2(h, -h), SIMD2(h, h), SIMD2(-h, h), SIMD2(-h, -h)].map { centre + $0 }
        let gj = "{\"type\":\"FeatureCollection\",\"features\":[{\"type\":\"Feature\",\"properties\":{\"objectType\":\"annotation\"},\"geometry\":{\"type\":\"Polygon\",\"coordinates\":[[" + square.map { "[\($0.x),\($0.y)]" }.joined(separator: ",") + "]]}}]}"
        try gj.write(toFile: c.dir + "/square.geojson", atomically: true, encoding: .utf8)
        XCTAssertEqual(try radiopath(["warp", "--transform", out, "--direction", "to-mri", "--geojson", c.dir + "/square.geojson", "--out", c.dir + "/square_mri.geojson"]).status, 0)
        let mm = try XCTUnwrap(try TestEnv.json(try Data(contentsOf: URL(fileURLWithPath: c.dir + "/square_mri.geojson"))) as? [String: Any])
        let ring = try XCTUnwrap((((mm["features"] as? [[String: Any]])?.first?["geometry"] as? [String: Any])?["coordinates"] as? [[[Double]]])?.first)
        XCTAssertGreaterThan(ring.count, 5, "edges densified")
        let corner = dist(SIMD2(ring[0][0], ring[0][1]), c.truth.map(slideMM(square[0])))
        print("GeoJSON corner error \(corner) mm")
        XCTAssertLessThanOrEqual(corner, 1.0)
        XCTAssertEqual(try radiopath(["warp", "--transform", out, "--direction", "to-mri", "--geojson", c.dir + "/square.geojson", "--out", c.dir + "/square.nii.gz"]).status, 0)
        let lab = try VolumeFile.read(c.dir + "/square.nii.gz")
        let (count, centroid) = weightedCentroid(lab, slice: 14)
        let expectedArea = pow(2 * h * Self.mpp / 1000 * c.truth.scale, 2)
        let area = count * lab.spacing.x * lab.spacing.y
        let centroidErr = dist(centroid, c.truth.map(slideMM(centre)))
        print("label slice: area \(area) mm² (truth ≈ \(expectedArea)), centroid error \(centroidErr) mm")
        XCTAssertEqual(area, expectedArea, accuracy: 0.2 * expectedArea)
        XCTAssertLessThanOrEqual(centroidErr, 1.0)
        XCTAssertEqual(lab.voxels.enumerated().filter { $0.element != 0 && $0.offset / (lab.size.x * lab.size.y) != 14 }.count, 0)

        // Patch-bag coords (top-left corners, 64 px patches) → MRI mm of their centres.
        let corners = marks.prefix(10).map { $0 - 32 }
        try PatchBag.write(path: c.dir + "/bag.h5", coords: corners.flatMap { [Int64($0.x.rounded(.down)), Int64($0.y.rounded(.down))] },
                           coordsAttributes: ["patch_size_level0": .int(64), "patch_size": .int(64)], tissueFraction: nil, fileAttributes: [:])
        XCTAssertEqual(try radiopath(["warp", "--transform", out, "--direction", "to-mri", "--patches", c.dir + "/bag.h5", "--out", c.dir + "/bag.csv"]).status, 0)
        let bagRows = try readCSV(c.dir + "/bag.csv")
        XCTAssertEqual(bagRows.count, corners.count)
        var bagErr = 0.0
        for (row, q) in zip(bagRows, corners) {
            let centre = SIMD2(q.x.rounded(.down), q.y.rounded(.down)) + 32
            XCTAssertEqual(row[1], centre.x)
            bagErr = max(bagErr, dist(SIMD2(row[3], row[4]), c.truth.map(slideMM(centre))))
            XCTAssertEqual(row[8], 14)
        }
        print("patch centres on the MRI: max error \(bagErr) mm")
        XCTAssertLessThanOrEqual(bagErr, 1.0)

        // A score map (a Gaussian blob, σ 2 mm, at a tissue point) to the MRI; its centre of mass
        // must land where the truth puts the blob's centre.
        let blob = marks[marks.count / 3]
        var scores = [Float](repeating: 0, count: Self.size * Self.size)
        for j in 0..<Self.size { for i in 0..<Self.size {
            let d = (SIMD2(Double(i) + 0.5, Double(j) + 0.5) - blob) * Self.mpp / 1000
            scores[j * Self.size + i] = Float(exp(-0.5 * (d * d).sum() / 4))
        } }
        try NPY.write(scores, width: Self.size, height: Self.size, to: c.dir + "/scores.npy")
        XCTAssertEqual(try radiopath(["warp", "--transform", out, "--direction", "to-mri", "--scores", c.dir + "/scores.npy", "--out", c.dir + "/scores.nii.gz"]).status, 0)
        let sv = try VolumeFile.read(c.dir + "/scores.nii.gz")
        let blobErr = dist(weightedCentroid(sv, slice: 14).centroid, c.truth.map(slideMM(blob)))
        print("score map centre error \(blobErr) mm")
        XCTAssertLessThanOrEqual(blobErr, 1.0)
        // And back to the slide: the blob's centre of mass on the slide image.
        XCTAssertEqual(try radiopath(["warp", "--transform", out, "--direction", "to-slide", "--scores", c.dir + "/scores.nii.gz", "--downsample", "5", "--out", c.dir + "/scores_back.npy"]).status, 0)
        let backScores = try NPY.read(c.dir + "/scores_back.npy")
        var s = 0.0, m = SIMD2<Double>.zero
        for j in 0..<backScores.height { for i in 0..<backScores.width {
            let v = Double(backScores.values[j * backScores.width + i]); s += v; m += v * SIMD2(Double(i) + 0.5, Double(j) + 0.5) * 5
        } }
        let backErr = dist(m / s, blob) * Self.mpp / 1000
        print("score map back on the slide: centre error \(backErr) mm")
        XCTAssertLessThanOrEqual(backErr, 0.5)
    }

    func testSliceSearchFindsTheSection() throws {
        let c = try makeCase(slice: 14, label: "search")
        let out = c.dir + "/reg"
        let r = try radiopath(["register", "--fixed", c.mri, "--fixed-mask", c.label, "--slice-range", "11:17", "--moving", c.section,
                               "--moving-mpp", "\(Self.mpp)", "--linear-only", "--out", out])
        XCTAssertEqual(r.status, 0, r.stderr)
        print(r.stderr)
        let report = try XCTUnwrap(try TestEnv.json(try Data(contentsOf: URL(fileURLWithPath: out + "/report.json"))) as? [String: Any])
        let k = try XCTUnwrap(report["slice"] as? Int)
        XCTAssertLessThanOrEqual(abs(k - 14), 1, "found slice \(k)")
        XCTAssertEqual((report["candidates"] as? [Any])?.count, 7)
    }

    func testBadInputsGiveClearErrors() throws {
        let c = try makeCase(slice: 14, label: "bad")
        // No slice given.
        var r = try radiopath(["register", "--fixed", c.mri, "--fixed-mask", c.label, "--moving", c.section, "--moving-mpp", "50", "--out", c.dir + "/o"])
        XCTAssertEqual(r.status, 2)
        XCTAssertTrue(r.stderr.contains("--slice"), r.stderr)
        // Landmarks with a missing partner.
        try "fixed_x,fixed_y,moving_x,moving_y\n1,2,3\n".write(toFile: c.dir + "/bad.csv", atomically: true, encoding: .utf8)
        r = try radiopath(["register", "--fixed", c.mri, "--fixed-mask", c.label, "--slice", "14", "--moving", c.section, "--moving-mpp", "50",
                           "--landmarks", c.dir + "/bad.csv", "--out", c.dir + "/o"])
        XCTAssertEqual(r.status, 2)
        XCTAssertTrue(r.stderr.contains("bad.csv") && r.stderr.contains("row 2"), r.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: c.dir + "/o/transform.json"))
        // A slice without gland cannot be registered and writes no transform.
        r = try radiopath(["register", "--fixed", c.mri, "--fixed-mask", c.label, "--slice", "0", "--moving", c.section, "--moving-mpp", "50", "--out", c.dir + "/o"])
        XCTAssertEqual(r.status, 2)
        XCTAssertTrue(r.stderr.contains("no organ on slice 0"), r.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: c.dir + "/o/transform.json"))
    }

    // MARK: helpers

    func dist(_ a: SIMD2<Double>, _ b: SIMD2<Double>) -> Double { let d = a - b; return (d * d).sum().squareRoot() }

    func readCSV(_ path: String) throws -> [[Double]] {
        try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").dropFirst().map { $0.split(separator: ",", omittingEmptySubsequences: false).map { Double($0) ?? .nan } }
    }

    /// Sum of values and their centre of mass (LPS mm) on one slice.
    func weightedCentroid(_ v: Volume, slice k: Int) -> (count: Double, centroid: SIMD2<Double>) {
        var s = 0.0, m = SIMD2<Double>.zero
        for j in 0..<v.size.y { for i in 0..<v.size.x {
            let w = Double(v[i, j, k])
            guard w != 0 else { continue }
            let p = v.point(ofIndex: SIMD3(Double(i), Double(j), Double(k)))
            s += w; m += w * SIMD2(p.x, p.y)
        } }
        return (s, m / s)
    }
}
