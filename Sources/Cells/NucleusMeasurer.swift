import Foundation
import ImageCore

/// Where measured nuclei go: pixel (i, j) of the analysis grid (global, i.e. of the whole image
/// or region) covers output coordinates [originX + i·scale, originX + (i+1)·scale).
struct OutputMapping: Sendable {
    var originX: Double, originY: Double, scale: Double
}

/// Per-nucleus measurements on a labelled window (see ``NucleusFeatures`` for definitions).
/// One per worker: owns its scratch arrays.
final class NucleusMeasurer {
    let settings: PixelSettings
    let singleChannel: Bool
    private var area: [Int] = [], sumX: [Double] = [], sumY: [Double] = []
    private var minX: [Int] = [], minY: [Int] = [], maxX: [Int] = [], maxY: [Int] = []
    private var crop: [UInt8] = [], border: [UInt8] = [], quant: [UInt8] = []
    private var touched: [Int32] = []
    private var bits: [UInt64] = []
    private var extentLo: [Int] = [], extentHi: [Int] = [], cornerLo: [Int] = [], cornerHi: [Int] = []
    private var counts: [UInt32]
    private let offsets: [(dy: Int, dx: Int)] = [0, Double.pi / 4, Double.pi / 2, 3 * Double.pi / 4].map { GLCM.offset(distance: 1, angle: $0) }

    init(settings: PixelSettings, singleChannel: Bool) {
        self.settings = settings
        self.singleChannel = singleChannel
        counts = [UInt32](repeating: 0, count: settings.glcmLevels * settings.glcmLevels)
    }

    /// The nuclei of a labelled window whose area is in range and which `keep` accepts: `keep`
    /// gets the centroid in global analysis pixels and returns the patch index to record
    /// (−1 for none) or nil to drop the nucleus (another tile or no patch owns it).
    /// `planes` holds the stain planes (H, then E) of the window, or the single channel.
    func measure(labels: UnsafePointer<Int32>, count: Int, planes: UnsafePointer<Float>, width w: Int, height h: Int,
                 windowX: Int, windowY: Int, mapping: OutputMapping, keep: (Double, Double) -> Int?) -> [Nucleus] {
        guard count > 0 else { return [] }
        gatherStats(labels, count, w, h)
        var out: [Nucleus] = []
        for l in 1...count {
            let a = area[l]
            guard a >= settings.minArea, a <= settings.maxArea else { continue }
            let box = PixelRect(x: minX[l], y: minY[l], width: maxX[l] - minX[l] + 1, height: maxY[l] - minY[l] + 1)
            // Box-relative centroid; the global one adds the box's global integer position.
            let cx = sumX[l] / Double(a), cy = sumY[l] / Double(a)
            let gx = Double(windowX + box.x) + cx, gy = Double(windowY + box.y) + cy
            guard let patch = keep(gx, gy) else { continue }
            let features = measureOne(labels, Int32(l), box, a, cx, cy, planes, w, h)
            var contour = traceContour()
            let s = mapping.scale
            let ox = mapping.originX + Double(windowX + box.x - 1) * s, oy = mapping.originY + Double(windowY + box.y - 1) * s
            contour.outer = contour.outer.map { Point(x: ox + $0.x * s, y: oy + $0.y * s) }
            contour.holes = contour.holes.map { $0.map { Point(x: ox + $0.x * s, y: oy + $0.y * s) } }
            let centroid = Point(x: mapping.originX + (gx + 0.5) * s, y: mapping.originY + (gy + 0.5) * s)
            out.append(Nucleus(centroid: centroid, contour: contour, features: features, patch: patch))
        }
        return out
    }

    /// Features of every label of a label image (no area limits, no ownership): for tests that
    /// compare with scikit-image on the same masks. Index = label − 1.
    func measureAll(labels: UnsafePointer<Int32>, count: Int, planes: UnsafePointer<Float>, width w: Int, height h: Int) -> [[Double]] {
        gatherStats(labels, count, w, h)
        return (1...max(1, count)).compactMap { l -> [Double]? in
            guard l <= count, area[l] > 0 else { return nil }
            let box = PixelRect(x: minX[l], y: minY[l], width: maxX[l] - minX[l] + 1, height: maxY[l] - minY[l] + 1)
            return measureOne(labels, Int32(l), box, area[l], sumX[l] / Double(area[l]), sumY[l] / Double(area[l]), planes, w, h)
        }
    }

