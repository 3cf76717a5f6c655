import Foundation
import VolumeIO

/// Everything one extraction needs, read from a parameter file in PyRadiomics' layout
/// (`setting`, `imageType`, `featureClass`) plus RadioPath's IBSI keys (docs/radiomics.md,
/// "Parameter files").
public struct RadiomicsConfiguration: Sendable {
    public var parameters = RadiomicsParameters()
    public var texture = TextureOptions()
    /// Filtered images, each giving its own feature set after the original image's.
    public var filters: [FilterSpec] = []
    public var includeOriginal = true
    /// Mask label; nil takes every non-zero voxel.
    public var label: Int?
    /// PyRadiomics' `force2D`: its texture values are the 2.5D aggregations.
    public var force2D = false
    /// Feature names to keep per family key (`glcm: [Idn]`); absent families are dropped
    /// when `featureClass` is given.
    public var selectedFeatures: [String: [String]]?
    /// Keys the file set that change nothing here (reported, so nobody wonders).
    public var ignoredKeys: [String] = []

    public init(convention: Convention = .ibsi) {
        parameters.convention = convention
        texture.convention = convention
        if convention == .pyradiomics {
            // PyRadiomics' defaults: label 1, bin width 25, texture on the 3D matrices only.
            label = 1
            parameters.discretisation = .fixedBinSize(25)
            texture.dimensions = [.threeD]
            texture.merging = [.averaged]
            parameters.families.remove(.intensityVolumeHistogram)
            parameters.families.remove(.localIntensity)
            texture.families = [.glcm, .glrlm, .glszm, .ngtdm, .ngldm]
        }
    }

    /// A configuration from a parameter file; `convention` decides the defaults the file
    /// does not override.
    public init(file: ParameterValue, convention: Convention) throws {
        self.init(convention: convention)
        for (key, _) in file.entries where !["setting", "imageType", "featureClass", "voxelSetting"].contains(key) {
            throw RadiomicsError("parameter file: unknown section '\(key)'", hint: "sections are setting, imageType, featureClass")
        }
        if let s = file["setting"] { try applySettings(s) }
        if let types = file["imageType"] {
            includeOriginal = types["Original"] != nil
            filters = try FilterSettings.filters(imageType: types, setting: file["setting"], convention: convention)
        }
        if let classes = file["featureClass"] { try selectFamilies(classes) }
        if force2D && convention == .pyradiomics { texture.dimensions = [.twoAndHalfD] }
    }

