import Foundation

/// Limited-memory BFGS with a backtracking (Armijo) line search, run on scaled parameters
/// z = θ ⊙ scale so one unit of z moves image points by about a millimetre for every
/// parameter. Parameters whose scale is 0 are frozen.
struct LBFGS {
    var memory = 6
    var maxIterations = 100
    /// Largest first step (in scaled units, ≈ mm).
    var maxStep = 2.0
    /// Stop when the cost falls by less than this (relative) for `patience` iterations.
    var tolerance = 1e-5
    var patience = 3

    struct Result { var parameters: [Double]; var cost: Double; var iterations: Int; var evaluations: Int }

    func minimise(_ start: [Double], scales: [Double], _ f: ([Double]) -> (Double, [Double])) -> Result {
        let n = start.count
        let inv = scales.map { $0 == 0 ? 0 : 1 / $0 }
        func theta(_ z: [Double]) -> [Double] { (0..<n).map { start[$0] + z[$0] * inv[$0] } }
        // Cost and gradient with respect to z.
        var evaluations = 0
        func eval(_ z: [Double]) -> (Double, [Double]) {
            evaluations += 1
            let (c, g) = f(theta(z))
            return (c, (0..<n).map { g[$0] * inv[$0] })
        }
        var z = [Double](repeating: 0, count: n)
        var (cost, grad) = eval(z)
        guard cost.isFinite else { return Result(parameters: start, cost: cost, iterations: 0, evaluations: evaluations) }
        var sHist: [[Double]] = [], yHist: [[Double]] = [], rhoHist: [Double] = []
        var stall = 0, it = 0
        while it < maxIterations {
            it += 1
            // Two-loop recursion: d = −H·g.
            var q = grad
            var alphas = [Double](repeating: 0, count: sHist.count)
            for k in stride(from: sHist.count - 1, through: 0, by: -1) {
                alphas[k] = rhoHist[k] * dot(sHist[k], q)
                for i in 0..<n { q[i] -= alphas[k] * yHist[k][i] }
            }
            if let s = sHist.last, let y = yHist.last {
                let gamma = dot(s, y) / max(dot(y, y), 1e-300)
                for i in 0..<n { q[i] *= gamma }
            } else {
                let gn = dot(grad, grad).squareRoot()
                guard gn > 0 else { break }
                for i in 0..<n { q[i] *= maxStep / gn }
            }
            for k in 0..<sHist.count {
                let beta = rhoHist[k] * dot(yHist[k], q)
                for i in 0..<n { q[i] += sHist[k][i] * (alphas[k] - beta) }
            }
            var d = q.map { -$0 }
            var slope = dot(d, grad)
            if slope >= 0 {
                // Not a descent direction (noisy curvature): restart from steepest descent.
                sHist.removeAll(); yHist.removeAll(); rhoHist.removeAll()
                let gn = dot(grad, grad).squareRoot()
                guard gn > 0 else { break }
                d = grad.map { -$0 * maxStep / gn }
                slope = dot(d, grad)
            }
            // Cap the step length so a poor curvature guess cannot throw the images apart.
            let len = dot(d, d).squareRoot()
            if len > 4 * maxStep { d = d.map { $0 * 4 * maxStep / len }; slope = dot(d, grad) }

            var step = 1.0, accepted = false
            var zNew = z, cNew = cost, gNew = grad
            for _ in 0..<12 {
                zNew = (0..<n).map { z[$0] + step * d[$0] }
                (cNew, gNew) = eval(zNew)
                if cNew.isFinite, cNew <= cost + 1e-4 * step * slope { accepted = true; break }
                step *= 0.5
            }
            guard accepted else {
                if sHist.isEmpty { break }
                sHist.removeAll(); yHist.removeAll(); rhoHist.removeAll()
                continue
            }
            let s = (0..<n).map { zNew[$0] - z[$0] }, y = (0..<n).map { gNew[$0] - grad[$0] }
            let sy = dot(s, y)
            if sy > 1e-12 {
                sHist.append(s); yHist.append(y); rhoHist.append(1 / sy)
                if sHist.count > memory { sHist.removeFirst(); yHist.removeFirst(); rhoHist.removeFirst() }
            }
            let drop = cost - cNew
            stall = drop <= tolerance * max(abs(cost), 1e-3) ? stall + 1 : 0
            z = zNew; cost = cNew; grad = gNew
            if stall >= patience { break }
        }
        return Result(parameters: theta(z), cost: cost, iterations: it, evaluations: evaluations)
    }
}

@inline(__always) func dot(_ a: [Double], _ b: [Double]) -> Double {
    var s = 0.0
    for i in 0..<a.count { s += a[i] * b[i] }
    return s
}
