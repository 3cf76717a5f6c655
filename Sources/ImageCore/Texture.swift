import Foundation

// MARK: - Grey-level co-occurrence

/// Haralick properties of one grey-level co-occurrence matrix, defined as
/// `skimage.feature.graycoprops` defines them on the normalised matrix p(i, j).
public struct GLCMProperties: Equatable, Sendable {
    /// Σ p·(i−j)²
    public var contrast: Double
    /// Σ p·|i−j|
    public var dissimilarity: Double
    /// Σ p / (1 + (i−j)²)
    public var homogeneity: Double
    /// √ASM
    public var energy: Double
    /// Angular second moment, Σ p²
    public var asm: Double
    /// Σ p·(i−μi)(j−μj) / (σi·σj); 1 when either σ < 1e-15 (a constant image), as scikit-image.
    public var correlation: Double

    public init(contrast: Double, dissimilarity: Double, homogeneity: Double, energy: Double, asm: Double, correlation: Double) {
        self.contrast = contrast; self.dissimilarity = dissimilarity; self.homogeneity = homogeneity
        self.energy = energy; self.asm = asm; self.correlation = correlation
    }

    /// In the order contrast, dissimilarity, homogeneity, energy, ASM, correlation.
    public var values: [Double] { [contrast, dissimilarity, homogeneity, energy, asm, correlation] }
}

/// Grey-level co-occurrence matrices as `skimage.feature.graycomatrix(image, distances, angles,
/// levels, symmetric=True, normed=True)` builds them, with an optional mask.
public enum GLCM {
    /// The pixel offset scikit-image pairs for a distance and an angle (radians, 0 = to the right,
    /// π/2 = down): `dy = round(sin(angle)·d)`, `dx = round(cos(angle)·d)` with its rounding helper,
    /// `trunc(x + ½)` for x > 0 and `trunc(x − ½)` otherwise (halves away from zero, and the sum
    /// is rounded in double first, so 0.49999999999999994 becomes 1).
    public static func offset(distance: Double, angle: Double) -> (dy: Int, dx: Int) {
        @inline(__always) func round(_ x: Double) -> Int { x > 0 ? Int(x + 0.5) : Int(x - 0.5) }
        return (round(sin(angle) * distance), round(cos(angle) * distance))
    }

    /// Symmetric co-occurrence counts (P + Pᵀ) of one offset into `counts` (`levels²` entries,
    /// row-major, overwritten). `image` holds `width·height` grey levels; a pair is counted when both
    /// pixels are inside the image, both values are `< levels` (so a value ≥ `levels` is a cheap
    /// way to leave a pixel out), and, with a `mask`, both mask bytes are non-zero.
    public static func symmetricCounts(_ image: UnsafeBufferPointer<UInt8>, width: Int, height: Int, levels: Int,
                                       offset: (dy: Int, dx: Int), mask: UnsafeBufferPointer<UInt8>? = nil,
                                       into counts: UnsafeMutableBufferPointer<UInt32>) {
        precondition(levels >= 1 && levels <= 256 && counts.count >= levels * levels && image.count >= width * height,
                     "GLCM.symmetricCounts: \(levels) levels, \(counts.count) counts, \(image.count) pixels for \(width)x\(height)")
        precondition(mask == nil || mask!.count >= width * height, "GLCM.symmetricCounts: mask smaller than the image")
        let c = counts.baseAddress!
        for k in 0..<(levels * levels) { c[k] = 0 }
        let (dy, dx) = offset
        // Rows and columns whose partner lies inside the image.
        let y0 = max(0, -dy), y1 = min(height, height - dy), x0 = max(0, -dx), x1 = min(width, width - dx)
        guard y0 < y1, x0 < x1, let img = image.baseAddress else { return }
        let lv = levels, shift = dy * width + dx
        if let m = mask?.baseAddress {
            for y in y0..<y1 {
                let row = y * width
                for x in x0..<x1 {
                    let p = row + x, q = p + shift
                    let i = Int(img[p]), j = Int(img[q])
                    if i < lv && j < lv && m[p] != 0 && m[q] != 0 { c[i * lv + j] &+= 1 }
                }
            }
        } else {
            for y in y0..<y1 {
                let a = img + y * width, b = a + shift
                for x in x0..<x1 {
                    let i = Int(a[x]), j = Int(b[x])
                    if i < lv && j < lv { c[i * lv + j] &+= 1 }
                }
            }
        }
        // P + Pᵀ.
        for i in 0..<lv {
            c[i * lv + i] &*= 2
            for j in (i + 1)..<lv {
                let s = c[i * lv + j] &+ c[j * lv + i]
                c[i * lv + j] = s; c[j * lv + i] = s
            }
        }
    }

