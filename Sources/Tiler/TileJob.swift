import Foundation
import ImageCore
import PatchBag
import SlideIO

/// Where `tile` writes the outputs of one slide, under one output folder (CLAM's layout:
/// patches/, masks/, plus contours/ and previews/).
public struct TileOutputLayout: Sendable {
    public let root: String
    public init(root: String) { self.root = root }
    public func bag(_ id: String) -> String { "\(root)/patches/\(id).h5" }
    public func mask(_ id: String) -> String { "\(root)/masks/\(id).png" }
    public func contours(_ id: String) -> String { "\(root)/contours/\(id).geojson" }
    public func preview(_ id: String) -> String { "\(root)/previews/\(id).png" }
    public func patchImages(_ id: String) -> String { "\(root)/patch_images/\(id)" }
    /// Every folder `tile` writes into (for cleaning temporary files of killed runs).
    public var folders: [String] { ["patches", "masks", "contours", "previews", "patch_images", ""].map { "\(root)/\($0)" } }
}

/// One slide to tile.
public struct TileRequest: Sendable {
    public var slidePath: String
    public var slideID: String
    public var layout: TileOutputLayout
    public var preset: TilingPreset
    /// µm/px supplied by the user (flag or CSV); beats every property in the file.
    public var mppOverride: Double?
    public var force = false
    /// Also write every patch as an image file (`--save-patches`).
    public var patchImages: PatchImageOptions?
    /// Tool version, recorded in the outputs. (The full command line goes into the run record,
    /// not the bag: flags like --jobs or --force must not change a bag's bytes.)
    public var toolVersion: String

    public init(slidePath: String, slideID: String, layout: TileOutputLayout, preset: TilingPreset,
                mppOverride: Double? = nil, force: Bool = false, toolVersion: String) {
        self.slidePath = slidePath; self.slideID = slideID; self.layout = layout; self.preset = preset
        self.mppOverride = mppOverride; self.force = force; self.toolVersion = toolVersion
    }
}

/// What happened to one slide.
public struct TileResult: Codable, Sendable {
    public enum Status: String, Codable, Sendable { case done, skipped, failed }
    public var slideID: String
    public var path: String
    public var status: Status
    public var patches: Int = 0
    public var mpp: Double?
    public var mppSource: String?
    public var tissueAreaMM2: Double?
    /// Patch image files written (`--save-patches`).
    public var patchImagesWritten: Int?
    public var seconds: Double = 0
    /// Seconds per phase: open, tissue, grid, write, patch_images, bag (where the time goes, per slide).
    public var phaseSeconds: [String: Double] = [:]
    public var warnings: [String] = []
    public var error: String?
    public var hint: String?

    public init(slideID: String, path: String, status: Status, error: String? = nil, hint: String? = nil) {
        self.slideID = slideID; self.path = path; self.status = status; self.error = error; self.hint = hint
    }
}

/// Tiles one slide: tissue mask → patch grid → mask PNG, QuPath GeoJSON, preview PNG and the
/// patch bag (written last, so its presence means the slide is complete). Never throws: a
/// failure becomes a `.failed` result that names the file, the reason and what to do.
public enum TileJob {
    public static func run(_ req: TileRequest) -> TileResult {
        let start = DispatchTime.now()
        var result = TileResult(slideID: req.slideID, path: req.slidePath, status: .failed)
        attempt(req, into: &result)
        result.seconds = Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
        return result
    }

    static func attempt(_ req: TileRequest, into result: inout TileResult) {
        let bagPath = req.layout.bag(req.slideID)
        // The bag is written last, so its presence means the slide is done — unless patch images
        // were asked for and their folder is missing (then the slide is redone).
        let imagesDone = req.patchImages == nil || FileManager.default.fileExists(atPath: req.layout.patchImages(req.slideID))
        if !req.force && imagesDone && PatchBag.isComplete(path: bagPath) {
            result.status = .skipped
            if let bag = try? PatchBag.read(path: bagPath) { result.patches = bag.count }
            return
        }
        do {
            try tile(req, into: &result)
            result.status = .done
        } catch let e as SlideError {
            result.error = e.reason
            result.hint = e.hint
        } catch let e as PatchGridBuilder.ScaleError {
            result.error = e.message
            result.hint = "change --target-mpp/--magnification, or correct the slide's scale with --slide-mpp"
        } catch {
            result.error = "\(error)"
            result.hint = "check that the output folder is writable and has free space"
        }
    }

