@testable import Cells
import Foundation
import ImageCore
import TestSupport
import XCTest

/// Per-nucleus features against scikit-image `regionprops` and `graycoprops` on the same label
/// masks and the same haematoxylin plane.
final class FeatureAgreementTests: XCTestCase {
    /// scikit-image's numbers for every label: shape, H/E statistics, GLCM (mean of 4 angles).
    static let peer = """
    import sys, json, numpy as np
    from skimage.measure import regionprops
    from skimage.feature import graycomatrix, graycoprops
    w, h, levels = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    scale = np.float32(float(sys.argv[5]))
    d = sys.argv[1]
    lab = np.fromfile(d + '/labels.i32', dtype=np.int32).reshape(h, w)
    planes = np.fromfile(d + '/planes.f32', dtype=np.float32).reshape(-1, h, w)
    q = np.minimum(levels - 1, np.maximum(0, np.floor(planes[0] * scale))).astype(np.uint8)
    out = []
    for r in regionprops(lab):
        r0, c0, r1, c1 = r.bbox
        g = graycomatrix(q[r0:r1, c0:c1], [1], [0, np.pi / 4, np.pi / 2, 3 * np.pi / 4], levels=levels, symmetric=True, normed=True)
        tex = [float(graycoprops(g, p).mean()) for p in ['contrast', 'dissimilarity', 'homogeneity', 'energy', 'ASM', 'correlation']]
        stats = []
        for p in planes:
            v = p[r0:r1, c0:c1][r.image].astype(np.float64)
            stats += [v.mean(), v.std(), v.min(), v.max()]
        a, b, b2, c = r.inertia_tensor.flat
        out.append(dict(label=int(r.label), area=float(r.area), perimeter=float(r.perimeter),
                        eqd=float(r.equivalent_diameter_area), major=float(r.axis_major_length), minor=float(r.axis_minor_length),
                        ecc=float(r.eccentricity), orientation=float(r.orientation), solidity=float(r.solidity),
                        extent=float(r.extent), convex=float(r.area_convex), ill=bool(abs(a - c) < 1e-9),
                        stats=[float(s) for s in stats], tex=tex))
    print(json.dumps(out))
    """

