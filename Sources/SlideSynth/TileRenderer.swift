import SeededRandom
import Foundation

/// Renders one tile of one pyramid level straight from the analytic scene.
///
/// A tile at downsample d is rendered on a grid of (tileSize*ss)^2 samples spaced d/ss
/// level-0 pixels apart and box-averaged, so a coarse level has the colours of a
/// downsampled level 0 without level 0 ever being held in memory. Labels
/// (glass/stroma/tumour/pen) are evaluated on a lattice every ~8 level-0 px and
/// per sample only in blocks where the lattice corners disagree (the outlines are
/// smooth, so this is exact up to features far below the lattice step).
///
/// Instances own scratch buffers and are not thread-safe: one per worker.
final class TileRenderer {
    let layout: SlideLayout
    let tileSize: Int
    private var capacity = 0
    private var samples: UnsafeMutablePointer<UInt8>
    private var labels: UnsafeMutablePointer<UInt8>
    private var lattice: UnsafeMutablePointer<UInt8>
    private var latticeCapacity = 0
    /// The finished tile: tileSize * tileSize * 3 RGB bytes.
    let output: UnsafeMutablePointer<UInt8>

    init(layout: SlideLayout, tileSize: Int) {
        self.layout = layout
        self.tileSize = tileSize
        samples = .allocate(capacity: 1)
        labels = .allocate(capacity: 1)
        lattice = .allocate(capacity: 1)
        output = .allocate(capacity: tileSize * tileSize * 3)
    }

    deinit {
        samples.deallocate(); labels.deallocate(); lattice.deallocate(); output.deallocate()
    }

    /// Samples per output pixel along each axis at downsample `d`.
    static func supersampling(_ d: Int) -> Int { d <= 1 ? 1 : min(4, max(2, d / 4)) }

    private func ensure(_ n: Int, _ latticeN: Int) {
        if n > capacity {
            samples.deallocate(); labels.deallocate()
            samples = .allocate(capacity: n * 3)
            labels = .allocate(capacity: n)
            capacity = n
        }
        if latticeN > latticeCapacity {
            lattice.deallocate()
            lattice = .allocate(capacity: latticeN)
            latticeCapacity = latticeN
        }
    }

