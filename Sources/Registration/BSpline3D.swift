import Foundation

/// 3D free-form deformation x ↦ x + u(x), u a cubic B-spline on a uniform control grid laid
/// axis-aligned over a fixed-space (LPS mm) box. Parameters: all x coefficients (mm), then all
/// y, then all z; node (i, j, k) at i + nx·(j + ny·k). Nodes missing near the grid's edge count
/// as 0, so u fades to 0 outside the box (as in `BSplineTransform2D`).
public struct BSplineTransform3D: Sendable, Equatable {
    /// Position (mm) of node (0, 0, 0); the box starts one node spacing inside it.
    public private(set) var gridOrigin: SIMD3<Double>
    public private(set) var gridSpacing: SIMD3<Double>
    public private(set) var nodes: SIMD3<Int>
    public var parameters: [Double]

    /// A zero deformation covering `lower…upper` (mm) with node spacing ≤ `spacing` per axis.
    public init(lower: SIMD3<Double>, upper: SIMD3<Double>, spacing: SIMD3<Double>) {
        let extent = upper - lower
        var cells = SIMD3<Int>(1, 1, 1)
        for a in 0..<3 { cells[a] = max(1, Int((extent[a] / spacing[a]).rounded(.up))) }
        gridSpacing = extent / SIMD3(Double(cells.x), Double(cells.y), Double(cells.z))
        gridOrigin = lower - gridSpacing
        nodes = cells &+ 3
        parameters = [Double](repeating: 0, count: 3 * nodes.x * nodes.y * nodes.z)
    }

    var nodeCount: Int { nodes.x * nodes.y * nodes.z }

    /// Displacement u(p) (mm).
    @inline(__always) public func displacement(_ p: SIMD3<Double>) -> SIMD3<Double> {
        var u = SIMD3<Double>.zero
        let n = nodeCount
        parameters.withUnsafeBufferPointer { c in
            visit(p) { k, w in u += SIMD3(c[k], c[k + n], c[k + 2 * n]) * w }
        }
        return u
    }

    @inline(__always) public func map(_ p: SIMD3<Double>) -> SIMD3<Double> { p + displacement(p) }

    /// Adds g · ∂u(p)/∂c to `grad` for every coefficient c (g: the cost's gradient w.r.t. u(p)).
    @inline(__always) func accumulate(_ p: SIMD3<Double>, _ g: SIMD3<Double>, into grad: UnsafeMutablePointer<Double>) {
        let n = nodeCount
        visit(p) { k, w in
            grad[k] += g.x * w
            grad[k + n] += g.y * w
            grad[k + 2 * n] += g.z * w
        }
    }

    /// Calls body(node index, weight) for the ≤ 64 nodes supporting p.
    @inline(__always) func visit(_ p: SIMD3<Double>, _ body: (Int, Double) -> Void) {
        let t = (p - gridOrigin) / gridSpacing
        let f = t.rounded(.down)
        let i0 = Int(f.x) - 1, j0 = Int(f.y) - 1, k0 = Int(f.z) - 1
        guard i0 > -4, j0 > -4, k0 > -4, i0 < nodes.x, j0 < nodes.y, k0 < nodes.z else { return }
        let wx = CubicBSpline.weights(t.x - f.x), wy = CubicBSpline.weights(t.y - f.y), wz = CubicBSpline.weights(t.z - f.z)
        for c in 0..<4 {
            let k = k0 + c
            guard k >= 0, k < nodes.z else { continue }
            for b in 0..<4 {
                let j = j0 + b
                guard j >= 0, j < nodes.y else { continue }
                let wyz = wy[b] * wz[c], row = nodes.x * (j + nodes.y * k)
                for a in 0..<4 {
                    let i = i0 + a
                    guard i >= 0, i < nodes.x else { continue }
                    body(i + row, wx[a] * wyz)
                }
            }
        }
    }

    /// The same deformation with the node spacing halved along the axes marked (exact B-spline
    /// subdivision, one axis at a time).
    public func refined(along axes: [Bool] = [true, true, true]) -> BSplineTransform3D {
        var r = self
        for a in 0..<3 where axes[a] { r = r.halved(axis: a) }
        return r
    }

