import Foundation
import XCTest
import TestSupport
import VolumeIO
@testable import Radiomics

/// Shared helpers for the filter tests, and the padding modes checked against numpy.pad.
enum FilterFixtures {
    /// A reproducible volume: smooth blobs, a step edge and uniform noise (seeded LCG).
    static func volume(_ size: SIMD3<Int>, spacing: SIMD3<Double> = SIMD3(0.8, 0.7, 1.6), seed: UInt64 = 7) -> Volume {
        var state = seed &* 6364136223846793005 &+ 1442695040888963407
        func next() -> Float {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(state >> 40) / Float(1 << 24)
        }
        var v = [Float](repeating: 0, count: size.x * size.y * size.z)
        for k in 0..<size.z { for j in 0..<size.y { for i in 0..<size.x {
            let x = Float(i) / Float(size.x), y = Float(j) / Float(size.y), z = Float(k) / Float(size.z)
            let blob = 100 * exp(-((x - 0.4) * (x - 0.4) + (y - 0.6) * (y - 0.6) + (z - 0.5) * (z - 0.5)) * 12)
            let step: Float = x + 0.3 * y > 0.7 ? 40 : 0
            v[i + size.x * (j + size.y * k)] = blob + step + 20 * next()
        } } }
        return Volume(size: size, spacing: spacing, origin: SIMD3(-3, 5, 11), voxels: v)
    }

    static func impulse(_ n: Int = 33, spacing: Double = 1, value: Float = 1) -> Volume {
        var v = Volume(size: SIMD3(n, n, n), spacing: SIMD3(repeating: spacing), voxels: [Float](repeating: 0, count: n * n * n))
        v[n / 2, n / 2, n / 2] = value
        return v
    }

    static func write(_ v: [Float], _ path: String) throws {
        try v.withUnsafeBufferPointer { Data(buffer: $0) }.write(to: URL(fileURLWithPath: path))
    }

    static func read(_ path: String) throws -> [Float] {
        let d = try Data(contentsOf: URL(fileURLWithPath: path))
        return d.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
    }

    /// Python preamble: `vol` (z, y, x) float64 from argv[1], `spacing` (x, y, z) from argv[2],
    /// `save(name, array)` writes float32 files named argv[3]/name.f32.
    static let preamble = """
    import sys, numpy as np
    shape = tuple(int(s) for s in sys.argv[2].split(','))
    spacing = tuple(float(s) for s in sys.argv[3].split(','))
    out = sys.argv[4]
    vol = np.fromfile(sys.argv[1], dtype=np.float32).reshape(shape[::-1]).astype(np.float64)
    def save(name, a): np.ascontiguousarray(a, dtype=np.float32).tofile(out + '/' + name + '.f32')
    scipy_mode = {'constant': 'constant', 'nearest': 'nearest', 'periodic': 'wrap', 'mirror': 'reflect'}
    numpy_mode = {'constant': 'constant', 'nearest': 'edge', 'periodic': 'wrap', 'mirror': 'symmetric'}

    """

    /// Runs `script` (after the preamble) on `volume` and returns the arrays it saved.
    static func python(_ test: XCTestCase, _ volume: Volume, _ script: String, outputs: [String]) throws -> [String: [Float]] {
        let dir = try TestEnv.scratch(test, "filters")
        try write(volume.voxels, dir + "/in.f32")
        let s = volume.size, h = volume.spacing
        _ = try TestEnv.runPython(preamble + script, [dir + "/in.f32", "\(s.x),\(s.y),\(s.z)", "\(h.x),\(h.y),\(h.z)", dir])
        var out: [String: [Float]] = [:]
        for name in outputs { out[name] = try read(dir + "/\(name).f32") }
        return out
    }

    /// max |a − b| / max |b|.
    static func relativeError(_ a: [Float], _ b: [Float]) -> Double {
        precondition(a.count == b.count, "sizes differ")
        var diff = 0.0, scale = 0.0
        for i in a.indices {
            diff = max(diff, abs(Double(a[i]) - Double(b[i])))
            scale = max(scale, abs(Double(b[i])))
        }
        return scale > 0 ? diff / scale : diff
    }

    static func single(_ spec: FilterSpec, _ v: Volume) throws -> [Float] {
        let r = try apply(spec, to: v)
        XCTAssertEqual(r.count, 1)
        XCTAssertTrue(r[0].volume.hasSameGrid(as: v, tolerance: 0), "a filter must keep the grid")
        return r[0].volume.voxels
    }
}

final class FilterSupportTests: XCTestCase {
    /// The IBSI examples of each mode on `a b c d`.
    func testPaddingExamples() {
        func row(_ m: PaddingMode) -> [Int] { (-3..<7).map { m.source($0, 4) ?? -1 } }
        XCTAssertEqual(row(.constant), [-1, -1, -1, 0, 1, 2, 3, -1, -1, -1])
        XCTAssertEqual(row(.nearest), [0, 0, 0, 0, 1, 2, 3, 3, 3, 3])
        XCTAssertEqual(row(.periodic), [1, 2, 3, 0, 1, 2, 3, 0, 1, 2])
        XCTAssertEqual(row(.mirror), [2, 1, 0, 0, 1, 2, 3, 3, 2, 1])     // c b a | a b c d | d c b
        XCTAssertEqual(PaddingMode(name: "reflect"), .mirror)
        XCTAssertEqual(PaddingMode(name: "wrap"), .periodic)
        XCTAssertNil(PaddingMode(name: "bogus"))
    }

    /// Every mode against numpy.pad for pads far beyond one period (n = 1, 2, 5, 6).
    func testPaddingAgreesWithNumpy() throws {
        let out = try TestEnv.runPython("""
        import numpy as np, json
        modes = {'constant': 'constant', 'nearest': 'edge', 'periodic': 'wrap', 'mirror': 'symmetric'}
        res = {}
        for name, m in modes.items():
            for n in (1, 2, 5, 6):
                a = np.arange(1, n + 1)
                res[f'{name}{n}'] = np.pad(a, 13, mode=m).tolist()
        print(json.dumps(res))
        """)
        let ref = try JSONSerialization.jsonObject(with: out) as! [String: [Int]]
        for m in PaddingMode.allCases {
            for n in [1, 2, 5, 6] {
                let ours = (-13..<(n + 13)).map { m.source($0, n).map { $0 + 1 } ?? 0 }
                XCTAssertEqual(ours, ref["\(m.rawValue)\(n)"], "\(m) n=\(n)")
            }
        }
    }

    /// The 24 proper right-angle rotations of 3-D (4 in 2-D), all distinct.
    func testRotationGroups() {
        let r3 = RightAngleRotation.all(dimensions: 3), r2 = RightAngleRotation.all(dimensions: 2)
        XCTAssertEqual(r3.count, 24)
        XCTAssertEqual(Set(r3).count, 24)
        XCTAssertEqual(r2.count, 4)
    }

    func testBadSpecsAreRefused() {
        let v = FilterFixtures.volume(SIMD3(6, 5, 4))
        for spec: FilterSpec in [.mean(support: 4), .laplacianOfGaussian(sigma: 0), .laws(kernel: "E5X5S5"),
                                 .laws(kernel: "E5"), .wavelet(WaveletParameters(family: "bior1.3")),
                                 .wavelet(WaveletParameters(subbands: ["LH"])),
                                 .gabor(GaborParameters(sigma: 1, lambda: -2))] {
            XCTAssertThrowsError(try apply(spec, to: v), "\(spec)") { e in
                XCTAssertFalse("\(e)".isEmpty)
            }
        }
    }
}
