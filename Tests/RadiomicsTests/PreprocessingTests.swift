import Foundation
import XCTest
import TestSupport
import VolumeIO
@testable import Radiomics

final class PreprocessingTests: XCTestCase {
    static func randomVolume(_ n: SIMD3<Int>, spacing: SIMD3<Double>, seed: UInt64) -> Volume {
        var rng = SeededRNG(seed)
        let v = (0..<(n.x * n.y * n.z)).map { _ in Float(Int.random(in: -200...300, using: &rng)) }
        return Volume(size: n, spacing: spacing, origin: SIMD3(-10, 4, 30), voxels: v)
    }

    /// SciPy's `map_coordinates` at the IBSI grid: new count ceil(n·s/s′), grid centres aligned,
    /// positions clamped to the image (order 0: nearest, 1: linear, 3: spline with mirror
    /// boundaries). The mask covers the image, so the crop is the whole new grid. Agreement
    /// within 10⁻⁹ (SciPy works in float64 as we do).
    func testResamplingMatchesSciPyOnTheIBSIGrid() throws {
        let n = SIMD3(7, 6, 5), s = SIMD3<Double>(1.3, 0.9, 2.5), target = SIMD3<Double>(1, 1, 1)
        let image = Self.randomVolume(n, spacing: s, seed: 1)
        let mask = Volume(size: n, spacing: s, origin: image.origin, voxels: [Float](repeating: 1, count: image.count))
        let script = """
        import json, sys, numpy as np
        from scipy import ndimage
        a = json.loads(sys.argv[1]); n = a['n']; s = np.array(a['s']); t = np.array(a['t'])
        img = np.array(a['v'], dtype=np.float64).reshape(n[2], n[1], n[0])
        m = [int(np.ceil(n[i] * s[i] / t[i] - 1e-9)) for i in range(3)]
        pos = [np.clip((n[i] - 1) / 2 - (m[i] - 1) / 2 * (t[i] / s[i]) + np.arange(m[i]) * (t[i] / s[i]), 0, n[i] - 1) for i in range(3)]
        zz, yy, xx = np.meshgrid(pos[2], pos[1], pos[0], indexing='ij')
        out = {'m': m}
        for order in (1, 3):
            out[str(order)] = ndimage.map_coordinates(img, [zz, yy, xx], order=order, mode='mirror').ravel().tolist()
        out['0'] = img[np.floor(zz + 0.5).astype(int), np.floor(yy + 0.5).astype(int), np.floor(xx + 0.5).astype(int)].ravel().tolist()
        print(json.dumps(out))
        """
        let arg = "{\"n\":[\(n.x),\(n.y),\(n.z)],\"s\":[\(s.x),\(s.y),\(s.z)],\"t\":[1,1,1],\"v\":[\(image.voxels.map { String($0) }.joined(separator: ","))]}"
        let ref = try TestEnv.json(try TestEnv.runPython(script, [arg])) as! [String: Any]
        let m = ref["m"] as! [Int]
        for (key, interpolator) in [("0", Interpolator.nearest), ("1", .linear), ("3", .cubicSpline)] {
            var p = RadiomicsParameters()
            p.resampledSpacing = target
            p.interpolator = interpolator
            let roi = try PreparedROI(image: image, mask: mask, parameters: p)
            XCTAssertEqual(roi.size, SIMD3(m[0], m[1], m[2]), "IBSI size ceil(n·s/s′)")
            let expected = ref[key] as! [Double]
            XCTAssertEqual(expected.count, roi.intensities.count)
            let worst = zip(roi.intensities, expected).map { abs($0 - $1) }.max()!
            XCTAssertLessThan(worst, 1e-9, "\(interpolator)")
            // The first voxel sits at the aligned position (n−1)/2 − (m−1)/2·r of the old grid.
            var first = SIMD3<Double>(0, 0, 0)
            for a in 0..<3 {
                let half = Double(n[a] - 1) / 2, steps = Double(m[a] - 1) / 2
                first[a] = half - steps * target[a] / s[a]
            }
            let o = image.point(ofIndex: first)
            XCTAssertLessThan(((roi.origin - o) * (roi.origin - o)).sum(), 1e-18)
            XCTAssertEqual(roi.spacing, target)
        }
    }

