import Foundation
import XCTest
import TestSupport
import VolumeIO
@testable import Radiomics

final class MorphologyTests: XCTestCase {
    /// A voxelised ball of radius r (mm) centred off-grid, as image (100 inside) and mask.
    static func ball(radius r: Double, spacing s: SIMD3<Double>) -> (image: Volume, mask: Volume) {
        let n = SIMD3(Int(2 * r / s.x) + 5, Int(2 * r / s.y) + 5, Int(2 * r / s.z) + 5)
        let c = SIMD3<Double>(Double(n.x - 1) / 2 * s.x, Double(n.y - 1) / 2 * s.y, Double(n.z - 1) / 2 * s.z) + 0.13
        var m = [Float](repeating: 0, count: n.x * n.y * n.z)
        for k in 0..<n.z { for j in 0..<n.y { for i in 0..<n.x {
            let d = SIMD3(Double(i), Double(j), Double(k)) * s - c
            if (d * d).sum() <= r * r { m[i + n.x * (j + n.y * k)] = 1 }
        } } }
        return (Volume(size: n, spacing: s, voxels: m.map { $0 * 100 }), Volume(size: n, spacing: s, voxels: m))
    }

    static func values(_ f: [FeatureValue]) -> [String: Double] {
        Dictionary(f.map { ($0.tag, $0.value) }, uniquingKeysWith: { a, _ in a })
    }

    /// Known truth: the mesh of a voxelised ball of radius r encloses 4/3·πr³ within 1 % (r ≥ 10
    /// voxels, isotropic and anisotropic voxels); its area carries marching cubes' known
    /// staircase excess on binary masks, 5–15 % above 4πr²; the maximum diameter is 2r plus at
    /// most two voxel diagonals; the PCA major axis is 4·√(r²/5) within 1 %.
    func testVoxelisedBallMatchesSphere() throws {
        for (r, s) in [(10.0, SIMD3<Double>(1, 1, 1)), (20.0, SIMD3<Double>(1, 1, 1)), (20.0, SIMD3<Double>(0.7, 0.9, 1.6))] {
            let (image, mask) = Self.ball(radius: r, spacing: s)
            let f = Self.values(try RadiomicsExtractor().extract(image: image, mask: mask))
            let volume = 4.0 / 3 * Double.pi * r * r * r, area = 4 * Double.pi * r * r
            XCTAssertEqual(f["morph_volume"]! / volume, 1, accuracy: 0.01, "r \(r) spacing \(s)")
            XCTAssertGreaterThan(f["morph_area_mesh"]! / area, 1.05)
            XCTAssertLessThan(f["morph_area_mesh"]! / area, 1.15)
            let diagonal = (s * s).sum().squareRoot()
            XCTAssertGreaterThanOrEqual(f["morph_diam"]!, 2 * r - diagonal)
            XCTAssertLessThanOrEqual(f["morph_diam"]!, 2 * r + 2 * diagonal)
            XCTAssertEqual(f["morph_pca_maj_axis"]! / (4 * r / 5.0.squareRoot()), 1, accuracy: 0.01)
            XCTAssertEqual(f["morph_pca_elongation"]!, 1, accuracy: 0.02)
            XCTAssertEqual(f["morph_com"]!, 0, accuracy: 1e-9, "uniform intensity: no centre-of-mass shift")
        }
    }

    /// One voxel meshes to the octahedron through its face centres: volume sx·sy·sz/6.
    func testSingleVoxelIsAnOctahedron() {
        let s = SIMD3<Double>(2, 3, 4)
        let m = MarchingCubes.measure(mask: [true], size: SIMD3(1, 1, 1), spacing: s)
        XCTAssertEqual(m.volume, s.x * s.y * s.z / 6, accuracy: 1e-12)
        let h = s / 2
        let face = 0.5 * ((h.y * h.z) * (h.y * h.z) + (h.x * h.z) * (h.x * h.z) + (h.x * h.y) * (h.x * h.y)).squareRoot()
        XCTAssertEqual(m.area, 8 * face, accuracy: 1e-12)
    }

