import CBLAS
import Foundation
import SafeTensors

/// The shape of a Vision Transformer in timm's `VisionTransformer` layout.
public struct ViTConfig: Sendable, Equatable, Codable {
    public var dim: Int, depth: Int, heads: Int
    public var patch = 16, image = 224
    public var mlpRatio = 4
    /// `token`: the class token after the final norm (timm global_pool='token');
    /// `avg`: the mean of the patch tokens (global_pool='avg', with `fc_norm`).
    public enum Pool: String, Sendable, Codable { case token, avg }
    public var pool: Pool = .token

    public init(dim: Int, depth: Int, heads: Int, pool: Pool = .token) {
        self.dim = dim; self.depth = depth; self.heads = heads; self.pool = pool
    }

    public static let small = ViTConfig(dim: 384, depth: 12, heads: 6)
    public static let base = ViTConfig(dim: 768, depth: 12, heads: 12)
    public static let large = ViTConfig(dim: 1024, depth: 24, heads: 16)

    var tokens: Int { (image / patch) * (image / patch) + 1 }
}

/// A ViT-S/B/L with 16-px patches and a class token (timm names; UNI-style LayerScale when
/// the file has `ls1`/`ls2`). LayerScale is folded into the projection weights at load.
final class VisionTransformer: PatchEncoder, CountsMACs {
    let name: String
    var featureDim: Int { config.dim }
    let contract: InputContract
    let provenance: [String: String]
    let config: ViTConfig

    struct Block {
        let norm1w: [Float], norm1b: [Float], norm2w: [Float], norm2b: [Float]
        let qkv: Linear, proj: Linear, fc1: Linear, fc2: Linear
    }

    private let patchEmbed: Conv2D
    private let clsToken: [Float], posEmbed: [Float]
    private let blocks: [Block]
    private let finalNormW: [Float], finalNormB: [Float]
    /// `avg` pooling with timm's plain `norm` (fc_norm=False): norm every token, then average.
    private let normBeforePool: Bool
    private let microBatch = 8
    private let buffers = (0..<6).map { _ in Buffer() }
    private let scratch = ScratchPool()
    private let eps: Float = 1e-6

    init(name: String, config: ViTConfig, weights: SafeTensorsFile, contract: InputContract, provenance: [String: String]) throws {
        let w = WeightStore(weights)
        let d = config.dim, t = config.tokens, p = config.patch
        self.name = name
        self.config = config
        patchEmbed = Conv2D(weight: w.take("patch_embed.proj.weight", [d, 3, p, p]), bias: w.take("patch_embed.proj.bias", [d]),
                            cin: 3, cout: d, kernel: p, stride: p, pad: 0)
        clsToken = w.take("cls_token", [1, 1, d])
        posEmbed = w.take("pos_embed", [1, t, d])
        let layerScale = w.has("blocks.0.ls1.gamma")
        blocks = (0..<config.depth).map { i in
            let b = "blocks.\(i)"
            var proj = Linear(w, b + ".attn.proj", in: d, out: d)
            var fc2 = Linear(w, b + ".mlp.fc2", in: d * config.mlpRatio, out: d)
            if layerScale {
                proj.scaleOutputs(by: w.take(b + ".ls1.gamma", [d]))
                fc2.scaleOutputs(by: w.take(b + ".ls2.gamma", [d]))
            }
            return Block(norm1w: w.take(b + ".norm1.weight", [d]), norm1b: w.take(b + ".norm1.bias", [d]),
                         norm2w: w.take(b + ".norm2.weight", [d]), norm2b: w.take(b + ".norm2.bias", [d]),
                         qkv: Linear(w, b + ".attn.qkv", in: d, out: 3 * d), proj: proj,
                         fc1: Linear(w, b + ".mlp.fc1", in: d, out: d * config.mlpRatio), fc2: fc2)
        }
        let finalNorm = (config.pool == .avg && w.has("fc_norm.weight")) ? "fc_norm" : "norm"
        normBeforePool = config.pool == .avg && finalNorm == "norm"
        finalNormW = w.take(finalNorm + ".weight", [d])
        finalNormB = w.take(finalNorm + ".bias", [d])
        w.ignore { $0.hasPrefix("head.") }   // a classifier head, unused for features
        try w.finish(architecture: "\(name) (timm VisionTransformer: dim \(d), depth \(config.depth), \(config.heads) heads, patch \(p), \(config.pool.rawValue) pooling)")
        self.contract = contract
        self.provenance = provenance
    }

    var macsPerPatch: Int {
        let d = config.dim, t = config.tokens, h = config.mlpRatio * d
        let perBlock = t * d * 3 * d + 2 * t * t * d + t * d * d + 2 * t * d * h
        return (t - 1) * d * 3 * config.patch * config.patch + config.depth * perBlock
    }

