import Foundation

/// Summed-area table of a mask's foreground, for per-patch tissue fractions in O(1) per patch.
public struct IntegralImage: Sendable {
    public let width: Int
    public let height: Int
    /// (width+1)×(height+1) cumulative counts; table[y*(width+1)+x] = foreground pixels in [0,x)×[0,y).
    let table: [Int64]

    /// Counts pixels != 0 as 1 each.
    public init(_ mask: GrayImage) {
        width = mask.width; height = mask.height
        let w1 = width + 1
        var t = [Int64](repeating: 0, count: w1 * (height + 1))
        let w = width, h = height
        mask.pixels.withUnsafeBufferPointer { mB in
            t.withUnsafeMutableBufferPointer { tB in
                guard let m = mB.baseAddress, let tp = tB.baseAddress else { return }
                for y in 0..<h {
                    var run: Int64 = 0
                    let row = m + y * w, prev = tp + y * w1, cur = tp + (y + 1) * w1
                    for x in 0..<w {
                        run += row[x] != 0 ? 1 : 0
                        cur[x + 1] = prev[x + 1] + run
                    }
                }
            }
        }
        table = t
    }

    /// Exact foreground area (in pixels, fractional) inside the real rectangle [x0,x1)×[y0,y1) in
    /// pixel units, each pixel being a unit square of constant value. The cumulative area up to a real
    /// corner is bilinear within each pixel cell, so bilinear interpolation of the table is exact.
    /// The rectangle is clamped to the image; empty or inverted rectangles give 0. This is how a
    /// patch whose level-0 footprint maps to a non-integer thumbnail rectangle gets its tissue fraction.
    public func area(x0: Double, y0: Double, x1: Double, y1: Double) -> Double {
        guard width > 0 && height > 0 else { return 0 }
        let ax = clamp(x0, Double(width)), bx = clamp(x1, Double(width))
        let ay = clamp(y0, Double(height)), by = clamp(y1, Double(height))
        guard bx > ax && by > ay else { return 0 }
        return cumulative(bx, by) - cumulative(ax, by) - cumulative(bx, ay) + cumulative(ax, ay)
    }

    @inline(__always) private func clamp(_ v: Double, _ hi: Double) -> Double {
        v.isNaN ? 0 : Swift.min(Swift.max(v, 0), hi)
    }

    /// Foreground area in [0,x)×[0,y) for real x in 0...width, y in 0...height.
    @inline(__always) private func cumulative(_ x: Double, _ y: Double) -> Double {
        let i = Swift.min(Int(x), width - 1), j = Swift.min(Int(y), height - 1)
        let fx = x - Double(i), fy = y - Double(j)
        let w1 = width + 1
        let t00 = Double(table[j * w1 + i]), t10 = Double(table[j * w1 + i + 1])
        let t01 = Double(table[(j + 1) * w1 + i]), t11 = Double(table[(j + 1) * w1 + i + 1])
        return (t00 * (1 - fx) + t10 * fx) * (1 - fy) + (t01 * (1 - fx) + t11 * fx) * fy
    }
}
