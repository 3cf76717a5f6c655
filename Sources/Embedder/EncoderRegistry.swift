import Foundation
import SafeTensors
import ImageCore

/// Options a user may set on top of an encoder's card.
public struct EncoderOptions: Sendable {
    /// ViTs: CLS token or mean of the patch tokens (as the model card says).
    public var pool: ViTConfig.Pool?
    /// Override the card's normalisation (e.g. 0.5/0.5 for models trained that way).
    public var mean: [Float]?, std: [Float]?
    /// Override the recommended pixel size recorded in the contract.
    public var mpp: Double?
    public init(pool: ViTConfig.Pool? = nil, mean: [Float]? = nil, std: [Float]? = nil, mpp: Double? = nil) {
        self.pool = pool; self.mean = mean; self.std = std; self.mpp = mpp
    }
}

/// The encoders `radiopath embed` knows, each with its input contract.
public enum EncoderRegistry {
    public struct Card: Sendable {
        public let name: String
        public let summary: String
        public let needsWeights: Bool
        public let featureDim: Int
    }

    public static let cards: [Card] = [
        Card(name: "pathomic-v1", summary: "built in, no weights: stain (HED OD), texture (GLCM, LBP) and nuclear-density descriptor",
             needsWeights: false, featureDim: PathomicV1.featureNames.count),
        Card(name: "resnet50-trunc", summary: "ResNet-50 through layer3 + average pool (CLAM's default), torchvision names",
             needsWeights: true, featureDim: 1024),
        Card(name: "vit-s16", summary: "ViT-S/16 at 224 px, timm names", needsWeights: true, featureDim: 384),
        Card(name: "vit-b16", summary: "ViT-B/16 at 224 px, timm names", needsWeights: true, featureDim: 768),
        Card(name: "vit-l16", summary: "ViT-L/16 at 224 px, timm names (UNI-class; LayerScale read when present)",
             needsWeights: true, featureDim: 1024),
    ]

    /// Builds the named encoder; `weights` is a .safetensors path (required unless the card
    /// says otherwise). Throws `EmbedderError` for an unknown name, missing or unfitting weights.
    public static func make(_ name: String, weights: String?, options: EncoderOptions = EncoderOptions()) throws -> PatchEncoder {
        guard let card = cards.first(where: { $0.name == name }) else {
            throw EmbedderError(.unknownEncoder, path: "", what: "unknown encoder '\(name)'",
                                hint: "choose one of: " + cards.map(\.name).joined(separator: ", "))
        }
        if !card.needsWeights {
            if let weights {
                throw EmbedderError(.unknownEncoder, path: weights, what: "\(name) is built in and takes no weights",
                                    hint: "drop --weights, or choose an encoder that loads them")
            }
            return PathomicEncoder()
        }
        guard let weights else {
            throw EmbedderError(.unknownEncoder, path: "", what: "\(name) needs a weight file",
                                hint: "pass --weights FILE.safetensors (timm/torchvision tensor names); weights cannot be downloaded here")
        }
        let file: SafeTensorsFile
        do { file = try SafeTensorsFile(path: weights) } catch let e as SafeTensorsError {
            throw EmbedderError(.unreadableWeights, path: e.path, what: e.what, hint: e.hint)
        }
        let contract = InputContract(patchPx: 224, mpp: options.mpp ?? 0.5, resize: "area (OpenCV INTER_AREA) when the patch is larger",
                                     mean: options.mean ?? InputContract.imagenetMean, std: options.std ?? InputContract.imagenetStd)
        var provenance = ["encoder": name, "weights_file": URL(fileURLWithPath: weights).lastPathComponent,
                          "weights_sha256": try SHA256.hexDigest(ofFile: weights)]
        switch name {
        case "resnet50-trunc":
            provenance["architecture"] = "torchvision resnet50 v1.5, layers 1-3, global average pool"
            return try ResNet50Trunc(weights: file, contract: contract, provenance: provenance)
        default:
            var config: ViTConfig = name == "vit-s16" ? .small : name == "vit-b16" ? .base : .large
            config.pool = options.pool ?? .token
            provenance["architecture"] = "timm VisionTransformer dim \(config.dim) depth \(config.depth) heads \(config.heads) patch 16, \(config.pool.rawValue) pooling"
            return try VisionTransformer(name: name, config: config, weights: file, contract: contract, provenance: provenance)
        }
    }
}
