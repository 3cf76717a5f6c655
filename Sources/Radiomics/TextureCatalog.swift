import Foundation

/// One texture feature: its IBSI tag stem (the tag without the aggregation suffix), IBSI name,
/// and the PyRadiomics 3.0.1 feature computing the same quantity, if any.
public struct TextureFeatureInfo: Sendable {
    public let family: TextureFamily
    public let stem: String
    public let name: String
    public let pyradiomics: String?
}

extension TextureFeatures {
    /// Every texture feature, in output order. PyRadiomics names are `class_Feature`
    /// (`glcm_MaximumProbability`); its GLDM is the NGLDM with `gldm_a` as α.
    public static let catalog: [TextureFeatureInfo] = {
        let rows: [(TextureFamily, String, String, String?)] = [
            (.glcm, "cm_joint_max", "Joint maximum", "glcm_MaximumProbability"),
            (.glcm, "cm_joint_avg", "Joint average", "glcm_JointAverage"),
            (.glcm, "cm_joint_var", "Joint variance", "glcm_SumSquares"),
            (.glcm, "cm_joint_entr", "Joint entropy", "glcm_JointEntropy"),
            (.glcm, "cm_diff_avg", "Difference average", "glcm_DifferenceAverage"),
            (.glcm, "cm_diff_var", "Difference variance", "glcm_DifferenceVariance"),
            (.glcm, "cm_diff_entr", "Difference entropy", "glcm_DifferenceEntropy"),
            (.glcm, "cm_sum_avg", "Sum average", "glcm_SumAverage"),
            (.glcm, "cm_sum_var", "Sum variance", nil),
            (.glcm, "cm_sum_entr", "Sum entropy", "glcm_SumEntropy"),
            (.glcm, "cm_energy", "Angular second moment", "glcm_JointEnergy"),
            (.glcm, "cm_contrast", "Contrast", "glcm_Contrast"),
            (.glcm, "cm_dissimilarity", "Dissimilarity", nil),
            (.glcm, "cm_inv_diff", "Inverse difference", "glcm_Id"),
            (.glcm, "cm_inv_diff_norm", "Normalised inverse difference", "glcm_Idn"),
            (.glcm, "cm_inv_diff_mom", "Inverse difference moment", "glcm_Idm"),
            (.glcm, "cm_inv_diff_mom_norm", "Normalised inverse difference moment", "glcm_Idmn"),
            (.glcm, "cm_inv_var", "Inverse variance", "glcm_InverseVariance"),
            (.glcm, "cm_corr", "Correlation", "glcm_Correlation"),
            (.glcm, "cm_auto_corr", "Autocorrelation", "glcm_Autocorrelation"),
            (.glcm, "cm_clust_tend", "Cluster tendency", "glcm_ClusterTendency"),
            (.glcm, "cm_clust_shade", "Cluster shade", "glcm_ClusterShade"),
            (.glcm, "cm_clust_prom", "Cluster prominence", "glcm_ClusterProminence"),
            (.glcm, "cm_info_corr1", "Information correlation 1", "glcm_Imc1"),
            (.glcm, "cm_info_corr2", "Information correlation 2", "glcm_Imc2"),
            (.glcm, "cm_mcc", "Maximal correlation coefficient (PyRadiomics convention only)", "glcm_MCC"),
            (.glrlm, "rlm_sre", "Short runs emphasis", "glrlm_ShortRunEmphasis"),
            (.glrlm, "rlm_lre", "Long runs emphasis", "glrlm_LongRunEmphasis"),
            (.glrlm, "rlm_lgre", "Low grey level run emphasis", "glrlm_LowGrayLevelRunEmphasis"),
            (.glrlm, "rlm_hgre", "High grey level run emphasis", "glrlm_HighGrayLevelRunEmphasis"),
            (.glrlm, "rlm_srlge", "Short run low grey level emphasis", "glrlm_ShortRunLowGrayLevelEmphasis"),
            (.glrlm, "rlm_srhge", "Short run high grey level emphasis", "glrlm_ShortRunHighGrayLevelEmphasis"),
            (.glrlm, "rlm_lrlge", "Long run low grey level emphasis", "glrlm_LongRunLowGrayLevelEmphasis"),
            (.glrlm, "rlm_lrhge", "Long run high grey level emphasis", "glrlm_LongRunHighGrayLevelEmphasis"),
            (.glrlm, "rlm_glnu", "Grey level non-uniformity", "glrlm_GrayLevelNonUniformity"),
            (.glrlm, "rlm_glnu_norm", "Normalised grey level non-uniformity", "glrlm_GrayLevelNonUniformityNormalized"),
            (.glrlm, "rlm_rlnu", "Run length non-uniformity", "glrlm_RunLengthNonUniformity"),
            (.glrlm, "rlm_rlnu_norm", "Normalised run length non-uniformity", "glrlm_RunLengthNonUniformityNormalized"),
            (.glrlm, "rlm_r_perc", "Run percentage", "glrlm_RunPercentage"),
            (.glrlm, "rlm_gl_var", "Grey level variance", "glrlm_GrayLevelVariance"),
            (.glrlm, "rlm_rl_var", "Run length variance", "glrlm_RunVariance"),
            (.glrlm, "rlm_rl_entr", "Run entropy", "glrlm_RunEntropy"),
            (.glszm, "szm_sze", "Small zone emphasis", "glszm_SmallAreaEmphasis"),
            (.glszm, "szm_lze", "Large zone emphasis", "glszm_LargeAreaEmphasis"),
            (.glszm, "szm_lgze", "Low grey level emphasis", "glszm_LowGrayLevelZoneEmphasis"),
            (.glszm, "szm_hgze", "High grey level emphasis", "glszm_HighGrayLevelZoneEmphasis"),
            (.glszm, "szm_szlge", "Small zone low grey level emphasis", "glszm_SmallAreaLowGrayLevelEmphasis"),
            (.glszm, "szm_szhge", "Small zone high grey level emphasis", "glszm_SmallAreaHighGrayLevelEmphasis"),
            (.glszm, "szm_lzlge", "Large zone low grey level emphasis", "glszm_LargeAreaLowGrayLevelEmphasis"),
            (.glszm, "szm_lzhge", "Large zone high grey level emphasis", "glszm_LargeAreaHighGrayLevelEmphasis"),
            (.glszm, "szm_glnu", "Grey level non-uniformity", "glszm_GrayLevelNonUniformity"),
            (.glszm, "szm_glnu_norm", "Normalised grey level non-uniformity", "glszm_GrayLevelNonUniformityNormalized"),
            (.glszm, "szm_zsnu", "Zone size non-uniformity", "glszm_SizeZoneNonUniformity"),
            (.glszm, "szm_zsnu_norm", "Normalised zone size non-uniformity", "glszm_SizeZoneNonUniformityNormalized"),
            (.glszm, "szm_z_perc", "Zone percentage", "glszm_ZonePercentage"),
            (.glszm, "szm_gl_var", "Grey level variance", "glszm_GrayLevelVariance"),
            (.glszm, "szm_zs_var", "Zone size variance", "glszm_ZoneVariance"),
            (.glszm, "szm_zs_entr", "Zone size entropy", "glszm_ZoneEntropy"),
            (.gldzm, "dzm_sde", "Small distance emphasis", nil),
            (.gldzm, "dzm_lde", "Large distance emphasis", nil),
            (.gldzm, "dzm_lgze", "Low grey level emphasis", nil),
            (.gldzm, "dzm_hgze", "High grey level emphasis", nil),
            (.gldzm, "dzm_sdlge", "Small distance low grey level emphasis", nil),
            (.gldzm, "dzm_sdhge", "Small distance high grey level emphasis", nil),
            (.gldzm, "dzm_ldlge", "Large distance low grey level emphasis", nil),
            (.gldzm, "dzm_ldhge", "Large distance high grey level emphasis", nil),
            (.gldzm, "dzm_glnu", "Grey level non-uniformity", nil),
            (.gldzm, "dzm_glnu_norm", "Normalised grey level non-uniformity", nil),
            (.gldzm, "dzm_zdnu", "Zone distance non-uniformity", nil),
            (.gldzm, "dzm_zdnu_norm", "Normalised zone distance non-uniformity", nil),
            (.gldzm, "dzm_z_perc", "Zone percentage", nil),
            (.gldzm, "dzm_gl_var", "Grey level variance", nil),
            (.gldzm, "dzm_zd_var", "Zone distance variance", nil),
            (.gldzm, "dzm_zd_entr", "Zone distance entropy", nil),
            (.ngtdm, "ngt_coarseness", "Coarseness", "ngtdm_Coarseness"),
            (.ngtdm, "ngt_contrast", "Contrast", "ngtdm_Contrast"),
            (.ngtdm, "ngt_busyness", "Busyness", "ngtdm_Busyness"),
            (.ngtdm, "ngt_complexity", "Complexity", "ngtdm_Complexity"),
            (.ngtdm, "ngt_strength", "Strength", "ngtdm_Strength"),
            (.ngldm, "ngl_lde", "Low dependence emphasis", "gldm_SmallDependenceEmphasis"),
            (.ngldm, "ngl_hde", "High dependence emphasis", "gldm_LargeDependenceEmphasis"),
            (.ngldm, "ngl_lgce", "Low grey level count emphasis", "gldm_LowGrayLevelEmphasis"),
            (.ngldm, "ngl_hgce", "High grey level count emphasis", "gldm_HighGrayLevelEmphasis"),
            (.ngldm, "ngl_ldlge", "Low dependence low grey level emphasis", "gldm_SmallDependenceLowGrayLevelEmphasis"),
            (.ngldm, "ngl_ldhge", "Low dependence high grey level emphasis", "gldm_SmallDependenceHighGrayLevelEmphasis"),
            (.ngldm, "ngl_hdlge", "High dependence low grey level emphasis", "gldm_LargeDependenceLowGrayLevelEmphasis"),
            (.ngldm, "ngl_hdhge", "High dependence high grey level emphasis", "gldm_LargeDependenceHighGrayLevelEmphasis"),
            (.ngldm, "ngl_glnu", "Grey level non-uniformity", "gldm_GrayLevelNonUniformity"),
            (.ngldm, "ngl_glnu_norm", "Normalised grey level non-uniformity", nil),
            (.ngldm, "ngl_dcnu", "Dependence count non-uniformity", "gldm_DependenceNonUniformity"),
            (.ngldm, "ngl_dcnu_norm", "Normalised dependence count non-uniformity", "gldm_DependenceNonUniformityNormalized"),
            (.ngldm, "ngl_dc_perc", "Dependence count percentage", nil),
            (.ngldm, "ngl_gl_var", "Grey level variance", "gldm_GrayLevelVariance"),
            (.ngldm, "ngl_dc_var", "Dependence count variance", "gldm_DependenceVariance"),
            (.ngldm, "ngl_dc_entr", "Dependence count entropy", "gldm_DependenceEntropy"),
            (.ngldm, "ngl_dc_energy", "Dependence count energy", nil),
        ]
        return rows.map { TextureFeatureInfo(family: $0.0, stem: $0.1, name: $0.2, pyradiomics: $0.3) }
    }()

    /// The aggregation PyRadiomics' values correspond to: 3D with 13 directions averaged by
    /// default, or (`force2D` along k) the slices pooled per in-plane direction.
    public static func pyradiomicsSuffix(_ family: TextureFamily, force2D: Bool = false) -> String {
        let dimension = force2D ? TextureDimension.twoAndHalfD : .threeD
        switch family {
        case .glcm, .glrlm: return "\(dimension.rawValue)_\(TextureMerging.averaged.rawValue)"
        default: return dimension.rawValue
        }
    }

    /// The features PyRadiomics reports, under its names (`glcm_Idn`, …), picked from `values`
    /// (computed with `convention = .pyradiomics` to reproduce its numbers).
    public static func pyradiomicsFeatures(_ values: [FeatureValue], force2D: Bool = false) -> [FeatureValue] {
        let byTag = Dictionary(values.map { ($0.tag, $0.value) }, uniquingKeysWith: { a, _ in a })
        return catalog.compactMap { info in
            guard let alias = info.pyradiomics,
                  let v = byTag["\(info.stem)_\(pyradiomicsSuffix(info.family, force2D: force2D))"] else { return nil }
            return FeatureValue(alias, v)
        }
    }
}
