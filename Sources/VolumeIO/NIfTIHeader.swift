import Foundation

/// The fields of a NIfTI-1 (348-byte) or NIfTI-2 (540-byte) header that give a 3-D volume.
struct NIfTIHeader {
    var path: String
    var version: Int
    var littleEndian: Bool
    var singleFile: Bool
    var size: SIMD3<Int>
    var type: ScalarType
    var pixdim: [Double]          // pixdim[0…3]
    var unitScale: Double          // xyz units → mm
    var voxOffset: Int
    var slope: Double
    var intercept: Double
    var qformCode: Int
    var sformCode: Int
    var quatern: SIMD3<Double>     // b, c, d
    var qoffset: SIMD3<Double>
    var srow: [Double]             // 3 rows × 4

    init(_ data: Data, path: String) throws {
        guard data.count >= 348 else {
            throw VolumeError(path: path, reason: "is \(data.count) bytes, too short for a NIfTI header (348)",
                              hint: "the file is truncated or not NIfTI")
        }
        let head = [UInt8](data.prefix(540))
        let r = ByteReader(bytes: head, littleEndian: true)
        let sizeLE = r.i32(0), sizeBE = r.swapped.i32(0)
        if sizeLE == 348 || sizeBE == 348 {
            try self.init(nifti1: r.with(littleEndian: sizeLE == 348), path: path)
        } else if sizeLE == 540 || sizeBE == 540 {
            guard data.count >= 540 else {
                throw VolumeError(path: path, reason: "is \(data.count) bytes, too short for a NIfTI-2 header (540)", hint: "the file is truncated")
            }
            try self.init(nifti2: r.with(littleEndian: sizeLE == 540), path: path)
        } else {
            throw VolumeError(path: path, reason: "is not NIfTI (the first 4 bytes, sizeof_hdr, are neither 348 nor 540)",
                              hint: "check the file type; NRRD and DICOM have their own readers")
        }
    }

    private init(nifti1 r: ByteReader, path: String) throws {
        let magic = r.string(344, 4)
        guard magic == "n+1" || magic == "ni1" else {
            throw VolumeError(path: path, reason: "has a 348-byte header without the NIfTI-1 magic (an ANALYZE 7.5 file?); its orientation is undefined",
                              hint: "convert to NIfTI with a tool that knows the orientation")
        }
        let dims = (0...7).map { Int(r.i16(40 + 2 * $0)) }
        try self.init(path: path, version: 1, littleEndian: r.littleEndian, singleFile: magic == "n+1",
                      dims: dims, datatype: Int(r.i16(70)), pixdim: (0...3).map { Double(r.f32(76 + 4 * $0)) },
                      xyztUnits: Int(r.bytes[123]), voxOffset: Double(r.f32(108)),
                      slope: Double(r.f32(112)), intercept: Double(r.f32(116)),
                      qformCode: Int(r.i16(252)), sformCode: Int(r.i16(254)),
                      quatern: SIMD3(Double(r.f32(256)), Double(r.f32(260)), Double(r.f32(264))),
                      qoffset: SIMD3(Double(r.f32(268)), Double(r.f32(272)), Double(r.f32(276))),
                      srow: (0..<12).map { Double(r.f32(280 + 4 * $0)) })
    }

    private init(nifti2 r: ByteReader, path: String) throws {
        let magic = r.string(4, 4)
        guard magic == "n+2" || magic == "ni2" else {
            throw VolumeError(path: path, reason: "has a 540-byte header without the NIfTI-2 magic", hint: "the file is damaged or not NIfTI-2")
        }
        let dims = (0...7).map { Int(r.i64(16 + 8 * $0)) }
        try self.init(path: path, version: 2, littleEndian: r.littleEndian, singleFile: magic == "n+2",
                      dims: dims, datatype: Int(r.i16(12)), pixdim: (0...3).map { r.f64(104 + 8 * $0) },
                      xyztUnits: Int(r.i32(500)), voxOffset: Double(r.i64(168)),
                      slope: r.f64(176), intercept: r.f64(184),
                      qformCode: Int(r.i32(344)), sformCode: Int(r.i32(348)),
                      quatern: SIMD3(r.f64(352), r.f64(360), r.f64(368)),
                      qoffset: SIMD3(r.f64(376), r.f64(384), r.f64(392)),
                      srow: (0..<12).map { r.f64(400 + 8 * $0) })
    }

