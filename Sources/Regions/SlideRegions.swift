import Foundation
import ImageCore
import Registration
import VolumeIO

/// Regions across the registration of one section to one MRI slice (`radiopath register`'s
/// `SectionTransform`): slide regions onto the MRI grid, MRI regions onto the slide.
public enum SlideRegions {
    /// One MRI region on the slide: polygons in slide level-0 px.
    public struct SlidePolygons: Sendable {
        public var label: Int
        public var name: String
        public var polygons: [PolygonWithHoles]
    }

    /// GeoJSON annotations in slide level-0 px (QuPath export) carried to the registered MRI
    /// slice: feature n (Polygon/MultiPolygon; other geometries skipped) becomes region n,
    /// named by its `name` or classification; lines are densified to `stepMM` before mapping.
    /// Where features overlap, the later one wins (a family never overlaps).
    public static func fromGeoJSON(_ data: Data, file: String, transform: SectionTransform, family: String = "annotations",
                                   stepMM: Double = 0.25) throws -> RegionMap {
        let step = stepMM * 1000 / min(transform.slide.mppX, transform.slide.mppY)
        let (warped, failed) = try GeoJSONWarp.warp(data, file: file, step: step) { transform.inverse($0) }
        guard let root = try? JSONSerialization.jsonObject(with: warped) else { throw RegionsError("\(file): not JSON") }
        let features = (root as? [String: Any])?["features"] as? [[String: Any]] ?? (root as? [[String: Any]]) ?? [root as? [String: Any] ?? [:]]
        var slice = transform.mri.sliceGrid
        var regions: [RegionInfo] = []
        for (n, f) in features.enumerated() {
            let one = try JSONSerialization.data(withJSONObject: ["type": "FeatureCollection", "features": [f]])
            guard let polygons = try GeoJSONWarp.polygons(one, file: file).first, !polygons.isEmpty else { continue }
            let label = regions.count + 1
            let props = f["properties"] as? [String: Any] ?? [:]
            let cls = (props["classification"] as? [String: Any])?["name"] as? String
            let name = props["name"] as? String ?? cls ?? "annotation_\(n + 1)"
            transform.rasterise(polygons, label: Float(label), into: &slice)
            regions.append(RegionInfo(label: label, name: name, kind: .slide,
                                      definition: "slide annotation \(n + 1) of \(file)\(cls.map { " (class \($0))" } ?? "") carried to MRI slice \(transform.mri.slice) through the section transform"
                                        + (failed > 0 ? "; \(failed) vertices of the file could not be inverted and were dropped" : "")))
        }
        guard !regions.isEmpty else {
            throw RegionsError("\(file): no Polygon or MultiPolygon feature", hint: "export annotations from QuPath as GeoJSON (level-0 px)")
        }
        return RegionMap(family: family, labels: transform.volume(withSlice: slice), regions: regions)
    }

    /// Hot spots of a score map covering the whole slide (`width`×`height`, row-major, as the
    /// `.npy` heatmaps): pixels with score ≥ `threshold`, 8-connected components of at least
    /// `minPixels` pixels, carried to the MRI slice (nearest neighbour). Region n is the
    /// n-th component in raster order; components that cover no MRI pixel are dropped.
    public static func hotSpots(scores: [Float], width: Int, height: Int, threshold: Float, minPixels: Int = 1,
                                transform: SectionTransform, family: String = "hotspots") throws -> RegionMap {
        guard scores.count == width * height, width > 0, height > 0 else {
            throw RegionsError("hot spots: \(scores.count) scores for a \(width)×\(height) map")
        }
        let mask = GrayImage(width: width, height: height, pixels: scores.map { $0 >= threshold ? 255 : 0 })
        let comps = ConnectedComponents.label(mask, connectivity: .eight)
        var relabel = [Float](repeating: 0, count: comps.count + 1)
        var kept: [(Int, Int, Float)] = []  // component, area, peak
        var peaks = [Float](repeating: -.infinity, count: comps.count + 1)
        for i in 0..<scores.count where comps.labels[i] != 0 { peaks[Int(comps.labels[i])] = max(peaks[Int(comps.labels[i])], scores[i]) }
        for c in 1...max(1, comps.count) where c <= comps.count && comps.areas[c] >= minPixels {
            kept.append((c, comps.areas[c], peaks[c]))
            relabel[c] = Float(kept.count)
        }
        guard !kept.isEmpty else {
            throw RegionsError("hot spots: no area of ≥ \(minPixels) pixels scores ≥ \(threshold)", hint: "lower the threshold or the minimum size")
        }
        let labels = comps.labels.map { relabel[Int($0)] }
        let slice = transform.pullToMRI(labels, width: width, height: height, nearest: true)
        let present = Set(slice.pixels.filter { $0 != 0 }.map { Int($0) })
        var volume = transform.volume(withSlice: slice)
        // Renumber the components that reached the MRI 1, 2, … in order.
        let order = present.sorted()
        let renumber = Dictionary(uniqueKeysWithValues: order.enumerated().map { (Float($0.element), Float($0.offset + 1)) })
        volume.voxels = volume.voxels.map { $0 == 0 ? 0 : renumber[$0] ?? 0 }
        let mpp = (transform.slide.mppX * Double(transform.slide.width) / Double(width), transform.slide.mppY * Double(transform.slide.height) / Double(height))
        let regions = order.enumerated().map { (n, l) -> RegionInfo in
            let (_, area, peak) = kept[l - 1]
            return RegionInfo(label: n + 1, name: "hotspot_\(n + 1)", kind: .slide,
                              definition: "slide hot spot: score ≥ \(threshold), 8-connected, \(area) map pixels (\(String(format: "%.3g", Double(area) * mpp.0 * mpp.1 / 1e6)) mm² on the slide), peak \(peak); carried to MRI slice \(transform.mri.slice) (nearest)")
        }
        return RegionMap(family: family, labels: volume, regions: regions)
    }

