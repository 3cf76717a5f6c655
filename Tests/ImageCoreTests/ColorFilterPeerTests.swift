import XCTest
import ImageCore
import TestSupport

/// HSV, median, thresholds and nearest resize against OpenCV / SciPy / scikit-image.
final class ColorFilterPeerTests: XCTestCase {
    /// All 2^24 colours, as a 4096×4096 image: pixel i has R = i>>16, G = (i>>8)&255, B = i&255.
    func testHSVMatchesOpenCVOnEveryColour() throws {
        let peer = try PythonPeer(modules: ["cv2"])
        var px = [UInt8](repeating: 0, count: (1 << 24) * 3)
        for i in 0..<(1 << 24) { px[3 * i] = UInt8(i >> 16); px[3 * i + 1] = UInt8((i >> 8) & 255); px[3 * i + 2] = UInt8(i & 255) }
        let img = RGBImage(width: 4096, height: 4096, pixels: px)
        try peer.run("""
        import cv2
        a = np.arange(1 << 24, dtype=np.uint32)
        img = np.stack([(a >> 16) & 255, (a >> 8) & 255, a & 255], -1).astype(np.uint8).reshape(4096, 4096, 3)
        hsv = cv2.cvtColor(img, cv2.COLOR_RGB2HSV)
        for i, n in enumerate('hsv'): save(n, hsv[..., i])
        """)
        let (h, s, v) = ColorConversion.hsv(img)
        assertSameImage(h, try peer.gray("h", 4096, 4096), "H")
        assertSameImage(s, try peer.gray("s", 4096, 4096), "S")
        assertSameImage(v, try peer.gray("v", 4096, 4096), "V")
        assertSameImage(ColorConversion.saturation(img), s, "saturation fast path")
        XCTAssertEqual(h.pixels.max(), 179)
    }

    func testHSVMatchesOpenCVOnRealHE() throws {
        let peer = try PythonPeer(modules: ["cv2"])
        let img = try realHE()
        try peer.put("img", img)
        try peer.run("""
        import cv2
        hsv = cv2.cvtColor(load('img'), cv2.COLOR_RGB2HSV)
        for i, n in enumerate('hsv'): save(n, hsv[..., i])
        """)
        let (h, s, v) = ColorConversion.hsv(img)
        assertSameImage(h, try peer.gray("h", img.width, img.height), "H")
        assertSameImage(s, try peer.gray("s", img.width, img.height), "S")
        assertSameImage(v, try peer.gray("v", img.width, img.height), "V")
        assertSameImage(ColorConversion.saturation(img), s, "saturation fast path")
    }

    /// median == scipy.ndimage.median_filter(size=k, mode='nearest') for k = 3, 7, 11 (and 1, 15),
    /// on random, real and degenerate (narrower / shorter than the kernel) images.
    func testMedianMatchesSciPy() throws {
        let peer = try PythonPeer(modules: ["scipy.ndimage"])
        var rng = SeededRNG(11)
        var cases: [(String, GrayImage)] = [
            ("rand", randomGray(67, 45, &rng)),
            ("lowrange", randomGray(40, 52, &rng, range: 100...140)),
            ("narrow", randomGray(5, 33, &rng)),
            ("short", randomGray(29, 4, &rng)),
            ("tiny", randomGray(3, 2, &rng)),
            ("one", randomGray(1, 1, &rng)),
            ("col", randomGray(1, 17, &rng)),
            ("big", randomGray(420, 260, &rng)), // big enough for the parallel bands
            ("mask", randomMask(80, 60, p: 0.5, &rng)),
        ]
        let he = try realHE()
        cases.append(("he_s", ColorConversion.saturation(he)))
        cases.append(("he_g", channel(he, 1)))
        for (n, img) in cases { try peer.put(n, img) }
        let ks = [1, 3, 7, 11, 15]
        try peer.run("""
        from scipy import ndimage
        for n in \(pyList(cases.map { $0.0 })):
            a = load(n)
            for k in \(ks):
                save(f'{n}_{k}', ndimage.median_filter(a, size=k, mode='nearest'))
        for n in ['narrow', 'short']:
            for k in (101, 255):  # window counts above 32768: the branch-free rank search's range
                save(f'{n}_{k}', ndimage.median_filter(load(n), size=k, mode='nearest'))
        """)
        for (n, img) in cases {
            for k in ks {
                let ours = img.medianFiltered(size: k)
                let ref = try peer.gray("\(n)_\(k)", img.width, img.height)
                assertSameImage(ours, ref, "\(n) k=\(k)")
            }
        }
        for (n, img) in cases where ["narrow", "short"].contains(n) {
            for k in [101, 255] {
                assertSameImage(img.medianFiltered(size: k), try peer.gray("\(n)_\(k)", img.width, img.height), "\(n) k=\(k)")
            }
        }
    }

