import Foundation

/// qform/sform → LPS geometry on read, and LPS geometry → qform + sform on write.
extension NIfTIHeader {
    /// Spacing, LPS origin and LPS direction, choosing qform or sform as ITK 5.4 does:
    /// - both codes 0: origin 0, identity direction;
    /// - the sform wins when it is set, invertible and orthonormal after removing the column
    ///   scales, and (the qform code is 0, or the sform code is 1 = scanner anatomical, or it
    ///   matches the qform within 1e-4), or when it equals the qform element by element;
    /// - otherwise the qform, if its code is set; else the file is refused.
    /// Spacing always comes from pixdim; spacing and origin are scaled from the xyz units
    /// (metres, micrometres) to mm, as in ITK. Matrices are
    /// rounded to the header's precision (float for NIfTI-1) before use, as niftilib does.
    func geometry() throws -> (spacing: SIMD3<Double>, origin: SIMD3<Double>, direction: [Double]) {
        var spacing = SIMD3(abs(pixdim[1]), abs(pixdim[2]), abs(pixdim[3])) * unitScale
        spacing.replace(with: SIMD3(repeating: 1), where: spacing .== 0 .| .!(spacing .< .infinity))
        if qformCode <= 0 && sformCode <= 0 {
            return (spacing, .zero, Volume.identityDirection)
        }
        let q = qformMatrix()
        let s = sformMatrix()
        var preferS = nearlyEqual(s, q, rotation: 1e-5, translation: 1e-7)
        if !preferS || sformCode > 0 {
            if sformCode > 0 && isOrthonormalAffine(s) {
                if qformCode <= 0 || sformCode == 1 {
                    preferS = true
                } else {
                    preferS = veryClose(s, q)
                }
            }
        }
        let m: [[Double]]
        if preferS {
            m = s
        } else if qformCode > 0 {
            m = q
        } else {
            throw VolumeError(path: path, reason: "the sform (code \(sformCode)) is not an orthonormal rotation with scales and there is no qform",
                              hint: "fix the header (e.g. set a qform); ITK/SimpleITK refuse this file too")
        }
        // RAS → LPS: negate the first two world rows; columns are normalised (unit axes).
        var direction = [Double](repeating: 0, count: 9)
        for c in 0..<3 {
            let col = SIMD3(-m[0][c], -m[1][c], m[2][c])
            let norm = (col * col).sum().squareRoot()
            for r in 0..<3 { direction[3 * r + c] = norm > 0 ? col[r] / norm : (r == c ? 1 : 0) }
        }
        // ITK scales the offset by the xyz units too.
        return (spacing, SIMD3(-m[0][3], -m[1][3], m[2][3]) * unitScale, direction)
    }

    /// Rounds to the header's storage precision (NIfTI-1 matrices are float).
    private func stored(_ v: Double) -> Double { version == 1 ? Double(Float(v)) : v }

    /// 4×4 qto_xyz; without a qform code it is diag(pixdim) with no offset (niftilib).
    private func qformMatrix() -> [[Double]] {
        guard qformCode > 0 else {
            return [[pixdim[1], 0, 0, 0], [0, pixdim[2], 0, 0], [0, 0, pixdim[3], 0], [0, 0, 0, 1]].map { $0.map(stored) }
        }
        let r = NIfTIHeader.rotation(fromQuaternion: quatern)
        var scale = SIMD3(pixdim[1], pixdim[2], pixdim[3])
        scale.replace(with: SIMD3(repeating: 1), where: scale .<= 0)
        if pixdim[0] < 0 { scale.z = -scale.z }
        var m = (0..<3).map { i in (0..<3).map { j in stored(r[3 * i + j] * scale[j]) } + [stored(qoffset[i])] }
        m.append([0, 0, 0, 1])
        return m
    }

    /// 4×4 sto_xyz; all zero without an sform code (niftilib).
    private func sformMatrix() -> [[Double]] {
        guard sformCode > 0 else { return Array(repeating: [0, 0, 0, 0], count: 4) }
        return (0..<3).map { i in (0..<4).map { stored(srow[4 * i + $0]) } } + [[0, 0, 0, 1]]
    }

