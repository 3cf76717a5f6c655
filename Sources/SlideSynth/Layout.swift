import SeededRandom
import Foundation
import ImageCore

// The analytic scene: tissue blobs, tumour polygons, the pen stroke and the nuclei grids.
// Everything is in level-0 pixels. The renderer and the truth both read this one model,
// so the pixels and the truth cannot drift apart.

/// Axis-aligned box [minX, maxX] x [minY, maxY] in level-0 pixels.
struct Box: Encodable, Sendable {
    var minX: Double, minY: Double, maxX: Double, maxY: Double

    @inline(__always) func contains(_ x: Double, _ y: Double) -> Bool {
        x >= minX && x <= maxX && y >= minY && y <= maxY
    }
    @inline(__always) func intersects(_ o: Box) -> Bool {
        minX <= o.maxX && o.minX <= maxX && minY <= o.maxY && o.minY <= maxY
    }
    func union(_ o: Box) -> Box {
        Box(minX: min(minX, o.minX), minY: min(minY, o.minY), maxX: max(maxX, o.maxX), maxY: max(maxY, o.maxY))
    }
    static func around(_ pts: [Point], margin: Double = 0) -> Box {
        var b = Box(minX: .infinity, minY: .infinity, maxX: -.infinity, maxY: -.infinity)
        for p in pts {
            b.minX = min(b.minX, p.x); b.maxX = max(b.maxX, p.x)
            b.minY = min(b.minY, p.y); b.maxY = max(b.maxY, p.y)
        }
        return Box(minX: b.minX - margin, minY: b.minY - margin, maxX: b.maxX + margin, maxY: b.maxY + margin)
    }
}

/// One term of the boundary perturbation: amplitude * cos(k * psi + phase).
struct Harmonic: Encodable, Sendable {
    var k: Int
    var amplitude: Double
    var phase: Double
}

/// An elliptical hole in normalised blob coordinates (u/a, v/b): glass inside tissue.
struct Hole: Encodable, Sendable {
    var u: Double, v: Double, radius: Double
}

/// A tissue piece: a rotated superellipse whose radius is perturbed by a few low
/// harmonics of the polar angle (smooth, no features smaller than the blob / 5).
///
/// In the blob frame, u = ((x-cx)cos t + (y-cy)sin t) / a and v = (-(x-cx)sin t + (y-cy)cos t) / b;
/// a point is tissue iff (|u|^p + |v|^p)^(1/p) <= 1 + sum_k A_k cos(k psi + phi_k), psi = atan2(v, u),
/// and it is not inside the hole.
struct Blob: Encodable, Sendable {
    let cx: Double, cy: Double
    let a: Double, b: Double
    let theta: Double
    let p: Double
    let harmonics: [Harmonic]
    let hole: Hole?
    let bounds: Box

    // Caches for the inner loops (not part of the JSON).
    private let cosT: Double, sinT: Double
    private let pertMax: Double
    private let innerR2: Double    // u^2+v^2 below this: surely inside the outline
    private let outerR2: Double    // u^2+v^2 above this: surely outside
    private let ampCos: [Double], ampSin: [Double], ks: [Int]

    private enum CodingKeys: String, CodingKey { case cx, cy, a, b, theta, p, harmonics, hole, bounds }

