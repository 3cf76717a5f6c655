import Foundation

/// A DICOM RT Structure Set: named ROIs as planar contours in patient LPS millimetres, and
/// their rasterisation to a voxel mask on an image grid.
///
/// Rasterisation (what most tools do): each closed planar contour is mapped to continuous
/// voxel indices of the grid and assigned to the nearest slice; within a slice a voxel is
/// inside when its centre is inside an odd number of the slice's contours (even-odd rule),
/// so a contour drawn inside another cuts a hole — the XOR of the contours.
public struct RTStruct: Sendable {
    public struct ROI: Sendable {
        public var number: Int
        public var name: String
        public var frameOfReferenceUID: String
        /// Closed planar contours, each a list of LPS points (mm).
        public var contours: [[SIMD3<Double>]]
        /// Contours of other types (POINT, OPEN_PLANAR, …), which have no inside.
        public var skippedContours: Int
    }

    public var path: String
    public var rois: [ROI]

    public static func read(_ path: String) throws -> RTStruct {
        let file = try DICOMFile.parse(path, data: try readFile(path))
        let ds = file.dataSet
        let modality = ds.string(Tag.modality) ?? ""
        guard modality == "RTSTRUCT" else {
            throw VolumeError(path: path, reason: "is not an RT Structure Set (Modality is '\(modality)')",
                              hint: "pass the RTSTRUCT file (often RS*.dcm); image series are read with DICOMSeries")
        }
        var rois: [ROI] = []
        for item in ds.sequence(Tag.structureSetROISequence) {
            guard let number = item.integer(Tag.roiNumber) else { continue }
            rois.append(ROI(number: number, name: item.string(Tag.roiName) ?? "ROI \(number)",
                            frameOfReferenceUID: item.string(Tag.referencedFrameOfReferenceUID) ?? "",
                            contours: [], skippedContours: 0))
        }
        for item in ds.sequence(Tag.roiContourSequence) {
            guard let ref = item.integer(Tag.referencedROINumber), let r = rois.firstIndex(where: { $0.number == ref }) else { continue }
            for contour in item.sequence(Tag.contourSequence) {
                guard (contour.string(Tag.contourGeometricType) ?? "") == "CLOSED_PLANAR" else {
                    rois[r].skippedContours += 1
                    continue
                }
                guard let xyz = contour.doubles(Tag.contourData), xyz.count >= 9, xyz.count % 3 == 0 else {
                    throw VolumeError(path: path, reason: "ROI '\(rois[r].name)' has a contour whose ContourData (3006,0050) is not a list of x\\y\\z points",
                                      hint: "the file is damaged; re-export the structure set")
                }
                rois[r].contours.append(stride(from: 0, to: xyz.count, by: 3).map { SIMD3(xyz[$0], xyz[$0 + 1], xyz[$0 + 2]) })
            }
        }
        return RTStruct(path: path, rois: rois)
    }

    /// The ROI called `name` (exact, else case-insensitive); the error lists the names.
    public func roi(named name: String) throws -> ROI {
        if let r = rois.first(where: { $0.name == name }) ?? rois.first(where: { $0.name.lowercased() == name.lowercased() }) { return r }
        throw VolumeError(path: path, reason: "has no ROI named '\(name)'; it has: \(rois.map { "'\($0.name)'" }.joined(separator: ", "))",
                          hint: "pass one of these names")
    }

    /// The ROI's mask (1 inside, 0 outside) on `grid`'s voxels.
    public func mask(roi name: String, on grid: Volume) throws -> Volume {
        try RTStruct.rasterise(try roi(named: name).contours, on: grid, path: path)
    }

    /// Rasterises closed planar LPS contours onto `grid` (even-odd rule per slice).
    public static func rasterise(_ contours: [[SIMD3<Double>]], on grid: Volume, path: String = "contours") throws -> Volume {
        let nx = grid.size.x, ny = grid.size.y, nz = grid.size.z
        var bySlice: [Int: [[SIMD2<Double>]]] = [:]
        for contour in contours where contour.count >= 3 {
            let idx = contour.map { grid.continuousIndex(ofPoint: $0) }
            guard idx.allSatisfy({ abs($0.x) < 1e9 && abs($0.y) < 1e9 && abs($0.z) < 1e9 }) else {
                throw VolumeError(path: path, reason: "a contour has points that are not finite or lie absurdly far from the image",
                                  hint: "check the structure set belongs to this image")
            }
            let ks = idx.map(\.z)
            let kMin = ks.min()!, kMax = ks.max()!
            guard kMax - kMin < 0.5 else {
                throw VolumeError(path: path, reason: "a contour spans slices \(String(format: "%.2f", kMin))…\(String(format: "%.2f", kMax)) of the image: it is not parallel to the image slices",
                                  hint: "rasterise on an image whose slices match the contour planes (the series the structure set was drawn on)")
            }
            let k = Int(((kMin + kMax) / 2).rounded())
            guard k >= 0 && k < nz else { continue }
            bySlice[k, default: []].append(idx.map { SIMD2($0.x, $0.y) })
        }
        var voxels = [Float](repeating: 0, count: grid.count)
        voxels.withUnsafeMutableBufferPointer { out in
            var xs: [Double] = []
            for (k, polygons) in bySlice {
                let ys = polygons.flatMap { $0.map(\.y) }
                let j0 = max(0, Int(ys.min()!.rounded(.up))), j1 = min(ny - 1, Int(ys.max()!.rounded(.down)))
                guard j0 <= j1 else { continue }
                for j in j0...j1 {
                    let y = Double(j)
                    xs.removeAll(keepingCapacity: true)
                    for poly in polygons {
                        var a = poly[poly.count - 1]
                        for b in poly {
                            // Half-open in y so a vertex on the scanline counts once.
                            if (a.y > y) != (b.y > y) { xs.append(a.x + (y - a.y) * (b.x - a.x) / (b.y - a.y)) }
                            a = b
                        }
                    }
                    xs.sort()
                    let row = (k * ny + j) * nx
                    var p = 0
                    while p + 1 < xs.count {
                        // Voxel centres i with xs[p] ≤ i < xs[p+1] are inside.
                        let i0 = max(0, Int(xs[p].rounded(.up))), i1 = min(nx - 1, Int(xs[p + 1].rounded(.up)) - 1)
                        if i0 <= i1 { for i in i0...i1 { out[row + i] = 1 } }
                        p += 2
                    }
                }
            }
        }
        return Volume(size: grid.size, spacing: grid.spacing, origin: grid.origin, direction: grid.direction, voxels: voxels)
    }
}