    private func gatherStats(_ labels: UnsafePointer<Int32>, _ count: Int, _ w: Int, _ h: Int) {
        let m = count + 1
        area = [Int](repeating: 0, count: m); sumX = [Double](repeating: 0, count: m); sumY = sumX
        minX = [Int](repeating: Int.max, count: m); minY = minX; maxX = [Int](repeating: -1, count: m); maxY = maxX
        var sx = [Int](repeating: 0, count: m), sy = sx
        for y in 0..<h {
            let row = labels + y * w
            for x in 0..<w {
                let l = Int(row[x])
                if l == 0 { continue }
                area[l] += 1; sx[l] += x; sy[l] += y
                if x < minX[l] { minX[l] = x }
                if x > maxX[l] { maxX[l] = x }
                if y < minY[l] { minY[l] = y }
                maxY[l] = y
            }
        }
        // Centroids relative to the bounding box (integer sums, so exact whatever the window):
        // the same numbers in any tile, and scikit-image's, which measures on the box crop.
        for l in 1..<m where area[l] > 0 {
            sumX[l] = Double(sx[l] - area[l] * minX[l]); sumY[l] = Double(sy[l] - area[l] * minY[l])
        }
    }

    // MARK: one nucleus

    private var cropW = 0, cropH = 0

    /// Fills `crop` ((bw+2)×(bh+2), one pixel of padding) with the nucleus and returns its features.
    private func measureOne(_ labels: UnsafePointer<Int32>, _ l: Int32, _ box: PixelRect, _ a: Int, _ cx: Double, _ cy: Double,
                            _ planes: UnsafePointer<Float>, _ w: Int, _ h: Int) -> [Double] {
        let bw = box.width, bh = box.height, pw = bw + 2, ph = bh + 2
        cropW = pw; cropH = ph
        if crop.count < pw * ph { crop = [UInt8](repeating: 0, count: pw * ph); border = crop }
        let n = w * h
        let p = settings.mpp
        var features: [Double] = []
        features.reserveCapacity(32)

        // Moments and intensity statistics in one pass over the box.
        var vxx = 0.0, vyy = 0.0, vxy = 0.0
        var s1 = [Double](repeating: 0, count: 2), s2 = s1, lo = [Double](repeating: .infinity, count: 2), hi = [Double](repeating: -.infinity, count: 2)
        let nPlanes = singleChannel ? 1 : 2
        crop.withUnsafeMutableBufferPointer { cB in
            let c = cB.baseAddress!
            for i in 0..<(pw * ph) { c[i] = 0 }
            for y in box.y..<box.maxY {
                let row = labels + y * w
                for x in box.x..<box.maxX where row[x] == l {
                    c[(y - box.y + 1) * pw + (x - box.x + 1)] = 1
                    let dx = Double(x - box.x) - cx, dy = Double(y - box.y) - cy
                    vxx += dx * dx; vyy += dy * dy; vxy += dx * dy
                    for k in 0..<nPlanes {
                        let v = Double(planes[k * n + y * w + x])
                        s1[k] += v; s2[k] += v * v
                        if v < lo[k] { lo[k] = v }
                        if v > hi[k] { hi[k] = v }
                    }
                }
            }
        }
        let A = Double(a)
        vxx /= A; vyy /= A; vxy /= A
        // Inertia tensor [[vxx, −vxy], [−vxy, vyy]] as scikit-image's, eigenvalues clipped at 0.
        let half = (vxx + vyy) / 2, rad = (((vxx - vyy) / 2) * ((vxx - vyy) / 2) + vxy * vxy).squareRoot()
        let l1 = max(0, half + rad), l2 = max(0, half - rad)
        let major = 4 * l1.squareRoot(), minor = 4 * l2.squareRoot()
        let ecc = l1 == 0 ? 0 : (1 - l2 / l1).squareRoot()
        let orientation: Double
        if vxx - vyy == 0 { orientation = -vxy < 0 ? -Double.pi / 4 : Double.pi / 4 }
        else { orientation = 0.5 * atan2(vxy == 0 ? 0 : 2 * vxy, vyy - vxx) } // +0 for a zero product, as scikit-image gets
        let perim = perimeter()
        let (convexArea, feret) = hullMeasures()
        let circularity = perim > 0 ? 4 * Double.pi * A / (perim * perim) : 0
        let roundness = major > 0 ? 4 * A / (Double.pi * major * major) : 0
        let aspect = minor > 0 ? major / minor : 0
        features += [A * p * p, perim * p, (4 * A / Double.pi).squareRoot() * p, major * p, minor * p,
                     ecc, orientation, convexArea > 0 ? A / Double(convexArea) : 0, A / Double(bw * bh),
                     circularity, roundness, aspect, Double(convexArea) * p * p, feret * p]
        for k in 0..<nPlanes {
            let mean = s1[k] / A
            features += [mean, max(0, s2[k] / A - mean * mean).squareRoot(), lo[k], hi[k]]
        }
        features += texture(box, planes, w)
        return features
    }