    func testOtsuMatchesScikitImage() throws {
        let peer = try PythonPeer(modules: ["skimage.filters"])
        var rng = SeededRNG(5)
        var cases: [(String, GrayImage)] = [
            ("uniform", randomGray(50, 40, &rng)),
            ("narrow_range", randomGray(30, 30, &rng, range: 90...97)),
            ("two_values", GrayImage(width: 4, height: 2, pixels: [10, 10, 10, 200, 200, 10, 10, 10])),
            ("constant", GrayImage(width: 5, height: 5, fill: 77)),
            ("mask", randomMask(31, 17, p: 0.3, &rng)),
        ]
        // Bimodal with gaps in the histogram (ties between empty bins).
        var bimodal = GrayImage(width: 64, height: 64)
        for i in 0..<bimodal.pixels.count {
            bimodal.pixels[i] = Bool.random(using: &rng) ? UInt8.random(in: 20...60, using: &rng) / 4 * 4
                                                         : UInt8.random(in: 150...230, using: &rng) / 8 * 8
        }
        cases.append(("bimodal", bimodal))
        let he = try realHE()
        cases.append(("he_s", ColorConversion.saturation(he)))
        cases.append(("he_s_med7", ColorConversion.saturation(he).medianFiltered(size: 7)))
        cases.append(("he_r", channel(he, 0)))
        let tumour = try realTumour()
        cases.append(("tumour_s", ColorConversion.saturation(tumour)))
        cases.append(("tumour_b", channel(tumour, 2)))
        for (n, img) in cases { try peer.put(n, img) }
        let out = try peer.run("""
        from skimage.filters import threshold_otsu
        print(json.dumps({n: int(threshold_otsu(load(n))) for n in \(pyList(cases.map { $0.0 }))}))
        """)
        let ref = try JSONSerialization.jsonObject(with: Data(out.utf8)) as! [String: Int]
        for (n, img) in cases {
            XCTAssertEqual(Int(img.otsuThreshold()), ref[n], n)
        }
        // The convention: foreground is strictly above the returned value.
        XCTAssertEqual(cases[2].1.otsuThreshold(), 10)
        XCTAssertEqual(cases[2].1.thresholded(above: cases[2].1.otsuThreshold()).foregroundCount, 2)
    }

    func testThresholdAndNearestResizeMatchOpenCV() throws {
        let peer = try PythonPeer(modules: ["cv2"])
        var rng = SeededRNG(9)
        let img = randomGray(53, 37, &rng)
        try peer.put("img", img)
        let sizes = [(20, 15), (53, 37), (106, 74), (7, 30), (1, 1), (160, 9)]
        try peer.run("""
        import cv2
        a = load('img')
        for t in (0, 8, 127, 254, 255):
            save(f't{t}', cv2.threshold(a, t, 255, cv2.THRESH_BINARY)[1])
        for (w, h) in \(sizes.map { [$0.0, $0.1] }):
            save(f'n{w}x{h}', cv2.resize(a, (w, h), interpolation=cv2.INTER_NEAREST_EXACT))
        """)
        for t: UInt8 in [0, 8, 127, 254, 255] {
            assertSameImage(img.thresholded(above: t), try peer.gray("t\(t)", 53, 37), "threshold \(t)")
        }
        for (w, h) in sizes {
            let ours = img.resizedNearest(width: w, height: h), ref = try peer.gray("n\(w)x\(h)", w, h)
            assertSameImage(ours, ref, "nearest \(w)x\(h)")
        }
    }

    func testMaskLogic() {
        let a = GrayImage(width: 2, height: 2, pixels: [0, 255, 255, 0])
        let b = GrayImage(width: 2, height: 2, pixels: [0, 0, 255, 255])
        XCTAssertEqual((a & b).pixels, [0, 0, 255, 0])
        XCTAssertEqual((a | b).pixels, [0, 255, 255, 255])
        XCTAssertEqual(a.inverted().pixels, [255, 0, 0, 255])
    }
}

func pyList(_ names: [String]) -> String { "[" + names.map { "'\($0)'" }.joined(separator: ", ") + "]" }
