@testable import Embedder
import FeatureExtraction
import Foundation
import SafeTensors
import ImageCore
import PatchBag
import SlideIO
import TestSupport
import Tiler
import XCTest

/// `EmbedJob` end to end on a real slide: tile, embed, compare with the encoder run on the
/// same patches directly; resume, a changed slide, size mismatches, NaN output.
final class EmbedJobTests: XCTestCase {
    /// A one-block ViT-S with seeded weights (scripts/embed_weights.py): real engine, small cost.
    func smallViT(_ dir: String) throws -> VisionTransformer {
        let path = dir + "/vit.safetensors"
        let r = try TestEnv.run(try TestEnv.python(), [TestEnv.packageRoot + "/scripts/embed_weights.py", "vit-s16", path, "--depth", "1"])
        XCTAssertEqual(r.status, 0, r.stderr)
        var config = ViTConfig.small
        config.depth = 1
        let contract = InputContract(patchPx: 224, mpp: 0.5, resize: "area", mean: InputContract.imagenetMean, std: InputContract.imagenetStd)
        return try VisionTransformer(name: "vit-s16", config: config, weights: SafeTensorsFile(path: path), contract: contract,
                                     provenance: ["weights_sha256": try ImageCoreSHA.digest(path)])
    }

    /// Tiles CMU-1-Small-Region at `patchSize` px and 0.5 µm/px; returns the bag path.
    func tile(_ dir: String, patchSize: Int) throws -> String {
        let slide = try TestEnv.testdata("slides/CMU-1-Small-Region.svs")
        var preset = TilingPreset(name: "test")
        try preset.set("patch_size", "\(patchSize)")
        try preset.set("target_mpp", "0.5")
        let r = TileJob.run(TileRequest(slidePath: slide, slideID: "cmu", layout: TileOutputLayout(root: dir), preset: preset,
                                        mppOverride: nil, force: false, toolVersion: "test"))
        XCTAssertEqual(r.status, .done, r.error ?? "")
        XCTAssertGreaterThan(r.patches, 10)
        return TileOutputLayout(root: dir).bag("cmu")
    }

    func request(_ bag: String, _ out: String) -> EmbedRequest {
        var r = EmbedRequest(bagPath: bag, slideID: "cmu", outputPath: out, toolVersion: "test", command: "test")
        r.batchSize = 7   // not a divisor of the patch count: a short last batch
        return r
    }

    func testFeaturesEqualTheEncoderOnTheSamePatchesAndResumeSkips() throws {
        let dir = try TestEnv.scratch(self, "embed")
        let vit = try smallViT(dir)
        let bagPath = try tile(dir, patchSize: 224)
        let out = dir + "/features_vit-s16/cmu.h5"
        let r = EmbedJob.run(request(bagPath, out), encoder: vit)
        XCTAssertEqual(r.status, .done, r.error ?? "")
        let bag = try PatchBag.read(path: bagPath)
        let feats = try PatchBag.read(path: out)
        XCTAssertEqual(r.patches, bag.count)
        XCTAssertEqual(feats.coords, bag.coords)
        XCTAssertEqual(feats.featureDim, 384)
        XCTAssertEqual(feats.features?.count, bag.count * 384)
        XCTAssertEqual(feats.fileAttributes["encoder"], .string("vit-s16"))
        XCTAssertEqual(feats.fileAttributes["radiopath_command"], .string("embed"))
        XCTAssertEqual(feats.fileAttributes["encoder_weights_sha256"], vit.provenance["weights_sha256"].map { .string($0) })
        guard case .string(let contract)? = feats.fileAttributes["encoder_input_contract"] else { return XCTFail("no contract") }
        XCTAssertEqual(try JSONDecoder().decode(InputContract.self, from: Data(contract.utf8)), vit.contract)
        XCTAssertEqual(feats.coordsAttributes["patch_size"], bag.coordsAttributes["patch_size"])

        // Rows equal the encoder on patches read one by one with Slide.readRegion.
        let slide = try Slide.open(path: try TestEnv.testdata("slides/CMU-1-Small-Region.svs"))
        for i in [0, bag.count / 2, bag.count - 1] {
            let img = try slide.readRegion(x: Int(bag.coords[2 * i]), y: Int(bag.coords[2 * i + 1]), level: 0, width: 224, height: 224)
            var row = [Float](repeating: 0, count: 384)
            try img.pixels.withUnsafeBufferPointer { p in try row.withUnsafeMutableBufferPointer { o in try vit.encode(p, count: 1, into: o) } }
            let stored = Array(feats.features![(i * 384)..<((i + 1) * 384)])
            let err = zip(row, stored).map { abs($0 - $1) }.max()!
            XCTAssertLessThan(err, 1e-5, "patch \(i): batch of 7 vs batch of 1 differ by \(err)")
        }

        let again = EmbedJob.run(request(bagPath, out), encoder: vit)
        XCTAssertEqual(again.status, .skipped)
        var forced = request(bagPath, out)
        forced.force = true
        XCTAssertEqual(EmbedJob.run(forced, encoder: vit).status, .done)
    }

