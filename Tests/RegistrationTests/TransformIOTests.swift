import Foundation
import Registration
import TestSupport
import XCTest

final class TransformIOTests: XCTestCase {
    let points: [SIMD2<Double>] = [SIMD2(0, 0), SIMD2(12.5, -7.25), SIMD2(-30, 41), SIMD2(3.3, 9.9), SIMD2(-88.1, -45.2)]

    let transforms: [MatrixTransform2D] = [
        MatrixTransform2D(kind: .translation, parameters: [1.5, -2.25]),
        MatrixTransform2D(kind: .rigid, center: SIMD2(3, -2), parameters: [0.3, 1, 2]),
        MatrixTransform2D(kind: .similarity, center: SIMD2(-60.5, 10), parameters: [0.87, -2.1, 4, -3]),
        MatrixTransform2D(kind: .similarity, center: SIMD2(-60.5, 10), flipped: true, parameters: [1.13, 2.9, -4, 3]),
        MatrixTransform2D(kind: .affine, center: SIMD2(5, 6), parameters: [1.1, 0.2, -0.1, 0.9, 1, 2]),
    ]

    /// Python printing, per .tfm argument, the mapped points as "x y" lines.
    let mapScript = """
    import sys, SimpleITK as sitk
    pts = [tuple(map(float, p.split(','))) for p in sys.argv[1].split(';')]
    for path in sys.argv[2:]:
        t = sitk.ReadTransform(path)
        for p in pts:
            q = t.TransformPoint(p); print(repr(q[0]), repr(q[1]))
    """

    func pointArg() -> String { points.map { "\($0.x),\($0.y)" }.joined(separator: ";") }

    func parse(_ out: Data) -> [SIMD2<Double>] {
        String(decoding: out, as: UTF8.self).split(separator: "\n").map {
            let v = $0.split(separator: " ").compactMap { Double($0) }
            return SIMD2(v[0], v[1])
        }
    }

    func testTFMRoundTripsAndSimpleITKMapsTheSamePoints() throws {
        let dir = try TestEnv.scratch(self, "tfm")
        var paths: [String] = []
        for (k, t) in transforms.enumerated() {
            let path = dir + "/t\(k).tfm"
            try ITKTransformFile.write(t, to: path)
            paths.append(path)
            let back = try ITKTransformFile.read(path)
            for p in points {
                XCTAssertEqual(back.map(p).x, t.map(p).x, accuracy: 1e-12, "\(t.kind) round trip")
                XCTAssertEqual(back.map(p).y, t.map(p).y, accuracy: 1e-12, "\(t.kind) round trip")
            }
        }
        XCTAssertTrue(ITKTransformFile.text(transforms[1]).contains("Transform: Euler2DTransform_double_2_2"))
        XCTAssertTrue(ITKTransformFile.text(transforms[3]).contains("Transform: AffineTransform_double_2_2"), "a mirror needs an affine")
        let peer = parse(try TestEnv.runPython(mapScript, [pointArg()] + paths))
        XCTAssertEqual(peer.count, transforms.count * points.count)
        for (k, t) in transforms.enumerated() {
            for (i, p) in points.enumerated() {
                let q = peer[k * points.count + i], ours = t.map(p)
                XCTAssertEqual(q.x, ours.x, accuracy: 1e-9, "\(t.kind) \(t.flipped ? "flipped " : "")at \(p)")
                XCTAssertEqual(q.y, ours.y, accuracy: 1e-9, "\(t.kind) \(t.flipped ? "flipped " : "")at \(p)")
            }
        }
    }

