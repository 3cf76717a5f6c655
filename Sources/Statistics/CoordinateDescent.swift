/// The inner solver of both lasso fits (LogisticRegression's proximal Newton and the LassoCV
/// path): minimises ½bᵀGb − hᵀb + λ‖b₁…‖₁ (b₀, the intercept, unpenalised) by cyclic
/// coordinate descent from `b`, where `c` holds the residual h − G·b and is kept current.
enum CoordinateDescent {
    /// Full sweeps until the largest weighted squared step is under `tol2`; between them,
    /// `innerSweeps` sweeps over the active set only. `exact(active)` may return the solution
    /// outright (an active-set solve); `b` is then replaced by it and the loop ends.
    static func minimise(gram g: UnsafeBufferPointer<Double>, q: Int, c: inout [Double], b: inout [Double],
                         lambda: Double, tol2: Double, innerSweeps: Int,
                         exact: (([Int], [Double]) -> [Double]?)? = nil) {
        func step(_ j: Int) -> Double {
            let gjj = g[j * q + j]
            guard gjj > 0 else { return 0 }
            let u = c[j] + gjj * b[j]
            let new = j == 0 ? u / gjj : (u > lambda ? u - lambda : (u < -lambda ? u + lambda : 0)) / gjj
            let delta = new - b[j]
            if delta == 0 { return 0 }
            for a in 0..<q { c[a] -= delta * g[a * q + j] }
            b[j] = new
            return gjj * delta * delta
        }
        for _ in 0..<1000 {
            var full = 0.0
            for j in 0..<q { full = max(full, step(j)) }
            if full < tol2 { return }
            let active = (0..<q).filter { $0 == 0 || b[$0] != 0 }
            if let exact, let solved = exact(active, b) { b = solved; return }
            for _ in 0..<innerSweeps {
                var m = 0.0
                for j in active { m = max(m, step(j)) }
                if m < tol2 { break }
            }
        }
    }
}
