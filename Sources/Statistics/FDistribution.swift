import Foundation

/// The regularised incomplete beta function and the F distribution, for ICC intervals.
enum IncompleteBeta {
    /// I_x(a, b) by its continued fraction (modified Lentz), on the side of x where it converges
    /// fast; the other side through I_x(a, b) = 1 − I_{1−x}(b, a).
    static func regularized(_ x: Double, _ a: Double, _ b: Double) -> Double {
        if x <= 0 { return 0 }
        if x >= 1 { return 1 }
        if x > (a + 1) / (a + b + 2) { return 1 - regularized(1 - x, b, a) }
        let logFront = a * log(x) + b * log1p(-x) - logBeta(a, b)
        return exp(logFront) * fraction(x, a, b) / a
    }

    static func logBeta(_ a: Double, _ b: Double) -> Double { lgamma(a) + lgamma(b) - lgamma(a + b) }

    /// 1 / (1 + d₁/(1 + d₂/(1 + …))) with d₂ₘ₊₁ = −(a+m)(a+b+m)x/((a+2m)(a+2m+1)),
    /// d₂ₘ = m(b−m)x/((a+2m−1)(a+2m)).
    private static func fraction(_ x: Double, _ a: Double, _ b: Double) -> Double {
        let tiny = 1e-300
        var c = 1.0, d = 1 - (a + b) * x / (a + 1)
        if abs(d) < tiny { d = tiny }
        d = 1 / d
        var h = d
        for m in 1...10_000 {
            let fm = Double(m)
            for even in [true, false] {
                let num = even ? fm * (b - fm) * x / ((a + 2 * fm - 1) * (a + 2 * fm))
                               : -(a + fm) * (a + b + fm) * x / ((a + 2 * fm) * (a + 2 * fm + 1))
                d = 1 + num * d; if abs(d) < tiny { d = tiny }
                c = 1 + num / c; if abs(c) < tiny { c = tiny }
                d = 1 / d
                h *= d * c
                if !even && abs(d * c - 1) < 1e-16 { return h }
            }
        }
        return h
    }

    /// x with I_x(a, b) = p: Newton steps on the beta density, kept inside a shrinking bracket
    /// (bisection whenever Newton would leave it), to about machine precision.
    static func inverse(_ p: Double, _ a: Double, _ b: Double) -> Double {
        if p <= 0 { return 0 }
        if p >= 1 { return 1 }
        var lo = 0.0, hi = 1.0, x = a / (a + b)
        let lb = logBeta(a, b)
        for _ in 0..<400 {
            let f = regularized(x, a, b) - p
            if f == 0 { return x }
            if f < 0 { lo = x } else { hi = x }
            let dens = exp((a - 1) * log(x) + (b - 1) * log1p(-x) - lb)
            var next = x - f / dens
            if !(next > lo && next < hi) || !dens.isFinite || dens == 0 { next = (lo + hi) / 2 }
            if abs(next - x) <= 1e-15 * max(x, 1e-300) || hi - lo <= 1e-16 * hi { return next }
            x = next
        }
        return x
    }
}

/// The F distribution with (possibly non-integer) degrees of freedom.
public enum FDistribution {
    /// P(F ≤ f).
    public static func cdf(_ f: Double, _ d1: Double, _ d2: Double) -> Double {
        f <= 0 ? 0 : IncompleteBeta.regularized(d1 * f / (d1 * f + d2), d1 / 2, d2 / 2)
    }

    /// P(F > f), computed on the complementary side so small tails keep their precision.
    public static func survival(_ f: Double, _ d1: Double, _ d2: Double) -> Double {
        f <= 0 ? 1 : IncompleteBeta.regularized(d2 / (d1 * f + d2), d2 / 2, d1 / 2)
    }

    /// The p-quantile.
    public static func quantile(_ p: Double, _ d1: Double, _ d2: Double) -> Double {
        precondition(p > 0 && p < 1 && d1 > 0 && d2 > 0, "FDistribution.quantile: p = \(p), df = (\(d1), \(d2))")
        // Invert on the side where the beta variate is small, so 1 − x never cancels:
        // x = d1·f/(d1·f + d2) ~ Beta(d1/2, d2/2) and 1 − x ~ Beta(d2/2, d1/2).
        if p < 0.5 {
            let x = IncompleteBeta.inverse(p, d1 / 2, d2 / 2)
            return d2 * x / (d1 * (1 - x))
        }
        let y = IncompleteBeta.inverse(1 - p, d2 / 2, d1 / 2)
        return d2 * (1 - y) / (d1 * y)
    }
}
