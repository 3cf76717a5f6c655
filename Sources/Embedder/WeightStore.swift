import Foundation
import SafeTensors

/// Hands an architecture the tensors it asks for and remembers every problem, so one load
/// reports all missing, mis-shaped and unexpected tensors at once instead of the first.
final class WeightStore {
    let file: SafeTensorsFile
    private var used = Set<String>()
    private var missing: [String] = []
    private var misshaped: [String] = []

    init(_ file: SafeTensorsFile) { self.file = file }

    func has(_ name: String) -> Bool { file.entries[name] != nil }

    /// The tensor `name` of exactly `shape`; zeros (and a recorded problem) when it is
    /// missing or has another shape.
    func take(_ name: String, _ shape: [Int]) -> [Float] {
        used.insert(name)
        let count = shape.reduce(1, *)
        guard let e = file.entries[name] else { missing.append("\(name) \(shape)"); return [Float](repeating: 0, count: count) }
        guard e.shape == shape || (e.shape.reduce(1, *) == count && e.shape.filter { $0 != 1 } == shape.filter { $0 != 1 }) else {
            misshaped.append("\(name): file \(e.shape), expected \(shape)")
            return [Float](repeating: 0, count: count)
        }
        guard let v = try? file.floats(name) else { misshaped.append("\(name): unsupported dtype \(e.dtype)"); return [Float](repeating: 0, count: count) }
        return v
    }

    /// Marks tensors as known but unused (e.g. `layer4.*` for a truncated ResNet).
    func ignore(where predicate: (String) -> Bool) {
        for name in file.entries.keys where predicate(name) { used.insert(name) }
    }

    /// Throws one error listing every problem, naming the architecture.
    func finish(architecture: String) throws {
        let unexpected = file.entries.keys.filter { !used.contains($0) }.sorted()
        guard missing.isEmpty && misshaped.isEmpty && unexpected.isEmpty else {
            func list(_ title: String, _ items: [String]) -> String {
                items.isEmpty ? "" : "\n  \(title) (\(items.count)): " + items.prefix(12).joined(separator: ", ") + (items.count > 12 ? ", …" : "")
            }
            throw EmbedderError(.weightMismatch, path: file.path,
                                what: "the weights do not fit \(architecture):" + list("missing", missing)
                                    + list("wrong shape", misshaped) + list("unexpected", unexpected),
                                hint: "\nuse the weights of this architecture (timm/torchvision tensor names), or pick the encoder that matches the file")
        }
    }
}
