import Foundation

/// A `.safetensors` file (PyTorch/Hugging Face weights): an 8-byte little-endian header length, a JSON header
/// (`name → {dtype, shape, data_offsets}` and optional `__metadata__`), then the raw
/// little-endian tensors. The file is memory-mapped; tensors are converted to Float on demand.
public final class SafeTensorsFile {
    public struct Entry: Sendable {
        public let dtype: String
        public let shape: [Int]
        let begin: Int, end: Int
    }

    public let path: String
    public let entries: [String: Entry]
    public let metadata: [String: String]
    private let data: Data
    private let dataStart: Int

    /// Bytes per element of the dtypes this reader converts to Float.
    public static let elementSize = ["F32": 4, "F16": 2, "BF16": 2, "F64": 8, "I64": 8]

    public init(path: String) throws {
        self.path = path
        func bad(_ what: String) -> SafeTensorsError {
            SafeTensorsError(path: path, what: what,
                             hint: "pass a .safetensors file (convert a PyTorch .bin/.pth with safetensors.torch.save_file)")
        }
        guard FileManager.default.fileExists(atPath: path) else {
            throw SafeTensorsError(path: path, what: "weight file not found",
                                   hint: "check the path; weights cannot be downloaded here, bring the file")
        }
        do { data = try Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped) } catch {
            throw bad("cannot read the file (\(error.localizedDescription))")
        }
        guard data.count >= 8 else { throw bad("too short for a safetensors header (\(data.count) bytes)") }
        let headerLength = data.withUnsafeBytes { raw in UInt64(littleEndian: raw.loadUnaligned(as: UInt64.self)) }
        guard headerLength > 0, headerLength <= UInt64(data.count - 8), headerLength < 100 << 20 else {
            throw bad("header length \(headerLength) does not fit a \(data.count)-byte file; not a safetensors file")
        }
        dataStart = 8 + Int(headerLength)
        guard let json = try? JSONSerialization.jsonObject(with: data.subdata(in: 8..<dataStart)) as? [String: Any] else {
            throw bad("the header is not a JSON object")
        }
        var entries: [String: Entry] = [:]
        var metadata: [String: String] = [:]
        let payload = data.count - dataStart
        for (name, value) in json {
            if name == "__metadata__" {
                for (k, v) in value as? [String: Any] ?? [:] { metadata[k] = "\(v)" }
                continue
            }
            guard let d = value as? [String: Any], let dtype = d["dtype"] as? String,
                  let shape = d["shape"] as? [Int], let offsets = d["data_offsets"] as? [Int], offsets.count == 2 else {
                throw bad("tensor '\(name)' has no dtype/shape/data_offsets")
            }
            let count = shape.reduce(1, *)
            let size = Self.elementSize[dtype] ?? 0
            guard offsets[0] >= 0, offsets[0] <= offsets[1], offsets[1] <= payload else {
                throw bad("tensor '\(name)' lies outside the file (offsets \(offsets), \(payload) data bytes); the file is truncated")
            }
            guard size == 0 || offsets[1] - offsets[0] == count * size else {
                throw bad("tensor '\(name)': \(offsets[1] - offsets[0]) bytes for shape \(shape) of \(dtype)")
            }
            entries[name] = Entry(dtype: dtype, shape: shape, begin: offsets[0], end: offsets[1])
        }
        self.entries = entries
        self.metadata = metadata
    }

    /// The tensor's values as Float (F32, F16, BF16, F64 or I64 in the file).
    public func floats(_ name: String) throws -> [Float] {
        guard let e = entries[name] else {
            throw SafeTensorsError(path: path, what: "no tensor '\(name)'", hint: "")
        }
        let count = e.shape.reduce(1, *)
        guard Self.elementSize[e.dtype] != nil else {
            throw SafeTensorsError(path: path, what: "tensor '\(name)' has dtype \(e.dtype)",
                                   hint: "store the weights as F32, F16 or BF16")
        }
        return data.withUnsafeBytes { raw -> [Float] in
            let base = raw.baseAddress! + dataStart + e.begin
            return [Float](unsafeUninitializedCapacity: count) { out, filled in
                switch e.dtype {
                case "F32": for i in 0..<count { out[i] = Float(bitPattern: UInt32(littleEndian: base.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self))) }
                case "F16": for i in 0..<count { out[i] = Float(Float16(bitPattern: UInt16(littleEndian: base.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))) }
                case "BF16": for i in 0..<count { out[i] = Float(bitPattern: UInt32(UInt16(littleEndian: base.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) << 16) }
                case "F64": for i in 0..<count { out[i] = Float(Double(bitPattern: UInt64(littleEndian: base.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self)))) }
                default: for i in 0..<count { out[i] = Float(Int64(littleEndian: base.loadUnaligned(fromByteOffset: 8 * i, as: Int64.self))) }
                }
                filled = count
            }
        }
    }
}


/// A weight file that cannot be read, naming it, what is wrong and what to do.
public struct SafeTensorsError: Error, CustomStringConvertible, Sendable {
    public let path: String, what: String, hint: String
    public var description: String { "\(path): \(what)" + (hint.isEmpty ? "" : " — \(hint)") }
}
