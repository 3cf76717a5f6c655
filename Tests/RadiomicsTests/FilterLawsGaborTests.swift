import Foundation
import XCTest
import TestSupport
import VolumeIO
@testable import Radiomics

/// Laws and Gabor filters against plain numpy/scipy implementations that share none of our
/// code paths: full (non-separable) kernels, rotations by np.rot90, direct complex convolution.
final class FilterLawsGaborTests: XCTestCase {
    let volume = FilterFixtures.volume(SIMD3(20, 18, 12))

    /// Laws 3-D and 2-D, plain, rotation-invariant (max over the distinct np.rot90 images of
    /// the kernel) and energy maps, each padding. Tolerance 1e-5 of max|ref|.
    func testLawsAgreesWithNumpyConvolution() throws {
        let cases: [(String, Bool, Int?, PaddingMode)] = [
            ("E5L5S5", false, nil, .constant), ("E5L5S5", true, nil, .mirror), ("E5L5S5", true, 3, .nearest),
            ("E3W5R5", false, 2, .periodic), ("L5S5", false, nil, .mirror), ("L5S5", true, 3, .mirror), ("W5E3", true, nil, .constant),
        ]
        var script = """
        import scipy.ndimage as ndi
        raw = {'L5': [1, 4, 6, 4, 1], 'E5': [-1, -2, 0, 2, 1], 'S5': [-1, 0, 2, 0, -1], 'W5': [-1, 2, 0, -2, 1],
               'R5': [1, -4, 6, -4, 1], 'L3': [1, 2, 1], 'E3': [-1, 0, 1], 'S3': [-1, 2, -1]}
        L = {k: np.array(v, float) / np.linalg.norm(v) for k, v in raw.items()}
        def kernel(name):                      # array (z, y, x); the first name is along x
            ks = [L[name[i:i + 2]] for i in range(0, len(name), 2)]
            if len(ks) == 3: return np.einsum('k,j,i->kji', ks[2], ks[1], ks[0])
            return np.einsum('j,i->ji', ks[1], ks[0])[None]
        def rotations(k, planes):
            seen, todo = {}, [k]
            while todo:
                a = todo.pop()
                key = (a.shape, a.tobytes())
                if key in seen: continue
                seen[key] = a
                todo += [np.rot90(a, 1, p) for p in planes]
            return list(seen.values())
        def laws(name, rot, delta, mode):
            k = kernel(name)
            planes = ((0, 1), (0, 2), (1, 2)) if len(name) == 6 else ((1, 2),)
            ks = rotations(k, planes) if rot else [k]
            r = np.max([ndi.convolve(vol, q, mode=scipy_mode[mode]) for q in ks], axis=0)
            if delta is not None:
                size = 2 * delta + 1
                r = ndi.uniform_filter(np.abs(r), size if len(name) == 6 else (1, size, size), mode=scipy_mode[mode])
            return r

        """
        for (n, (k, rot, d, m)) in cases.enumerated() {
            script += "save('c\(n)', laws('\(k)', \(rot ? "True" : "False"), \(d.map(String.init) ?? "None"), '\(m.rawValue)'))\n"
        }
        let ref = try FilterFixtures.python(self, volume, script, outputs: cases.indices.map { "c\($0)" })
        for (n, (k, rot, d, m)) in cases.enumerated() {
            let ours = try FilterFixtures.single(.laws(kernel: k, rotationInvariant: rot, pooling: .max, energyDistance: d, padding: m), volume)
            XCTAssertLessThan(FilterFixtures.relativeError(ours, ref["c\(n)"]!), 1e-5, "Laws \(k) rot=\(rot) δ=\(String(describing: d)) \(m)")
        }
    }

    /// Gabor: per slice, the padded plane convolved (scipy.signal.convolve2d, complex) with the
    /// kernel built in mm from the IBSI formula; modulus; θ pooling; the three orthogonal
    /// planes. Anisotropic spacing. Tolerance 1e-4 of max|ref| (FFT in double, output Float).
    func testGaborAgreesWithDirectComplexConvolution() throws {
        let script = """
        from scipy.signal import convolve2d
        def kernel(s, lam, g, th, h1, h2):
            reach = 4 * s * max(1, 1 / g)
            r1, r2 = int(np.floor(reach / h1 + 0.5)), int(np.floor(reach / h2 + 0.5))
            v, u = np.mgrid[-r2:r2 + 1, -r1:r1 + 1].astype(float)    # rows: 2nd plane axis
            x, y, t = u * h1, v * h2, np.deg2rad(th)
            t1, t2 = x * np.cos(t) + y * np.sin(t), -x * np.sin(t) + y * np.cos(t)
            return np.exp(-(t1**2 + g * g * t2**2) / (2 * s * s)) * np.exp(2j * np.pi * t1 / lam), r1, r2
        def plane(slices, h1, h2, s, lam, g, thetas, mode, pool):
            out = []
            for sl in slices:                                      # sl: (n2, n1)
                rs = []
                for th in thetas:
                    k, r1, r2 = kernel(s, lam, g, th, h1, h2)
                    p = np.pad(sl, ((r2, r2), (r1, r1)), mode=numpy_mode[mode])
                    rs.append(np.abs(convolve2d(p, k, mode='valid')))
                out.append(np.mean(rs, axis=0) if pool == 'average' else np.max(rs, axis=0))
            return np.array(out)
        def gabor(s, lam, g, thetas, mode, planes, pool):
            hx, hy, hz = spacing
            axial = plane(vol, hx, hy, s, lam, g, thetas, mode, pool)
            if not planes: return axial
            coronal = np.moveaxis(plane(np.moveaxis(vol, 1, 0), hx, hz, s, lam, g, thetas, mode, pool), 0, 1)
            sagittal = np.moveaxis(plane(np.moveaxis(vol, 2, 0), hy, hz, s, lam, g, thetas, mode, pool), 0, 2)
            return (axial + coronal + sagittal) / 3
        save('a', gabor(2.0, 3.0, 0.5, [30.0], 'mirror', False, 'average'))
        save('b', gabor(1.5, 2.5, 1.5, [0, 90, 180, 270], 'constant', True, 'average'))
        save('c', gabor(1.5, 4.0, 1.0, [60 * i for i in range(6)], 'periodic', False, 'max'))
        """
        let ref = try FilterFixtures.python(self, volume, script, outputs: ["a", "b", "c"])
        let specs: [(String, GaborParameters)] = [
            ("a", GaborParameters(sigma: 2, lambda: 3, gamma: 0.5, theta: 30, padding: .mirror)),
            ("b", GaborParameters(sigma: 1.5, lambda: 2.5, gamma: 1.5, thetaStep: 90, orthogonalPlanes: true, padding: .constant)),
            ("c", GaborParameters(sigma: 1.5, lambda: 4, gamma: 1, thetaStep: 60, pooling: .max, padding: .periodic)),
        ]
        for (key, p) in specs {
            let ours = try FilterFixtures.single(.gabor(p), volume)
            XCTAssertLessThan(FilterFixtures.relativeError(ours, ref[key]!), 1e-4, "Gabor \(key)")
        }
    }
}
