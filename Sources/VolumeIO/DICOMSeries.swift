import Foundation

/// A CT, MR or PET series read from a folder of single-frame DICOM files into an LPS volume.
///
/// Slices are sorted by their position along the slice normal (ImageOrientationPatient row ×
/// column); the slice spacing is the distance between the first and last positions over
/// n − 1 (as ITK), checked for uniformity; the origin is the first slice's
/// ImagePositionPatient; voxels are stored value × RescaleSlope + RescaleIntercept, and PET
/// in Bq/mL becomes SUV body weight when the tags allow (see `PETSUV`).
public struct DICOMSeries: Sendable {
    public var volume: Volume
    public var seriesInstanceUID: String
    public var modality: String
    public var seriesDescription: String
    public var frameOfReferenceUID: String
    /// The files in slice order (file k holds slice k).
    public var files: [String]
    /// What the voxels mean: "HU" (CT), "SUVbw", "BQML" or another DICOM Units value, or "".
    public var units: String
    /// For PET: the factor that turned Bq/mL into SUV body weight, when it was applied.
    public var suvFactor: Double?
    /// Things worth knowing: slight spacing irregularities, why SUV was not computed, ….
    public var notes: [String]

    /// One series found in a folder.
    public struct Summary: Sendable, Equatable, CustomStringConvertible {
        public var seriesInstanceUID: String
        public var modality: String
        public var seriesDescription: String
        public var fileCount: Int
        public var description: String { "\(seriesInstanceUID)  \(modality)  '\(seriesDescription)'  \(fileCount) files" }
    }

    /// The image series in `folder` (searched recursively); files without pixel data
    /// (RTSTRUCT, DICOMDIR, …) and non-DICOM files are left out.
    public static func list(folder: String) throws -> [Summary] {
        try scan(folder).map { $0.summary }
    }

    /// Reads one series from `folder` (recursively). With several series in the folder, name
    /// the one to read with `seriesInstanceUID` (the error lists them). `suv`: convert PET
    /// Bq/mL to SUV body weight when the tags allow. `allowIrregularSpacing`: read series with
    /// uneven slice gaps on the mean spacing instead of refusing them.
    public static func read(folder: String, seriesInstanceUID: String? = nil, suv: Bool = true,
                            allowIrregularSpacing: Bool = false) throws -> DICOMSeries {
        let groups = try scan(folder)
        let chosen: SeriesGroup
        if let uid = seriesInstanceUID {
            guard let g = groups.first(where: { $0.uid == uid }) else {
                throw VolumeError(path: folder, reason: "holds no image series \(uid); it holds:\n" + groups.map { "  " + $0.summary.description }.joined(separator: "\n"),
                                  hint: "pass one of these SeriesInstanceUIDs")
            }
            chosen = g
        } else {
            guard groups.count == 1 else {
                throw VolumeError(path: folder, reason: "holds \(groups.count) image series:\n" + groups.map { "  " + $0.summary.description }.joined(separator: "\n"),
                                  hint: "choose one with seriesInstanceUID (or put each series in its own folder)")
            }
            chosen = groups[0]
        }
        return try build(chosen, folder: folder, suv: suv, allowIrregularSpacing: allowIrregularSpacing)
    }

    // MARK: - Scanning

    struct SeriesGroup {
        var uid: String
        var files: [DICOMFile]
        var summary: Summary {
            let ds = files[0].dataSet
            return Summary(seriesInstanceUID: uid, modality: ds.string(Tag.modality) ?? "",
                           seriesDescription: ds.string(Tag.seriesDescription) ?? "", fileCount: files.count)
        }
    }

