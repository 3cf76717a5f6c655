import Foundation
import VolumeIO

/// One image + mask → IBSI features: pre-processing, then the non-texture families, then the
/// texture families through `textureFamilies` (which receives the discretised ROI; texture
/// aggregation settings belong to whoever supplies it).
public struct RadiomicsExtractor: Sendable {
    public var parameters: RadiomicsParameters
    public var textureFamilies: @Sendable (DiscretisedROI) -> [FeatureValue]

    public init(parameters: RadiomicsParameters = RadiomicsParameters(),
                textureFamilies: @escaping @Sendable (DiscretisedROI) -> [FeatureValue] = { _ in [] }) {
        self.parameters = parameters
        self.textureFamilies = textureFamilies
    }

    /// Features of the voxels of `mask` equal to `label` (any non-zero voxel when nil). An empty
    /// ROI gives NaN for every feature; a mask on another grid is refused.
    public func extract(image: Volume, mask: Volume, label: Int? = nil) throws -> [FeatureValue] {
        features(of: try PreparedROI(image: image, mask: mask, label: label, parameters: parameters))
    }

    /// Features of an already pre-processed ROI.
    public func features(of roi: PreparedROI) -> [FeatureValue] {
        let p = parameters
        var out: [FeatureValue] = []
        if p.families.contains(.morphology) { out += Morphology.features(roi, convention: p.convention) }
        if p.families.contains(.localIntensity) { out += LocalIntensity.features(roi) }
        let needValues = p.families.contains(.statistics) || p.families.contains(.intensityVolumeHistogram)
        let values = needValues ? roi.roiValues() : []
        if p.families.contains(.statistics) {
            let stats = IntensityStatistics.features(values, convention: p.convention, energyShift: p.energyShift)
            out += stats
            if p.convention == .pyradiomics, let energy = stats.first(where: { $0.tag == "stat_energy" }) {
                // PyRadiomics' TotalEnergy: the energy scaled by the voxel volume (not an IBSI feature).
                out.append(FeatureValue("stat_total_energy", energy.value * roi.spacing.x * roi.spacing.y * roi.spacing.z))
            }
        }
        let needLevels = p.families.contains(.intensityHistogram) || p.families.contains(.texture)
        let levels = needLevels ? roi.discretised(p.discretisation, convention: p.convention) : nil
        if p.families.contains(.intensityHistogram), let levels { out += IntensityHistogram.features(levels, convention: p.convention) }
        if p.families.contains(.intensityVolumeHistogram) {
            out += IntensityVolumeHistogram.features(values, p.ivhDiscretisation, lower: roi.resegmentationLower, upper: roi.resegmentationUpper)
        }
        if p.families.contains(.texture), let levels { out += textureFamilies(levels) }
        return out
    }
}
