import Foundation
import VolumeIO

extension SectorAtlas {
    /// Sectors of the gland (non-zero voxels of `gland`): every gland voxel gets exactly one
    /// sector. `zones` (same grid) gives the zones by `zones.zone_labels`; gland voxels it
    /// leaves unlabelled, or every voxel without it, use the atlas's shell approximation.
    public func apply(gland: Volume, zones zoneVolume: Volume? = nil, family: String = "sectors") throws -> RegionMap {
        if let z = zoneVolume, !z.hasSameGrid(as: gland) {
            throw RegionsError("sectors: the zone label volume is on another grid than the gland mask", hint: "resample it onto the gland's grid (nearest neighbour)")
        }
        let inside = gland.voxels.map { $0 != 0 }
        let indices = inside.indices.filter { inside[$0] }
        guard !indices.isEmpty else { throw RegionsError("sectors: the gland mask is empty", hint: "give a mask with the gland's voxels non-zero") }
        let levelDir = Self.direction(levels.axis)!, sideDir = Self.direction(sides.axis)!
        let posterior = SIMD3<Double>(0, 1, 0)
        let n = gland.size
        func point(_ v: Int) -> SIMD3<Double> {
            gland.point(ofIndex: SIMD3(Double(v % n.x), Double((v / n.x) % n.y), Double(v / (n.x * n.y))))
        }
        let points = indices.map(point)
        let u = points.map { ($0 * levelDir).sum() }, side = points.map { ($0 * sideDir).sum() }, w = points.map { ($0 * posterior).sum() }
        // The gland's extent along the level axis runs from face to face of its end voxels.
        let d = gland.direction
        let columns = (0..<3).map { SIMD3(d[$0], d[3 + $0], d[6 + $0]) }
        let half = 0.5 * (0..<3).reduce(0.0) { $0 + abs((columns[$1] * levelDir).sum()) * gland.spacing[$1] }
        let lo = u.min()! - half, hi = u.max()! + half
        let sideCentre = side.reduce(0, +) / Double(side.count)
        let apCentre = w.reduce(0, +) / Double(w.count)

        // In-plane distance to the gland surface: the voxel axis along the level axis is not crossed.
        let approx = zones.approximation
        var skip = Set<Int>()
        if approx.in_plane, let a = (0..<3).max(by: { abs((columns[$0] * levelDir).sum()) < abs((columns[$1] * levelDir).sum()) }),
           abs((columns[a] * levelDir).sum()) >= 0.9 { skip.insert(a) }
        let depth = DistanceTransform.distance(to: inside.map { !$0 }, size: n, spacing: gland.spacing, skipping: skip)

        let zoneNames = self.zoneNames
        let labelOfZone = Dictionary(uniqueKeysWithValues: zones.zone_labels.map { (Float($0.value), $0.key) })
        var out = gland
        out.voxels = [Float](repeating: 0, count: gland.count)
        var fromVolume = 0
        for (t, v) in indices.enumerated() {
            let level = min(levels.names.count - 1, max(0, Int((u[t] - lo) / (hi - lo) * Double(levels.names.count))))
            let s = sides.names.count == 1 ? 0 : (side[t] < sideCentre ? 0 : 1)
            var zone: String
            if let zv = zoneVolume, let z = labelOfZone[zv.voxels[v]], zones.names.contains(z) {
                zone = z
                fromVolume += 1
            } else {
                let shell = depth[v] <= approx.shell_thickness_mm && (!approx.posterior_of_centroid || w[t] > apCentre)
                zone = shell ? zones.peripheral : zones.other
            }
            if anterior_posterior.split_zones.contains(zone) { zone += w[t] < apCentre ? anterior_posterior.names[0] : anterior_posterior.names[1] }
            let zi = zoneNames.firstIndex(of: zone)!
            out.voxels[v] = Float((level * sides.names.count + s) * zoneNames.count + zi + 1)
        }
        if zoneVolume != nil && fromVolume == 0 {
            throw RegionsError("sectors: the zone label volume has none of the labels \(zones.zone_labels) inside the gland",
                               hint: "check the zone labels against the atlas's zone_labels")
        }
        let zoneRule = zoneVolume == nil
            ? "zone by the shell approximation (\(zones.peripheral) = \(approx.in_plane ? "in-plane " : "")distance to the gland surface ≤ \(BoundaryRings.mm(approx.shell_thickness_mm)) mm\(approx.posterior_of_centroid ? ", posterior to the coronal plane through the centroid" : ""); \(zones.other) = the rest)"
            : "zone from the zone label volume (\(zones.zone_labels.sorted { $0.value < $1.value }.map { "\($0.key) = \($0.value)" }.joined(separator: ", ")))"
                + (fromVolume < indices.count ? "; \(indices.count - fromVolume) gland voxels without a zone label use the shell approximation" : "")
        var regions: [RegionInfo] = []
        for (li, l) in levels.names.enumerated() { for s in sides.names { for z in zoneNames {
            let label = regions.count + 1
            regions.append(RegionInfo(label: label, name: sectorNames[label - 1], kind: .sector,
                                      definition: "\(name) atlas: \(l) (part \(li + 1) of \(levels.names.count) equal parts of the gland's extent toward \(levels.axis)), side \(s) of the plane through the gland centroid normal to \(sides.axis) (\(sides.names.joined(separator: " → ")) toward \(sides.axis)), zone \(z); \(zoneRule)"))
        } } }
        return RegionMap(family: family, labels: out, regions: regions)
    }
}