    static func scan(_ folder: String) throws -> [SeriesGroup] {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDir), isDir.boolValue else {
            throw VolumeError(path: folder, reason: "is not a folder", hint: "pass the folder that holds the series' .dcm files")
        }
        var paths: [String] = []
        if let walker = FileManager.default.enumerator(atPath: folder) {
            for case let relative as String in walker {
                let path = folder + "/" + relative
                var dir: ObjCBool = false
                if FileManager.default.fileExists(atPath: path, isDirectory: &dir), !dir.boolValue { paths.append(path) }
            }
        }
        paths.sort()
        // Parse in parallel; each slot is written by one worker.
        var results = [Result<DICOMFile, Error>?](repeating: nil, count: paths.count)
        results.withUnsafeMutableBufferPointer { out in
            let slots = out
            DispatchQueue.concurrentPerform(iterations: paths.count) { n in
                do {
                    let data = try readFile(paths[n])
                    guard DICOMFile.looksLikeDICOM(data) else { return }
                    slots[n] = .success(try DICOMFile.parse(paths[n], data: data))
                } catch {
                    slots[n] = .failure(error)
                }
            }
        }
        var byUID: [String: [DICOMFile]] = [:]
        var order: [String] = []
        for r in results {
            switch r {
            case .none: continue
            case .failure(let e): throw e
            case .success(let f):
                guard f.dataSet.has(Tag.pixelData) else { continue }
                let uid = f.dataSet.string(Tag.seriesInstanceUID) ?? ""
                if byUID[uid] == nil { order.append(uid) }
                byUID[uid, default: []].append(f)
            }
        }
        guard !order.isEmpty else {
            throw VolumeError(path: folder, reason: "holds no DICOM image files (\(paths.count) files looked at)",
                              hint: "point to the folder of the image series (RTSTRUCT files alone hold no image)")
        }
        return order.map { SeriesGroup(uid: $0, files: byUID[$0]!) }
    }

    // MARK: - Building the volume

    private struct Slice {
        var file: DICOMFile
        var position: SIMD3<Double>
        var distance: Double
    }

    private static func build(_ group: SeriesGroup, folder: String, suv: Bool, allowIrregularSpacing: Bool) throws -> DICOMSeries {
        let first = group.files[0].dataSet
        var notes: [String] = []
        // Orientation, size and pixel spacing come from the first file and must hold for all.
        func required(_ f: DICOMFile, _ tag: UInt32, _ name: String, count: Int) throws -> [Double] {
            guard let v = f.dataSet.doubles(tag), v.count >= count else {
                throw VolumeError(path: f.path, reason: "has no usable \(name) \(Tag.name(tag))",
                                  hint: "this is not a volumetric slice (a localizer or secondary capture?); choose another series")
            }
            return v
        }
        let iop = try required(group.files[0], Tag.imageOrientationPatient, "ImageOrientationPatient", count: 6)
        var row = SIMD3(iop[0], iop[1], iop[2]), col = SIMD3(iop[3], iop[4], iop[5])
        row /= norm(row); col /= norm(col)
        guard abs(dot(row, col)) < 1e-3 else {
            throw VolumeError(path: group.files[0].path, reason: "ImageOrientationPatient rows and columns are not orthogonal",
                              hint: "the header is damaged")
        }
        let normal = cross(row, col)
        let rows = first.uint16(Tag.rows) ?? 0, cols = first.uint16(Tag.columns) ?? 0
        guard rows > 0 && cols > 0 else {
            throw VolumeError(path: group.files[0].path, reason: "has no Rows (0028,0010) or Columns (0028,0011)", hint: "the header is damaged")
        }
        let ps = try required(group.files[0], Tag.pixelSpacing, "PixelSpacing", count: 2)
        var slices: [Slice] = []
        for f in group.files {
            let ds = f.dataSet
            if let frames = ds.integer(Tag.numberOfFrames), frames > 1 {
                throw VolumeError(path: f.path, reason: "is a multi-frame image (\(frames) frames)",
                                  hint: "RadioPath reads series of single-frame files; convert with dcm2niix or SimpleITK first")
            }
            guard ds.uint16(Tag.rows) == rows, ds.uint16(Tag.columns) == cols else {
                throw VolumeError(path: f.path, reason: "is \(ds.uint16(Tag.columns) ?? 0)×\(ds.uint16(Tag.rows) ?? 0) pixels, but \(group.files[0].path) is \(cols)×\(rows)",
                                  hint: "the series mixes image sizes; remove the odd files or pick another series")
            }
            let o = try required(f, Tag.imageOrientationPatient, "ImageOrientationPatient", count: 6)
            guard zip(o, iop).allSatisfy({ abs($0 - $1) < 1e-4 }) else {
                throw VolumeError(path: f.path, reason: "has ImageOrientationPatient \(o) but \(group.files[0].path) has \(iop)",
                                  hint: "the series mixes orientations (a localizer?); remove the odd files")
            }
            let s = try required(f, Tag.pixelSpacing, "PixelSpacing", count: 2)
            guard abs(s[0] - ps[0]) < 1e-4, abs(s[1] - ps[1]) < 1e-4 else {
                throw VolumeError(path: f.path, reason: "has PixelSpacing \(s) but \(group.files[0].path) has \(ps)",
                                  hint: "the series mixes pixel spacings; remove the odd files")
            }
            let p = try required(f, Tag.imagePositionPatient, "ImagePositionPatient", count: 3)
            let position = SIMD3(p[0], p[1], p[2])
            slices.append(Slice(file: f, position: position, distance: dot(position, normal)))
        }
        slices.sort { $0.distance < $1.distance }

        // Slice spacing and its uniformity.
        let n = slices.count
        var spacingZ = first.double(Tag.sliceThickness) ?? 1
        if n > 1 {
            for k in 1..<n where slices[k].distance - slices[k - 1].distance < 1e-3 {
                throw VolumeError(path: slices[k].file.path,
                                  reason: "lies at the same position as \(slices[k - 1].file.path) (\(String(format: "%.3f", slices[k].distance)) mm along the normal)",
                                  hint: "the series holds several volumes (echoes, phases or time points); split them into separate folders")
            }
            let step = slices[n - 1].position - slices[0].position
            spacingZ = norm(step) / Double(n - 1)
            let tilt = norm(cross(step / norm(step), normal))
            guard tilt < 1e-3 else {
                throw VolumeError(path: folder, reason: "slices are not stacked along their normal (gantry tilt of \(String(format: "%.2f", asin(min(1, tilt)) * 180 / .pi))°)",
                                  hint: "correct the tilt first (e.g. dcm2niix, or SimpleITK resampling)")
            }
            var worst = (gap: spacingZ, index: 1)
            for k in 1..<n {
                let gap = slices[k].distance - slices[k - 1].distance
                if abs(gap - spacingZ) > abs(worst.gap - spacingZ) { worst = (gap, k) }
            }
            let deviation = abs(worst.gap - spacingZ)
            let between = "\(slices[worst.index - 1].file.path) and \(slices[worst.index].file.path)"
            if deviation > 0.1 * spacingZ {
                let message = "slice gaps are uneven: \(String(format: "%.3f", worst.gap)) mm between \(between), mean \(String(format: "%.3f", spacingZ)) mm"
                guard allowIrregularSpacing else {
                    throw VolumeError(path: folder, reason: message + (worst.gap > spacingZ ? " — a slice is probably missing" : ""),
                                      hint: "restore the missing files, or pass allowIrregularSpacing to read on the mean spacing")
                }
                notes.append(message + "; read on the mean spacing, so positions near that gap are off by up to \(String(format: "%.2f", deviation)) mm")
            } else if deviation > 1e-3 * spacingZ {
                notes.append("slice gaps vary slightly (largest deviation \(String(format: "%.4f", deviation)) mm from the mean \(String(format: "%.4f", spacingZ)) mm)")
            }
        }

        // Voxels, slice by slice in parallel.
        let perSlice = rows * cols
        var failure: Error?
        let lock = NSLock()
        let voxels = [Float](unsafeUninitializedCapacity: perSlice * n) { buffer, initialised in
            let base = buffer.baseAddress!
            DispatchQueue.concurrentPerform(iterations: n) { k in
                do { try DICOMPixels.decode(slices[k].file, rows: rows, columns: cols, into: base + k * perSlice) } catch {
                    lock.lock(); if failure == nil { failure = error }; lock.unlock()
                    (base + k * perSlice).initialize(repeating: 0, count: perSlice)
                }
            }
            initialised = perSlice * n
        }
        if let failure { throw failure }

        let direction = [row.x, col.x, normal.x, row.y, col.y, normal.y, row.z, col.z, normal.z]
        // PixelSpacing is (between rows, between columns) = (j, i) spacing.
        var volume = Volume(size: SIMD3(cols, rows, n), spacing: SIMD3(ps[1], ps[0], spacingZ),
                            origin: slices[0].position, direction: direction, voxels: voxels)
        let modality = first.string(Tag.modality) ?? ""
        var units = modality == "CT" ? "HU" : ""
        var factor: Double?
        if modality == "PT" {
            units = first.string(Tag.units) ?? ""
            let result = PETSUV.bodyWeightFactor(slices.map(\.file.dataSet))
            if suv, let f = result.factor {
                volume.voxels.withUnsafeMutableBufferPointer { v in
                    for i in 0..<v.count { v[i] = Float(Double(v[i]) * f) }
                }
                factor = f
                units = "SUVbw"
            }
            notes.append(suv || result.factor == nil ? result.note : "SUV not applied (suv: false); " + result.note)
        }
        return DICOMSeries(volume: volume, seriesInstanceUID: group.uid, modality: modality,
                           seriesDescription: first.string(Tag.seriesDescription) ?? "",
                           frameOfReferenceUID: first.string(Tag.frameOfReferenceUID) ?? "",
                           files: slices.map(\.file.path), units: units, suvFactor: factor, notes: notes)
    }
}