    /// Properties of the matrix `counts` (`levels²`, row-major) after normalising it to sum 1. An
    /// all-zero matrix gives 0 for all but correlation, which is 1 (scikit-image's convention).
    public static func properties(_ counts: UnsafeBufferPointer<UInt32>, levels: Int) -> GLCMProperties {
        precondition(counts.count >= levels * levels, "GLCM.properties: \(counts.count) counts for \(levels) levels")
        let lv = levels
        var total: UInt64 = 0
        for k in 0..<(lv * lv) { total += UInt64(counts[k]) }
        let norm = total == 0 ? 1.0 : 1.0 / Double(total)
        var contrast = 0.0, diss = 0.0, homog = 0.0, asm = 0.0, mi = 0.0, mj = 0.0
        for i in 0..<lv {
            for j in 0..<lv {
                let cnt = counts[i * lv + j]
                if cnt == 0 { continue }
                let p = Double(cnt) * norm, d = Double(i - j)
                contrast += p * d * d; diss += p * abs(d); homog += p / (1 + d * d); asm += p * p
                mi += p * Double(i); mj += p * Double(j)
            }
        }
        var vi = 0.0, vj = 0.0, cov = 0.0
        for i in 0..<lv {
            for j in 0..<lv {
                let cnt = counts[i * lv + j]
                if cnt == 0 { continue }
                let p = Double(cnt) * norm, di = Double(i) - mi, dj = Double(j) - mj
                vi += p * di * di; vj += p * dj * dj; cov += p * di * dj
            }
        }
        let si = vi.squareRoot(), sj = vj.squareRoot()
        let corr = (si < 1e-15 || sj < 1e-15) ? 1 : cov / (si * sj)
        return GLCMProperties(contrast: contrast, dissimilarity: diss, homogeneity: homog,
                              energy: asm.squareRoot(), asm: asm, correlation: corr)
    }

    /// Properties for every distance and angle (`result[d][a]`) of a grey-level image whose values
    /// are `< levels`; pixels where `mask` is 0 do not pair. Same numbers as `graycoprops` on
    /// `graycomatrix(image, distances, angles, levels, symmetric=True, normed=True)`.
    public static func properties(_ image: GrayImage, distances: [Double], angles: [Double], levels: Int,
                                  mask: GrayImage? = nil) -> [[GLCMProperties]] {
        precondition(mask == nil || (mask!.width == image.width && mask!.height == image.height),
                     "GLCM.properties: mask size differs from the image")
        precondition(image.pixels.allSatisfy { Int($0) < levels },
                     "GLCM.properties: grey values must be < levels (\(levels)); quantise the image first")
        var counts = [UInt32](repeating: 0, count: levels * levels)
        return image.pixels.withUnsafeBufferPointer { img in
            counts.withUnsafeMutableBufferPointer { cB in
                func one(_ d: Double, _ a: Double, _ m: UnsafeBufferPointer<UInt8>?) -> GLCMProperties {
                    symmetricCounts(img, width: image.width, height: image.height, levels: levels,
                                    offset: offset(distance: d, angle: a), mask: m, into: cB)
                    return properties(UnsafeBufferPointer(cB), levels: levels)
                }
                return distances.map { d in
                    angles.map { a in
                        if let mask { return mask.pixels.withUnsafeBufferPointer { one(d, a, $0) } }
                        return one(d, a, nil)
                    }
                }
            }
        }
    }
}

// MARK: - Local binary patterns

/// Rotation-invariant uniform local binary patterns with 8 neighbours at radius 1, exactly as
/// `skimage.feature.local_binary_pattern(image, P=8, R=1, method="uniform")` computes them:
///
/// - neighbour k (k = 0…7) sits at row offset `−sin(2πk/8)`, column offset `cos(2πk/8)`, both
///   rounded to 5 decimals (so the diagonals are ±0.70711), and is read by bilinear interpolation
///   in double precision with pixels outside the image counting as 0;
/// - bit k is set when the neighbour is ≥ the centre;
/// - the pattern is uniform when the bit sequence 0…7 changes at most twice (scikit-image does not
///   count the wrap from bit 7 back to bit 0); a uniform pattern's code is its number of set bits
///   (0…8), any other pattern's code is 9.
public enum LBP {
    /// Number of distinct codes (0…9).
    public static let uniformBins = 10

