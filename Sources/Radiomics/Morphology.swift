import Foundation

/// Morphological features (IBSI 3.1): the mesh of the morphological mask (marching cubes), its
/// convex hull, PCA of the voxel centres, enclosing boxes and ellipsoids, and the
/// intensity-weighted measures on the intensity mask.
enum Morphology {
    static let tags = [
        "morph_volume", "morph_vol_approx", "morph_area_mesh", "morph_av", "morph_comp_1", "morph_comp_2",
        "morph_sph_dispr", "morph_sphericity", "morph_asphericity", "morph_com", "morph_diam",
        "morph_pca_maj_axis", "morph_pca_min_axis", "morph_pca_least_axis", "morph_pca_elongation",
        "morph_pca_flatness", "morph_vol_dens_aabb", "morph_area_dens_aabb", "morph_vol_dens_ombb",
        "morph_area_dens_ombb", "morph_vol_dens_aee", "morph_area_dens_aee", "morph_vol_dens_mvee",
        "morph_area_dens_mvee", "morph_vol_dens_conv_hull", "morph_area_dens_conv_hull", "morph_integ_int",
        "morph_moran_i", "morph_geary_c",
    ]
    /// PyRadiomics' planar diameters (not IBSI features): the largest vertex distance within
    /// one axial (k), coronal (j) or sagittal (i) plane of the mesh. Only with `.pyradiomics`.
    static let planarDiameterTags = ["morph_diam_2d_slice", "morph_diam_2d_column", "morph_diam_2d_row"]