    /// Every one of the 254 non-trivial cube configurations, as a 2×2×2 mask, gives the same
    /// mesh volume and area as scikit-image's marching cubes (Lorensen tables) within 10⁻⁵
    /// (scikit-image works in float32).
    func testMarchingCubesMatchesScikitImageForEveryCase() throws {
        let script = """
        import json, numpy as np
        from skimage import measure
        out = []
        for c in range(1, 255):
            m = np.zeros((4, 4, 4))
            for b in range(8):
                if c >> b & 1: m[1 + (b >> 2 & 1), 1 + (b >> 1 & 1), 1 + (b & 1)] = 1
            v, f, _, _ = measure.marching_cubes(m, 0.5, method='lorensen')
            t = v[f].astype(np.float64)
            out.append([abs(float(np.sum(np.einsum('ij,ij->i', t[:, 0], np.cross(t[:, 1], t[:, 2])))) / 6),
                        float(measure.mesh_surface_area(v, f))])
        print(json.dumps(out))
        """
        let reference = try TestEnv.json(try TestEnv.runPython(script)) as! [[Double]]
        XCTAssertEqual(reference.count, 254)
        for c in 1..<255 {
            let mask = (0..<8).map { c >> $0 & 1 == 1 }
            let m = MarchingCubes.measure(mask: mask, size: SIMD3(2, 2, 2), spacing: SIMD3(1, 1, 1))
            XCTAssertEqual(m.volume, reference[c - 1][0], accuracy: 1e-5, "case \(c)")
            XCTAssertEqual(m.area, reference[c - 1][1], accuracy: 1e-5, "case \(c)")
        }
    }

    /// The exact-integer hull of a blob's mesh vertices against SciPy's Qhull: volume and area
    /// within 10⁻⁹ relative.
    func testConvexHullMatchesQhull() throws {
        var rng = SeededRNG(7)
        let n = SIMD3(14, 11, 9)
        var mask = [Bool](repeating: false, count: n.x * n.y * n.z)
        for _ in 0..<6 {   // union of random boxes
            let a = SIMD3(Int.random(in: 0..<10, using: &rng), Int.random(in: 0..<8, using: &rng), Int.random(in: 0..<6, using: &rng))
            let b = a &+ SIMD3(Int.random(in: 1...4, using: &rng), Int.random(in: 1...3, using: &rng), Int.random(in: 1...3, using: &rng))
            for k in a.z..<min(b.z, n.z) { for j in a.y..<min(b.y, n.y) { for i in a.x..<min(b.x, n.x) { mask[i + n.x * (j + n.y * k)] = true } } }
        }
        let vertices = MarchingCubes.vertices(mask: mask, size: n)
        let hull = try XCTUnwrap(ConvexHull(vertices))
        let scale = SIMD3<Double>(0.35, 0.4, 1.25)   // half of spacing (0.7, 0.8, 2.5)
        let ours = hull.volumeAndArea(scale: scale)
        let points = vertices.map { "[\(Double($0.x) * scale.x),\(Double($0.y) * scale.y),\(Double($0.z) * scale.z)]" }.joined(separator: ",")
        let script = """
        import json, sys
        from scipy.spatial import ConvexHull
        h = ConvexHull(json.loads(sys.argv[1]))
        print(json.dumps([h.volume, h.area]))
        """
        let ref = try TestEnv.json(try TestEnv.runPython(script, ["[\(points)]"])) as! [Double]
        XCTAssertEqual(ours.volume / ref[0], 1, accuracy: 1e-9)
        XCTAssertEqual(ours.area / ref[1], 1, accuracy: 1e-9)
    }

