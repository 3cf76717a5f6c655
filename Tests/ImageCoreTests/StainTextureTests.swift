import Foundation
import XCTest
import ImageCore
import TestSupport

/// Colour deconvolution, GLCM and uniform LBP against scikit-image on real H&E.
final class StainTextureTests: XCTestCase {
    /// Real inputs: the 1000-px tumour PNG and a 768×768 tissue crop of the CMU-1 SVS (read as a
    /// plain TIFF, first directory), plus a synthetic image with every byte value in every channel.
    private func realImages() throws -> [(String, RGBImage)] {
        let dir = try imageOpsTestdata()
        let svs = try ImageFile.read(path: dir + "/slides/CMU-1-Small-Region.svs")
        XCTAssertEqual(svs.width, 2220)
        return [("tumour", try realTumour()), ("svs", crop(svs, x: 700, y: 500, w: 768, h: 768))]
    }

    private func allValues() -> RGBImage {
        var img = RGBImage(width: 256, height: 256)
        for y in 0..<256 { for x in 0..<256 { img[x, y] = (UInt8(x), UInt8(y), UInt8((x * 7 + y * 13) & 255)) } }
        img[0, 0] = (0, 0, 0); img[1, 0] = (255, 255, 255); img[2, 0] = (0, 255, 0)
        return img
    }

    // MARK: Stains

    func testHEDMatchesRgb2hed() throws {
        let peer = try PythonPeer(modules: ["skimage.color"])
        let cases = try realImages() + [("all", allValues())]
        for (n, img) in cases { try peer.put(n, img) }
        try peer.run("""
        from skimage.color import rgb2hed
        for n in \(pyList(cases.map { $0.0 })):
            save(n, np.moveaxis(rgb2hed(load(n)), -1, 0))  # planar float64
        """)
        for (n, img) in cases {
            let ours = StainMatrix.hed.separate(img)
            let ref = try doubles(peer.output(n))
            XCTAssertEqual(ours.count, ref.count, n)
            var worst = 0.0
            for i in ref.indices { worst = max(worst, abs(Double(ours[i]) - ref[i])) }
            XCTAssertLessThanOrEqual(worst, 1e-5, "\(n): max |ours − rgb2hed|")
            XCTAssertTrue(ours.allSatisfy { $0 >= 0 && $0.isFinite }, n)
            // The serial buffer API gives the same bytes as the parallel image API.
            var serial = [Float](repeating: -1, count: ours.count)
            img.pixels.withUnsafeBufferPointer { src in serial.withUnsafeMutableBufferPointer { StainMatrix.hed.separate(src, into: $0) } }
            XCTAssertTrue(serial == ours, "\(n): buffer and image APIs differ")
        }
        // White is 0 in every stain; black is OD 1 in every channel.
        let wb = StainMatrix.hed.separate(RGBImage(width: 1, height: 1))
        XCTAssertEqual(wb, [0, 0, 0])
    }

    /// A Macenko-style matrix (unit H and E vectors, third = their cross product) plugs in and
    /// matches `separate_stains` with the inverse of the same matrix.
    func testCustomStainMatrixMatchesSeparateStains() throws {
        let peer = try PythonPeer(modules: ["skimage.color"])
        let h = SIMD3(0.6443, 0.7167, 0.2669), e = SIMD3(0.0928, 0.9541, 0.2846)
        let hu = h / (h * h).sum().squareRoot(), eu = e / (e * e).sum().squareRoot()
        let third = SIMD3(hu.y * eu.z - hu.z * eu.y, hu.z * eu.x - hu.x * eu.z, hu.x * eu.y - hu.y * eu.x)
        let m = try StainMatrix(hu, eu, third)
        let img = try realTumour()
        try peer.put("img", img)
        let rows = [hu, eu, third].map { "[\($0.x), \($0.y), \($0.z)]" }.joined(separator: ", ")
        try peer.run("""
        from skimage.color import separate_stains
        M = np.array([\(rows)])
        save('s', np.moveaxis(separate_stains(load('img'), np.linalg.inv(M)), -1, 0))
        """)
        let ours = m.separate(img), ref = try doubles(peer.output("s"))
        var worst = 0.0
        for i in ref.indices { worst = max(worst, abs(Double(ours[i]) - ref[i])) }
        XCTAssertLessThanOrEqual(worst, 1e-5)
        XCTAssertThrowsError(try StainMatrix(h, 2 * h, e)) { err in
            XCTAssertTrue("\(err)".contains("linearly dependent"), "\(err)")
        }
    }

    // MARK: GLCM