    static func features(_ roi: PreparedROI, convention: Convention = .ibsi, spatialAutocorrelation: Bool = true) -> [FeatureValue] {
        guard !roi.isEmpty else { return (convention == .pyradiomics ? tags + planarDiameterTags : tags).map { FeatureValue($0, .nan) } }
        var f: [String: Double] = [:]
        let s = roi.spacing
        // The morphological mask's box.
        let lo = roi.roiLower, box = roi.roiUpper &- lo &+ 1
        var mask = [Bool](repeating: false, count: box.x * box.y * box.z)
        var count = 0
        var sum = SIMD3<Double>(0, 0, 0)
        var second = [Double](repeating: 0, count: 6)   // xx, yy, zz, xy, xz, yz
        for k in 0..<box.z { for j in 0..<box.y { for i in 0..<box.x where roi.morphologicalMask[roi.index(lo.x + i, lo.y + j, lo.z + k)] {
            mask[i + box.x * (j + box.y * k)] = true
            let x = SIMD3(Double(i), Double(j), Double(k)) * s
            count += 1; sum += x
            second[0] += x.x * x.x; second[1] += x.y * x.y; second[2] += x.z * x.z
            second[3] += x.x * x.y; second[4] += x.x * x.z; second[5] += x.y * x.z
        } } }

        let mesh = MarchingCubes.measure(mask: mask, size: box, spacing: s)
        let V = mesh.volume, A = mesh.area
        f["morph_volume"] = V
        f["morph_vol_approx"] = Double(count) * roi.voxelVolume
        f["morph_area_mesh"] = A
        f["morph_av"] = A / V
        f["morph_comp_1"] = V / (Double.pi.squareRoot() * pow(A, 1.5))
        f["morph_comp_2"] = 36 * Double.pi * V * V / (A * A * A)
        f["morph_sph_dispr"] = A / pow(36 * Double.pi * V * V, 1.0 / 3)
        f["morph_sphericity"] = pow(36 * Double.pi * V * V, 1.0 / 3) / A
        f["morph_asphericity"] = pow(A * A * A / (36 * Double.pi * V * V), 1.0 / 3) - 1

        // Centre of mass shift: geometric (morphological mask) vs intensity-weighted (intensity mask).
        let geometric = sum / Double(count)
        var weighted = SIMD3<Double>(0, 0, 0), totalIntensity = 0.0, nIntensity = 0
        for k in 0..<box.z { for j in 0..<box.y { for i in 0..<box.x {
            let v = roi.index(lo.x + i, lo.y + j, lo.z + k)
            if roi.intensityMask[v] {
                let x = roi.intensities[v]
                weighted += SIMD3(Double(i), Double(j), Double(k)) * s * x
                totalIntensity += x; nIntensity += 1
            }
        } } }
        let shift = weighted / totalIntensity - geometric
        f["morph_com"] = nIntensity > 0 ? (shift * shift).sum().squareRoot() : .nan

        // Mesh vertices: bounding box, convex hull, diameters, enclosing ellipsoid.
        let vertices = MarchingCubes.vertices(mask: mask, size: box)
        let half = s * 0.5
        var vmin = SIMD3<Int64>(repeating: .max), vmax = SIMD3<Int64>(repeating: .min)
        for p in vertices { vmin = pointwiseMin(vmin, p); vmax = pointwiseMax(vmax, p) }
        let extent = SIMD3<Double>(Double(vmax.x - vmin.x), Double(vmax.y - vmin.y), Double(vmax.z - vmin.z)) * half
        f["morph_vol_dens_aabb"] = V / (extent.x * extent.y * extent.z)
        f["morph_area_dens_aabb"] = A / (2 * (extent.x * extent.y + extent.x * extent.z + extent.y * extent.z))
        var hullPoints: [SIMD3<Double>] = []
        if let hull = ConvexHull(vertices) {
            if let box = OrientedBoundingBox.box(hull, scale: half) {
                f["morph_vol_dens_ombb"] = V / box.volume
                f["morph_area_dens_ombb"] = A / box.area
            }
            let h = hull.volumeAndArea(scale: half)
            f["morph_vol_dens_conv_hull"] = V / h.volume
            f["morph_area_dens_conv_hull"] = A / h.area
            hullPoints = hull.vertexIndices.map { SIMD3<Double>(Double(hull.points[$0].x), Double(hull.points[$0].y), Double(hull.points[$0].z)) * half }
        }
        var diameter = 0.0
        hullPoints.withUnsafeBufferPointer { p in
            for a in 0..<p.count { for b in (a + 1)..<p.count {
                let d = p[a] - p[b]
                diameter = max(diameter, (d * d).sum())
            } }
        }
        f["morph_diam"] = diameter.squareRoot()
        if convention == .pyradiomics {
            for (axis, tag) in [2, 1, 0].enumerated().map({ ($0.element, planarDiameterTags[$0.offset]) }) {
                f[tag] = planarDiameter(vertices, fixedAxis: axis, scale: half)
            }
        }

        // PCA of the voxel centres: the IBSI reference values use the sample covariance (N − 1),
        // PyRadiomics the population covariance (N).
        let nv = Double(count), mu = geometric
        let population = [second[0] / nv - mu.x * mu.x, second[3] / nv - mu.x * mu.y, second[4] / nv - mu.x * mu.z,
                          second[3] / nv - mu.x * mu.y, second[1] / nv - mu.y * mu.y, second[5] / nv - mu.y * mu.z,
                          second[4] / nv - mu.x * mu.z, second[5] / nv - mu.y * mu.z, second[2] / nv - mu.z * mu.z]
        let bessel = convention == .ibsi && count > 1 ? nv / (nv - 1) : 1
        let cov = population.map { $0 * bessel }
        let lambda = symmetricEigenvalues(cov).map { max(0, $0) }   // descending
        f["morph_pca_maj_axis"] = 4 * lambda[0].squareRoot()
        f["morph_pca_min_axis"] = 4 * lambda[1].squareRoot()
        f["morph_pca_least_axis"] = 4 * lambda[2].squareRoot()
        f["morph_pca_elongation"] = (lambda[1] / lambda[0]).squareRoot()
        f["morph_pca_flatness"] = (lambda[2] / lambda[0]).squareRoot()
        // Approximate enclosing ellipsoid: semi-axes 2√λ.
        let a = 2 * lambda[0].squareRoot(), b = 2 * lambda[1].squareRoot(), c = 2 * lambda[2].squareRoot()
        f["morph_vol_dens_aee"] = 3 * V / (4 * Double.pi * a * b * c)
        f["morph_area_dens_aee"] = A / ellipsoidArea(a, b, c)
        if let e = minimumVolumeEllipsoid(hullPoints) {
            f["morph_vol_dens_mvee"] = 3 * V / (4 * Double.pi * e.x * e.y * e.z)
            f["morph_area_dens_mvee"] = A / ellipsoidArea(e.x, e.y, e.z)
        }

        let meanIntensity = totalIntensity / Double(nIntensity)
        f["morph_integ_int"] = nIntensity > 0 ? V * meanIntensity : .nan
        if spatialAutocorrelation {
            let sa = SpatialAutocorrelation.compute(roi)
            f["morph_moran_i"] = sa.moran
            f["morph_geary_c"] = sa.geary
        }
        let emitted = convention == .pyradiomics ? tags + planarDiameterTags : tags
        return emitted.map { FeatureValue($0, f[$0] ?? .nan) }
    }