    /// The FFT evaluation of Moran's I and Geary's C equals the direct pair sum (10⁻⁹ relative)
    /// on a random ROI with anisotropic voxels.
    func testSpatialAutocorrelationTransformEqualsDirectSum() throws {
        var rng = SeededRNG(3)
        let n = SIMD3(23, 17, 9)
        var img = [Float](repeating: 0, count: n.x * n.y * n.z), msk = img
        for v in 0..<img.count {
            img[v] = Float(Int.random(in: 0...50, using: &rng)) + Float(v % n.x)   // a gradient makes I positive
            msk[v] = Double.random(in: 0..<1, using: &rng) < 0.7 ? 1 : 0
        }
        let s = SIMD3<Double>(0.8, 1.1, 2.5)
        let roi = try PreparedROI(image: Volume(size: n, spacing: s, voxels: img), mask: Volume(size: n, spacing: s, voxels: msk),
                                  parameters: RadiomicsParameters())
        let direct = SpatialAutocorrelation.compute(roi, forceDirect: true)
        let fft = SpatialAutocorrelation.compute(roi)
        XCTAssertGreaterThan(roi.intensityMask.filter { $0 }.count, SpatialAutocorrelation.directLimit, "the FFT path must be exercised")
        XCTAssertEqual(fft.moran / direct.moran, 1, accuracy: 1e-9)
        XCTAssertEqual(fft.geary / direct.geary, 1, accuracy: 1e-9)
        XCTAssertGreaterThan(direct.moran, 0.01)
    }

    /// The mixed-radix FFT equals the naive DFT (10⁻¹⁰ relative to the largest coefficient).
    func testFFTEqualsNaiveDFT() {
        var rng = SeededRNG(11)
        let size = SIMD3(12, 10, 9)
        let total = size.x * size.y * size.z
        var re = (0..<total).map { _ in Double.random(in: -1...1, using: &rng) }
        var im = (0..<total).map { _ in Double.random(in: -1...1, using: &rng) }
        let r0 = re, i0 = im
        MixedRadixFFT.transform3D(&re, &im, size, order: [0, 1, 2], extentIn: size, extentOut: size)
        var worst = 0.0, largest = 0.0
        for kz in 0..<size.z { for ky in 0..<size.y { for kx in 0..<size.x {
            var sr = 0.0, si = 0.0
            for z in 0..<size.z { for y in 0..<size.y { for x in 0..<size.x {
                let phase = -2 * Double.pi * (Double(kx * x) / Double(size.x) + Double(ky * y) / Double(size.y) + Double(kz * z) / Double(size.z))
                let v = x + size.x * (y + size.y * z)
                sr += r0[v] * cos(phase) - i0[v] * sin(phase); si += r0[v] * sin(phase) + i0[v] * cos(phase)
            } } }
            let k = kx + size.x * (ky + size.y * kz)
            worst = max(worst, abs(re[k] - sr), abs(im[k] - si)); largest = max(largest, abs(sr), abs(si))
        } } }
        XCTAssertLessThan(worst / largest, 1e-10)
        XCTAssertEqual(MixedRadixFFT.paddedLength(149), 150)
        XCTAssertEqual(MixedRadixFFT.paddedLength(257), 270)
    }

