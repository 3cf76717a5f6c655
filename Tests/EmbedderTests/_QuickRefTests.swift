// TEMPORARY debugging harness (deleted before commit).
@testable import Embedder
import Foundation
import XCTest

final class QuickRefTests: XCTestCase {
    func run(_ enc: PatchEncoder, _ ref: String) throws {
        let raw = try Data(contentsOf: URL(fileURLWithPath: "/tmp/patches.raw"))
        let n = raw.count / (224 * 224 * 3)
        var out = [Float](repeating: 0, count: n * enc.featureDim)
        try raw.withUnsafeBytes { p in try out.withUnsafeMutableBufferPointer { o in
            try enc.encode(p.bindMemory(to: UInt8.self), count: n, into: o) } }
        let refData = try Data(contentsOf: URL(fileURLWithPath: ref))
        let floats = refData.suffix(n * enc.featureDim * 4).withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        var num = 0.0, den = 0.0
        for i in 0..<out.count { num += Double(out[i] - floats[i]) * Double(out[i] - floats[i]); den += Double(floats[i] * floats[i]) }
        print("REL L2", (num / den).squareRoot(), out.prefix(4), floats.prefix(4))
    }
    func testResNet() throws {
        let c = InputContract(patchPx: 224, mpp: 0.5, resize: "", mean: InputContract.imagenetMean, std: InputContract.imagenetStd)
        try run(ResNet50Trunc(weights: SafeTensorsFile(path: "/tmp/resnet.safetensors"), contract: c, provenance: [:]), "/tmp/resnet.safetensors.ref.npy")
    }
    func testViT() throws {
        let c = InputContract(patchPx: 224, mpp: 0.5, resize: "", mean: InputContract.imagenetMean, std: InputContract.imagenetStd)
        try run(VisionTransformer(name: "t", config: ViTConfig(dim: 384, depth: 2, heads: 6), weights: SafeTensorsFile(path: "/tmp/vit.safetensors"), contract: c, provenance: [:]), "/tmp/vit.safetensors.ref.npy")
    }
}
