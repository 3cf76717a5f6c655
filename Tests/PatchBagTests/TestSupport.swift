import Foundation
import XCTest
import PatchBag

/// A fresh folder under the system temp dir, removed by the caller's `addTeardownBlock`.
func makeScratchDir(_ test: XCTestCase, _ label: String) throws -> String {
    let dir = NSTemporaryDirectory() + "rp-patchbag-\(label)-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    test.addTeardownBlock { try? FileManager.default.removeItem(atPath: dir) }
    return dir
}

func listing(_ dir: String) throws -> [String] {
    try FileManager.default.contentsOfDirectory(atPath: dir).sorted()
}

/// The package root: this file is <root>/Tests/PatchBagTests/TestSupport.swift.
let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent().path

/// The Python with h5py used as the peer: $RADIOPATH_PYTHON, <root>/.venv, /work/main/.venv.
func pythonOrSkip() throws -> String {
    var candidates: [String] = []
    if let env = ProcessInfo.processInfo.environment["RADIOPATH_PYTHON"], !env.isEmpty { candidates.append(env) }
    candidates += [packageRoot + "/.venv/bin/python", "/work/main/.venv/bin/python"]
    for c in candidates where FileManager.default.isExecutableFile(atPath: c) { return c }
    throw XCTSkip("h5py peer check skipped: no Python venv found (set RADIOPATH_PYTHON or create \(packageRoot)/.venv with h5py)")
}

/// Runs `python -c script args…`, fails the test on a non-zero exit, returns stdout.
func runPython(_ script: String, _ args: [String], file: StaticString = #filePath, line: UInt = #line) throws -> Data {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: try pythonOrSkip())
    p.arguments = ["-c", script] + args
    let out = Pipe(), err = Pipe()
    p.standardOutput = out
    p.standardError = err
    try p.run()
    // Drain stderr on another thread while reading stdout, so a chatty child cannot block on a full pipe.
    final class Sink: @unchecked Sendable { var data = Data() }
    let errSink = Sink()
    let group = DispatchGroup()
    let errHandle = err.fileHandleForReading
    DispatchQueue.global().async(group: group) { errSink.data = errHandle.readDataToEndOfFile() }
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    group.wait()
    p.waitUntilExit()
    let errData = errSink.data
    if p.terminationStatus != 0 {
        let msg = String(decoding: errData, as: UTF8.self)
        if msg.contains("No module named 'h5py'") { throw XCTSkip("h5py peer check skipped: h5py not installed in \(p.executableURL!.path)") }
        XCTFail("python failed (\(p.terminationStatus)): \(msg)", file: file, line: line)
        throw NSError(domain: "python", code: Int(p.terminationStatus))
    }
    return outData
}

func jsonObject(_ data: Data) throws -> [String: Any] {
    guard let obj = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
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
