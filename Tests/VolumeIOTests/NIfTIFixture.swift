import Foundation

/// Hand-built NIfTI-1/-2 files with every header field under the test's control, so the
/// qform/sform choice, datatypes, scaling and endianness can be checked against SimpleITK.
struct NIfTIFixture {
    var version = 1
    var dims = [3, 4, 3, 2, 1, 1, 1, 1]
    var datatype = 4                       // int16
    var bitpix = 16
    var pixdim: [Double] = [1, 0.8, 0.9, 2.5, 1, 1, 1, 1]
    var sclSlope = 1.0
    var sclInter = 0.0
    var xyztUnits = 2
    var qformCode = 1
    var sformCode = 0
    var quatern = SIMD3<Double>(0, 0, 0)
    var qoffset = SIMD3<Double>(0, 0, 0)
    var srow: [Double] = [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0]
    var bigEndian = false
    var magic: String? = nil
    /// Voxel bytes as stored (already in the file's byte order); default: a ramp.
    var payload: Data? = nil

    var voxelCount: Int { (1...dims[0]).reduce(1) { $0 * dims[$1] } }

    func bytes() -> Data {
        let headerSize = version == 1 ? 348 : 540
        let offset = version == 1 ? 352 : 544
        var h = [UInt8](repeating: 0, count: offset)
        func put<T: FixedWidthInteger>(_ v: T, _ o: Int) {
            withUnsafeBytes(of: bigEndian ? v.bigEndian : v.littleEndian) { for (k, b) in $0.enumerated() { h[o + k] = b } }
        }
        func putF(_ v: Double, _ o: Int) { version == 1 ? put(Float(v).bitPattern, o) : put(v.bitPattern, o) }
        put(Int32(headerSize), 0)
        if version == 1 {
            for k in 0..<8 { put(Int16(dims[k]), 40 + 2 * k) }
            put(Int16(datatype), 70); put(Int16(bitpix), 72)
            for k in 0..<8 { putF(pixdim[k], 76 + 4 * k) }
            putF(Double(offset), 108); putF(sclSlope, 112); putF(sclInter, 116)
            h[123] = UInt8(xyztUnits)
            put(Int16(qformCode), 252); put(Int16(sformCode), 254)
            for k in 0..<3 { putF(quatern[k], 256 + 4 * k); putF(qoffset[k], 268 + 4 * k) }
            for k in 0..<12 { putF(srow[k], 280 + 4 * k) }
            for (k, b) in (magic ?? "n+1").utf8.enumerated() { h[344 + k] = b }
        } else {
            for (k, b) in (magic ?? "n+2").utf8.enumerated() { h[4 + k] = b }
            for (k, b) in [0x0D, 0x0A, 0x1A, 0x0A].enumerated() { h[8 + k] = UInt8(b) }
            put(Int16(datatype), 12); put(Int16(bitpix), 14)
            for k in 0..<8 { put(Int64(dims[k]), 16 + 8 * k) }
            for k in 0..<8 { putF(pixdim[k], 104 + 8 * k) }
            put(Int64(offset), 168); putF(sclSlope, 176); putF(sclInter, 184)
            put(Int32(qformCode), 344); put(Int32(sformCode), 348)
            for k in 0..<3 { putF(quatern[k], 352 + 8 * k); putF(qoffset[k], 376 + 8 * k) }
            for k in 0..<12 { putF(srow[k], 400 + 8 * k) }
            put(Int32(xyztUnits), 500)
        }
        var data = Data(h)
        data.append(payload ?? ramp())
        return data
    }

    /// Values n·7 mod 251 − 100 (signed types) in the file's type and byte order.
    func ramp() -> Data {
        var d = Data()
        for n in 0..<voxelCount {
            let v = Double((n * 7) % 251) - ([2, 512, 768, 1280].contains(datatype) ? 0 : 100) + (datatype == 16 || datatype == 64 ? 0.25 : 0)
            func add<T: FixedWidthInteger>(_ x: T) { withUnsafeBytes(of: bigEndian ? x.bigEndian : x.littleEndian) { d.append(contentsOf: $0) } }
            switch datatype {
            case 2: add(UInt8(v))
            case 256: add(Int8(v))
            case 4: add(Int16(v))
            case 512: add(UInt16(v))
            case 8: add(Int32(v))
            case 768: add(UInt32(v))
            case 1024: add(Int64(v))
            case 16: add(Float(v).bitPattern)
            case 64: add(v.bitPattern)
            default: d.append(contentsOf: [UInt8](repeating: UInt8(n % 256), count: bitpix / 8))
            }
        }
        return d
    }

    func write(_ path: String) throws { try bytes().write(to: URL(fileURLWithPath: path)) }
}