    /// Codes of a `width·height` grey image into `codes` (same size, values 0…9). `scratch` needs
    /// `(width+2)·(height+2)` doubles (a zero-padded copy of the image). Runs on the calling thread.
    public static func uniformCodes(_ image: UnsafeBufferPointer<UInt8>, width w: Int, height h: Int,
                                    into codes: UnsafeMutableBufferPointer<UInt8>, scratch: UnsafeMutableBufferPointer<Double>) {
        let pw = w + 2
        precondition(image.count >= w * h && codes.count >= w * h && scratch.count >= pw * (h + 2),
                     "LBP.uniformCodes: buffers too small for \(w)x\(h)")
        guard w > 0 && h > 0 else { return }
        let img = image.baseAddress!, out = codes.baseAddress!, pad = scratch.baseAddress!
        for k in 0..<pw { pad[k] = 0; pad[(h + 1) * pw + k] = 0 }
        for y in 0..<h {
            let r = pad + (y + 1) * pw, s = img + y * w
            r[0] = 0; r[w + 1] = 0
            for x in 0..<w { r[x + 1] = Double(s[x]) }
        }
        // Fractional parts of (index ± 0.70711) exactly as scikit-image forms them: the sample
        // position is `index + offset` in double, its weight that minus its floor. Both depend on the
        // index's magnitude through rounding, so they are tabulated per row and column.
        let n = max(w, h)
        let fPlus = UnsafeMutablePointer<Double>.allocate(capacity: n)
        let fMinus = UnsafeMutablePointer<Double>.allocate(capacity: n)
        defer { fPlus.deallocate(); fMinus.deallocate() }
        for i in 0..<n {
            let p = Double(i) + diagonal, m = Double(i) - diagonal
            fPlus[i] = p - p.rounded(.down); fMinus[i] = m - m.rounded(.down)
        }
        uniformCodeTable.withUnsafeBufferPointer { tB in
            let table = tB.baseAddress!
            for y in 0..<h {
                let up = pad + y * pw + 1, mid = up + pw, dn = mid + pw // column x of row y−1, y, y+1
                let drUp = fMinus[y], drDn = fPlus[y] // weight of the lower of the two rows sampled
                let o = out + y * w
                // Four pixels at a time in SIMD lanes (same IEEE operations per lane, so the same bits).
                var x = 0
                while x + 4 <= w {
                    let c = load4(mid + x)
                    let uL = load4(up + x - 1), u0 = load4(up + x), uR = load4(up + x + 1)
                    let mL = load4(mid + x - 1), mR = load4(mid + x + 1)
                    let dL = load4(dn + x - 1), d0 = load4(dn + x), dR = load4(dn + x + 1)
                    let dcR = load4(fPlus + x), dcL = load4(fMinus + x)
                    let vUR = bilinear(uL: u0, uR: uR, dL: c, dR: mR, SIMD4(repeating: drUp), dcR)
                    let vUL = bilinear(uL: uL, uR: u0, dL: mL, dR: c, SIMD4(repeating: drUp), dcL)
                    let vDL = bilinear(uL: mL, uR: c, dL: dL, dR: d0, SIMD4(repeating: drDn), dcL)
                    let vDR = bilinear(uL: c, uR: mR, dL: d0, dR: dR, SIMD4(repeating: drDn), dcR)
                    var bits = SIMD4<Int64>(repeating: 0)
                    bits.replace(with: 1, where: mR .>= c); bits.replace(with: bits | 2, where: vUR .>= c)
                    bits.replace(with: bits | 4, where: u0 .>= c); bits.replace(with: bits | 8, where: vUL .>= c)
                    bits.replace(with: bits | 16, where: mL .>= c); bits.replace(with: bits | 32, where: vDL .>= c)
                    bits.replace(with: bits | 64, where: d0 .>= c); bits.replace(with: bits | 128, where: vDR .>= c)
                    o[x] = table[Int(bits[0])]; o[x + 1] = table[Int(bits[1])]
                    o[x + 2] = table[Int(bits[2])]; o[x + 3] = table[Int(bits[3])]
                    x += 4
                }
                while x < w {
                    let c = mid[x]
                    let dcR = fPlus[x], dcL = fMinus[x]
                    // Neighbours 0, 2, 4, 6 sit on pixel centres: right, up, left, down.
                    var bits = (mid[x + 1] >= c ? 1 : 0) | (up[x] >= c ? 4 : 0) | (mid[x - 1] >= c ? 16 : 0) | (dn[x] >= c ? 64 : 0)
                    // 1: up-right (rows y−1, y; columns x, x+1)
                    if bilinear(up[x], up[x + 1], mid[x], mid[x + 1], drUp, dcR) >= c { bits |= 2 }
                    // 3: up-left (rows y−1, y; columns x−1, x)
                    if bilinear(up[x - 1], up[x], mid[x - 1], mid[x], drUp, dcL) >= c { bits |= 8 }
                    // 5: down-left (rows y, y+1; columns x−1, x)
                    if bilinear(mid[x - 1], mid[x], dn[x - 1], dn[x], drDn, dcL) >= c { bits |= 32 }
                    // 7: down-right (rows y, y+1; columns x, x+1)
                    if bilinear(mid[x], mid[x + 1], dn[x], dn[x + 1], drDn, dcR) >= c { bits |= 128 }
                    o[x] = table[bits]
                    x += 1
                }
            }
        }
    }