    func testGLCMMatchesGraycoprops() throws {
        let peer = try PythonPeer(modules: ["skimage.feature"])
        var rng = SeededRNG(17)
        var cases: [(String, GrayImage, Int)] = []
        for (n, img) in try realImages() {
            let g = luma(img)
            cases.append(("\(n)32", GrayImage(width: g.width, height: g.height, pixels: g.pixels.map { $0 >> 3 }), 32))
            cases.append(("\(n)256", g, 256))
        }
        cases.append(("rand8", GrayImage(width: 37, height: 23, pixels: (0..<(37 * 23)).map { _ in UInt8.random(in: 0...7, using: &rng) }), 8))
        cases.append(("const", GrayImage(width: 9, height: 7, fill: 3), 4))
        cases.append(("tiny", GrayImage(width: 2, height: 2, pixels: [0, 1, 2, 3]), 4)) // d = 3 leaves no pair
        let distances: [Double] = [1, 2, 3, 0.5, 2.5]
        let angles: [Double] = [0, .pi / 4, .pi / 2, 3 * .pi / 4, 5 * .pi / 6, .pi]
        var masks: [String: GrayImage] = [:]
        for (n, img, _) in cases {
            try peer.put(n, img)
            let m = min(img.width, img.height) >= 20 ? blobbyMask(img.width, img.height, &rng) : randomMask(img.width, img.height, p: 0.7, &rng)
            masks[n] = m
            try peer.put(n + "_mask", m)
        }
        try peer.run("""
        from skimage.feature import graycomatrix, graycoprops
        props = ['contrast', 'dissimilarity', 'homogeneity', 'energy', 'ASM', 'correlation']
        for n, L in \(pyDict(cases.map { ($0.0, $0.2) })).items():
            a = load(n)
            P = graycomatrix(a, \(distances), np.array(\(angles)), levels=L, symmetric=True, normed=True)
            save(n, np.stack([graycoprops(P, p) for p in props], -1))
            save(n + '_counts', graycomatrix(a, \(distances), np.array(\(angles)), levels=L, symmetric=True).astype(np.uint32))
            # Masked: pixels outside the mask get an extra level L, and its row and column are dropped.
            am = np.where(load(n + '_mask') > 0, a.astype(np.uint16), L).astype(np.uint16)
            Pm = graycomatrix(am, \(distances), np.array(\(angles)), levels=L + 1, symmetric=True)[:L, :L]
            save(n + '_masked', np.stack([graycoprops(Pm, p) for p in props], -1))
        """)
        for (n, img, levels) in cases {
            let ref = try doubles(peer.output(n)), refMasked = try doubles(peer.output(n + "_masked"))
            let refCounts = try peer.output(n + "_counts").withUnsafeBytes { Array($0.bindMemory(to: UInt32.self)) }
            let ours = GLCM.properties(img, distances: distances, angles: angles, levels: levels)
            let oursMasked = GLCM.properties(img, distances: distances, angles: angles, levels: levels, mask: masks[n])
            var counts = [UInt32](repeating: 0, count: levels * levels)
            for (di, d) in distances.enumerated() {
                for (ai, a) in angles.enumerated() {
                    let base = (di * angles.count + ai) * 6
                    assertClose(ours[di][ai].values, Array(ref[base..<(base + 6)]), "\(n) d=\(d) a=\(ai)")
                    assertClose(oursMasked[di][ai].values, Array(refMasked[base..<(base + 6)]), "\(n) masked d=\(d) a=\(ai)")
                    img.pixels.withUnsafeBufferPointer { src in counts.withUnsafeMutableBufferPointer {
                        GLCM.symmetricCounts(src, width: img.width, height: img.height, levels: levels,
                                             offset: GLCM.offset(distance: d, angle: a), into: $0)
                    } }
                    // graycomatrix's layout is [i, j, d, a].
                    let nd = distances.count, na = angles.count
                    let refSlice = (0..<(levels * levels)).map { refCounts[($0 * nd + di) * na + ai] }
                    XCTAssertTrue(counts == refSlice, "\(n) counts d=\(d) a=\(ai)")
                }
            }
        }
        // scikit-image's rounding of offsets: halves away from zero, after adding ½ in double.
        XCTAssertTrue(GLCM.offset(distance: 1, angle: 3 * .pi / 4) == (1, -1))
        XCTAssertTrue(GLCM.offset(distance: 1, angle: 5 * .pi / 6) == (1, -1)) // sin = 0.49999999999999994
        XCTAssertTrue(GLCM.offset(distance: 0.5, angle: .pi) == (0, -1))
        // A constant image: one cell, so contrast 0, homogeneity, energy, ASM and correlation 1.
        let c = GLCM.properties(GrayImage(width: 5, height: 5, fill: 2), distances: [1], angles: [0], levels: 4)[0][0]
        XCTAssertEqual(c.values, [0, 0, 1, 1, 1, 1])
    }