    private mutating func applySettings(_ s: ParameterValue) throws {
        for (key, value) in s.entries {
            switch key {
            case "binWidth":
                guard let w = value.number, w > 0 else { throw RadiomicsError("setting binWidth must be a positive number") }
                parameters.discretisation = .fixedBinSize(w)
            case "binCount":
                guard let n = value.number, n >= 1 else { throw RadiomicsError("setting binCount must be ≥ 1") }
                parameters.discretisation = .fixedBinNumber(Int(n))
            case "ivhBinWidth":
                guard let w = value.number, w > 0 else { throw RadiomicsError("setting ivhBinWidth must be positive") }
                parameters.ivhDiscretisation = .fixedBinSize(w)
            case "ivhBinCount":
                guard let n = value.number, n >= 1 else { throw RadiomicsError("setting ivhBinCount must be ≥ 1") }
                parameters.ivhDiscretisation = .fixedBinNumber(Int(n))
            case "ivhIntensityStep":
                guard let w = value.number, w > 0 else { throw RadiomicsError("setting ivhIntensityStep must be positive") }
                parameters.ivhDiscretisation = .intensities(step: w)
            case "resampledPixelSpacing":
                if case .null = value { parameters.resampledSpacing = nil; continue }
                let v = value.list?.compactMap(\.number) ?? []
                guard v.count == 3, v.allSatisfy({ $0 > 0 }) else {
                    throw RadiomicsError("setting resampledPixelSpacing must be three positive numbers (mm)",
                                         hint: "PyRadiomics' 0 for 'keep this axis' is not supported; write the spacing")
                }
                parameters.resampledSpacing = SIMD3(v[0], v[1], v[2])
            case "inPlaneResampling":
                parameters.inPlaneOnly = value.bool ?? false
            case "interpolator", "maskInterpolator":
                guard let name = value.string, let i = Self.interpolator(name) else {
                    throw RadiomicsError("setting \(key) '\(value)' is unknown", hint: "use sitkNearestNeighbor, sitkLinear or sitkBSpline (or nearest, linear, cubicSpline)")
                }
                if key == "interpolator" { parameters.interpolator = i } else { parameters.maskInterpolator = i }
            case "maskThreshold":
                guard let t = value.number, t > 0, t <= 1 else { throw RadiomicsError("setting maskThreshold must be in (0, 1]") }
                parameters.maskThreshold = t
            case "roundIntensities":
                parameters.roundIntensities = value.bool ?? false
            case "resegmentRange":
                let v = value.list?.compactMap(\.number) ?? []
                guard (1...2).contains(v.count) else { throw RadiomicsError("setting resegmentRange must be [lower] or [lower, upper]") }
                parameters.resegmentationLower = v[0]
                parameters.resegmentationUpper = v.count == 2 ? v[1] : nil
            case "resegmentMode":
                guard let mode = value.string, ["absolute", "sigma"].contains(mode) else {
                    throw RadiomicsError("setting resegmentMode '\(value)' is not supported", hint: "use absolute, or sigma with resegmentRange [-k, k]")
                }
                if mode == "sigma" {
                    guard let lo = parameters.resegmentationLower, let hi = parameters.resegmentationUpper ?? Optional(-lo), lo == -hi, hi > 0 else {
                        throw RadiomicsError("resegmentMode sigma needs a symmetric resegmentRange [-k, k] written before it")
                    }
                    parameters.outlierSigma = hi
                    parameters.resegmentationLower = nil
                    parameters.resegmentationUpper = nil
                }
            case "outlierSigma":
                guard let k = value.number, k > 0 else { throw RadiomicsError("setting outlierSigma must be positive (IBSI uses 3)") }
                parameters.outlierSigma = k
            case "label":
                guard let l = value.number else { throw RadiomicsError("setting label must be a number") }
                label = Int(l)
            case "force2D":
                force2D = value.bool ?? false
            case "force2Ddimension":
                if let d = value.number, d != 0 { throw RadiomicsError("setting force2Ddimension \(Int(d)) is not supported", hint: "use 0 (axial slices, the k axis)") }
            case "distances":
                let d = value.list?.compactMap(\.number) ?? []
                guard d.count == 1, d[0] >= 1 else {
                    throw RadiomicsError("setting distances must hold one distance", hint: "run once per distance")
                }
                texture.glcmDistance = Int(d[0])
                texture.neighbourhoodDistance = Int(d[0])
            case "gldm_a", "ngldmCoarseness":
                texture.ngldmCoarseness = Int(value.number ?? 0)
            case "symmetricalGLCM":
                texture.glcmSymmetric = value.bool ?? true
            case "weightingNorm":
                if case .null = value { continue }
                throw RadiomicsError("setting weightingNorm '\(value)' is not supported", hint: "remove it (IBSI merges or averages directions without weights)")
            case "normalize":
                if value.bool == true {
                    throw RadiomicsError("setting normalize is not supported", hint: "normalise the image before extraction; IBSI features are defined on the image's own values")
                }
            case "voxelArrayShift":
                guard let shift = value.number else { throw RadiomicsError("setting voxelArrayShift must be a number") }
                parameters.energyShift = shift
            case "additionalInfo", "preCrop", "padDistance", "minimumROIDimensions", "minimumROISize",
                 "correctMask", "geometryTolerance", "enableCExtensions", "normalizeScale", "removeOutliers", "kernelRadius",
                 "initValue", "maskedKernel", "voxelBatch":
                ignoredKeys.append(key)
            default:
                throw RadiomicsError("setting '\(key)' is unknown", hint: "docs/radiomics.md lists the keys RadioPath reads")
            }
        }
    }

    static func interpolator(_ name: String) -> Interpolator? {
        switch name.lowercased() {
        case "sitknearestneighbor", "nearest": return .nearest
        case "sitklinear", "linear": return .linear
        case "sitkbspline", "cubicspline", "bspline": return .cubicSpline
        default: return nil
        }
    }

    /// PyRadiomics class names and IBSI family names both select families.
    private mutating func selectFamilies(_ classes: ParameterValue) throws {
        var families: Set<RadiomicsFamily> = []
        var textures: [TextureFamily] = []
        var selected: [String: [String]] = [:]
        for (name, value) in classes.entries {
            switch name {
            case "shape", "morphology": families.insert(.morphology)
            case "firstorder": families.formUnion([.statistics, .intensityHistogram])
            case "statistics": families.insert(.statistics)
            case "local_intensity": families.insert(.localIntensity)
            case "intensity_histogram": families.insert(.intensityHistogram)
            case "ivh": families.insert(.intensityVolumeHistogram)
            case "gldm", "ngldm": textures.append(.ngldm)
            default:
                guard let t = TextureFamily(rawValue: name) else {
                    throw RadiomicsError("featureClass '\(name)' is unknown",
                                         hint: "use shape, firstorder, glcm, glrlm, glszm, gldm, ngtdm (PyRadiomics) or morphology, statistics, local_intensity, intensity_histogram, ivh, gldzm, ngldm")
                }
                textures.append(t)
            }
            if let names = value.list?.compactMap(\.string), !names.isEmpty { selected[name] = names }
        }
        if !textures.isEmpty { families.insert(.texture) }
        parameters.families = families
        texture.families = textures
        selectedFeatures = selected.isEmpty ? nil : selected
    }
}

/// One named feature of one image type, with the names people look it up by.
public struct RadiomicsColumn: Sendable, Equatable {
    /// `original`, or the filter's map name (`log-sigma-1-0-mm-3D`, `wavelet-LLH`).
    public let imageType: String
    /// IBSI identifier (`stat_mean`, `cm_joint_max_3D_avg`).
    public let tag: String
    /// PyRadiomics' name without the image type (`firstorder_Mean`), when it defines one.
    public let pyradiomicsName: String?
    public let value: Double

