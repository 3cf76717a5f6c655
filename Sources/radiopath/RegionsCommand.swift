import ArgumentParser
import Foundation
import ImageCore
import Radiomics
import Regions
import Registration
import SlideIO
import Tabular
import VolumeIO

/// `radiopath regions`: MRI/CT region families (ROI labels, atlas sectors, boundary rings,
/// habitats, slide regions) as label NIfTIs with their definitions, and their outlines on the slide.
struct RegionsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "regions",
        abstract: "Region families on an MRI/CT grid: ROI labels, atlas sectors, boundary rings, habitats, slide regions.",
        discussion: """
        Each family is one set of non-overlapping integer labels on the image grid.
        Under --out, per family F:
          F.nii.gz   int16 labels (0 = none), the image's geometry
          F.json     regions (label, name, kind, definition, voxels, mm³) and
                     provenance (version, inputs' SHA-256, parameters, seed)
          F.png      preview: the regions on the image, slices with regions
        Families: roi (--labels), sectors (--sectors prostate: base/mid/apex ×
        L/R × PZ/TZ from Atlases/prostate-sectors.json; the PZ is a geometric
        approximation unless --zones gives a zone label volume), rings (--rings
        mm edges around --lesion, or around --mask without one), habitats
        (--habitats K: k-means or Gaussian mixture of z-scored intensity and
        voxel-wise radiomic features inside --lesion, or --mask without one).
        With --transform (a `radiopath register` output): annotations
        (--slide-geojson) and hotspots (--hotspots scores.npy) on the registered
        slice, and every family outlined on the slide as F_slide.geojson (QuPath)
        and F_slide.png (on --thumbnail, else the slide's own thumbnail).
        --paint CSV (columns family, region = name or label, then value columns)
        paints region values back: maps/F_<column>_scores.nii.gz (float32),
        maps/F_<column>_labels.nii.gz (int16) and maps/F_<column>.png, for a
        family made in this run or already in --out.
        Exit status: 0 done, 2 bad input.
        """)

    @Option(help: "Image volume (NIfTI, NRRD or DICOM folder).") var image: String
    @Option(help: "Organ / ROI mask on the image grid (non-zero voxels).") var mask: String
    @Option(help: "Lesion mask on the image grid (rings and habitats use it).") var lesion: String?
    @Option(help: "Label volume whose non-zero labels become the roi family.") var labels: String?
    @Option(help: "Sector atlas: a name under Atlases/ (prostate) or a JSON path.") var sectors: String?
    @Option(help: "Zone label volume for the sectors (values as the atlas's zone_labels).") var zones: String?
    @Option(parsing: .unconditional, help: "Ring edges in mm, e.g. -3,0,3,6 (negative inside).") var rings: String?
    @Option(help: "Number of habitats (clusters).") var habitats: Int?
    @Option(name: .customLong("habitat-method"), help: "kmeans, gmm-diag or gmm-full.") var habitatMethod = "kmeans"
    @Option(name: .customLong("habitat-features"), parsing: .upToNextOption,
            help: "IBSI tags of voxel-wise features besides intensity (e.g. stat_var cm_joint_entr_3D_avg).") var habitatFeatures: [String] = []
    @Option(help: "Seed of the habitat clustering.") var seed: UInt64 = 1
    @Option(help: "Registration folder (`radiopath register --out`).") var transform: String?
    @Option(name: .customLong("slide-geojson"), help: "Slide annotations (GeoJSON, level-0 px) to carry to the MRI.") var slideGeojson: String?
    @Option(help: "Slide score map (.npy covering the whole slide) whose hot spots go to the MRI.") var hotspots: String?
    @Option(name: .customLong("hotspot-threshold"), help: "Score at or above which a pixel is hot.") var hotspotThreshold: Float = 0.5
    @Option(help: "Image covering the whole slide to draw the regions on (default: the slide's thumbnail).") var thumbnail: String?
    @Option(help: "CSV of region values to paint back: family, region (name or label), value columns.") var paint: String?
    @Option(name: .customLong("paint-columns"), help: "Value columns of --paint to paint, comma-separated (default: all).") var paintColumns: String?
    @Option(name: .customLong("paint-case"), help: "With a `case` column in --paint (fuse's region_table.csv): its rows only.") var paintCase: String?
    @Option(help: "Colormap of --paint (Atlases/colormaps: viridis, magma, inferno, jet, coolwarm, RdBu_r).") var colormap = "viridis"
    @Option(help: "Output folder (created if missing).") var out: String
    @Flag(help: "Print a JSON summary on standard output.") var json = false

    func run() throws {
        do {
            try work()
        } catch let e as RegionsError {
            fail(e.reason, e.hint)
        } catch let e as VolumeError {
            fail("\(e.path): \(e.reason)", e.hint)
        } catch let e as RegistrationError {
            fail(e.reason, e.hint)
        } catch let e as ExitCode {
            throw e
        } catch {
            fail("\(error)", "")
        }
    }

    func fail(_ reason: String, _ hint: String) -> Never {
        FileHandle.standardError.write(Data("✗ \(reason)\n\(hint.isEmpty ? "" : "  → \(hint)\n")".utf8))
        Foundation.exit(2)
    }

    func note(_ s: String) { FileHandle.standardError.write(Data((s + "\n").utf8)) }

    /// A mask or label volume on the image's grid, or a clear error.
    func onGrid(_ path: String, _ what: String, of img: Volume) throws -> Volume {
        let v = try VolumeFile.read(path)
        guard v.hasSameGrid(as: img, tolerance: 1e-3 * max(1, img.spacing.max())) else {
            throw RegionsError("\(path): the \(what) is on another grid than the image (size \(v.size) vs \(img.size), spacing \(v.spacing) vs \(img.spacing))",
                               hint: "resample the \(what) onto \(image) (nearest neighbour)")
        }
        return v
    }

    func work() throws {
        let img = try VolumeFile.read(image)
        let organ = try onGrid(mask, "mask", of: img)
        let organCount = organ.voxels.filter { $0 != 0 }.count
        guard organCount > 0 else { throw RegionsError("\(mask): the mask is empty", hint: "give a mask whose organ voxels are non-zero") }
        var warnings: [String] = []
        let lesionVolume = try lesion.map { try onGrid($0, "lesion mask", of: img) }
        if let lv = lesionVolume, let path = lesion {
            let total = lv.voxels.filter { $0 != 0 }.count
            guard total > 0 else { throw RegionsError("\(path): the lesion mask is empty", hint: "give a mask whose lesion voxels are non-zero") }
            let inside = zip(lv.voxels, organ.voxels).filter { $0 != 0 && $1 != 0 }.count
            guard inside > 0 else {
                throw RegionsError("\(path): the lesion lies entirely outside the mask \(mask)", hint: "check that lesion and gland belong to the same case and grid")
            }
            if inside < total { warnings.append("\(total - inside) of \(total) lesion voxels lie outside the mask (extra-organ extension?)") }
        }
        guard sectors != nil || rings != nil || habitats != nil || labels != nil || slideGeojson != nil || hotspots != nil || paint != nil else {
            throw RegionsError("nothing to make: give --sectors, --rings, --habitats, --labels, --slide-geojson, --hotspots or --paint")
        }
        if (slideGeojson != nil || hotspots != nil) && transform == nil {
            throw RegionsError("--slide-geojson and --hotspots need --transform (a `radiopath register` output folder)")
        }
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)

        var base: [String: Any] = ["radiopath_version": RadioPath.version, "arguments": Array(CommandLine.arguments.dropFirst()),
                                   "image": image, "image_sha256": try hash(image), "mask": mask, "mask_sha256": try hash(mask)]
        if let lesion { base["lesion"] = lesion; base["lesion_sha256"] = try hash(lesion) }
        var families: [(RegionMap, [String: Any])] = []

        if let labels {
            families.append((try ROILabels.make(try onGrid(labels, "label volume", of: img)), ["labels": labels, "labels_sha256": try hash(labels)]))
        }
        if let sectors {
            let atlas = try SectorAtlas.named(sectors)
            let zoneVolume = try zones.map { try onGrid($0, "zone label volume", of: img) }
            let atlasJSON = try JSONSerialization.jsonObject(with: JSONEncoder().encode(atlas))
            families.append((try atlas.apply(gland: organ, zones: zoneVolume), ["atlas": atlasJSON, "zones": zones ?? NSNull()]))
        }
        if let rings {
            let edges = try BoundaryRings.parseEdges(rings)
            let around = lesionVolume ?? organ
            families.append((try BoundaryRings.make(lesion: around, edges: edges),
                             ["edges_mm": edges, "around": lesion ?? mask, "distance": "exact Euclidean distance transform, voxel centres, anisotropic spacing"]))
        }
        if let k = habitats {
            var options = HabitatOptions()
            options.k = k
            options.seed = seed
            options.features = habitatFeatures
            switch habitatMethod {
            case "kmeans": options.method = .kMeans
            case "gmm-diag": options.method = .gaussianMixture(.diagonal)
            case "gmm-full": options.method = .gaussianMixture(.full)
            default: throw RegionsError("--habitat-method \(habitatMethod): use kmeans, gmm-diag or gmm-full")
            }
            let (map, summary) = try Habitats.make(image: img, mask: lesionVolume ?? organ, options: options)
            let s = try JSONSerialization.jsonObject(with: JSONEncoder().encode(summary))
            families.append((map, ["roi": lesion ?? mask, "k": k, "seed": seed, "summary": s]))
        }
        let section = try transform.map { try SectionTransform.read(folder: $0) }
        if let section {
            guard section.mri.emptyVolume().hasSameGrid(as: img, tolerance: 1e-3) else {
                throw RegionsError("\(transform!): registered to \(section.mri.path), whose grid differs from \(image)", hint: "give the image the section was registered to")
            }
            if let geo = slideGeojson {
                guard let data = FileManager.default.contents(atPath: geo) else { throw RegionsError("\(geo): cannot read", hint: "check the path") }
                families.append((try SlideRegions.fromGeoJSON(data, file: geo, transform: section), ["geojson": geo, "transform": transform!]))
            }
            if let hotspots {
                let npy = try NPY.read(hotspots)
                families.append((try SlideRegions.hotSpots(scores: npy.values, width: npy.width, height: npy.height, threshold: hotspotThreshold,
                                                           transform: section), ["scores": hotspots, "threshold": hotspotThreshold, "transform": transform!]))
            }
        }

        var summary: [[String: Any]] = []
        var slideImage: RGBImage?
        for (map, extra) in families {
            var provenance = base
            for (k, v) in extra { provenance[k] = v }
            provenance["warnings"] = warnings
            try map.write(folder: out, provenance: provenance)
            try AtomicFile.write(try PNGCodec.encode(try RegionPainter.preview(map, image: img)), to: "\(out)/\(map.family).png")
            let counts = map.voxelCounts()
            var entry: [String: Any] = ["family": map.family, "regions": map.regions.count, "labels": "\(out)/\(map.family).nii.gz",
                                        "json": "\(out)/\(map.family).json", "png": "\(out)/\(map.family).png",
                                        "empty_regions": map.regions.filter { counts[$0.label] == 0 }.map(\.name)]
            if let section, map.regions.first?.kind != .slide {
                let polygons = try SlideRegions.toSlide(map, transform: section)
                try AtomicFile.write(SlideRegions.qupathGeoJSON(polygons, family: map.family), to: "\(out)/\(map.family)_slide.geojson")
                if slideImage == nil { slideImage = slideThumbnail(section) }
                let drawn = SlideRegions.draw(polygons, on: slideImage!, slideWidth: section.slide.width, slideHeight: section.slide.height)
                try AtomicFile.write(try PNGCodec.encode(drawn), to: "\(out)/\(map.family)_slide.png")
                entry["slide_geojson"] = "\(out)/\(map.family)_slide.geojson"
                entry["slide_regions"] = polygons.count
            }
            summary.append(entry)
            note("✓ \(map.family): \(map.regions.count) regions → \(out)/\(map.family).nii.gz")
        }
        var painted: [String] = []
        if let paint { painted = try paintValues(paint, made: families.map(\.0), image: img) }
        for w in warnings { note("! \(w)") }
        if json {
            let doc: [String: Any] = ["out": out, "families": summary, "warnings": warnings, "maps": painted]
            print(String(decoding: try JSONSerialization.data(withJSONObject: doc, options: [.sortedKeys]), as: UTF8.self))
        }
    }

    /// --paint: each (family, value column) painted on the MRI; returns the PNG paths.
    func paintValues(_ path: String, made: [RegionMap], image img: Volume) throws -> [String] {
        let table: CSVTable
        do { table = try CSVTable.read(path: path) } catch { throw RegionsError("\(path): \(error)") }
        guard let fc = table.column("family"), let rc = table.column("region") else {
            throw RegionsError("\(path): needs columns family and region (then value columns); found \(table.header.joined(separator: ","))")
        }
        var valueColumns = table.header.indices.filter { $0 != fc && $0 != rc && table.header[$0] != "case" }
        if let paintColumns {
            let wanted = paintColumns.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            valueColumns = try wanted.map { name in
                guard let c = table.column(name) else { throw RegionsError("\(path): no column \(name)", hint: "columns: \(table.header.joined(separator: ","))") }
                return c
            }
        }
        guard !valueColumns.isEmpty else { throw RegionsError("\(path): no value column besides family and region") }
        var rows = table.rows
        if let paintCase {
            guard let cc = table.column("case") else { throw RegionsError("\(path): --paint-case needs a `case` column") }
            rows = rows.filter { $0[cc] == paintCase }
            guard !rows.isEmpty else { throw RegionsError("\(path): no rows of case \(paintCase)") }
        } else if let cc = table.column("case"), Set(rows.map { $0[cc] }).count > 1 {
            throw RegionsError("\(path): rows of several cases", hint: "choose one with --paint-case ID")
        }
        var written: [String] = []
        for family in Set(rows.map { $0[fc] }).sorted() {
            let map = try made.first { $0.family == family } ?? RegionMap.read(folder: out, family: family)
            guard map.labels.hasSameGrid(as: img, tolerance: 1e-3 * max(1, img.spacing.max())) else {
                throw RegionsError("\(path): family \(family) is not on the grid of \(image)", hint: "paint on the image the regions were made on")
            }
            let byName = Dictionary(map.regions.map { ($0.name, $0.label) }, uniquingKeysWith: { a, _ in a })
            for c in valueColumns {
                var values: [Int: Double] = [:]
                for row in rows where row[fc] == family {
                    guard let label = byName[row[rc]] ?? Int(row[rc]).flatMap({ l in map.regions.contains { $0.label == l } ? l : nil }) else {
                        throw RegionsError("\(path): family \(family) has no region '\(row[rc])'", hint: "use the names or labels of \(family).json")
                    }
                    if let v = Double(row[c].trimmingCharacters(in: .whitespaces)), v.isFinite { values[label] = v }
                }
                let files = try MapsBack.write(map, image: img, values: values, folder: out + "/maps", name: "\(family)_\(table.header[c])", colormap: colormap)
                written.append(files.png)
                note("✓ painted \(table.header[c]) on \(family) → \(files.scores)")
            }
        }
        return written
    }

    func hash(_ path: String) throws -> String {
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDir), isDir.boolValue { return "" }
        return try SHA256.hexDigest(ofFile: path)
    }

    /// --thumbnail, else the slide's thumbnail, else a white canvas of the slide's shape.
    func slideThumbnail(_ t: SectionTransform) -> RGBImage {
        if let thumbnail, let img = try? ImageFile.read(path: thumbnail) { return img }
        if thumbnail == nil, let slide = try? Slide.open(path: t.slide.path), let img = try? slide.thumbnail(maxSize: 1024) { return img }
        note("! no slide thumbnail (\(thumbnail ?? t.slide.path)): drawing on a blank canvas")
        let scale = 1024 / Double(max(t.slide.width, t.slide.height))
        return RGBImage(width: max(1, Int(Double(t.slide.width) * scale)), height: max(1, Int(Double(t.slide.height) * scale)))
    }
}
