import Foundation

/// The scalar types volume files store, with the names each format uses.
enum ScalarType: Sendable, Equatable {
    case int8, uint8, int16, uint16, int32, uint32, int64, uint64, float32, float64

    var width: Int {
        switch self {
        case .int8, .uint8: return 1
        case .int16, .uint16: return 2
        case .int32, .uint32, .float32: return 4
        case .int64, .uint64, .float64: return 8
        }
    }

    /// The representable range of an integer type; nil for floating point.
    var integerRange: ClosedRange<Double>? {
        switch self {
        case .int8: return -128...127
        case .uint8: return 0...255
        case .int16: return -32768...32767
        case .uint16: return 0...65535
        case .int32: return Double(Int32.min)...Double(Int32.max)
        case .uint32: return 0...Double(UInt32.max)
        case .int64: return Double(Int64.min)...Double(Int64.max)
        case .uint64: return 0...Double(UInt64.max)
        case .float32, .float64: return nil
        }
    }
}

/// The voxel type a writer stores; values must fit it (integers are rounded to nearest).
public enum VoxelType: String, Sendable, CaseIterable {
    case uint8, int16, float32

    var scalar: ScalarType {
        switch self {
        case .uint8: return .uint8
        case .int16: return .int16
        case .float32: return .float32
        }
    }
}

/// Typed decode and encode loops shared by the NIfTI, NRRD and DICOM readers: one loop per
/// stored type so the hot path has no per-voxel switch or closure.
enum VoxelCodec {
    /// Decodes `count` values of `type` at `src` into `dst`, applying `value · slope + intercept`
    /// (in double precision, as ITK does) unless slope is 1 and intercept 0.
    static func decode(_ src: UnsafeRawPointer, type: ScalarType, littleEndian: Bool, count: Int,
                       into dst: UnsafeMutablePointer<Float>, slope: Double = 1, intercept: Double = 0) {
        let swap = littleEndian != (1.littleEndian == 1)
        let scale = slope != 1 || intercept != 0
        switch type {
        case .int8: run(src, Int8.self, false, count, dst, scale, slope, intercept)
        case .uint8: run(src, UInt8.self, false, count, dst, scale, slope, intercept)
        case .int16: run(src, Int16.self, swap, count, dst, scale, slope, intercept)
        case .uint16: run(src, UInt16.self, swap, count, dst, scale, slope, intercept)
        case .int32: run(src, Int32.self, swap, count, dst, scale, slope, intercept)
        case .uint32: run(src, UInt32.self, swap, count, dst, scale, slope, intercept)
        case .int64: run(src, Int64.self, swap, count, dst, scale, slope, intercept)
        case .uint64: run(src, UInt64.self, swap, count, dst, scale, slope, intercept)
        case .float32:
            let p = src.assumingMemoryBound(to: UInt32.self)
            if !swap && Int(bitPattern: src) % 4 == 0 {
                dst.update(from: src.assumingMemoryBound(to: Float.self), count: count)
            } else if swap {
                for n in 0..<count { dst[n] = Float(bitPattern: UInt32(loadUnaligned: p, n).byteSwapped) }
            } else {
                for n in 0..<count { dst[n] = Float(bitPattern: UInt32(loadUnaligned: p, n)) }
            }
            if scale { for n in 0..<count { dst[n] = Float(Double(dst[n]) * slope + intercept) } }
        case .float64:
            let p = src.assumingMemoryBound(to: UInt64.self)
            for n in 0..<count {
                let bits = UInt64(loadUnaligned: p, n)
                let v = Double(bitPattern: swap ? bits.byteSwapped : bits)
                dst[n] = Float(scale ? v * slope + intercept : v)
            }
        }
    }

