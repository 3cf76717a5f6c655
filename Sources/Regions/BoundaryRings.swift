import Foundation
import VolumeIO

/// Distance bands around a lesion: inner bands (negative mm, inside the lesion) and outer bands
/// (positive mm, outside), from the exact anisotropic Euclidean distance transform.
public enum BoundaryRings {
    /// Bands [e₀, e₁), [e₁, e₂), … of the signed distance (mm, voxel centre to the nearest
    /// voxel centre across the surface; negative inside) to the non-zero voxels of `lesion`.
    /// `edges` must increase strictly; `within` (same grid) keeps only its non-zero voxels
    /// (e.g. the gland or the body). Label n is band n (1-based).
    public static func make(lesion: Volume, edges: [Double], within: Volume? = nil, family: String = "rings") throws -> RegionMap {
        guard edges.count >= 2, zip(edges, edges.dropFirst()).allSatisfy({ $0 < $1 }), edges.allSatisfy(\.isFinite) else {
            throw RegionsError("rings: edges \(edges) must be at least two finite values in increasing order",
                               hint: "e.g. -3,0,3,6 for [-3, 0) inside and [0, 3), [3, 6) mm outside")
        }
        guard lesion.voxels.contains(where: { $0 != 0 }) else {
            throw RegionsError("rings: the lesion mask is empty", hint: "give a mask with the lesion's voxels non-zero")
        }
        if let within, !within.hasSameGrid(as: lesion) {
            throw RegionsError("rings: the restricting mask is on another grid than the lesion", hint: "resample it onto the lesion's grid")
        }
        let d = DistanceTransform.signed(lesion)
        var out = lesion
        var voxels = [Float](repeating: 0, count: lesion.count)
        for i in 0..<d.count {
            if let w = within, w.voxels[i] == 0 { continue }
            let x = d[i]
            guard x >= edges[0], x < edges[edges.count - 1] else { continue }
            var b = 0
            while x >= edges[b + 1] { b += 1 }
            voxels[i] = Float(b + 1)
        }
        out.voxels = voxels
        let regions = (0..<(edges.count - 1)).map { b -> RegionInfo in
            let lo = edges[b], hi = edges[b + 1]
            let side: String
            if hi <= 0 { side = "\(mm(-hi))–\(mm(-lo)) mm inside the lesion surface" }
            else if lo >= 0 { side = "\(mm(lo))–\(mm(hi)) mm outside the lesion surface" }
            else { side = "\(mm(-lo)) mm inside to \(mm(hi)) mm outside the lesion surface" }
            return RegionInfo(label: b + 1, name: "ring_\(mm(lo))_\(mm(hi))mm", kind: .ring,
                              definition: "\(side): signed distance in [\(mm(lo)), \(mm(hi))) mm, voxel centre to the nearest voxel centre across the surface (negative inside)"
                                + (within == nil ? "" : ", restricted to the given mask"))
        }
        return RegionMap(family: family, labels: out, regions: regions)
    }

    /// Parses "-3,0,3,6".
    public static func parseEdges(_ text: String) throws -> [Double] {
        let parts = text.split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) }
        guard parts.allSatisfy({ $0 != nil }) else {
            throw RegionsError("rings: '\(text)' is not a comma-separated list of numbers (mm)", hint: "e.g. -3,0,3,6")
        }
        return parts.map { $0! }
    }

    static func mm(_ v: Double) -> String {
        v == v.rounded() ? String(Int(v)) : String(format: "%g", v)
    }
}
