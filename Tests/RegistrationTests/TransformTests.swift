import SeededRandom
import Foundation
@testable import Registration
import XCTest

final class TransformTests: XCTestCase {
    /// gᵀ·∂T/∂θ from `accumulate` against central differences of `map`.
    func checkJacobian<T: Transform2D>(_ t: T, _ name: String, points: [SIMD2<Double>], file: StaticString = #filePath, line: UInt = #line) {
        var rng = SplitMix64(seed: 5)
        for p in points {
            let g = SIMD2(rng.unit() - 0.5, rng.unit() - 0.5)
            var analytic = [Double](repeating: 0, count: t.parameters.count)
            analytic.withUnsafeMutableBufferPointer { t.accumulate(p, g, into: $0.baseAddress!) }
            for k in 0..<t.parameters.count {
                var a = t, b = t
                let eps = 1e-6
                a.parameters[k] += eps
                b.parameters[k] -= eps
                let numeric = ((a.map(p) - b.map(p)) * g).sum() / (2 * eps)
                XCTAssertEqual(analytic[k], numeric, accuracy: 1e-6 * max(1, abs(numeric)), "\(name) parameter \(k) at \(p)", file: file, line: line)
            }
        }
    }

    func randomPoints(_ n: Int, in lo: SIMD2<Double>, _ hi: SIMD2<Double>) -> [SIMD2<Double>] {
        var rng = SplitMix64(seed: 11)
        return (0..<n).map { _ in lo + SIMD2(rng.unit(), rng.unit()) * (hi - lo) }
    }

    func testParameterJacobiansMatchFiniteDifferences() {
        let pts = randomPoints(6, in: SIMD2(-20, -10), SIMD2(30, 25))
        let c = SIMD2(3.0, -2.0)
        checkJacobian(MatrixTransform2D(kind: .translation, parameters: [1, 2]), "translation", points: pts)
        checkJacobian(MatrixTransform2D(kind: .rigid, center: c, parameters: [0.3, 1, 2]), "rigid", points: pts)
        checkJacobian(MatrixTransform2D(kind: .similarity, center: c, flipped: true, parameters: [0.9, -1.2, 1, 2]), "similarity (flipped)", points: pts)
        checkJacobian(MatrixTransform2D(kind: .affine, center: c, parameters: [1.1, 0.2, -0.1, 0.9, 1, 2]), "affine", points: pts)
        var b = BSplineTransform2D(lower: SIMD2(-20, -10), upper: SIMD2(30, 25), spacing: 7)
        var rng = SplitMix64(seed: 3)
        b.parameters = b.parameters.map { _ in rng.unit() - 0.5 }
        checkJacobian(b, "bspline", points: pts)
        let affine = MatrixTransform2D(kind: .affine, center: c, parameters: [1.1, 0.2, -0.1, 0.9, 1, 2])
        checkJacobian(AffineBSplineTransform2D(affine: affine, bspline: b), "affine∘bspline", points: pts)
    }

    func testMatrixTransformsMapAsDocumented() {
        let t = MatrixTransform2D(kind: .similarity, center: SIMD2(1, 1), flipped: true, parameters: [2, .pi / 2, 3, 4])
        // (2,1): x − c = (1,0) → flipped (−1,0) → rotate 90° (0,−1) → ×2 (0,−2) → + c + t = (4, 3).
        let y = t.map(SIMD2(2, 1))
        XCTAssertEqual(y.x, 4, accuracy: 1e-12)
        XCTAssertEqual(y.y, 3, accuracy: 1e-12)
        let a = t.asAffine
        for p in randomPoints(5, in: SIMD2(-5, -5), SIMD2(5, 5)) {
            XCTAssertEqual(((a.map(p) - t.map(p)) * (a.map(p) - t.map(p))).sum(), 0, accuracy: 1e-20)
        }
    }