    /// PyRadiomics convention: the resampled grid starts at the corner of the first voxel (as
    /// PyRadiomics' `resampleImage` sets up SimpleITK) and the mask is resampled by nearest
    /// neighbour, and positions beyond the image's extent [−½, n − ½) read 0. SimpleITK's linear
    /// resampling on that grid agrees within 10⁻⁹ (float32 input), and the masks voxel for voxel.
    func testPyRadiomicsResamplingGridMatchesSimpleITK() throws {
        let n = SIMD3(9, 8, 6), s = SIMD3<Double>(0.75, 0.8, 2.5), target = SIMD3<Double>(1.5, 1.5, 1.5)
        let image = Self.randomVolume(n, spacing: s, seed: 9)
        var m = [Float](repeating: 0, count: image.count)
        for k in 1...4 { for j in 2...5 { for i in 2...6 { m[i + n.x * (j + n.y * k)] = 1 } } }
        let mask = Volume(size: n, spacing: s, origin: image.origin, voxels: m)
        var p = RadiomicsParameters()
        p.convention = .pyradiomics
        p.resampledSpacing = target
        let roi = try PreparedROI(image: image, mask: mask, parameters: p)
        let script = """
        import json, sys, numpy as np, SimpleITK as sitk
        a = json.loads(sys.argv[1]); n = a['n']; s = a['s']; t = np.array(a['t'])
        img = sitk.GetImageFromArray(np.array(a['v'], dtype=np.float32).reshape(n[2], n[1], n[0]))
        img.SetSpacing(s); img.SetOrigin(a['o'])
        msk = sitk.GetImageFromArray(np.array(a['m'], dtype=np.uint8).reshape(n[2], n[1], n[0])); msk.CopyInformation(img)
        size = [int(np.ceil(n[i] * s[i] / t[i])) for i in range(3)]
        origin = img.TransformContinuousIndexToPhysicalPoint([0.5 * (t[i] - s[i]) / s[i] for i in range(3)])
        def resample(x, interp):
            f = sitk.ResampleImageFilter(); f.SetOutputSpacing(t.tolist()); f.SetSize(size); f.SetOutputOrigin(origin)
            f.SetOutputDirection(x.GetDirection()); f.SetInterpolator(interp); f.SetOutputPixelType(sitk.sitkFloat64)
            return sitk.GetArrayFromImage(f.Execute(x))
        print(json.dumps({'origin': list(origin), 'size': size,
                          'image': resample(img, sitk.sitkLinear).ravel().tolist(),
                          'mask': resample(msk, sitk.sitkNearestNeighbor).ravel().astype(int).tolist()}))
        """
        func list(_ v: [Float]) -> String { "[" + v.map { String($0) }.joined(separator: ",") + "]" }
        let arg = "{\"n\":[\(n.x),\(n.y),\(n.z)],\"s\":[\(s.x),\(s.y),\(s.z)],\"t\":[\(target.x),\(target.y),\(target.z)],"
            + "\"o\":[\(image.origin.x),\(image.origin.y),\(image.origin.z)],\"v\":\(list(image.voxels)),\"m\":\(list(m))}"
        let ref = try TestEnv.json(try TestEnv.runPython(script, [arg])) as! [String: Any]
        let size = ref["size"] as! [Int], origin = ref["origin"] as! [Double]
        let full = SIMD3(size[0], size[1], size[2])
        // Our crop's first voxel on SimpleITK's grid.
        var c0 = SIMD3<Int>(0, 0, 0)
        for a in 0..<3 { c0[a] = Int(((roi.origin[a] - origin[a]) / target[a]).rounded()) }
        let values = ref["image"] as! [Double], masks = ref["mask"] as! [Int]
        var worst = 0.0, differing = 0
        for k in 0..<roi.size.z { for j in 0..<roi.size.y { for i in 0..<roi.size.x {
            let f = (c0.x + i) + full.x * ((c0.y + j) + full.y * (c0.z + k))
            let d = abs(roi.intensities[roi.index(i, j, k)] - values[f])
            worst = max(worst, d)
            if roi.morphologicalMask[roi.index(i, j, k)] != (masks[f] == 1) { differing += 1 }
        } } }
        XCTAssertLessThan(worst, 1e-9)
        XCTAssertEqual(differing, 0)
        XCTAssertEqual(roi.morphologicalMask.filter { $0 }.count, masks.filter { $0 == 1 }.count)
    }

