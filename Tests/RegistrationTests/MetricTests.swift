import Foundation
@testable import Registration
import TestSupport
import XCTest

/// Smooth synthetic images (sums of Gaussian blobs), so finite differences are meaningful.
func blobImage(size: Int = 96, spacing: Double = 0.5, seed: UInt64, blobs: Int = 12) -> Image2D {
    var rng = SplitMix64(seed: seed)
    var img = Image2D(width: size, height: size, spacing: SIMD2(spacing, spacing), origin: SIMD2(-10, -5))
    let ext = Double(size) * spacing
    let list = (0..<blobs).map { _ in
        (SIMD2(rng.unit(), rng.unit()) * ext * 0.8 + ext * 0.1 + img.origin, 2 + 5 * rng.unit(), rng.unit() - 0.3)
    }
    for j in 0..<size {
        for i in 0..<size {
            let p = img.point(ofIndex: SIMD2(Double(i), Double(j)))
            var v = 0.0
            for (c, s, a) in list { v += a * exp(-0.5 * ((p - c) * (p - c)).sum() / (s * s)) }
            img[i, j] = Float(v)
        }
    }
    return img
}

final class MetricTests: XCTestCase {
    func checkGradient(_ metric: Metric?, tolerance: Double, file: StaticString = #filePath, line: UInt = #line) {
        let fixed = blobImage(seed: 1)
        // The moving image is the fixed one under a small known affine plus a monotone remap.
        var t = MatrixTransform2D(kind: .affine, center: fixed.center, parameters: [1.05, 0.1, -0.08, 0.97, 1.2, -0.7])
        var moving = fixed.resampled(onto: fixed, through: t, outside: 0)
        moving.pixels = moving.pixels.map { 0.5 + 0.8 * $0 }
        // Samples away from the border (validity does not flip) and off the pixel centres
        // (bilinear kinks) at the evaluated, not-quite-aligned transform.
        var inner = Image2D(width: fixed.width, height: fixed.height, spacing: fixed.spacing, origin: fixed.origin)
        for j in 10..<(fixed.height - 10) { for i in 10..<(fixed.width - 10) { inner[i, j] = 1 } }
        let samples = SampleSet(image: fixed, region: inner, fraction: 0.5, seed: 2)
        let range = (moving.pixels.min()!, moving.pixels.max()!)
        t.parameters = [1.01, 0.05, -0.03, 0.99, 0.37, -0.21]
        func cost(_ t: MatrixTransform2D) -> (Double, [Double]) {
            if let metric { let r = similarity(metric, samples, moving, movingRange: range, t); return (r.cost, r.gradient) }
            let r = maskOverlap(samples, moving, t)
            return (r.cost, r.gradient)
        }
        let (c0, g) = cost(t)
        XCTAssertTrue(c0.isFinite)
        for k in 0..<6 {
            let eps = k < 4 ? 1e-5 : 1e-4
            var a = t, b = t
            a.parameters[k] += eps
            b.parameters[k] -= eps
            let numeric = (cost(a).0 - cost(b).0) / (2 * eps)
            XCTAssertEqual(g[k], numeric, accuracy: tolerance * max(abs(numeric), 1e-3), "\(String(describing: metric)) parameter \(k)", file: file, line: line)
        }
    }

    func testMeanSquaresGradient() { checkGradient(.meanSquares, tolerance: 0.01) }
    func testCorrelationGradient() { checkGradient(.normalizedCorrelation, tolerance: 0.01) }
    func testMattesGradient() { checkGradient(.mattesMutualInformation(bins: 32), tolerance: 0.02) }
    func testMaskOverlapGradient() { checkGradient(nil, tolerance: 0.01) }

    /// Mattes MI against SimpleITK's MattesMutualInformation (all pixels): equal on a shared grid,
    /// within 1% after a sub-pixel shift (the two treat points near the image edge differently).
    func testMattesValueMatchesSimpleITK() throws {
        let dir = try TestEnv.scratch(self, "mattes")
        let fixed = blobImage(seed: 4)
        var moving = fixed.resampled(onto: fixed, through: MatrixTransform2D(kind: .rigid, center: fixed.center, parameters: [0.2, 1, 0]), outside: 0)
        moving.pixels = moving.pixels.map { $0 * $0 }
        try writeRaw(fixed, dir + "/f.raw")
        try writeRaw(moving, dir + "/m.raw")
        let shift = [0.0, 0.7]
        let script = """
        import sys, numpy as np, SimpleITK as sitk
        d, n, sp = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
        def load(p):
            im = sitk.GetImageFromArray(np.fromfile(p, dtype=np.float32).reshape(n, n).astype(np.float64))
            im.SetSpacing((sp, sp)); im.SetOrigin((-10.0, -5.0)); return im
        f, m = load(d + '/f.raw'), load(d + '/m.raw')
        for dx in map(float, sys.argv[4:]):
            r = sitk.ImageRegistrationMethod()
            r.SetMetricAsMattesMutualInformation(32)
            r.SetMetricSamplingStrategy(r.NONE)
            r.SetInterpolator(sitk.sitkLinear)
            r.SetInitialTransform(sitk.TranslationTransform(2, (dx, 0.0)))
            print(r.MetricEvaluate(f, m))
        """
        let out = try TestEnv.runPython(script, [dir, "\(fixed.width)", "\(fixed.spacing.x)"] + shift.map { "\($0)" })
        let peer = String(decoding: out, as: UTF8.self).split(separator: "\n").compactMap { Double($0) }
        XCTAssertEqual(peer.count, shift.count)
        let samples = SampleSet(image: fixed)
        let range = (moving.pixels.min()!, moving.pixels.max()!)
        for (dx, ref) in zip(shift, peer) {
            let ours = similarity(.mattesMutualInformation(bins: 32), samples, moving, movingRange: range,
                                  MatrixTransform2D(kind: .translation, parameters: [dx, 0])).cost
            print("MATTES shift \(dx): ours \(ours), SimpleITK \(ref)")
            XCTAssertEqual(ours, ref, accuracy: 0.01 * abs(ref), "Mattes MI at shift \(dx)")
        }
    }

    func writeRaw(_ img: Image2D, _ path: String) throws {
        try img.pixels.withUnsafeBufferPointer { Data(buffer: $0) }.write(to: URL(fileURLWithPath: path))
    }
}
