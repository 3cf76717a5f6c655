import Cells
import Foundation
import ImageCore
import PatchBag
import SlideIO
import Tabular

/// One slide's pathomics from its `radiopath cells` outputs: the nuclei table, the tissue
/// patches it was measured on and the slide itself.
public struct PathomicsRequest: Sendable {
    public var slideID: String
    /// `<id>.nuclei.json` written by `radiopath cells` (slide path, scale, bag, features).
    public var nucleiProvenancePath: String
    /// Where the slide is when it moved since `cells` ran (the recorded path otherwise).
    public var slidePathOverride: String?
    public var outputDirectory: String
    public var options = PathomicsOptions()
    /// The cell graph written per slide.
    public var graphKind: CellGraph.Kind = .knn
    public var force = false
    public var workers = ProcessInfo.processInfo.activeProcessorCount
    public var toolVersion: String
    public var command: String

    public init(slideID: String, nucleiProvenancePath: String, outputDirectory: String, toolVersion: String, command: String) {
        self.slideID = slideID
        self.nucleiProvenancePath = nucleiProvenancePath
        self.outputDirectory = outputDirectory
        self.toolVersion = toolVersion
        self.command = command
    }

    public var patchTablePath: String { "\(outputDirectory)/patches/\(slideID).csv" }
    public var graphPath: String { "\(outputDirectory)/graphs/\(slideID).h5" }
    /// Written last: its presence marks the slide as finished; it holds the slide's row.
    public var recordPath: String { "\(outputDirectory)/records/\(slideID).json" }
}

public struct PathomicsResult: Codable, Sendable {
    public enum Status: String, Codable, Sendable { case done, skipped, failed }
    public var slideID: String
    public var status: Status
    public var patches = 0
    public var nuclei = 0
    public var graphEdges = 0
    public var seconds = 0.0
    /// The slide-level row, nil for empty (undefined) cells, and its column names.
    public var slideRow: [Double?] = []
    public var slideColumns: [String] = []
    public var error: String?
    public var hint: String?

    public init(slideID: String, status: Status) {
        self.slideID = slideID
        self.status = status
    }
}

