import Foundation
import ImageCore
import VolumeIO

/// Carrying slide-side data to the MRI slice and back through a `SectionTransform`.
extension SectionTransform {
    /// Slide level-0 px → MRI LPS mm (x, y, z of the slice, or the point of the oblique
    /// plane), nil where the inverse fails.
    public func toMRI(_ q: SIMD2<Double>) -> SIMD3<Double>? {
        inverse(q).map { p in mri.plane?.point(p) ?? SIMD3(p.x, p.y, mri.z) }
    }

    /// The registered slice or plane of a volume on the MRI grid, on the slice grid (nearest
    /// voxel for labels, trilinear otherwise).
    public func section(of v: Volume, nearest: Bool) -> Image2D {
        var s = mri.sliceGrid
        if let plane = mri.plane {
            s = plane.resample(v, onto: s, nearest: nearest)
        } else {
            let n = v.size.x * v.size.y
            s.pixels = Array(v.voxels[(mri.slice * n)..<((mri.slice + 1) * n)])
        }
        return s
    }

    /// An image covering the whole slide (pixel (u, v) spans level-0 [u·sx, (u+1)·sx) with
    /// sx = slide width / image width) pulled onto the MRI slice grid: each MRI pixel centre
    /// goes through the forward map to the slide; `nearest` for labels, bilinear for scores;
    /// 0 outside the image.
    public func pullToMRI(_ values: [Float], width: Int, height: Int, nearest: Bool) -> Image2D {
        let sx = Double(slide.width) / Double(width), sy = Double(slide.height) / Double(height)
        let src = Image2D(width: width, height: height, spacing: SIMD2(sx, sy), origin: SIMD2(sx, sy) / 2, pixels: values)
        let grid = mri.sliceGrid
        guard nearest else { return src.resampled(onto: grid, through: self, outside: 0) }
        var out = grid
        for j in 0..<grid.height {
            for i in 0..<grid.width {
                let u = src.continuousIndex(ofPoint: map(grid.point(ofIndex: SIMD2(Double(i), Double(j))))).rounded(.toNearestOrAwayFromZero)
                if u.x >= 0, u.y >= 0, u.x < Double(width), u.y < Double(height) { out[i, j] = src[Int(u.x), Int(u.y)] }
            }
        }
        return out
    }

    /// An MRI slice (on the MRI grid) pushed onto a slide image of `width`×`height` covering
    /// the whole slide: each output pixel centre goes through the inverse to the MRI; 0 where
    /// it falls outside the slice or the inverse fails.
    public func pushToSlide(_ slice: Image2D, width: Int, height: Int, nearest: Bool) -> [Float] {
        let sx = Double(slide.width) / Double(width), sy = Double(slide.height) / Double(height)
        var out = [Float](repeating: 0, count: width * height)
        out.withUnsafeMutableBufferPointer { o in
            let op = o.baseAddress!
            DispatchQueue.concurrentPerform(iterations: height) { j in
                for i in 0..<width {
                    guard let p = inverse(SIMD2((Double(i) + 0.5) * sx, (Double(j) + 0.5) * sy), tolerance: 1e-4) else { continue }
                    if nearest {
                        let u = slice.continuousIndex(ofPoint: p).rounded(.toNearestOrAwayFromZero)
                        if u.x >= 0, u.y >= 0, u.x < Double(slice.width), u.y < Double(slice.height) { op[j * width + i] = slice[Int(u.x), Int(u.y)] }
                    } else if let v = slice.value(at: p) {
                        op[j * width + i] = v
                    }
                }
            }
        }
        return out
    }

    /// A volume on the MRI grid, zero except the registered slice (or, for an oblique plane,
    /// the voxel nearest each plane pixel).
    public func volume(withSlice s: Image2D) -> Volume {
        var v = mri.emptyVolume()
        let plane = v.size.x * v.size.y
        guard let p = mri.plane else {
            v.voxels.replaceSubrange((mri.slice * plane)..<((mri.slice + 1) * plane), with: s.pixels)
            return v
        }
        for j in 0..<s.height {
            for i in 0..<s.width where s[i, j] != 0 {
                let u = v.continuousIndex(ofPoint: p.point(s.point(ofIndex: SIMD2(Double(i), Double(j))))).rounded(.toNearestOrAwayFromZero)
                guard u.x >= 0, u.y >= 0, u.z >= 0, u.x < Double(v.size.x), u.y < Double(v.size.y), u.z < Double(v.size.z) else { continue }
                v[Int(u.x), Int(u.y), Int(u.z)] = s[i, j]
            }
        }
        return v
    }

