@testable import Embedder
import Foundation
import XCTest

/// The element-wise kernels against double-precision libm.
final class KernelTests: XCTestCase {
    /// Relative error below 3e-6 over [−5, 10] (the negative tail included; float32 rounding
    /// of −x²/2 sets the floor), absolute below
    /// 3e-7 beyond; the erf form, not the tanh approximation.
    func testGELUIsTheErfFormToAFewMillionthsRelative() {
        var worstRelative = 0.0, worstAbsolute = 0.0
        for i in 0...40_000 {
            let x = Float(-10 + Double(i) * (20.0 / 40_000))
            let got = Double(Kernels.gelu(Kernels.V(repeating: x))[5])
            let want = 0.5 * Double(x) * erfc(-Double(x) / 2.0.squareRoot())
            worstAbsolute = max(worstAbsolute, abs(got - want) / max(1, abs(want)))
            if x >= -5 && x != 0 { worstRelative = max(worstRelative, abs(got - want) / abs(want)) }
        }
        XCTAssertLessThan(worstRelative, 3e-6, "worst relative error \(worstRelative)")
        XCTAssertLessThan(worstAbsolute, 3e-7, "worst absolute error \(worstAbsolute)")
        // x·Φ(x) at −3 is −0.0040496935; the tanh approximation gives −0.0036373.
        XCTAssertEqual(Double(Kernels.gelu(Kernels.V(repeating: -3))[0]), -0.0040496935, accuracy: 4e-9)
    }

    func testSoftmaxAndLayerNormMatchDoublePrecision() {
        var row: [Float] = (0..<197).map { Float(sin(Double($0) * 0.37)) * 12 }
        let ref: [Double] = { let m = row.map(Double.init).max()!; let e = row.map { Foundation.exp(Double($0) - m) }; let s = e.reduce(0, +); return e.map { $0 / s } }()
        row.withUnsafeMutableBufferPointer { Kernels.softmaxRow($0.baseAddress!, 197) }
        for (a, b) in zip(row, ref) { XCTAssertEqual(Double(a), b, accuracy: 1e-7 + 1e-6 * b) }

        let n = 771   // not a multiple of the vector width
        let x: [Float] = (0..<(2 * n)).map { Float(cos(Double($0) * 0.11)) * 3 + 5 }
        let w: [Float] = (0..<n).map { 1 + Float($0 % 7) / 10 }, b: [Float] = (0..<n).map { Float($0 % 5) / 10 }
        var out = [Float](repeating: 0, count: 2 * n)
        out.withUnsafeMutableBufferPointer { Kernels.layerNorm(x, $0.baseAddress!, m: 2, n: n, weight: w, bias: b, eps: 1e-6) }
        for r in 0..<2 {
            let v = x[(r * n)..<((r + 1) * n)].map(Double.init)
            let mean = v.reduce(0, +) / Double(n)
            let variance = v.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(n)
            for j in 0..<n {
                let want = (v[j] - mean) / (variance + 1e-6).squareRoot() * Double(w[j]) + Double(b[j])
                XCTAssertEqual(Double(out[r * n + j]), want, accuracy: 2e-6)
            }
        }
    }
}
