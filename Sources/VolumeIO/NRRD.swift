import Foundation
import ZlibIO

/// NRRD (.nrrd with the data attached, .nhdr with a detached data file) reading and writing.
///
/// Geometry comes from `space`, `space directions` and `space origin`. RAS and LAS spaces are
/// converted to LPS on read; LPS, scanner-xyz and 3D-right-handed are taken as LPS, as ITK
/// does. Without a space, `spacings` and `axis mins` give an axis-aligned grid.
public enum NRRD {
    public static func read(_ path: String) throws -> Volume {
        let file = try readFile(path)
        let header = try NRRDHeader(file, path: path)
        let (dataPath, raw) = try header.dataBytes(file)
        let count = header.sizes.reduce(1, *)
        let payload = try header.payload(raw, count: count, dataPath: dataPath)
        let voxels: [Float]
        switch payload {
        case .text(let values):
            voxels = values
        case .binary(let data, let offset):
            voxels = [Float](unsafeUninitializedCapacity: count) { buffer, initialised in
                data.withUnsafeBytes { raw in
                    VoxelCodec.decode(raw.baseAddress! + offset, type: header.type, littleEndian: header.littleEndian,
                                      count: count, into: buffer.baseAddress!)
                }
                initialised = count
            }
        }
        let (size, spacing, origin, direction) = try header.geometry()
        var volume = Volume(size: size, spacing: spacing, origin: origin, direction: direction, voxels: voxels)
        volume.integerRange = header.type.integerRange
        return volume
    }

    /// Writes `volume` as NRRD in LPS with gzip encoding, voxels stored as `type`: attached
    /// for `.nrrd`, or for `.nhdr` a header plus a `<name>.raw.gz` data file beside it. Atomic.
    public static func write(_ volume: Volume, to path: String, as type: VoxelType = .float32) throws {
        let data: Data
        // gzip level 1, as the NIfTI writer: fast, a few % larger than the default.
        do { data = try Gzip.compress(try VoxelCodec.encode(volume.voxels, as: type, path: path), level: 1) } catch let e as VolumeError {
            throw e
        } catch {
            throw VolumeError(path: path, reason: "gzip failed (\(error))")
        }
        let typeName = type == .uint8 ? "uint8" : type == .int16 ? "int16" : "float"
        func vector(_ v: SIMD3<Double>) -> String { "(\(v.x),\(v.y),\(v.z))" }
        let d = volume.direction
        let axes = (0..<3).map { c in vector(SIMD3(d[c], d[3 + c], d[6 + c]) * volume.spacing[c]) }
        var lines = [
            "NRRD0004",
            "# written by RadioPath",
            "type: \(typeName)",
            "dimension: 3",
            "space: left-posterior-superior",
            "sizes: \(volume.size.x) \(volume.size.y) \(volume.size.z)",
            "space directions: \(axes.joined(separator: " "))",
            "kinds: domain domain domain",
            "endian: little",
            "encoding: gzip",
            "space origin: \(vector(volume.origin))",
        ]
        if path.lowercased().hasSuffix(".nhdr") {
            let base = URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent + ".raw.gz"
            let dataPath = URL(fileURLWithPath: path).deletingLastPathComponent().appendingPathComponent(base).path
            lines.append("data file: \(base)")
            try atomicWrite(data, to: dataPath)
            try atomicWrite(Data((lines.joined(separator: "\n") + "\n").utf8), to: path)
        } else {
            var file = Data((lines.joined(separator: "\n") + "\n\n").utf8)
            file.append(data)
            try atomicWrite(file, to: path)
        }
    }
}

/// The fields of a NRRD header that give a scalar 3-D volume.
struct NRRDHeader {
    enum Payload { case binary(Data, offset: Int), text([Float]) }

    let path: String
    var fields: [String: String] = [:]
    var headerEnd = 0                   // first byte after the header's blank line
    var type: ScalarType = .uint8
    var sizes: [Int] = []
    var littleEndian = true
    var encoding = "raw"