    func testChangedSlideMissingSlideAndSizeMismatchFailClearly() throws {
        let dir = try TestEnv.scratch(self, "embed-bad")
        let vit = try smallViT(dir)
        let bagPath = try tile(dir, patchSize: 256)
        var bag = try PatchBag.read(path: bagPath)

        // 256-px patches for a 224-px encoder: resized with a warning, or refused.
        let resized = EmbedJob.run(request(bagPath, dir + "/f/resized.h5"), encoder: vit)
        XCTAssertEqual(resized.status, .done, resized.error ?? "")
        XCTAssertTrue(resized.warnings.contains { $0.contains("resized to 224 px") }, "\(resized.warnings)")
        var refuse = request(bagPath, dir + "/f/refused.h5")
        refuse.sizeMismatch = .refuse
        let refused = EmbedJob.run(refuse, encoder: vit)
        XCTAssertEqual(refused.status, .failed)
        XCTAssertTrue(refused.hint?.contains("--patch-size 224") ?? false, refused.hint ?? "")
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/f/refused.h5"))

        // A slide that changed since tiling (recorded quickhash differs).
        bag.fileAttributes["slide_quickhash"] = .string("0000")
        let changedBag = dir + "/changed.h5"
        try PatchBag.write(path: changedBag, coords: bag.coords, coordsAttributes: bag.coordsAttributes,
                           tissueFraction: bag.tissueFraction, fileAttributes: bag.fileAttributes)
        let changed = EmbedJob.run(request(changedBag, dir + "/f/changed.h5"), encoder: vit)
        XCTAssertEqual(changed.status, .failed)
        XCTAssertTrue(changed.error?.contains("changed since it was tiled") ?? false, changed.error ?? "")

        // A slide that is gone.
        bag.fileAttributes["slide_path"] = .string(dir + "/nowhere.svs")
        let goneBag = dir + "/gone.h5"
        try PatchBag.write(path: goneBag, coords: bag.coords, coordsAttributes: bag.coordsAttributes,
                           tissueFraction: bag.tissueFraction, fileAttributes: bag.fileAttributes)
        let gone = EmbedJob.run(request(goneBag, dir + "/f/gone.h5"), encoder: vit)
        XCTAssertEqual(gone.status, .failed)
        XCTAssertTrue(gone.error?.contains("not found") ?? false, gone.error ?? "")
        XCTAssertTrue(gone.hint?.contains("--slides-dir") ?? false)
    }

    /// An encoder whose output turns non-finite for one patch (as broken weights do): the
    /// slide fails naming the patch, and no file is written.
    final class NaNAtPatch: PatchEncoder {
        let name = "nan-test", featureDim = 4
        let contract = InputContract(patchPx: 224, mpp: nil, resize: "", mean: [], std: [])
        let provenance: [String: String] = [:]
        var seen = 0
        func encode(_ pixels: UnsafeBufferPointer<UInt8>, count: Int, into out: UnsafeMutableBufferPointer<Float>) throws {
            for i in 0..<count {
                for j in 0..<4 { out[i * 4 + j] = Float(pixels[i * 224 * 224 * 3 + j]) }
                if seen + i == 9 { out[i * 4 + 2] = .infinity }
            }
            seen += count
        }
    }

    func testNonFiniteOutputFailsTheSlideAndWritesNothing() throws {
        let dir = try TestEnv.scratch(self, "embed-nan")
        let bagPath = try tile(dir, patchSize: 224)
        let out = dir + "/f/cmu.h5"
        let r = EmbedJob.run(request(bagPath, out), encoder: NaNAtPatch())
        XCTAssertEqual(r.status, .failed)
        XCTAssertTrue(r.error?.contains("patch 9") ?? false, r.error ?? "")
        XCTAssertFalse(FileManager.default.fileExists(atPath: out))
        let leftovers = (try? FileManager.default.contentsOfDirectory(atPath: dir + "/f")) ?? []
        XCTAssertTrue(leftovers.isEmpty, "temporary files left: \(leftovers)")
    }
}

enum ImageCoreSHA {
    static func digest(_ path: String) throws -> String { try ImageCore.SHA256.hexDigest(ofFile: path) }
}
