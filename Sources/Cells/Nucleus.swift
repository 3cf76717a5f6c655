import Foundation
import ImageCore

/// One segmented nucleus.
public struct Nucleus: Sendable {
    /// Centroid in level-0 pixels (image pixels for images): the mean of its pixel centres.
    public var centroid: Point
    /// Outline along its pixel edges, in level-0 pixels (exact: the polygon's area is the pixel
    /// count × the analysis pixel's level-0 area).
    public var contour: PolygonWithHoles
    /// Values in the order of ``NucleusFeatures/names(singleChannel:)``.
    public var features: [Double]
    /// Row of the patch bag whose patch holds the centroid, or −1 when no bag was used.
    public var patch: Int

    public init(centroid: Point, contour: PolygonWithHoles, features: [Double], patch: Int = -1) {
        self.centroid = centroid; self.contour = contour; self.features = features; self.patch = patch
    }
}

/// Names (and units in the names) of ``Nucleus/features``. Lengths in µm and areas in µm² at
/// the analysis pixel size `p` (µm/px); the pixel values are these divided by p (p²).
///
/// Shape features are scikit-image `regionprops` on the nucleus' pixels:
/// `area` (pixel count), `perimeter` (4-neighbourhood `perimeter`, not Crofton),
/// `equivalent_diameter_area`, `axis_major_length`, `axis_minor_length`, `eccentricity`,
/// `orientation` (radians, angle between the row axis and the major axis, −π/2…π/2),
/// `solidity`, `extent`, `area_convex`. Derived: circularity 4πA/P², roundness 4A/(π·major²),
/// aspect ratio major/minor, and the maximum Feret diameter, the largest distance between two
/// corners of the nucleus' pixels (scikit-image's `feret_diameter_max` measures between pixel
/// centres of the convex-hull image's contour instead, a little shorter).
///
/// Stain features: mean, standard deviation (population), minimum and maximum over the nucleus
/// of the haematoxylin and eosin optical density (decadic, = 6 × scikit-image `rgb2hed`), or of
/// the input intensity for a single channel.
///
/// Texture: `graycoprops` of `graycomatrix(box, [1], [0, π/4, π/2, 3π/4], levels, symmetric,
/// normed)` averaged over the four angles, where box is the nucleus' bounding box of the
/// haematoxylin OD (intensity) quantised as min(levels − 1, ⌊v · levels / maximum⌋).
public enum NucleusFeatures {
    static let shape = ["area_um2", "perimeter_um", "equivalent_diameter_um", "major_axis_um", "minor_axis_um",
                        "eccentricity", "orientation_rad", "solidity", "extent", "circularity", "roundness",
                        "aspect_ratio", "convex_area_um2", "feret_max_um"]
    static let texture = ["glcm_contrast", "glcm_dissimilarity", "glcm_homogeneity", "glcm_energy", "glcm_asm", "glcm_correlation"]

    static func stats(_ prefix: String) -> [String] { ["mean", "std", "min", "max"].map { "\(prefix)_\($0)" } }

    /// Feature names for H&E (`singleChannel` false) or single-channel images.
    public static func names(singleChannel: Bool) -> [String] {
        singleChannel ? shape + stats("intensity") + texture
                      : shape + stats("hematoxylin_od") + stats("eosin_od") + texture
    }
}
