@testable import Cells
import Foundation
import ImageCore
import SlideIO
import SlideSynth
import TestSupport
import XCTest

/// Detection quality against ground truth on real and synthetic images.
final class FluorescenceValidationTests: XCTestCase {
    /// The StarDist sample has no pixel size. Its nuclei (median 440 px, ~24 px across) are
    /// read as typical 7–8 µm nuclei: 0.3 µm/px.
    static let assumedMPP = 0.3

    /// The 512×512 image and its 125-instance mask, via scikit-image (16-bit TIFF), as float32
    /// intensities scaled to 0…1 by the image maximum and int32 labels.
    func load() throws -> (image: [Float], mask: [Int32], width: Int, height: Int) {
        let img = try TestEnv.testdata("histology/nuclei_fluo_img2d.tif")
        let msk = try TestEnv.testdata("histology/nuclei_fluo_mask2d.tif")
        let dir = try TestEnv.scratch(self, "fluo")
        let script = """
        import sys, numpy as np
        from skimage import io
        a = io.imread(sys.argv[1]).astype(np.float32)
        m = io.imread(sys.argv[2]).astype(np.int32)
        (a / a.max()).astype(np.float32).tofile(sys.argv[3] + '/img.f32')
        m.tofile(sys.argv[3] + '/mask.i32')
        print(a.shape[1], a.shape[0])
        """
        let out = String(decoding: try TestEnv.runPython(script, [img, msk, dir]), as: UTF8.self)
        let dims = out.split(whereSeparator: { $0 == " " || $0 == "\n" }).compactMap { Int($0) }
        return (try Raw.read(dir + "/img.f32", as: Float.self), try Raw.read(dir + "/mask.i32", as: Int32.self), dims[0], dims[1])
    }

    func testFluorescenceNucleiMatchTheGroundTruth() throws {
        let (image, mask, w, h) = try load()
        XCTAssertEqual(Set(mask).count - 1, 125, "the ground truth has 125 instances")
        var p = NucleiParameters.fluorescence
        p.pixelSize = Self.assumedMPP
        let (nuclei, info) = try NucleiDetector(parameters: p).detect(intensity: image, width: w, height: h, mpp: Self.assumedMPP)
        let labels = Matching.labelImage(nuclei, width: w, height: h)
        let byIoU = Matching.masks(pred: labels, truth: mask)
        // Centroid matching within 4 µm at the assumed pixel size.
        var truthCentroids: [Int32: (Double, Double, Int)] = [:]
        for y in 0..<h { for x in 0..<w where mask[y * w + x] != 0 {
            let l = mask[y * w + x]; let c = truthCentroids[l] ?? (0, 0, 0)
            truthCentroids[l] = (c.0 + Double(x) + 0.5, c.1 + Double(y) + 0.5, c.2 + 1)
        } }
        let tc = truthCentroids.values.map { Point(x: $0.0 / Double($0.2), y: $0.1 / Double($0.2)) }
        let byCentroid = Matching.centroids(nuclei.map(\.centroid), tc, radius: 4 / Self.assumedMPP)
        print("fluorescence: threshold \(info.threshold); IoU≥0.5: \(byIoU.summary), mean matched IoU \(String(format: "%.3f", byIoU.meanIoU)); centroid ≤ 4 µm: \(byCentroid.summary)")
        // The issue's criterion: F1 ≥ 0.85 matching centroids within 4 µm (at the assumed scale).
        XCTAssertGreaterThanOrEqual(byCentroid.f1, 0.85, byCentroid.summary)
        // Masks too: instance matching at IoU ≥ 0.5 (0.853 when written) and matched IoU.
        XCTAssertGreaterThanOrEqual(byIoU.f1, 0.8, byIoU.summary)
        XCTAssertGreaterThan(byIoU.meanIoU, 0.75)
    }
}

