import Foundation
import XCTest
import TestSupport
import VolumeIO
@testable import Radiomics

final class ExtractorTests: XCTestCase {
    /// The texture hook receives the discretised ROI on the mask's bounding box: for the phantom
    /// (fixed bin size 1) the grey levels are the intensities, 0 outside the ROI, Ng = 6.
    func testTextureHookReceivesTheDiscretisedROI() throws {
        let (image, mask) = try IBSIPhantom.loadPhantom()
        final class Box: @unchecked Sendable { var roi: DiscretisedROI? }
        let seen = Box()
        let extractor = RadiomicsExtractor(parameters: IBSIPhantom.phantomParameters()) { roi in
            seen.roi = roi
            return [FeatureValue("cm_test", Double(roi.levelCount))]
        }
        let features = try extractor.extract(image: image, mask: mask)
        XCTAssertEqual(features.last, FeatureValue("cm_test", 6))
        let roi = try XCTUnwrap(seen.roi)
        XCTAssertEqual(roi.size, SIMD3(5, 4, 4))
        XCTAssertEqual(roi.spacing, SIMD3(2, 2, 2))
        XCTAssertEqual(roi.morphologicalMask.filter { $0 }.count, 74)
        for v in 0..<image.count {
            let expected: Int32 = mask.voxels[v] != 0 ? Int32(image.voxels[v]) : 0
            XCTAssertEqual(roi.levels[v], expected, "voxel \(v)")
        }
    }

    /// Only the requested families are computed, each tag once, in the IBSI table's order.
    func testFamiliesSelection() throws {
        let (image, mask) = try IBSIPhantom.loadPhantom()
        var p = IBSIPhantom.phantomParameters()
        p.families = [.statistics, .intensityVolumeHistogram]
        let tags = try RadiomicsExtractor(parameters: p).extract(image: image, mask: mask).map(\.tag)
        XCTAssertEqual(tags, IntensityStatistics.tags + IntensityVolumeHistogram.tags)
        p.families = Set(RadiomicsFamily.allCases)
        let all = try RadiomicsExtractor(parameters: p).extract(image: image, mask: mask).map(\.tag)
        XCTAssertEqual(all.count, Set(all).count, "duplicate tags")
        XCTAssertEqual(all.count, Morphology.tags.count + 2 + 18 + 23 + 7)
    }

    /// IVH on a fixed bin number: values 0, 10, …, 90 fill bins 1…10 once each, so
    /// γ = (i − 1)/9 and ν = (11 − i)/10: V10 = 0.9, V90 = 0.1, I10 = 10, I90 = 2.
    /// On a fixed bin size of 25 within the re-segmentation range [−50, 150] the bins are
    /// represented by their centres and γ spans the range: V10 = 1, V90 = 0, I90 = 37.5, and
    /// I10 = 112.5, the first bin centre no voxel reaches.
    func testIntensityVolumeHistogramOptions() {
        let values = (0..<10).map { Double($0 * 10) }
        let fbn = MorphologyTests.values(IntensityVolumeHistogram.features(values, .fixedBinNumber(10), lower: nil, upper: nil))
        XCTAssertEqual(fbn["ivh_v10"]!, 0.9, accuracy: 1e-12)
        XCTAssertEqual(fbn["ivh_v90"]!, 0.1, accuracy: 1e-12)
        XCTAssertEqual(fbn["ivh_i10"]!, 10)
        XCTAssertEqual(fbn["ivh_i90"]!, 2)
        let fbs = MorphologyTests.values(IntensityVolumeHistogram.features(values, .fixedBinSize(25), lower: -50, upper: 150))
        XCTAssertEqual(fbs["ivh_v10"]!, 1)
        XCTAssertEqual(fbs["ivh_v90"]!, 0)
        XCTAssertEqual(fbs["ivh_i10"]!, 112.5)
        XCTAssertEqual(fbs["ivh_i90"]!, 37.5)
        XCTAssertEqual(fbs["ivh_diff_i10_i90"]!, 75)
    }

    /// Local intensity on a hand-checkable volume: 1 mm voxels, a single bright voxel (100) in a
    /// zero background; the 1 cm³ sphere (r = 6.20 mm) holds 1021 voxel centres, so the peak
    /// around it is 100/1021, and every ROI voxel sees at most that.
    func testLocalIntensityPeak() throws {
        let n = SIMD3(21, 21, 21)
        var v = [Float](repeating: 0, count: n.x * n.y * n.z), m = v
        v[10 + 21 * (10 + 21 * 10)] = 100
        for k in 8...12 { for j in 8...12 { for i in 8...12 { m[i + 21 * (j + 21 * k)] = 1 } } }
        var p = RadiomicsParameters()
        p.families = [.localIntensity]
        let f = MorphologyTests.values(try RadiomicsExtractor(parameters: p).extract(
            image: Volume(size: n, spacing: SIMD3(1, 1, 1), voxels: v), mask: Volume(size: n, spacing: SIMD3(1, 1, 1), voxels: m)))
        var count = 0
        let r2 = pow(3.0 / (4 * Double.pi) * 1000, 2.0 / 3)
        for k in -7...7 { for j in -7...7 { for i in -7...7 where Double(i * i + j * j + k * k) <= r2 { count += 1 } } }
        XCTAssertEqual(count, 1021)
        XCTAssertEqual(f["loc_peak_loc"]!, 100.0 / Double(count), accuracy: 1e-12)
        XCTAssertEqual(f["loc_peak_glob"]!, 100.0 / Double(count), accuracy: 1e-12)
    }
}