    init(_ file: Data, path: String) throws {
        self.path = path
        guard file.count >= 8, String(decoding: file.prefix(7), as: UTF8.self) == "NRRD000" else {
            throw VolumeError(path: path, reason: "is not NRRD (it does not start with the NRRD000x magic)",
                              hint: "check the file type; NIfTI and DICOM have their own readers")
        }
        // Header lines up to the first empty line (or the end of a detached header).
        var lines: [String] = []
        var start = file.startIndex, i = file.startIndex
        while i < file.endIndex {
            if file[i] == 0x0A {
                var line = String(decoding: file[start..<i], as: UTF8.self)
                if line.hasSuffix("\r") { line.removeLast() }
                start = i + 1
                if line.isEmpty { break }
                lines.append(line)
            }
            i += 1
        }
        if i >= file.endIndex && start < file.endIndex {
            lines.append(String(decoding: file[start..<file.endIndex], as: UTF8.self).trimmingCharacters(in: .newlines))
        }
        headerEnd = min(start, file.endIndex) - file.startIndex
        for line in lines.dropFirst() where !line.hasPrefix("#") && !line.contains(":=") {
            guard let colon = line.range(of: ": ") ?? line.range(of: ":") else { continue }
            let key = line[..<colon.lowerBound].lowercased().trimmingCharacters(in: .whitespaces)
            fields[key] = String(line[colon.upperBound...]).trimmingCharacters(in: .whitespaces)
        }
        func required(_ key: String) throws -> String {
            guard let v = fields[key] else {
                throw VolumeError(path: path, reason: "the NRRD header has no '\(key)' field", hint: "the header is incomplete; re-export the file")
            }
            return v
        }
        type = try NRRDHeader.scalarType(try required("type"), path: path)
        guard let dimension = Int(try required("dimension")), (1...16).contains(dimension) else {
            throw VolumeError(path: path, reason: "'dimension: \(fields["dimension"]!)' is not a number of axes", hint: "the header is damaged")
        }
        sizes = try required("sizes").split(separator: " ").map {
            guard let n = Int($0), n > 0 else {
                throw VolumeError(path: path, reason: "'sizes: \(fields["sizes"]!)' holds a size that is not a positive integer", hint: "the header is damaged")
            }
            return n
        }
        guard sizes.reduce(1.0, { $0 * Double($1) }) < 1e12 else {
            throw VolumeError(path: path, reason: "'sizes: \(fields["sizes"]!)' is implausibly large", hint: "the header is damaged")
        }
        guard sizes.count == dimension else {
            throw VolumeError(path: path, reason: "'sizes' lists \(sizes.count) sizes for dimension \(dimension)", hint: "the header is damaged")
        }
        encoding = try required("encoding").lowercased()
        if let endian = fields["endian"]?.lowercased() {
            guard endian == "little" || endian == "big" else {
                throw VolumeError(path: path, reason: "'endian: \(endian)' is neither little nor big", hint: "the header is damaged")
            }
            littleEndian = endian == "little"
        } else if type.width > 1 && !["ascii", "text", "txt"].contains(encoding) {
            throw VolumeError(path: path, reason: "the NRRD header has no 'endian' field for \(type.width)-byte voxels", hint: "add 'endian: little' (or big) to the header")
        }
    }

    static func scalarType(_ name: String, path: String) throws -> ScalarType {
        switch name.lowercased() {
        case "signed char", "int8", "int8_t": return .int8
        case "uchar", "unsigned char", "uint8", "uint8_t": return .uint8
        case "short", "short int", "signed short", "signed short int", "int16", "int16_t": return .int16
        case "ushort", "unsigned short", "unsigned short int", "uint16", "uint16_t": return .uint16
        case "int", "signed int", "int32", "int32_t": return .int32
        case "uint", "unsigned int", "uint32", "uint32_t": return .uint32
        case "longlong", "long long", "long long int", "signed long long", "signed long long int", "int64", "int64_t": return .int64
        case "ulonglong", "unsigned long long", "unsigned long long int", "uint64", "uint64_t": return .uint64
        case "float": return .float32
        case "double": return .float64
        default:
            throw VolumeError(path: path, reason: "voxel type '\(name)' is not a scalar number type", hint: "convert to a scalar type (short, float, …)")
        }
    }