    /// Row-major rotation of a unit quaternion (b, c, d; a ≥ 0 implied), as the NIfTI spec.
    static func rotation(fromQuaternion q: SIMD3<Double>) -> [Double] {
        var (b, c, d) = (q.x, q.y, q.z)
        var a = 1 - (b * b + c * c + d * d)
        if a < 1e-7 {   // a 180° rotation: renormalise b, c, d
            let k = 1 / (b * b + c * c + d * d).squareRoot()
            b *= k; c *= k; d *= k; a = 0
        } else {
            a = a.squareRoot()
        }
        return [a * a + b * b - c * c - d * d, 2 * (b * c - a * d), 2 * (b * d + a * c),
                2 * (b * c + a * d), a * a + c * c - b * b - d * d, 2 * (c * d - a * b),
                2 * (b * d - a * c), 2 * (c * d + a * b), a * a + d * d - c * c - b * b]
    }

    private func nearlyEqual(_ s: [[Double]], _ q: [[Double]], rotation: Double, translation: Double) -> Bool {
        for i in 0..<3 { for j in 0..<3 where abs(s[i][j] - q[i][j]) > rotation { return false } }
        if (0..<3).map({ abs(s[$0][3] - q[$0][3]) }).reduce(0, +) > translation { return false }
        return (0..<4).map { abs(s[3][$0] - q[3][$0]) }.reduce(0, +) <= translation
    }

    /// Invertible, with columns that are orthonormal once their lengths are divided out.
    private func isOrthonormalAffine(_ m: [[Double]]) -> Bool {
        let cols = (0..<3).map { c in SIMD3(m[0][c], m[1][c], m[2][c]) }
        let norms = cols.map { ($0 * $0).sum().squareRoot() }
        guard norms.allSatisfy({ $0 > 0 && $0.isFinite }) else { return false }
        let unit = (0..<3).map { cols[$0] / norms[$0] }
        let det = (unit[0].y * unit[1].z - unit[0].z * unit[1].y) * unit[2].x
            + (unit[0].z * unit[1].x - unit[0].x * unit[1].z) * unit[2].y
            + (unit[0].x * unit[1].y - unit[0].y * unit[1].x) * unit[2].z
        guard abs(det) > 1e-6 else { return false }
        // R·Rᵀ = I within 1e-4 (rows of R are the unit columns' components).
        for i in 0..<3 {
            for j in 0..<3 {
                let dot = (0..<3).map { unit[$0][i] * unit[$0][j] }.reduce(0, +)
                if abs(dot - (i == j ? 1 : 0)) > 1e-4 { return false }
            }
        }
        return true
    }

    /// ITK compares the SVDs of the two 3×3 parts; for an orthonormal-with-scales sform and the
    /// (always orthonormal) qform that amounts to: same column lengths, same unit columns and
    /// same offsets, each within 1e-4.
    private func veryClose(_ s: [[Double]], _ q: [[Double]]) -> Bool {
        for c in 0..<3 {
            let sc = SIMD3(s[0][c], s[1][c], s[2][c]), qc = SIMD3(q[0][c], q[1][c], q[2][c])
            let sn = (sc * sc).sum().squareRoot(), qn = (qc * qc).sum().squareRoot()
            guard abs(sn - qn) <= 1e-4, sn > 0, qn > 0 else { return false }
            guard ((sc / sn) - (qc / qn)).max() <= 1e-4, ((qc / qn) - (sc / sn)).max() <= 1e-4 else { return false }
            guard abs(s[c][3] - q[c][3]) <= 1e-4 else { return false }
        }
        return true
    }

