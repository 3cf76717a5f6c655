import Foundation
import XCTest
import TestSupport
import VolumeIO
@testable import Radiomics

/// Separable undecimated wavelets against PyWavelets and PyRadiomics.
final class FilterWaveletTests: XCTestCase {
    /// IBSI convention with periodic padding is pywt.swtn (axes x, y, z; 'a' → L, 'd' → H):
    /// levels 1 and 2, all 8 sub-bands, four families. Tolerance 1e-4 of max|ref|.
    func testIBSIPeriodicEqualsPyWaveletsSWTN() throws {
        let volume = FilterFixtures.volume(SIMD3(24, 20, 16))
        let families = ["haar", "db2", "coif1", "sym3"]
        let ref = try FilterFixtures.python(self, volume, """
        import pywt
        for w in \(families):
            levels = pywt.swtn(vol, w, level=2, axes=(2, 1, 0))          # coarsest first
            for level, bands in zip((2, 1), levels):
                for key, a in bands.items():
                    save(f"{w}-{level}-{key.replace('a', 'L').replace('d', 'H')}", a)
        """, outputs: families.flatMap { w in [1, 2].flatMap { l in WaveletFilter.allBands(3).map { "\(w)-\(l)-\($0)" } } })
        for w in families {
            let maps = try apply(.wavelet(WaveletParameters(family: w, levels: 1...2, padding: .periodic)), to: volume)
            XCTAssertEqual(maps.count, 16)
            for (name, v) in maps {
                let level = name.hasPrefix("wavelet2-") ? 2 : 1
                let band = String(name.split(separator: "-")[1])
                let e = FilterFixtures.relativeError(v.voxels, ref["\(w)-\(level)-\(band)"]!)
                XCTAssertLessThan(e, 1e-4, "\(w) \(name)")
            }
        }
    }

    /// The PyRadiomics convention reproduces `radiomics.imageoperations.getWaveletImage`
    /// (SimpleITK image, odd sizes 21×19×13, anisotropic spacing): the same names and, band by
    /// band, the same voxels to 1e-4 of max|ref|. Two settings: coif1 levels 1–2, and db2
    /// start_level 1. The IBSI map of level 2 differs (dilated filters), checked too.
    func testPyRadiomicsWaveletImageReproduced() throws {
        let volume = FilterFixtures.volume(SIMD3(21, 19, 13))
        let settings: [(String, Int, Int)] = [("coif1", 0, 2), ("db2", 1, 1)]
        var script = """
        import SimpleITK as sitk, logging
        from radiomics import imageoperations
        logging.getLogger('radiomics').setLevel(logging.ERROR)
        im = sitk.GetImageFromArray(vol.astype(np.float32)); im.SetSpacing(spacing)
        names = []

        """
        for (n, (w, start, level)) in settings.enumerated() {
            script += """
            for img, name, _ in imageoperations.getWaveletImage(im, None, wavelet='\(w)', start_level=\(start), level=\(level)):
                save('s\(n)-' + name, sitk.GetArrayFromImage(img)); names.append('s\(n)-' + name)

            """
        }
        script += "open(out + '/names.txt', 'w').write('\\n'.join(names))\n"
        let dir = try TestEnv.scratch(self, "pyrad-wavelet")
        try FilterFixtures.write(volume.voxels, dir + "/in.f32")
        let s = volume.size, h = volume.spacing
        _ = try TestEnv.runPython(FilterFixtures.preamble + script, [dir + "/in.f32", "\(s.x),\(s.y),\(s.z)", "\(h.x),\(h.y),\(h.z)", dir])
        let theirNames = try String(contentsOfFile: dir + "/names.txt", encoding: .utf8).split(separator: "\n").map(String.init)

        for (n, (w, start, level)) in settings.enumerated() {
            let spec = FilterSpec.wavelet(WaveletParameters(family: w, levels: (start + 1)...(start + level), convention: .pyradiomics))
            let ours = try apply(spec, to: volume)
            let theirs = theirNames.filter { $0.hasPrefix("s\(n)-") }.map { String($0.dropFirst(3)) }
            XCTAssertEqual(Set(ours.map(\.name)), Set(theirs), "names for \(w)")
            XCTAssertEqual(spec.names.count, theirs.count)
            for (name, v) in ours {
                guard theirs.contains(name) else { continue }
                let ref = try FilterFixtures.read(dir + "/s\(n)-\(name).f32")
                XCTAssertLessThan(FilterFixtures.relativeError(v.voxels, ref), 1e-4, "\(w) \(name)")
            }
        }
        // IBSI level 2 (à trous) is not PyRadiomics' level 2 (undilated filters, again).
        let ibsi = try apply(.wavelet(WaveletParameters(family: "coif1", levels: 2...2, subbands: ["HHH"], padding: .periodic)), to: volume)
        let pyrad = try FilterFixtures.read(dir + "/s0-wavelet2-HHH.f32")
        XCTAssertGreaterThan(FilterFixtures.relativeError(ibsi[0].volume.voxels, pyrad), 0.05)
    }

    /// 2-D (in-plane) sub-bands against pywt.swtn over axes (x, y) of each slice; names
    /// and order as PyRadiomics gives them. Tolerance 1e-4 of max|ref|.
    func testInPlaneWaveletAgreesWithPyWavelets() throws {
        let volume = FilterFixtures.volume(SIMD3(20, 18, 5))
        let ref = try FilterFixtures.python(self, volume, """
        import pywt
        for key, a in pywt.swtn(vol, 'db3', level=1, axes=(2, 1))[0].items():
            save(key.replace('a', 'L').replace('d', 'H'), a)
        """, outputs: ["LL", "LH", "HL", "HH"])
        let maps = try apply(.wavelet(WaveletParameters(family: "db3", dimension: .twoD, padding: .periodic)), to: volume)
        XCTAssertEqual(maps.map(\.name), ["wavelet-LL", "wavelet-LH", "wavelet-HL", "wavelet-HH"])
        for (name, v) in maps {
            XCTAssertLessThan(FilterFixtures.relativeError(v.voxels, ref[String(name.dropFirst(8))]!), 1e-4, name)
        }
    }
}
