import ArgumentParser
import Foundation
import ImageCore
import PatchBag
import Registration
import VolumeIO

/// `radiopath warp`: slide data ⇄ MRI slice through a `radiopath register` output.
struct WarpCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "warp",
        abstract: "Carry points, GeoJSON, patch coordinates, label images and score maps between a slide and its MRI slice.",
        discussion: """
        --transform is a `radiopath register` output folder. Slide side: level-0 px
        (top-left corner at 0, 0). MRI side: LPS mm (x, y in the slice plane, z of
        the registered slice). to-slide uses the forward map (MRI → slide) and
        to-mri its exact inverse (affine inverse, then Newton on the field).
        One input per run:
          --points CSV        header x,y; to-mri writes x,y,z (MRI mm),
                              to-slide writes x,y (slide px); unmapped rows empty
          --geojson FILE      to-mri: GeoJSON in MRI mm (.geojson) or a label
                              slice (.nii/.nii.gz, feature n → label n);
                              to-slide: GeoJSON (MRI mm) → GeoJSON (slide px)
          --patches BAG.h5    to-mri: patch centres → CSV with MRI mm and voxel
          --label IMG|NII     to-mri: label image covering the slide (PNG/TIFF,
                              grey = label) → NIfTI on the MRI grid (nearest);
                              to-slide: label NIfTI → PNG (nearest)
          --scores IMG|NPY|NII  to-mri: score map covering the slide (.npy
                              float array, or grey PNG as value/255) → float
                              NIfTI (bilinear); to-slide: NIfTI → .npy or grey PNG
        NIfTI outputs lie on the MRI grid with only the registered slice set.
        Slide images written by to-slide are --downsample × smaller than level 0.
        Exit status: 0 done, 2 bad input.
        """)

    @Option(help: "Folder written by `radiopath register`.") var transform: String
    @Option(help: "to-mri or to-slide.") var direction: String
    @Option(help: "CSV of points (header x,y).") var points: String?
    @Option(help: "GeoJSON annotations.") var geojson: String?
    @Option(help: "Patch bag (.h5) whose coords go to the MRI.") var patches: String?
    @Option(help: "Label image (to-mri) or label NIfTI (to-slide).") var label: String?
    @Option(help: "Score map (.npy, grey PNG) (to-mri) or score NIfTI (to-slide).") var scores: String?
    @Option(help: "Downsample of slide images written by to-slide (default: MRI pixel / 4).") var downsample: Double?
    @Option(help: "Output file.") var out: String
    @Flag(help: "Print a JSON summary on standard output.") var json = false

    func run() throws {
        do { try work() } catch let e as RegistrationError { fail(e.reason, e.hint) } catch let e as VolumeError {
            fail("\(e.path): \(e.reason)", e.hint)
        } catch let e as ExitCode { throw e } catch { fail("\(error)", "") }
    }

    func fail(_ reason: String, _ hint: String) -> Never {
        FileHandle.standardError.write(Data("✗ \(reason)\n\(hint.isEmpty ? "" : "  → \(hint)\n")".utf8))
        Foundation.exit(2)
    }

    func work() throws {
        guard direction == "to-mri" || direction == "to-slide" else {
            throw RegistrationError("--direction \(direction): use to-mri or to-slide", hint: "")
        }
        let toMRI = direction == "to-mri"
        let inputs = [points, geojson, patches, label, scores].compactMap { $0 }
        guard inputs.count == 1 else {
            throw RegistrationError("give exactly one of --points, --geojson, --patches, --label, --scores (got \(inputs.count))", hint: "")
        }
        let t = try SectionTransform.read(folder: transform)
        let lower = out.lowercased()
        let isNIfTI = lower.hasSuffix(".nii") || lower.hasSuffix(".nii.gz")
        var summary: [String: Any] = ["out": out, "direction": direction]

        if let points {
            let rows = try readPoints(points)
            var text = toMRI ? "x,y,z\n" : "x,y\n", failed = 0
            for p in rows {
                if toMRI {
                    if let q = t.toMRI(p) { text += "\(q.x),\(q.y),\(q.z)\n" } else { text += ",,\n"; failed += 1 }
                } else {
                    let q = t.map(p)
                    text += "\(q.x),\(q.y)\n"
                }
            }
            try AtomicFile.write(Data(text.utf8), to: out)
            summary["points"] = rows.count
            summary["failed"] = failed
        } else if let geojson {
            guard let data = FileManager.default.contents(atPath: geojson) else { throw RegistrationError("\(geojson): cannot be read", hint: "check the path") }
            if toMRI && isNIfTI {
                let (mm, failed) = try GeoJSONWarp.warp(data, file: geojson, step: 250 / t.slide.mppX) { t.inverse($0) }
                var slice = t.mri.sliceGrid
                let features = try GeoJSONWarp.polygons(mm, file: geojson)
                for (n, polys) in features.enumerated() { t.rasterise(polys, label: Float(n + 1), into: &slice) }
                try VolumeFile.write(t.volume(withSlice: slice), to: out, as: .int16)
                summary["features"] = features.count
                summary["failed"] = failed
            } else {
                let (warped, failed) = toMRI
                    ? try GeoJSONWarp.warp(data, file: geojson, step: 250 / t.slide.mppX) { t.inverse($0) }
                    : try GeoJSONWarp.warp(data, file: geojson, step: 0.25) { t.map($0) }
                try AtomicFile.write(warped, to: out)
                summary["failed"] = failed
            }
        } else if let patches {
            guard toMRI else { throw RegistrationError("--patches goes to-mri only (patch coordinates live on the slide)", hint: "use --direction to-mri") }
            let bag: PatchBagContents
            do { bag = try PatchBag.read(path: patches) } catch { throw RegistrationError("\(patches): \(error)", hint: "give a patch bag written by `radiopath tile`") }
            let size: Double
            switch bag.coordsAttributes["patch_size_level0"] ?? bag.coordsAttributes["patch_size"] {
            case .int(let v)?: size = Double(v)
            case .double(let v)?: size = v
            default: size = 0
            }
            var text = "index,x_px,y_px,mri_x,mri_y,mri_z,i,j,k\n", failed = 0
            let grid = t.mri.sliceGrid, volumeGrid = t.mri.emptyVolume()
            for n in 0..<bag.count {
                let c = SIMD2(Double(bag.coords[2 * n]), Double(bag.coords[2 * n + 1])) + size / 2
                if let q = t.toMRI(c) {
                    let u = grid.continuousIndex(ofPoint: SIMD2(q.x, q.y)).rounded(.toNearestOrAwayFromZero)
                    let k = t.mri.plane == nil ? t.mri.slice : Int(volumeGrid.continuousIndex(ofPoint: q).z.rounded(.toNearestOrAwayFromZero))
                    text += "\(n),\(c.x),\(c.y),\(q.x),\(q.y),\(q.z),\(Int(u.x)),\(Int(u.y)),\(k)\n"
                } else { text += "\(n),\(c.x),\(c.y),,,,,,\n"; failed += 1 }
            }
            try AtomicFile.write(Data(text.utf8), to: out)
            summary["patches"] = bag.count
            summary["failed"] = failed
        } else if let path = label ?? scores {
            let nearest = label != nil
            if toMRI {
                let (values, w, h) = try readSlideImage(path, scores: !nearest)
                guard isNIfTI else { throw RegistrationError("--out \(out): to-mri writes a NIfTI (.nii or .nii.gz)", hint: "") }
                let slice = t.pullToMRI(values, width: w, height: h, nearest: nearest)
                try VolumeFile.write(t.volume(withSlice: slice), to: out, as: nearest ? .int16 : .float32)
            } else {
                let v = try VolumeFile.read(path)
                let g = t.mri.emptyVolume()
                guard v.hasSameGrid(as: g) else {
                    throw RegistrationError("\(path): not on the registered MRI grid (\(t.mri.path))", hint: "resample it onto the MRI grid first")
                }
                let slice = t.section(of: v, nearest: nearest)
                let d = downsample ?? max(1, t.mri.spacing[0] * 1000 / 4 / t.slide.mppX)
                let w = max(1, Int((Double(t.slide.width) / d).rounded())), h = max(1, Int((Double(t.slide.height) / d).rounded()))
                let values = t.pushToSlide(slice, width: w, height: h, nearest: nearest)
                if lower.hasSuffix(".npy") {
                    try NPY.write(values, width: w, height: h, to: out)
                } else {
                    let px = values.map { nearest ? UInt8(max(0, min(255, $0.rounded()))) : UInt8(max(0, min(255, ($0 * 255).rounded()))) }
                    try AtomicFile.write(try PNGCodec.encode(GrayImage(width: w, height: h, pixels: px)), to: out)
                }
                summary["size"] = [w, h]
            }
        }
        FileHandle.standardError.write(Data("✓ \(direction) → \(out)\((summary["failed"] as? Int).map { $0 > 0 ? " (\($0) positions could not be mapped)" : "" } ?? "")\n".utf8))
        if json { print(String(decoding: try JSONSerialization.data(withJSONObject: summary, options: [.sortedKeys]), as: UTF8.self)) }
    }

    func readPoints(_ path: String) throws -> [SIMD2<Double>] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { throw RegistrationError("\(path): cannot be read", hint: "check the path") }
        let lines = text.split(whereSeparator: \.isNewline).filter { !$0.trimmingCharacters(in: .whitespaces).isEmpty }
        let header = (lines.first ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        guard let xi = header.firstIndex(of: "x"), let yi = header.firstIndex(of: "y") else {
            throw RegistrationError("\(path): the header has no x and y columns", hint: "write a header line x,y")
        }
        return try lines.dropFirst().enumerated().map { n, line in
            let f = line.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            guard xi < f.count, yi < f.count, let x = Double(f[xi]), let y = Double(f[yi]) else {
                throw RegistrationError("\(path): row \(n + 2) ('\(line)') has no numeric x, y", hint: "fix or delete the row")
            }
            return SIMD2(x, y)
        }
    }

    /// A slide-covering image as values: .npy as is; PNG/JPEG/TIFF grey (scores: value/255).
    func readSlideImage(_ path: String, scores: Bool) throws -> ([Float], Int, Int) {
        if path.lowercased().hasSuffix(".npy") { let r = try NPY.read(path); return (r.values, r.width, r.height) }
        let img: RGBImage
        do { img = try ImageFile.read(path: path) } catch { throw RegistrationError("\(path): \(error)", hint: "give a PNG, JPEG or TIFF (or .npy for scores)") }
        let v = (0..<(img.width * img.height)).map { k -> Float in
            let g = Float(max(img.pixels[3 * k], img.pixels[3 * k + 1], img.pixels[3 * k + 2]))
            return scores ? g / 255 : g
        }
        return (v, img.width, img.height)
    }
}