    // MARK: LBP

    func testUniformLBPMatchesScikitImage() throws {
        let peer = try PythonPeer(modules: ["skimage.feature"])
        var rng = SeededRNG(23)
        var cases: [(String, GrayImage)] = try realImages().map { ($0.0, luma($0.1)) }
        cases.append(("ties", GrayImage(width: 53, height: 41, pixels: (0..<(53 * 41)).map { _ in UInt8.random(in: 0...2, using: &rng) })))
        cases.append(("noise", randomGray(64, 48, &rng)))
        for v: UInt8 in [0, 1, 77, 255] { cases.append(("const\(v)", GrayImage(width: 12, height: 9, fill: v))) }
        cases.append(("one", GrayImage(width: 1, height: 1, fill: 9)))
        cases.append(("row", randomGray(7, 1, &rng)))
        cases.append(("col", randomGray(1, 6, &rng)))
        var masks: [String: GrayImage] = [:]
        for (n, img) in cases {
            try peer.put(n, img)
            masks[n] = randomMask(img.width, img.height, p: 0.6, &rng)
            try peer.put(n + "_mask", masks[n]!)
        }
        try peer.run("""
        from skimage.feature import local_binary_pattern
        for n in \(pyList(cases.map { $0.0 })):
            c = local_binary_pattern(load(n), 8, 1, method='uniform')
            assert np.all(c == np.round(c))
            c = c.astype(np.uint8)
            save(n, c)
            save(n + '_hist', np.bincount(c.ravel(), minlength=10) / c.size)
            m = load(n + '_mask') > 0
            save(n + '_mhist', np.bincount(c[m], minlength=10) / max(1, m.sum()) if m.any() else np.zeros(10))
        """)
        for (n, img) in cases {
            let ours = LBP.uniformCodes(img)
            assertSameImage(ours, try peer.gray(n, img.width, img.height), "\(n) LBP codes")
            let hist = ours.pixels.withUnsafeBufferPointer { LBP.histogram($0) }
            XCTAssertEqual(hist, try doubles(peer.output(n + "_hist")), "\(n) histogram")
            let mhist = ours.pixels.withUnsafeBufferPointer { c in masks[n]!.pixels.withUnsafeBufferPointer { LBP.histogram(c, mask: $0) } }
            XCTAssertEqual(mhist, try doubles(peer.output(n + "_mhist")), "\(n) masked histogram")
        }
        let empty = [UInt8](repeating: 3, count: 4).withUnsafeBufferPointer { c in
            [UInt8](repeating: 0, count: 4).withUnsafeBufferPointer { LBP.histogram(c, mask: $0) }
        }
        XCTAssertEqual(empty, [Double](repeating: 0, count: 10))
    }

    // MARK: Helpers

    private func doubles(_ d: Data) throws -> [Double] { d.withUnsafeBytes { Array($0.bindMemory(to: Double.self)) } }

    /// |a − b| ≤ 1e-6 · max(|b|, 1e-9) per value (the properties are exact sums).
    private func assertClose(_ a: [Double], _ b: [Double], _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.count, b.count, what, file: file, line: line)
        for (k, (x, y)) in zip(a, b).enumerated() where !(abs(x - y) <= 1e-6 * max(abs(y), 1e-9)) {
            XCTFail("\(what) property \(k): \(x) vs \(y)", file: file, line: line)
        }
    }

    private func crop(_ img: RGBImage, x: Int, y: Int, w: Int, h: Int) -> RGBImage {
        var out = [UInt8](repeating: 0, count: w * h * 3)
        for r in 0..<h {
            let s = 3 * ((y + r) * img.width + x)
            out.replaceSubrange((3 * r * w)..<(3 * (r + 1) * w), with: img.pixels[s..<(s + 3 * w)])
        }
        return RGBImage(width: w, height: h, pixels: out)
    }

    /// Integer BT.601 luma (the grey pathomic-v1 uses).
    private func luma(_ img: RGBImage) -> GrayImage {
        GrayImage(width: img.width, height: img.height, pixels: (0..<(img.width * img.height)).map { i in
            let r = Int(img.pixels[3 * i]), g = Int(img.pixels[3 * i + 1]), b = Int(img.pixels[3 * i + 2])
            return UInt8((r * 19595 + g * 38470 + b * 7471 + 32768) >> 16)
        })
    }

    private func pyDict(_ items: [(String, Int)]) -> String {
        "{" + items.map { "'\($0.0)': \($0.1)" }.joined(separator: ", ") + "}"
    }
}
