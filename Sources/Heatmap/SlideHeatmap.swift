import Foundation
import ImageCore
import SlideIO

/// A whole-slide heatmap image: the slide at a chosen downsample with the patch scores
/// overlap-averaged, optionally smoothed and limited to tissue, colour-mapped and blended
/// over it, plus an optional legend. Memory follows the output, never the slide: about 40
/// bytes per output pixel at the peak (score sums, blur planes, image copies), plus what
/// `Slide.downsampledImage` holds while reading.
public struct SlideHeatmap: Sendable {
    /// Gaussian smoothing, in physical or level-0 pixel units.
    public enum Smoothing: Sendable, Equatable {
        case micrometres(Double)
        case level0Pixels(Double)
    }

    public var colormap: Colormap
    /// Opacity of the colours over the slide (CLAM's default 0.4).
    public var alpha: Double = 0.4
    /// Level-0 pixels per output pixel (CLAM shows the level nearest 32×). The output is
    /// round(W / d) × round(H / d).
    public var downsample: Double = 32
    public var smoothing: Smoothing?
    /// Whole-slide tissue mask (e.g. `masks/<id>.png`); scores outside it are not painted.
    public var tissueMask: GrayImage?
    /// Paint on white instead of the slide (CLAM's blank_canvas).
    public var blankCanvas = false
    public var legend: HeatmapLegend?

    public init(colormap: Colormap) { self.colormap = colormap }

    /// Renders the heatmap of `values` (normalised, 0–1, NaN = not painted; one per patch).
    /// Throws for a smoothing in µm on a slide without a scale, and for read errors.
    public func render(slide: Slide, patches: PatchSet, values: [Double]) throws -> RGBImage {
        guard values.count == patches.count else {
            throw HeatmapError(path: slide.path, reason: "\(values.count) scores for \(patches.count) patches",
                               hint: "give one score per patch, in bag order")
        }
        let background: RGBImage
        if blankCanvas {
            background = RGBImage(width: max(1, Int((Double(slide.width) / downsample).rounded())),
                                  height: max(1, Int((Double(slide.height) / downsample).rounded())))
        } else {
            background = try slide.downsampledImage(downsample: downsample).image
        }
        var map = ScoreMap(patches: patches, values: values, slideWidth: slide.width, slideHeight: slide.height,
                           downsample: downsample)
        if let sigma = try smoothing.map({ try level0Sigma($0, slide: slide) }) {
            map = map.blurred(sigma: sigma / downsample)
        }
        if let mask = tissueMask { map = map.masked(by: mask, slideWidth: slide.width, slideHeight: slide.height) }
        let image = map.render(over: background, colormap: colormap, alpha: alpha)
        return legend.map { $0.attach(to: image, colormap: colormap) } ?? image
    }

    /// The smoothing's sigma in level-0 pixels.
    func level0Sigma(_ s: Smoothing, slide: Slide) throws -> Double {
        switch s {
        case .level0Pixels(let px): return px
        case .micrometres(let um):
            guard let scale = slide.scale else {
                throw HeatmapError(path: slide.path, reason: "smoothing is given in µm but the slide has no physical scale",
                                   hint: "give the sigma in level-0 pixels, or the slide's µm/px")
            }
            return um / scale.mpp
        }
    }

    /// Writes `image` atomically as PNG, or JPEG when `path` ends in .jpg/.jpeg (4:4:4 at
    /// `quality`, so thin colour edges stay clean).
    public static func save(_ image: RGBImage, to path: String, quality: Int = 90) throws {
        let ext = URL(fileURLWithPath: path).pathExtension.lowercased()
        let data = ext == "jpg" || ext == "jpeg"
            ? try JPEGCodec().encode(image, quality: quality, subsampling: .s444)
            : try PNGCodec.encode(image)
        try AtomicFile.write(data, to: path)
    }
}