    /// Polygons given in MRI LPS mm rasterised on the slice grid (pixel set when its centre is
    /// inside), `label` written where set.
    public func rasterise(_ polygons: [PolygonWithHoles], label: Float, into slice: inout Image2D) {
        let g = slice
        // Polygon.fill tests pixel centres at (x + ½, y + ½): shift continuous indices by ½.
        func toIndex(_ p: Point) -> Point {
            let u = g.continuousIndex(ofPoint: SIMD2(p.x, p.y))
            return Point(x: u.x + 0.5, y: u.y + 0.5)
        }
        let idx = polygons.map { PolygonWithHoles(outer: $0.outer.map(toIndex), holes: $0.holes.map { $0.map(toIndex) }) }
        let m = Polygon.fill(idx, width: g.width, height: g.height)
        for k in 0..<m.pixels.count where m.pixels[k] != 0 { slice.pixels[k] = label }
    }
}

/// GeoJSON whose coordinates are mapped point by point (geometry and properties kept).
public enum GeoJSONWarp {
    /// Maps every position of every geometry through `map`. Lines and polygon rings are first
    /// densified so no segment is longer than `step` (input units), so a curved warp bends
    /// them. Returns the new document and the number of positions `map` could not carry
    /// (those are dropped from their ring/line).
    public static func warp(_ data: Data, file: String, step: Double, map: (SIMD2<Double>) -> SIMD2<Double>?) throws -> (Data, failed: Int) {
        guard let root = try? JSONSerialization.jsonObject(with: data) else {
            throw RegistrationError("\(file): not JSON", hint: "give a GeoJSON FeatureCollection, Feature or geometry (QuPath export)")
        }
        var failed = 0
        func position(_ a: Any) -> SIMD2<Double>? {
            guard let v = a as? [Any], v.count >= 2, let x = (v[0] as? NSNumber)?.doubleValue, let y = (v[1] as? NSNumber)?.doubleValue else { return nil }
            return SIMD2(x, y)
        }
        func line(_ a: Any, densify: Bool, closed: Bool) -> [Any] {
            var pts = (a as? [Any] ?? []).compactMap(position)
            if densify && pts.count >= 2 {
                var dense: [SIMD2<Double>] = []
                for k in 0..<(pts.count - 1) {
                    let p = pts[k], q = pts[k + 1], d = q - p
                    let n = max(1, Int(((d * d).sum().squareRoot() / step).rounded(.up)))
                    for s in 0..<n { dense.append(p + d * (Double(s) / Double(n))) }
                }
                dense.append(pts[pts.count - 1])
                pts = dense
            }
            var out: [[Double]] = []
            for p in pts {
                guard let q = map(p) else { failed += 1; continue }
                out.append([q.x, q.y])
            }
            if closed, let f = out.first, out.count > 1, out.last! != f { out.append(f) }
            return out
        }
        func geometry(_ g: [String: Any]) -> [String: Any] {
            var g = g
            let c = g["coordinates"] as Any
            switch g["type"] as? String {
            case "Point": if let p = position(c) { if let q = map(p) { g["coordinates"] = [q.x, q.y] } else { failed += 1 } }
            case "MultiPoint": g["coordinates"] = line(c, densify: false, closed: false)
            case "LineString": g["coordinates"] = line(c, densify: true, closed: false)
            case "MultiLineString": g["coordinates"] = (c as? [Any] ?? []).map { line($0, densify: true, closed: false) }
            case "Polygon": g["coordinates"] = (c as? [Any] ?? []).map { line($0, densify: true, closed: true) }
            case "MultiPolygon": g["coordinates"] = (c as? [Any] ?? []).map { ($0 as? [Any] ?? []).map { line($0, densify: true, closed: true) } }
            case "GeometryCollection": g["geometries"] = (g["geometries"] as? [[String: Any]] ?? []).map(geometry)
            default: break
            }
            return g
        }
        func walk(_ o: Any) -> Any {
            if let a = o as? [Any] { return a.map(walk) }
            guard var d = o as? [String: Any] else { return o }
            if d["coordinates"] != nil || d["geometries"] != nil, d["type"] as? String != "Feature" { return geometry(d) }
            for (k, v) in d where k == "features" || k == "geometry" || k == "nucleusGeometry" { d[k] = walk(v) }
            return d
        }
        let out = try JSONSerialization.data(withJSONObject: walk(root), options: [.sortedKeys])
        return (out, failed)
    }