    /// Eigenvalues of a symmetric 3×3 matrix (row-major), descending (cyclic Jacobi).
    /// The largest distance (mm) between vertices sharing their coordinate along `fixedAxis`:
    /// per plane, the 2-D convex hull (monotone chain) and then all hull pairs.
    static func planarDiameter(_ vertices: [SIMD3<Int64>], fixedAxis: Int, scale: SIMD3<Double>) -> Double {
        let (u, v) = fixedAxis == 0 ? (1, 2) : (fixedAxis == 1 ? (0, 2) : (0, 1))
        var planes: [Int64: [SIMD2<Int64>]] = [:]
        for p in vertices { planes[p[fixedAxis], default: []].append(SIMD2(p[u], p[v])) }
        var best = 0.0
        for (_, points) in planes where points.count > 1 {
            let sorted = Array(Set(points)).sorted { $0.x != $1.x ? $0.x < $1.x : $0.y < $1.y }
            func turn(_ o: SIMD2<Int64>, _ a: SIMD2<Int64>, _ b: SIMD2<Int64>) -> Int64 {
                (a.x - o.x) * (b.y - o.y) - (a.y - o.y) * (b.x - o.x)
            }
            var hull: [SIMD2<Int64>] = []
            for pass in 0..<2 {
                let start = hull.count
                for p in (pass == 0 ? sorted : sorted.reversed()) {
                    while hull.count >= start + 2 && turn(hull[hull.count - 2], hull[hull.count - 1], p) <= 0 { hull.removeLast() }
                    hull.append(p)
                }
                hull.removeLast()
            }
            if hull.isEmpty { hull = sorted }
            for a in 0..<hull.count { for b in (a + 1)..<max(a + 1, hull.count) {
                let dx = Double(hull[a].x - hull[b].x) * scale[u], dy = Double(hull[a].y - hull[b].y) * scale[v]
                best = max(best, dx * dx + dy * dy)
            } }
        }
        return best.squareRoot()
    }

    static func symmetricEigenvalues(_ m: [Double]) -> [Double] {
        var a = m
        for _ in 0..<50 {
            let off = a[1] * a[1] + a[2] * a[2] + a[5] * a[5]
            if off < 1e-30 * max(1e-300, a[0] * a[0] + a[4] * a[4] + a[8] * a[8]) { break }
            for (p, q) in [(0, 1), (0, 2), (1, 2)] {
                let apq = a[3 * p + q]
                if apq == 0 { continue }
                let theta = (a[3 * q + q] - a[3 * p + p]) / (2 * apq)
                let t = (theta >= 0 ? 1.0 : -1.0) / (abs(theta) + (theta * theta + 1).squareRoot())
                let c = 1 / (t * t + 1).squareRoot(), s = t * c
                // A ← Jᵀ A J with the rotation in the (p, q) plane.
                for k in 0..<3 {
                    let akp = a[3 * k + p], akq = a[3 * k + q]
                    a[3 * k + p] = c * akp - s * akq; a[3 * k + q] = s * akp + c * akq
                }
                for k in 0..<3 {
                    let apk = a[3 * p + k], aqk = a[3 * q + k]
                    a[3 * p + k] = c * apk - s * aqk; a[3 * q + k] = s * apk + c * aqk
                }
            }
        }
        return [a[0], a[4], a[8]].sorted(by: >)
    }

    /// The IBSI ellipsoid area for semi-axes a ≥ b ≥ c, a 20-term series (IBSI's definition for the
    /// AEE and MVEE densities; not the exact area, 7 % low for a 5:4:4 spheroid):
    /// 4πab Σ (αβ)^ν/(1 − 4ν²) P_ν((α² + β²)/(2αβ)), α = √(1 − b²/a²), β = √(1 − c²/a²). The
    /// products (αβ)^ν P_ν(·) are carried by the Legendre recurrence so α·β = 0 (a sphere or a
    /// spheroid) needs no division.
    static func ellipsoidArea(_ a: Double, _ b: Double, _ c: Double) -> Double {
        guard a > 0 else { return .nan }
        let alpha = max(0, 1 - b * b / (a * a)).squareRoot(), beta = max(0, 1 - c * c / (a * a)).squareRoot()
        let ab = alpha * beta, half = (alpha * alpha + beta * beta) / 2
        var previous = 1.0, current = half   // Q_0, Q_1 with Q_ν = (αβ)^ν P_ν(x)
        var sum = 1.0 + current / (1 - 4)
        for nu in 1..<20 {
            let nd = Double(nu)
            let next = ((2 * nd + 1) * half * current - nd * ab * ab * previous) / (nd + 1)
            previous = current; current = next
            sum += current / (1 - 4 * (nd + 1) * (nd + 1))
        }
        return 4 * Double.pi * a * b * sum
    }