    /// scikit-image's `perimeter(image, neighborhood=4)`: border pixels (foreground with a
    /// 4-neighbour in the background) weighted by the configuration of their border neighbours.
    private func perimeter() -> Double {
        let pw = cropW, ph = cropH
        return crop.withUnsafeBufferPointer { cB in
            border.withUnsafeMutableBufferPointer { bB in
                let c = cB.baseAddress!, b = bB.baseAddress!
                for i in 0..<(pw * ph) { b[i] = 0 }
                for y in 1..<(ph - 1) {
                    for x in 1..<(pw - 1) {
                        let i = y * pw + x
                        if c[i] != 0 && (c[i - 1] == 0 || c[i + 1] == 0 || c[i - pw] == 0 || c[i + pw] == 0) { b[i] = 1 }
                    }
                }
                var total = 0.0
                for y in 1..<(ph - 1) {
                    for x in 1..<(pw - 1) {
                        let i = y * pw + x
                        guard b[i] != 0 else { continue }
                        let code = 1 + 2 * Int(b[i - 1] + b[i + 1] + b[i - pw] + b[i + pw])
                                 + 10 * Int(b[i - pw - 1] + b[i - pw + 1] + b[i + pw - 1] + b[i + pw + 1])
                        total += perimeterWeights[code]
                    }
                }
                return total
            }
        }
    }

