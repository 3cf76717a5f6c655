import Foundation
import VolumeIO

/// Surface distances between two binary masks on one 3D grid (anisotropic spacing).
public enum MaskDistance3D {
    /// Boundary voxels (> 0.5 with a 6-neighbour outside the mask or the grid) as grid-frame
    /// positions in mm (index ⊙ spacing: distances equal LPS distances, the direction being
    /// orthonormal), grouped by slice k.
    static func boundary(_ m: Volume) -> [[SIMD3<Double>]] {
        let n = m.size
        var out = [[SIMD3<Double>]](repeating: [], count: n.z)
        m.voxels.withUnsafeBufferPointer { v in
            @inline(__always) func on(_ i: Int, _ j: Int, _ k: Int) -> Bool {
                i >= 0 && j >= 0 && k >= 0 && i < n.x && j < n.y && k < n.z && v[i + n.x * (j + n.y * k)] > 0.5
            }
            for k in 0..<n.z { for j in 0..<n.y { for i in 0..<n.x where on(i, j, k) {
                if !on(i - 1, j, k) || !on(i + 1, j, k) || !on(i, j - 1, k) || !on(i, j + 1, k) || !on(i, j, k - 1) || !on(i, j, k + 1) {
                    out[k].append(SIMD3(Double(i), Double(j), Double(k)) * m.spacing)
                }
            } } }
        }
        // Sorted by y within a slice, so a search can stop once |Δy| exceeds the best distance.
        return out.map { $0.sorted { $0.y < $1.y } }
    }

    /// For every boundary point of `a`, the distance (mm) to the nearest boundary point of `b`
    /// (slice pitch `dz` mm): slices searched outward from the point's own, each by y outward
    /// from the point's row, stopping once the axis gap alone exceeds the best distance.
    static func directed(_ a: [[SIMD3<Double>]], to b: [[SIMD3<Double>]], dz pitch: Double) -> [Double] {
        let pts = a.flatMap { $0 }
        let slices = b.count
        var out = [Double](repeating: .infinity, count: pts.count)
        out.withUnsafeMutableBufferPointer { o in
            let n = pts.count, chunks = max(1, min(n, 64))
            DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
                for q in (chunk * n / chunks)..<((chunk + 1) * n / chunks) {
                    let p = pts[q]
                    var best = Double.infinity
                    let k0 = Int((p.z / pitch).rounded())
                    for dk in 0..<slices {
                        let gap = Double(dk) * pitch
                        if gap * gap >= best || (k0 - dk < 0 && k0 + dk >= slices) { break }
                        for k in (dk == 0 ? [k0] : [k0 - dk, k0 + dk]) where k >= 0 && k < slices {
                            let row = b[k]
                            guard !row.isEmpty else { continue }
                            let dz = row[0].z - p.z
                            // First index with y ≥ p.y, then outward both ways.
                            var lo = 0, hi = row.count
                            while lo < hi { let mid = (lo + hi) / 2; if row[mid].y < p.y { lo = mid + 1 } else { hi = mid } }
                            var u = lo
                            while u < row.count {
                                let d = row[u] - p
                                if d.y * d.y + dz * dz >= best { break }
                                best = min(best, (d * d).sum()); u += 1
                            }
                            var l = lo - 1
                            while l >= 0 {
                                let d = row[l] - p
                                if d.y * d.y + dz * dz >= best { break }
                                best = min(best, (d * d).sum()); l -= 1
                            }
                        }
                    }
                    o[q] = best.squareRoot()
                }
            }
        }
        return out
    }

    /// 95 % Hausdorff distance (mm): the larger of the two directed 95th percentiles of boundary
    /// distances (as the 2D `MaskDistance`). nil when either mask is empty or the grids differ.
    public static func hausdorff95(_ a: Volume, _ b: Volume) -> Double? {
        guard a.size == b.size else { return nil }
        let ba = boundary(a), bb = boundary(b)
        guard ba.contains(where: { !$0.isEmpty }), bb.contains(where: { !$0.isEmpty }) else { return nil }
        return max(MaskDistance.percentile(directed(ba, to: bb, dz: a.spacing.z), 95), MaskDistance.percentile(directed(bb, to: ba, dz: a.spacing.z), 95))
    }
}
