import Foundation

/// Exact Euclidean distance transform (Felzenszwalb & Huttenlocher 2012), linear in the pixels:
/// for every foreground pixel the squared distance to the nearest background pixel, as
/// `scipy.ndimage.distance_transform_edt(mask) ** 2` gives it (pixels beyond the plane are not
/// background). Squared distances of pixel centres are integers, so the result is exact and
/// the watershed can bucket-sort it.
enum DistanceTransform {
    /// Squared distances above this are clamped to it (nuclei are far smaller; a blob this thick
    /// is never a nucleus and only its flooding order inside changes).
    static let cap: Int32 = 65_535

    /// `mask` (w·h, non-zero = foreground) into `out` (w·h squared distances, 0 on background).
    /// `column` holds w·h Int32; `f`, `v`, `z` hold max(w, h) + 1 values each.
    static func squared(_ mask: UnsafePointer<UInt8>, width w: Int, height h: Int, into out: UnsafeMutablePointer<Int32>,
                        column: UnsafeMutablePointer<Int32>, f: UnsafeMutablePointer<Double>,
                        v: UnsafeMutablePointer<Int32>, z: UnsafeMutablePointer<Double>) {
        let inf = Int32.max / 4
        // 1. Vertical: distance (in rows) to the nearest background pixel of the same column,
        //    two sweeps over whole rows (vectorisable).
        for x in 0..<w { column[x] = mask[x] == 0 ? 0 : inf }
        for y in 1..<max(1, h) {
            let m = mask + y * w, c = column + y * w, up = c - w
            for x in 0..<w { c[x] = m[x] == 0 ? 0 : (up[x] == inf ? inf : up[x] + 1) }
        }
        if h >= 2 {
            var y = h - 2
            while y >= 0 {
                let c = column + y * w, dn = c + w
                for x in 0..<w where dn[x] != inf && dn[x] + 1 < c[x] { c[x] = dn[x] + 1 }
                y -= 1
            }
        }
        // 2. Horizontal: lower envelope of parabolas (q − x)² + column(q)² along each row.
        for y in 0..<h {
            let c = column + y * w, o = out + y * w
            var k = -1
            for q in 0..<w {
                let d = c[q]
                if d == inf { continue }
                let fq = Double(d) * Double(d)
                f[q] = fq
                while k >= 0 {
                    let p = Int(v[k])
                    let s = ((fq + Double(q * q)) - (f[p] + Double(p * p))) / Double(2 * (q - p))
                    if s <= z[k] { k -= 1 } else { break }
                }
                if k < 0 {
                    k = 0; v[0] = Int32(q); z[0] = -.infinity
                } else {
                    let p = Int(v[k])
                    let s = ((fq + Double(q * q)) - (f[p] + Double(p * p))) / Double(2 * (q - p))
                    k += 1; v[k] = Int32(q); z[k] = s
                }
            }
            if k < 0 {
                for x in 0..<w { o[x] = cap } // no background in this row's reach: all far
                continue
            }
            z[k + 1] = .infinity
            var j = 0
            for x in 0..<w {
                while z[j + 1] < Double(x) { j += 1 }
                let p = Int(v[j])
                let d = Double((x - p) * (x - p)) + f[p]
                o[x] = d >= Double(cap) ? cap : Int32(d)
            }
        }
    }
}