    static func tile(_ req: TileRequest, into result: inout TileResult) throws {
        var clock = DispatchTime.now().uptimeNanoseconds
        func lap(_ phase: String, _ r: inout TileResult) {
            let now = DispatchTime.now().uptimeNanoseconds
            r.phaseSeconds[phase] = Double(now - clock) / 1e9
            clock = now
        }
        let slide = try Slide.open(path: req.slidePath, mppOverride: req.mppOverride)
        let scale = try slide.requireScale()
        result.mpp = scale.mpp
        result.mppSource = scale.source.rawValue
        if scale.isEstimate {
            result.warnings.append("scale estimated from \(scale.detail) (\(fmt(scale.mpp)) µm/px); give --slide-mpp if it is wrong")
        }
        let p = req.preset
        lap("open", &result)
        let tissue = try TissueDetector.detect(slide: slide, mpp: scale.mpp, params: p.tissue)
        lap("tissue", &result)
        let grid = try PatchGridBuilder.build(slideWidth: slide.width, slideHeight: slide.height, levels: slide.levels,
                                              slideMPP: scale.mpp, objectivePower: slide.objectivePower,
                                              params: p.grid, tissue: tissue)
        lap("grid", &result)
        result.patches = grid.count
        result.tissueAreaMM2 = tissue.tissueAreaMM2
        if tissue.polygons.isEmpty {
            result.warnings.append("no tissue found: wrote an empty bag; check the preview, or lower saturation_threshold / min_tissue_area_mm2")
        } else if grid.count == 0 {
            result.warnings.append("tissue found but no patch reaches min_tissue_fraction \(p.grid.minTissueFraction): wrote an empty bag")
        }

        let layout = req.layout, id = req.slideID
        // The preview's PNG encoding is the slowest write (zlib); it runs on another core
        // while the mask and contours are written.
        let previewPNG = AsyncResult { try PNGCodec.encode(preview(tissue, grid: grid)) }
        try AtomicFile.write(try PNGCodec.encode(tissue.mask), to: layout.mask(id))
        try AtomicFile.write(contoursGeoJSON(tissue, slideID: id), to: layout.contours(id))
        try AtomicFile.write(try previewPNG.value(), to: layout.preview(id))
        lap("write", &result)
        if let options = req.patchImages {
            let request = PatchRequest(coords: grid.coords, level: grid.readLevel, readSize: grid.readSize, outputSize: grid.patchSize)
            let report = try PatchExport.write(slide: slide, request: request, slideID: id, folder: layout.patchImages(id), options: options)
            result.patchImagesWritten = report.patches
            if let note = report.note { result.warnings.append("patch images: \(note)") }
            if !report.badTiles.isEmpty {
                result.warnings.append("patch images: \(report.badTiles.count) bad tile(s) (\(report.filled) patches filled, \(report.skipped) skipped): " + report.badTiles.prefix(3).joined(separator: "; "))
            }
            lap("patch_images", &result)
        }
        try PatchBag.write(path: layout.bag(id), coords: grid.coords,
                           coordsAttributes: coordsAttributes(slide: slide, grid: grid, req: req),
                           tissueFraction: grid.tissueFraction,
                           fileAttributes: provenance(slide: slide, scale: scale, tissue: tissue, grid: grid, req: req))
        lap("bag", &result)
    }

    /// CLAM's attributes (patch_size and patch_level describe the region to read, so
    /// `read_region(coord, patch_level, (patch_size, patch_size))` covers one patch) and
    /// TRIDENT's (sizes at level 0 and the target magnification).
    static func coordsAttributes(slide: Slide, grid: PatchGrid, req: TileRequest) -> [String: HDF5Value] {
        let level = slide.levels[grid.readLevel]
        return [
            "patch_size": .int(Int64(grid.readSize)),
            "patch_level": .int(Int64(grid.readLevel)),
            "downsample": .doubles([level.downsample, level.downsample]),
            "downsampled_level_dim": .ints([Int64(level.width), Int64(level.height)]),
            "level_dim": .ints([Int64(level.width), Int64(level.height)]),
            "name": .string(req.slideID),
            "save_path": .string(URL(fileURLWithPath: req.layout.root).appendingPathComponent("patches").path),
            "patch_size_level0": .int(Int64(grid.patchSizeLevel0)),
            "target_magnification": .double(grid.targetMagnification),
            "level0_magnification": .double(slide.objectivePower ?? (10 / (slide.scale?.mpp ?? 0.25))),
            "overlap": .int(Int64(req.preset.grid.overlap)),
            "level0_width": .int(Int64(slide.width)),
            "level0_height": .int(Int64(slide.height)),
            "savetodir": .string(URL(fileURLWithPath: req.layout.root).appendingPathComponent("patches").path),
            "target_patch_size": .int(Int64(grid.patchSize)),
            "target_mpp": .double(grid.targetMPP),
            "step_size_level0": .int(Int64(grid.stepLevel0)),
            "min_tissue_fraction": .double(req.preset.grid.minTissueFraction),
        ]
    }