/// A synthetic slide (SlideSynth, 0.25 µm/px) with every nucleus known.
final class SyntheticValidationTests: XCTestCase {
    func testSyntheticSlideNucleiAreFoundWithinFourMicrometres() throws {
        let dir = try TestEnv.scratch(self, "synth-nuclei")
        var spec = SyntheticSlideSpec(width: 6000, height: 4000)
        spec.seed = 11
        let truth = try SlideSynth.write(spec, to: dir + "/s.svs", truthDirectory: dir + "/truth")
        let slide = try Slide.open(path: dir + "/s.svs")
        // Tissue patches from the exact tissue mask (64 px cells), as a tiler's bag would give.
        let d = 64
        let mask = truth.tissueMask(downsample: Double(d))
        var patches: [NucleusPatch] = []
        for y in 0..<mask.height { for x in 0..<mask.width where mask[x, y] != 0 {
            patches.append(NucleusPatch(index: patches.count, core: PixelRect(x: x * d, y: y * d, width: min(d, spec.width - x * d), height: min(d, spec.height - y * d))))
        } }
        let detector = try NucleiDetector()
        var found: [Nucleus] = []
        let info = try detector.detect(slide: slide, patches: patches) { found += $0 }
        // Truth nuclei whose centre lies in a patch.
        let csv = try String(contentsOfFile: dir + "/truth/nuclei.csv", encoding: .utf8)
        var truthPoints: [Point] = []
        for line in csv.split(separator: "\n").dropFirst() {
            let f = line.split(separator: ",").compactMap { Double($0) }
            let (x, y) = (f[0], f[1])
            let mx = Int(x) / d, my = Int(y) / d
            if mx < mask.width, my < mask.height, mask[mx, my] != 0 { truthPoints.append(Point(x: x, y: y)) }
        }
        let m = Matching.centroids(found.map(\.centroid), truthPoints, radius: 4 / spec.mpp)
        let countError = abs(Double(found.count - truthPoints.count)) / Double(truthPoints.count)
        print("synthetic: \(m.summary); count error \(String(format: "%.2f", countError * 100)) %; \(info.tiles) tiles, analysed at \(info.analysisMPP) µm/px in \(String(format: "%.2f", info.seconds)) s")
        XCTAssertGreaterThan(truthPoints.count, 1000)
        XCTAssertGreaterThanOrEqual(m.f1, 0.9, m.summary)
        XCTAssertLessThanOrEqual(countError, 0.05)
        XCTAssertTrue(found.allSatisfy { $0.patch >= 0 }, "every nucleus is assigned to its patch")
        XCTAssertEqual(info.analysisMPP, 0.5, accuracy: 1e-9)
    }
}

/// Real H&E: no truth, so plausibility — density, size, nothing on glass.
final class HESanityTests: XCTestCase {
    /// The TIAToolbox tumour tile is a 40× crop (~0.25 µm/px: its nuclei are ~50 px across);
    /// the StarDist H&E sample ~0.5 µm/px.
    func testRealHENucleiHavePlausibleDensityAndSize() throws {
        for (file, mpp) in [("histology/he_tumour_1000px.png", 0.25), ("histology/he_small_histo.jpg", 0.5)] {
            let image = try ImageFile.read(path: try TestEnv.testdata(file))
            let (nuclei, info) = try NucleiDetector().detect(image: image, mpp: mpp)
            let areaMM2 = Double(image.width * image.height) * mpp * mpp / 1e6
            let density = Double(nuclei.count) / areaMM2
            let areas = nuclei.map { $0.value("area_um2") }.sorted()
            let median = areas[areas.count / 2]
            print("\(file): \(nuclei.count) nuclei, \(Int(density)) per mm², median area \(String(format: "%.1f", median)) µm², analysed at \(info.analysisMPP) µm/px")
            // Cellular tissue holds roughly 1,000–20,000 nuclei per mm²; nuclei are 15–150 µm².
            XCTAssertGreaterThan(density, 1000, file)
            XCTAssertLessThan(density, 20000, file)
            XCTAssertGreaterThan(median, 15, file)
            XCTAssertLessThan(median, 150, file)
            XCTAssertTrue(info.warnings.isEmpty, "\(file): real H&E passes the stain check: \(info.warnings)")
            XCTAssertTrue(nuclei.allSatisfy { $0.value("hematoxylin_od_mean") > 0.1 }, "every nucleus is haematoxylin-dark")
        }
    }

    /// CMU-1-Small-Region is half glass: no nucleus lies on it.
    func testNoNucleiOnGlass() throws {
        let slide = try Slide.open(path: try TestEnv.testdata("slides/CMU-1-Small-Region.svs"))
        var nuclei: [Nucleus] = []
        try NucleiDetector().detect(slide: slide) { nuclei += $0 }
        let image = try slide.readRegion(x: 0, y: 0, level: 0, width: slide.width, height: slide.height)
        // Glass: bright, unsaturated pixels, shrunk by 20 px so tissue edges do not count.
        var glass = GrayImage(width: image.width, height: image.height)
        for i in 0..<(image.width * image.height) {
            let r = Int(image.pixels[3 * i]), g = Int(image.pixels[3 * i + 1]), b = Int(image.pixels[3 * i + 2])
            if min(r, g, b) > 200 && max(r, g, b) - min(r, g, b) < 25 { glass.pixels[i] = 255 }
        }
        let open = glass.opened(size: 15).eroded(size: 41)
        let glassShare = Double(open.foregroundCount) / Double(open.pixels.count)
        XCTAssertGreaterThan(glassShare, 0.2, "the slide has glass to test on")
        let onGlass = nuclei.filter { open[Int($0.centroid.x), Int($0.centroid.y)] != 0 }
        print("CMU-1-Small-Region: \(nuclei.count) nuclei, \(onGlass.count) on glass (\(String(format: "%.0f", glassShare * 100)) % of the slide is glass)")
        XCTAssertGreaterThan(nuclei.count, 1000)
        XCTAssertEqual(onGlass.count, 0)
    }
}
