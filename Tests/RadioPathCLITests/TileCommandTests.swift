import Foundation
import PatchBag
import TestSupport
import XCTest

/// End to end through the built `radiopath` binary, as a user runs it.
final class TileCommandTests: XCTestCase {
    /// A small synthetic slide made by the CLI itself.
    func synth(_ dir: String, name: String = "synth", seed: Int = 5, size: (Int, Int) = (6000, 4500)) throws -> String {
        let path = "\(dir)/\(name).tiff"
        let r = try radiopath(["synth", "slide", "--width", "\(size.0)", "--height", "\(size.1)", "--seed", "\(seed)",
                               "--out", path, "--truth", "\(dir)/\(name).truth"])
        XCTAssertEqual(r.status, 0, r.stderr)
        return path
    }

    func testBatchWithBadSlidesReportsEachAndFinishesTheRest() throws {
        let slides = try TestEnv.testdata("slides")
        let dir = try TestEnv.scratch(self, "cli-batch")
        let good = try synth(dir)
        let out = dir + "/out"
        let r = try radiopath(["tile", good, slides + "/CMU-1-Small-Region.svs", slides + "/broken.svs", slides + "/kidney-48-5.tif",
                               dir + "/missing.svs", "--out", out, "--json"])
        XCTAssertEqual(r.status, 1, "some slides failed: exit 1\n\(r.stderr)")
        XCTAssertTrue(r.stderr.contains("broken.svs"), r.stderr)
        XCTAssertTrue(r.stderr.contains("--slide-mpp"), "kidney-48-5.tif has no scale: the message names the fix\n\(r.stderr)")
        XCTAssertTrue(r.stderr.contains("missing.svs: no such file"), r.stderr)
        XCTAssertTrue(r.stderr.contains("2 done, 0 skipped, 3 failed"), r.stderr)

        let results = try XCTUnwrap(try TestEnv.json(Data(r.stdout.utf8)) as? [[String: Any]])
        XCTAssertEqual(results.count, 5)
        let byID = Dictionary(uniqueKeysWithValues: results.map { ($0["slideID"] as! String, $0) })
        XCTAssertEqual(byID["synth"]?["status"] as? String, "done")
        XCTAssertEqual(byID["CMU-1-Small-Region"]?["status"] as? String, "done")
        XCTAssertEqual(byID["CMU-1-Small-Region"]?["mppSource"] as? String, "openslide-property")
        XCTAssertEqual(byID["broken"]?["status"] as? String, "failed")
        XCTAssertNotNil(byID["broken"]?["hint"] as? String)

        for id in ["synth", "CMU-1-Small-Region"] {
            for sub in ["patches/\(id).h5", "masks/\(id).png", "contours/\(id).geojson", "previews/\(id).png"] {
                XCTAssertTrue(FileManager.default.fileExists(atPath: "\(out)/\(sub)"), sub)
            }
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: "\(out)/patches/broken.h5"), "nothing written for a failed slide")
        let summary = try String(contentsOfFile: out + "/tile_summary.csv", encoding: .utf8)
        XCTAssertEqual(summary.split(separator: "\n").count, 6)
        XCTAssertTrue(summary.hasPrefix("slide_id,path,status,patches,mpp,mpp_source"))