    static func provenance(slide: Slide, scale: SlideScale, tissue: TissueMask, grid: PatchGrid, req: TileRequest) -> [String: HDF5Value] {
        var attributes: [String: HDF5Value] = [
            "radiopath_version": .string(req.toolVersion),
            "radiopath_command": .string("tile"),
            "tiling_preset": .string(req.preset.name),
            "tiling_parameters": .string(req.preset.text),
            "slide_path": .string(req.slidePath),
            "slide_format": .string(slide.format),
            "slide_quickhash": .string(slide.quickHash),
            "slide_mpp": .doubles([scale.mppX, scale.mppY]),
            "slide_mpp_source": .string(scale.source.rawValue),
            "slide_mpp_detail": .string(scale.detail),
            "tissue_area_mm2": .double(tissue.tissueAreaMM2),
            "tissue_pieces": .int(Int64(tissue.polygons.count)),
            "segmentation_downsample": .doubles([tissue.downsampleX, tissue.downsampleY]),
        ]
        if let m = req.mppOverride { attributes["slide_mpp_override"] = .double(m) }
        return attributes
    }

    static func contoursGeoJSON(_ tissue: TissueMask, slideID: String) -> Data {
        let features = tissue.polygons.enumerated().map { i, poly -> QuPathGeoJSON.Feature in
            let areaPx = abs(Polygon.signedArea(poly.outer)) - poly.holes.reduce(0) { $0 + abs(Polygon.signedArea($1)) }
            return QuPathGeoJSON.Feature(
                id: QuPathGeoJSON.stableID("\(slideID)/tissue/\(i)"),
                polygon: poly, objectType: .annotation, name: "Tissue \(i + 1)",
                className: "Tissue", color: (0, 170, 80),
                measurements: [("Area level-0 px^2", areaPx.rounded())])
        }
        return QuPathGeoJSON.encode(features)
    }

    /// The segmentation image with tissue tinted, contours (green), holes (blue) and the patch grid,
    /// shrunk by a whole factor to at most `maxSide` px (its PNG encoding is the slowest write;
    /// the mask PNG keeps the full segmentation resolution).
    static func preview(_ tissue: TissueMask, grid: PatchGrid, maxSide: Int = 1280) -> RGBImage {
        var img = tissue.image
        var mask = tissue.mask
        let factor = (max(img.width, img.height) + maxSide - 1) / maxSide
        if factor > 1 {
            let w = max(1, img.width / factor), h = max(1, img.height / factor)
            img = img.resizedArea(width: w, height: h)
            mask = mask.resizedNearest(width: w, height: h)
        }
        let sx = Double(img.width) / (Double(tissue.image.width) * tissue.downsampleX)
        let sy = Double(img.height) / (Double(tissue.image.height) * tissue.downsampleY)
        let side = Double(grid.patchSizeLevel0)
        let cellPx = side * sx
        // Outlines while a patch spans ≥ 8 preview px; below that outlines would hide the
        // tissue, so patch cells are tinted instead.
        if cellPx >= 8 { img.overlay(mask: mask, color: (0, 200, 90), alpha: 0.18) }
        for i in 0..<grid.count {
            let x = Double(grid.coords[2 * i]) * sx, y = Double(grid.coords[2 * i + 1]) * sy
            let x1 = Double(grid.coords[2 * i]) * sx + side * sx, y1 = Double(grid.coords[2 * i + 1]) * sy + side * sy
            let r = PixelRect(x: Int(x.rounded()), y: Int(y.rounded()),
                              width: max(1, Int(x1.rounded()) - Int(x.rounded())), height: max(1, Int(y1.rounded()) - Int(y.rounded())))
            if cellPx >= 8 {
                img.drawRect(r, color: (40, 60, 200), thickness: 1)
            } else {
                img.fillRect(r, color: (40, 60, 200), alpha: 0.3)
            }
        }
        for poly in tissue.polygons {
            img.drawPolygon(poly.outer.map { Point(x: $0.x * sx, y: $0.y * sy) }, color: (0, 160, 60), thickness: 2)
            for h in poly.holes { img.drawPolygon(h.map { Point(x: $0.x * sx, y: $0.y * sy) }, color: (30, 90, 255), thickness: 2) }
        }
        return img
    }

    static func fmt(_ v: Double) -> String { String(format: "%.4g", v) }
}

/// A value computed on a background queue; `value()` waits for it and rethrows its error.
final class AsyncResult<T>: @unchecked Sendable {
    private var result: Result<T, Error>?
    private let done = DispatchGroup()

    init(_ work: @escaping () throws -> T) {
        done.enter()
        DispatchQueue.global().async {
            self.result = Result { try work() }
            self.done.leave()
        }
    }

    func value() throws -> T {
        done.wait()
        return try result!.get()
    }
}
