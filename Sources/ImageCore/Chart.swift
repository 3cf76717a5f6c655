import Foundation

/// One data series of a ``LineChart``.
public struct ChartSeries: Sendable {
    public enum Style: Sendable {
        /// Straight segments between consecutive points.
        case line
        /// Steps: horizontal to the next x, then vertical (matplotlib's "steps-post").
        case step
        /// Filled dots, no connecting line.
        case points
        /// Dashed straight segments, e.g. a chance diagonal or a reference curve.
        case dashed
    }

    /// Legend entry; nil keeps the series out of the legend.
    public var name: String?
    /// Data coordinates; non-finite points are skipped and break the line.
    public var points: [Point]
    public var style: Style
    /// nil takes the next colour of ``LineChart/palette``.
    public var color: (UInt8, UInt8, UInt8)?
    /// Line width (or dot radius − 1) in pixels.
    public var thickness: Int

    public init(_ name: String? = nil, points: [Point], style: Style = .line,
                color: (UInt8, UInt8, UInt8)? = nil, thickness: Int = 2) {
        self.name = name; self.points = points; self.style = style; self.color = color; self.thickness = thickness
    }

    public init(_ name: String? = nil, x: [Double], y: [Double], style: Style = .line,
                color: (UInt8, UInt8, UInt8)? = nil, thickness: Int = 2) {
        precondition(x.count == y.count, "ChartSeries: \(x.count) x values but \(y.count) y values")
        self.init(name, points: zip(x, y).map { Point(x: $0, y: $1) }, style: style, color: color, thickness: thickness)
    }

    /// A grey dashed line from `a` to `b` (the chance diagonal of a ROC plot, a perfect-calibration line).
    public static func reference(from a: Point, to b: Point, name: String? = nil) -> ChartSeries {
        ChartSeries(name, points: [a, b], style: .dashed, color: (128, 128, 128), thickness: 1)
    }
}

/// Where the legend box sits inside the plot area.
public enum LegendPosition: Sendable { case topLeft, topRight, bottomLeft, bottomRight, hidden }

/// Pixel geometry of a rendered chart: where the data area is and how data map onto it.
public struct ChartLayout: Sendable {
    /// The framed plot area (the frame is drawn just outside it).
    public let plotArea: PixelRect
    public let xRange: ClosedRange<Double>
    public let yRange: ClosedRange<Double>
    public let xTicks: [Double]
    public let yTicks: [Double]
    /// Data sit this many pixels inside the frame, so lines along an axis stay visible.
    public let inset: Int
    public let fontScale: Int

    /// The pixel position of a data point; the pixel drawn for it is (⌊x⌋, ⌊y⌋).
    public func pixel(x: Double, y: Double) -> Point {
        let w = Double(plotArea.width - 1 - 2 * inset), h = Double(plotArea.height - 1 - 2 * inset)
        let fx = (x - xRange.lowerBound) / (xRange.upperBound - xRange.lowerBound)
        let fy = (y - yRange.lowerBound) / (yRange.upperBound - yRange.lowerBound)
        return Point(x: Double(plotArea.x + inset) + 0.5 + fx * w, y: Double(plotArea.y + inset) + 0.5 + (1 - fy) * h)
    }
}

/// A small line/scatter chart rendered to an ``RGBImage`` (write it with ``PNGCodec``): frame,
/// ticks with numeric labels, light grid, axis titles, title and legend, in the built-in
/// ``BitmapFont``. For ROC curves, decision curves, calibration plots and the like.
public struct LineChart: Sendable {
    public var width: Int
    public var height: Int
    public var title: String
    public var xLabel: String
    public var yLabel: String
    /// nil fits the data, widened to whole tick steps.
    public var xRange: ClosedRange<Double>?
    public var yRange: ClosedRange<Double>?
    public var legend: LegendPosition = .bottomRight
    public var grid = true
    /// Text scale; nil picks 1 below 800 px on the short side, else 2 (and so on).
    public var fontScale: Int?
    public private(set) var series: [ChartSeries] = []

