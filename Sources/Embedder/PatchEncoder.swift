import Foundation

/// What an encoder expects of its input patches. Recorded in every features file, so a
/// bag of embeddings says how its patches were prepared.
public struct InputContract: Codable, Sendable, Equatable {
    /// Side, in pixels, of the square RGB patch the encoder sees.
    public var patchPx: Int
    /// Pixel size (µm/px) the encoder was trained at; nil when any scale is fine.
    public var mpp: Double?
    /// How patches of another size are brought to `patchPx` (recorded, not a free choice).
    public var resize: String
    /// Per-channel normalisation applied to `pixel / 255` (R, G, B); empty for encoders
    /// that read the bytes themselves.
    public var mean: [Float]
    public var std: [Float]

    public init(patchPx: Int, mpp: Double?, resize: String, mean: [Float], std: [Float]) {
        self.patchPx = patchPx; self.mpp = mpp; self.resize = resize; self.mean = mean; self.std = std
    }

    /// torchvision's ImageNet statistics, used by ResNet-50 and most pathology ViTs (UNI, …).
    public static let imagenetMean: [Float] = [0.485, 0.456, 0.406]
    public static let imagenetStd: [Float] = [0.229, 0.224, 0.225]
}

/// A patch encoder: a batch of RGB patches in, one feature row per patch out.
///
/// Encoders are used from one thread at a time (an `embed` job owns its encoder); each may
/// use up to `Compute.threads` threads internally.
public protocol PatchEncoder: AnyObject {
    /// Registry name, e.g. `resnet50-trunc`, `vit-b16`, `pathomic-v1`.
    var name: String { get }
    /// Length of a feature row.
    var featureDim: Int { get }
    var contract: InputContract { get }
    /// What else identifies the encoder's numbers (architecture details, weight file and its
    /// SHA-256, …); stored as attributes of the features file.
    var provenance: [String: String] { get }
    /// Encodes `count` patches: `pixels` holds `count × patchPx² × 3` bytes (RGB, row-major,
    /// patch after patch); `out` receives `count × featureDim` floats, row per patch.
    func encode(_ pixels: UnsafeBufferPointer<UInt8>, count: Int, into out: UnsafeMutableBufferPointer<Float>) throws
}

/// Encoders whose cost is a known number of multiply–accumulates per patch (for GFLOP/s).
public protocol CountsMACs {
    var macsPerPatch: Int { get }
}

/// Checks the batch, then runs `forward(pixels, n, out)` on consecutive groups of at most
/// `size` patches: activation memory follows `size`, whatever batch the caller passes.
func encodeInMicroBatches(_ e: PatchEncoder, _ pixels: UnsafeBufferPointer<UInt8>, count: Int,
                          into out: UnsafeMutableBufferPointer<Float>, size: Int,
                          _ forward: (UnsafePointer<UInt8>, Int, UnsafeMutablePointer<Float>) -> Void) throws {
    try checkBatch(e, pixels, count: count, out: out)
    let patchBytes = e.contract.patchPx * e.contract.patchPx * 3
    var start = 0
    while start < count {
        let n = min(size, count - start)
        forward(pixels.baseAddress! + start * patchBytes, n, out.baseAddress! + start * e.featureDim)
        start += n
    }
}

/// Checks a batch against an encoder's contract before any work.
func checkBatch(_ e: PatchEncoder, _ pixels: UnsafeBufferPointer<UInt8>, count: Int, out: UnsafeMutableBufferPointer<Float>) throws {
    let side = e.contract.patchPx
    guard count >= 0, pixels.count >= count * side * side * 3, out.count >= count * e.featureDim else {
        throw EmbedderError(.badInput, path: "", what: "\(e.name) needs \(count) patches of \(side)×\(side) RGB (\(count * side * side * 3) bytes) and room for \(count)×\(e.featureDim) features; got \(pixels.count) bytes and \(out.count) floats",
                            hint: "resize patches to \(side) px before encoding")
    }
}
