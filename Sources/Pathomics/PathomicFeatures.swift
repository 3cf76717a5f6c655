import Cells
import Foundation

/// Settings of the per-patch pathomic features.
public struct PathomicsOptions: Sendable, Equatable {
    /// Cell-graph features of each patch's nuclei (radii and cut-offs in µm).
    public var graph = GraphFeatureOptions()
    /// Clip the patch's Voronoi cells to the patch instead of `graph.voronoi`'s choice.
    public var clipVoronoiToPatch = false
    /// A pixel is tissue when its summed decadic optical density, Σ −log10(max(v, 1) / 255) over
    /// R, G, B, is at least this (Macenko's background cut-off).
    public var tissueODThreshold = 0.15
    /// Grey levels of the co-occurrence matrix (grey byte · levels / 256).
    public var glcmLevels = 32
    /// Pixel distances of the co-occurrence matrix (at angles 0, 45, 90, 135°, averaged).
    public var glcmDistances: [Int] = [1]

    public init() {}
}

/// One output column: its name, family, unit and meaning. The extractor, the CSV header and the
/// Markdown data dictionary are all built from the same list, so they cannot disagree.
public struct PathomicFeature: Sendable, Equatable {
    public enum Family: String, Sendable, CaseIterable {
        case patch, nuclei, graph, stain, texture
    }
    public let name: String
    public let family: Family
    public let unit: String
    public let description: String
}

/// The ordered column definitions for one set of options and nuclear feature names.
enum PathomicCatalogue {
    static let nuclearStatistics = ["mean", "std", "p10", "p50", "p90"]
    static let glcmProperties = ["contrast", "dissimilarity", "homogeneity", "energy", "asm", "correlation"]
    static let glcmMeaning = [
        "contrast": "Σ p(i,j)·(i−j)²", "dissimilarity": "Σ p(i,j)·|i−j|", "homogeneity": "Σ p(i,j) / (1 + (i−j)²)",
        "energy": "√ASM", "asm": "angular second moment Σ p(i,j)²",
        "correlation": "Σ p(i,j)·(i−μi)(j−μj) / (σi·σj) (1 for a constant patch)",
    ]

    /// `nuclearNames` nil gives a template row `nuclei_<feature>_<stat>` per statistic (the
    /// data dictionary's form).
    static func definitions(_ o: PathomicsOptions, nuclearNames: [String]?) -> [PathomicFeature] {
        var defs: [PathomicFeature] = []
        func add(_ name: String, _ family: PathomicFeature.Family, _ unit: String, _ text: String) {
            defs.append(PathomicFeature(name: name, family: family, unit: unit, description: text))
        }
        add("x", .patch, "px", "left edge of the patch, level-0 pixels")
        add("y", .patch, "px", "top edge of the patch, level-0 pixels")
        add("width", .patch, "px", "patch width, level-0 pixels")
        add("height", .patch, "px", "patch height, level-0 pixels")

        add("nuclei_count", .nuclei, "count", "nuclei whose centroid lies in the patch (x ≤ cx < x + width, y ≤ cy < y + height)")
        add("nuclei_density_per_mm2", .nuclei, "1/mm2", "nuclei_count per mm² of patch")
        add("nuclei_density_per_mm2_tissue", .nuclei, "1/mm2",
            "nuclei_count per mm² of tissue (patch area × stain_tissue_fraction); empty without an image or tissue")
        let statText = [
            "mean": "mean", "std": "standard deviation (population, ddof = 0)",
            "p10": "10th percentile (numpy's default linear interpolation)", "p50": "median (50th percentile)",
            "p90": "90th percentile",
        ]
        for f in nuclearNames ?? ["<feature>"] {
            for s in nuclearStatistics {
                add("nuclei_\(f)_\(s)", .nuclei, "as the feature",
                    "\(statText[s]!) of the per-nucleus feature \(f == "<feature>" ? "`<feature>` (one block per column of the nucleus table)" : "`\(f)`") over the patch's nuclei with a finite value; empty when there are none")
            }
        }

        var graphOptions = o.graph
        if o.clipVoronoiToPatch, let r = try? ConvexRegion.rect(x: 0, y: 0, width: 1, height: 1) { graphOptions.voronoi = .region(r) }
        for g in GraphFeatures.definitions(graphOptions) {
            let text = o.clipVoronoiToPatch ? g.description.replacingOccurrences(of: "the given region", with: "the patch") : g.description
            add("graph_\(g.name)", .graph, g.unit, g.isStatistic ? "\(text); empty when there is nothing to summarise" : text)
        }

        add("stain_tissue_fraction", .stain, "ratio", "share of the patch image's pixels that are tissue (summed optical density ≥ \(o.tissueODThreshold))")
        for (stain, label) in [("hematoxylin", "haematoxylin"), ("eosin", "eosin"), ("dab", "DAB")] {
            add("stain_\(stain)_mean", .stain, "OD/6",
                "mean \(label) amount over tissue pixels (colour deconvolution with Ruifrok–Johnston vectors, scikit-image `rgb2hed` units)")
            add("stain_\(stain)_std", .stain, "OD/6", "standard deviation of the \(label) amount over tissue pixels")
        }
        let dists = o.glcmDistances.map(String.init).joined(separator: ", ")
        for p in glcmProperties {
            add("texture_glcm_\(p)", .texture, p == "contrast" ? "grey levels²" : p == "dissimilarity" ? "grey levels" : "ratio",
                "GLCM \(glcmMeaning[p]!), symmetric, normalised, \(o.glcmLevels) grey levels, distance \(dists) px, averaged over 0°, 45°, 90°, 135°; pairs of tissue pixels only (scikit-image `graycoprops`)")
        }
        for k in 0..<10 {
            add("texture_lbp_\(k)", .texture, "ratio",
                k < 9 ? "share of tissue pixels whose uniform LBP (8 neighbours, radius 1) has \(k) of 8 neighbours ≥ the centre"
                      : "share of tissue pixels with a non-uniform LBP (scikit-image `local_binary_pattern(…, 8, 1, 'uniform')` code 9)")
        }
        return defs
    }
}
