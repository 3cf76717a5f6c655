import Foundation
import ImageCore
import VolumeIO

/// PNG previews of region families and region values on the MRI: a montage of the slices that
/// hold regions, shown axially in the radiological convention (patient left on the image's
/// right, anterior up, superior slices first) whatever the voxel order, cropped to the regions.
public enum RegionPainter {
    public typealias RGB = (UInt8, UInt8, UInt8)

    /// A distinct colour per label (golden-angle hues), the same in every family and run.
    public static func categoricalColour(_ label: Int) -> RGB {
        let h = (Double(label) * 0.618_033_988_75).truncatingRemainder(dividingBy: 1) * 6
        let s = 0.8, v = 0.95, i = Int(h), f = h - Double(i)
        let p = v * (1 - s), q = v * (1 - s * f), t = v * (1 - s * (1 - f))
        let (r, g, b): (Double, Double, Double) = [(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)][i % 6]
        return (UInt8(r * 255), UInt8(g * 255), UInt8(b * 255))
    }

    /// The family on the image: each region tinted in its categorical colour, outlined, and a
    /// legend of names.
    public static func preview(_ map: RegionMap, image: Volume) throws -> RGBImage {
        let colours = Dictionary(uniqueKeysWithValues: map.regions.map { ($0.label, categoricalColour($0.label)) })
        return try render(image: image, labels: map.labels, fill: { colours[$0] }, outline: { colours[$0] }, alpha: 0.45,
                          title: map.family, legend: map.regions.map { ($0.name, colours[$0.label]!) }, bar: nil)
    }

    /// Region values on the image: each region filled with `colormap`(value) scaled over
    /// `range` (default: the values' min and max), white outlines, and a colour bar. Regions
    /// without a value stay unfilled but outlined.
    public static func scores(_ map: RegionMap, image: Volume, values: [Int: Double], colormap: RegionColormap,
                              range: ClosedRange<Double>? = nil, title: String = "") throws -> RGBImage {
        let finite = values.values.filter(\.isFinite)
        let lo = range?.lowerBound ?? finite.min() ?? 0, hi = range?.upperBound ?? finite.max() ?? 1
        let span = hi > lo ? hi - lo : 1
        let fills = values.compactMapValues { v in v.isFinite ? colormap.colour((v - lo) / span) : nil }
        return try render(image: image, labels: map.labels, fill: { fills[$0] }, outline: { _ in (255, 255, 255) }, alpha: 0.6,
                          title: title.isEmpty ? map.family : title, legend: [], bar: (colormap, lo, hi))
    }

    // MARK: rendering

