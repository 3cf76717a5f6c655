import Foundation
import TestSupport
import VolumeIO
import XCTest
@testable import Regions

final class SectorTests: XCTestCase {
    static func gland() throws -> Volume {
        try NIfTI.read(try TestEnv.testdata("radiology/prostate/aaa0060_T2_axial_prostate_label.nii.gz"))
    }

    /// The same image with the voxel order reversed along i and k (direction columns negated,
    /// origin moved to the old last voxel): every voxel keeps its LPS position.
    static func flipped(_ v: Volume) -> Volume {
        let n = v.size
        var out = v
        for k in 0..<n.z { for j in 0..<n.y { for i in 0..<n.x {
            out.voxels[(n.x - 1 - i) + n.x * (j + n.y * (n.z - 1 - k))] = v.voxels[v.index(i, j, k)]
        } } }
        out.origin = v.point(ofIndex: SIMD3(Double(n.x - 1), 0, Double(n.z - 1)))
        var d = v.direction
        for r in 0..<3 { d[3 * r] = -d[3 * r]; d[3 * r + 2] = -d[3 * r + 2] }
        out.direction = d
        return out
    }

    func testProstateSectorsPartitionTheGland() throws {
        let gland = try Self.gland()
        let atlas = try SectorAtlas.named("prostate")
        let map = try atlas.apply(gland: gland)
        XCTAssertEqual(map.regions.count, 12)
        XCTAssertEqual(map.regions.first?.name, "apex_R_PZ")
        XCTAssertEqual(map.regions.last?.name, "base_L_TZ")
        // Exactly the gland, every voxel once.
        for v in 0..<gland.count { XCTAssertEqual(gland.voxels[v] != 0, map.labels.voxels[v] != 0) }
        let counts = map.voxelCounts()
        XCTAssertEqual(counts.values.reduce(0, +), gland.voxels.filter { $0 != 0 }.count)
        XCTAssertTrue(counts.values.allSatisfy { $0 > 0 }, "every sector has voxels: \(counts)")
        func total(_ keep: (String) -> Bool) -> Int { map.regions.filter { keep($0.name) }.reduce(0) { $0 + counts[$1.label]! } }
        let left = total { $0.contains("_L_") }, right = total { $0.contains("_R_") }
        XCTAssertLessThan(abs(Double(left - right)) / Double(max(left, right)), 0.2, "left \(left) vs right \(right)")
        // Levels: each about a third of the slices with gland (identity direction: slices are k).
        let n = gland.size, plane = n.x * n.y
        let glandSlices = (0..<n.z).filter { k in gland.voxels[(k * plane)..<((k + 1) * plane)].contains { $0 != 0 } }
        for level in ["apex", "mid", "base"] {
            let labels = Set(map.regions.filter { $0.name.hasPrefix(level) }.map { Float($0.label) })
            let slices = (0..<n.z).filter { k in map.labels.voxels[(k * plane)..<((k + 1) * plane)].contains { labels.contains($0) } }
            XCTAssertEqual(Double(slices.count), Double(glandSlices.count) / 3, accuracy: 1, "\(level): \(slices)")
        }
        // Base is superior (+z in LPS): its slices lie above the apex's.
        let apexK = (0..<n.z).filter { k in map.labels.voxels[(k * plane)..<((k + 1) * plane)].contains { $0 >= 1 && $0 <= 4 } }
        let baseK = (0..<n.z).filter { k in map.labels.voxels[(k * plane)..<((k + 1) * plane)].contains { $0 >= 9 } }
        XCTAssertLessThan(gland.point(ofIndex: SIMD3(0, 0, Double(apexK.max()!))).z, gland.point(ofIndex: SIMD3(0, 0, Double(baseK.min()!))).z)
        // PZ is posterior (+y) and on the gland's rim; TZ holds the anterior half.
        var pzY = 0.0, tzY = 0.0, pz = 0, tz = 0
        for v in 0..<gland.count where map.labels.voxels[v] != 0 {
            let name = map.regions[Int(map.labels.voxels[v]) - 1].name
            let y = gland.point(ofIndex: SIMD3(Double(v % n.x), Double((v / n.x) % n.y), Double(v / plane))).y
            if name.hasSuffix("PZ") { pzY += y; pz += 1 } else { tzY += y; tz += 1 }
        }
        XCTAssertGreaterThan(pzY / Double(pz), tzY / Double(tz))
        XCTAssertGreaterThan(pz, 0); XCTAssertGreaterThan(tz, pz / 3)
    }