    init(cx: Double, cy: Double, a: Double, b: Double, theta: Double, p: Double, harmonics: [Harmonic], hole: Hole?) {
        self.cx = cx; self.cy = cy; self.a = a; self.b = b; self.theta = theta; self.p = p
        self.harmonics = harmonics; self.hole = hole
        cosT = cos(theta); sinT = sin(theta)
        let pm = harmonics.reduce(0) { $0 + abs($1.amplitude) }
        pertMax = pm
        // For p >= 2: |q|_2 * 2^(1/p - 1/2) <= |q|_p <= |q|_2.
        innerR2 = (1 - pm) * (1 - pm)
        let g = pow(2.0, 0.5 - 1 / p) * (1 + pm)
        outerR2 = g * g
        ks = harmonics.map(\.k)
        // cos(k psi + phi) = cos(k psi) cos(phi) - sin(k psi) sin(phi)
        ampCos = harmonics.map { $0.amplitude * cos($0.phase) }
        ampSin = harmonics.map { $0.amplitude * sin($0.phase) }
        // Bounds from a dense sampling of the outline (plus a safety margin).
        var pts: [Point] = []
        pts.reserveCapacity(1440)
        for i in 0..<1440 {
            let psi = Double(i) * 2 * Double.pi / 1440
            pts.append(Blob.outline(psi: psi, cx: cx, cy: cy, a: a, b: b, cosT: cos(theta), sinT: sin(theta), p: p, harmonics: harmonics))
        }
        bounds = Box.around(pts, margin: 0.01 * max(a, b) + 2)
    }

    /// Outline point at polar angle `psi` (normalised frame) in level-0 pixels.
    static func outline(psi: Double, cx: Double, cy: Double, a: Double, b: Double, cosT: Double, sinT: Double,
                        p: Double, harmonics: [Harmonic]) -> Point {
        let c = cos(psi), s = sin(psi)
        let n = pow(pow(abs(c), p) + pow(abs(s), p), 1 / p)
        var r = 1.0
        for h in harmonics { r += h.amplitude * cos(Double(h.k) * psi + h.phase) }
        let t = r / n
        let u = a * t * c, v = b * t * s
        return Point(x: cx + u * cosT - v * sinT, y: cy + u * sinT + v * cosT)
    }

    /// Level-0 point of normalised blob coordinates (u/a, v/b).
    func point(u: Double, v: Double) -> Point {
        let x = u * a, y = v * b
        return Point(x: cx + x * cosT - y * sinT, y: cy + x * sinT + y * cosT)
    }

    /// Area in level-0 px^2: a*b * (1/2) * integral of (r(psi)/n(psi))^2 dpsi, minus the hole.
    var area: Double {
        let steps = 8192
        var sum = 0.0
        for i in 0..<steps {
            let psi = (Double(i) + 0.5) * 2 * Double.pi / Double(steps)
            let c = cos(psi), s = sin(psi)
            let n = pow(pow(abs(c), p) + pow(abs(s), p), 1 / p)
            var r = 1.0
            for h in harmonics { r += h.amplitude * cos(Double(h.k) * psi + h.phase) }
            sum += (r / n) * (r / n)
        }
        var area = a * b * 0.5 * sum * 2 * Double.pi / Double(steps)
        if let hole { area -= Double.pi * hole.radius * hole.radius * a * b }
        return area
    }

    @inline(__always) func contains(_ x: Double, _ y: Double) -> Bool {
        guard bounds.contains(x, y) else { return false }
        let dx = x - cx, dy = y - cy
        let u = (dx * cosT + dy * sinT) / a
        let v = (-dx * sinT + dy * cosT) / b
        let r2 = u * u + v * v
        if r2 >= outerR2 { return false }
        if let hole {
            let hu = u - hole.u, hv = v - hole.v
            if hu * hu + hv * hv <= hole.radius * hole.radius { return false }
        }
        if r2 <= innerR2 { return true }
        // Exact test near the outline.
        let r = r2.squareRoot()
        guard r > 0 else { return true }
        let c1 = u / r, s1 = v / r
        var limit = 1.0
        var ck = 1.0, sk = 0.0   // cos(k psi), sin(k psi) by repeated rotation
        var k = 0
        for i in 0..<ks.count {
            while k < ks[i] { let nc = ck * c1 - sk * s1; sk = sk * c1 + ck * s1; ck = nc; k += 1 }
            limit += ampCos[i] * ck - ampSin[i] * sk
        }
        return pow(abs(u), p) + pow(abs(v), p) <= pow(limit, p)
    }
}

