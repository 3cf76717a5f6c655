import Foundation

/// Moran's I and Geary's C (IBSI 3.1.26–27) over the intensity mask with inverse-distance
/// weights w_ij = 1/‖x_i − x_j‖ between all voxel pairs. Small ROIs sum the pairs directly; large
/// ones use the fact that w depends only on the offset, so the pair sums are correlations that
/// a zero-padded FFT evaluates exactly (to rounding) in O(M log M) instead of O(N²).
enum SpatialAutocorrelation {
    /// Below this many voxels the direct O(N²) sum is cheaper than the transforms.
    static let directLimit = 2000

    static func compute(_ roi: PreparedROI, forceDirect: Bool = false) -> (moran: Double, geary: Double) {
        guard !roi.isEmpty else { return (.nan, .nan) }
        // The intensity mask's box.
        var lo = roi.size, hi = SIMD3<Int>(-1, -1, -1)
        var n = 0, sum = 0.0
        for k in 0..<roi.size.z { for j in 0..<roi.size.y { for i in 0..<roi.size.x {
            let v = roi.index(i, j, k)
            if roi.intensityMask[v] {
                lo = pointwiseMin(lo, SIMD3(i, j, k)); hi = pointwiseMax(hi, SIMD3(i, j, k))
                n += 1; sum += roi.intensities[v]
            }
        } } }
        guard n > 1 else { return (.nan, .nan) }
        let mean = sum / Double(n)
        let box = hi &- lo &+ 1
        var z = [Double](repeating: 0, count: box.x * box.y * box.z)
        var m = [Double](repeating: 0, count: z.count)
        for k in 0..<box.z { for j in 0..<box.y { for i in 0..<box.x {
            let v = roi.index(lo.x + i, lo.y + j, lo.z + k)
            if roi.intensityMask[v] {
                let b = i + box.x * (j + box.y * k)
                z[b] = roi.intensities[v] - mean; m[b] = 1
            }
        } } }
        var sumSquares = 0.0
        for v in z { sumSquares += v * v }
        guard sumSquares > 0 else { return (.nan, .nan) }

        let sums = (forceDirect || n <= directLimit)
            ? direct(z, m, box, roi.spacing)
            : transformed(z, m, box, roi.spacing)
        let nd = Double(n)
        let moran = nd / sums.weights * sums.zz / sumSquares
        let geary = (nd - 1) / (2 * sums.weights) * sums.squaredDifferences / sumSquares
        return (moran, geary)
    }

    struct PairSums { var weights = 0.0, zz = 0.0, squaredDifferences = 0.0 }

    static func direct(_ z: [Double], _ m: [Double], _ box: SIMD3<Int>, _ spacing: SIMD3<Double>) -> PairSums {
        var pos: [SIMD3<Double>] = [], val: [Double] = []
        for k in 0..<box.z { for j in 0..<box.y { for i in 0..<box.x {
            let b = i + box.x * (j + box.y * k)
            if m[b] > 0 { pos.append(SIMD3(Double(i), Double(j), Double(k)) * spacing); val.append(z[b]) }
        } } }
        var s = PairSums()
        pos.withUnsafeBufferPointer { p in
            val.withUnsafeBufferPointer { x in
                for a in 0..<p.count {
                    var w = 0.0, zz = 0.0, dd = 0.0
                    for b in (a + 1)..<p.count {
                        let d = p[a] - p[b]
                        let wab = 1 / (d * d).sum().squareRoot()
                        w += wab; zz += wab * x[b]; dd += wab * (x[a] - x[b]) * (x[a] - x[b])
                    }
                    s.weights += 2 * w; s.zz += 2 * zz * x[a]; s.squaredDifferences += 2 * dd
                }
            }
        }
        return s
    }