    /// The output column: `<imageType>_<IBSI tag>`, or PyRadiomics' own column name.
    public func name(pyradiomicsNames: Bool) -> String {
        "\(imageType)_\(pyradiomicsNames ? (pyradiomicsName ?? tag) : tag)"
    }
}

/// Runs a configuration on one image and mask: the original image, then every filtered image.
public enum RadiomicsPipeline {
    public static func run(image: Volume, mask: Volume, configuration c: RadiomicsConfiguration) throws -> [RadiomicsColumn] {
        var columns: [RadiomicsColumn] = []
        let aliases = RadiomicsNames.aliases(force2D: c.force2D).byTag
        if c.includeOriginal {
            columns += try extract(image, mask, c, imageType: "original", parameters: c.parameters, aliases: aliases)
        }
        guard !c.filters.isEmpty else { return columns }
        // Morphology belongs to the mask, not to a filtered image (IBSI 2, PyRadiomics alike).
        var filtered = c.parameters
        filtered.families.remove(.morphology)
        // Filters see the resampled image (IBSI 2, PyRadiomics alike); the mask comes along
        // already resampled and thresholded, so the extractor must not resample again.
        var source = (image: image, mask: mask, label: c.label)
        if let resampled = try PreparedROI.resampledForFiltering(image: image, mask: mask, label: c.label, parameters: c.parameters) {
            source = (resampled.image, resampled.mask, nil)
            filtered.resampledSpacing = nil
        }
        for spec in c.filters {
            for (name, response) in try apply(spec, to: source.image) {
                columns += try extract(response, source.mask, c, imageType: name, parameters: filtered,
                                       label: source.label, aliases: aliases)
            }
        }
        return columns
    }

    private static func extract(_ image: Volume, _ mask: Volume, _ c: RadiomicsConfiguration, imageType: String,
                                parameters: RadiomicsParameters, label: Int?? = .none,
                                aliases: [String: String]) throws -> [RadiomicsColumn] {
        let texture = c.texture
        final class Failure: @unchecked Sendable { var error: Error? }
        let failure = Failure()
        let extractor = RadiomicsExtractor(parameters: parameters) { roi in
            do { return try TextureFeatures.compute(roi, texture) } catch { failure.error = error; return [] }
        }
        let values = try extractor.extract(image: image, mask: mask, label: label ?? c.label)
        if let e = failure.error { throw e }
        var out: [RadiomicsColumn] = []
        for v in values {
            let alias = aliases[v.tag]
            if c.parameters.convention == .pyradiomics && alias == nil { continue }   // PyRadiomics' feature set only
            if c.parameters.convention == .pyradiomics, let a = alias, PyRadiomicsAliases.notDefault.contains(a),
               !(c.selectedFeatures?["shape"]?.contains { a.hasSuffix("_" + $0) } ?? false) { continue }
            if let selected = c.selectedFeatures, !isSelected(tag: v.tag, alias: alias, selected) { continue }
            out.append(RadiomicsColumn(imageType: imageType, tag: v.tag, pyradiomicsName: alias, value: v.value))
        }
        return out
    }


    /// A feature list under a family key keeps only the named features (PyRadiomics names
    /// such as `Idn`, or IBSI tag stems such as `cm_idn`).
    private static func isSelected(tag: String, alias: String?, _ selected: [String: [String]]) -> Bool {
        let family = alias.map { String($0.prefix { $0 != "_" }) }
        for (key, names) in selected where key == family || tag.hasPrefix(familyPrefix(key)) {
            return names.contains { name in alias?.hasSuffix("_" + name) == true || tag.hasPrefix(name) }
        }
        return true
    }

    private static func familyPrefix(_ key: String) -> String {
        ["glcm": "cm_", "glrlm": "rlm_", "glszm": "szm_", "gldzm": "dzm_", "ngtdm": "ngt_", "gldm": "ngl_", "ngldm": "ngl_",
         "morphology": "morph_", "shape": "morph_", "statistics": "stat_", "firstorder": "stat_", "intensity_histogram": "ih_",
         "ivh": "ivh_", "local_intensity": "loc_"][key] ?? key
    }
}

/// IBSI tags ⇄ PyRadiomics names (without the image-type prefix).
public enum RadiomicsNames {
    /// PyRadiomics reports texture from one aggregation: 3D (averaged), or 2.5D with `force2D`.
    public static func aliases(force2D: Bool = false) -> (byTag: [String: String], byAlias: [String: String]) {
        var byTag = PyRadiomicsAliases.nonTexture
        for info in TextureFeatures.catalog {
            guard let alias = info.pyradiomics else { continue }
            byTag["\(info.stem)_\(TextureFeatures.pyradiomicsSuffix(info.family, force2D: force2D))"] = alias
        }
        return (byTag, Dictionary(byTag.map { ($0.value, $0.key) }, uniquingKeysWith: { a, _ in a }))
    }
}
