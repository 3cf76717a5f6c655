import Foundation

/// How image (and mask) values between voxel centres are estimated when resampling.
public enum Interpolator: String, Sendable, CaseIterable {
    case nearest
    /// Trilinear (bilinear for in-plane resampling).
    case linear
    /// Cubic B-spline with prefiltering (the interpolant passes through the voxel values).
    case cubicSpline
}

/// Grey-level discretisation (IBSI 2.7) for the intensity histogram and the texture families.
public enum Discretisation: Sendable, Equatable {
    /// Ng bins over [ROI min, ROI max]: floor(Ng·(x−min)/(max−min)) + 1, the maximum in bin Ng.
    case fixedBinNumber(Int)
    /// Bins of width w from X_min: floor((x − X_min)/w) + 1, X_min the re-segmentation lower
    /// bound if set, else the ROI minimum (PyRadiomics convention: X_min = floor(min/w)·w).
    case fixedBinSize(Double)
}

/// The grid of the intensity-volume histogram (IBSI 4.6); it may differ from `Discretisation`.
public enum IVHDiscretisation: Sendable, Equatable {
    /// The intensities themselves, on a grid of `step` from the ROI minimum: for images with
    /// discrete values (integer CT numbers, the IBSI digital phantom) with step 1.
    case intensities(step: Double)
    /// Fixed bin size; bins are represented by their centres X_min + (i − ½)·w.
    case fixedBinSize(Double)
    /// Fixed bin number; bins are represented by their index 1…Ng.
    case fixedBinNumber(Int)
}

/// Feature conventions: IBSI (default) or those of PyRadiomics 3.0.1, for reproducing studies.
public enum Convention: String, Sendable, Equatable, CaseIterable {
    case ibsi
    /// PyRadiomics: fixed-bin-size edges at multiples of the width, kurtosis without the −3,
    /// PCA on the population covariance, resampling grid aligned at the first voxels' corners
    /// with a nearest-neighbour mask and zero outside the image (docs/radiomics.md lists all).
    case pyradiomics
}

/// The feature families; texture is computed by `RadiomicsExtractor.textureFamilies`.
public enum RadiomicsFamily: String, Sendable, CaseIterable {
    case morphology, localIntensity, statistics, intensityHistogram, intensityVolumeHistogram, texture
}

/// Pre-processing and discretisation settings (IBSI chapter 2).
public struct RadiomicsParameters: Sendable, Equatable {
    public var convention: Convention = .ibsi
    /// Target voxel spacing (mm); nil keeps the image grid.
    public var resampledSpacing: SIMD3<Double>? = nil
    /// Resample within slices only (IBSI 2D): the slice axis keeps its spacing and positions.
    public var inPlaneOnly = false
    public var interpolator: Interpolator = .linear
    public var maskInterpolator: Interpolator = .linear
    /// Partial-volume threshold: interpolated mask values ≥ this are inside.
    public var maskThreshold = 0.5
    /// Round interpolated intensities to integers (CT numbers).
    public var roundIntensities = false
    /// Re-segmentation range (either bound may be absent): voxels outside leave the intensity mask.
    public var resegmentationLower: Double? = nil
    public var resegmentationUpper: Double? = nil
    /// Outlier filtering: remove intensity-mask voxels outside mean ± k·σ (IBSI uses k = 3).
    public var outlierSigma: Double? = nil
    public var discretisation: Discretisation = .fixedBinNumber(32)
    public var ivhDiscretisation: IVHDiscretisation = .fixedBinNumber(1000)
    public var families: Set<RadiomicsFamily> = Set(RadiomicsFamily.allCases)
    /// PyRadiomics' `voxelArrayShift`: energy and RMS are of (x + shift); IBSI's is 0.
    public var energyShift = 0.0

    public init() {}
}

/// Bad input to the radiomics pipeline, with what to do about it.
public struct RadiomicsError: Error, CustomStringConvertible, Sendable {
    public let reason: String
    public let hint: String
    public init(_ reason: String, hint: String = "") {
        self.reason = reason
        self.hint = hint
    }
    public var description: String { reason + (hint.isEmpty ? "" : " — \(hint)") }
}