    private func halved(axis a: Int) -> BSplineTransform3D {
        var r = self
        r.gridSpacing[a] /= 2
        r.nodes[a] = 2 * nodes[a] - 1
        let n = nodeCount, rn = r.nodeCount
        let old = nodes, new = r.nodes
        r.parameters = [Double](repeating: 0, count: 3 * rn)
        let strideOld = a == 0 ? 1 : a == 1 ? old.x : old.x * old.y
        parameters.withUnsafeBufferPointer { c in
            r.parameters.withUnsafeMutableBufferPointer { o in
                for dim in 0..<3 {
                    for k in 0..<new.z { for j in 0..<new.y { for i in 0..<new.x {
                        var idx = SIMD3(i, j, k)
                        let q = idx[a]
                        idx[a] = q / 2
                        let base = dim * n + idx.x + old.x * (idx.y + old.y * idx.z)
                        func at(_ d: Int) -> Double { let m = q / 2 + d; return m < 0 || m >= old[a] ? 0 : c[base + d * strideOld] }
                        o[dim * rn + i + new.x * (j + new.y * k)] = q % 2 == 0 ? (at(-1) + 6 * at(0) + at(1)) / 8 : (at(0) + at(1)) / 2
                    } } }
                }
            }
        }
        return r
    }

    /// Bending energy (1/V)∫ Σ_dims u_xx² + u_yy² + u_zz² + 2(u_xy² + u_xz² + u_yz²) (mm⁻²) over
    /// the grid box, as the mean over `perCell`³ points per cell; its gradient × `weight` is
    /// added to `grad` when given.
    public func bendingEnergy(weight: Double = 1, perCell: Int = 2, gradient grad: UnsafeMutablePointer<Double>?) -> Double {
        let n = nodeCount
        let cells = (nodes.x - 3) * (nodes.y - 3) * (nodes.z - 3)
        let norm = 1 / Double(max(1, cells * perCell * perCell * perCell))
        let gw = weight * norm
        let h = gridSpacing
        // Per-axis basis values at the sub-cell points: [order][point][node].
        let fr = (0..<perCell).map { (Double($0) + 0.5) / Double(perCell) }
        let w0 = fr.map(CubicBSpline.weights), w1 = fr.map(CubicBSpline.derivatives), w2 = fr.map(CubicBSpline.second)
        var total = 0.0
        var coef = [Double](repeating: 0, count: 6 * 64)  // the six second-derivative weights per node
        parameters.withUnsafeBufferPointer { c in
            for ck in 1..<(nodes.z - 2) { for cj in 1..<(nodes.y - 2) { for ci in 1..<(nodes.x - 2) {
                for sk in 0..<perCell { for sj in 0..<perCell { for si in 0..<perCell {
                    var d2 = [SIMD3<Double>](repeating: .zero, count: 6)
                    var m = 0
                    for cz in 0..<4 { for b in 0..<4 { for a in 0..<4 {
                        let x0 = w0[si][a], x1 = w1[si][a], x2 = w2[si][a]
                        let y0 = w0[sj][b], y1 = w1[sj][b], y2 = w2[sj][b]
                        let z0 = w0[sk][cz], z1 = w1[sk][cz], z2 = w2[sk][cz]
                        let ws = [x2 * y0 * z0 / (h.x * h.x), x0 * y2 * z0 / (h.y * h.y), x0 * y0 * z2 / (h.z * h.z),
                                  x1 * y1 * z0 / (h.x * h.y), x1 * y0 * z1 / (h.x * h.z), x0 * y1 * z1 / (h.y * h.z)]
                        let k = (ci - 1 + a) + nodes.x * ((cj - 1 + b) + nodes.y * (ck - 1 + cz))
                        let cv = SIMD3(c[k], c[k + n], c[k + 2 * n])
                        for q in 0..<6 { d2[q] += cv * ws[q]; coef[6 * m + q] = ws[q] }
                        m += 1
                    } } }
                    total += (d2[0] * d2[0] + d2[1] * d2[1] + d2[2] * d2[2]).sum() + 2 * (d2[3] * d2[3] + d2[4] * d2[4] + d2[5] * d2[5]).sum()
                    guard let grad else { continue }
                    m = 0
                    for cz in 0..<4 { for b in 0..<4 { for a in 0..<4 {
                        let k = (ci - 1 + a) + nodes.x * ((cj - 1 + b) + nodes.y * (ck - 1 + cz))
                        var d = SIMD3<Double>.zero
                        for q in 0..<6 { d += d2[q] * ((q < 3 ? 2 : 4) * coef[6 * m + q]) }
                        grad[k] += gw * d.x; grad[k + n] += gw * d.y; grad[k + 2 * n] += gw * d.z
                        m += 1
                    } } }
                } } }
            } } }
        }
        return total * norm
    }
}

/// The affine after a B-spline deformation, fixed → moving: x ↦ A(x + u(x)). As ITK's
/// `CompositeTransform([affine, displacement])` (the last transform added is applied first).
public struct AffineBSplineTransform3D: Sendable, Equatable {
    public var affine: AffineTransform3D
    public var bspline: BSplineTransform3D
    public init(affine: AffineTransform3D, bspline: BSplineTransform3D) {
        self.affine = affine
        self.bspline = bspline
    }
    @inline(__always) public func map(_ x: SIMD3<Double>) -> SIMD3<Double> { affine.map(bspline.map(x)) }
}