    /// Measures every label with the module's code and compares with the peer; returns the count.
    @discardableResult
    func compare(labels: [Int32], planes: [Float], width w: Int, height h: Int, singleChannel: Bool, label: String) throws -> Int {
        var p = NucleiParameters()
        p.pixelSize = 1
        let settings = PixelSettings(p, mpp: 1, stains: nil, threshold: 0)
        let count = Int(labels.max() ?? 0)
        let ours = labels.withUnsafeBufferPointer { l in planes.withUnsafeBufferPointer { pl in
            NucleusMeasurer(settings: settings, singleChannel: singleChannel).measureAll(labels: l.baseAddress!, count: count, planes: pl.baseAddress!, width: w, height: h)
        } }
        let dir = try TestEnv.scratch(self, "feat")
        try Raw.write(labels, dir + "/labels.i32")
        try Raw.write(Array(planes[0..<((singleChannel ? 1 : 2) * w * h)]), dir + "/planes.f32")
        let out = try TestEnv.runPython(Self.peer, [dir, "\(w)", "\(h)", "\(p.glcmLevels)", "\(settings.glcmScale)"])
        let rows = try XCTUnwrap(try TestEnv.json(out) as? [[String: Any]])
        XCTAssertEqual(rows.count, ours.count, label)
        let names = NucleusFeatures.names(singleChannel: singleChannel)
        func ix(_ n: String) -> Int { names.firstIndex(of: n)! }
        func close(_ a: Double, _ b: Double, rel: Double, _ what: String, _ l: Int) {
            XCTAssertLessThanOrEqual(abs(a - b), rel * max(1, abs(b)), "\(label) label \(l) \(what): ours \(a), scikit-image \(b)")
        }
        for (row, f) in zip(rows, ours) {
            let l = row["label"] as! Int
            let d = { (k: String) in row[k] as! Double }
            XCTAssertEqual(f[ix("area_um2")], d("area"), "\(label) \(l) area")
            close(f[ix("perimeter_um")], d("perimeter"), rel: 1e-9, "perimeter", l)
            close(f[ix("equivalent_diameter_um")], d("eqd"), rel: 1e-9, "equivalent diameter", l)
            close(f[ix("major_axis_um")], d("major"), rel: 1e-9, "major axis", l)
            close(f[ix("minor_axis_um")], d("minor"), rel: 1e-7, "minor axis", l)
            close(f[ix("eccentricity")], d("ecc"), rel: 1e-7, "eccentricity", l)
            // An axis, so ±π/2 are the same one: a symmetric shape's tiny cross moment can take
            // either sign with different summation orders.
            if !(row["ill"] as! Bool) {
                let diff = abs(f[ix("orientation_rad")] - d("orientation"))
                XCTAssertLessThan(min(diff, Double.pi - diff), 1e-7, "\(label) \(l) orientation \(f[ix("orientation_rad")]) vs \(d("orientation"))")
            }
            XCTAssertEqual(f[ix("convex_area_um2")], d("convex"), "\(label) \(l) convex area")
            close(f[ix("solidity")], d("solidity"), rel: 1e-12, "solidity", l)
            close(f[ix("extent")], d("extent"), rel: 1e-12, "extent", l)
            let stats = row["stats"] as! [Double]
            let statNames = singleChannel ? NucleusFeatures.stats("intensity") : NucleusFeatures.stats("hematoxylin_od") + NucleusFeatures.stats("eosin_od")
            for (k, n) in statNames.enumerated() { close(f[ix(n)], stats[k], rel: 1e-5, n, l) }
            let tex = row["tex"] as! [Double]
            for (k, n) in NucleusFeatures.texture.enumerated() { close(f[ix(n)], tex[k], rel: 1e-9, n, l) }
        }
        return ours.count
    }

    /// Nuclei segmented from real H&E (the pipeline's own masks and planes).
    func testRealHENucleiAgreeWithRegionprops() throws {
        let image = try ImageFile.read(path: try TestEnv.testdata("histology/he_small_histo.jpg"))
        var p = NucleiParameters()
        p.pixelSize = 0.5
        let s = StainVectors.ruifrok
        let settings = PixelSettings(p, mpp: 0.5, stains: try StainVectors.odMatrix(s[0], s[1], s[2]), threshold: 0.1)
        let seg = TileSegmenter(settings: settings)
        image.pixels.withUnsafeBufferPointer { seg.computeSignal(rgb: $0.baseAddress!, plane: nil, width: image.width, height: image.height) }
        let count = seg.segment()
        let n = image.width * image.height
        let labels = Array(UnsafeBufferPointer(start: seg.labels, count: n))
        let planes = Array(UnsafeBufferPointer(start: seg.stain, count: 2 * n))
        XCTAssertGreaterThan(count, 100)
        let measured = try compare(labels: labels, planes: planes, width: image.width, height: image.height, singleChannel: false, label: "he_small_histo")
        XCTAssertEqual(measured, count)
    }

