import Foundation
import TestSupport
import XCTest
@testable import Regions

/// k-means and the Gaussian mixture against scikit-learn on the same points.
final class ClusteringPeerTests: XCTestCase {
    /// Three well-separated anisotropic blobs in 3D (600 points), row-major.
    static func blobs(seed: UInt64 = 7) -> [Double] {
        var rng = SeededRNG(seed)
        func gauss() -> Double {
            let u = Double.random(in: Double.ulpOfOne..<1, using: &rng), v = Double.random(in: 0..<1, using: &rng)
            return (-2 * log(u)).squareRoot() * cos(2 * .pi * v)
        }
        let centres: [[Double]] = [[0, 0, 0], [6, 1, -2], [-3, 7, 4]]
        let sd: [[Double]] = [[1, 0.5, 0.8], [0.7, 1.2, 0.6], [0.9, 0.9, 1.3]]
        var x: [Double] = []
        for i in 0..<600 { let c = i % 3; for f in 0..<3 { x.append(centres[c][f] + sd[c][f] * gauss()) } }
        return x
    }

    static func writeDoubles(_ x: [Double], _ path: String) throws {
        try x.withUnsafeBufferPointer { Data(buffer: $0) }.write(to: URL(fileURLWithPath: path))
    }

    func testKMeansEqualsScikitLearnFromTheSameInit() throws {
        let x = Self.blobs()
        // Deliberately poor start: three points of the first blob, so Lloyd has work to do.
        let start = Array(x[0..<3]) + Array(x[9..<12]) + Array(x[18..<21])
        let mine = try KMeans.fit(x, dimension: 3, k: 3, initialCentroids: start)
        let dir = try TestEnv.scratch(self, "kmeans")
        try Self.writeDoubles(x, dir + "/x.bin")
        try Self.writeDoubles(start, dir + "/c.bin")
        let out = try TestEnv.runPython("""
        import sys, json, numpy as np
        from sklearn.cluster import KMeans
        x = np.fromfile(sys.argv[1] + '/x.bin').reshape(-1, 3); c = np.fromfile(sys.argv[1] + '/c.bin').reshape(-1, 3)
        km = KMeans(n_clusters=3, init=c, n_init=1, algorithm='lloyd', tol=1e-4, max_iter=300).fit(x)
        print(json.dumps({'labels': km.labels_.tolist(), 'inertia': float(km.inertia_), 'iter': int(km.n_iter_)}))
        """, [dir])
        let peer = try TestEnv.json(out) as! [String: Any]
        XCTAssertEqual(mine.labels, peer["labels"] as! [Int])
        let inertia = peer["inertia"] as! Double
        XCTAssertEqual(mine.inertia, inertia, accuracy: 1e-9 * inertia)
        XCTAssertEqual(mine.iterations, peer["iter"] as! Int)
        XCTAssertGreaterThan(mine.iterations, 1)
    }

    func testKMeansSeededInitAgreesWithScikitLearn() throws {
        let x = Self.blobs()
        let a = try KMeans.fit(x, dimension: 3, k: 3, seed: 1)
        let b = try KMeans.fit(x, dimension: 3, k: 3, seed: 1)
        XCTAssertEqual(a.labels, b.labels, "same seed, same labels")
        let dir = try TestEnv.scratch(self, "kmeans-seed")
        try Self.writeDoubles(x, dir + "/x.bin")
        try Self.writeDoubles(a.labels.map(Double.init), dir + "/l.bin")
        let out = try TestEnv.runPython("""
        import sys, json, numpy as np
        from sklearn.cluster import KMeans
        from sklearn.metrics import adjusted_rand_score
        x = np.fromfile(sys.argv[1] + '/x.bin').reshape(-1, 3); mine = np.fromfile(sys.argv[1] + '/l.bin').astype(int)
        km = KMeans(n_clusters=3, n_init=10, random_state=0).fit(x)
        print(json.dumps({'ari': adjusted_rand_score(km.labels_, mine), 'inertia': float(km.inertia_)}))
        """, [dir])
        let peer = try TestEnv.json(out) as! [String: Any]
        XCTAssertGreaterThanOrEqual(peer["ari"] as! Double, 0.99)
        XCTAssertEqual(a.inertia, peer["inertia"] as! Double, accuracy: 1e-6 * a.inertia)
    }

    func testGaussianMixtureEqualsScikitLearnFromTheSameMeans() throws {
        let x = Self.blobs(seed: 11)
        let means = [0.5, 0.5, 0.5, 5, 0, -1, -2, 6, 3]
        let dir = try TestEnv.scratch(self, "gmm")
        try Self.writeDoubles(x, dir + "/x.bin")
        try Self.writeDoubles(means, dir + "/m.bin")
        for covariance in GaussianMixture.Covariance.allCases {
            let mine = try GaussianMixture.fit(x, dimension: 3, k: 3, covariance: covariance, maxIterations: 200, tolerance: 1e-8,
                                               initialMeans: means)
            // scikit-learn replaces only what it is given: pass the weights and precisions our
            // initial step derives (hard labels by the nearest mean) so both start alike.
            let out = try TestEnv.runPython("""
            import sys, json, numpy as np
            from sklearn.mixture import GaussianMixture
            x = np.fromfile(sys.argv[1] + '/x.bin').reshape(-1, 3); m = np.fromfile(sys.argv[1] + '/m.bin').reshape(-1, 3)
            full = sys.argv[2] == 'full'
            lab = np.argmin(((x[:, None, :] - m[None]) ** 2).sum(-1), axis=1)
            resp = np.eye(3)[lab]
            nk = resp.sum(0) + 10 * np.finfo(float).eps
            mu = resp.T @ x / nk[:, None]
            prec = []
            for j in range(3):
                d = x - mu[j]
                if full:
                    prec.append(np.linalg.inv((resp[:, j, None] * d).T @ d / nk[j] + 1e-6 * np.eye(3)))
                else:
                    prec.append(1 / ((resp[:, j, None] * d * d).sum(0) / nk[j] + 1e-6))
            g = GaussianMixture(3, covariance_type='full' if full else 'diag', tol=1e-8, max_iter=200,
                                weights_init=nk / nk.sum(), means_init=m, precisions_init=np.array(prec)).fit(x)
            print(json.dumps({'ll': float(g.score(x)), 'means': g.means_.ravel().tolist(), 'labels': g.predict(x).tolist()}))
            """, [dir, covariance.rawValue])
            let peer = try TestEnv.json(out) as! [String: Any]
            let ll = peer["ll"] as! Double
            XCTAssertEqual(mine.logLikelihood, ll, accuracy: 1e-6 * abs(ll), "\(covariance)")
            for (a, b) in zip(mine.means, peer["means"] as! [Double]) { XCTAssertEqual(a, b, accuracy: 1e-4, "\(covariance) means") }
            XCTAssertEqual(mine.labels, peer["labels"] as! [Int], "\(covariance)")
            XCTAssertTrue(mine.converged)
        }
    }

    func testBadClusteringInput() {
        XCTAssertThrowsError(try KMeans.fit([1, 2, 3], dimension: 1, k: 4)) { XCTAssertTrue("\($0)".contains("cannot make 4 clusters")) }
        XCTAssertThrowsError(try KMeans.fit([1, .nan, 3], dimension: 1, k: 2))
        XCTAssertThrowsError(try GaussianMixture.fit([1, 2], dimension: 1, k: 3))
    }
}
