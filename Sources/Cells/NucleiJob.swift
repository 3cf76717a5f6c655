import Foundation
import ImageCore
import PatchBag
import SlideIO

/// One slide's nuclei job for batch runs (`radiopath cells`).
public struct NucleiRequest: Sendable {
    public var slidePath: String
    public var slideID: String
    /// Folder the outputs go to: `<id>.nuclei.geojson.gz`, `<id>.nuclei.csv`, `<id>.nuclei.json`.
    public var outputDirectory: String
    public var parameters: NucleiParameters
    /// Tissue patches from a patch bag (only nuclei inside them are reported, with their row).
    public var bagPath: String?
    /// A level-0 region instead of the whole slide.
    public var region: PixelRect?
    public var mppOverride: Double?
    public var force = false
    public var workers = ProcessInfo.processInfo.activeProcessorCount
    public var toolVersion: String
    public var command: String

    public init(slidePath: String, slideID: String, outputDirectory: String, parameters: NucleiParameters,
                toolVersion: String, command: String) {
        self.slidePath = slidePath; self.slideID = slideID; self.outputDirectory = outputDirectory
        self.parameters = parameters; self.toolVersion = toolVersion; self.command = command
    }

    public var geojsonPath: String { "\(outputDirectory)/\(slideID).nuclei.geojson.gz" }
    public var csvPath: String { "\(outputDirectory)/\(slideID).nuclei.csv" }
    /// Provenance, written last: its presence marks the slide as finished.
    public var provenancePath: String { "\(outputDirectory)/\(slideID).nuclei.json" }
}

public struct NucleiResult: Codable, Sendable {
    public enum Status: String, Codable, Sendable { case done, skipped, failed }
    public var slideID: String
    public var path: String
    public var status: Status
    public var nuclei = 0
    public var tiles = 0
    public var patches: Int?
    public var slideMPP: Double?
    public var analysisMPP: Double?
    public var areaMM2: Double?
    public var nucleiPerMM2: Double?
    public var seconds = 0.0
    public var nucleiPerSecond: Double?
    public var threshold: Double?
    public var warnings: [String] = []
    public var error: String?
    public var hint: String?
    public var outputs: [String] = []

    public init(slideID: String, path: String, status: Status, error: String? = nil, hint: String? = nil) {
        self.slideID = slideID; self.path = path; self.status = status; self.error = error; self.hint = hint
    }
}

/// Runs one slide: opens it (and its bag), streams its nuclei into the writer, records
/// provenance; any failure is caught and reported, never thrown, so a batch goes on.
public enum NucleiJob {
    public static func run(_ req: NucleiRequest, progress: (Int) -> Void = { _ in }) -> NucleiResult {
        var result = NucleiResult(slideID: req.slideID, path: req.slidePath, status: .done)
        let start = DispatchTime.now()
        let fm = FileManager.default
        if !req.force, fm.fileExists(atPath: req.provenancePath), fm.fileExists(atPath: req.csvPath), fm.fileExists(atPath: req.geojsonPath) {
            result.status = .skipped
            if let d = try? Data(contentsOf: URL(fileURLWithPath: req.provenancePath)),
               let rec = try? JSONDecoder().decode(NucleiProvenance.self, from: d) { result.nuclei = rec.detection.nuclei }
            result.outputs = [req.geojsonPath, req.csvPath, req.provenancePath]
            return result
        }
        do {
            try execute(req, &result, progress)
        } catch let e as CellsError {
            result.status = .failed; result.error = e.what; result.hint = e.hint
        } catch let e as SlideError {
            result.status = .failed; result.error = e.path == result.path ? e.reason : "\(e.path): \(e.reason)"; result.hint = e.hint
        } catch let e as PatchBagError {
            result.status = .failed; result.error = "\(e)"; result.hint = "re-create the bag with radiopath tile"
        } catch {
            result.status = .failed; result.error = "\(error)"; result.hint = "see the message; rerun with --force after fixing it"
        }
        result.seconds = Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
        if result.status == .done { result.nucleiPerSecond = Double(result.nuclei) / max(result.seconds, 1e-9) }
        return result
    }