    static func render(image: Volume, labels: Volume, fill: (Int) -> RGB?, outline: (Int) -> RGB?, alpha: Double,
                       title: String, legend: [(String, RGB)], bar: (RegionColormap, Double, Double)?) throws -> RGBImage {
        guard image.hasSameGrid(as: labels, tolerance: 1e-3 * max(1, image.spacing.max())) else {
            throw RegionsError("preview: the image and the region labels are on different grids", hint: "give the image the regions were made on")
        }
        let view = AxialView(labels)
        // Slices with regions (superior first) and the crop around them.
        var slices: [Int] = []
        var x0 = view.width, y0 = view.height, x1 = -1, y1 = -1
        for s in (0..<view.depth).reversed() {
            var any = false
            for r in 0..<view.height { for c in 0..<view.width where labels.voxels[view.index(c, r, s)] != 0 {
                any = true; x0 = min(x0, c); x1 = max(x1, c); y0 = min(y0, r); y1 = max(y1, r)
            } }
            if any { slices.append(s) }
        }
        if slices.isEmpty { slices = [view.depth / 2]; x0 = 0; y0 = 0; x1 = view.width - 1; y1 = view.height - 1 }
        let margin = 10
        x0 = max(0, x0 - margin); y0 = max(0, y0 - margin); x1 = min(view.width - 1, x1 + margin); y1 = min(view.height - 1, y1 + margin)
        let cw = x1 - x0 + 1, ch = y1 - y0 + 1
        let scale = max(1, min(4, 320 / max(cw, ch)))
        let caption = 12
        let columns = min(slices.count, max(1, Int(Double(slices.count).squareRoot().rounded(.up))))
        let rows = (slices.count + columns - 1) / columns
        let tw = cw * scale, th = ch * scale + caption
        // Grey window: 1st and 99th percentiles of the image inside the crop.
        var sample: [Float] = []
        for s in slices { for r in y0...y1 { for c in x0...x1 { sample.append(image.voxels[view.index(c, r, s)]) } } }
        sample = sample.filter(\.isFinite).sorted()
        let gLo = sample.isEmpty ? 0 : sample[sample.count / 100], gHi = sample.isEmpty ? 1 : sample[min(sample.count - 1, sample.count * 99 / 100)]
        let gSpan = gHi > gLo ? gHi - gLo : 1

        let legendHeight = legend.isEmpty ? 0 : ((legend.count + 2) / 3) * 12 + 4
        let barHeight = bar == nil ? 0 : 28
        let width = max(columns * tw + (columns + 1) * 4, 300)
        var out = RGBImage(width: width, height: 16 + rows * (th + 4) + legendHeight + barHeight + 4, fill: (20, 20, 20))
        BitmapFont.draw(title, into: &out, x: 4, y: 4, color: (240, 240, 240))
        for (t, s) in slices.enumerated() {
            let ox = 4 + (t % columns) * (tw + 4), oy = 16 + (t / columns) * (th + 4)
            for r in 0..<ch { for c in 0..<cw {
                let v = view.index(x0 + c, y0 + r, s)
                let g = UInt8(max(0, min(255, (image.voxels[v] - gLo) / gSpan * 255)))
                var px: RGB = (g, g, g)
                let label = Int(labels.voxels[v])
                if label != 0 {
                    let edge = [(c - 1, r), (c + 1, r), (c, r - 1), (c, r + 1)].contains { (cc, rr) in
                        let xx = x0 + cc, yy = y0 + rr
                        return xx < 0 || yy < 0 || xx >= view.width || yy >= view.height || Int(labels.voxels[view.index(xx, yy, s)]) != label
                    }
                    if edge, let o = outline(label) { px = o } else if let f = fill(label) { px = blend(px, f, alpha) }
                }
                for dy in 0..<scale { for dx in 0..<scale {
                    let p = 3 * ((oy + r * scale + dy) * out.width + ox + c * scale + dx)
                    out.pixels[p] = px.0; out.pixels[p + 1] = px.1; out.pixels[p + 2] = px.2
                } }
            } }
            let z = labels.point(ofIndex: SIMD3(0, 0, 0) + view.voxel(0, 0, s)).z
            BitmapFont.draw("z \(String(format: "%.1f", z))", into: &out, x: ox, y: oy + ch * scale + 2, color: (200, 200, 200))
        }
        var y = 16 + rows * (th + 4)
        for (n, (name, colour)) in legend.enumerated() {
            let x = 4 + (n % 3) * 100, yy = y + (n / 3) * 12
            out.fillRect(PixelRect(x: x, y: yy, width: 8, height: 8), color: colour, alpha: 1)
            BitmapFont.draw(name, into: &out, x: x + 11, y: yy, color: (230, 230, 230))
        }
        y += legendHeight
        if let (cmap, lo, hi) = bar {
            for i in 0..<256 {
                let c = cmap.colour(Double(i) / 255)
                out.fillRect(PixelRect(x: 4 + i, y: y + 2, width: 1, height: 10), color: c, alpha: 1)
            }
            BitmapFont.draw(String(format: "%.3g", lo), into: &out, x: 4, y: y + 15, color: (230, 230, 230))
            let hiText = String(format: "%.3g", hi)
            BitmapFont.draw(hiText, into: &out, x: 260 - BitmapFont.size(of: hiText).width, y: y + 15, color: (230, 230, 230))
        }
        return out
    }

