@testable import Embedder
import Foundation
import SafeTensors
import ImageCore
import TestSupport
import XCTest

/// Weight files that do not fit: every problem listed at once, with the fix; dtypes; the
/// registry's own refusals.
final class WeightLoadingTests: XCTestCase {
    func generate(_ arch: String, _ args: [String] = [], in dir: String) throws -> String {
        let path = dir + "/\(arch)-\(args.joined(separator: "_")).safetensors"
        let r = try TestEnv.run(try TestEnv.python(), [TestEnv.packageRoot + "/scripts/embed_weights.py", arch, path] + args)
        XCTAssertEqual(r.status, 0, r.stderr)
        return path
    }

    func mismatch(_ body: () throws -> Any) -> String {
        do { _ = try body(); XCTFail("expected a weight mismatch"); return "" } catch let e as EmbedderError {
            XCTAssertEqual(e.kind, .weightMismatch, e.description)
            return e.description
        } catch { XCTFail("unexpected \(error)"); return "" }
    }

    func testAnotherArchitecturesWeightsListMissingAndUnexpectedTensors() throws {
        let dir = try TestEnv.scratch(self, "w")
        let vit = try generate("vit-s16", ["--depth", "1"], in: dir)
        let text = mismatch { try EncoderRegistry.make("resnet50-trunc", weights: vit) }
        XCTAssertTrue(text.contains("missing ("), text)
        XCTAssertTrue(text.contains("conv1.weight [64, 3, 7, 7]"), text)
        XCTAssertTrue(text.contains("unexpected ("), text)
        XCTAssertTrue(text.contains("blocks.0.attn.qkv.weight"), text)
        XCTAssertTrue(text.contains("ResNet-50"), text)
    }

    func testWrongWidthListsShapesAndWrongDepthListsBlocks() throws {
        let dir = try TestEnv.scratch(self, "w")
        let small = try generate("vit-s16", [], in: dir)
        let wide = mismatch { try EncoderRegistry.make("vit-b16", weights: small) }
        XCTAssertTrue(wide.contains("wrong shape ("), wide)
        XCTAssertTrue(wide.contains("patch_embed.proj.weight: file [384, 3, 16, 16], expected [768, 3, 16, 16]"), wide)

        let shallow = try generate("vit-s16", ["--depth", "11"], in: dir)
        let missing = mismatch { try EncoderRegistry.make("vit-s16", weights: shallow) }
        XCTAssertTrue(missing.contains("blocks.11.norm1.weight"), missing)
        XCTAssertFalse(missing.contains("unexpected"), missing)

        let deep = try generate("vit-s16", ["--depth", "13"], in: dir)
        let extra = mismatch { try EncoderRegistry.make("vit-s16", weights: deep) }
        XCTAssertTrue(extra.contains("unexpected (") && extra.contains("blocks.12."), extra)
        XCTAssertFalse(extra.contains("missing"), extra)
    }

    /// F16 and BF16 files load (converted to Float) and give nearly the F32 network.
    func testHalfPrecisionFilesLoadAndAgreeWithFloat32() throws {
        let dir = try TestEnv.scratch(self, "w")
        var config = ViTConfig.small
        config.depth = 1
        let contract = InputContract(patchPx: 224, mpp: 0.5, resize: "area", mean: InputContract.imagenetMean, std: InputContract.imagenetStd)
        var state: UInt32 = 7
        let pixels = (0..<(2 * 224 * 224 * 3)).map { _ -> UInt8 in state = state &* 1_664_525 &+ 1_013_904_223; return UInt8(state >> 24) }
        func run(_ dtype: String) throws -> [Float] {
            let path = try generate("vit-s16", ["--depth", "1", "--dtype", dtype], in: dir)
            let vit = try VisionTransformer(name: "vit-s16", config: config, weights: SafeTensorsFile(path: path), contract: contract, provenance: [:])
            var out = [Float](repeating: 0, count: 2 * 384)
            try pixels.withUnsafeBufferPointer { p in try out.withUnsafeMutableBufferPointer { try vit.encode(p, count: 2, into: $0) } }
            return out
        }
        let f32 = try run("F32")
        for (dtype, bound) in [("F16", 5e-3), ("BF16", 4e-2)] {
            let other = try run(dtype)
            let num = zip(f32, other).reduce(0.0) { $0 + Double(($1.0 - $1.1) * ($1.0 - $1.1)) }
            let den = f32.reduce(0.0) { $0 + Double($1 * $1) }
            let rel = (num / den).squareRoot()
            XCTAssertGreaterThan(rel, 0, "\(dtype) rounding must change something")
            XCTAssertLessThan(rel, bound, "\(dtype) vs F32 relative L2 \(rel)")
        }
    }

    func testTruncatedAndForeignFilesAreUnreadableWithTheReason() throws {
        let dir = try TestEnv.scratch(self, "w")
        let good = try generate("vit-s16", ["--depth", "1"], in: dir)
        let data = try Data(contentsOf: URL(fileURLWithPath: good))
        let cut = dir + "/cut.safetensors"
        try data.prefix(data.count / 2).write(to: URL(fileURLWithPath: cut))
        for (path, phrase) in [(cut, "truncated"), (TestEnv.packageRoot + "/README.md", "not a safetensors file"),
                               (dir + "/absent.safetensors", "not found")] {
            do { _ = try SafeTensorsFile(path: path); XCTFail("\(path) should not load") } catch let e as SafeTensorsError {
                XCTAssertTrue(e.description.contains(phrase), e.description)
                XCTAssertTrue(e.description.contains(path), e.description)
            }
        }
    }

    func testRegistryRefusalsAndWeightHashInProvenance() throws {
        let dir = try TestEnv.scratch(self, "w")
        XCTAssertThrowsError(try EncoderRegistry.make("resnet18", weights: nil)) {
            XCTAssertTrue("\($0)".contains("resnet50-trunc"), "names the choices: \($0)")
        }
        XCTAssertThrowsError(try EncoderRegistry.make("resnet50-trunc", weights: nil)) {
            XCTAssertTrue("\($0)".contains("--weights"), "\($0)")
        }
        XCTAssertThrowsError(try EncoderRegistry.make("pathomic-v1", weights: "/x.safetensors"))
        let path = try generate("resnet50-trunc", ["--full-resnet", "--dtype", "F16"], in: dir)
        let enc = try EncoderRegistry.make("resnet50-trunc", weights: path)
        XCTAssertEqual(enc.provenance["weights_sha256"], try SHA256.hexDigest(ofFile: path))
        XCTAssertEqual(enc.featureDim, 1024)
        // Multiply–accumulates per 224-px patch, counted layer by layer (bench_embed.py counts
        // them independently from the torch model: 6.556 GFLOP).
        XCTAssertEqual((enc as? CountsMACs)?.macsPerPatch, 3_277_897_728)
    }
}
