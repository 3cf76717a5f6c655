import Foundation

/// PyRadiomics 3.0.1 names (without the image-type prefix such as `original_`) of the IBSI
/// features it defines the same way, up to the conventions `Convention.pyradiomics` switches.
public enum PyRadiomicsAliases {
    /// Morphology, intensity statistics and the two histogram features PyRadiomics computes on
    /// discretised intensities (its `firstorder_Entropy` and `firstorder_Uniformity`).
    /// Computed by PyRadiomics only when a file names them (deprecated there).
    public static let notDefault: Set<String> = ["shape_Compactness1", "shape_Compactness2", "shape_SphericalDisproportion"]

    public static let nonTexture: [String: String] = [
        "morph_volume": "shape_MeshVolume",
        "morph_vol_approx": "shape_VoxelVolume",
        "morph_area_mesh": "shape_SurfaceArea",
        "morph_av": "shape_SurfaceVolumeRatio",
        "morph_comp_1": "shape_Compactness1",
        "morph_comp_2": "shape_Compactness2",
        "morph_sph_dispr": "shape_SphericalDisproportion",
        "morph_sphericity": "shape_Sphericity",
        "morph_diam": "shape_Maximum3DDiameter",
        "morph_diam_2d_slice": "shape_Maximum2DDiameterSlice",
        "morph_diam_2d_column": "shape_Maximum2DDiameterColumn",
        "morph_diam_2d_row": "shape_Maximum2DDiameterRow",
        "stat_total_energy": "firstorder_TotalEnergy",
        "morph_pca_maj_axis": "shape_MajorAxisLength",
        "morph_pca_min_axis": "shape_MinorAxisLength",
        "morph_pca_least_axis": "shape_LeastAxisLength",
        "morph_pca_elongation": "shape_Elongation",
        "morph_pca_flatness": "shape_Flatness",
        "stat_mean": "firstorder_Mean",
        "stat_var": "firstorder_Variance",
        "stat_skew": "firstorder_Skewness",
        "stat_kurt": "firstorder_Kurtosis",
        "stat_median": "firstorder_Median",
        "stat_min": "firstorder_Minimum",
        "stat_p10": "firstorder_10Percentile",
        "stat_p90": "firstorder_90Percentile",
        "stat_max": "firstorder_Maximum",
        "stat_iqr": "firstorder_InterquartileRange",
        "stat_range": "firstorder_Range",
        "stat_mad": "firstorder_MeanAbsoluteDeviation",
        "stat_rmad": "firstorder_RobustMeanAbsoluteDeviation",
        "stat_energy": "firstorder_Energy",
        "stat_rms": "firstorder_RootMeanSquared",
        "ih_entropy": "firstorder_Entropy",
        "ih_uniformity": "firstorder_Uniformity",
    ]
}