    /// The mask is interpolated linearly and kept where ≥ 0.5 (partial-volume threshold);
    /// SciPy's linear interpolation of the indicator, thresholded the same way, agrees voxel for voxel.
    func testMaskPartialVolumeThresholdMatchesSciPy() throws {
        let n = SIMD3(10, 9, 8), s = SIMD3<Double>(2, 2, 3)
        let image = Self.randomVolume(n, spacing: s, seed: 2)
        var m = [Float](repeating: 0, count: image.count)
        for k in 2...5 { for j in 3...5 { for i in 3...6 { m[i + n.x * (j + n.y * k)] = 1 } } }
        m[2 + n.x * (4 + n.y * 3)] = 1
        let mask = Volume(size: n, spacing: s, origin: image.origin, voxels: m)
        var p = RadiomicsParameters()
        p.resampledSpacing = SIMD3(0.9, 1.1, 1.3)   // no interpolated value lands on 0.5 exactly
        let roi = try PreparedROI(image: image, mask: mask, parameters: p)
        let script = """
        import json, sys, numpy as np
        from scipy import ndimage
        a = json.loads(sys.argv[1]); n = a['n']; s = np.array(a['s']); t = np.array([0.9, 1.1, 1.3])
        msk = np.array(a['v'], dtype=np.float64).reshape(n[2], n[1], n[0])
        mm = [int(np.ceil(n[i] * s[i] / t[i] - 1e-9)) for i in range(3)]
        pos = [np.clip((n[i] - 1) / 2 - (mm[i] - 1) / 2 * t[i] / s[i] + np.arange(mm[i]) * t[i] / s[i], 0, n[i] - 1) for i in range(3)]
        zz, yy, xx = np.meshgrid(pos[2], pos[1], pos[0], indexing='ij')
        r = ndimage.map_coordinates(msk, [zz, yy, xx], order=1, mode='nearest') >= 0.5
        print(json.dumps({'m': mm, 'count': int(r.sum()), 'mask': r.ravel().astype(int).tolist()}))
        """
        let arg = "{\"n\":[\(n.x),\(n.y),\(n.z)],\"s\":[\(s.x),\(s.y),\(s.z)],\"v\":[\(m.map { String($0) }.joined(separator: ","))]}"
        let ref = try TestEnv.json(try TestEnv.runPython(script, [arg])) as! [String: Any]
        XCTAssertEqual(roi.morphologicalMask.filter { $0 }.count, ref["count"] as! Int)
        // The crop is the whole new grid here (margin ≥ the 6.2 mm sphere reaches the edges).
        XCTAssertEqual(roi.size, SIMD3((ref["m"] as! [Int])[0], (ref["m"] as! [Int])[1], (ref["m"] as! [Int])[2]))
        let differing = zip(roi.morphologicalMask.map { $0 ? 1 : 0 }, ref["mask"] as! [Int]).filter { $0 != $1 }.count
        XCTAssertEqual(differing, 0)
    }

    /// 2D resampling changes the in-plane grid only: slices keep their spacing and values.
    func testInPlaneResamplingKeepsSlices() throws {
        let n = SIMD3(8, 8, 4), s = SIMD3<Double>(0.7, 0.7, 5)
        let image = Self.randomVolume(n, spacing: s, seed: 3)
        let mask = Volume(size: n, spacing: s, origin: image.origin, voxels: [Float](repeating: 1, count: image.count))
        var p = RadiomicsParameters()
        p.resampledSpacing = SIMD3(1, 1, 1)
        p.inPlaneOnly = true
        let roi = try PreparedROI(image: image, mask: mask, parameters: p)
        XCTAssertEqual(roi.spacing, SIMD3(1, 1, 5))
        XCTAssertEqual(roi.size.z, 4)
        XCTAssertEqual(roi.origin.z, image.origin.z, accuracy: 1e-12)
    }

    /// Re-segmentation narrows the intensity mask only; outlier filtering drops voxels beyond
    /// mean ± 3σ; NaN voxels leave the intensity mask but stay in the morphological mask.
    func testResegmentationKeepsMasksApart() throws {
        let n = SIMD3(10, 10, 10), s = SIMD3<Double>(1, 1, 1)
        var v = [Float](repeating: 10, count: 1000)
        v[0] = 1000                 // outlier
        v[1] = -50                  // below the range
        v[2] = .nan
        for i in 3..<100 { v[i] = Float(i % 7) + 10 }
        let image = Volume(size: n, spacing: s, voxels: v)
        let mask = Volume(size: n, spacing: s, voxels: [Float](repeating: 1, count: 1000))
        var p = RadiomicsParameters()
        p.resegmentationLower = -20
        p.outlierSigma = 3
        let roi = try PreparedROI(image: image, mask: mask, parameters: p)
        XCTAssertEqual(roi.morphologicalMask.filter { $0 }.count, 1000)
        XCTAssertFalse(roi.intensityMask[roi.index(0, 0, 0)], "outlier")
        XCTAssertFalse(roi.intensityMask[roi.index(1, 0, 0)], "below the range")
        XCTAssertFalse(roi.intensityMask[roi.index(2, 0, 0)], "NaN")
        XCTAssertEqual(roi.intensityMask.filter { $0 }.count, 997)
        let f = MorphologyTests.values(RadiomicsExtractor(parameters: p).features(of: roi))
        XCTAssertEqual(f["morph_vol_approx"]!, 1000)
        XCTAssertEqual(f["stat_max"]!, 16)
        XCTAssertEqual(f["stat_min"]!, 10)
    }