    /// Renders tile (col, row) of the level at downsample `d` into `output`. With
    /// `glassOnly` the scene is ignored and the result is the plain glass tile, which is
    /// identical to the glass parts of every other tile of that level.
    func render(downsample d: Int, col: Int, row: Int, glassOnly: Bool = false) {
        let ss = TileRenderer.supersampling(d)
        let spacing = Double(d / ss)
        let n = tileSize * ss
        let block = max(1, 8 / (d / ss))
        let nb = n / block
        ensure(n * n, (nb + 1) * (nb + 1))
        let ox = Double(col * tileSize * d), oy = Double(row * tileSize * d)
        let L = layout
        let pal = L.palette
        let levelSalt = mix64(UInt64(d) &+ 0x61A5_5000) ^ L.textureSalt

        // 1. labels
        if glassOnly {
            labels.initialize(repeating: 0, count: n * n)
        } else if block == 1 {
            for j in 0..<n {
                let y = oy + (Double(j) + 0.5) * spacing
                for i in 0..<n { labels[j * n + i] = L.label(ox + (Double(i) + 0.5) * spacing, y) }
            }
        } else {
            let ln = nb + 1
            for bj in 0...nb {
                let y = oy + (Double(bj * block) + 0.5) * spacing
                for bi in 0...nb { lattice[bj * ln + bi] = L.label(ox + (Double(bi * block) + 0.5) * spacing, y) }
            }
            for bj in 0..<nb {
                for bi in 0..<nb {
                    let a = lattice[bj * ln + bi]
                    let uniform = a == lattice[bj * ln + bi + 1] && a == lattice[(bj + 1) * ln + bi] && a == lattice[(bj + 1) * ln + bi + 1]
                    for j in (bj * block)..<((bj + 1) * block) {
                        let rowPtr = labels + j * n
                        if uniform {
                            (rowPtr + bi * block).update(repeating: a, count: block)
                        } else {
                            let y = oy + (Double(j) + 0.5) * spacing
                            for i in (bi * block)..<((bi + 1) * block) { rowPtr[i] = L.label(ox + (Double(i) + 0.5) * spacing, y) }
                        }
                    }
                }
            }
        }

        // 2. base colours
        let g0 = pal.glass[0], g1 = pal.glass[1], g2 = pal.glass[2]
        let s0 = pal.stroma[0], s1 = pal.stroma[1], s2 = pal.stroma[2]
        let t0 = pal.tumourStroma[0], t1 = pal.tumourStroma[1], t2 = pal.tumourStroma[2]
        let p0 = pal.stromaPale[0], p1 = pal.stromaPale[1], p2 = pal.stromaPale[2]
        let ink = L.pen?.color ?? [0, 0, 0]
        let fibre = L.fibreScalePx, pallor = L.pallorScalePx
        let tSalt = L.textureSalt, fSalt = L.textureSalt ^ 0xF1B2, pSalt = L.textureSalt ^ 0x9A11, nSalt = L.textureSalt ^ 0x0153
        let glassNoise = pal.glassNoise * 2, tissueNoise = pal.tissueNoise * 2
        for j in 0..<n {
            let y = oy + (Double(j) + 0.5) * spacing
            let lrow = labels + j * n
            let srow = samples + j * n * 3
            var fibreA = RowNoise(y: y, scaleX: fibre, scaleY: fibre * 0.4, salt: fSalt)
            var fibreB = RowNoise(y: y, scaleX: fibre * 0.5, scaleY: fibre * 0.5, salt: fSalt ^ 1)
            var pale = RowNoise(y: y, scaleX: pallor, scaleY: pallor, salt: pSalt)
            var density = RowNoise(y: y, scaleX: fibre, scaleY: fibre, salt: tSalt)
            let iy = Int(y)
            for i in 0..<n {
                let lab = lrow[i]
                var r: Float, g: Float, b: Float
                if lab == 0 || lab == 3 {
                    let e = (unitFloat(hash2(i, j, levelSalt)) - 0.5) * glassNoise
                    r = g0 + e; g = g1 + e; b = g2 + e
                    if lab == 3 {
                        let x = ox + (Double(i) + 0.5) * spacing
                        let dens = 0.78 + 0.17 * density.at(x)
                        r += (ink[0] - r) * dens; g += (ink[1] - g) * dens; b += (ink[2] - b) * dens
                    }
                } else {
                    let x = ox + (Double(i) + 0.5) * spacing
                    let f = 0.65 * fibreA.at(x) + 0.35 * fibreB.at(x)
                    let w = min(0.8, max(0, (pale.at(x) - 0.45) * 2.5))
                    let shade = 0.9 + 0.2 * f
                    let e = (unitFloat(hash2(Int(x), iy, nSalt)) - 0.5) * tissueNoise
                    let (c0, c1, c2) = lab == 2 ? (t0, t1, t2) : (s0, s1, s2)
                    r = (c0 + (p0 - c0) * w) * shade + e
                    g = (c1 + (p1 - c1) * w) * shade + e
                    b = (c2 + (p2 - c2) * w) * shade + e
                }
                srow[3 * i] = UInt8(min(255, max(0, r + 0.5)))
                srow[3 * i + 1] = UInt8(min(255, max(0, g + 0.5)))
                srow[3 * i + 2] = UInt8(min(255, max(0, b + 0.5)))
            }
        }

        // 3. nuclei (only over tissue samples)
        if !glassOnly {
            let span = Double(n) * spacing
            let box = Box(minX: ox, minY: oy, maxX: ox + span, maxY: oy + span)
            let cSalt = L.textureSalt ^ 0xC4_0A7
            let edge = max(1.0, spacing)
            L.forEachNucleus(in: box) { nu in
                let ext = max(nu.ra, nu.rb) + edge
                let i0 = max(0, Int(((nu.x - ext - ox) / spacing - 0.5).rounded(.down)))
                let i1 = min(n - 1, Int(((nu.x + ext - ox) / spacing - 0.5).rounded(.up)))
                let j0 = max(0, Int(((nu.y - ext - oy) / spacing - 0.5).rounded(.down)))
                let j1 = min(n - 1, Int(((nu.y + ext - oy) / spacing - 0.5).rounded(.up)))
                guard i0 <= i1, j0 <= j1 else { return }
                let col = nu.tumour ? L.tumourNuclei.color : L.stromaNuclei.color
                let n0 = col[0] * nu.shade, n1 = col[1] * nu.shade, n2 = col[2] * nu.shade
                let ira = 1 / nu.ra, irb = 1 / nu.rb
                let soft = nu.rb / edge
                for j in j0...j1 {
                    let dy = oy + (Double(j) + 0.5) * spacing - nu.y
                    for i in i0...i1 {
                        let lab = labels[j * n + i]
                        guard lab == 1 || lab == 2 else { continue }
                        let dx = ox + (Double(i) + 0.5) * spacing - nu.x
                        let u = (dx * nu.cosA + dy * nu.sinA) * ira
                        let v = (-dx * nu.sinA + dy * nu.cosA) * irb
                        let q2 = u * u + v * v
                        guard q2 < 4 else { continue }
                        let alpha = Float(min(1, max(0, (1 - q2.squareRoot()) * soft + 0.5)))
                        guard alpha > 0 else { continue }
                        let xs = Int(ox + (Double(i) + 0.5) * spacing), ys = Int(oy + (Double(j) + 0.5) * spacing)
                        let chrom = 0.86 + 0.28 * unitFloat(hash2(xs, ys, cSalt))
                        let a = alpha * 0.92
                        let s = samples + (j * n + i) * 3
                        s[0] = UInt8(min(255, max(0, Float(s[0]) * (1 - a) + n0 * chrom * a + 0.5)))
                        s[1] = UInt8(min(255, max(0, Float(s[1]) * (1 - a) + n1 * chrom * a + 0.5)))
                        s[2] = UInt8(min(255, max(0, Float(s[2]) * (1 - a) + n2 * chrom * a + 0.5)))
                    }
                }
            }
        }

        // 4. box-average to the output tile
        let ts = tileSize
        if ss == 1 {
            output.update(from: samples, count: ts * ts * 3)
        } else {
            let count = UInt32(ss * ss), half = count / 2
            for oj in 0..<ts {
                for oi in 0..<ts {
                    var r: UInt32 = 0, g: UInt32 = 0, b: UInt32 = 0
                    for sj in 0..<ss {
                        let s = samples + ((oj * ss + sj) * n + oi * ss) * 3
                        for si in 0..<ss {
                            r += UInt32(s[3 * si]); g += UInt32(s[3 * si + 1]); b += UInt32(s[3 * si + 2])
                        }
                    }
                    let o = output + (oj * ts + oi) * 3
                    o[0] = UInt8((r + half) / count); o[1] = UInt8((g + half) / count); o[2] = UInt8((b + half) / count)
                }
            }
        }
    }
}