    /// Convex area as scikit-image's `convex_hull_image` (pixel centres inside or on the hull of
    /// the pixels' edge midpoints) and the maximum Feret diameter (hull of the pixel corners).
    /// Only the top and bottom pixel of each column can contribute to a hull (a row's end pixel
    /// lies between its column's two), and their points come out already sorted by x, so the
    /// monotone chain needs no sort. Coordinates are doubled so every test is exact in integers.
    private func hullMeasures() -> (Int, Double) {
        let pw = cropW, ph = cropH
        // Per doubled x: lowest and highest doubled y of the candidate points.
        let nx = 2 * pw + 2
        if extentLo.count < nx { extentLo = [Int](repeating: 0, count: nx); extentHi = extentLo; cornerLo = extentLo; cornerHi = extentLo }
        for i in 0..<nx { extentLo[i] = Int.max; extentHi[i] = Int.min; cornerLo[i] = Int.max; cornerHi[i] = Int.min }
        crop.withUnsafeBufferPointer { cB in
            let c = cB.baseAddress!
            for x in 1..<(pw - 1) {
                var top = -1, bottom = -1
                for y in 1..<(ph - 1) where c[y * pw + x] != 0 { if top < 0 { top = y }; bottom = y }
                guard top >= 0 else { continue }
                @inline(__always) func put(_ X: Int, _ Y: Int, corner: Bool) {
                    if corner { cornerLo[X] = min(cornerLo[X], Y); cornerHi[X] = max(cornerHi[X], Y) }
                    else { extentLo[X] = min(extentLo[X], Y); extentHi[X] = max(extentHi[X], Y) }
                }
                for X in [2 * x - 1, 2 * x + 1] {
                    put(X, 2 * top, corner: false); put(X, 2 * bottom, corner: false)
                    put(X, 2 * top - 1, corner: true); put(X, 2 * bottom + 1, corner: true)
                }
                put(2 * x, 2 * top - 1, corner: false); put(2 * x, 2 * bottom + 1, corner: false)
            }
        }
        func sortedPoints(_ lo: [Int], _ hi: [Int]) -> [(Int, Int)] {
            var pts: [(Int, Int)] = []
            for X in 0..<nx where lo[X] != Int.max {
                pts.append((X, lo[X]))
                if hi[X] != lo[X] { pts.append((X, hi[X])) }
            }
            return pts
        }
        let hull = convexHull(sorted: sortedPoints(extentLo, extentHi))
        var inside = 0
        for y in 1..<(ph - 1) {
            for x in 1..<(pw - 1) {
                let px = 2 * x, py = 2 * y
                var ok = true
                for k in 0..<hull.count {
                    let a = hull[k], b = hull[(k + 1) % hull.count]
                    if (b.0 - a.0) * (py - a.1) - (b.1 - a.1) * (px - a.0) < 0 { ok = false; break }
                }
                if ok { inside += 1 }
            }
        }
        let ch = convexHull(sorted: sortedPoints(cornerLo, cornerHi))
        var best = 0
        for i in 0..<ch.count {
            for j in (i + 1)..<max(i + 1, ch.count) {
                let dx = ch[i].0 - ch[j].0, dy = ch[i].1 - ch[j].1
                best = max(best, dx * dx + dy * dy)
            }
        }
        return (inside, Double(best).squareRoot() / 2)
    }

    /// GLCM properties of the quantised signal in the nucleus' box, averaged over 4 angles.
    /// A box has a few hundred pixels but the matrix `levels²` cells, so the symmetric counts are
    /// kept with the list of cells touched, and the properties sum over those cells in row-major
    /// order — the terms and order of `GLCM.properties` (which skips empty cells), so the same
    /// numbers (graycoprops') at a fraction of the cost.
    private func texture(_ box: PixelRect, _ planes: UnsafePointer<Float>, _ w: Int) -> [Double] {
        let bw = box.width, bh = box.height, lv = settings.glcmLevels
        if quant.count < bw * bh { quant = [UInt8](repeating: 0, count: bw * bh) }
        let scale = settings.glcmScale, top = Float(lv - 1)
        var sum = [Double](repeating: 0, count: 6)
        quant.withUnsafeMutableBufferPointer { qB in
            counts.withUnsafeMutableBufferPointer { cB in
                let q = qB.baseAddress!, c = cB.baseAddress!
                for y in 0..<bh {
                    let src = planes + (box.y + y) * w + box.x
                    for x in 0..<bw { q[y * bw + x] = UInt8(min(top, max(0, (src[x] * scale).rounded(.down)))) }
                }
                for (dy, dx) in offsets {
                    touched.removeAll(keepingCapacity: true)
                    var total = 0
                    @inline(__always) func add(_ k: Int) { if c[k] == 0 { touched.append(Int32(k)) }; c[k] += 1 }
                    let y0 = max(0, -dy), y1 = min(bh, bh - dy), x0 = max(0, -dx), x1 = min(bw, bw - dx)
                    if y0 < y1 && x0 < x1 {
                        for y in y0..<y1 {
                            for x in x0..<x1 {
                                let i = Int(q[y * bw + x]), j = Int(q[(y + dy) * bw + x + dx])
                                add(i * lv + j); add(j * lv + i)
                                total += 2
                            }
                        }
                    }
                    sortTouched(lv)
                    let pr = sparseProperties(c, levels: lv, total: total)
                    for k in 0..<6 { sum[k] += pr[k] }
                    for k in touched { c[Int(k)] = 0 }
                }
            }
        }
        return sum.map { $0 / Double(offsets.count) }
    }