    func testFlippedDirectionGivesTheSameAnatomicalLabels() throws {
        let gland = try Self.gland()
        let atlas = try SectorAtlas.named("prostate")
        let a = try atlas.apply(gland: gland)
        let b = try atlas.apply(gland: Self.flipped(gland))
        XCTAssertEqual(Self.flipped(a.labels).voxels, b.labels.voxels)
        XCTAssertNotEqual(a.labels.voxels, b.labels.voxels, "the flip moved the voxels")
    }

    /// The same image with the i and j axes exchanged (a "coronal-order" file of an axial scan).
    static func transposed(_ v: Volume) -> Volume {
        let n = v.size
        var voxels = v.voxels
        for k in 0..<n.z { for j in 0..<n.y { for i in 0..<n.x { voxels[j + n.y * (i + n.x * k)] = v.voxels[v.index(i, j, k)] } } }
        let d = v.direction
        return Volume(size: SIMD3(n.y, n.x, n.z), spacing: SIMD3(v.spacing.y, v.spacing.x, v.spacing.z), origin: v.origin,
                      direction: [d[1], d[0], d[2], d[4], d[3], d[5], d[7], d[6], d[8]], voxels: voxels)
    }

    func testPermutedAxesGiveTheSameSectorsAndPreview() throws {
        let gland = try Self.gland()
        let atlas = try SectorAtlas.named("prostate")
        let a = try atlas.apply(gland: gland)
        let b = try atlas.apply(gland: Self.transposed(gland))
        XCTAssertEqual(Self.transposed(a.labels).voxels, b.labels.voxels)
        // The preview is drawn in patient directions, so voxel order does not change it.
        let image = try NIfTI.read(try TestEnv.testdata("radiology/prostate/aaa0060_T2_axial.nii.gz"))
        let p1 = try RegionPainter.preview(a, image: image)
        XCTAssertEqual(try RegionPainter.preview(b, image: Self.transposed(image)), p1)
        XCTAssertEqual(try RegionPainter.preview(try atlas.apply(gland: Self.flipped(gland)), image: Self.flipped(image)), p1)
        XCTAssertThrowsError(try SectorAtlas.named("liver")) { XCTAssertTrue("\($0)".contains("liver-sectors.json")) }
    }

    func testZoneLabelVolumeOverridesTheApproximation() throws {
        let gland = try Self.gland()
        var zones = gland
        zones.voxels = gland.voxels.map { $0 != 0 ? 2 : 0 }   // all TZ
        var atlas = try SectorAtlas.named("prostate")
        let map = try atlas.apply(gland: gland, zones: zones)
        let counts = map.voxelCounts()
        XCTAssertTrue(map.regions.filter { $0.name.hasSuffix("PZ") }.allSatisfy { counts[$0.label] == 0 })
        XCTAssertTrue(map.regions[1].definition.contains("zone label volume"))
        // Anterior/posterior split of TZ: 18 sectors, TZa anterior of TZp.
        atlas.anterior_posterior.split_zones = ["TZ"]
        let split = try atlas.apply(gland: gland)
        XCTAssertEqual(split.regions.count, 18)
        XCTAssertEqual(split.regions[1].name, "apex_R_TZa")
        var bad = zones
        bad.voxels = bad.voxels.map { $0 != 0 ? 7 : 0 }
        XCTAssertThrowsError(try atlas.apply(gland: gland, zones: bad)) { XCTAssertTrue("\($0)".contains("zone_labels") || "\($0)".contains("none of the labels")) }
        var empty = gland
        empty.voxels = empty.voxels.map { _ in 0 }
        XCTAssertThrowsError(try atlas.apply(gland: empty)) { XCTAssertTrue("\($0)".contains("empty")) }
    }
}
