import Foundation
import SafeTensors

/// torchvision's ResNet-50 (v1.5: the stride sits on the 3×3 convolution) cut after layer3,
/// global-average-pooled to 1024 values — CLAM's and TRIDENT's `resnet50_trunc`. Batch norms
/// are folded into the convolutions; activations are NHWC so every convolution is one GEMM.
final class ResNet50Trunc: PatchEncoder, CountsMACs {
    let name = "resnet50-trunc"
    let featureDim = 1024
    let contract: InputContract
    let provenance: [String: String]

    struct Bottleneck {
        let conv1: Conv2D, conv2: Conv2D, conv3: Conv2D
        let downsample: Conv2D?
        /// conv3's bias plus the downsample's, added once after both GEMMs.
        let outBias: [Float]
    }

    private let stem: Conv2D
    private let blocks: [Bottleneck]
    /// Images pushed through the network together: bounds activation memory (about 13 MB
    /// per image at 224 px) while keeping GEMMs large.
    private let microBatch = 8
    private let buffers = (0..<5).map { _ in Buffer() }
    private let scratch = ScratchPool()

    init(weights: SafeTensorsFile, contract: InputContract, provenance: [String: String]) throws {
        let w = WeightStore(weights)
        stem = Conv2D(w, "conv1", bn: "bn1", cin: 3, cout: 64, kernel: 7, stride: 2, pad: 3)
        var blocks: [Bottleneck] = []
        var cin = 64
        for (layer, (count, width)) in [(3, 64), (4, 128), (6, 256)].enumerated() {
            for i in 0..<count {
                let p = "layer\(layer + 1).\(i)"
                let stride = (i == 0 && layer > 0) ? 2 : 1
                let c1 = Conv2D(w, p + ".conv1", bn: p + ".bn1", cin: cin, cout: width, kernel: 1, stride: 1, pad: 0)
                let c2 = Conv2D(w, p + ".conv2", bn: p + ".bn2", cin: width, cout: width, kernel: 3, stride: stride, pad: 1)
                let c3 = Conv2D(w, p + ".conv3", bn: p + ".bn3", cin: width, cout: width * 4, kernel: 1, stride: 1, pad: 0)
                let ds = i == 0 ? Conv2D(w, p + ".downsample.0", bn: p + ".downsample.1", cin: cin, cout: width * 4,
                                         kernel: 1, stride: stride, pad: 0) : nil
                let bias = ds.map { zip(c3.bias, $0.bias).map { $0 + $1 } } ?? c3.bias
                blocks.append(Bottleneck(conv1: c1, conv2: c2, conv3: c3, downsample: ds, outBias: bias))
                cin = width * 4
            }
        }
        self.blocks = blocks
        // A full ImageNet checkpoint also holds layer4 and the classifier; the truncated
        // network does not use them (as CLAM's resnet50_baseline).
        w.ignore { $0.hasPrefix("layer4.") || $0.hasPrefix("fc.") }
        try w.finish(architecture: "ResNet-50 (torchvision names, truncated after layer3)")
        self.contract = contract
        self.provenance = provenance
    }

    /// Multiply–accumulates per 224-px patch (for GFLOP/s figures).
    var macsPerPatch: Int {
        var side = stem.outputSide(contract.patchPx)
        var macs = side * side * stem.macsPerOutputPixel
        side = (side + 2 - 3) / 2 + 1
        for b in blocks {
            let s2 = b.conv2.outputSide(side)
            macs += side * side * b.conv1.macsPerOutputPixel + s2 * s2 * (b.conv2.macsPerOutputPixel + b.conv3.macsPerOutputPixel)
            if let d = b.downsample { macs += s2 * s2 * d.macsPerOutputPixel }
            side = s2
        }
        return macs
    }

    func encode(_ pixels: UnsafeBufferPointer<UInt8>, count: Int, into out: UnsafeMutableBufferPointer<Float>) throws {
        try encodeInMicroBatches(self, pixels, count: count, into: out, size: microBatch, forward)
    }

    private func forward(_ pixels: UnsafePointer<UInt8>, count n: Int, into out: UnsafeMutablePointer<Float>) {
        let side0 = contract.patchPx
        let input = buffers[0].reserve(n * side0 * side0 * 3)
        normalise(pixels, count: n * side0 * side0, mean: contract.mean, std: contract.std, into: input)
        // Largest activation: the stem's (side/2)² × 64, equal to layer1's (side/4)² × 256.
        let biggest = n * stem.outputSide(side0) * stem.outputSide(side0) * 64
        var x = buffers[1].reserve(biggest), y = buffers[2].reserve(biggest)
        let t1 = buffers[3].reserve(biggest / 2), t2 = buffers[4].reserve(biggest / 4)

        var side = stem.outputSide(side0)
        stem.forward(input, batch: n, side: side0, into: y, bias: stem.bias, activation: .relu, scratch: scratch)
        side = maxPool3x3s2(y, batch: n, side: side, channels: 64, into: x)

        for b in blocks {
            let s2 = b.conv2.outputSide(side)
            b.conv1.forward(x, batch: n, side: side, into: t1, bias: b.conv1.bias, activation: .relu, scratch: scratch)
            b.conv2.forward(t1, batch: n, side: side, into: t2, bias: b.conv2.bias, activation: .relu, scratch: scratch)
            // Residual: accumulate conv3 into the identity (or the downsampled input) in place,
            // then add both biases and apply the ReLU in the same pass.
            if let d = b.downsample {
                d.forward(x, batch: n, side: side, into: y, bias: nil, scratch: scratch)
                b.conv3.forward(t2, batch: n, side: s2, into: y, beta: 1, bias: b.outBias, activation: .relu, scratch: scratch)
                swap(&x, &y)
            } else {
                b.conv3.forward(t2, batch: n, side: s2, into: x, beta: 1, bias: b.outBias, activation: .relu, scratch: scratch)
            }
            side = s2
        }
        globalAveragePool(x, batch: n, pixels: side * side, channels: featureDim, into: out)
    }
}