    private init(path: String, version: Int, littleEndian: Bool, singleFile: Bool, dims: [Int], datatype: Int,
                 pixdim: [Double], xyztUnits: Int, voxOffset: Double, slope: Double, intercept: Double,
                 qformCode: Int, sformCode: Int, quatern: SIMD3<Double>, qoffset: SIMD3<Double>, srow: [Double]) throws {
        let ndim = dims[0]
        guard (1...7).contains(ndim) else {
            throw VolumeError(path: path, reason: "dim[0] = \(ndim) is not 1…7", hint: "the header is damaged")
        }
        for d in 1...ndim where dims[d] < 1 {
            throw VolumeError(path: path, reason: "dim[\(d)] = \(dims[d]) is not a positive size", hint: "the header is damaged")
        }
        guard dims[1...ndim].allSatisfy({ $0 < 1 << 31 }), dims[1...ndim].reduce(1.0, { $0 * Double($1) }) < 1e12 else {
            throw VolumeError(path: path, reason: "dims \(dims[1...ndim].map(String.init).joined(separator: "×")) are implausibly large", hint: "the header is damaged")
        }
        let extra = ndim > 3 ? (4...ndim).reduce(1) { $0 * dims[$1] } : 1
        guard extra == 1 else {
            throw VolumeError(path: path, reason: "is \(ndim)-D and holds \(extra) volumes (dim = \(dims[1...ndim].map(String.init).joined(separator: "×")))",
                              hint: "RadioPath reads one 3-D volume; extract the one you want first (e.g. SimpleITK image[:, :, :, t])")
        }
        self.path = path
        self.version = version
        self.littleEndian = littleEndian
        self.singleFile = singleFile
        let dim = { (d: Int) in d <= ndim ? dims[d] : 1 }   // a 2-D image is one slice
        size = SIMD3(dim(1), dim(2), dim(3))
        type = try NIfTIHeader.scalarType(datatype, path: path)
        self.pixdim = pixdim
        switch xyztUnits & 7 {
        case 1: unitScale = 1000        // metres
        case 3: unitScale = 0.001       // micrometres
        default: unitScale = 1          // millimetres or unknown
        }
        // vox_offset is 0 in a .hdr/.img pair; a single file has its voxels after the header.
        guard voxOffset.isFinite, voxOffset >= 0, voxOffset < 1e12 else {
            throw VolumeError(path: path, reason: "vox_offset \(voxOffset) is not a byte offset", hint: "the header is damaged")
        }
        self.voxOffset = Int(voxOffset)
        if singleFile && self.voxOffset < (version == 1 ? 348 : 540) {
            throw VolumeError(path: path, reason: "vox_offset \(Int(voxOffset)) points inside the header", hint: "the header is damaged")
        }
        // As ITK/niftilib: a zero or non-finite slope means no scaling; the intercept still applies.
        self.slope = slope.isFinite && abs(slope) >= Double.ulpOfOne ? slope : 1
        self.intercept = intercept.isFinite ? intercept : 0
        self.qformCode = qformCode
        self.sformCode = sformCode
        self.quatern = quatern
        self.qoffset = qoffset
        self.srow = srow
    }

    static func scalarType(_ datatype: Int, path: String) throws -> ScalarType {
        switch datatype {
        case 2: return .uint8
        case 4: return .int16
        case 8: return .int32
        case 16: return .float32
        case 64: return .float64
        case 256: return .int8
        case 512: return .uint16
        case 768: return .uint32
        case 1024: return .int64
        case 1280: return .uint64
        default:
            let names = [1: "binary (1 bit)", 32: "complex64", 128: "RGB24", 1536: "float128", 1792: "complex128",
                         2048: "complex256", 2304: "RGBA32"]
            let what = names[datatype].map { "\($0) (datatype \(datatype))" } ?? "datatype \(datatype)"
            throw VolumeError(path: path, reason: "voxels are \(what), not a scalar grey level",
                              hint: "convert to a scalar type (int16, uint8, float32, …); for colour, convert to grey first")
        }
    }
}


/// Little- or big-endian reads from a byte array.
struct ByteReader {
    let bytes: [UInt8]
    let littleEndian: Bool
    var swapped: ByteReader { ByteReader(bytes: bytes, littleEndian: !littleEndian) }
    func with(littleEndian: Bool) -> ByteReader { ByteReader(bytes: bytes, littleEndian: littleEndian) }

    func u(_ o: Int, _ n: Int) -> UInt64 {
        var v: UInt64 = 0
        for k in 0..<n { v |= UInt64(bytes[o + (littleEndian ? k : n - 1 - k)]) << (8 * UInt64(k)) }
        return v
    }
    func i16(_ o: Int) -> Int16 { Int16(truncatingIfNeeded: u(o, 2)) }
    func i32(_ o: Int) -> Int32 { Int32(truncatingIfNeeded: u(o, 4)) }
    func i64(_ o: Int) -> Int64 { Int64(bitPattern: u(o, 8)) }
    func f32(_ o: Int) -> Float { Float(bitPattern: UInt32(truncatingIfNeeded: u(o, 4))) }
    func f64(_ o: Int) -> Double { Double(bitPattern: u(o, 8)) }
    /// A NUL-terminated string of at most n bytes.
    func string(_ o: Int, _ n: Int) -> String {
        String(decoding: bytes[o..<(o + n)].prefix { $0 != 0 }, as: UTF8.self)
    }
}