    /// IBSI fixed bin number and fixed bin size, and PyRadiomics' fixed-bin-size edges.
    func testDiscretisation() {
        let values: [Double] = [-3, 0, 1.5, 7, 12]
        let fbn = LevelMapping(.fixedBinNumber(4), values: values, lower: nil, upper: nil, convention: .ibsi)
        XCTAssertEqual(values.map(fbn.level), [1, 1, 2, 3, 4])   // floor(4·(x+3)/15) + 1, max → 4
        let fbs = LevelMapping(.fixedBinSize(5), values: values, lower: nil, upper: nil, convention: .ibsi)
        XCTAssertEqual(values.map(fbs.level), [1, 1, 1, 3, 4])   // from the ROI minimum −3
        XCTAssertEqual(fbs.levelCount, 4)
        let bounded = LevelMapping(.fixedBinSize(5), values: values, lower: -10, upper: 20, convention: .ibsi)
        XCTAssertEqual(values.map(bounded.level), [2, 3, 3, 4, 5])   // from the range's lower bound
        XCTAssertEqual(bounded.levelCount, 7)
        let py = LevelMapping(.fixedBinSize(5), values: values, lower: nil, upper: nil, convention: .pyradiomics)
        XCTAssertEqual(values.map(py.level), [1, 2, 2, 3, 4])     // edges at multiples of 5 from −5
    }

    /// Bad input: another grid is refused with a message; an empty ROI gives NaN everywhere;
    /// a single voxel gives finite volume and NaN where the feature is undefined.
    func testBadInput() throws {
        let n = SIMD3(6, 6, 6), s = SIMD3<Double>(1, 1, 1)
        let image = Self.randomVolume(n, spacing: s, seed: 4)
        let other = Volume(size: SIMD3(6, 6, 5), spacing: s, voxels: [Float](repeating: 1, count: 180))
        XCTAssertThrowsError(try RadiomicsExtractor().extract(image: image, mask: other)) { error in
            XCTAssertTrue("\(error)".contains("resample the mask"), "\(error)")
        }
        let shifted = Volume(size: n, spacing: s, origin: SIMD3(0, 0, 3), voxels: [Float](repeating: 1, count: 216))
        XCTAssertThrowsError(try RadiomicsExtractor().extract(image: image, mask: shifted))
        let empty = Volume(size: n, spacing: s, origin: image.origin, voxels: [Float](repeating: 0, count: 216))
        let none = try RadiomicsExtractor().extract(image: image, mask: empty)
        XCTAssertGreaterThan(none.count, 70)
        XCTAssertTrue(none.allSatisfy { $0.value.isNaN }, "\(none.filter { !$0.value.isNaN })")
        var one = [Float](repeating: 0, count: 216)
        one[100] = 1
        let single = MorphologyTests.values(try RadiomicsExtractor().extract(image: image, mask: Volume(size: n, spacing: s, origin: image.origin, voxels: one)))
        XCTAssertEqual(single["morph_volume"]!, 1.0 / 6, accuracy: 1e-12)
        XCTAssertEqual(single["stat_mean"]!, Double(image.voxels[100]))
        XCTAssertTrue(single["morph_moran_i"]!.isNaN)
        XCTAssertTrue(single["stat_skew"]!.isNaN)
        // A label picks its voxels only.
        var labels = [Float](repeating: 0, count: 216)
        labels[10] = 2; labels[11] = 2; labels[12] = 1
        let two = MorphologyTests.values(try RadiomicsExtractor().extract(image: image, mask: Volume(size: n, spacing: s, origin: image.origin, voxels: labels), label: 2))
        XCTAssertEqual(two["morph_vol_approx"]!, 2)
    }
}