    /// A NIfTI-1 single-file header (348 bytes + 4 empty extension bytes) for `volume`.
    static func nifti1(for volume: Volume, type: VoxelType, path: String) throws -> Data {
        // LPS → RAS: negate the first two world rows of the direction and origin.
        var ras = volume.direction
        for c in 0..<3 { ras[c] = -ras[c]; ras[3 + c] = -ras[3 + c] }
        let origin = SIMD3(-volume.origin.x, -volume.origin.y, volume.origin.z)
        guard let (quatern, qfac) = quaternion(fromRotation: ras) else {
            throw VolumeError(path: path, reason: "the direction matrix \(volume.direction) is not orthonormal",
                              hint: "resample the volume onto an orthonormal grid before writing NIfTI")
        }
        var h = [UInt8](repeating: 0, count: 352)
        func put<T: FixedWidthInteger>(_ v: T, _ o: Int) {
            withUnsafeBytes(of: v.littleEndian) { for (k, b) in $0.enumerated() { h[o + k] = b } }
        }
        func putF(_ v: Double, _ o: Int) { put(Float(v).bitPattern, o) }
        put(Int32(348), 0)
        put(UInt8(ascii: "r"), 38)                    // "regular", as ANALYZE readers expect
        let dims = [3, volume.size.x, volume.size.y, volume.size.z, 1, 1, 1, 1]
        guard dims.allSatisfy({ $0 <= Int(Int16.max) }) else {
            throw VolumeError(path: path, reason: "size \(volume.size) exceeds NIfTI-1's 32767 per axis", hint: "crop or downsample the volume")
        }
        for (k, d) in dims.enumerated() { put(Int16(d), 40 + 2 * k) }
        let (code, bits): (Int16, Int16) = type == .uint8 ? (2, 8) : type == .int16 ? (4, 16) : (16, 32)
        put(code, 70)
        put(bits, 72)
        putF(qfac, 76)
        for k in 0..<3 { putF(volume.spacing[k], 80 + 4 * k) }
        putF(352, 108)                                 // vox_offset
        putF(1, 112)                                   // scl_slope
        putF(0, 116)                                   // scl_inter
        h[123] = 2 | 8                                 // xyzt_units: mm, s
        for (k, b) in "RadioPath".utf8.enumerated() { h[148 + k] = b }
        put(Int16(1), 252)                             // qform_code: scanner anatomical
        put(Int16(1), 254)                             // sform_code: scanner anatomical
        for k in 0..<3 { putF(quatern[k], 256 + 4 * k); putF(origin[k], 268 + 4 * k) }
        for r in 0..<3 {
            for c in 0..<3 { putF(ras[3 * r + c] * volume.spacing[c], 280 + 16 * r + 4 * c) }
            putF(origin[r], 280 + 16 * r + 12)
        }
        for (k, b) in "n+1".utf8.enumerated() { h[344 + k] = b }
        return Data(h)
    }

    /// The NIfTI quaternion (b, c, d) and qfac of an orthonormal row-major rotation; a
    /// left-handed matrix gets qfac −1 with its third column negated. Nil if not orthonormal.
    static func quaternion(fromRotation m: [Double]) -> (SIMD3<Double>, Double)? {
        var r = m
        for i in 0..<3 {
            for j in 0..<3 {
                let dot = (0..<3).map { r[3 * $0 + i] * r[3 * $0 + j] }.reduce(0, +)
                if abs(dot - (i == j ? 1 : 0)) > 1e-4 { return nil }
            }
        }
        let det = r[0] * (r[4] * r[8] - r[5] * r[7]) - r[1] * (r[3] * r[8] - r[5] * r[6]) + r[2] * (r[3] * r[7] - r[4] * r[6])
        var qfac = 1.0
        if det < 0 { qfac = -1; r[2] = -r[2]; r[5] = -r[5]; r[8] = -r[8] }
        let (r11, r12, r13, r21, r22, r23, r31, r32, r33) = (r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8])
        var a = r11 + r22 + r33 + 1, b: Double, c: Double, d: Double
        if a > 0.5 {
            a = 0.5 * a.squareRoot()
            b = 0.25 * (r32 - r23) / a
            c = 0.25 * (r13 - r31) / a
            d = 0.25 * (r21 - r12) / a
        } else {
            let xd = 1 + r11 - (r22 + r33), yd = 1 + r22 - (r11 + r33), zd = 1 + r33 - (r11 + r22)
            if xd > 1 {
                b = 0.5 * xd.squareRoot(); c = 0.25 * (r12 + r21) / b; d = 0.25 * (r13 + r31) / b; a = 0.25 * (r32 - r23) / b
            } else if yd > 1 {
                c = 0.5 * yd.squareRoot(); b = 0.25 * (r12 + r21) / c; d = 0.25 * (r23 + r32) / c; a = 0.25 * (r13 - r31) / c
            } else {
                d = 0.5 * zd.squareRoot(); b = 0.25 * (r13 + r31) / d; c = 0.25 * (r23 + r32) / d; a = 0.25 * (r21 - r12) / d
            }
            if a < 0 { b = -b; c = -c; d = -d }
        }
        return (SIMD3(b, c, d), qfac)
    }
}
