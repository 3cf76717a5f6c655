import Foundation
import VectorMath
import XCTest

final class VectorMathTests: XCTestCase {
    func testExpIsWithinFourUlpOverTheSoftmaxRange() {
        var worst = 0.0
        for i in 0...20_000 {
            let x = Float(-87 + Double(i) * (175.0 / 20_000))
            let got = Double(VectorMath.exp(VectorMath.V(repeating: x))[3])
            let want = Foundation.exp(Double(x))
            worst = max(worst, abs(got - want) / want)
        }
        XCTAssertLessThan(worst, 4 * 1.19e-7, "worst relative error \(worst)")
    }

    func testTailLoadsPadWithZerosAndStoresTouchOnlyTheTail() {
        var a: [Float] = [1, 2, 3, 9, 9, 9, 9, 9, 9]
        let v = a.withUnsafeBufferPointer { VectorMath.loadTail($0.baseAddress!, 3) }
        XCTAssertEqual(v, VectorMath.V(1, 2, 3, 0, 0, 0, 0, 0))
        a.withUnsafeMutableBufferPointer { VectorMath.storeTail(VectorMath.V(repeating: 7), $0.baseAddress!, 2) }
        XCTAssertEqual(a, [7, 7, 3, 9, 9, 9, 9, 9, 9])
    }
}