    /// Codes of a grey image as a `GrayImage` of values 0…9.
    public static func uniformCodes(_ image: GrayImage) -> GrayImage {
        var codes = [UInt8](repeating: 0, count: image.width * image.height)
        let scratch = UnsafeMutableBufferPointer<Double>.allocate(capacity: (image.width + 2) * (image.height + 2))
        defer { scratch.deallocate() }
        image.pixels.withUnsafeBufferPointer { img in
            codes.withUnsafeMutableBufferPointer { uniformCodes(img, width: image.width, height: image.height, into: $0, scratch: scratch) }
        }
        return GrayImage(width: image.width, height: image.height, pixels: codes)
    }

    /// Share of each code 0…9 among the pixels whose mask byte is non-zero (all pixels without a
    /// mask); sums to 1, or all zeros when no pixel counts.
    public static func histogram(_ codes: UnsafeBufferPointer<UInt8>, mask: UnsafeBufferPointer<UInt8>? = nil) -> [Double] {
        var counts = [Int](repeating: 0, count: uniformBins)
        var total = 0
        if let mask {
            precondition(mask.count >= codes.count, "LBP.histogram: mask smaller than the codes")
            for i in codes.indices where mask[i] != 0 { counts[Int(codes[i])] += 1; total += 1 }
        } else {
            for v in codes { counts[Int(v)] += 1 }
            total = codes.count
        }
        return counts.map { total == 0 ? 0 : Double($0) / Double(total) }
    }

    /// Diagonal neighbour offset: cos(π/4) rounded to 5 decimals, as scikit-image rounds it.
    static let diagonal = 0.70711

    /// Code of each 8-bit pattern (bit k = neighbour k ≥ centre).
    static let uniformCodeTable: [UInt8] = (0..<256).map { b in
        let changes = ((b ^ (b >> 1)) & 0x7F).nonzeroBitCount // bits k and k+1 differ, k = 0…6
        return changes <= 2 ? UInt8(b.nonzeroBitCount) : 9
    }
}

/// scikit-image's bilinear interpolation, operation for operation (no fused multiply-add), for a
/// sample between rows a (top) / b (bottom) with weight `dr` on the bottom and columns 0 / 1 with
/// weight `dc` on the right: `(1−dr)·((1−dc)·a0 + dc·a1) + dr·((1−dc)·b0 + dc·b1)`.
@inline(__always)
private func bilinear(uL a0: SIMD4<Double>, uR a1: SIMD4<Double>, dL b0: SIMD4<Double>, dR b1: SIMD4<Double>,
                      _ dr: SIMD4<Double>, _ dc: SIMD4<Double>) -> SIMD4<Double> {
    let one = SIMD4<Double>(repeating: 1)
    let top = (one - dc) * a0 + dc * a1
    let bottom = (one - dc) * b0 + dc * b1
    return (one - dr) * top + dr * bottom
}

@inline(__always)
private func load4(_ p: UnsafeMutablePointer<Double>) -> SIMD4<Double> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD4<Double>.self)
}

@inline(__always)
private func bilinear(_ a0: Double, _ a1: Double, _ b0: Double, _ b1: Double, _ dr: Double, _ dc: Double) -> Double {
    let top = (1 - dc) * a0 + dc * a1
    let bottom = (1 - dc) * b0 + dc * b1
    return (1 - dr) * top + dr * bottom
}
