import Foundation
import XCTest
@testable import PatchBag

/// h5py is the peer that defines the format: CLAM and TRIDENT read bags with it.
final class H5pyPeerTests: XCTestCase {
    /// Reads bags the way CLAM-style code does and prints what Python sees, as JSON. For
    /// every attribute: the Python type (`int`, `numpy.int64`, `str`, `bytes`, `ndarray`),
    /// whether it is an integral / real number, the numpy dtype for arrays, and the value.
    /// For comparison it also writes the same attributes with h5py itself (`own`), so the test
    /// can check h5py sees our file exactly as it sees its own.
    static let readerScript = #"""
import json, numbers, sys
import h5py, numpy as np

def describe(v):
    d = {"type": type(v).__module__ + "." + type(v).__name__ if type(v).__module__ != "builtins" else type(v).__name__}
    d["integral"] = isinstance(v, numbers.Integral)
    d["real"] = isinstance(v, numbers.Real)
    if isinstance(v, np.ndarray):
        d["dtype"] = str(v.dtype); d["shape"] = list(v.shape); d["value"] = v.tolist()
    elif isinstance(v, (bytes, np.bytes_)):
        d["value"] = v.decode("utf-8", "replace")
    elif isinstance(v, np.generic):
        d["value"] = v.item()
    else:
        d["value"] = v
    return d

def bag(p):
    f = h5py.File(p, "r")
    c = f["coords"][:]                              # CLAM: coords = file['coords'][:]
    patch_size = f["coords"].attrs["patch_size"]    # CLAM: patch_size = file['coords'].attrs['patch_size']
    patch_level = f["coords"].attrs["patch_level"]
    out = {
        "shape": list(c.shape), "dtype": str(c.dtype), "coords": c.tolist(),
        "patch_size_plus_1": int(patch_size) + 1, "patch_level": int(patch_level),
        "chunks": list(f["coords"].chunks) if f["coords"].chunks else None,
        "maxshape": [m if m is not None else -1 for m in f["coords"].maxshape],
        "coords_attrs": {k: describe(v) for k, v in f["coords"].attrs.items()},
        "file_attrs": {k: describe(v) for k, v in f.attrs.items()},
        "datasets": sorted(f.keys()),
    }
    if "tissue_fraction" in f:
        t = f["tissue_fraction"][:]
        out["tf"] = {"shape": list(t.shape), "dtype": str(t.dtype), "value": t.tolist()}
    if "features" in f:
        x = f["features"][:]
        out["features"] = {"shape": list(x.shape), "dtype": str(x.dtype), "value": x.ravel().tolist()}
    f.close()
    return out

res = {p: bag(p) for p in sys.argv[2:]}
# h5py's own rendering of the same attribute values, for the "same as h5py" comparison.
own = sys.argv[1]
with h5py.File(own, "w") as f:
    d = f.create_dataset("coords", data=np.zeros((1, 2), dtype=np.int64))
    d.attrs["patch_size"] = 256; d.attrs["patch_level"] = 0
    d.attrs["downsample"] = np.array([1.0, 1.0]); d.attrs["downsampled_level_dim"] = np.array([2220, 2967])
    d.attrs["level_dim"] = np.array([2220, 2967]); d.attrs["name"] = "CMU-1-Small-Region"
    d.attrs["save_path"] = "/out/patches"
    d.attrs["patch_size_level0"] = 512; d.attrs["target_magnification"] = 20; d.attrs["level0_magnification"] = 40
    d.attrs["overlap"] = 0; d.attrs["level0_width"] = 46000; d.attrs["level0_height"] = 32914
    d.attrs["savetodir"] = "/out/trident"; d.attrs["mpp"] = 0.499
with h5py.File(own, "r") as f:
    res["own"] = {k: describe(v) for k, v in f["coords"].attrs.items()}
print(json.dumps(res))
"""#

    func testH5pyReadsOurBagLikeCLAMAndTRIDENTDo() throws {
        _ = try pythonOrSkip()
        let dir = try makeScratchDir(self, "h5py-read")
        let path = dir + "/CMU-1-Small-Region.h5"
        let empty = dir + "/empty.h5"
        let n = 5000
        var coords = [Int64](repeating: 0, count: 2 * n)
        for i in 0..<n { coords[2 * i] = Int64(i % 50) * 512; coords[2 * i + 1] = Int64(i / 50) * 512 + 4_000_000_000 }
        let tf = (0..<n).map { Float($0 % 7) / 7 }
        let dim = 3
        let features = (0..<(n * dim)).map { Float($0) / 8 - 100 }
        var attrs = clamAttributes.merging(tridentAttributes) { clam, _ in clam }
        attrs["mpp"] = .double(0.499)
        let provenance: [String: HDF5Value] = ["radiopath_version": .string("0.1.0"), "input_quickhash": .string("ab12"),
                                               "seed": .int(7), "empty_ints": .ints([])]
        try PatchBag.write(path: path, coords: coords, coordsAttributes: attrs, tissueFraction: tf,
                           features: features, featureDim: dim, fileAttributes: provenance)
        try PatchBag.write(path: empty, coords: [], coordsAttributes: clamAttributes, tissueFraction: [],
                           fileAttributes: [:])

        let out = try jsonObject(try runPython(Self.readerScript, [dir + "/own.h5", path, empty]))
        let bag = try XCTUnwrap(out[path] as? [String: Any])

        XCTAssertEqual(bag["shape"] as? [Int], [n, 2])
        XCTAssertEqual(bag["dtype"] as? String, "int64")
        let rows = try XCTUnwrap(bag["coords"] as? [[NSNumber]])
        XCTAssertEqual(rows.flatMap { $0.map(\.int64Value) }, coords, "h5py must see the exact level-0 x, y values")
        XCTAssertEqual(bag["patch_size_plus_1"] as? Int, 257)
        XCTAssertEqual(bag["patch_level"] as? Int, 0)
        XCTAssertEqual(bag["maxshape"] as? [Int], [-1, 2], "rows are appendable")
        XCTAssertEqual(bag["datasets"] as? [String], ["coords", "features", "tissue_fraction"])

        let ca = try XCTUnwrap(bag["coords_attrs"] as? [String: [String: Any]])
        XCTAssertEqual(Set(ca.keys), Set(attrs.keys))
        for key in ["patch_size", "patch_level", "patch_size_level0", "target_magnification", "level0_magnification",
                    "overlap", "level0_width", "level0_height"] {
            XCTAssertEqual(ca[key]?["integral"] as? Bool, true, "\(key) must be an integer in Python: \(ca[key] ?? [:])")
            XCTAssertEqual(ca[key]?["type"] as? String, "numpy.int64", key)
        }
        XCTAssertEqual(ca["patch_size"]?["value"] as? Int, 256)
        XCTAssertEqual(ca["level0_width"]?["value"] as? Int, 46000)
        for key in ["name", "save_path", "savetodir"] {
            XCTAssertEqual(ca[key]?["type"] as? String, "str", "\(key) must be str, not bytes: \(ca[key] ?? [:])")
        }
        XCTAssertEqual(ca["name"]?["value"] as? String, "CMU-1-Small-Region")
        XCTAssertEqual(ca["savetodir"]?["value"] as? String, "/out/trident")
        XCTAssertEqual(ca["downsample"]?["type"] as? String, "numpy.ndarray")
        XCTAssertEqual(ca["downsample"]?["dtype"] as? String, "float64")
        XCTAssertEqual(ca["downsample"]?["value"] as? [Double], [1.0, 1.0])
        XCTAssertEqual(ca["level_dim"]?["dtype"] as? String, "int64")
        XCTAssertEqual(ca["level_dim"]?["value"] as? [Int], [2220, 2967])
        XCTAssertEqual(ca["downsampled_level_dim"]?["value"] as? [Int], [2220, 2967])
        XCTAssertEqual(ca["mpp"]?["type"] as? String, "numpy.float64")
        XCTAssertEqual(ca["mpp"]?["value"] as? Double, 0.499)

        // h5py sees every attribute of our file exactly as it sees the same values written by h5py.
        let own = try XCTUnwrap(out["own"] as? [String: [String: Any]])
        for (key, theirs) in own {
            let ours = try XCTUnwrap(ca[key], key)
            XCTAssertEqual(ours["type"] as? String, theirs["type"] as? String, key)
            XCTAssertEqual(ours["dtype"] as? String, theirs["dtype"] as? String, key)
            XCTAssertEqual("\(ours["value"] ?? "nil")", "\(theirs["value"] ?? "nil")", key)
        }

        let fa = try XCTUnwrap(bag["file_attrs"] as? [String: [String: Any]])
        XCTAssertEqual(fa["radiopath_version"]?["type"] as? String, "str")
        XCTAssertEqual(fa["radiopath_version"]?["value"] as? String, "0.1.0")
        XCTAssertEqual(fa["seed"]?["value"] as? Int, 7)
        XCTAssertEqual(fa["empty_ints"]?["shape"] as? [Int], [0])

        let tfOut = try XCTUnwrap(bag["tf"] as? [String: Any])
        XCTAssertEqual(tfOut["dtype"] as? String, "float32")
        XCTAssertEqual(tfOut["shape"] as? [Int], [n])
        XCTAssertEqual((tfOut["value"] as? [Double])?.map { Float($0) }, tf)
        let fOut = try XCTUnwrap(bag["features"] as? [String: Any])
        XCTAssertEqual(fOut["dtype"] as? String, "float32")
        XCTAssertEqual(fOut["shape"] as? [Int], [n, dim])
        XCTAssertEqual((fOut["value"] as? [Double])?.map { Float($0) }, features)

        let e = try XCTUnwrap(out[empty] as? [String: Any])
        XCTAssertEqual(e["shape"] as? [Int], [0, 2], "h5py must read the empty bag as shape (0, 2)")
        XCTAssertEqual(e["dtype"] as? String, "int64")
        XCTAssertEqual((e["tf"] as? [String: Any])?["shape"] as? [Int], [0])
        XCTAssertEqual((e["coords_attrs"] as? [String: [String: Any]])?["name"]?["value"] as? String, "CMU-1-Small-Region")
    }

    /// The reverse: a bag h5py writes CLAM-style (save_hdf5: chunks (1, 2), maxshape (None, 2)),
    /// plus attribute flavours other writers use (fixed-length bytes, int32, uint8, float32,
    /// ASCII vlen, a bool, float32 arrays) and float64 tissue fractions.
    func testWeReadWhatH5pyWrites() throws {
        let dir = try makeScratchDir(self, "h5py-write")
        let clam = dir + "/clam.h5", int32 = dir + "/int32.h5", nocoords = dir + "/nocoords.h5", emptyBag = dir + "/empty.h5"
        _ = try runPython(#"""
import sys, h5py, numpy as np
clam, int32, nocoords, empty = sys.argv[1:]
with h5py.File(clam, "w") as f:
    coords = np.array([[0, 0], [256, 0], [512, 768], [3000000000, 5]], dtype=np.int64)
    d = f.create_dataset("coords", shape=coords.shape, maxshape=(None, 2), chunks=(1, 2), dtype=coords.dtype)
    d[:] = coords
    d.attrs["patch_size"] = 256
    d.attrs["patch_level"] = 0
    d.attrs["downsample"] = np.array([1.0, 1.0])
    d.attrs["downsampled_level_dim"] = np.array([2220, 2967])
    d.attrs["level_dim"] = np.array([2220, 2967])
    d.attrs["name"] = "CMU-1-Small-Region"
    d.attrs["save_path"] = "/out/patches"
    d.attrs["fixed"] = np.bytes_(b"fixed-len")
    d.attrs["i32"] = np.int32(-7)
    d.attrs["u8"] = np.uint8(200)
    d.attrs["f32"] = np.float32(0.5)
    d.attrs["f32arr"] = np.array([0.25, -0.5], dtype=np.float32)
    d.attrs.create("ascii", "plain", dtype=h5py.string_dtype("ascii"))
    d.attrs["utf8"] = "Ünïcødé"
    d.attrs["flag"] = True
    f.create_dataset("tissue_fraction", data=np.array([1.0, 0.5, 0.25, 0.125]))
    f.create_dataset("features", data=np.arange(8, dtype=np.float32).reshape(4, 2) / 4)
    f.attrs["tool"] = "h5py"
    f.attrs["version"] = np.array([3, 16], dtype=np.int32)
with h5py.File(int32, "w") as f:
    f.create_dataset("coords", data=np.array([[1, 2], [3, 4]], dtype=np.int32))
with h5py.File(nocoords, "w") as f:
    f.create_dataset("features", data=np.zeros((2, 2), dtype=np.float32))
with h5py.File(empty, "w") as f:
    f.create_dataset("coords", data=np.zeros((0, 2), dtype=np.int64))
"""#, [clam, int32, nocoords, emptyBag])

        let back = try PatchBag.read(path: clam)
        XCTAssertEqual(back.count, 4)
        XCTAssertEqual(back.coords, [0, 0, 256, 0, 512, 768, 3_000_000_000, 5])
        var expected = clamAttributes
        expected["fixed"] = .string("fixed-len")
        expected["i32"] = .int(-7)
        expected["u8"] = .int(200)
        expected["f32"] = .double(0.5)
        expected["f32arr"] = .doubles([0.25, -0.5])
        expected["ascii"] = .string("plain")
        expected["utf8"] = .string("Ünïcødé")
        XCTAssertEqual(back.coordsAttributes, expected, "the bool attribute is skipped, everything else read")
        XCTAssertEqual(back.fileAttributes, ["tool": .string("h5py"), "version": .ints([3, 16])])
        XCTAssertEqual(back.tissueFraction, [1, 0.5, 0.25, 0.125])
        XCTAssertEqual(back.features, [0, 0.25, 0.5, 0.75, 1, 1.25, 1.5, 1.75])
        XCTAssertEqual(back.featureDim, 2)
        XCTAssertTrue(PatchBag.isComplete(path: clam))

        XCTAssertEqual(try PatchBag.read(path: int32).coords, [1, 2, 3, 4])
        let e = try PatchBag.read(path: emptyBag)
        XCTAssertEqual(e.count, 0)
        XCTAssertTrue(PatchBag.isComplete(path: emptyBag))

        XCTAssertFalse(PatchBag.isComplete(path: nocoords))
        XCTAssertThrowsError(try PatchBag.read(path: nocoords)) { err in
            XCTAssertEqual((err as? PatchBagError)?.kind, .notAPatchBag)
            XCTAssertTrue("\(err)".contains(nocoords) && "\(err)".contains("coords"), "\(err)")
        }
    }
}