    /// Semi-axes (descending) of the minimum-volume enclosing ellipsoid of `points` (Khachiyan's
    /// algorithm on the hull vertices, tolerance 10⁻⁶).
    static func minimumVolumeEllipsoid(_ points: [SIMD3<Double>]) -> SIMD3<Double>? {
        let n = points.count
        guard n >= 4 else { return nil }
        var centroid = SIMD3<Double>(0, 0, 0)
        for p in points { centroid += p }
        centroid /= Double(n)
        let pts = points.map { $0 - centroid }
        let q = pts.map { SIMD4($0.x, $0.y, $0.z, 1) }
        var u = [Double](repeating: 1 / Double(n), count: n)
        var Xi: [SIMD4<Double>] = [], M = [Double](repeating: 0, count: n)
        // X = Σ u_i q_i q_iᵀ (q = (p, 1)), its inverse and M_i = q_iᵀ X⁻¹ q_i, from scratch.
        func refresh() -> Bool {
            var X = [SIMD4<Double>](repeating: .zero, count: 4)
            for i in 0..<n { let w = u[i] * q[i]; for r in 0..<4 { X[r] += w[r] * q[i] } }
            guard let inv = invert4(X.flatMap { [$0.x, $0.y, $0.z, $0.w] }) else { return false }
            Xi = (0..<4).map { SIMD4(inv[4 * $0], inv[4 * $0 + 1], inv[4 * $0 + 2], inv[4 * $0 + 3]) }
            for i in 0..<n { M[i] = (q[i] * SIMD4((Xi[0] * q[i]).sum(), (Xi[1] * q[i]).sum(), (Xi[2] * q[i]).sum(), (Xi[3] * q[i]).sum())).sum() }
            return true
        }
        guard refresh() else { return nil }
        // Khachiyan's coordinate steps with Todd–Yildirim away steps (which converge linearly),
        // X⁻¹ and M carried by Sherman–Morrison updates.
        for iteration in 1...20_000 {
            var j = 0, k = -1
            for i in 0..<n {
                if M[i] > M[j] { j = i }
                if u[i] > 0 && (k < 0 || M[i] < M[k]) { k = i }
            }
            let up = M[j] / 4 - 1, down = k >= 0 ? 1 - M[k] / 4 : 0
            if max(up, down) < 1e-7 { break }
            let t = up >= down ? j : k
            let mt = M[t]
            var step = (mt - 4) / (4 * (mt - 1))
            if t == k && up < down { step = max(step, -u[t] / (1 - u[t])) }
            let g = SIMD4((Xi[0] * q[t]).sum(), (Xi[1] * q[t]).sum(), (Xi[2] * q[t]).sum(), (Xi[3] * q[t]).sum())
            let r = step / (1 - step), beta = r / (1 + r * mt), scale = 1 / (1 - step)
            for i in 0..<n { let d = (q[i] * g).sum(); M[i] = scale * (M[i] - beta * d * d) }
            for row in 0..<4 { Xi[row] = scale * (Xi[row] - beta * g[row] * g) }
            for i in 0..<n { u[i] *= 1 - step }
            u[t] = max(0, u[t] + step)
            if iteration % 200 == 0 { guard refresh() else { return nil } }
        }
        // Shape matrix E = (1/d)·(Σ u p pᵀ − c cᵀ)⁻¹; semi-axes 1/√eig(E) = √(d·eig(S)).
        var c = SIMD3<Double>(0, 0, 0)
        for i in 0..<n { c += u[i] * pts[i] }
        var S = [Double](repeating: 0, count: 9)
        for i in 0..<n {
            let p = pts[i]
            let pv = [p.x, p.y, p.z]
            for r in 0..<3 { for q in 0..<3 { S[3 * r + q] += u[i] * pv[r] * pv[q] } }
        }
        let cv = [c.x, c.y, c.z]
        for r in 0..<3 { for q in 0..<3 { S[3 * r + q] -= cv[r] * cv[q] } }
        let e = symmetricEigenvalues(S)
        return SIMD3((3 * max(0, e[0])).squareRoot(), (3 * max(0, e[1])).squareRoot(), (3 * max(0, e[2])).squareRoot())
    }

    private static func invert4(_ m: [Double]) -> [Double]? {
        var a = m, inv = [Double](repeating: 0, count: 16)
        for i in 0..<4 { inv[5 * i] = 1 }
        for col in 0..<4 {
            var pivot = col
            for r in col..<4 where abs(a[4 * r + col]) > abs(a[4 * pivot + col]) { pivot = r }
            if abs(a[4 * pivot + col]) < 1e-300 { return nil }
            if pivot != col { for k in 0..<4 { a.swapAt(4 * col + k, 4 * pivot + k); inv.swapAt(4 * col + k, 4 * pivot + k) } }
            let d = a[4 * col + col]
            for k in 0..<4 { a[4 * col + k] /= d; inv[4 * col + k] /= d }
            for r in 0..<4 where r != col {
                let f = a[4 * r + col]
                if f == 0 { continue }
                for k in 0..<4 { a[4 * r + k] -= f * a[4 * col + k]; inv[4 * r + k] -= f * inv[4 * col + k] }
            }
        }
        return inv
    }
}
