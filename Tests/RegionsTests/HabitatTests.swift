import Foundation
import TestSupport
import VolumeIO
import XCTest
@testable import Regions

final class HabitatTests: XCTestCase {
    /// A 24 × 24 × 6 box ROI split in three slabs along x with intensities 100, 200, 300 plus
    /// noise (sd 10), inside a larger zero image.
    static func phantom() -> (Volume, Volume, [Int]) {
        let size = SIMD3(32, 32, 8)
        var rng = SeededRNG(5)
        var image = [Float](repeating: 0, count: size.x * size.y * size.z), mask = image
        var truth = [Int](repeating: 0, count: image.count)
        for k in 1..<7 { for j in 4..<28 { for i in 4..<28 {
            let v = i + 32 * (j + 32 * k), slab = (i - 4) / 8
            mask[v] = 1
            truth[v] = slab + 1
            image[v] = Float(100 * (slab + 1)) + Float.random(in: -17...17, using: &rng)
        } } }
        let spacing = SIMD3(0.5, 0.5, 2.0)
        return (Volume(size: size, spacing: spacing, voxels: image), Volume(size: size, spacing: spacing, voxels: mask), truth)
    }

    func testKMeansAndMixtureRecoverThePlateausInIntensityOrder() throws {
        let (image, mask, truth) = Self.phantom()
        var options = HabitatOptions()
        options.k = 3
        for method in [HabitatOptions.Method.kMeans, .gaussianMixture(.diagonal), .gaussianMixture(.full)] {
            options.method = method
            let (map, summary) = try Habitats.make(image: image, mask: mask, options: options)
            XCTAssertEqual(map.labels.voxels.map(Int.init), truth, "\(method)")
            XCTAssertEqual(summary.voxelCounts, [1152, 1152, 1152])
            XCTAssertEqual(summary.habitatMeans.map { $0[0] / 100 }.map { $0.rounded() }, [1, 2, 3])
            // Another seed gives the same labels: they are ordered by intensity, not by cluster index.
            options.seed = 99
            XCTAssertEqual(try Habitats.make(image: image, mask: mask, options: options).0.labels.voxels, map.labels.voxels)
            options.seed = 1
        }
    }

    func testHabitatsWithAVoxelFeatureMap() throws {
        let (image, mask, truth) = Self.phantom()
        var options = HabitatOptions()
        options.k = 3
        options.features = ["stat_mean"]
        let (map, summary) = try Habitats.make(image: image, mask: mask, options: options)
        XCTAssertEqual(summary.features, ["intensity", "stat_mean"])
        XCTAssertEqual(summary.skippedVoxels, 0)
        // Local means blur the slab borders: most voxels still match.
        let agree = zip(map.labels.voxels.map(Int.init), truth).filter { $0 == $1 }.count
        XCTAssertGreaterThan(Double(agree) / Double(truth.count), 0.97)
    }

    func testBadHabitatInput() throws {
        let (image, mask, _) = Self.phantom()
        var options = HabitatOptions()
        options.k = 5000
        XCTAssertThrowsError(try Habitats.make(image: image, mask: mask, options: options)) { XCTAssertTrue("\($0)".contains("larger than the ROI")) }
        options.k = 3
        var empty = mask
        empty.voxels = empty.voxels.map { _ in 0 }
        XCTAssertThrowsError(try Habitats.make(image: image, mask: empty, options: options)) { XCTAssertTrue("\($0)".contains("empty")) }
        var flat = image
        flat.voxels = flat.voxels.map { _ in 5 }
        XCTAssertThrowsError(try Habitats.make(image: flat, mask: mask, options: options)) { XCTAssertTrue("\($0)".contains("distinct")) }
        var other = mask
        other.spacing = SIMD3(1, 1, 1)
        XCTAssertThrowsError(try Habitats.make(image: image, mask: other, options: options)) { XCTAssertTrue("\($0)".contains("another grid")) }
    }
}
