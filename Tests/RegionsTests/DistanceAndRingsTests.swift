import Foundation
import TestSupport
import VolumeIO
import XCTest
@testable import Regions

final class DistanceAndRingsTests: XCTestCase {
    /// Brute force on a small anisotropic grid: every voxel against every feature voxel.
    func testDistanceTransformEqualsBruteForce() {
        let size = SIMD3(9, 7, 5), spacing = SIMD3(0.7, 1.3, 3.1)
        var rng = SeededRNG(3)
        let feature = (0..<(9 * 7 * 5)).map { _ in Double.random(in: 0..<1, using: &rng) < 0.05 }
        func coords(_ v: Int) -> SIMD3<Double> { SIMD3(Double(v % 9), Double((v / 9) % 7), Double(v / 63)) * spacing }
        for skip in [Set<Int>(), [2]] {
            let d = DistanceTransform.distance(to: feature, size: size, spacing: spacing, skipping: skip)
            for v in 0..<feature.count {
                var best = Double.infinity
                for q in 0..<feature.count where feature[q] && (skip.isEmpty || q / 63 == v / 63) {
                    let t = coords(v) - coords(q)
                    best = min(best, (t * t).sum().squareRoot())
                }
                if best.isInfinite { XCTAssertTrue(d[v].isInfinite) } else { XCTAssertEqual(d[v], best, accuracy: 1e-12) }
            }
        }
    }

    /// The real prostate label against scipy.ndimage.distance_transform_edt(sampling=spacing).
    func testDistanceTransformEqualsScipyOnTheProstate() throws {
        let path = try TestEnv.testdata("radiology/prostate/aaa0060_T2_axial_prostate_label.nii.gz")
        let gland = try NIfTI.read(path)
        let inside = gland.voxels.map { $0 != 0 }
        let outside = DistanceTransform.distance(to: inside, size: gland.size, spacing: gland.spacing)
        let depth = DistanceTransform.distance(to: inside.map { !$0 }, size: gland.size, spacing: gland.spacing)
        let dir = try TestEnv.scratch(self, "edt")
        try ClusteringPeerTests.writeDoubles(outside + depth, dir + "/d.bin")
        let out = try TestEnv.runPython("""
        import sys, json, numpy as np, SimpleITK as sitk
        from scipy.ndimage import distance_transform_edt
        im = sitk.ReadImage(sys.argv[1]); a = sitk.GetArrayFromImage(im) != 0
        sp = im.GetSpacing()[::-1]
        ref = np.concatenate([distance_transform_edt(~a, sampling=sp).ravel(), distance_transform_edt(a, sampling=sp).ravel()])
        mine = np.fromfile(sys.argv[2] + '/d.bin')
        print(json.dumps({'max': float(np.abs(mine - ref).max()), 'n': int(mine.size), 'top': float(ref.max())}))
        """, [path, dir])
        let peer = try TestEnv.json(out) as! [String: Any]
        XCTAssertEqual(peer["n"] as! Int, 2 * gland.count)
        XCTAssertLessThanOrEqual(peer["max"] as! Double, 1e-9)
        XCTAssertGreaterThan(peer["top"] as! Double, 50, "the comparison covers far voxels too")
    }

    func testRingsSplitInsideAndOutside() throws {
        // A 5 mm-radius ball on a 1 × 1 × 2 mm grid.
        let size = SIMD3(30, 30, 16), spacing = SIMD3(1.0, 1.0, 2.0)
        var voxels = [Float](repeating: 0, count: size.x * size.y * size.z)
        for k in 0..<size.z { for j in 0..<size.y { for i in 0..<size.x {
            let p = SIMD3(Double(i) - 15, Double(j) - 15, 2 * (Double(k) - 8))
            if (p * p).sum() <= 25 { voxels[i + 30 * (j + 30 * k)] = 1 }
        } } }
        let lesion = Volume(size: size, spacing: spacing, voxels: voxels)
        let rings = try BoundaryRings.make(lesion: lesion, edges: try BoundaryRings.parseEdges("-3,0,3,6"))
        XCTAssertEqual(rings.regions.map(\.name), ["ring_-3_0mm", "ring_0_3mm", "ring_3_6mm"])
        let signed = DistanceTransform.signed(lesion)
        for v in 0..<voxels.count {
            let label = rings.labels.voxels[v], inside = voxels[v] != 0
            if label == 1 { XCTAssertTrue(inside) }
            if label == 2 || label == 3 { XCTAssertFalse(inside) }
            let d = signed[v]
            let expected: Float = d >= -3 && d < 0 ? 1 : (d >= 0 && d < 3 ? 2 : (d >= 3 && d < 6 ? 3 : 0))
            XCTAssertEqual(label, expected)
        }
        // The ball's centre is 5 mm deep: not in the inner 3 mm band.
        XCTAssertEqual(rings.labels[15, 15, 8], 0)
        XCTAssertEqual(rings.labels[15, 15, 6], 1)   // 4 mm below the centre: 1 voxel (2 mm) from the outside voxel at z = −6
        let counts = rings.voxelCounts()
        XCTAssertTrue(counts.values.allSatisfy { $0 > 0 })
        XCTAssertGreaterThan(counts[3]!, counts[2]!, "the outer shell is larger")
        XCTAssertThrowsError(try BoundaryRings.make(lesion: lesion, edges: [3, 0])) { XCTAssertTrue("\($0)".contains("increasing")) }
        var empty = lesion
        empty.voxels = empty.voxels.map { _ in 0 }
        XCTAssertThrowsError(try BoundaryRings.make(lesion: empty, edges: [0, 3])) { XCTAssertTrue("\($0)".contains("empty")) }
    }
}
