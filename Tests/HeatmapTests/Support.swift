import Foundation
import Heatmap
import ImageCore
import SlideIO
import SlideSynth
import TestSupport
import XCTest

/// A 3000 x 2400 synthetic slide (tile 256, levels 1/4/16/64) written once per test run.
final class SlideFixture {
    private static var made: SlideFixture?
    static var shared: SlideFixture {
        if let f = made { return f }
        let f = SlideFixture()
        made = f
        return f
    }
    static func cleanUp() {
        if let f = made { try? FileManager.default.removeItem(atPath: f.dir) }
        made = nil
    }

    let dir: String
    let path: String
    let truth: SyntheticTruth

    private init() {
        dir = NSTemporaryDirectory() + "rp-heatmap-\(getpid())-\(UUID().uuidString)"
        path = dir + "/synthetic.svs"
        var spec = SyntheticSlideSpec(width: 3000, height: 2400)
        spec.seed = 11
        spec.writeNucleiTruth = false
        truth = try! SlideSynth.write(spec, to: path, truthDirectory: nil)
    }
}

/// A 50 %-overlap grid of 256-px patches (step 128) over [512, 2560) × [512, 2048), scores a
/// smooth field with ties.
func overlapGrid() -> (PatchSet, [Double]) {
    var coords: [Int64] = [], scores: [Double] = []
    for y in stride(from: 512, through: 2048 - 256, by: 128) {
        for x in stride(from: 512, through: 2560 - 256, by: 128) {
            coords += [Int64(x), Int64(y)]
            scores.append((sin(Double(x) / 300) + cos(Double(y) / 200) * 0.5 * 100).rounded() / 100)
        }
    }
    return (PatchSet(coords: coords, patchSizeLevel0: 256, stepLevel0: 128), scores)
}

/// Brute force, independent of ScoreMap: mean of the values of the patches whose level-0
/// square contains point (px, py); NaN when none does.
func bruteForceScore(_ patches: PatchSet, _ values: [Double], _ px: Double, _ py: Double) -> Double {
    var sum = 0.0, n = 0
    for k in 0..<patches.count where !values[k].isNaN {
        let x = Double(patches.coords[2 * k]), y = Double(patches.coords[2 * k + 1])
        if px >= x && px < x + patches.patchSizeLevel0 && py >= y && py < y + patches.patchSizeLevel0 { sum += values[k]; n += 1 }
    }
    return n > 0 ? sum / Double(n) : .nan
}

/// The documented blend, written out: matplotlib's entry, then integer alpha compositing.
func expectedBlend(_ bg: (UInt8, UInt8, UInt8), _ v: Double, _ cmap: Colormap, alpha: Double) -> (UInt8, UInt8, UInt8) {
    if v.isNaN { return bg }
    let e = v >= 1 ? 255 : (v <= 0 ? 0 : min(255, Int(floor(v * 256))))
    let a = Int((alpha * 255).rounded())
    func mix(_ c: UInt8, _ b: UInt8) -> UInt8 { UInt8((a * Int(c) + (255 - a) * Int(b) + 127) / 255) }
    return (mix(cmap.table[3 * e], bg.0), mix(cmap.table[3 * e + 1], bg.1), mix(cmap.table[3 * e + 2], bg.2))
}

/// Writes a JSON value to a temporary file for a Python peer.
func writeJSON(_ object: Any, _ test: XCTestCase) throws -> String {
    let dir = try TestEnv.scratch(test, "heatmap-json")
    let path = dir + "/in.json"
    try JSONSerialization.data(withJSONObject: object).write(to: URL(fileURLWithPath: path))
    return path
}
