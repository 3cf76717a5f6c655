import Foundation

/// Cubic B-spline basis and derivatives (uniform knots).
enum CubicBSpline {
    /// Weights of the four nodes floor(t)−1 … floor(t)+2 at fraction f = t − floor(t).
    @inline(__always) static func weights(_ f: Double) -> SIMD4<Double> {
        let g = 1 - f, f2 = f * f, f3 = f2 * f
        return SIMD4(g * g * g / 6, (3 * f3 - 6 * f2 + 4) / 6, (-3 * f3 + 3 * f2 + 3 * f + 1) / 6, f3 / 6)
    }
    @inline(__always) static func derivatives(_ f: Double) -> SIMD4<Double> {
        let g = 1 - f
        return SIMD4(-g * g / 2, (3 * f * f - 4 * f) / 2, (-3 * f * f + 2 * f + 1) / 2, f * f / 2)
    }
    @inline(__always) static func second(_ f: Double) -> SIMD4<Double> {
        SIMD4(1 - f, 3 * f - 2, -3 * f + 1, f)
    }
    /// β³(t) and its derivative, for Parzen windows.
    @inline(__always) static func kernel(_ t: Double) -> Double {
        let a = abs(t)
        if a < 1 { return (4 - 6 * a * a + 3 * a * a * a) / 6 }
        if a < 2 { let b = 2 - a; return b * b * b / 6 }
        return 0
    }
    @inline(__always) static func kernelDerivative(_ t: Double) -> Double {
        let a = abs(t)
        if a < 1 { return -2 * t + 1.5 * t * a }
        if a < 2 { let b = 2 - a; return t > 0 ? -0.5 * b * b : 0.5 * b * b }
        return 0
    }
}

/// Free-form deformation x ↦ x + u(x), u a cubic B-spline on a uniform control grid laid over a
/// fixed-space box. Parameters: all x coefficients (mm), then all y, node (i, j) at i + nx·j.
/// Points whose support leaves the grid use only the nodes that exist, so u fades to 0 outside.
public struct BSplineTransform2D: Transform2D, Equatable {
    /// Position (mm) of node (0, 0); the box starts one node spacing inside it.
    public private(set) var gridOrigin: SIMD2<Double>
    public private(set) var gridSpacing: SIMD2<Double>
    public private(set) var nodes: SIMD2<Int>
    public var parameters: [Double]

    /// A zero deformation whose grid covers `lower…upper` (mm) with node spacing ≤ `spacing`.
    public init(lower: SIMD2<Double>, upper: SIMD2<Double>, spacing: Double) {
        let extent = upper - lower
        let cells = SIMD2(max(1, Int((extent.x / spacing).rounded(.up))), max(1, Int((extent.y / spacing).rounded(.up))))
        gridSpacing = SIMD2(extent.x / Double(cells.x), extent.y / Double(cells.y))
        gridOrigin = lower - gridSpacing
        nodes = cells &+ 3
        parameters = [Double](repeating: 0, count: 2 * nodes.x * nodes.y)
    }

    var nodeCount: Int { nodes.x * nodes.y }

    /// Displacement u(p) (mm).
    @inline(__always) public func displacement(_ p: SIMD2<Double>) -> SIMD2<Double> {
        var u = SIMD2<Double>.zero
        parameters.withUnsafeBufferPointer { c in
            visit(p) { k, w in u += SIMD2(c[k], c[k + nodeCount]) * w }
        }
        return u
    }

    @inline(__always) public func map(_ p: SIMD2<Double>) -> SIMD2<Double> { p + displacement(p) }

    public func accumulate(_ p: SIMD2<Double>, _ g: SIMD2<Double>, into grad: UnsafeMutablePointer<Double>) {
        let n = nodeCount
        visit(p) { k, w in
            grad[k] += g.x * w
            grad[k + n] += g.y * w
        }
    }

    public func parameterScales(radius: Double) -> [Double] { [Double](repeating: 1, count: parameters.count) }

    /// Calls body(node index, weight) for the ≤ 16 nodes supporting p.
    @inline(__always) func visit(_ p: SIMD2<Double>, _ body: (Int, Double) -> Void) {
        let t = (p - gridOrigin) / gridSpacing
        let fx = t.x.rounded(.down), fy = t.y.rounded(.down)
        let i0 = Int(fx) - 1, j0 = Int(fy) - 1
        guard i0 > -4, j0 > -4, i0 < nodes.x, j0 < nodes.y else { return }
        let wx = CubicBSpline.weights(t.x - fx), wy = CubicBSpline.weights(t.y - fy)
        for b in 0..<4 {
            let j = j0 + b
            guard j >= 0, j < nodes.y else { continue }
            for a in 0..<4 {
                let i = i0 + a
                guard i >= 0, i < nodes.x else { continue }
                body(i + nodes.x * j, wx[a] * wy[b])
            }
        }
    }