    func encode(_ pixels: UnsafeBufferPointer<UInt8>, count: Int, into out: UnsafeMutableBufferPointer<Float>) throws {
        try encodeInMicroBatches(self, pixels, count: count, into: out, size: microBatch, forward)
    }

    private func forward(_ pixels: UnsafePointer<UInt8>, count n: Int, into out: UnsafeMutablePointer<Float>) {
        let d = config.dim, t = config.tokens, side = contract.patchPx, hidden = config.mlpRatio * d
        let grid = side / config.patch, patches = grid * grid
        let rows = n * t
        let input = buffers[0].reserve(n * side * side * 3)
        normalise(pixels, count: n * side * side, mean: contract.mean, std: contract.std, into: input)
        let x = buffers[1].reserve(rows * d)
        let h = buffers[2].reserve(rows * max(3 * d, hidden))   // LN output, then qkv, then MLP hidden
        let a = buffers[3].reserve(rows * d)                     // attention output / patch tokens

        // Patch embedding (16×16 stride-16 convolution) and tokens: [cls, patches] + pos.
        patchEmbed.forward(input, batch: n, side: side, into: a, bias: nil, scratch: scratch)
        for b in 0..<n {
            let tok = x + b * t * d
            for j in 0..<d { tok[j] = clsToken[j] + posEmbed[j] }
            for p in 0..<patches {
                let src = a + (b * patches + p) * d, dst = tok + (p + 1) * d
                for j in 0..<d { dst[j] = (src[j] + patchEmbed.bias[j]) + posEmbed[(p + 1) * d + j] }
            }
        }

        for blk in blocks {
            // x += proj(attention(norm1(x)))
            let normed = buffers[5].reserve(rows * d)
            Kernels.layerNorm(x, normed, m: rows, n: d, weight: blk.norm1w, bias: blk.norm1b, eps: eps)
            blk.qkv.forward(normed, rows: rows, into: h)
            attention(qkv: h, batch: n, into: a)
            blk.proj.forward(a, rows: rows, into: x, beta: 1)
            // x += fc2(gelu(fc1(norm2(x))))
            Kernels.layerNorm(x, normed, m: rows, n: d, weight: blk.norm2w, bias: blk.norm2b, eps: eps)
            blk.fc1.forward(normed, rows: rows, into: h, activation: .gelu)
            blk.fc2.forward(h, rows: rows, into: x, beta: 1)
        }

        switch config.pool {
        case .token:
            for b in 0..<n {
                Kernels.layerNorm(x + b * t * d, out + b * d, m: 1, n: d, weight: finalNormW, bias: finalNormB, eps: eps)
            }
        case .avg:
            if normBeforePool {
                Kernels.layerNorm(x, x, m: rows, n: d, weight: finalNormW, bias: finalNormB, eps: eps)
            }
            for b in 0..<n {
                globalAveragePool(x + (b * t + 1) * d, batch: 1, pixels: t - 1, channels: d, into: out + b * d)
                if !normBeforePool {
                    Kernels.layerNorm(out + b * d, out + b * d, m: 1, n: d, weight: finalNormW, bias: finalNormB, eps: eps)
                }
            }
        }
    }

    /// Multi-head self-attention for each image and head: softmax(q·kᵀ/√hd)·v, reading q, k, v
    /// in place from the packed qkv rows (timm's (3, heads, hd) split) and writing each head's
    /// output into its columns of `out`. Heads run in parallel, one thread each: 197×197×64
    /// products are too small to split.
    private func attention(qkv: UnsafePointer<Float>, batch n: Int, into out: UnsafeMutablePointer<Float>) {
        let d = config.dim, t = config.tokens, heads = config.heads, hd = d / heads
        let scale = 1 / Float(hd).squareRoot()
        let jobs = n * heads
        let threads = Compute.threads
        let scores = buffers[4].reserve(threads * t * t)
        let perWorker = (jobs + threads - 1) / threads
        Compute.parallel(threads) { worker in
            let s = scores + worker * t * t
            for job in (worker * perWorker)..<min(jobs, (worker + 1) * perWorker) {
                let b = job / heads, head = job % heads
                let base = qkv + b * t * 3 * d + head * hd
                sgemm(m: t, n: t, k: hd, a: base, lda: 3 * d, b: base + d, ldb: 3 * d, transB: true,
                      c: s, ldc: t, alpha: scale)
                for r in 0..<t { Kernels.softmaxRow(s + r * t, t) }
                sgemm(m: t, n: hd, k: t, a: s, lda: t, b: base + 2 * d, ldb: 3 * d, transB: false,
                      c: out + b * t * d + head * hd, ldc: d)
            }
        }
    }
}
