import Foundation
import XCTest
import ImageCore
import TestSupport

/// The shared real test data (see TestSupport), or a visible skip.
func imageOpsTestdata() throws -> String { try TestEnv.testdata() }

func randomGray(_ w: Int, _ h: Int, _ rng: inout SeededRNG, range: ClosedRange<UInt8> = 0...255) -> GrayImage {
    GrayImage(width: w, height: h, pixels: (0..<(w * h)).map { _ in UInt8.random(in: range, using: &rng) })
}

func randomRGB(_ w: Int, _ h: Int, _ rng: inout SeededRNG) -> RGBImage {
    RGBImage(width: w, height: h, pixels: (0..<(w * h * 3)).map { _ in UInt8.random(in: 0...255, using: &rng) })
}

/// Random binary mask with foreground probability `p` (0/255).
func randomMask(_ w: Int, _ h: Int, p: Double, _ rng: inout SeededRNG) -> GrayImage {
    GrayImage(width: w, height: h, pixels: (0..<(w * h)).map { _ in Double.random(in: 0..<1, using: &rng) < p ? 255 : 0 })
}

/// Blobby mask: foreground disks, background disks punched into them (holes), small foreground
/// disks inside those (nested islands), sprinkled single pixels (diagonal contacts, specks), and
/// disks centred near the border.
func blobbyMask(_ w: Int, _ h: Int, _ rng: inout SeededRNG) -> GrayImage {
    var m = GrayImage(width: w, height: h)
    func disk(_ cx: Double, _ cy: Double, _ r: Double, _ v: UInt8) {
        let x0 = max(0, Int(cx - r)), x1 = min(w - 1, Int(cx + r) + 1)
        let y0 = max(0, Int(cy - r)), y1 = min(h - 1, Int(cy + r) + 1)
        guard x0 <= x1 && y0 <= y1 else { return }
        for y in y0...y1 { for x in x0...x1 {
            let dx = Double(x) + 0.5 - cx, dy = Double(y) + 0.5 - cy
            if dx * dx + dy * dy <= r * r { m[x, y] = v }
        } }
    }
    let big = Double(min(w, h))
    for _ in 0..<Int.random(in: 3...8, using: &rng) {
        disk(Double.random(in: -5...Double(w + 5), using: &rng), Double.random(in: -5...Double(h + 5), using: &rng),
             Double.random(in: big * 0.08...big * 0.3, using: &rng), 255)
    }
    var holes: [(Double, Double, Double)] = []
    for _ in 0..<Int.random(in: 3...12, using: &rng) {
        let hole = (Double.random(in: 0...Double(w), using: &rng), Double.random(in: 0...Double(h), using: &rng),
                    Double.random(in: 1.5...big * 0.1, using: &rng))
        holes.append(hole)
        disk(hole.0, hole.1, hole.2, 0)
    }
    for hole in holes where hole.2 > 4 && Bool.random(using: &rng) {
        disk(hole.0, hole.1, hole.2 * 0.4, 255) // island inside the hole
        if hole.2 > 8 { disk(hole.0, hole.1, hole.2 * 0.15, 0) } // hole in the island
    }
    for _ in 0..<(w * h / 60) {
        let x = Int.random(in: 0..<w, using: &rng), y = Int.random(in: 0..<h, using: &rng)
        m[x, y] = Bool.random(using: &rng) ? 255 : 0
    }
    return m
}

/// Runs Python peers (numpy, scipy, scikit-image, OpenCV) in the project's venv. Arrays travel as raw
/// files in a temporary directory: `load(name)` / `save(name, array)` in the script.
final class PythonPeer {
    let python: String
    let dir: URL