/// Uncompressed pixel data → rescaled floats.
enum DICOMPixels {
    static func decode(_ f: DICOMFile, rows: Int, columns: Int, into dst: UnsafeMutablePointer<Float>) throws {
        let ds = f.dataSet
        guard f.transferSyntax == DICOMFile.implicitLittle || f.transferSyntax == DICOMFile.explicitLittle else {
            throw VolumeError(path: f.path, reason: "stores its pixels as \(TransferSyntax.describe(f.transferSyntax)), which RadioPath does not decode",
                              hint: TransferSyntax.convertHint)
        }
        let samples = ds.uint16(Tag.samplesPerPixel) ?? 1
        guard samples == 1 else {
            throw VolumeError(path: f.path, reason: "has \(samples) samples per pixel (colour)", hint: "RadioPath reads grey-level series (CT, MR, PET)")
        }
        let allocated = ds.uint16(Tag.bitsAllocated) ?? 16
        let stored = ds.uint16(Tag.bitsStored) ?? allocated
        let high = ds.uint16(Tag.highBit) ?? (stored - 1)
        let signed = (ds.uint16(Tag.pixelRepresentation) ?? 0) == 1
        let type: ScalarType
        switch (allocated, signed) {
        case (8, false): type = .uint8
        case (8, true): type = .int8
        case (16, false): type = .uint16
        case (16, true): type = .int16
        case (32, false): type = .uint32
        case (32, true): type = .int32
        default:
            throw VolumeError(path: f.path, reason: "has \(allocated) bits allocated per pixel", hint: "RadioPath reads 8-, 16- and 32-bit pixels")
        }
        let count = rows * columns
        guard let e = ds.elements[Tag.pixelData], e.length >= count * type.width else {
            let have = ds.elements[Tag.pixelData]?.length ?? 0
            throw VolumeError(path: f.path, reason: "holds \(have) bytes of pixel data but \(columns)×\(rows) pixels of \(allocated) bits need \(count * type.width)",
                              hint: "the file is truncated; re-export or re-copy it")
        }
        let slope = ds.double(Tag.rescaleSlope) ?? 1
        let intercept = ds.double(Tag.rescaleIntercept) ?? 0
        ds.data.withUnsafeBytes { raw in
            let src = raw.baseAddress! + e.offset
            if stored < allocated && stored > 0 && high < allocated {
                unpack(src, type: type, stored: stored, high: high, signed: signed, count: count, into: dst)
                if slope != 1 || intercept != 0 { for i in 0..<count { dst[i] = Float(Double(dst[i]) * slope + intercept) } }
            } else {
                VoxelCodec.decode(src, type: type, littleEndian: true, count: count, into: dst, slope: slope, intercept: intercept)
            }
        }
    }

    /// Pixels with fewer stored than allocated bits: keep bits high−stored+1…high (other bits
    /// may hold overlays) and sign-extend them when the representation is signed.
    private static func unpack(_ src: UnsafeRawPointer, type: ScalarType, stored: Int, high: Int, signed: Bool, count: Int,
                               into dst: UnsafeMutablePointer<Float>) {
        let shift = Int64(high + 1 - stored)
        let mask = (Int64(1) << Int64(stored)) - 1
        let sign = Int64(1) << Int64(stored - 1)
        for i in 0..<count {
            let word: Int64
            switch type.width {
            case 1: word = Int64(src.load(fromByteOffset: i, as: UInt8.self))
            case 2: word = Int64(UInt16(littleEndian: src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))
            default: word = Int64(UInt32(littleEndian: src.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
            }
            var v = (word >> shift) & mask
            if signed && v & sign != 0 { v -= mask + 1 }
            dst[i] = Float(v)
        }
    }
}
