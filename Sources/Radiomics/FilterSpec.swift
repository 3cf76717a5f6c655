import Foundation
import VolumeIO

/// Whether a filter works in 3-D or in-plane, slice by slice (the i–j plane of each k).
public enum FilterDimension: String, Sendable, Equatable {
    case twoD = "2D", threeD = "3D"
}

/// How response maps of rotated kernels (or Gabor orientations) are combined per voxel.
public enum RotationPooling: String, Sendable, Equatable {
    case max, average, min
}

/// Gabor filter parameters (IBSI 2): lengths in mm, angles in degrees. θ turns the
/// kernel counter-clockwise from the +i axis toward +j.
public struct GaborParameters: Sendable, Equatable {
    public var sigma: Double
    public var lambda: Double
    public var gamma: Double
    public var theta: Double
    /// Pool the orientations 0, step, 2·step, … below 360° (IBSI rotation invariance; `theta`
    /// is then unused); nil filters at `theta` alone.
    public var thetaStep: Double?
    public var pooling: RotationPooling
    /// Average the in-plane responses of the three orthogonal planes (IBSI's 3-D Gabor);
    /// false filters the i–j plane of each slice only.
    public var orthogonalPlanes: Bool
    /// Kernel half-width: ⌊truncate · σ · max(1, 1/γ) / spacing + 0.5⌋ voxels per axis.
    public var truncate: Double
    public var padding: PaddingMode

    public init(sigma: Double, lambda: Double, gamma: Double = 1, theta: Double = 0, thetaStep: Double? = nil,
                pooling: RotationPooling = .average, orthogonalPlanes: Bool = false, truncate: Double = 4,
                padding: PaddingMode = .mirror) {
        self.sigma = sigma
        self.lambda = lambda
        self.gamma = gamma
        self.theta = theta
        self.thetaStep = thetaStep
        self.pooling = pooling
        self.orthogonalPlanes = orthogonalPlanes
        self.truncate = truncate
        self.padding = padding
    }
}

/// Separable (undecimated) wavelet parameters.
public struct WaveletParameters: Sendable, Equatable {
    /// haar, db1…db10, sym2…sym10, coif1…coif5 (PyWavelets names).
    public var family: String
    /// 1-based decomposition levels whose sub-bands are returned.
    public var levels: ClosedRange<Int>
    /// Sub-bands to return, letters for i, j (, k): "LLH" is low-pass along i and j and
    /// high-pass along k. nil returns every sub-band (PyRadiomics convention: the detail
    /// bands of each level and the all-L band of the last level, as PyRadiomics yields them).
    public var subbands: [String]?
    public var dimension: FilterDimension
    public var rotationInvariant: Bool
    public var pooling: RotationPooling
    public var padding: PaddingMode
    /// `.ibsi`: à trous transform (filters dilated 2^(level−1)), the chosen padding.
    /// `.pyradiomics`: PyRadiomics' `getWaveletImage`: undilated filters applied again to each
    /// level's approximation, periodic padding with odd axes extended by one wrapped voxel.
    public var convention: Convention

    public init(family: String = "coif1", levels: ClosedRange<Int> = 1...1, subbands: [String]? = nil,
                dimension: FilterDimension = .threeD, rotationInvariant: Bool = false, pooling: RotationPooling = .average,
                padding: PaddingMode = .mirror, convention: Convention = .ibsi) {
        self.family = family
        self.levels = levels
        self.subbands = subbands
        self.dimension = dimension
        self.rotationInvariant = rotationInvariant
        self.pooling = pooling
        self.padding = padding
        self.convention = convention
    }
}

/// One IBSI 2 convolutional filter with its parameters. `apply(_:to:)` turns a volume into
/// one response map (several for wavelets) on the same grid.
public enum FilterSpec: Sendable, Equatable {
    /// Mean over a cube (square in 2-D) of `support` voxels per side (odd).
    case mean(support: Int, dimension: FilterDimension = .threeD, padding: PaddingMode = .mirror)
    /// Laplacian of Gaussian, σ in mm, support 1 + 2⌊truncate·σ/spacing + 0.5⌋ voxels per axis.
    /// `.ibsi`: the IBSI kernel in voxel units. `.pyradiomics`: σ²-normalised Laplacian in mm
    /// (what SimpleITK's LaplacianRecursiveGaussian with NormalizeAcrossScale computes).
    case laplacianOfGaussian(sigma: Double, truncate: Double = 4, dimension: FilterDimension = .threeD,
                             padding: PaddingMode = .mirror, convention: Convention = .ibsi)
    /// Laws kernel such as "E5L5S5" (3-D: letters for i, j, k) or "L5S5" (2-D), normalised;
    /// optionally pooled over the 24 (3-D) or 4 (2-D) right-angle rotations, then turned into
    /// an energy map: mean of |response| over a Chebyshev distance `energyDistance`.
    case laws(kernel: String, rotationInvariant: Bool = false, pooling: RotationPooling = .max,
              energyDistance: Int? = nil, padding: PaddingMode = .mirror)
    case gabor(GaborParameters)
    case wavelet(WaveletParameters)