    // Generic over the integer type and inlined, so each call site gets its own tight loop.
    @inline(__always)
    private static func run<T: FixedWidthInteger>(_ src: UnsafeRawPointer, _: T.Type, _ swap: Bool, _ count: Int,
                                                  _ dst: UnsafeMutablePointer<Float>, _ scale: Bool,
                                                  _ slope: Double, _ intercept: Double) {
        if Int(bitPattern: src) % MemoryLayout<T>.alignment == 0 {
            // Aligned (the usual case): plain typed loads, which the compiler vectorises.
            let p = src.assumingMemoryBound(to: T.self)
            switch (swap, scale) {
            case (false, false): for n in 0..<count { dst[n] = Float(p[n]) }
            case (true, false): for n in 0..<count { dst[n] = Float(p[n].byteSwapped) }
            case (false, true): for n in 0..<count { dst[n] = Float(Double(p[n]) * slope + intercept) }
            case (true, true): for n in 0..<count { dst[n] = Float(Double(p[n].byteSwapped) * slope + intercept) }
            }
            return
        }
        let p = src.assumingMemoryBound(to: T.self)
        switch (swap, scale) {
        case (false, false): for n in 0..<count { dst[n] = Float(T(loadUnaligned: p, n)) }
        case (true, false): for n in 0..<count { dst[n] = Float(T(loadUnaligned: p, n).byteSwapped) }
        case (false, true): for n in 0..<count { dst[n] = Float(Double(T(loadUnaligned: p, n)) * slope + intercept) }
        case (true, true): for n in 0..<count { dst[n] = Float(Double(T(loadUnaligned: p, n).byteSwapped) * slope + intercept) }
        }
    }

    /// Little-endian bytes of `voxels` as `type`; integers are rounded to nearest and must be
    /// finite and in range.
    static func encode(_ voxels: [Float], as type: VoxelType, path: String) throws -> Data {
        let count = voxels.count
        var out = Data(count: count * type.scalar.width)
        var bad: (index: Int, value: Float)?
        out.withUnsafeMutableBytes { raw in
            voxels.withUnsafeBufferPointer { v in
                switch type {
                case .float32:
                    let d = raw.bindMemory(to: UInt32.self)
                    for n in 0..<count { d[n] = v[n].bitPattern.littleEndian }
                case .int16:
                    let d = raw.bindMemory(to: Int16.self)
                    for n in 0..<count {
                        let r = v[n].rounded()
                        guard r >= -32768 && r <= 32767 else { bad = (n, v[n]); return }
                        d[n] = Int16(r).littleEndian
                    }
                case .uint8:
                    let d = raw.bindMemory(to: UInt8.self)
                    for n in 0..<count {
                        let r = v[n].rounded()
                        guard r >= 0 && r <= 255 else { bad = (n, v[n]); return }
                        d[n] = UInt8(r)
                    }
                }
            }
        }
        if let bad {
            throw VolumeError(path: path, reason: "voxel \(bad.index) is \(bad.value), which \(type.rawValue) cannot hold",
                              hint: "write as float32, or rescale/clip the values first")
        }
        return out
    }
}

extension FixedWidthInteger {
    /// The n-th value of type Self at `p`, which need not be aligned.
    @inline(__always) init(loadUnaligned p: UnsafePointer<Self>, _ n: Int) {
        self = UnsafeRawPointer(p).loadUnaligned(fromByteOffset: n &* MemoryLayout<Self>.stride, as: Self.self)
    }
}

/// Writes `data` to `path` through a temporary file in the same folder and a rename, so an
/// interrupted write never leaves a half file under the final name.
func atomicWrite(_ data: Data, to path: String) throws {
    let url = URL(fileURLWithPath: path)
    let dir = url.deletingLastPathComponent().path
    let temp = dir + "/." + url.lastPathComponent + ".tmp-" + UUID().uuidString
    do {
        try data.write(to: URL(fileURLWithPath: temp))
    } catch {
        try? FileManager.default.removeItem(atPath: temp)
        throw VolumeError(path: path, reason: "cannot write (\(error.localizedDescription))",
                          hint: "check that the folder exists and is writable")
    }
    guard rename(temp, path) == 0 else {
        let reason = String(cString: strerror(errno))
        try? FileManager.default.removeItem(atPath: temp)
        throw VolumeError(path: path, reason: "cannot move the written file into place (\(reason))",
                          hint: "check permissions on the folder")
    }
}

/// The bytes of a file, memory-mapped where possible, with a VolumeError naming the file.
func readFile(_ path: String) throws -> Data {
    var isDir: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
        throw VolumeError(path: path, reason: "no such file", hint: "check the path")
    }
    guard !isDir.boolValue else {
        throw VolumeError(path: path, reason: "is a folder, not a file", hint: "for a DICOM series use DICOMSeries.read(folder:)")
    }
    do { return try Data(contentsOf: URL(fileURLWithPath: path), options: .mappedIfSafe) } catch {
        throw VolumeError(path: path, reason: "cannot read the file (\(error.localizedDescription))", hint: "check the path and permissions")
    }
}