        // Slide scale from the CSV fixes the slide that had none.
        // kidney-48-5.tif is a whole-slide overview (~25 mm across 1,493 px): about 16 µm/px.
        try "slide,mpp\nkidney-48-5,16\n".write(toFile: dir + "/mpp.csv", atomically: true, encoding: .utf8)
        let fixed = try radiopath(["tile", slides + "/kidney-48-5.tif", "--out", out, "--mpp-csv", dir + "/mpp.csv",
                                   "--target-mpp", "16", "--patch-size", "16", "--min-tissue-fraction", "0.25"])
        XCTAssertEqual(fixed.status, 0, fixed.stderr)
        let bag = try PatchBag.read(path: out + "/patches/kidney-48-5.h5")
        XCTAssertEqual(bag.fileAttributes["slide_mpp_source"], .string("user-override"))
        XCTAssertGreaterThan(bag.count, 0)
    }

    func testCLAMStyleReaderGetsWhatWasWritten() throws {
        let slide = try TestEnv.testdata("slides/CMU-1-Small-Region.svs")
        let dir = try TestEnv.scratch(self, "cli-clam")
        let r = try radiopath(["tile", slide, "--out", dir, "--patch-size", "256", "--target-mpp", "0.5"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let bag = try PatchBag.read(path: dir + "/patches/CMU-1-Small-Region.h5")
        XCTAssertGreaterThan(bag.count, 20)
        let script = """
        import sys, json, h5py, openslide, numpy as np
        f = h5py.File(sys.argv[1], 'r')
        c = f['coords'][:]
        a = f['coords'].attrs
        s = openslide.OpenSlide(sys.argv[2])
        x, y = (int(v) for v in c[len(c) // 2])
        patch = np.asarray(s.read_region((x, y), int(a['patch_level']), (int(a['patch_size']),) * 2).convert('RGB'))
        print(json.dumps(dict(shape=list(c.shape), dtype=str(c.dtype), first=c[0].tolist(), patch_size=int(a['patch_size']),
             patch_level=int(a['patch_level']), name=a['name'], name_type=type(a['name']).__name__,
             size0=int(a['patch_size_level0']), mag=float(a['target_magnification']),
             patch_mean=float(patch.mean()), quickhash=f.attrs['slide_quickhash'],
             real_quickhash=s.properties.get('openslide.quickhash-1'))))
        """
        let out = try XCTUnwrap(try TestEnv.json(try TestEnv.runPython(script, [dir + "/patches/CMU-1-Small-Region.h5", slide])) as? [String: Any])
        XCTAssertEqual(out["shape"] as? [Int], [bag.count, 2])
        XCTAssertEqual(out["dtype"] as? String, "int64")
        XCTAssertEqual(out["first"] as? [Int], [Int(bag.coords[0]), Int(bag.coords[1])])
        XCTAssertEqual(out["name"] as? String, "CMU-1-Small-Region")
        XCTAssertEqual(out["name_type"] as? String, "str")
        XCTAssertEqual(out["patch_level"] as? Int, 0)
        // 256 px at 0.5 µm/px on a 0.499 µm/px slide: 256.5 → 257 level-0 px, read at level 0.
        XCTAssertEqual(out["size0"] as? Int, 257)
        XCTAssertEqual(out["patch_size"] as? Int, 257)
        XCTAssertEqual(out["quickhash"] as? String, out["real_quickhash"] as? String)
        XCTAssertLessThan(out["patch_mean"] as? Double ?? 255, 235, "a kept patch shows tissue, not glass")
    }

    func testContoursAreValidGeoJSONMatchingTheMask() throws {
        let dir = try TestEnv.scratch(self, "cli-geojson")
        let slide = try synth(dir, seed: 9, size: (8000, 6000))
        // The hole of this small slide is ~0.01 mm², under the default minimum hole area.
        let r = try radiopath(["tile", slide, "--out", dir + "/out", "--set", "min_hole_area_mm2=0.001"])
        XCTAssertEqual(r.status, 0, r.stderr)
        // What QuPath's importer needs: a FeatureCollection of Polygon features with closed rings
        // and properties.objectType; shapely checks the rings are valid polygons (holes inside,
        // no self-crossing), and the area must equal the mask's area in level-0 px².
        let script = """
        import sys, json, numpy as np
        from shapely.geometry import shape
        from PIL import Image
        g = json.load(open(sys.argv[1]))
        assert g['type'] == 'FeatureCollection'
        polys = [shape(f['geometry']) for f in g['features']]
        mask = np.asarray(Image.open(sys.argv[2])) > 0
        ds = float(sys.argv[3])
        print(json.dumps(dict(n=len(polys), valid=all(p.is_valid for p in polys),
            closed=all(r[0] == r[-1] for f in g['features'] for r in f['geometry']['coordinates']),
            types=sorted({f['geometry']['type'] for f in g['features']}),
            object_types=sorted({f['properties']['objectType'] for f in g['features']}),
            classes=sorted({f['properties']['classification']['name'] for f in g['features']}),
            holes=sum(len(f['geometry']['coordinates']) - 1 for f in g['features']),
            area=sum(p.area for p in polys), mask_area=float(mask.sum()) * ds * ds)))
        """
        let bag = try PatchBag.read(path: dir + "/out/patches/synth.h5")
        guard case .doubles(let ds)? = bag.fileAttributes["segmentation_downsample"] else { return XCTFail("no segmentation_downsample") }
        let out = try XCTUnwrap(try TestEnv.json(try TestEnv.runPython(script, [dir + "/out/contours/synth.geojson", dir + "/out/masks/synth.png", "\(ds[0])"])) as? [String: Any])
        XCTAssertEqual(out["n"] as? Int, 3, "three tissue pieces")
        XCTAssertEqual(out["valid"] as? Bool, true)
        XCTAssertEqual(out["closed"] as? Bool, true)
        XCTAssertEqual(out["types"] as? [String], ["Polygon"])
        XCTAssertEqual(out["object_types"] as? [String], ["annotation"])
        XCTAssertEqual(out["classes"] as? [String], ["Tissue"])
        XCTAssertEqual(out["holes"] as? Int, 1, "the synthetic hole")
        XCTAssertEqual(out["area"] as? Double ?? 0, out["mask_area"] as? Double ?? -1, accuracy: 1e-6 * (out["mask_area"] as? Double ?? 1))
    }

    func testBlankSlideGivesEmptyBagAndWarning() throws {
        let dir = try TestEnv.scratch(self, "cli-blank")
        try Data(try PNGCodecBridge.blankPNG(width: 600, height: 400)).write(to: URL(fileURLWithPath: dir + "/blank.png"))
        let r = try radiopath(["tile", dir + "/blank.png", "--slide-mpp", "0.5", "--out", dir + "/out"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("no tissue found"), r.stderr)
        let bag = try PatchBag.read(path: dir + "/out/patches/blank.h5")
        XCTAssertEqual(bag.count, 0)
        XCTAssertEqual(bag.fileAttributes["slide_format"], .string("plain-png"))
    }

    func testResumeSkipsDoneSlidesAndInterruptedRunLeavesNoHalfFiles() throws {
        let dir = try TestEnv.scratch(self, "cli-resume")
        let slidesDir = dir + "/slides"
        for i in 0..<3 { _ = try synth(slidesDir, name: "s\(i)", seed: 20 + i, size: (5000, 4000)) }
        let out = dir + "/out"
        let first = try radiopath(["tile", slidesDir, "--out", out, "--jobs", "1"])
        XCTAssertEqual(first.status, 0, first.stderr)
        let bag1 = out + "/patches/s1.h5"
        let before = try FileManager.default.attributesOfItem(atPath: bag1)[.modificationDate] as! Date

        // Rerun: everything skipped, nothing rewritten.
        Thread.sleep(forTimeInterval: 1.1)
        let again = try radiopath(["tile", slidesDir, "--out", out])
        XCTAssertEqual(again.status, 0)
        XCTAssertTrue(again.stderr.contains("0 done, 3 skipped"), again.stderr)
        XCTAssertEqual(try FileManager.default.attributesOfItem(atPath: bag1)[.modificationDate] as? Date, before)

        // Kill a run part-way (SIGKILL: no cleanup at all), then resume.
        let killedOut = dir + "/killed"
        let p = Process()
        p.executableURL = URL(fileURLWithPath: try binary())
        p.arguments = ["tile", slidesDir, "--out", killedOut, "--jobs", "1"]
        p.standardError = FileHandle.nullDevice
        try p.run()
        let deadline = Date().addingTimeInterval(60)
        while !FileManager.default.fileExists(atPath: killedOut + "/patches/s0.h5") && Date() < deadline { usleep(2000) }
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        // Whatever exists is complete: every visible bag reads.
        for name in (try? FileManager.default.contentsOfDirectory(atPath: killedOut + "/patches")) ?? [] where !name.hasPrefix(".") {
            XCTAssertNoThrow(try PatchBag.read(path: killedOut + "/patches/" + name), name)
        }
        // A kill during a write leaves a hidden temporary file of a dead process: plant one.
        try FileManager.default.createDirectory(atPath: killedOut + "/patches", withIntermediateDirectories: true)
        let stale = killedOut + "/patches/.s1.h5.tmp-999999-42"
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: stale))
        let resumed = try radiopath(["tile", slidesDir, "--out", killedOut])
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        XCTAssertTrue(resumed.stderr.contains("0 failed"), resumed.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: stale), "stale temporary file removed on resume")
        for sub in ["patches", "masks", "contours", "previews"] {
            let names = try FileManager.default.contentsOfDirectory(atPath: "\(killedOut)/\(sub)")
            XCTAssertEqual(names.filter { $0.hasPrefix(".") }, [], "temporary files left in \(sub)")
            XCTAssertEqual(names.count, 3, sub)
        }
        // Same input, same parameters, same output folder: same bytes.
        let files = ["patches/s2.h5", "contours/s2.geojson", "masks/s2.png", "previews/s2.png"]
        let before2 = try files.map { try Data(contentsOf: URL(fileURLWithPath: "\(out)/\($0)")) }
        let redo = try radiopath(["tile", slidesDir, "--out", out, "--force"])
        XCTAssertEqual(redo.status, 0, redo.stderr)
        XCTAssertTrue(redo.stderr.contains("3 done"), redo.stderr)
        for (f, old) in zip(files, before2) {
            XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: "\(out)/\(f)")), old, "\(f) differs between identical runs")
        }
    }

    func testSavePatchesWritesEveryPatchAndStreamAgrees() throws {
        let dir = try TestEnv.scratch(self, "cli-save")
        let slide = try synth(dir, seed: 13, size: (6000, 4500))
        let out = dir + "/out"
        // 256 px at 0.5 µm/px on a 0.25 µm/px slide: 512 px read at level 0, area-averaged to 256.
        let r = try radiopath(["tile", slide, "--out", out, "--save-patches", "--patch-format", "png"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let bag = try PatchBag.read(path: out + "/patches/synth.h5")
        XCTAssertGreaterThan(bag.count, 10)
        let folder = out + "/patch_images/synth"
        let names = try FileManager.default.contentsOfDirectory(atPath: folder).sorted()
        XCTAssertEqual(names.count, bag.count)
        let expected = (0..<bag.count).map { "synth_\(bag.coords[2 * $0])_\(bag.coords[2 * $0 + 1]).png" }.sorted()
        XCTAssertEqual(names, expected)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: out + "/patch_images").filter { $0.hasPrefix(".") }, [],
                       "no temporary folder left")

        // The peer: openslide-python reads 512 px, a 2×2 box mean gives 256 px.
        let x = Int(bag.coords[2 * (bag.count / 2)]), y = Int(bag.coords[2 * (bag.count / 2) + 1])
        let script = """
        import sys, json, numpy as np, openslide
        from PIL import Image
        s = openslide.OpenSlide(sys.argv[1]); x, y = int(sys.argv[2]), int(sys.argv[3])
        a = np.asarray(s.read_region((x, y), 0, (512, 512))).astype(np.float64)
        rgb, al = a[..., :3], a[..., 3:4]
        rgb = np.where(al == 255, rgb, np.where(al == 0, 255.0, rgb * al / 255.0 + 255.0 - al))
        ref = rgb.reshape(256, 2, 256, 2, 3).mean(axis=(1, 3))
        mine = np.asarray(Image.open(sys.argv[4]).convert('RGB')).astype(np.float64)
        print(json.dumps(dict(shape=list(mine.shape), maxdiff=float(np.abs(np.rint(ref) - mine).max()))))
        """
        let cmp = try XCTUnwrap(try TestEnv.json(try TestEnv.runPython(script, [slide, "\(x)", "\(y)", "\(folder)/synth_\(x)_\(y).png"])) as? [String: Any])
        XCTAssertEqual(cmp["shape"] as? [Int], [256, 256, 3])
        XCTAssertLessThanOrEqual(cmp["maxdiff"] as? Double ?? 99, 1, "area-averaged patch equals openslide-python + 2×2 box mean within rounding")

        // `stream` delivers exactly the pixels that were saved (PNG is lossless).
        let st = try radiopath(["stream", out + "/patches/synth.h5", "--json", "--batch-size", "7"])
        XCTAssertEqual(st.status, 0, st.stderr)
        let rec = try XCTUnwrap((try TestEnv.json(Data(st.stdout.utf8)) as? [[String: Any]])?.first)
        XCTAssertEqual(rec["patches"] as? Int, bag.count)
        XCTAssertEqual((rec["report"] as? [String: Any])?["fastPath"] as? Bool, true, "TIFF-family slide served by the direct reader")
        let sumScript = """
        import sys, os, numpy as np
        from PIL import Image
        d = sys.argv[1]
        print(sum(int(np.asarray(Image.open(os.path.join(d, f)).convert('RGB')).astype(np.uint64).sum()) for f in os.listdir(d)))
        """
        let total = String(decoding: try TestEnv.runPython(sumScript, [folder]), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        XCTAssertEqual((rec["checksum"] as? NSNumber)?.uint64Value, UInt64(total))

        // Resume: done slides are skipped; a missing patch folder makes the slide run again.
        let again = try radiopath(["tile", slide, "--out", out, "--save-patches", "--patch-format", "png"])
        XCTAssertTrue(again.stderr.contains("1 skipped"), again.stderr)
        try FileManager.default.removeItem(atPath: folder)
        let redo = try radiopath(["tile", slide, "--out", out, "--save-patches"])
        XCTAssertTrue(redo.stderr.contains("1 done"), redo.stderr)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasSuffix(".jpg") }.count, bag.count)
    }

    func testUnwritableOutputAndBadArgumentsAreClearErrors() throws {
        let dir = try TestEnv.scratch(self, "cli-args")
        let slide = try synth(dir, size: (2000, 1500))
        try Data().write(to: URL(fileURLWithPath: dir + "/afile"))
        let r = try radiopath(["tile", slide, "--out", dir + "/afile/sub"])
        XCTAssertEqual(r.status, 2)
        XCTAssertTrue(r.stderr.contains("not writable"), r.stderr)
        let bad = try radiopath(["tile", slide, "--out", dir + "/o", "--set", "median_size=4"])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.stderr.contains("median_size"), bad.stderr)
        let preset = try radiopath(["tile", slide, "--out", dir + "/o", "--preset", "nope"])
        XCTAssertNotEqual(preset.status, 0)
        XCTAssertTrue(preset.stderr.contains("biopsy"), "lists available presets: \(preset.stderr)")
    }

    func testInfoJSONOnRealSlide() throws {
        let slide = try TestEnv.testdata("slides/CMU-1-Small-Region.svs")
        let r = try radiopath(["info", slide, "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let obj = try XCTUnwrap(try TestEnv.json(Data(r.stdout.utf8)) as? [String: Any])
        let slides = try XCTUnwrap(obj["slides"] as? [[String: Any]])
        XCTAssertEqual(slides.count, 1)
        let text = r.stdout
        XCTAssertTrue(text.contains("0.499"), text)
        XCTAssertTrue(text.contains("aperio"), text)
        let broken = try radiopath(["info", try TestEnv.testdata("slides/broken.svs")])
        XCTAssertEqual(broken.status, 1)
        XCTAssertTrue(broken.stderr.contains("broken.svs"), broken.stderr)
    }
}

/// A blank glass-coloured PNG made by PIL, so these tests use nothing of the product but its binary.
enum PNGCodecBridge {
    static func blankPNG(width: Int, height: Int) throws -> Data {
        let script = "import sys; from PIL import Image; Image.new('RGB', (int(sys.argv[1]), int(sys.argv[2])), (243, 242, 240)).save(sys.stdout.buffer, 'PNG')"
        return try TestEnv.runPython(script, ["\(width)", "\(height)"])
    }
}
