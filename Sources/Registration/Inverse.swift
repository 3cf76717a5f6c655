import Foundation

extension MatrixTransform2D {
    /// The exact inverse (moving → fixed) as an affine transform with the same centre:
    /// y ↦ L⁻¹(y − c − t) + c.
    public var inverted: MatrixTransform2D {
        let li = linear.inverse
        let tp = -(li * translation) // L⁻¹(y − c − t) + c = L⁻¹(y − c) + c + (−L⁻¹t)
        return MatrixTransform2D(kind: .affine, center: center, parameters: [li.a, li.b, li.c, li.d, tp.x, tp.y])
    }
}

extension Transform2D {
    /// The fixed point x with map(x) = y (moving → fixed), by Newton's method on a central-
    /// difference Jacobian from `guess`; nil when it does not converge to `tolerance` mm (e.g. a
    /// folded deformation or a point the transform never reaches).
    public func inverse(_ y: SIMD2<Double>, guess: SIMD2<Double>, tolerance: Double = 1e-6, maxIterations: Int = 50) -> SIMD2<Double>? {
        var x = guess
        let h = 1e-4
        for _ in 0..<maxIterations {
            let r = map(x) - y
            if (r * r).sum().squareRoot() <= tolerance { return x }
            let jx = (map(x + SIMD2(h, 0)) - map(x - SIMD2(h, 0))) / (2 * h)
            let jy = (map(x + SIMD2(0, h)) - map(x - SIMD2(0, h))) / (2 * h)
            let j = Matrix2(jx.x, jy.x, jx.y, jy.y)
            guard abs(j.determinant) > 1e-12 else { return nil }
            var step = j.inverse * r
            // Damp very long steps: stay in the region where the local Jacobian holds.
            let len = (step * step).sum().squareRoot()
            if len > 5 { step *= 5 / len }
            x -= step
        }
        let r = map(x) - y
        return (r * r).sum().squareRoot() <= tolerance ? x : nil
    }
}

extension Registration2DResult {
    /// The fixed (MRI) point whose image is moving (histology) point y: histology → MRI.
    public func inverseMap(_ y: SIMD2<Double>) -> SIMD2<Double>? {
        let guess = affine.inverted.map(y)
        guard let deformable else { return guess }
        return deformable.inverse(y, guess: guess)
    }
}