    /// The same deformation on a grid with half the node spacing (exact B-spline subdivision).
    public func refined() -> BSplineTransform2D {
        var r = self
        r.gridSpacing = gridSpacing / 2
        r.nodes = SIMD2(2 * nodes.x - 1, 2 * nodes.y - 1)
        let n = nodeCount, rn = r.nodeCount
        r.parameters = [Double](repeating: 0, count: 2 * rn)
        func sub(_ c: (Int) -> Double, _ count: Int, _ j: Int) -> Double {
            let i = j / 2
            func at(_ k: Int) -> Double { k < 0 || k >= count ? 0 : c(k) }
            return j % 2 == 0 ? (at(i - 1) + 6 * at(i) + at(i + 1)) / 8 : (at(i) + at(i + 1)) / 2
        }
        for dim in 0..<2 {
            // Along x for every old row, then along y for every new column.
            var rows = [Double](repeating: 0, count: r.nodes.x * nodes.y)
            for j in 0..<nodes.y {
                for i in 0..<r.nodes.x {
                    rows[i + r.nodes.x * j] = sub({ self.parameters[dim * n + $0 + self.nodes.x * j] }, nodes.x, i)
                }
            }
            for j in 0..<r.nodes.y {
                for i in 0..<r.nodes.x {
                    r.parameters[dim * rn + i + r.nodes.x * j] = sub({ rows[i + r.nodes.x * $0] }, nodes.y, j)
                }
            }
        }
        return r
    }

    /// Bending energy (1/A)∫ u_xx² + 2u_xy² + u_yy² (mm⁻²) over the grid box, as the mean over
    /// `perCell`² points per cell; its gradient × `weight` is added to `grad` when given.
    public func bendingEnergy(weight: Double = 1, perCell: Int = 2, gradient grad: UnsafeMutablePointer<Double>?) -> Double {
        let n = nodeCount
        var total = 0.0
        let norm = 1 / Double(max(1, (nodes.x - 3) * (nodes.y - 3) * perCell * perCell))
        let gw = weight * norm
        let h2 = gridSpacing * gridSpacing
        let hxy = gridSpacing.x * gridSpacing.y
        parameters.withUnsafeBufferPointer { c in
            // Cells 1…nodes−3 are the ones inside the box.
            for cj in 1..<(nodes.y - 2) {
                for ci in 1..<(nodes.x - 2) {
                    for sj in 0..<perCell {
                        for si in 0..<perCell {
                            let fx = (Double(si) + 0.5) / Double(perCell), fy = (Double(sj) + 0.5) / Double(perCell)
                            let w0x = CubicBSpline.weights(fx), w1x = CubicBSpline.derivatives(fx), w2x = CubicBSpline.second(fx)
                            let w0y = CubicBSpline.weights(fy), w1y = CubicBSpline.derivatives(fy), w2y = CubicBSpline.second(fy)
                            var uxx = SIMD2<Double>.zero, uxy = SIMD2<Double>.zero, uyy = SIMD2<Double>.zero
                            for b in 0..<4 {
                                for a in 0..<4 {
                                    let k = (ci - 1 + a) + nodes.x * (cj - 1 + b)
                                    let cv = SIMD2(c[k], c[k + n])
                                    uxx += cv * (w2x[a] * w0y[b] / h2.x)
                                    uxy += cv * (w1x[a] * w1y[b] / hxy)
                                    uyy += cv * (w0x[a] * w2y[b] / h2.y)
                                }
                            }
                            total += (uxx * uxx + 2 * uxy * uxy + uyy * uyy).sum()
                            guard let grad else { continue }
                            for b in 0..<4 {
                                for a in 0..<4 {
                                    let k = (ci - 1 + a) + nodes.x * (cj - 1 + b)
                                    let bxx: Double = 2 * w2x[a] * w0y[b] / h2.x
                                    let bxy: Double = 4 * w1x[a] * w1y[b] / hxy
                                    let byy: Double = 2 * w0x[a] * w2y[b] / h2.y
                                    let d: SIMD2<Double> = uxx * bxx + uxy * bxy + uyy * byy
                                    grad[k] += gw * d.x
                                    grad[k + n] += gw * d.y
                                }
                            }
                        }
                    }
                }
            }
        }
        return total * norm
    }
}

/// An affine (or any matrix) transform after a B-spline deformation: x ↦ A(x + u(x)). Only the
/// B-spline is optimised; the affine comes from the previous stage.
public struct AffineBSplineTransform2D: Transform2D {
    public var affine: MatrixTransform2D
    public var bspline: BSplineTransform2D
    public init(affine: MatrixTransform2D, bspline: BSplineTransform2D) {
        self.affine = affine
        self.bspline = bspline
    }
    public var parameters: [Double] {
        get { bspline.parameters }
        set { bspline.parameters = newValue }
    }
    @inline(__always) public func map(_ p: SIMD2<Double>) -> SIMD2<Double> { affine.map(bspline.map(p)) }
    public func accumulate(_ p: SIMD2<Double>, _ g: SIMD2<Double>, into grad: UnsafeMutablePointer<Double>) {
        bspline.accumulate(p, affine.linear.transposed * g, into: grad)
    }
    public func parameterScales(radius: Double) -> [Double] { bspline.parameterScales(radius: radius) }
}