/// A simple polygon (even-odd rule) in level-0 pixels.
struct Polygon: Encodable, Sendable {
    let points: [Point]
    let bounds: Box

    init(_ points: [Point]) {
        self.points = points
        bounds = Box.around(points)
    }

    @inline(__always) func contains(_ x: Double, _ y: Double) -> Bool {
        guard bounds.contains(x, y) else { return false }
        var inside = false
        var j = points.count - 1
        for i in 0..<points.count {
            let pi = points[i], pj = points[j]
            if (pi.y > y) != (pj.y > y) {
                let xc = pj.x + (y - pj.y) * (pi.x - pj.x) / (pi.y - pj.y)
                if x < xc { inside.toggle() }
            }
            j = i
        }
        return inside
    }
}

/// A marker-pen stroke: a capsule chain around a polyline.
struct PenStroke: Encodable, Sendable {
    let points: [Point]
    let thickness: Double
    /// Ink colour (RGB) at full density.
    let color: [Float]
    let bounds: Box

    init(points: [Point], thickness: Double, color: [Float]) {
        self.points = points; self.thickness = thickness; self.color = color
        bounds = Box.around(points, margin: thickness / 2 + 1)
    }

    @inline(__always) func contains(_ x: Double, _ y: Double) -> Bool {
        guard bounds.contains(x, y) else { return false }
        let r2 = thickness * thickness / 4
        for i in 0..<(points.count - 1) {
            let a = points[i], b = points[i + 1]
            let ex = b.x - a.x, ey = b.y - a.y
            let wx = x - a.x, wy = y - a.y
            let len2 = ex * ex + ey * ey
            var t = len2 > 0 ? (wx * ex + wy * ey) / len2 : 0
            t = min(1, max(0, t))
            let dx = wx - t * ex, dy = wy - t * ey
            if dx * dx + dy * dy <= r2 { return true }
        }
        return false
    }
}

/// A jittered grid of nuclei: cell (i, j) holds at most one nucleus, whose presence,
/// position, size, shape and shade are hashed from (i, j, salt) — so any nucleus can be
/// re-derived from its cell alone.
struct NucleusLayer: Encodable, Sendable {
    let name: String
    let cellPx: Double
    let presence: Double
    let radiusMinPx: Double
    let radiusMaxPx: Double
    let elongationMax: Double
    let jitterMin: Double
    let jitterMax: Double
    /// RGB of the nucleus at full density.
    let color: [Float]
    let salt: UInt64
    let inTumour: Bool

    /// Largest semi-axis any nucleus of this layer can have.
    var maxExtentPx: Double { radiusMaxPx * elongationMax.squareRoot() + 1 }
}

/// One nucleus. `radius` is the equivalent radius sqrt(ra * rb).
struct Nucleus {
    var x: Double, y: Double
    var ra: Double, rb: Double
    var cosA: Double, sinA: Double
    var shade: Float
    var tumour: Bool
    var radius: Double { (ra * rb).squareRoot() }
}

/// The colours the renderer uses (RGB, 0...255), recorded in truth.json.
struct Palette: Encodable, Sendable {
    var glass: [Float] = [238, 238, 240]
    var glassNoise: Float = 2.5
    var stroma: [Float] = [232, 150, 192]
    var stromaPale: [Float] = [242, 200, 222]
    var tumourStroma: [Float] = [220, 138, 188]
    var tissueNoise: Float = 4
}

/// The whole scene derived from a spec.
struct SlideLayout: Encodable, Sendable {
    var generator = "RadioPath SlideSynth 1"
    let width: Int
    let height: Int
    let seed: UInt64
    let blobs: [Blob]
    let tumours: [Polygon]
    let pen: PenStroke?
    let stromaNuclei: NucleusLayer
    let tumourNuclei: NucleusLayer
    let levelDownsamples: [Int]
    let tissueMaskDownsample: Int
    let palette: Palette
    /// Texture scales in level-0 px (fibre, pallor) and their salts.
    let fibreScalePx: Double
    let pallorScalePx: Double
    let textureSalt: UInt64