    /// Σ_d w(d)·c(d) for the correlations c of z·z, m·m and z²·m, via Parseval: one complex FFT
    /// carries z (real) and m (imaginary), another z² and the weights.
    static func transformed(_ z: [Double], _ m: [Double], _ box: SIMD3<Int>, _ spacing: SIMD3<Double>) -> PairSums {
        let P = SIMD3(FFT.paddedLength(2 * box.x - 1), FFT.paddedLength(2 * box.y - 1), FFT.paddedLength(2 * box.z - 1))
        let total = P.x * P.y * P.z
        var re1 = [Double](repeating: 0, count: total), im1 = re1, re2 = re1, im2 = re1
        for k in 0..<box.z { for j in 0..<box.y { for i in 0..<box.x {
            let b = i + box.x * (j + box.y * k), t = i + P.x * (j + P.y * k)
            re1[t] = z[b]; im1[t] = m[b]; re2[t] = z[b] * z[b]
        } } }
        // Inverse-distance weights at every offset the box allows, wrapped around the period.
        for dk in -(box.z - 1)...(box.z - 1) { for dj in -(box.y - 1)...(box.y - 1) { for di in -(box.x - 1)...(box.x - 1) {
            if di == 0 && dj == 0 && dk == 0 { continue }
            let d = SIMD3(Double(di), Double(dj), Double(dk)) * spacing
            let t = (di + P.x) % P.x + P.x * ((dj + P.y) % P.y + P.y * ((dk + P.z) % P.z))
            im2[t] = 1 / (d * d).sum().squareRoot()
        } } }
        FFT.transform3D(&re1, &im1, P)
        FFT.transform3D(&re2, &im2, P)
        var s = PairSums()
        for k in 0..<P.z { for j in 0..<P.y { for i in 0..<P.x {
            let t = i + P.x * (j + P.y * k)
            let r = (P.x - i) % P.x + P.x * ((P.y - j) % P.y + P.y * ((P.z - k) % P.z))
            // Split the packed spectra: X = (F(k) + F*(−k))/2, Y = (F(k) − F*(−k))/(2i).
            let zr = 0.5 * (re1[t] + re1[r]), zi = 0.5 * (im1[t] - im1[r])
            let mr = 0.5 * (im1[t] + im1[r]), mi = -0.5 * (re1[t] - re1[r])
            let qr = 0.5 * (re2[t] + re2[r]), qi = 0.5 * (im2[t] - im2[r])
            let w = 0.5 * (im2[t] + im2[r])   // the weights' spectrum is real (w is even)
            s.zz += w * (zr * zr + zi * zi)
            s.weights += w * (mr * mr + mi * mi)
            s.squaredDifferences += w * (qr * mr + qi * mi)   // Re(conj(Q)·M)
        } } }
        let scale = 1 / Double(total)
        s.zz *= scale; s.weights *= scale
        // Σ w (z_i − z_j)² = 2 Σ w z_i² m_j − 2 Σ w z_i z_j.
        s.squaredDifferences = 2 * s.squaredDifferences * scale - 2 * s.zz
        return s
    }
}

/// Radix-2 complex FFT (split real/imaginary arrays), forward, along every axis of a 3-D grid.
enum FFT {
    static func paddedLength(_ n: Int) -> Int {
        var p = 1
        while p < n { p <<= 1 }
        return p
    }

    static func transform3D(_ re: inout [Double], _ im: inout [Double], _ size: SIMD3<Int>) {
        for axis in 0..<3 where size[axis] > 1 {
            let n = size[axis]
            let stride = axis == 0 ? 1 : (axis == 1 ? size.x : size.x * size.y)
            var other = size
            other[axis] = 1
            let plan = Plan(n)
            var lr = [Double](repeating: 0, count: n), li = lr
            re.withUnsafeMutableBufferPointer { r in
                im.withUnsafeMutableBufferPointer { m in
                    lr.withUnsafeMutableBufferPointer { a in
                        li.withUnsafeMutableBufferPointer { b in
                            for k in 0..<other.z { for j in 0..<other.y { for i in 0..<other.x {
                                let base = i + size.x * (j + size.y * k)
                                for q in 0..<n { a[q] = r[base + q * stride]; b[q] = m[base + q * stride] }
                                plan.run(a, b)
                                for q in 0..<n { r[base + q * stride] = a[q]; m[base + q * stride] = b[q] }
                            } } }
                        }
                    }
                }
            }
        }
    }

    struct Plan {
        let n: Int
        let reversed: [Int]
        let cosines: [Double], sines: [Double]

        init(_ n: Int) {
            self.n = n
            let bits = n.trailingZeroBitCount
            reversed = (0..<n).map { i in
                var r = 0, x = i
                for _ in 0..<bits { r = r << 1 | x & 1; x >>= 1 }
                return r
            }
            cosines = (0..<max(1, n / 2)).map { cos(-2 * Double.pi * Double($0) / Double(n)) }
            sines = (0..<max(1, n / 2)).map { sin(-2 * Double.pi * Double($0) / Double(n)) }
        }

        func run(_ re: UnsafeMutableBufferPointer<Double>, _ im: UnsafeMutableBufferPointer<Double>) {
            for i in 0..<n {
                let r = reversed[i]
                if r > i { re.swapAt(i, r); im.swapAt(i, r) }
            }
            var len = 2
            while len <= n {
                let half = len / 2, step = n / len
                var start = 0
                while start < n {
                    for q in 0..<half {
                        let c = cosines[q * step], s = sines[q * step]
                        let a = start + q, b = a + half
                        let tr = re[b] * c - im[b] * s, ti = re[b] * s + im[b] * c
                        re[b] = re[a] - tr; im[b] = im[a] - ti
                        re[a] += tr; im[a] += ti
                    }
                    start += len
                }
                len <<= 1
            }
        }
    }
}