    /// Orders the touched cells by index with one bit per cell (cheaper than sorting them).
    private func sortTouched(_ lv: Int) {
        let words = (lv * lv + 63) / 64
        if bits.count < words { bits = [UInt64](repeating: 0, count: words) }
        for k in touched { bits[Int(k) >> 6] |= 1 << UInt64(k & 63) }
        touched.removeAll(keepingCapacity: true)
        for wi in 0..<words where bits[wi] != 0 {
            var word = bits[wi]
            while word != 0 {
                touched.append(Int32(wi * 64 + word.trailingZeroBitCount))
                word &= word - 1
            }
            bits[wi] = 0
        }
    }

    /// `GLCM.properties` over the touched cells only (ascending index = row-major order).
    private func sparseProperties(_ c: UnsafeMutablePointer<UInt32>, levels lv: Int, total: Int) -> [Double] {
        guard total > 0 else { return [0, 0, 0, 0, 0, 1] }
        let norm = 1.0 / Double(total)
        var contrast = 0.0, diss = 0.0, homog = 0.0, asm = 0.0, mi = 0.0, mj = 0.0
        for k in touched {
            let i = Int(k) / lv, j = Int(k) % lv
            let p = Double(c[Int(k)]) * norm, d = Double(i - j)
            contrast += p * d * d; diss += p * abs(d); homog += p / (1 + d * d); asm += p * p
            mi += p * Double(i); mj += p * Double(j)
        }
        var vi = 0.0, vj = 0.0, cov = 0.0
        for k in touched {
            let i = Int(k) / lv, j = Int(k) % lv
            let p = Double(c[Int(k)]) * norm, di = Double(i) - mi, dj = Double(j) - mj
            vi += p * di * di; vj += p * dj * dj; cov += p * di * dj
        }
        let si = vi.squareRoot(), sj = vj.squareRoot()
        let corr = (si < 1e-15 || sj < 1e-15) ? 1 : cov / (si * sj)
        return [contrast, diss, homog, asm.squareRoot(), asm, corr]
    }

    /// Outline of the nucleus in `crop`, in crop pixel-corner coordinates.
    private func traceContour() -> PolygonWithHoles {
        let img = GrayImage(width: cropW, height: cropH, pixels: crop[0..<(cropW * cropH)].map { $0 != 0 ? 255 : 0 })
        return Contours.trace(img).first ?? PolygonWithHoles(outer: [])
    }
}

/// scikit-image's perimeter weights by configuration code (1 + 2·edge + 10·corner neighbours).
private let perimeterWeights: [Double] = {
    var w = [Double](repeating: 0, count: 50)
    for i in [5, 7, 15, 17, 25, 27] { w[i] = 1 }
    for i in [21, 33] { w[i] = 2.0.squareRoot() }
    for i in [13, 23] { w[i] = (1 + 2.0.squareRoot()) / 2 }
    return w
}()

/// Andrew's monotone chain over points sorted by x then y; counter-clockwise in (x right,
/// y down) as the cross-product test above expects (left turns positive), collinear points dropped.
func convexHull(sorted pts: [(Int, Int)]) -> [(Int, Int)] {
    guard pts.count >= 3 else { return pts }
    func cross(_ o: (Int, Int), _ a: (Int, Int), _ b: (Int, Int)) -> Int {
        (a.0 - o.0) * (b.1 - o.1) - (a.1 - o.1) * (b.0 - o.0)
    }
    var lower: [(Int, Int)] = [], upper: [(Int, Int)] = []
    for p in pts {
        while lower.count >= 2 && cross(lower[lower.count - 2], lower[lower.count - 1], p) <= 0 { lower.removeLast() }
        lower.append(p)
    }
    for p in pts.reversed() {
        while upper.count >= 2 && cross(upper[upper.count - 2], upper[upper.count - 1], p) <= 0 { upper.removeLast() }
        upper.append(p)
    }
    return Array(lower.dropLast() + upper.dropLast())
}