    // MARK: labels

    /// 0 glass, 1 stroma (tissue, not tumour), 2 tumour, 3 pen ink on glass.
    @inline(__always) func label(_ x: Double, _ y: Double) -> UInt8 {
        // Indexing (not for-in) borrows the elements instead of copying them: no
        // reference counting on the shared arrays in the hot path.
        for k in 0..<blobs.count where blobs[k].contains(x, y) {
            return isTumour(x, y) ? 2 : 1
        }
        if pen?.contains(x, y) == true { return 3 }
        return 0
    }

    @inline(__always) func isTumour(_ x: Double, _ y: Double) -> Bool {
        for k in 0..<tumours.count where tumours[k].contains(x, y) { return true }
        return false
    }

    /// Union of every blob's and the pen's bounds: outside it a tile is plain glass.
    func touchesContent(_ box: Box) -> Bool {
        for blob in blobs where blob.bounds.intersects(box) { return true }
        if let pen, pen.bounds.intersects(box) { return true }
        return false
    }

    // MARK: nuclei

    /// Calls `body` for every nucleus whose centre lies in a cell overlapping `box`
    /// widened by the largest nucleus extent, in a fixed order (layer, row, column).
    func forEachNucleus(in box: Box, _ body: (Nucleus) -> Void) {
        for layer in [stromaNuclei, tumourNuclei] {
            var region = box
            if layer.inTumour {
                guard let tb = tumourBounds, tb.intersects(box) else { continue }
                region = Box(minX: max(box.minX, tb.minX - layer.maxExtentPx), minY: max(box.minY, tb.minY - layer.maxExtentPx),
                             maxX: min(box.maxX, tb.maxX + layer.maxExtentPx), maxY: min(box.maxY, tb.maxY + layer.maxExtentPx))
            }
            let m = layer.maxExtentPx
            let i0 = Int(((region.minX - m) / layer.cellPx).rounded(.down))
            let i1 = Int(((region.maxX + m) / layer.cellPx).rounded(.down))
            let j0 = Int(((region.minY - m) / layer.cellPx).rounded(.down))
            let j1 = Int(((region.maxY + m) / layer.cellPx).rounded(.down))
            guard i1 >= i0, j1 >= j0 else { continue }
            for j in max(0, j0)...max(0, j1) {
                for i in max(0, i0)...max(0, i1) {
                    if let n = nucleus(layer: layer, i: i, j: j) { body(n) }
                }
            }
        }
    }

    var tumourBounds: Box? {
        guard var b = tumours.first?.bounds else { return nil }
        for t in tumours.dropFirst() { b = b.union(t.bounds) }
        return b
    }

    @inline(__always) func nucleus(layer: NucleusLayer, i: Int, j: Int) -> Nucleus? {
        let h0 = hash2(i, j, layer.salt)
        guard Double(h0 >> 11) * 0x1.0p-53 < layer.presence else { return nil }
        var g = SplitMix64(seed: h0)
        let x = (Double(i) + g.uniform(layer.jitterMin, layer.jitterMax)) * layer.cellPx
        let y = (Double(j) + g.uniform(layer.jitterMin, layer.jitterMax)) * layer.cellPx
        let r = g.uniform(layer.radiusMinPx, layer.radiusMaxPx)
        let e = g.uniform(1, layer.elongationMax).squareRoot()
        let angle = g.uniform(0, Double.pi)
        let shade = Float(g.uniform(0.85, 1.12))
        guard x < Double(width), y < Double(height) else { return nil }
        if layer.inTumour {
            guard isTumour(x, y) else { return nil }
        } else {
            let l = label(x, y)
            guard l == 1 else { return nil }
        }
        return Nucleus(x: x, y: y, ra: r * e, rb: r / e, cosA: cos(angle), sinA: sin(angle), shade: shade, tumour: layer.inTumour)
    }
}

