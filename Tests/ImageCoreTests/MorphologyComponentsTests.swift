import XCTest
import ImageCore
import TestSupport

/// Morphology against OpenCV, connected components against scikit-image.
final class MorphologyComponentsTests: XCTestCase {
    func testMorphologyMatchesOpenCV() throws {
        let peer = try PythonPeer(modules: ["cv2"])
        var rng = SeededRNG(21)
        var cases: [(String, GrayImage)] = [
            ("mask", randomMask(61, 47, p: 0.5, &rng)),
            ("sparse", randomMask(40, 33, p: 0.05, &rng)),
            ("dense", randomMask(33, 40, p: 0.93, &rng)),
            ("gray", randomGray(37, 29, &rng)),
            ("blobby", blobbyMask(90, 70, &rng)),
            ("tiny", randomMask(2, 3, p: 0.5, &rng)),
            ("row", randomMask(23, 1, p: 0.5, &rng)),
            ("full", GrayImage(width: 9, height: 6, fill: 255)),
            ("big", blobbyMask(700, 450, &rng)), // parallel bands and several column strips
        ]
        let he = ColorConversion.saturation(try realHE())
        cases.append(("he", he.medianFiltered(size: 7).thresholded(above: 15)))
        for (n, img) in cases { try peer.put(n, img) }
        let ks = [1, 2, 3, 4, 5, 8, 15]
        try peer.run("""
        import cv2
        for n in \(pyList(cases.map { $0.0 })):
            a = load(n)
            for k in \(ks):
                ker = np.ones((k, k), np.uint8)
                save(f'{n}_d{k}', cv2.dilate(a, ker))
                save(f'{n}_e{k}', cv2.erode(a, ker))
                save(f'{n}_c{k}', cv2.morphologyEx(a, cv2.MORPH_CLOSE, ker))
                save(f'{n}_o{k}', cv2.morphologyEx(a, cv2.MORPH_OPEN, ker))
        """)
        for (n, img) in cases {
            for k in ks {
                let w = img.width, h = img.height
                assertSameImage(img.dilated(size: k), try peer.gray("\(n)_d\(k)", w, h), "\(n) dilate \(k)")
                assertSameImage(img.eroded(size: k), try peer.gray("\(n)_e\(k)", w, h), "\(n) erode \(k)")
                assertSameImage(img.closed(size: k), try peer.gray("\(n)_c\(k)", w, h), "\(n) close \(k)")
                assertSameImage(img.opened(size: k), try peer.gray("\(n)_o\(k)", w, h), "\(n) open \(k)")
            }
        }
    }

    func testConnectedComponentsMatchScikitImage() throws {
        let peer = try PythonPeer(modules: ["skimage.measure"])
        var rng = SeededRNG(33)
        var cases: [(String, GrayImage)] = [
            ("noise", randomMask(71, 53, p: 0.45, &rng)),
            ("sparse", randomMask(50, 50, p: 0.1, &rng)),
            ("blobby", blobbyMask(120, 90, &rng)),
            ("checker", checkerboard(9, 7)),
            ("empty", GrayImage(width: 6, height: 4)),
            ("full", GrayImage(width: 6, height: 4, fill: 255)),
            ("onepx", GrayImage(width: 1, height: 1, fill: 255)),
            ("gray", randomGray(30, 20, &rng, range: 0...3)), // any non-zero value is foreground
        ]
        cases.append(("he", ColorConversion.saturation(try realHE()).medianFiltered(size: 5).thresholded(above: 20)))
        for (n, img) in cases { try peer.put(n, img) }
        try peer.run("""
        from skimage.measure import label, regionprops
        for n in \(pyList(cases.map { $0.0 })):
            a = load(n) != 0
            for c in (1, 2):
                lab = label(a, connectivity=c)
                save(f'{n}_{c}', lab.astype(np.int32))
                props = regionprops(lab)
                rows = [[p.label, int(p.area)] + [int(v) for v in p.bbox] for p in props]
                save(f'{n}_{c}_props', np.array(rows, dtype=np.int64).reshape(-1, 6))
        """)
        for (n, img) in cases {
            for (c, conn) in [(1, Connectivity.four), (2, Connectivity.eight)] {
                let ours = ConnectedComponents.label(img, connectivity: conn)
                let refLabels = try peer.output("\(n)_\(c)").withUnsafeBytes { Array($0.bindMemory(to: Int32.self)) }
                XCTAssertTrue(ours.labels == refLabels, "\(n) connectivity \(c): labels differ (order or membership)")
                let props = try peer.ints("\(n)_\(c)_props")
                XCTAssertEqual(ours.count, props.count / 6, "\(n) connectivity \(c): count")
                guard ours.count == props.count / 6 else { continue }
                for i in 0..<ours.count {
                    let row = Array(props[(6 * i)..<(6 * i + 6)]).map(Int.init)
                    let l = row[0]
                    XCTAssertEqual(ours.areas[l], row[1], "\(n) c\(c) area of \(l)")
                    let b = ours.boundingBoxes[l]
                    XCTAssertEqual([b.y, b.x, b.maxY, b.maxX], Array(row[2...5]), "\(n) c\(c) bbox of \(l)")
                }
                XCTAssertEqual(ours.areas.reduce(0, +), img.foregroundCount)
            }
        }
    }
}

func checkerboard(_ w: Int, _ h: Int) -> GrayImage {
    GrayImage(width: w, height: h, pixels: (0..<(w * h)).map { ($0 % w + $0 / w) % 2 == 0 ? 255 : 0 })
}