public enum PathomicsJob {
    /// Runs one slide; failures are returned, never thrown, so a batch goes on.
    public static func run(_ req: PathomicsRequest, progress: (Int) -> Void = { _ in }) -> PathomicsResult {
        if !req.force, let data = FileManager.default.contents(atPath: req.recordPath),
           var previous = try? JSONDecoder().decode(PathomicsResult.self, from: data),
           FileManager.default.fileExists(atPath: req.patchTablePath), FileManager.default.fileExists(atPath: req.graphPath) {
            previous.status = .skipped
            return previous
        }
        let t0 = DispatchTime.now().uptimeNanoseconds
        var result = PathomicsResult(slideID: req.slideID, status: .failed)
        do {
            try execute(req, &result, progress)
            result.status = .done
        } catch let e as PathomicsError {
            result.error = e.message
        } catch let e as SlideError {
            result.error = "\(e.path): \(e.reason)"; result.hint = e.hint
        } catch {
            result.error = "\(error)"
        }
        result.seconds = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
        if result.status == .done {
            do {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys]
                try AtomicFile.write(try encoder.encode(result), to: req.recordPath)
            } catch {
                result.status = .failed
                result.error = "\(req.recordPath): cannot write (\(error.localizedDescription))"
            }
        }
        return result
    }

    private static func execute(_ req: PathomicsRequest, _ result: inout PathomicsResult, _ progress: (Int) -> Void) throws {
        let provenance: NucleiProvenance
        do { provenance = try NucleiProvenance.read(req.nucleiProvenancePath) } catch {
            throw PathomicsError("\(req.nucleiProvenancePath): not a `radiopath cells` record (\(error.localizedDescription)); rerun radiopath cells for this slide")
        }
        guard let bagInfo = provenance.bag else {
            throw PathomicsError("\(req.nucleiProvenancePath): the nuclei were not measured on tissue patches (--region or --whole); run radiopath cells without them")
        }
        let csvPath = URL(fileURLWithPath: req.nucleiProvenancePath).deletingLastPathComponent().path + "/\(req.slideID).nuclei.csv"
        let nuclei = try readNuclei(csvPath, names: provenance.features)
        result.nuclei = nuclei.count
        let mpp = provenance.slideMPP
        let extractor = try PatchFeatureExtractor(nuclei: nuclei, micronsPerPixel: mpp, options: req.options)
        let bag = try PatchBag.read(path: bagInfo.path)
        guard case .int(let level)? = bag.coordsAttributes["patch_level"], case .int(let readSize)? = bag.coordsAttributes["patch_size"] else {
            throw PathomicsError("\(bagInfo.path): patch bag without patch_level/patch_size attributes; re-tile with radiopath tile")
        }
        var outputSize = Int(readSize)
        if case .int(let t)? = bag.coordsAttributes["target_patch_size"], t > 0 { outputSize = Int(t) }
        let size0 = bagInfo.patchSizeLevel0
        let slide = try Slide.open(path: req.slidePathOverride ?? provenance.slide, mppOverride: mpp)
        let stream = try PatchStream(slide: slide, request: PatchRequest(coords: bag.coords, level: Int(level), readSize: Int(readSize),
                                                                     outputSize: outputSize),
                                     batchSize: 16, workers: max(1, req.workers))
        var rows = [[Double]](repeating: [], count: bag.count)
        _ = try stream.run { batch in
            // Patches of a batch in parallel: the extractor is immutable.
            final class Rows: @unchecked Sendable { var values: [[Double]]; init(_ n: Int) { values = .init(repeating: [], count: n) } }
            let out = Rows(batch.count)
            DispatchQueue.concurrentPerform(iterations: batch.count) { i in
                let px = Array(batch.patch(i))
                let image = RGBImage(width: batch.patchSize, height: batch.patchSize, pixels: px)
                let rect = PixelRect(x: Int(batch.coords[2 * i]), y: Int(batch.coords[2 * i + 1]), width: size0, height: size0)
                out.values[i] = extractor.features(rect: rect, image: image)
            }
            for i in 0..<batch.count { rows[batch.indices[i]] = out.values[i] }
            progress(batch.count)
        }
        rows = rows.filter { !$0.isEmpty }
        result.patches = rows.count
        try FileManager.default.createDirectory(atPath: req.outputDirectory + "/patches", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: req.outputDirectory + "/graphs", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: req.outputDirectory + "/records", withIntermediateDirectories: true)
        try PathomicsTables.write(PathomicsTables.patchTable(slide: req.slideID, definitions: extractor.definitions, rows: rows),
                                  to: req.patchTablePath)
        result.slideColumns = PathomicsTables.slideNames(patchDefinitions: extractor.definitions)
        result.slideRow = try PathomicsTables.aggregate(patchRows: rows, patchDefinitions: extractor.definitions).map { $0.isFinite ? $0 : nil }

        let graph: CellGraph
        switch req.graphKind {
        case .delaunay: graph = CellGraph.delaunay(positions: nuclei.positions, micronsPerPixel: mpp)
        case .radius: graph = CellGraph.radius(positions: nuclei.positions, micronsPerPixel: mpp, radius: req.options.graph.neighbourRadii.last ?? 50)
        default: graph = CellGraph.knn(positions: nuclei.positions, micronsPerPixel: mpp, k: req.options.graph.knnK,
                                       maxDistance: req.options.graph.knnMaxDistance)
        }
        result.graphEdges = graph.edgeCount
        try GraphHDF5.write(path: req.graphPath, graph: graph, nodeFeatures: nuclei.features.map { Float($0) },
                            featureNames: nuclei.featureNames, location: .pixels,
                            attributes: ["tool": .string("radiopath"), "version": .string(req.toolVersion), "command": .string(req.command),
                                         "slide": .string(provenance.slide), "slide_id": .string(req.slideID),
                                         "quickhash": .string(provenance.quickhash), "slide_mpp": .double(mpp)])
    }

    /// `<id>.nuclei.csv` → positions and the named feature matrix, streamed line by line
    /// (a slide holds up to millions of nuclei; no string table is kept).
    static func readNuclei(_ path: String, names: [String]) throws -> NucleusTable {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw PathomicsError("\(path): cannot open the nuclei table; rerun radiopath cells for this slide")
        }
        defer { try? handle.close() }
        var positions: [SIMD2<Double>] = []
        var features: [Double] = []
        var header: [String]?
        var carry = Data()
        var lineNumber = 0
        func consume(_ line: Substring) throws {
            lineNumber += 1
            guard !line.isEmpty else { return }
            let cells = line.split(separator: ",", omittingEmptySubsequences: false)
            if header == nil {
                header = cells.map(String.init)
                guard header!.prefix(4) == ["nucleus_id", "centroid_x", "centroid_y", "patch_index"], Array(header!.dropFirst(4)) == names else {
                    throw PathomicsError("\(path): header does not match its .nuclei.json feature list; rerun radiopath cells with --force")
                }
                return
            }
            guard cells.count == names.count + 4, let x = Double(cells[1]), let y = Double(cells[2]) else {
                throw PathomicsError("\(path):\(lineNumber): malformed row; rerun radiopath cells with --force")
            }
            positions.append(SIMD2(x, y))
            for c in cells[4...] { features.append(Double(c) ?? .nan) }
        }
        while true {
            let chunk = handle.readData(ofLength: 1 << 20)
            if chunk.isEmpty { break }
            carry.append(chunk)
            guard let last = carry.lastIndex(of: UInt8(ascii: "\n")) else { continue }
            let text = String(decoding: carry[carry.startIndex..<last], as: UTF8.self)
            for line in text.split(separator: "\n", omittingEmptySubsequences: false) { try consume(line) }
            carry = Data(carry[(last + 1)...])
        }
        if !carry.isEmpty { try consume(Substring(String(decoding: carry, as: UTF8.self))) }
        return try NucleusTable(positions: positions, featureNames: names, features: features)
    }
}