    /// `modules`: imports the peer needs; skips (visibly) when the venv or a module is missing.
    init(modules: [String]) throws {
        let py = try TestEnv.python()
        python = py
        dir = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("rp-peer-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let check = try runRaw("import " + modules.joined(separator: ", "))
        if check.status != 0 {
            throw XCTSkip("Python peer \(py) lacks \(modules.joined(separator: ", ")) (pip install opencv-python-headless scipy scikit-image): \(check.err)")
        }
    }

    deinit { try? FileManager.default.removeItem(at: dir) }

    func put(_ name: String, _ img: GrayImage) throws {
        try write(name, Data(img.pixels), dtype: "uint8", shape: [img.height, img.width])
    }
    func put(_ name: String, _ img: RGBImage) throws {
        try write(name, Data(img.pixels), dtype: "uint8", shape: [img.height, img.width, 3])
    }
    func write(_ name: String, _ data: Data, dtype: String, shape: [Int]) throws {
        try data.write(to: dir.appendingPathComponent(name + ".bin"))
        let meta = "{\"dtype\": \"\(dtype)\", \"shape\": [\(shape.map(String.init).joined(separator: ", "))]}"
        try Data(meta.utf8).write(to: dir.appendingPathComponent(name + ".json"))
    }

    /// Raw bytes the script saved with `save(name, array)`.
    func output(_ name: String) throws -> Data { try Data(contentsOf: dir.appendingPathComponent(name + ".out")) }
    func gray(_ name: String, _ w: Int, _ h: Int) throws -> GrayImage {
        GrayImage(width: w, height: h, pixels: [UInt8](try output(name)))
    }
    func ints(_ name: String) throws -> [Int64] {
        let d = try output(name)
        return d.withUnsafeBytes { Array($0.bindMemory(to: Int64.self)) }
    }

    static let prelude = """
    import sys, os, json
    import numpy as np
    D = sys.argv[1]
    def load(n):
        meta = json.load(open(os.path.join(D, n + '.json')))
        return np.fromfile(os.path.join(D, n + '.bin'), dtype=meta['dtype']).reshape(meta['shape'])
    def save(n, a):
        np.ascontiguousarray(a).tofile(os.path.join(D, n + '.out'))

    """

    /// Runs `body` after the prelude; returns stdout; fails the test with stderr on error.
    @discardableResult
    func run(_ body: String, file: StaticString = #filePath, line: UInt = #line) throws -> String {
        let r = try runRaw(PythonPeer.prelude + body)
        if r.status != 0 {
            XCTFail("Python peer failed (\(r.status)): \(r.err)", file: file, line: line)
            throw PeerError.failed(r.err)
        }
        return r.out
    }

    enum PeerError: Error { case failed(String) }

    private func runRaw(_ script: String) throws -> (status: Int32, out: String, err: String) {
        let scriptURL = dir.appendingPathComponent("script-\(UUID().uuidString).py")
        try Data(script.utf8).write(to: scriptURL)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: python)
        p.arguments = [scriptURL.path, dir.path]
        // stderr goes to a file, so only one pipe is drained and a chatty peer cannot stall.
        let errURL = dir.appendingPathComponent("stderr-\(UUID().uuidString).txt")
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
        let errHandle = try FileHandle(forWritingTo: errURL)
        defer { try? errHandle.close() }
        let outPipe = Pipe()
        p.standardOutput = outPipe; p.standardError = errHandle
        try p.run()
        let out = outPipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        let err = (try? Data(contentsOf: errURL)) ?? Data()
        return (p.terminationStatus, String(decoding: out, as: UTF8.self), String(decoding: err, as: UTF8.self))
    }
}

/// Index and values of the first difference, for readable failures.
func firstDifference(_ a: GrayImage, _ b: GrayImage) -> String {
    guard a.width == b.width && a.height == b.height else { return "sizes \(a.width)x\(a.height) vs \(b.width)x\(b.height)" }
    let diffs = zip(a.pixels, b.pixels).enumerated().filter { $0.element.0 != $0.element.1 }
    guard let f = diffs.first else { return "equal" }
    return "\(diffs.count) pixels differ; first at (x \(f.offset % a.width), y \(f.offset / a.width)): \(f.element.0) vs \(f.element.1)"
}

func realHE() throws -> RGBImage {
    let dir = try imageOpsTestdata()
    return try ImageFile.read(path: dir + "/histology/he_small_histo.jpg")
}

func realTumour() throws -> RGBImage {
    let dir = try imageOpsTestdata()
    return try ImageFile.read(path: dir + "/histology/he_tumour_1000px.png")
}

/// One channel of an RGB image as gray.
func channel(_ img: RGBImage, _ c: Int) -> GrayImage {
    GrayImage(width: img.width, height: img.height, pixels: stride(from: c, to: img.pixels.count, by: 3).map { img.pixels[$0] })
}

/// Equality without dumping megabytes of pixels on failure.
func assertSameImage(_ a: GrayImage, _ b: GrayImage, _ what: String, file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertTrue(a == b, "\(what): \(firstDifference(a, b))", file: file, line: line)
}