    /// The regions of `map` on the registered slice, outlined (pixel-edge contours of each
    /// label's slice mask, densified to `stepMM`) and carried to slide level-0 px. Regions
    /// absent from the slice are left out.
    public static func toSlide(_ map: RegionMap, transform: SectionTransform, stepMM: Double = 0.25) throws -> [SlidePolygons] {
        let grid = transform.mri.emptyVolume()
        guard map.labels.hasSameGrid(as: grid, tolerance: 1e-3) else {
            throw RegionsError("to slide: family '\(map.family)' is not on the registered MRI grid (\(transform.mri.path))",
                               hint: "make the regions on the volume the section was registered to")
        }
        let sliceGrid = transform.mri.sliceGrid
        let w = sliceGrid.width, h = sliceGrid.height, plane = w * h
        let slice = Array(map.labels.voxels[(transform.mri.slice * plane)..<((transform.mri.slice + 1) * plane)])
        var out: [SlidePolygons] = []
        for r in map.regions {
            let value = Float(r.label)
            let mask = GrayImage(width: w, height: h, pixels: slice.map { $0 == value ? 255 : 0 })
            guard mask.pixels.contains(255) else { continue }
            // Pixel-corner (x, y) is MRI index (x − ½, y − ½).
            func carry(_ ring: [Point]) -> [Point] {
                var dense: [SIMD2<Double>] = []
                for k in 0..<ring.count {
                    let a = sliceGrid.point(ofIndex: SIMD2(ring[k].x - 0.5, ring[k].y - 0.5))
                    let b = sliceGrid.point(ofIndex: SIMD2(ring[(k + 1) % ring.count].x - 0.5, ring[(k + 1) % ring.count].y - 0.5))
                    let steps = max(1, Int((((b - a) * (b - a)).sum().squareRoot() / stepMM).rounded(.up)))
                    for s in 0..<steps { dense.append(a + (b - a) * (Double(s) / Double(steps))) }
                }
                return dense.map { let q = transform.map($0); return Point(x: q.x, y: q.y) }
            }
            let polygons = Contours.trace(mask).map { PolygonWithHoles(outer: carry($0.outer), holes: $0.holes.map(carry)) }
            out.append(SlidePolygons(label: r.label, name: r.name, polygons: polygons))
        }
        return out
    }

    /// QuPath GeoJSON of `toSlide`'s polygons: annotations classified by region name with the
    /// family's categorical colour; measurement `label`.
    public static func qupathGeoJSON(_ regions: [SlidePolygons], family: String) -> Data {
        var features: [QuPathGeoJSON.Feature] = []
        for r in regions {
            for (n, p) in r.polygons.enumerated() {
                features.append(QuPathGeoJSON.Feature(id: QuPathGeoJSON.stableID("\(family)/\(r.label)/\(n)"), polygon: p, name: r.name,
                                                      className: r.name, color: RegionPainter.categoricalColour(r.label),
                                                      measurements: [("label", Double(r.label))]))
            }
        }
        return QuPathGeoJSON.encode(features)
    }

    /// The polygons drawn on a thumbnail covering the whole slide (any size): tinted fill and
    /// outline in each region's colour.
    public static func draw(_ regions: [SlidePolygons], on thumbnail: RGBImage, slideWidth: Int, slideHeight: Int) -> RGBImage {
        var out = thumbnail
        let sx = Double(thumbnail.width) / Double(slideWidth), sy = Double(thumbnail.height) / Double(slideHeight)
        func scaled(_ ring: [Point]) -> [Point] { ring.map { Point(x: $0.x * sx, y: $0.y * sy) } }
        for r in regions {
            let colour = RegionPainter.categoricalColour(r.label)
            let polys = r.polygons.map { PolygonWithHoles(outer: scaled($0.outer), holes: $0.holes.map(scaled)) }
            out.overlay(mask: Polygon.fill(polys, width: out.width, height: out.height), color: colour, alpha: 0.35)
            for p in polys { for ring in [p.outer] + p.holes { out.drawPolygon(ring, color: colour, thickness: 2) } }
        }
        return out
    }
}