    func testTransformsWrittenBySimpleITKAreRead() throws {
        let dir = try TestEnv.scratch(self, "tfm-peer")
        _ = try TestEnv.runPython("""
        import sys, SimpleITK as sitk
        d = sys.argv[1]
        e = sitk.Euler2DTransform((3.0, -2.0), 0.4, (1.0, 2.0)); sitk.WriteTransform(e, d + '/e.tfm')
        s = sitk.Similarity2DTransform(0.8, -1.1, (1.0, 2.0), (7.0, 8.0)); sitk.WriteTransform(s, d + '/s.tfm')
        a = sitk.AffineTransform((1.2, -0.3, 0.25, 0.8), (4.0, -1.0), (-5.0, 6.0)); sitk.WriteTransform(a, d + '/a.tfm')
        """, [dir])
        let paths = ["e", "s", "a"].map { dir + "/\($0).tfm" }
        let peer = parse(try TestEnv.runPython(mapScript, [pointArg()] + paths))
        for (k, path) in paths.enumerated() {
            let t = try ITKTransformFile.read(path)
            for (i, p) in points.enumerated() {
                XCTAssertEqual(t.map(p).x, peer[k * points.count + i].x, accuracy: 1e-9, path)
                XCTAssertEqual(t.map(p).y, peer[k * points.count + i].y, accuracy: 1e-9, path)
            }
        }
        XCTAssertThrowsError(try ITKTransformFile.read(dir + "/missing.tfm"))
        try "#Insight Transform File V1.0\nTransform: BSplineTransform_double_2_2\nParameters: 1\nFixedParameters: 1\n"
            .write(toFile: dir + "/b.tfm", atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try ITKTransformFile.read(dir + "/b.tfm")) { error in
            XCTAssertTrue("\(error)".contains("not supported"), "\(error)")
        }
    }

    func testDisplacementFieldMatchesSimpleITK() throws {
        let dir = try TestEnv.scratch(self, "field")
        let grid = Image2D(width: 60, height: 50, spacing: SIMD2(0.8, 0.6), origin: SIMD2(-20, 5))
        var b = BSplineTransform2D(lower: SIMD2(-20, 5), upper: SIMD2(27.2, 34.4), spacing: 8)
        var rng = SplitMix64(seed: 21)
        b.parameters = b.parameters.map { _ in 3 * (rng.unit() - 0.5) }
        let t = AffineBSplineTransform2D(affine: MatrixTransform2D(kind: .rigid, center: SIMD2(0, 20), parameters: [0.2, 1, -1]), bspline: b)
        let field = DisplacementField2D(sampling: t, on: grid)
        let path = dir + "/field.nii"
        try field.writeNIfTI(to: path)
        let inside: [SIMD2<Double>] = [SIMD2(-10.3, 10.1), SIMD2(0, 20), SIMD2(15.77, 30.2), SIMD2(-19, 6), SIMD2(26, 33)]
        let out = try TestEnv.runPython("""
        import sys, SimpleITK as sitk
        f = sitk.ReadImage(sys.argv[2])
        assert f.GetNumberOfComponentsPerPixel() == 2 and f.GetDimension() == 2, (f.GetNumberOfComponentsPerPixel(), f.GetDimension())
        print(repr(f.GetOrigin()[0]), repr(f.GetOrigin()[1]))
        t = sitk.DisplacementFieldTransform(sitk.Cast(f, sitk.sitkVectorFloat64))
        for p in sys.argv[1].split(';'):
            q = t.TransformPoint(tuple(map(float, p.split(',')))); print(repr(q[0]), repr(q[1]))
        """, [inside.map { "\($0.x),\($0.y)" }.joined(separator: ";"), path])
        let rows = parse(out)
        XCTAssertEqual(rows[0].x, -20, accuracy: 1e-5, "origin x (LPS)")
        XCTAssertEqual(rows[0].y, 5, accuracy: 1e-5, "origin y (LPS)")
        for (p, q) in zip(inside, rows.dropFirst()) {
            let ours = field.map(p)
            XCTAssertEqual(q.x, ours.x, accuracy: 1e-4, "field at \(p)")
            XCTAssertEqual(q.y, ours.y, accuracy: 1e-4, "field at \(p)")
            // The sampled field stays close to the smooth transform it came from.
            XCTAssertLessThan(((ours - t.map(p)) * (ours - t.map(p))).sum().squareRoot(), 0.05, "field vs transform at \(p)")
        }
    }
}