    func testRefinementKeepsTheDeformation() {
        var b = BSplineTransform2D(lower: SIMD2(0, 0), upper: SIMD2(40, 30), spacing: 10)
        var rng = SplitMix64(seed: 9)
        b.parameters = b.parameters.map { _ in 4 * (rng.unit() - 0.5) }
        let r = b.refined()
        XCTAssertEqual(r.gridSpacing, b.gridSpacing / 2)
        for p in randomPoints(200, in: SIMD2(0, 0), SIMD2(40, 30)) {
            let d = r.displacement(p) - b.displacement(p)
            XCTAssertLessThan((d * d).sum().squareRoot(), 1e-9, "at \(p)")
        }
    }

    func testBendingEnergyOfKnownFields() {
        // u = (a x², 0): u_xx = 2a everywhere, so the energy is 4a². Cubic B-splines reproduce
        // x² with coefficients x_i² − h²/3.
        var b = BSplineTransform2D(lower: SIMD2(0, 0), upper: SIMD2(40, 30), spacing: 5)
        let a = 0.01
        let n = b.nodes.x * b.nodes.y
        for j in 0..<b.nodes.y {
            for i in 0..<b.nodes.x {
                let x = b.gridOrigin.x + Double(i) * b.gridSpacing.x
                b.parameters[i + b.nodes.x * j] = a * (x * x - b.gridSpacing.x * b.gridSpacing.x / 3)
            }
        }
        XCTAssertEqual(b.bendingEnergy(gradient: nil), 4 * a * a, accuracy: 1e-12)
        XCTAssertEqual(b.displacement(SIMD2(13.3, 7)).x, a * 13.3 * 13.3, accuracy: 1e-9)
        // An affine field bends nothing.
        for j in 0..<b.nodes.y {
            for i in 0..<b.nodes.x {
                let p = b.gridOrigin + SIMD2(Double(i), Double(j)) * b.gridSpacing
                b.parameters[i + b.nodes.x * j] = 0.1 * p.x - 0.2 * p.y + 3
                b.parameters[n + i + b.nodes.x * j] = 0.05 * p.y
            }
        }
        XCTAssertEqual(b.bendingEnergy(gradient: nil), 0, accuracy: 1e-18)
    }

    func testBendingEnergyGradientMatchesFiniteDifferences() {
        var b = BSplineTransform2D(lower: SIMD2(0, 0), upper: SIMD2(20, 20), spacing: 5)
        var rng = SplitMix64(seed: 1)
        b.parameters = b.parameters.map { _ in rng.unit() - 0.5 }
        var g = [Double](repeating: 0, count: b.parameters.count)
        _ = g.withUnsafeMutableBufferPointer { b.bendingEnergy(weight: 1, gradient: $0.baseAddress!) }
        for k in stride(from: 0, to: b.parameters.count, by: 7) {
            var p = b, m = b
            p.parameters[k] += 1e-6
            m.parameters[k] -= 1e-6
            let numeric = (p.bendingEnergy(gradient: nil) - m.bendingEnergy(gradient: nil)) / 2e-6
            XCTAssertEqual(g[k], numeric, accuracy: 1e-7 + 1e-5 * abs(numeric), "node parameter \(k)")
        }
    }
}

extension TransformTests {
    func testInversesUndoTheMapping() {
        let m = MatrixTransform2D(kind: .similarity, center: SIMD2(3, -2), flipped: true, parameters: [0.8, 1.1, 4, -5])
        var b = BSplineTransform2D(lower: SIMD2(-20, -10), upper: SIMD2(30, 25), spacing: 7)
        var rng = SplitMix64(seed: 13)
        b.parameters = b.parameters.map { _ in 2 * (rng.unit() - 0.5) }
        let t = AffineBSplineTransform2D(affine: m, bspline: b)
        for x in randomPoints(50, in: SIMD2(-25, -15), SIMD2(35, 30)) {
            let back = m.inverted.map(m.map(x))
            XCTAssertLessThan(((back - x) * (back - x)).sum().squareRoot(), 1e-9)
            guard let xi = t.inverse(t.map(x), guess: m.inverted.map(t.map(x))) else { return XCTFail("Newton did not converge at \(x)") }
            XCTAssertLessThan(((xi - x) * (xi - x)).sum().squareRoot(), 1e-5, "at \(x)")
        }
    }
}
