import Foundation

/// Writes F32 `.safetensors` files that PyTorch's `safetensors.torch.load_file` and
/// `SafeTensorsFile` read. The same tensors and metadata always give the same bytes: tensors
/// are laid out sorted by name, the header's keys are sorted and it is padded with spaces to
/// a multiple of 8 bytes (as the reference writer does). The file appears whole or not at all
/// (written to a temporary file beside it, then renamed).
public enum SafeTensorsWriter {
    public typealias Tensor = (name: String, shape: [Int], values: [Float])

    public static func write(path: String, tensors: [Tensor], metadata: [String: String] = [:]) throws {
        func bad(_ what: String, _ hint: String) -> SafeTensorsError { SafeTensorsError(path: path, what: what, hint: hint) }
        let sorted = tensors.sorted { $0.name < $1.name }
        for (i, t) in sorted.enumerated() {
            if t.name.isEmpty || t.name == "__metadata__" { throw bad("tensor name '\(t.name)' is not allowed", "name every tensor, and not __metadata__") }
            if i > 0, sorted[i - 1].name == t.name { throw bad("tensor '\(t.name)' is given twice", "pass each name once") }
            if t.shape.contains(where: { $0 < 0 }) || t.shape.reduce(1, *) != t.values.count {
                throw bad("tensor '\(t.name)' has \(t.values.count) values for shape \(t.shape)", "pass exactly shape.product values")
            }
        }
        var header = "{"
        if !metadata.isEmpty {
            header += "\"__metadata__\":{" + metadata.keys.sorted().map { "\(quote($0)):\(quote(metadata[$0]!))" }.joined(separator: ",") + "},"
        }
        var offset = 0
        header += sorted.map { t -> String in
            let begin = offset
            offset += 4 * t.values.count
            return "\(quote(t.name)):{\"dtype\":\"F32\",\"shape\":[\(t.shape.map(String.init).joined(separator: ","))],\"data_offsets\":[\(begin),\(offset)]}"
        }.joined(separator: ",") + "}"
        var headerBytes = Array(header.utf8)
        while (8 + headerBytes.count) % 8 != 0 { headerBytes.append(0x20) }

        var out = Data(capacity: 8 + headerBytes.count + offset)
        withUnsafeBytes(of: UInt64(headerBytes.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(contentsOf: headerBytes)
        for t in sorted {
            t.values.withUnsafeBufferPointer { src in
                var le = [UInt32](unsafeUninitializedCapacity: src.count) { dst, n in
                    for i in 0..<src.count { dst[i] = src[i].bitPattern.littleEndian }
                    n = src.count
                }
                le.withUnsafeMutableBytes { out.append(contentsOf: $0) }
            }
        }

        let url = URL(fileURLWithPath: path)
        let temp = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).tmp-\(UUID().uuidString)")
        do {
            try out.write(to: temp)
            // rename(2) replaces an existing file atomically.
            guard rename(temp.path, path) == 0 else {
                throw NSError(domain: NSPOSIXErrorDomain, code: Int(errno), userInfo: [NSLocalizedDescriptionKey: String(cString: strerror(errno))])
            }
        } catch {
            try? FileManager.default.removeItem(at: temp)
            throw bad("cannot write the file (\(error.localizedDescription))", "check that the folder exists and is writable")
        }
    }

    /// A JSON string literal.
    private static func quote(_ s: String) -> String {
        var r = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": r += "\\\""
            case "\\": r += "\\\\"
            case "\n": r += "\\n"
            case "\r": r += "\\r"
            case "\t": r += "\\t"
            case _ where u.value < 0x20: r += String(format: "\\u%04x", u.value)
            default: r.unicodeScalars.append(u)
            }
        }
        return r + "\""
    }
}