    /// Drawn shapes with edge cases: single pixels, lines, rings with holes, L shapes, rotated
    /// ellipses, shapes on the image border; random intensities.
    func testDrawnShapesAgreeWithRegionprops() throws {
        let script = """
        import sys, numpy as np
        from skimage.draw import ellipse, disk, rectangle
        rng = np.random.default_rng(3)
        h, w = 160, 200
        lab = np.zeros((h, w), np.int32)
        k = 1
        for i, (r, c, a, b, t) in enumerate([(20, 20, 12, 5, 0.3), (20, 60, 8, 8, 0), (20, 100, 14, 4, -1.1), (60, 30, 6, 3, 1.5707963)]):
            rr, cc = ellipse(r, c, a, b, shape=lab.shape, rotation=t); lab[rr, cc] = k; k += 1
        lab[60, 70] = k; k += 1                                # single pixel
        lab[60:61, 80:100] = k; k += 1                         # horizontal line
        lab[70:90, 110] = k; k += 1                            # vertical line
        rr, cc = disk((110, 40), 15); lab[rr, cc] = k; rr, cc = disk((110, 40), 6); lab[rr, cc] = 0; k += 1   # ring
        lab[100:130, 90:96] = k; lab[124:130, 90:120] = k; k += 1                                           # L shape
        rr, cc = disk((150, 150), 20, shape=lab.shape); lab[rr, cc] = k; k += 1                              # cut by the border
        for j in range(12):
            r, c = rng.integers(10, h - 10), rng.integers(130, w - 10)
            rr, cc = ellipse(r, c, rng.uniform(2, 9), rng.uniform(2, 9), shape=lab.shape, rotation=rng.uniform(-3, 3))
            free = lab[rr, cc] == 0; lab[rr[free], cc[free]] = k; k += 1
        from skimage.measure import label as relabel
        lab = relabel(lab > 0, connectivity=1) * 0 + lab
        lab.tofile(sys.argv[1] + '/l.i32')
        rng.uniform(0, 1.6, size=(2, h, w)).astype(np.float32).tofile(sys.argv[1] + '/p.f32')
        """
        let dir = try TestEnv.scratch(self, "shapes")
        _ = try TestEnv.runPython(script, [dir])
        var labels = try Raw.read(dir + "/l.i32", as: Int32.self)
        let planes = try Raw.read(dir + "/p.f32", as: Float.self)
        // Renumber to 1…n in raster order of the first pixel, as regionprops lists them by label.
        var map: [Int32: Int32] = [:]
        var next: Int32 = 0
        for i in labels.indices where labels[i] != 0 { if map[labels[i]] == nil { next += 1; map[labels[i]] = next } }
        // regionprops orders by label value; keep the values but make them dense.
        let sorted = map.keys.sorted()
        let dense = Dictionary(uniqueKeysWithValues: sorted.enumerated().map { ($1, Int32($0 + 1)) })
        for i in labels.indices where labels[i] != 0 { labels[i] = dense[labels[i]]! }
        let measured = try compare(labels: labels, planes: planes, width: 200, height: 160, singleChannel: false, label: "shapes")
        XCTAssertGreaterThanOrEqual(measured, 15)
    }

    /// The haematoxylin plane is 6 × scikit-image's `rgb2hed` (decadic OD).
    func testHematoxylinPlaneIsSixTimesRgb2hed() throws {
        let path = try TestEnv.testdata("histology/he_small_histo.jpg")
        let image = try ImageFile.read(path: path)
        let s = StainVectors.ruifrok
        let planes = try StainVectors.odMatrix(s[0], s[1], s[2]).separate(image)
        let dir = try TestEnv.scratch(self, "hed")
        try Raw.write(image.pixels, dir + "/rgb.u8")
        let script = """
        import sys, numpy as np
        from skimage.color import rgb2hed
        w, h = int(sys.argv[2]), int(sys.argv[3])
        rgb = np.fromfile(sys.argv[1] + '/rgb.u8', dtype=np.uint8).reshape(h, w, 3)
        (6 * rgb2hed(rgb)).astype(np.float32).transpose(2, 0, 1).tofile(sys.argv[1] + '/hed.f32')
        """
        _ = try TestEnv.runPython(script, [dir, "\(image.width)", "\(image.height)"])
        let ref = try Raw.read(dir + "/hed.f32", as: Float.self)
        XCTAssertEqual(ref.count, planes.count)
        var worst: Float = 0
        for i in 0..<(2 * image.width * image.height) { worst = max(worst, abs(ref[i] - planes[i])) }
        XCTAssertLessThan(worst, 1e-5, "H and E planes vs 6 × rgb2hed")
    }
}