    /// The 2-D grid (Gabor's entry point): the inverse against the naive inverse DFT
    /// (Σ F·e^(+2πi…), unnormalised) on the window it returns, and forward with zero padding
    /// skipped equals the full forward (10⁻¹⁰ relative to the largest value).
    func testGrid2DInverseEqualsNaiveDFT() {
        var rng = SeededRNG(12)
        let grid = MixedRadixFFT.Grid2D(15, 8)
        let n1 = grid.n1, n2 = grid.n2, total = n1 * n2
        let scratch = MixedRadixFFT.Scratch(max(n1, n2))
        var re = (0..<total).map { _ in Double.random(in: -1...1, using: &rng) }
        var im = (0..<total).map { _ in Double.random(in: -1...1, using: &rng) }
        let r0 = re, i0 = im
        re.withUnsafeMutableBufferPointer { r in im.withUnsafeMutableBufferPointer { m in
            grid.transform(r.baseAddress!, m.baseAddress!, scratch: scratch, inverse: true, extentIn: (n1, n2), extentOut: (11, 5))
        } }
        var worst = 0.0, largest = 0.0
        for y in 0..<5 { for x in 0..<11 {
            var sr = 0.0, si = 0.0
            for ky in 0..<n2 { for kx in 0..<n1 {
                let phase = 2 * Double.pi * (Double(kx * x) / Double(n1) + Double(ky * y) / Double(n2))
                let v = kx + n1 * ky
                sr += r0[v] * cos(phase) - i0[v] * sin(phase); si += r0[v] * sin(phase) + i0[v] * cos(phase)
            } }
            worst = max(worst, abs(re[x + n1 * y] - sr), abs(im[x + n1 * y] - si)); largest = max(largest, abs(sr), abs(si))
        } }
        XCTAssertLessThan(worst / largest, 1e-10)

        // Zero outside a 9 × 6 corner: the skipping forward equals transform3D's full one.
        var pr = [Double](repeating: 0, count: total), pi = pr
        for y in 0..<6 { for x in 0..<9 { pr[x + n1 * y] = r0[x + n1 * y]; pi[x + n1 * y] = i0[x + n1 * y] } }
        var fr = pr, fi = pi
        MixedRadixFFT.transform3D(&fr, &fi, SIMD3(n1, n2, 1), order: [0, 1, 2], extentIn: SIMD3(n1, n2, 1), extentOut: SIMD3(n1, n2, 1))
        pr.withUnsafeMutableBufferPointer { r in pi.withUnsafeMutableBufferPointer { m in
            grid.transform(r.baseAddress!, m.baseAddress!, scratch: scratch, inverse: false, extentIn: (9, 6), extentOut: (n1, n2))
        } }
        let scale = fr.map(abs).max()!
        XCTAssertLessThan(zip(pr + pi, fr + fi).map { abs($0 - $1) }.max()! / scale, 1e-10)
    }

    /// The ellipsoid area of the IBSI AEE density is IBSI's 20-term Legendre series (not the exact
    /// ellipsoid area: it is 7 % low for a 5:4:4 spheroid). Checked against the same series
    /// evaluated with NumPy's Legendre polynomials (10⁻¹² relative) and 4πr² for a sphere.
    func testEllipsoidAreaFollowsTheIBSISeries() throws {
        XCTAssertEqual(Morphology.ellipsoidArea(3, 3, 3), 4 * Double.pi * 9, accuracy: 1e-12)
        let cases: [[Double]] = [[10, 8, 6], [5, 4, 3.9], [7, 6.9, 2], [11.4, 9.31, 8.54]]
        let script = """
        import json, sys, numpy as np
        out = []
        for a, b, c in json.loads(sys.argv[1]):
            al, be = np.sqrt(1 - b**2 / a**2), np.sqrt(1 - c**2 / a**2)
            x = (al**2 + be**2) / (2 * al * be)
            s = sum((al * be)**v / (1 - 4 * v * v) * np.polynomial.legendre.legval(x, [0] * v + [1]) for v in range(21))
            out.append(4 * np.pi * a * b * s)
        print(json.dumps(out))
        """
        let json = "[" + cases.map { "[\($0[0]),\($0[1]),\($0[2])]" }.joined(separator: ",") + "]"
        let ref = try TestEnv.json(try TestEnv.runPython(script, [json])) as! [Double]
        for (c, r) in zip(cases, ref) {
            XCTAssertEqual(Morphology.ellipsoidArea(c[0], c[1], c[2]) / r, 1, accuracy: 1e-12, "\(c)")
        }
    }