// MARK: - building the layout from a spec

extension SlideLayout {
    init(spec: SyntheticSlideSpec) {
        let W = Double(spec.width), H = Double(spec.height)
        var rng = SplitMix64(seed: mix64(spec.seed ^ 0x51DE_5EED_0000_0001))
        width = spec.width
        height = spec.height
        seed = spec.seed

        // Pen band along the top; tissue below it, well inside the slide.
        let bandTop = 0.03 * H, bandH = 0.10 * H
        let area = Box(minX: 0.05 * W, minY: spec.penMark ? 0.17 * H : 0.06 * H, maxX: 0.95 * W, maxY: 0.95 * H)

        // Cells: one per blob, in rows; the last row's cells widen to fill it.
        let n = spec.tissueRegions
        var cells: [Box] = []
        if n > 0 {
            let aw = area.maxX - area.minX, ah = area.maxY - area.minY
            let rows = max(1, min(n, Int((Double(n) * ah / aw).squareRoot().rounded())))
            let perRow = Int((Double(n) / Double(rows)).rounded(.up))
            var k = 0
            for r in 0..<rows where k < n {
                let count = min(perRow, n - k)
                let ch = ah / Double(rows)
                let cw = aw / Double(count)
                for c in 0..<count {
                    cells.append(Box(minX: area.minX + Double(c) * cw, minY: area.minY + Double(r) * ch,
                                     maxX: area.minX + Double(c + 1) * cw, maxY: area.minY + Double(r + 1) * ch))
                    k += 1
                }
            }
        }

        var blobs: [Blob] = []
        for (index, cell) in cells.enumerated() {
            let cw = cell.maxX - cell.minX, ch = cell.maxY - cell.minY
            let inner = Box(minX: cell.minX + 0.06 * cw, minY: cell.minY + 0.06 * ch, maxX: cell.maxX - 0.06 * cw, maxY: cell.maxY - 0.06 * ch)
            let p = rng.uniform(2.0, 2.8)
            let theta = rng.uniform(-0.3, 0.3)
            let rx = cw / 2 * rng.uniform(0.75, 1.0), ry = ch / 2 * rng.uniform(0.75, 1.0)
            let amps = [0.05, 0.035, 0.025, 0.015]
            var harmonics: [Harmonic] = []
            for (i, amp) in amps.enumerated() {
                harmonics.append(Harmonic(k: i + 2, amplitude: amp * rng.uniform(0.5, 1.0), phase: rng.uniform(0, 2 * Double.pi)))
            }
            let hole: Hole? = (index == 0 && n >= 2) ? Hole(u: 0.35, v: -0.05, radius: 0.16) : nil
            // Fit the outline into the inner box.
            let unit = Blob(cx: 0, cy: 0, a: rx, b: ry, theta: theta, p: p, harmonics: harmonics, hole: nil)
            let ub = unit.bounds
            let fill = rng.uniform(0.82, 1.0)
            let s = min((inner.maxX - inner.minX) / (ub.maxX - ub.minX), (inner.maxY - inner.minY) / (ub.maxY - ub.minY)) * fill
            let slackX = (inner.maxX - inner.minX) - (ub.maxX - ub.minX) * s
            let slackY = (inner.maxY - inner.minY) - (ub.maxY - ub.minY) * s
            let cx = inner.minX + slackX * rng.unit() - ub.minX * s
            let cy = inner.minY + slackY * rng.unit() - ub.minY * s
            blobs.append(Blob(cx: cx, cy: cy, a: rx * s, b: ry * s, theta: theta, p: p, harmonics: harmonics, hole: hole))
        }
        self.blobs = blobs

        // Tumours: star-shaped polygons well inside the outline (normalised radius <= 0.72,
        // where every blob is tissue since the perturbation is at most 0.125) and clear of the hole.
        var tumours: [Polygon] = []
        let tumourCount = blobs.isEmpty ? 0 : min(blobs.count, rng.int(1, 3))
        for t in 0..<tumourCount {
            let blob = blobs[t]
            let centre: (Double, Double)
            let radius: Double
            if blob.hole != nil {
                centre = (-0.32, 0.04); radius = 0.30
            } else {
                let ang = rng.uniform(0, 2 * Double.pi)
                centre = (0.2 * cos(ang), 0.2 * sin(ang)); radius = rng.uniform(0.30, 0.40)
            }
            let m = rng.int(9, 14)
            let start = rng.uniform(0, 2 * Double.pi)
            var pts: [Point] = []
            for k in 0..<m {
                let ang = start + (Double(k) + rng.uniform(-0.3, 0.3)) * 2 * Double.pi / Double(m)
                let r = radius * rng.uniform(0.6, 1.0)
                pts.append(blob.point(u: centre.0 + r * cos(ang), v: centre.1 + r * sin(ang)))
            }
            tumours.append(Polygon(pts))
        }
        // Drawn either way, so a tumour-free slide keeps the seed's layout and pen mark.
        self.tumours = spec.tumour ? tumours : []

        // Pen: a wavy stroke inside the band at the top, on glass.
        if spec.penMark {
            let x0 = W * rng.uniform(0.08, 0.25), x1 = W * rng.uniform(0.6, 0.92)
            let yc = bandTop + bandH / 2
            let amp = 0.2 * bandH
            let wave = W * rng.uniform(0.2, 0.4)
            let phase = rng.uniform(0, 2 * Double.pi)
            var pts: [Point] = []
            let segments = 24
            for k in 0...segments {
                let x = x0 + (x1 - x0) * Double(k) / Double(segments)
                pts.append(Point(x: x, y: yc + amp * sin(2 * Double.pi * (x - x0) / wave + phase)))
            }
            let blue: [Float] = [40, 78, 170], green: [Float] = [34, 132, 84]
            pen = PenStroke(points: pts, thickness: 0.44 * bandH, color: rng.unit() < 0.5 ? blue : green)
        } else {
            pen = nil
        }

        // Nuclei: sizes in µm converted with the spec's mpp.
        let px = 1 / spec.mpp
        stromaNuclei = NucleusLayer(name: "stroma", cellPx: 16 * px, presence: 0.7, radiusMinPx: 3.0 * px, radiusMaxPx: 4.2 * px,
                                    elongationMax: 1.8, jitterMin: 0.1, jitterMax: 0.9, color: [112, 70, 150],
                                    salt: mix64(spec.seed &+ 0x5751_0000), inTumour: false)
        tumourNuclei = NucleusLayer(name: "tumour", cellPx: 12 * px, presence: 0.92, radiusMinPx: 3.8 * px, radiusMaxPx: 5.0 * px,
                                    elongationMax: 1.5, jitterMin: 0.2, jitterMax: 0.8, color: [74, 42, 118],
                                    salt: mix64(spec.seed &+ 0x7A70_0000), inTumour: true)
        fibreScalePx = 6 * px
        pallorScalePx = 60 * px
        textureSalt = mix64(spec.seed &+ 0x7E47_0000)
        palette = Palette()

        // Pyramid: 4, 16, 64, then further x4 while the last level's longer side is >= 512 px.
        var ds = [1]
        var longer = max(spec.width, spec.height)
        while true {
            let d = ds.last! * 4
            guard d <= 64 || longer >= 512, longer > 1 else { break }
            ds.append(d)
            longer = (max(spec.width, spec.height) + d - 1) / d
        }
        levelDownsamples = ds
        var md = 64
        while (max(spec.width, spec.height) + md - 1) / md > 4096 { md *= 2 }
        tissueMaskDownsample = md
    }
}
