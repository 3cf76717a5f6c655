import Foundation
import ZlibIO

/// NIfTI-1 (.nii, .nii.gz) reading. NIfTI stores RAS+ world coordinates; RadioPath volumes are
/// LPS, so the first two world axes are negated on read.
public enum NIfTI {
    public static func read(_ path: String) throws -> Volume {
        var data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path), options: .mappedIfSafe) } catch {
            throw VolumeError(path: path, reason: "cannot read the file (\(error.localizedDescription))", hint: "check the path and permissions")
        }
        if Gzip.isGzip(data) {
            do { data = try Gzip.decompress(data) } catch { throw VolumeError(path: path, reason: "\(error)") }
        }
        guard data.count >= 348 else { throw VolumeError(path: path, reason: "too short for a NIfTI header (\(data.count) bytes)", hint: "is this a NIfTI file?") }
        let bytes = [UInt8](data.prefix(352))
        let little = readInt32(bytes, 0, littleEndian: true) == 348
        guard little || readInt32(bytes, 0, littleEndian: false) == 348 else {
            throw VolumeError(path: path, reason: "not a NIfTI-1 header (sizeof_hdr is not 348)", hint: "NIfTI-2 and ANALYZE need another reader; convert with SimpleITK or nibabel")
        }
        let i16 = { (o: Int) in Int(readInt16(bytes, o, littleEndian: little)) }
        let f32 = { (o: Int) in Double(Float(bitPattern: UInt32(bitPattern: readInt32(bytes, o, littleEndian: little)))) }
        let ndim = i16(40)
        guard (1...7).contains(ndim) else { throw VolumeError(path: path, reason: "dim[0] = \(ndim) is not 1…7") }
        let dims = (1...3).map { $0 <= ndim ? max(1, i16(40 + 2 * $0)) : 1 }
        let extra = ndim > 3 ? (4...ndim).reduce(1) { $0 * max(1, i16(40 + 2 * $1)) } : 1
        guard extra == 1 else {
            throw VolumeError(path: path, reason: "has \(ndim) dimensions (\(extra) volumes)", hint: "extract one 3-D volume first")
        }
        let datatype = i16(70)
        let voxOffset = Int(f32(108))
        let count = dims[0] * dims[1] * dims[2]
        var slope = f32(112), inter = f32(116)
        if slope == 0 || !slope.isFinite { slope = 1; inter = 0 }
        guard let width = elementWidth(datatype) else {
            throw VolumeError(path: path, reason: "voxel datatype \(datatype) is not supported", hint: "convert to int16, uint8, int32 or float32")
        }
        guard data.count >= voxOffset + count * width else {
            throw VolumeError(path: path, reason: "file holds \(data.count) bytes but the header needs \(voxOffset + count * width)", hint: "the file is truncated")
        }
        var voxels = [Float](repeating: 0, count: count)
        data.withUnsafeBytes { raw in
            let base = raw.baseAddress! + voxOffset
            for n in 0..<count {
                voxels[n] = Float(Double(decode(base + n * width, datatype, little)) * slope + inter)
            }
        }
        let pixdim = (0...3).map { f32(76 + 4 * $0) }
        let (spacing, origin, direction) = geometry(qformCode: i16(252), sformCode: i16(254), pixdim: pixdim, f32: f32)
        return Volume(size: SIMD3(dims[0], dims[1], dims[2]), spacing: spacing, origin: origin, direction: direction, voxels: voxels)
    }

    /// Spacing, LPS origin and LPS direction from the qform (preferred when set, as ITK does
    /// for files whose sform is absent) or the sform.
    private static func geometry(qformCode: Int, sformCode: Int, pixdim: [Double], f32: (Int) -> Double)
        -> (SIMD3<Double>, SIMD3<Double>, [Double]) {
        var spacing = SIMD3(abs(pixdim[1]), abs(pixdim[2]), abs(pixdim[3]))
        spacing.replace(with: SIMD3(repeating: 1), where: spacing .== 0)
        var ras = [1.0, 0, 0, 0, 1, 0, 0, 0, 1]   // row-major direction, RAS
        var offset = SIMD3<Double>(0, 0, 0)
        if sformCode > 0 && qformCode <= 0 {
            let rows = (0..<3).map { r in (0..<4).map { f32(280 + 16 * r + 4 * $0) } }
            for c in 0..<3 {
                let norm = (0..<3).map { rows[$0][c] * rows[$0][c] }.reduce(0, +).squareRoot()
                spacing[c] = norm > 0 ? norm : 1
                for r in 0..<3 { ras[3 * r + c] = norm > 0 ? rows[r][c] / norm : (r == c ? 1 : 0) }
            }
            offset = SIMD3(rows[0][3], rows[1][3], rows[2][3])
        } else if qformCode > 0 {
            let b = f32(256), c = f32(260), d = f32(264)
            let a = max(0, 1 - (b * b + c * c + d * d)).squareRoot()
            let qfac = pixdim[0] < 0 ? -1.0 : 1.0
            ras = [a * a + b * b - c * c - d * d, 2 * (b * c - a * d), 2 * (b * d + a * c) * qfac,
                   2 * (b * c + a * d), a * a + c * c - b * b - d * d, 2 * (c * d - a * b) * qfac,
                   2 * (b * d - a * c), 2 * (c * d + a * b), (a * a + d * d - c * c - b * b) * qfac]
            offset = SIMD3(f32(268), f32(272), f32(276))
        }
        // RAS → LPS: negate the first two world rows.
        var lps = ras
        for c in 0..<3 { lps[c] = -lps[c]; lps[3 + c] = -lps[3 + c] }
        return (spacing, SIMD3(-offset.x, -offset.y, offset.z), lps)
    }

    private static func elementWidth(_ datatype: Int) -> Int? {
        switch datatype {
        case 2, 256: return 1          // uint8, int8
        case 4, 512: return 2          // int16, uint16
        case 8, 768, 16: return 4      // int32, uint32, float32
        case 64: return 8              // float64
        default: return nil
        }
    }

    private static func decode(_ p: UnsafeRawPointer, _ datatype: Int, _ little: Bool) -> Double {
        func u16() -> UInt16 { let v = p.loadUnaligned(as: UInt16.self); return little ? UInt16(littleEndian: v) : UInt16(bigEndian: v) }
        func u32() -> UInt32 { let v = p.loadUnaligned(as: UInt32.self); return little ? UInt32(littleEndian: v) : UInt32(bigEndian: v) }
        func u64() -> UInt64 { let v = p.loadUnaligned(as: UInt64.self); return little ? UInt64(littleEndian: v) : UInt64(bigEndian: v) }
        switch datatype {
        case 2: return Double(p.load(as: UInt8.self))
        case 256: return Double(p.load(as: Int8.self))
        case 4: return Double(Int16(bitPattern: u16()))
        case 512: return Double(u16())
        case 8: return Double(Int32(bitPattern: u32()))
        case 768: return Double(u32())
        case 16: return Double(Float(bitPattern: u32()))
        default: return Double(bitPattern: u64())
        }
    }

    private static func readInt16(_ b: [UInt8], _ o: Int, littleEndian: Bool) -> Int16 {
        let v = littleEndian ? UInt16(b[o]) | UInt16(b[o + 1]) << 8 : UInt16(b[o + 1]) | UInt16(b[o]) << 8
        return Int16(bitPattern: v)
    }

    private static func readInt32(_ b: [UInt8], _ o: Int, littleEndian: Bool) -> Int32 {
        let v = (0..<4).reduce(UInt32(0)) { acc, k in acc | UInt32(b[o + (littleEndian ? k : 3 - k)]) << (8 * k) }
        return Int32(bitPattern: v)
    }
}