    /// matplotlib's "tab10" colours, used in turn for series without a colour.
    public static let palette: [(UInt8, UInt8, UInt8)] = [
        (31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
        (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207),
    ]

    public init(width: Int = 640, height: Int = 480, title: String = "", xLabel: String = "", yLabel: String = "",
                xRange: ClosedRange<Double>? = nil, yRange: ClosedRange<Double>? = nil) {
        precondition(width >= 64 && height >= 64, "LineChart: \(width)x\(height) is too small; use at least 64x64")
        self.width = width; self.height = height; self.title = title; self.xLabel = xLabel; self.yLabel = yLabel
        self.xRange = xRange; self.yRange = yRange
    }

    public mutating func add(series: ChartSeries) { self.series.append(series) }

    /// Series colours after palette assignment, in order.
    public var resolvedColors: [(UInt8, UInt8, UInt8)] {
        var next = 0
        return series.map { s in
            if let c = s.color { return c }
            defer { next += 1 }
            return Self.palette[next % Self.palette.count]
        }
    }

    public func render() -> RGBImage {
        let L = layout()
        let s = L.fontScale, ink: (UInt8, UInt8, UInt8) = (0, 0, 0)
        var img = RGBImage(width: width, height: height)
        let a = L.plotArea
        // Plot contents go into their own canvas, which clips them to the plot area.
        var plot = RGBImage(width: a.width, height: a.height)
        let shift = Point(x: Double(-a.x), y: Double(-a.y))
        if grid {
            for t in L.xTicks { let p = L.pixel(x: t, y: 0); plot.fillRect(PixelRect(x: Int(p.x) - a.x, y: 0, width: 1, height: a.height), color: (225, 225, 225), alpha: 1) }
            for t in L.yTicks { let p = L.pixel(x: 0, y: t); plot.fillRect(PixelRect(x: 0, y: Int(p.y) - a.y, width: a.width, height: 1), color: (225, 225, 225), alpha: 1) }
        }
        for (sr, color) in zip(series, resolvedColors) {
            let px = sr.points.map { p -> Point? in
                guard p.x.isFinite && p.y.isFinite else { return nil }
                let q = L.pixel(x: p.x, y: p.y)
                return Point(x: q.x + shift.x, y: q.y + shift.y)
            }
            plot.drawSeries(px, style: sr.style, color: color, thickness: Swift.max(1, sr.thickness))
        }
        drawLegend(into: &plot, layout: L)
        img.blit(plot, x: a.x, y: a.y)
        img.drawRect(PixelRect(x: a.x - 1, y: a.y - 1, width: a.width + 2, height: a.height + 2), color: ink)

        // Ticks and their labels.
        let tick = 4 * s, gap = 3 * s
        for (t, label) in zip(L.xTicks, Self.tickLabels(L.xTicks)) {
            let x = Int(L.pixel(x: t, y: 0).x)
            img.fillRect(PixelRect(x: x, y: a.maxY + 1, width: 1, height: tick), color: ink, alpha: 1)
            let sz = BitmapFont.size(of: label, scale: s)
            BitmapFont.draw(label, into: &img, x: x - sz.width / 2, y: a.maxY + 1 + tick + gap, scale: s, color: ink)
        }
        for (t, label) in zip(L.yTicks, Self.tickLabels(L.yTicks)) {
            let y = Int(L.pixel(x: 0, y: t).y)
            img.fillRect(PixelRect(x: a.x - 1 - tick, y: y, width: tick, height: 1), color: ink, alpha: 1)
            let sz = BitmapFont.size(of: label, scale: s)
            BitmapFont.draw(label, into: &img, x: a.x - 1 - tick - gap - sz.width, y: y - (7 * s) / 2, scale: s, color: ink)
        }
        // Titles.
        let pad = 6 * s
        if !title.isEmpty {
            let sz = BitmapFont.size(of: title, scale: s)
            BitmapFont.draw(title, into: &img, x: a.x + (a.width - sz.width) / 2, y: pad, scale: s, color: ink)
        }
        if !xLabel.isEmpty {
            let sz = BitmapFont.size(of: xLabel, scale: s)
            BitmapFont.draw(xLabel, into: &img, x: a.x + (a.width - sz.width) / 2, y: height - pad - sz.height, scale: s, color: ink)
        }
        if !yLabel.isEmpty {
            let sz = BitmapFont.size(of: yLabel, scale: s)
            img.drawRotatedText(yLabel, x: pad, y: a.y + (a.height + sz.width) / 2, scale: s, color: ink)
        }
        return img
    }

    /// Margins from the text sizes, then ticks that fit the space.
    public func layout() -> ChartLayout {
        let s = fontScale ?? Swift.max(1, Swift.min(width, height) / 800 + 1)
        let lineH = 9 * s, pad = 6 * s, tick = 4 * s, gap = 3 * s
        let (dx, dy) = dataBounds()
        let top = pad + (title.isEmpty ? 0 : lineH + pad)
        let bottom = 1 + tick + gap + lineH + pad + (xLabel.isEmpty ? 0 : lineH + pad)
        let plotH = Swift.max(8, height - top - bottom)
        let inset = 2 + s
        let (yr, yTicks) = Self.axis(explicit: yRange, data: dy, pixels: plotH - 2 * inset, labelExtent: { (_: [Double]) in 2 * lineH })
        let yLabelW = Self.tickLabels(yTicks).map { BitmapFont.size(of: $0, scale: s).width }.max() ?? 0
        let left = pad + (yLabel.isEmpty ? 0 : lineH + pad) + yLabelW + gap + tick + 1
        var right = pad
        var result: (ClosedRange<Double>, [Double]) = (0...1, [])
        for _ in 0..<2 {  // the last x label may stick out to the right; widen the margin once
            let plotW = Swift.max(8, width - left - right)
            result = Self.axis(explicit: xRange, data: dx, pixels: plotW - 2 * inset) { ticks in
                (Self.tickLabels(ticks).map { BitmapFont.size(of: $0, scale: s).width }.max() ?? 0) + 3 * advance(s)
            }
            let lastW = BitmapFont.size(of: Self.tickLabels(result.1).last ?? "", scale: s).width / 2 - inset
            let need = Swift.max(pad, lastW + 2)
            if need <= right { break }
            right = need
        }
        let area = PixelRect(x: left, y: top, width: Swift.max(8, width - left - right), height: plotH)
        return ChartLayout(plotArea: area, xRange: result.0, yRange: yr, xTicks: result.1, yTicks: yTicks,
                           inset: inset, fontScale: s)
    }

    private func advance(_ s: Int) -> Int { 6 * s }

    /// Finite data extent over all series.
    private func dataBounds() -> (ClosedRange<Double>?, ClosedRange<Double>?) {
        let pts = series.flatMap { $0.points }.filter { $0.x.isFinite && $0.y.isFinite }
        guard let f = pts.first else { return (nil, nil) }
        var x0 = f.x, x1 = f.x, y0 = f.y, y1 = f.y
        for p in pts { x0 = Swift.min(x0, p.x); x1 = Swift.max(x1, p.x); y0 = Swift.min(y0, p.y); y1 = Swift.max(y1, p.y) }
        return (x0...x1, y0...y1)
    }

    /// The range (explicit, or the data widened to whole steps) and "nice" ticks (1, 2, 2.5, 5 × 10ᵏ)
    /// spaced so that `labelExtent(ticks)` pixels fit between neighbours.
    static func axis(explicit: ClosedRange<Double>?, data: ClosedRange<Double>?, pixels: Int,
                     labelExtent: ([Double]) -> Int) -> (ClosedRange<Double>, [Double]) {
        var lo = explicit?.lowerBound ?? data?.lowerBound ?? 0, hi = explicit?.upperBound ?? data?.upperBound ?? 1
        if !(hi > lo) { let d = lo == 0 ? 0.5 : abs(lo) * 0.05; lo -= d; hi += d }
        var best: (ClosedRange<Double>, [Double]) = (lo...hi, [lo, hi])
        for target in [10, 8, 6, 5, 4, 3, 2] {
            let step = niceStep((hi - lo) / Double(target))
            let r = explicit == nil ? ((lo / step).rounded(.down) * step)...((hi / step).rounded(.up) * step) : lo...hi
            let ticks = ticksFor(r, step)
            best = (r, ticks)
            guard ticks.count >= 2 else { continue }
            let spacing = Double(pixels) * step / (r.upperBound - r.lowerBound)
            if Double(labelExtent(ticks)) <= spacing { return best }
        }
        return best
    }

    private static func niceStep(_ raw: Double) -> Double {
        let mag = pow(10, (log10(raw)).rounded(.down))
        for m in [1, 2, 2.5, 5] where raw <= m * mag * (1 + 1e-9) { return m * mag }
        return 10 * mag
    }

    private static func ticksFor(_ r: ClosedRange<Double>, _ step: Double) -> [Double] {
        var t: [Double] = []
        var k = (r.lowerBound / step - 1e-9).rounded(.up)
        while k * step <= r.upperBound + step * 1e-9 && t.count < 100 {
            let v = k * step
            t.append(abs(v) < step * 1e-9 ? 0 : v)
            k += 1
        }
        return t
    }

    /// Labels with as many decimals as the step needs ("0.25", "100", "-1.5").
    static func tickLabels(_ ticks: [Double]) -> [String] {
        guard ticks.count >= 2 else { return ticks.map { String(format: "%g", $0) } }
        let step = abs(ticks[1] - ticks[0])
        var decimals = Swift.max(0, -Int((log10(step) + 1e-9).rounded(.down)))
        while decimals < 12 && abs((step * pow(10, Double(decimals))).rounded() - step * pow(10, Double(decimals))) > 1e-6 { decimals += 1 }
        return ticks.map { String(format: "%.\(decimals)f", $0) }
    }

    private func drawLegend(into plot: inout RGBImage, layout L: ChartLayout) {
        let entries = zip(series, resolvedColors).compactMap { s, c in s.name.map { (s, $0, c) } }
        guard legend != .hidden, !entries.isEmpty else { return }
        let s = L.fontScale, pad = 5 * s, row = 12 * s, swatch = 22 * s
        let textW = entries.map { BitmapFont.size(of: $0.1, scale: s).width }.max() ?? 0
        let w = pad + swatch + pad + textW + pad, h = pad + row * entries.count - 3 * s + pad
        let margin = L.inset + 4 * s
        let x = (legend == .topLeft || legend == .bottomLeft) ? margin : plot.width - margin - w
        let y = (legend == .topLeft || legend == .topRight) ? margin : plot.height - margin - h
        plot.fillRect(PixelRect(x: x, y: y, width: w, height: h), color: (255, 255, 255), alpha: 1)
        plot.drawRect(PixelRect(x: x, y: y, width: w, height: h), color: (160, 160, 160))
        for (i, (sr, name, color)) in entries.enumerated() {
            let cy = Double(y + pad + i * row + (9 * s) / 2)
            let a = Point(x: Double(x + pad), y: cy), b = Point(x: Double(x + pad + swatch), y: cy)
            let pts: [Point?] = sr.style == .points ? [Point(x: (a.x + b.x) / 2, y: cy)] : [a, b]
            plot.drawSeries(pts, style: sr.style == .step ? .line : sr.style, color: color, thickness: Swift.max(1, sr.thickness))
            BitmapFont.draw(name, into: &plot, x: x + pad + swatch + pad, y: y + pad + i * row, scale: s, color: (0, 0, 0))
        }
    }
}

extension RGBImage {
    /// Draws pixel-space points (nil breaks the line) in a chart style.
    fileprivate mutating func drawSeries(_ pts: [Point?], style: ChartSeries.Style, color: (UInt8, UInt8, UInt8), thickness t: Int) {
        switch style {
        case .points:
            for case let p? in pts { fillDisc(p, radius: t + 1, color: color) }
        case .line, .step:
            var prev: Point?
            for p in pts {
                guard let p else { prev = nil; continue }
                if let q = prev {
                    if style == .step {
                        let corner = Point(x: p.x, y: q.y)
                        drawLine(from: q, to: corner, color: color, thickness: t)
                        drawLine(from: corner, to: p, color: color, thickness: t)
                    } else {
                        drawLine(from: q, to: p, color: color, thickness: t)
                    }
                } else {
                    drawLine(from: p, to: p, color: color, thickness: t)
                }
                prev = p
            }
        case .dashed:
            let on = Double(5 + 2 * t), off = Double(3 + 2 * t)
            var phase = 0.0, prev: Point?
            for p in pts {
                guard let p else { prev = nil; continue }
                defer { prev = p }
                guard let q = prev else { continue }
                let len = ((p.x - q.x) * (p.x - q.x) + (p.y - q.y) * (p.y - q.y)).squareRoot()
                var d = 0.0
                while d < len {
                    let inOn = phase < on
                    let run = Swift.min(len - d, inOn ? on - phase : on + off - phase)
                    if inOn {
                        let a = Point(x: q.x + (p.x - q.x) * d / len, y: q.y + (p.y - q.y) * d / len)
                        let b = Point(x: q.x + (p.x - q.x) * (d + run) / len, y: q.y + (p.y - q.y) * (d + run) / len)
                        drawLine(from: a, to: b, color: color, thickness: t)
                    }
                    d += run
                    phase = (phase + run).truncatingRemainder(dividingBy: on + off)
                }
            }
        }
    }

