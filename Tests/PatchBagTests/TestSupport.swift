import Foundation
import XCTest
import PatchBag

import TestSupport

func makeScratchDir(_ test: XCTestCase, _ label: String) throws -> String { try TestEnv.scratch(test, "patchbag-" + label) }

func listing(_ dir: String) throws -> [String] {
    try FileManager.default.contentsOfDirectory(atPath: dir).sorted()
}

func pythonOrSkip() throws -> String { try TestEnv.python() }

func runPython(_ script: String, _ args: [String], file: StaticString = #filePath, line: UInt = #line) throws -> Data {
    try TestEnv.runPython(script, args, file: file, line: line)
}

func jsonObject(_ data: Data) throws -> [String: Any] {
    guard let obj = try TestEnv.json(data) as? [String: Any] else {
        throw NSError(domain: "json", code: 1, userInfo: [NSLocalizedDescriptionKey: String(decoding: data, as: UTF8.self)])
    }
    return obj
}

/// CLAM's attributes on `coords` (values as create_patches_fp would write them for a 2220×2967 slide).
let clamAttributes: [String: HDF5Value] = [
    "patch_size": .int(256),
    "patch_level": .int(0),
    "downsample": .doubles([1.0, 1.0]),
    "downsampled_level_dim": .ints([2220, 2967]),
    "level_dim": .ints([2220, 2967]),
    "name": .string("CMU-1-Small-Region"),
    "save_path": .string("/out/patches"),
]

/// TRIDENT's attributes on `coords`.
let tridentAttributes: [String: HDF5Value] = [
    "patch_size": .int(256),
    "patch_size_level0": .int(512),
    "target_magnification": .int(20),
    "level0_magnification": .int(40),
    "overlap": .int(0),
    "level0_width": .int(46000),
    "level0_height": .int(32914),
    "name": .string("slide-µm-Ü"),
    "savetodir": .string("/out/trident"),
]