    /// The names of the maps `apply` returns, in order.
    public var names: [String] {
        switch self {
        case let .mean(m, dim, _): return ["mean-\(m)-\(dim.rawValue)"]
        case let .laplacianOfGaussian(sigma, _, dim, _, _): return ["log-sigma-\(dashed(sigma))-mm-\(dim.rawValue)"]
        case let .laws(kernel, rot, pooling, delta, _):
            var n = "laws-\(kernel.uppercased())"
            if rot { n += "-rot-\(pooling.rawValue)" }
            if let d = delta { n += "-energy-\(d)" }
            return [n]
        case let .gabor(p):
            var n = "gabor-sigma-\(dashed(p.sigma))-mm-lambda-\(dashed(p.lambda))-mm-gamma-\(dashed(p.gamma))"
            if let step = p.thetaStep { n += "-step-\(dashed(step))-\(p.pooling.rawValue)" } else { n += "-theta-\(dashed(p.theta))" }
            return [n + (p.orthogonalPlanes ? "-3D" : "-2D")]
        case let .wavelet(p): return WaveletFilter.outputs(p).map(\.name)
        }
    }
}

/// Filters `volume` and returns the named response maps on the same grid (Float voxels).
/// Voxels beyond the edge come from `padding`; NaN voxels spread through the kernel support.
public func apply(_ spec: FilterSpec, to volume: Volume) throws -> [(name: String, volume: Volume)] {
    try spec.validate(for: volume)
    let maps: [(String, [Float])]
    switch spec {
    case let .mean(m, dim, padding):
        maps = [(spec.names[0], MeanLoGFilter.mean(volume, support: m, dimension: dim, padding: padding))]
    case let .laplacianOfGaussian(sigma, truncate, dim, padding, convention):
        maps = [(spec.names[0], MeanLoGFilter.log(volume, sigma: sigma, truncate: truncate, dimension: dim,
                                                  padding: padding, convention: convention))]
    case let .laws(kernel, rot, pooling, delta, padding):
        maps = [(spec.names[0], try LawsFilter.apply(volume, kernel: kernel, rotationInvariant: rot, pooling: pooling,
                                                 energyDistance: delta, padding: padding))]
    case let .gabor(p):
        maps = [(spec.names[0], GaborFilter.apply(volume, p))]
    case let .wavelet(p):
        maps = WaveletFilter.apply(volume, p)
    }
    return maps.map { name, voxels in
        var v = volume
        v.voxels = voxels
        return (name, v)
    }
}

extension FilterSpec {
    func validate(for volume: Volume) throws {
        guard volume.count > 0 else { throw RadiomicsError("the volume has no voxels (size \(volume.size))") }
        guard volume.spacing.min() > 0 else {
            throw RadiomicsError("the volume spacing \(volume.spacing) mm is not positive", hint: "fix the image header")
        }
        switch self {
        case let .mean(m, _, _):
            guard m >= 1 && m % 2 == 1 else { throw RadiomicsError("mean filter support \(m) is not an odd number ≥ 1", hint: "use 3, 5, 7, …") }
        case let .laplacianOfGaussian(sigma, truncate, _, _, _):
            guard sigma > 0 && sigma.isFinite else { throw RadiomicsError("LoG sigma \(sigma) mm is not positive", hint: "give σ in mm, e.g. 1.0") }
            guard truncate > 0 else { throw RadiomicsError("LoG truncation \(truncate) is not positive", hint: "IBSI uses 4") }
        case let .laws(kernel, _, _, delta, _):
            _ = try LawsFilter.kernels(kernel)
            if let d = delta, d < 0 { throw RadiomicsError("Laws energy distance \(d) is negative", hint: "IBSI uses 7") }
        case let .gabor(p):
            guard p.sigma > 0, p.lambda > 0, p.gamma > 0 else {
                throw RadiomicsError("Gabor σ, λ and γ must be positive (got \(p.sigma), \(p.lambda), \(p.gamma))")
            }
            if let s = p.thetaStep, !(s > 0 && s <= 360) { throw RadiomicsError("Gabor θ step \(s)° is not in (0, 360]") }
            guard p.truncate > 0 else { throw RadiomicsError("Gabor truncation \(p.truncate) is not positive", hint: "use 4") }
        case let .wavelet(p):
            try WaveletFilter.validate(p)
        }
    }
}

/// 2.0 → "2-0", 0.25 → "0-25": PyRadiomics' `str(value).replace('.', '-')`.
func dashed(_ v: Double) -> String { "\(v)".replacingOccurrences(of: ".", with: "-") }