    /// The polygons of each feature (Polygon / MultiPolygon geometries), in file coordinates.
    public static func polygons(_ data: Data, file: String) throws -> [[PolygonWithHoles]] {
        guard let root = try? JSONSerialization.jsonObject(with: data) else {
            throw RegistrationError("\(file): not JSON", hint: "give a GeoJSON FeatureCollection")
        }
        func ring(_ a: Any) -> [Point] {
            (a as? [Any] ?? []).compactMap { v -> Point? in
                guard let v = v as? [Any], v.count >= 2, let x = (v[0] as? NSNumber)?.doubleValue, let y = (v[1] as? NSNumber)?.doubleValue else { return nil }
                return Point(x: x, y: y)
            }
        }
        func polygon(_ a: Any) -> PolygonWithHoles? {
            let rings = (a as? [Any] ?? []).map(ring)
            guard let outer = rings.first, outer.count >= 3 else { return nil }
            return PolygonWithHoles(outer: outer, holes: Array(rings.dropFirst()))
        }
        func geometry(_ g: [String: Any]) -> [PolygonWithHoles] {
            switch g["type"] as? String {
            case "Polygon": return polygon(g["coordinates"] as Any).map { [$0] } ?? []
            case "MultiPolygon": return (g["coordinates"] as? [Any] ?? []).compactMap(polygon)
            default: return []
            }
        }
        let dict = root as? [String: Any] ?? [:]
        let features: [[String: Any]] = (dict["features"] as? [[String: Any]]) ?? (root as? [[String: Any]]) ?? [dict]
        return features.map { f in geometry((f["geometry"] as? [String: Any]) ?? f) }.filter { !$0.isEmpty }
    }
}

/// Minimal NumPy `.npy` I/O for 2D float score arrays (C order, little-endian f4/f8).
public enum NPY {
    public static func read(_ path: String) throws -> (values: [Float], width: Int, height: Int) {
        guard let d = FileManager.default.contents(atPath: path), d.count > 10, d.starts(with: [0x93] + Array("NUMPY".utf8)) else {
            throw RegistrationError("\(path): not a .npy file", hint: "save the score array with numpy.save")
        }
        let major = d[6]
        let hlen = major == 1 ? Int(d[8]) | Int(d[9]) << 8 : Int(d[8]) | Int(d[9]) << 8 | Int(d[10]) << 16 | Int(d[11]) << 24
        let start = major == 1 ? 10 : 12
        let header = String(decoding: d[start..<(start + hlen)], as: UTF8.self)
        let f8 = header.contains("'<f8'"), f4 = header.contains("'<f4'")
        guard f4 || f8, header.contains("'fortran_order': False"),
              let open = header.firstIndex(of: "("), let close = header.firstIndex(of: ")") else {
            throw RegistrationError("\(path): unsupported array (\(header.trimmingCharacters(in: .whitespacesAndNewlines)))",
                                    hint: "save a 2D float32/float64 C-order array (rows = image y)")
        }
        let shape = header[header.index(after: open)..<close].split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard shape.count == 2 else { throw RegistrationError("\(path): shape \(shape) is not 2D", hint: "save a height × width array") }
        let n = shape[0] * shape[1], body = start + hlen
        guard d.count >= body + n * (f8 ? 8 : 4) else { throw RegistrationError("\(path): truncated", hint: "save it again") }
        let values: [Float] = d.withUnsafeBytes { raw in
            (0..<n).map { f8 ? Float(raw.loadUnaligned(fromByteOffset: body + 8 * $0, as: Double.self)) : raw.loadUnaligned(fromByteOffset: body + 4 * $0, as: Float.self) }
        }
        return (values, shape[1], shape[0])
    }

    public static func write(_ values: [Float], width: Int, height: Int, to path: String) throws {
        var header = "{'descr': '<f4', 'fortran_order': False, 'shape': (\(height), \(width)), }"
        while (10 + header.utf8.count + 1) % 64 != 0 { header += " " }
        header += "\n"
        var d = Data([0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(header.utf8.count & 0xff), UInt8(header.utf8.count >> 8)])
        d.append(Data(header.utf8))
        values.withUnsafeBufferPointer { d.append(Data(buffer: $0)) }
        try AtomicFile.write(d, to: path)
    }
}
