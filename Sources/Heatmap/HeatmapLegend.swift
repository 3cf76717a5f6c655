import Foundation
import ImageCore

/// A title band above a heatmap and a colour bar with tick labels beside it, drawn with
/// `BitmapFont` so a PNG explains itself without the run's settings at hand.
public struct HeatmapLegend: Sendable, Equatable {
    public struct Tick: Sendable, Equatable {
        /// Position on the bar, 0 (bottom) – 1 (top), in normalised score units.
        public var position: Double
        public var label: String
        public init(position: Double, label: String) { self.position = position; self.label = label }
    }

    /// First line of the band (slide, model, prediction, ...); more lines in `lines`.
    public var title: String
    public var lines: [String]
    /// Label written above the bar (what the colours mean).
    public var barLabel: String
    public var ticks: [Tick]
    /// Font scale; nil picks one from the image height (1 per 500 px, 1–4).
    public var fontScale: Int?

    public init(title: String, lines: [String] = [], barLabel: String = "score", ticks: [Tick], fontScale: Int? = nil) {
        self.title = title; self.lines = lines; self.barLabel = barLabel; self.ticks = ticks; self.fontScale = fontScale
    }

    /// Ticks at 0, ¼, ½, ¾, 1 labelled in the units people read: percentiles for
    /// `.percentile`, the raw score range for `.minMax` (of `scores`) and `.fixed`, and
    /// lowest/median/highest for `.rank`.
    public static func ticks(for normalisation: ScoreNormalisation, scores: [Double]) -> [Tick] {
        let stops = [0.0, 0.25, 0.5, 0.75, 1.0]
        func range(_ lo: Double, _ hi: Double) -> [Tick] {
            stops.map { Tick(position: $0, label: format(lo + $0 * (hi - lo))) }
        }
        switch normalisation {
        case .percentile: return stops.map { Tick(position: $0, label: "\(Int(($0 * 100).rounded()))%") }
        case .rank: return [Tick(position: 0, label: "lowest"), Tick(position: 0.5, label: "median"), Tick(position: 1, label: "highest")]
        case .minMax:
            let v = scores.filter { !$0.isNaN }
            return range(v.min() ?? 0, v.max() ?? 1)
        case .fixed(let lo, let hi): return range(lo, hi)
        }
    }

    /// A number in at most 4 significant digits ("0.01234", "12.5", "1.235e+05").
    public static func format(_ v: Double) -> String {
        if v == 0 { return "0" }
        var s = String(format: "%.4g", v)
        if s.contains("e") { s = String(format: "%.3e", v) }
        return s
    }

    /// `image` with the title band on top and the colour bar on the right, on white.
    public func attach(to image: RGBImage, colormap: Colormap) -> RGBImage {
        let s = fontScale ?? min(4, max(1, image.height / 500))
        let pad = 6 * s
        let text = ([title] + lines).joined(separator: "\n")
        let band = BitmapFont.size(of: text, scale: s).height + 2 * pad
        let labelWidth = ticks.map { BitmapFont.size(of: $0.label, scale: s).width }.max() ?? 0
        let barWidth = 14 * s
        let panel = pad + max(barWidth + 4 * s + labelWidth, BitmapFont.size(of: barLabel, scale: s).width) + pad
        let titleWidth = BitmapFont.size(of: text, scale: s).width + 2 * pad
        let width = max(image.width + panel, titleWidth)
        // The bar: top = entry 255, bottom = entry 0, beside the image's middle 80 %
        // (at least 64 px; the canvas grows below the image if that needs more room).
        let barLabelHeight = BitmapFont.size(of: barLabel, scale: s).height
        let glyphHeight = BitmapFont.size(of: "0", scale: s).height
        let barTop = band + max(pad + barLabelHeight + pad, image.height / 10)
        let barHeight = max(64, image.height * 8 / 10 - (barTop - band - image.height / 10))
        let height = max(image.height + band, barTop + barHeight + glyphHeight + pad)
        var out = RGBImage(width: width, height: height)
        out.blit(image, x: 0, y: band)
        BitmapFont.draw(text, into: &out, x: pad, y: pad, scale: s)

        let barX = image.width + pad
        BitmapFont.draw(barLabel, into: &out, x: barX, y: barTop - pad - barLabelHeight, scale: s)
        for r in 0..<barHeight {
            let e = (barHeight - 1 - r) * 255 / (barHeight - 1)
            let c = (colormap.table[3 * e], colormap.table[3 * e + 1], colormap.table[3 * e + 2])
            out.fillRect(PixelRect(x: barX, y: barTop + r, width: barWidth, height: 1), color: c, alpha: 1)
        }
        out.drawRect(PixelRect(x: barX - 1, y: barTop - 1, width: barWidth + 2, height: barHeight + 2), color: (0, 0, 0))
        for t in ticks {
            let y = barTop + Int(((1 - min(1, max(0, t.position))) * Double(barHeight - 1)).rounded())
            out.fillRect(PixelRect(x: barX + barWidth, y: y, width: 3 * s, height: max(1, s)), color: (0, 0, 0), alpha: 1)
            BitmapFont.draw(t.label, into: &out, x: barX + barWidth + 4 * s, y: y - glyphHeight / 2, scale: s)
        }
        return out
    }
}

extension RGBImage {
    /// Copies `src` with its top-left at (x, y), clipped.
    mutating func blit(_ src: RGBImage, x: Int, y: Int) {
        let x0 = max(0, x), x1 = min(width, x + src.width)
        guard x0 < x1 else { return }
        for sy in 0..<src.height {
            let dy = y + sy
            guard dy >= 0 && dy < height else { continue }
            let from = (sy * src.width + (x0 - x)) * 3, to = (dy * width + x0) * 3, n = (x1 - x0) * 3
            pixels.withUnsafeMutableBufferPointer { d in
                src.pixels.withUnsafeBufferPointer { s in
                    (d.baseAddress! + to).update(from: s.baseAddress! + from, count: n)
                }
            }
        }
    }
}