    fileprivate mutating func fillDisc(_ c: Point, radius r: Int, color: (UInt8, UInt8, UInt8)) {
        let cx = Int(c.x.rounded(.down)), cy = Int(c.y.rounded(.down))
        for dy in -r...r { for dx in -r...r where dx * dx + dy * dy <= r * r + r / 2 {
            let x = cx + dx, y = cy + dy
            if x >= 0 && y >= 0 && x < width && y < height { self[x, y] = color }
        } }
    }

    /// Copies `src` with its top-left at (x, y), clipped.
    fileprivate mutating func blit(_ src: RGBImage, x: Int, y: Int) {
        for sy in 0..<src.height where y + sy >= 0 && y + sy < height {
            for sx in 0..<src.width where x + sx >= 0 && x + sx < width { self[x + sx, y + sy] = src[sx, sy] }
        }
    }

    /// Text turned 90° counter-clockwise (reading upwards), its baseline-side on the right;
    /// (x, y) is the bottom-left of the turned text.
    fileprivate mutating func drawRotatedText(_ text: String, x: Int, y: Int, scale: Int, color: (UInt8, UInt8, UInt8)) {
        let sz = BitmapFont.size(of: text, scale: scale)
        guard sz.width > 0 && sz.height > 0 else { return }
        var tmp = RGBImage(width: sz.width, height: sz.height)
        BitmapFont.draw(text, into: &tmp, x: 0, y: 0, scale: scale, color: (0, 0, 0))
        for ty in 0..<sz.height { for tx in 0..<sz.width where tmp[tx, ty].0 == 0 {
            // (tx, ty) → (ty, −tx): the text's left end ends up at the bottom.
            let ox = x + ty, oy = y - 1 - tx
            if ox >= 0 && oy >= 0 && ox < width && oy < height { self[ox, oy] = color }
        } }
    }
}
