import Foundation
import PatchBag
import TestSupport
import XCTest

/// `radiopath embed` end to end, as a user runs it.
final class EmbedCommandTests: XCTestCase {
    /// Slides in, features out (tiled first at the encoder's contract); a broken slide and a
    /// missing bag are reported and the rest finish; rerunning skips; h5py reads the result
    /// the way CLAM's training code does.
    func testSlidesAreTiledThenEmbeddedAndBadInputsDoNotStopTheBatch() throws {
        let slides = try TestEnv.testdata("slides")
        let dir = try TestEnv.scratch(self, "cli-embed")
        let out = dir + "/out"
        let r = try radiopath(["embed", slides + "/CMU-1-Small-Region.svs", slides + "/broken.svs", dir + "/gone.h5",
                               "--out", out, "--batch-size", "16", "--json"])
        XCTAssertEqual(r.status, 1, "some inputs failed: exit 1\n\(r.stderr)")
        XCTAssertTrue(r.stderr.contains("broken"), r.stderr)
        XCTAssertTrue(r.stderr.contains("gone.h5: patch bag not found"), r.stderr)
        XCTAssertTrue(r.stderr.contains("1 done, 0 skipped, 2 failed"), r.stderr)
        let results = try XCTUnwrap(try TestEnv.json(Data(r.stdout.utf8)) as? [[String: Any]])
        let cmu = try XCTUnwrap(results.first { $0["slideID"] as? String == "CMU-1-Small-Region" })
        XCTAssertEqual(cmu["status"] as? String, "done")
        let patches = try XCTUnwrap(cmu["patches"] as? Int)
        XCTAssertGreaterThan(patches, 20)

        let features = out + "/features_pathomic-v1/CMU-1-Small-Region.h5"
        let bag = try PatchBag.read(path: out + "/patches/CMU-1-Small-Region.h5")
        XCTAssertEqual(bag.coordsAttributes["patch_size"], .int(224), "tiled at the encoder's patch size")
        let check = """
        import h5py, json, sys
        with h5py.File(sys.argv[1], "r") as f:
            feats, coords = f["features"][:], f["coords"][:]
            a = f.attrs
            print(json.dumps({"shape": list(feats.shape), "dtype": str(feats.dtype), "coords": list(coords.shape),
                              "coords_dtype": str(coords.dtype), "encoder": a["encoder"],
                              "contract": json.loads(a["encoder_input_contract"]),
                              "finite": bool((feats == feats).all()), "version": a["radiopath_version"],
                              "level": int(f["coords"].attrs["patch_level"])}))
        """
        let peer = try XCTUnwrap(try TestEnv.json(try TestEnv.runPython(check, [features])) as? [String: Any])
        let shape = try XCTUnwrap(peer["shape"] as? [Int])
        XCTAssertEqual(shape.first, patches)
        XCTAssertEqual(peer["dtype"] as? String, "float32")
        XCTAssertEqual(peer["coords"] as? [Int], [patches, 2])
        XCTAssertEqual(peer["coords_dtype"] as? String, "int64")
        XCTAssertEqual(peer["encoder"] as? String, "pathomic-v1")
        XCTAssertEqual((peer["contract"] as? [String: Any])?["patchPx"] as? Int, 224)
        XCTAssertEqual(peer["finite"] as? Bool, true)
        XCTAssertEqual(peer["level"] as? Int, 0)
        for name in ["embed_summary.csv", "embed_run.json"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: out + "/features_pathomic-v1/" + name), name)
        }

        // Rerun on the bag: nothing to do.
        let again = try radiopath(["embed", out + "/patches", "--out", out])
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertTrue(again.stderr.contains("0 done, 1 skipped, 0 failed"), again.stderr)
    }

    func testWeightProblemsStopBeforeAnySlideWithExit2() throws {
        let dir = try TestEnv.scratch(self, "cli-embed-w")
        let r = try radiopath(["embed", dir, "--out", dir + "/o", "--encoder", "resnet50-trunc", "--weights", TestEnv.packageRoot + "/README.md"])
        XCTAssertEqual(r.status, 2, r.stderr)
        XCTAssertTrue(r.stderr.contains("README.md") && r.stderr.contains("safetensors"), r.stderr)
        let missing = try radiopath(["embed", dir, "--out", dir + "/o", "--encoder", "vit-b16"])
        XCTAssertEqual(missing.status, 2)
        XCTAssertTrue(missing.stderr.contains("--weights"), missing.stderr)
    }

    func testListNamesEveryEncoderAndWhatItNeeds() throws {
        let r = try radiopath(["embed", "list", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let rows = try XCTUnwrap(try TestEnv.json(Data(r.stdout.utf8)) as? [[String: Any]])
        let byName = Dictionary(uniqueKeysWithValues: rows.map { ($0["name"] as! String, $0) })
        XCTAssertEqual(Set(byName.keys), ["pathomic-v1", "resnet50-trunc", "vit-s16", "vit-b16", "vit-l16"])
        XCTAssertEqual(byName["pathomic-v1"]?["needsWeights"] as? Bool, false)
        XCTAssertEqual(byName["vit-l16"]?["featureDim"] as? Int, 1024)
        XCTAssertEqual(byName["resnet50-trunc"]?["featureDim"] as? Int, 1024)
    }
}
