import Foundation
import SafeTensors

/// Checkpoints are safetensors files with CLAM_SB's tensor names, so CLAM's own weights
/// (`torch.load` → `safetensors.torch.save_file`) load here and ours load into CLAM.
extension MILModel {
    static let metadataModel = "radiopath.mil.model"

    /// Writes the weights (F32) with metadata naming the model kind and its sizes.
    public func save(to path: String) throws {
        let tensors = layout.tensors.map { t in (name: t.name, shape: t.shape, values: Array(parameters[t.range])) }
        let meta = [
            "format": "pt", Self.metadataModel: kind.rawValue, "embed_dim": "\(inputDim)", "n_classes": "\(classes)",
            "size_arg": size?.rawValue ?? "custom", "hidden_dim": "\(hiddenDim)", "attention_dim": "\(attentionDim)",
        ]
        do { try SafeTensorsWriter.write(path: path, tensors: tensors, metadata: meta) } catch let e as SafeTensorsError {
            throw MILError(.badCheckpoint, subject: path, what: e.what, hint: e.hint)
        }
    }

    /// Reads a checkpoint written by `save` or converted from CLAM. Without our metadata the
    /// kind follows the tensors (instance classifiers → CLAM-SB) and the sizes their shapes.
    public init(contentsOf path: String) throws {
        let file: SafeTensorsFile
        do { file = try SafeTensorsFile(path: path) } catch let e as SafeTensorsError {
            throw MILError(.badCheckpoint, subject: path, what: e.what, hint: e.hint)
        }
        func fail(_ what: String) -> MILError {
            MILError(.badCheckpoint, subject: path, what: what,
                     hint: "expected a CLAM_SB (gate=True) or ABMIL state_dict saved as safetensors; CLAM-MB and ungated attention are not supported")
        }
        let shape = { (name: String) in file.entries[name]?.shape }
        guard let fc = shape(MILLayout.fc + ".weight"), fc.count == 2,
              let att = shape(MILLayout.attA + ".weight"), att.count == 2,
              let cls = shape(MILLayout.cls + ".weight"), cls.count == 2 else {
            let need = [MILLayout.fc, MILLayout.attA, MILLayout.cls].map { $0 + ".weight" }
            throw fail("cannot size the model: needs 2-D tensors \(need.joined(separator: ", ")); the file has \(file.entries.keys.sorted().prefix(12).joined(separator: ", "))")
        }
        let hasInstance = file.entries.keys.contains { $0.hasPrefix("instance_classifiers.") }
        var kind: Kind = hasInstance ? .clamSB : .abmil
        if let named = file.metadata[Self.metadataModel] {
            guard let k = Kind(rawValue: named) else { throw fail("metadata names model '\(named)'") }
            kind = k
        }
        guard fc[0] >= 1, fc[1] >= 1, att[0] >= 1, cls[0] >= 2 else {
            throw fail("sizes from the tensors (input \(fc[1]), hidden \(fc[0]), attention \(att[0]), classes \(cls[0])) are not usable")
        }
        let layout = MILLayout(kind: kind, input: fc[1], hidden: fc[0], attention: att[0], classes: cls[0])
        let expected = Set(layout.tensors.map(\.name))
        let missing = layout.tensors.map(\.name).filter { file.entries[$0] == nil }
        let extra = file.entries.keys.filter { !expected.contains($0) }.sorted()
        let misshapen = layout.tensors.compactMap { t -> String? in
            guard let s = shape(t.name), s != t.shape else { return nil }
            return "\(t.name) is \(s), expected \(t.shape)"
        }
        if !(missing.isEmpty && extra.isEmpty && misshapen.isEmpty) {
            var parts: [String] = []
            if !missing.isEmpty { parts.append("missing \(missing.joined(separator: ", "))") }
            if !extra.isEmpty { parts.append("unexpected \(extra.joined(separator: ", "))") }
            if !misshapen.isEmpty { parts.append("wrong shape: \(misshapen.joined(separator: "; "))") }
            throw fail("weights do not fit \(kind.rawValue) (input \(layout.input), hidden \(layout.hidden), attention \(layout.attention), \(layout.classes) classes): " + parts.joined(separator: "; "))
        }
        var p = [Float](repeating: 0, count: layout.count)
        for t in layout.tensors {
            let v: [Float]
            do { v = try file.floats(t.name) } catch let e as SafeTensorsError {
                throw MILError(.badCheckpoint, subject: path, what: e.what, hint: e.hint)
            }
            guard v.allSatisfy(\.isFinite) else { throw fail("tensor \(t.name) holds NaN or Inf") }
            p.replaceSubrange(t.range, with: v)
        }
        self.init(kind: kind, layout: layout, parameters: p)
    }
}