    /// Points on an ellipsoid with semi-axes (10, 6, 3), plus interior points, have that
    /// ellipsoid as their minimum-volume enclosing ellipsoid (10⁻³ relative).
    func testMinimumVolumeEllipsoid() throws {
        var rng = SeededRNG(5)
        var pts: [SIMD3<Double>] = []
        for _ in 0..<400 {
            let x = Double.random(in: -1...1, using: &rng), y = Double.random(in: -1...1, using: &rng)
            let z = Double.random(in: -1...1, using: &rng)
            var d = SIMD3(x, y, z)
            d /= (d * d).sum().squareRoot()
            let scale = pts.count % 4 == 0 ? 0.6 : 1   // every fourth point inside
            pts.append(SIMD3(10, 6, 3) * d * scale + SIMD3(4, -2, 7))
        }
        let e = try XCTUnwrap(Morphology.minimumVolumeEllipsoid(pts))
        XCTAssertEqual(e.x / 10, 1, accuracy: 1e-3)
        XCTAssertEqual(e.y / 6, 1, accuracy: 1e-3)
        XCTAssertEqual(e.z / 3, 1, accuracy: 1e-3)
    }

    func testSymmetricEigenvalues() {
        // Eigenvalues 1, 2, 5 rotated by a fixed orthogonal matrix.
        let q: [Double] = [2, -2, 1, 2, 1, -2, 1, 2, 2].map { $0 / 3 }
        let d = [5.0, 2, 1]
        var m = [Double](repeating: 0, count: 9)
        for r in 0..<3 { for c in 0..<3 { for k in 0..<3 { m[3 * r + c] += q[3 * r + k] * d[k] * q[3 * c + k] } } }
        let e = Morphology.symmetricEigenvalues(m)
        for (x, y) in zip(e, d) { XCTAssertEqual(x, y, accuracy: 1e-12) }
    }
}

final class OrientedBoxTests: XCTestCase {
    /// A box of voxels rotated by 30° about z: the face-flush search finds a box close to the
    /// rotated one (within the staircase of the voxelisation), much smaller than the axis-aligned
    /// one; for an axis-aligned block it is the block's mesh-vertex box exactly.
    func testOrientedBoxOfARotatedBlock() throws {
        let n = SIMD3(40, 40, 8)
        var mask = [Bool](repeating: false, count: n.x * n.y * n.z)
        let c = cos(Double.pi / 6), s = sin(Double.pi / 6)
        for k in 1..<7 { for j in 0..<40 { for i in 0..<40 {
            let x = Double(i) - 19.5, y = Double(j) - 19.5
            let u = c * x + s * y, v = -s * x + c * y
            if abs(u) <= 15 && abs(v) <= 5 { mask[i + n.x * (j + n.y * k)] = true }
        } } }
        let hull = try XCTUnwrap(ConvexHull(MarchingCubes.vertices(mask: mask, size: n)))
        let box = try XCTUnwrap(OrientedBoundingBox.box(hull, scale: SIMD3(0.5, 0.5, 0.5)))
        // The rotated 30 × 10 × 6 block grows by about a voxel each way through its staircase.
        XCTAssertGreaterThan(box.volume, 30 * 10 * 6)
        XCTAssertLessThan(box.volume, 32 * 12 * 7)
        var block = [Bool](repeating: false, count: 6 * 5 * 4)
        for v in 0..<block.count { block[v] = true }
        let blockHull = try XCTUnwrap(ConvexHull(MarchingCubes.vertices(mask: block, size: SIMD3(6, 5, 4))))
        let tight = try XCTUnwrap(OrientedBoundingBox.box(blockHull, scale: SIMD3(1, 1.5, 2) * 0.5))
        let (w, h, d) = (6.0, 7.5, 8.0)   // 6 × 5 × 4 voxels of 1 × 1.5 × 2 mm
        XCTAssertEqual(tight.volume, w * h * d, accuracy: 1e-9)
        XCTAssertEqual(tight.area, 2 * (w * h + w * d + h * d), accuracy: 1e-9)
    }
}