    @inline(__always) static func blend(_ a: RGB, _ b: RGB, _ t: Double) -> RGB {
        func m(_ x: UInt8, _ y: UInt8) -> UInt8 { UInt8((Double(x) * (1 - t) + Double(y) * t).rounded()) }
        return (m(a.0, b.0), m(a.1, b.1), m(a.2, b.2))
    }
}

/// The voxel behind each display pixel of an axial view: display x runs toward the patient's
/// left, y toward posterior, slices toward superior, each taken from the voxel axis closest to
/// that patient axis (direction cosines, not voxel order).
struct AxialView {
    let size: SIMD3<Int>
    /// Voxel axis and sign for display x, y, z.
    let axis: [Int], flip: [Bool]

    init(_ v: Volume) {
        size = v.size
        let d = v.direction
        var used = Set<Int>(), axis = [0, 0, 0], flip = [false, false, false]
        // Superior first: it decides which voxel axis holds the slices.
        for w in [2, 0, 1] {
            let a = (0..<3).filter { !used.contains($0) }.max { abs(d[3 * w + $0]) < abs(d[3 * w + $1]) }!
            used.insert(a); axis[w] = a; flip[w] = d[3 * w + a] < 0
        }
        self.axis = axis; self.flip = flip
    }

    var width: Int { size[axis[0]] }
    var height: Int { size[axis[1]] }
    var depth: Int { size[axis[2]] }

    /// Voxel grid index (as Double) of display (c, r, s).
    func voxel(_ c: Int, _ r: Int, _ s: Int) -> SIMD3<Double> {
        var ijk = SIMD3<Int>(0, 0, 0)
        for (w, t) in [c, r, s].enumerated() { ijk[axis[w]] = flip[w] ? size[axis[w]] - 1 - t : t }
        return SIMD3(Double(ijk.x), Double(ijk.y), Double(ijk.z))
    }

    @inline(__always) func index(_ c: Int, _ r: Int, _ s: Int) -> Int {
        var ijk = SIMD3<Int>(0, 0, 0)
        ijk[axis[0]] = flip[0] ? size[axis[0]] - 1 - c : c
        ijk[axis[1]] = flip[1] ? size[axis[1]] - 1 - r : r
        ijk[axis[2]] = flip[2] ? size[axis[2]] - 1 - s : s
        return ijk.x + size.x * (ijk.y + size.y * ijk.z)
    }
}

/// A 256-entry colour table from `Atlases/colormaps/<name>.csv` (matplotlib's tables; a value
/// v in [0, 1] takes entry min(⌊256 v⌋, 255), as matplotlib does).
public struct RegionColormap: Sendable {
    public let name: String
    let table: [RegionPainter.RGB]

    public static func named(_ name: String) throws -> RegionColormap {
        let folders = PackageResources.folders("Atlases", environment: "RADIOPATH_ATLASES")
        let path = name.hasSuffix(".csv") ? name : folders.map { "\($0)/colormaps/\(name).csv" }.first { FileManager.default.fileExists(atPath: $0) } ?? ""
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw RegionsError("colormap '\(name)' not found in \(folders.map { $0 + "/colormaps" }.joined(separator: ", "))",
                               hint: "use viridis, magma, inferno, jet, coolwarm or RdBu_r, or set RADIOPATH_ATLASES")
        }
        let rows = text.split(separator: "\n").filter { !$0.hasPrefix("#") && !$0.trimmingCharacters(in: .whitespaces).isEmpty }
        let table = rows.compactMap { row -> RegionPainter.RGB? in
            let p = row.split(separator: ",").compactMap { Double($0.trimmingCharacters(in: .whitespaces)) }
            guard p.count == 3 else { return nil }
            return (UInt8(min(255, p[0] * 255)), UInt8(min(255, p[1] * 255)), UInt8(min(255, p[2] * 255)))
        }
        guard table.count == 256 else { throw RegionsError("\(path): \(table.count) colour rows, a colormap needs 256") }
        return RegionColormap(name: name, table: table)
    }

    public func colour(_ v: Double) -> RegionPainter.RGB {
        let i = v.isNaN || v <= 0 ? 0 : (v >= 1 ? 255 : min(255, Int(v * 256)))
        return table[i]
    }
}
