@testable import Embedder
import Foundation
import SafeTensors
import ImageCore
import SlideIO
import TestSupport
import XCTest

/// Every architecture against an independent PyTorch forward pass: the same seeded weights
/// (scripts/embed_weights.py, numpy only) on the same real patches, torch's features
/// committed as fixtures (scripts/make_embed_fixtures.py). Bar: relative L2 ≤ 1e-4 per patch.
final class ExactnessTests: XCTestCase {
    struct Fixture: Decodable {
        struct Weights: Decodable { let arch: String; let args: [String]; let sha256: String }
        struct Patch: Decodable { let slide: String; let level: Int; let x: Int; let y: Int; let size: Int; let rgb_sha256: String }
        let `case`: String
        let weights: Weights
        let patches: [Patch]
        let mean: [Float], std: [Float]
        let features: [[Float]]
    }

    static func fixture(_ name: String) throws -> Fixture {
        let url = URL(fileURLWithPath: TestEnv.packageRoot + "/Tests/EmbedderTests/Fixtures/\(name).json")
        return try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: url))
    }

    /// Generates the fixture's weight file with the committed generator and checks it is
    /// byte-identical (SHA-256) to the one torch saw.
    func weights(_ f: Fixture) throws -> String {
        let path = try TestEnv.scratch(self, "weights") + "/w.safetensors"
        let r = try TestEnv.run(try TestEnv.python(), [TestEnv.packageRoot + "/scripts/embed_weights.py", f.weights.arch, path] + f.weights.args)
        if r.stderr.contains("No module named") { throw XCTSkip("SKIPPED: numpy missing in the venv: \(r.stderr)") }
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(try SHA256.hexDigest(ofFile: path), f.weights.sha256, "generated weights differ from the fixture's")
        return path
    }

    /// The fixture's patches, read through SlideIO, byte-checked against what torch read.
    func patches(_ f: Fixture) throws -> [UInt8] {
        var all: [UInt8] = []
        for p in f.patches {
            let slide = try Slide.open(path: try TestEnv.testdata(p.slide))
            let img = try slide.readRegion(x: p.x, y: p.y, level: p.level, width: p.size, height: p.size)
            var h = SHA256()
            img.pixels.withUnsafeBytes { h.update($0) }
            XCTAssertEqual(h.finish().map { String(format: "%02x", $0) }.joined(), p.rgb_sha256, "patch \(p.slide) (\(p.x), \(p.y)) differs from torch's input")
            all += img.pixels
        }
        return all
    }

    func check(_ encoder: PatchEncoder, _ f: Fixture, pixels: [UInt8], file: StaticString = #filePath, line: UInt = #line) throws {
        let n = f.patches.count, d = encoder.featureDim
        XCTAssertEqual(f.features.first?.count, d, file: file, line: line)
        var out = [Float](repeating: .nan, count: n * d)
        try pixels.withUnsafeBufferPointer { p in try out.withUnsafeMutableBufferPointer { o in try encoder.encode(p, count: n, into: o) } }
        for i in 0..<n {
            var num = 0.0, den = 0.0
            for j in 0..<d {
                let a = Double(out[i * d + j]), b = Double(f.features[i][j])
                num += (a - b) * (a - b); den += b * b
            }
            let rel = (num / den).squareRoot()
            XCTAssertLessThanOrEqual(rel, 1e-4, "\(f.case) patch \(i): relative L2 \(rel)", file: file, line: line)
            XCTAssertGreaterThan(den, 1e-6, "reference features are not all zero", file: file, line: line)
        }
    }

    func testResNet50TruncMatchesPyTorch() throws {
        let f = try Self.fixture("resnet50-trunc")
        let pixels = try patches(f)
        try check(try EncoderRegistry.make("resnet50-trunc", weights: try weights(f)), f, pixels: pixels)
    }

    func testViTSmallAvgPoolMatchesPyTorch() throws {
        let f = try Self.fixture("vit-s16-avg")
        let pixels = try patches(f)
        try check(try EncoderRegistry.make("vit-s16", weights: try weights(f), options: EncoderOptions(pool: .avg)), f, pixels: pixels)
    }

    func testViTBaseMatchesPyTorch() throws {
        let f = try Self.fixture("vit-b16")
        let pixels = try patches(f)
        try check(try EncoderRegistry.make("vit-b16", weights: try weights(f)), f, pixels: pixels)
    }

    /// ViT-L at its real width and heads with UNI's LayerScale; two blocks instead of 24 keep
    /// the weights at 100 MB instead of 1.2 GB (every block runs the same code).
    func testViTLargeLayerScaleMatchesPyTorch() throws {
        let f = try Self.fixture("vit-l16-depth2-layerscale")
        let pixels = try patches(f)
        var config = ViTConfig.large
        config.depth = 2
        let contract = InputContract(patchPx: 224, mpp: 0.5, resize: "area", mean: f.mean, std: f.std)
        let vit = try VisionTransformer(name: "vit-l16", config: config, weights: SafeTensorsFile(path: try weights(f)),
                                        contract: contract, provenance: [:])
        try check(vit, f, pixels: pixels)
    }
}