    /// The bytes holding the data (this file after the header, or the detached data file),
    /// after `line skip` lines.
    func dataBytes(_ file: Data) throws -> (String, Data) {
        var dataPath = path
        var data = file.subdata(in: (file.startIndex + headerEnd)..<file.endIndex)
        if let name = fields["data file"] ?? fields["datafile"] {
            if name.hasPrefix("LIST") || name.split(separator: " ").count > 1 {
                throw VolumeError(path: path, reason: "'data file: \(name)' spreads the data over several files",
                                  hint: "join the data into one file (or an attached .nrrd) first")
            }
            dataPath = name.hasPrefix("/") ? name : URL(fileURLWithPath: path).deletingLastPathComponent().appendingPathComponent(name).path
            data = try readFile(dataPath)
        }
        if let skip = fields["line skip"] ?? fields["lineskip"], let lines = Int(skip), lines > 0 {
            var seen = 0, k = data.startIndex
            while seen < lines && k < data.endIndex {
                if data[k] == 0x0A { seen += 1 }
                k += 1
            }
            guard seen == lines else {
                throw VolumeError(path: dataPath, reason: "has fewer than the \(lines) lines the header says to skip", hint: "the file is truncated")
            }
            data = data.subdata(in: k..<data.endIndex)
        }
        return (dataPath, data)
    }

    /// The voxels' bytes after decoding the encoding and `byte skip`, checked for length.
    func payload(_ data: Data, count: Int, dataPath: String) throws -> Payload {
        let byteSkip = Int(fields["byte skip"] ?? fields["byteskip"] ?? "0") ?? 0
        let needed = count * type.width
        switch encoding {
        case "raw":
            let offset = byteSkip == -1 ? data.count - needed : byteSkip
            guard offset >= 0, data.count >= offset + needed else {
                throw VolumeError(path: dataPath, reason: "holds \(data.count) data bytes but the header needs \(needed)\(byteSkip != 0 ? " after skipping \(byteSkip)" : "")",
                                  hint: "the file is truncated; re-export or re-download it")
            }
            return .binary(data, offset: offset)
        case "gzip", "gz":
            let inflated: Data
            do { inflated = try Gzip.decompress(data, expectedSize: needed + max(byteSkip, 0)) } catch {
                throw VolumeError(path: dataPath, reason: "\(error)")
            }
            guard byteSkip >= 0 else {
                throw VolumeError(path: path, reason: "'byte skip: -1' only works with raw encoding", hint: "fix the header")
            }
            guard inflated.count >= byteSkip + needed else {
                throw VolumeError(path: dataPath, reason: "decompresses to \(inflated.count) bytes but the header needs \(byteSkip + needed)",
                                  hint: "the file is truncated; re-export or re-download it")
            }
            return .binary(inflated, offset: byteSkip)
        case "hex":
            let digits = data.compactMap { b -> UInt8? in
                switch b {
                case 0x30...0x39: return b - 0x30
                case 0x41...0x46: return b - 0x41 + 10
                case 0x61...0x66: return b - 0x61 + 10
                default: return nil
                }
            }
            guard digits.count >= 2 * needed else {
                throw VolumeError(path: dataPath, reason: "holds \(digits.count / 2) hex bytes but the header needs \(needed)", hint: "the file is truncated")
            }
            return .binary(Data((0..<needed).map { digits[2 * $0] << 4 | digits[2 * $0 + 1] }), offset: 0)
        case "ascii", "text", "txt":
            var values: [Float] = []
            values.reserveCapacity(count)
            for token in String(decoding: data, as: UTF8.self).split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\r" || $0 == "\t" || $0 == "," }) {
                guard values.count < count else { break }
                guard let v = Double(token) else {
                    throw VolumeError(path: dataPath, reason: "'\(token)' in the text data is not a number", hint: "the data is damaged")
                }
                values.append(Float(v))
            }
            guard values.count == count else {
                throw VolumeError(path: dataPath, reason: "holds \(values.count) numbers but the header needs \(count)", hint: "the file is truncated")
            }
            return .text(values)
        case "bzip2", "bz2":
            throw VolumeError(path: path, reason: "uses bzip2 encoding, which RadioPath does not decode",
                              hint: "re-save with gzip or raw encoding (e.g. SimpleITK WriteImage(..., useCompression=True))")
        default:
            throw VolumeError(path: path, reason: "encoding '\(encoding)' is not a NRRD encoding RadioPath reads", hint: "re-save with raw or gzip encoding")
        }
    }
}
