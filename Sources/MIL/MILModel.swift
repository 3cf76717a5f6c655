import SeededRandom
import Foundation

/// An attention-MIL model and its weights: a patch encoder fc (D→hidden, ReLU), gated
/// attention (tanh ⊙ sigmoid, hidden→attention→1), softmax pooling over the patches and a
/// linear bag classifier; CLAM-SB adds one 2-way instance classifier per class.
///
/// Parameters carry CLAM_SB's state_dict names (gate=True, dropout on), so a CLAM checkpoint
/// converted to safetensors loads and scores as in CLAM.
public struct MILModel: Sendable {
    public enum Kind: String, Sendable, CaseIterable {
        /// Gated attention MIL (Ilse et al. 2018) with CLAM's layer sizes, bag loss only.
        case abmil
        /// CLAM single-branch: gated attention + instance-level clustering loss.
        case clamSB = "clam_sb"
    }

    /// CLAM's `size_arg`: hidden 512 and attention 256 ("small") or 384 ("big").
    public enum Size: String, Sendable, CaseIterable {
        case small, big
        var dims: (hidden: Int, attention: Int) { self == .small ? (512, 256) : (512, 384) }
    }

    public let kind: Kind
    public let inputDim: Int
    public let hiddenDim: Int
    public let attentionDim: Int
    public let classes: Int
    /// Every parameter, flat, in `layout` order.
    var parameters: [Float]
    let layout: MILLayout

    /// A freshly initialised model: Xavier-normal weights and zero biases (CLAM's
    /// `initialize_weights`), drawn from `seed`.
    public init(kind: Kind, inputDim: Int, classes: Int, size: Size = .small, seed: UInt64 = 1) throws {
        try self.init(kind: kind, inputDim: inputDim, hiddenDim: size.dims.hidden, attentionDim: size.dims.attention,
                      classes: classes, seed: seed)
    }

    /// Any layer sizes (tests use tiny ones).
    init(kind: Kind, inputDim: Int, hiddenDim: Int, attentionDim: Int, classes: Int, seed: UInt64) throws {
        guard inputDim >= 1, hiddenDim >= 1, attentionDim >= 1 else {
            throw MILError(.badConfig, what: "layer sizes \(inputDim)/\(hiddenDim)/\(attentionDim) must be ≥ 1")
        }
        guard classes >= 2 else {
            throw MILError(.badConfig, what: "\(classes) class(es)", hint: "a MIL classifier needs at least 2 classes")
        }
        self.kind = kind; self.inputDim = inputDim; self.hiddenDim = hiddenDim
        self.attentionDim = attentionDim; self.classes = classes
        layout = MILLayout(kind: kind, input: inputDim, hidden: hiddenDim, attention: attentionDim, classes: classes)
        var p = [Float](repeating: 0, count: layout.count)
        var rng = SplitMix64(seed: seed, tag: 1)
        for t in layout.tensors where t.shape.count == 2 {
            let std = (2.0 / Double(t.shape[0] + t.shape[1])).squareRoot()   // fan_out = rows, fan_in = cols
            for i in t.range { p[i] = Float(rng.normal() * std) }
        }
        parameters = p
    }

    init(kind: Kind, layout: MILLayout, parameters: [Float]) {
        self.kind = kind; self.layout = layout; self.parameters = parameters
        inputDim = layout.input; hiddenDim = layout.hidden; attentionDim = layout.attention; classes = layout.classes
    }

    /// CLAM's size name for these layer sizes, or nil for other sizes.
    public var size: Size? { Size.allCases.first { $0.dims == (hiddenDim, attentionDim) } }

    /// The model that gives on raw features what this one gives on standardised ones,
    /// (x − mean) / std: the standardisation folded into the first layer (W/std, b − W·mean/std),
    /// so the checkpoint stays a plain CLAM model that reads the encoder's features as they are.
    public func foldingInputStandardization(mean: [Float], std: [Float]) throws -> MILModel {
        guard mean.count == inputDim, std.count == inputDim, std.allSatisfy({ $0 > 0 && $0.isFinite }), mean.allSatisfy(\.isFinite) else {
            throw MILError(.badConfig, what: "standardisation needs \(inputDim) finite means and positive stds (got \(mean.count), \(std.count))",
                           hint: "compute them over the training patches")
        }
        var m = self
        let w = layout.tensor(MILLayout.fc + ".weight")!.offset, b = layout.tensor(MILLayout.fc + ".bias")!.offset
        for o in 0..<hiddenDim {
            var shift = 0.0
            for i in 0..<inputDim {
                let scaled = m.parameters[w + o * inputDim + i] / std[i]
                m.parameters[w + o * inputDim + i] = scaled
                shift += Double(scaled) * Double(mean[i])
            }
            m.parameters[b + o] -= Float(shift)
        }
        return m
    }

    /// The weights of one tensor by its CLAM name (nil if the model has none of that name).
    public func tensor(_ name: String) -> (shape: [Int], values: [Float])? {
        guard let t = layout.tensor(name) else { return nil }
        return (t.shape, Array(parameters[t.range]))
    }
}

/// Where each named tensor sits in the flat parameter vector (CLAM state_dict order).
struct MILLayout: Sendable {
    struct Tensor: Sendable {
        let name: String
        let shape: [Int]
        let offset: Int
        var count: Int { shape.reduce(1, *) }
        var range: Range<Int> { offset..<(offset + count) }
    }

    let input, hidden, attention, classes: Int
    let instance: Bool
    let tensors: [Tensor]
    let count: Int
    // Offsets of the tensors the network uses.
    let w1, b1, wa, ba, wb, bb, wc, bc, wCls, bCls: Int
    let wInst: [Int], bInst: [Int]

    static let fc = "attention_net.0", attA = "attention_net.3.attention_a.0", attB = "attention_net.3.attention_b.0",
               attC = "attention_net.3.attention_c", cls = "classifiers"
    static func inst(_ i: Int) -> String { "instance_classifiers.\(i)" }

    init(kind: MILModel.Kind, input: Int, hidden: Int, attention: Int, classes: Int) {
        self.input = input; self.hidden = hidden; self.attention = attention; self.classes = classes
        instance = kind == .clamSB
        var list: [(String, [Int])] = [
            (Self.fc + ".weight", [hidden, input]), (Self.fc + ".bias", [hidden]),
            (Self.attA + ".weight", [attention, hidden]), (Self.attA + ".bias", [attention]),
            (Self.attB + ".weight", [attention, hidden]), (Self.attB + ".bias", [attention]),
            (Self.attC + ".weight", [1, attention]), (Self.attC + ".bias", [1]),
            (Self.cls + ".weight", [classes, hidden]), (Self.cls + ".bias", [classes]),
        ]
        if instance {
            for i in 0..<classes { list += [(Self.inst(i) + ".weight", [2, hidden]), (Self.inst(i) + ".bias", [2])] }
        }
        var offset = 0
        var tensors: [Tensor] = []
        for (name, shape) in list {
            tensors.append(Tensor(name: name, shape: shape, offset: offset))
            offset += shape.reduce(1, *)
        }
        self.tensors = tensors
        count = offset
        let at = { (i: Int) in tensors[i].offset }
        (w1, b1, wa, ba, wb, bb, wc, bc, wCls, bCls) = (at(0), at(1), at(2), at(3), at(4), at(5), at(6), at(7), at(8), at(9))
        wInst = instance ? (0..<classes).map { at(10 + 2 * $0) } : []
        bInst = instance ? (0..<classes).map { at(11 + 2 * $0) } : []
    }

    func tensor(_ name: String) -> Tensor? { tensors.first { $0.name == name } }
}