    private static func execute(_ req: NucleiRequest, _ result: inout NucleiResult, _ progress: (Int) -> Void) throws {
        var patches: [NucleusPatch]?
        var bagInfo: NucleiProvenance.Bag?
        var slidePath = req.slidePath
        if let bagPath = req.bagPath {
            let bag = try PatchBag.read(path: bagPath)
            if case .string(let recorded)? = bag.fileAttributes["slide_path"], slidePath.isEmpty { slidePath = recorded }
            let (p, size, step) = try cores(of: bag, path: bagPath)
            patches = p
            result.patches = p.count
            bagInfo = NucleiProvenance.Bag(path: bagPath, patches: p.count, patchSizeLevel0: size, coreSizeLevel0: step)
        }
        result.path = slidePath
        let slide = try Slide.open(path: slidePath, mppOverride: req.mppOverride)
        if let bagPath = req.bagPath, let bag = try? PatchBag.read(path: bagPath),
           case .string(let recorded)? = bag.fileAttributes["slide_quickhash"], !recorded.isEmpty, recorded != slide.quickHash {
            throw CellsError(what: "\(slidePath) changed since \(bagPath) was made (quickhash differs)", hint: "re-run radiopath tile on this slide")
        }
        let scale = try slide.requireScale()
        result.slideMPP = scale.mpp
        let detector = try NucleiDetector(parameters: req.parameters, workers: req.workers)
        let writer = try NucleiWriter(geojsonPath: req.geojsonPath, csvPath: req.csvPath, featureNames: detector.featureNames, idPrefix: req.slideID)
        let info: DetectionInfo
        do {
            info = try detector.detect(slide: slide, region: req.region, patches: patches) { nuclei in
                try writer.append(nuclei)
                progress(nuclei.count)
            }
            try writer.finish()
        } catch {
            writer.cancel()
            throw error
        }
        result.nuclei = info.nuclei
        result.tiles = info.tiles
        result.analysisMPP = info.analysisMPP
        result.areaMM2 = info.areaUM2 / 1e6
        result.nucleiPerMM2 = info.areaUM2 > 0 ? Double(info.nuclei) / (info.areaUM2 / 1e6) : nil
        result.threshold = info.threshold
        result.warnings = info.warnings
        if scale.isEstimate { result.warnings.append("the slide's scale is estimated from its objective power (\(scale.detail)); areas in µm² follow it") }
        let record = NucleiProvenance(tool: "radiopath", version: req.toolVersion, command: req.command, slide: slidePath, slideID: req.slideID,
                                quickhash: slide.quickHash, slideMPP: scale.mpp, mppSource: scale.source.rawValue,
                                region: req.region.map { [$0.x, $0.y, $0.width, $0.height] }, bag: bagInfo,
                                parameters: req.parameters, detection: info, features: detector.featureNames,
                                files: ["geojson": URL(fileURLWithPath: req.geojsonPath).lastPathComponent,
                                        "csv": URL(fileURLWithPath: req.csvPath).lastPathComponent])
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try AtomicFile.write(try enc.encode(record), to: req.provenancePath)
        result.outputs = [req.geojsonPath, req.csvPath, req.provenancePath]
    }

    /// Non-overlapping level-0 cores of a bag's patches: the patch itself, or for overlapping
    /// patches the first `step` px of it, where `step` is the grid step (from the bag's
    /// `step_size_level0`, else the smallest gap between patch positions).
    static func cores(of bag: PatchBagContents, path: String) throws -> ([NucleusPatch], Int, Int) {
        var size = 0
        if case .int(let s)? = bag.coordsAttributes["patch_size_level0"] { size = Int(s) }
        else if case .int(let s)? = bag.coordsAttributes["patch_size"] {
            var d = 1.0
            if case .doubles(let ds)? = bag.coordsAttributes["downsample"], let f = ds.first { d = f }
            size = Int((Double(s) * d).rounded())
        }
        guard size > 0 else {
            throw CellsError(what: "\(path): coords has no patch_size_level0 or patch_size attribute", hint: "use a bag written by radiopath tile or CLAM")
        }
        var step = size
        if case .int(let s)? = bag.coordsAttributes["step_size_level0"], s > 0 { step = min(size, Int(s)) }
        else {
            let xs = Set(stride(from: 0, to: bag.coords.count, by: 2).map { bag.coords[$0] }).sorted()
            let ys = Set(stride(from: 1, to: bag.coords.count, by: 2).map { bag.coords[$0] }).sorted()
            for v in [xs, ys] where v.count > 1 {
                for i in 1..<v.count { step = min(step, Int(v[i] - v[i - 1])) }
            }
        }
        let patches = (0..<bag.count).map { i in
            NucleusPatch(index: i, core: PixelRect(x: Int(bag.coords[2 * i]), y: Int(bag.coords[2 * i + 1]), width: step, height: step))
        }
        return (patches, size, step)
    }
}

/// `<id>.nuclei.json`: what made the outputs.
/// `<id>.nuclei.json`: what made a slide's nuclei (read back by Pathomics).
public struct NucleiProvenance: Codable, Sendable {
    public struct Bag: Codable, Sendable { public var path: String; public var patches: Int; public var patchSizeLevel0: Int; public var coreSizeLevel0: Int }
    public var tool: String, version: String, command: String
    public var slide: String, slideID: String, quickhash: String
    public var slideMPP: Double, mppSource: String
    public var region: [Int]?
    public var bag: Bag?
    public var parameters: NucleiParameters
    public var detection: DetectionInfo
    public var features: [String]
    public var files: [String: String]

    public static func read(_ path: String) throws -> NucleiProvenance {
        try JSONDecoder().decode(NucleiProvenance.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
    }
}
