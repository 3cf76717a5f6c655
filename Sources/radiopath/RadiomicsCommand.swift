import Archive
import ArgumentParser
import Foundation
import ImageCore
import Radiomics
import Tabular
import VolumeIO

struct RadiomicsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "radiomics",
        abstract: "IBSI radiomic features of CT/MR/PET regions, one row per case.",
        discussion: """
        Cases: --image and --mask, or --batch CSV with columns id,image,mask
        and optional label. Images and masks are NIfTI (.nii, .nii.gz), NRRD
        (.nrrd, .nhdr) or a DICOM series folder; a mask may be an RTSTRUCT
        file (--roi names the structure). Under --out:
          radiomics.csv           one row per case: id, provenance, features
          radiomics_features.csv  every feature column: image type, IBSI tag,
                                  PyRadiomics name
          radiomics_failures.csv  cases that failed, with the reason
          radiomics_run.json      version, mode, parameters, per-case hashes
          cases/<id>.json         per-case results (a rerun skips these)
          maps/<id>/<tag>.nii.gz  with --maps: voxel-wise feature maps

        Features are IBSI-exact by default and named by their IBSI tags with
        the image type in front (original_stat_mean, wavelet-LLH_cm_contrast_3D_avg).
        --mode pyradiomics follows PyRadiomics 3.0.1's conventions and names
        (original_firstorder_Mean) to reproduce older studies.

        --params takes PyRadiomics' YAML/JSON layout (setting, imageType,
        featureClass) with RadioPath's IBSI keys; docs/radiomics.md lists
        them. Without --params: no resampling, 32 bins (IBSI) or bin width
        25 (PyRadiomics), original image, every family.
        Exit status: 0 all cases done, 1 some failed, 64 bad arguments (usage).
        """)

    @Option(help: "Image volume (NIfTI, NRRD or DICOM folder).")
    var image: String?

    @Option(help: "Mask volume on the image grid, or an RTSTRUCT file.")
    var mask: String?

    @Option(help: "Case id for --image/--mask (default: the image file name).")
    var id: String?

    @Option(help: "CSV of cases: id,image,mask[,label].")
    var batch: String?

    @Option(help: "Parameter file (YAML or JSON, PyRadiomics layout).")
    var params: String?

    @Option(help: "Conventions and names: ibsi or pyradiomics.")
    var mode = "ibsi"

    @Option(help: "Mask label (overrides the parameter file).")
    var label: Int?

    @Option(help: "RTSTRUCT structure name when the mask is an RTSTRUCT.")
    var roi: String?

    @Option(help: "Output folder (created if missing).")
    var out = "radiomics-out"

    @Flag(help: "Also write voxel-wise feature maps (NIfTI).")
    var maps = false

    @Option(name: .customLong("kernel-radius"), help: "Map neighbourhood radius in voxels.")
    var kernelRadius = 1

    @Option(name: .customLong("map-features"), parsing: .upToNextOption, help: "IBSI tags to map (default: all of them).")
    var mapFeatures: [String] = []

    @Option(help: "Cases in parallel (each case also uses every core).")
    var jobs = 1

    @Flag(help: "Redo cases whose results exist.")
    var force = false

    @Flag(help: "Print the run summary as JSON on standard output.")
    var json = false

    struct Case: Sendable { let id: String, image: String, mask: String, label: Int? }

    struct CaseResult: Codable, Sendable {
        let id: String, image: String, mask: String
        var label: Int?
        var status: String
        var error: String?
        var seconds: Double
        var parametersSHA256: String
        var imageSHA256: String?
        var maskSHA256: String?
        var columns: [String]
        var values: [Double?]
        var notes: [String]
    }

    func run() throws {
        guard let convention = Convention(rawValue: mode) else {
            throw ValidationError("--mode \(mode): use ibsi or pyradiomics")
        }
        var configuration = RadiomicsConfiguration(convention: convention)
        var parametersText = ""
        if let params {
            do {
                configuration = try RadiomicsConfiguration(file: try ParameterFile.read(params), convention: convention)
                parametersText = (try? String(contentsOfFile: params, encoding: .utf8)) ?? ""
            } catch { throw ValidationError("\(params): \(error)") }
        }
        if let label { configuration.label = label }
        let cases = try readCases()
        guard !cases.isEmpty else { throw ValidationError("no cases: give --image and --mask, or --batch CSV") }
        let duplicates = Dictionary(grouping: cases, by: \.id).filter { $0.value.count > 1 }.keys.sorted()
        guard duplicates.isEmpty else { throw ValidationError("duplicate case ids: \(duplicates.joined(separator: ", "))") }
        do {
            try FileManager.default.createDirectory(atPath: out + "/cases", withIntermediateDirectories: true)
        } catch { throw ValidationError("\(out): cannot create the output folder (\(error.localizedDescription))") }
        BatchRunner.removeStaleTemporaryFiles(in: [out, out + "/cases"])

        let parametersHash = Self.hash(Data("\(mode)\n\(label.map(String.init) ?? "")\n\(parametersText)".utf8))
        let progress = BatchProgress(total: cases.count, unitName: "cases")
        BatchRunner.installInterruptHandler { progress.note("stopping after the cases in progress (Ctrl-C again to abort)") }
        let configured = configuration
        let results = BatchRunner.run(cases, jobs: jobs, work: { c in
            self.process(c, configured, parametersHash: parametersHash)
        }) { _, r in
            progress.itemFinished(line: Self.statusLine(r), units: 1)
        }
        progress.finish()
        let finished = results.compactMap { $0 }
        try writeTables(finished, convention: convention, parametersText: parametersText, parametersHash: parametersHash,
                        ignored: configuration.ignoredKeys)
        let failed = finished.filter { $0.status == "failed" }.count
        if json {
            let summary: [String: Any] = ["cases": cases.count, "done": finished.filter { $0.status != "failed" }.count,
                                          "failed": failed, "out": out, "table": out + "/radiomics.csv"]
            print(String(decoding: try JSONSerialization.data(withJSONObject: summary, options: [.sortedKeys]), as: UTF8.self))
        }
        if failed > 0 { throw ExitCode(1) }
    }

    private func readCases() throws -> [Case] {
        if let batch {
            let table: CSVTable
            do { table = try CSVTable.read(path: batch) } catch { throw ValidationError("\(error)") }
            guard let ic = table.column("id"), let im = table.column("image"), let mc = table.column("mask") else {
                throw ValidationError("\(batch): needs columns id,image,mask (optional label); found \(table.header.joined(separator: ","))")
            }
            let lc = table.column("label")
            let folder = URL(fileURLWithPath: batch).deletingLastPathComponent().path
            func resolve(_ p: String) -> String { p.hasPrefix("/") ? p : folder + "/" + p }
            return try table.rows.enumerated().map { n, row in
                guard row.count > max(ic, im, mc), !row[ic].isEmpty else { throw ValidationError("\(batch): row \(n + 2) is incomplete") }
                let label = lc.flatMap { row.count > $0 ? Int(row[$0]) : nil }
                return Case(id: row[ic], image: resolve(row[im]), mask: resolve(row[mc]), label: label)
            }
        }
        guard let image, let mask else { return [] }
        let name = URL(fileURLWithPath: image).lastPathComponent
        let stem = [".nii.gz", ".nii", ".nrrd", ".nhdr"].first { name.hasSuffix($0) }.map { String(name.dropLast($0.count)) } ?? name
        return [Case(id: id ?? stem, image: image, mask: mask, label: nil)]
    }

    private func process(_ c: Case, _ configuration: RadiomicsConfiguration, parametersHash: String) -> CaseResult {
        let casePath = "\(out)/cases/\(Self.safeName(c.id)).json"
        if !force, let data = FileManager.default.contents(atPath: casePath),
           var previous = try? JSONDecoder().decode(CaseResult.self, from: data),
           previous.parametersSHA256 == parametersHash, previous.status == "done" {
            previous.status = "skipped"
            return previous
        }
        let t0 = DispatchTime.now().uptimeNanoseconds
        var result = CaseResult(id: c.id, image: c.image, mask: c.mask, label: c.label ?? configuration.label, status: "failed",
                                error: nil, seconds: 0, parametersSHA256: parametersHash, columns: [], values: [], notes: [])
        do {
            let image = try VolumeFile.read(c.image)
            let mask = try readMask(c.mask, on: image)
            result.imageSHA256 = try? Self.hashPath(c.image)
            result.maskSHA256 = try? Self.hashPath(c.mask)
            var cfg = configuration
            if let l = c.label { cfg.label = l }
            let columns = try RadiomicsPipeline.run(image: image, mask: mask, configuration: cfg)
            let pyNames = cfg.parameters.convention == .pyradiomics
            result.columns = columns.map { $0.name(pyradiomicsNames: pyNames) }
            result.values = columns.map { $0.value.isFinite ? $0.value : nil }
            if maps {
                try writeMaps(c, image: image, mask: mask, cfg)
            }
            result.status = "done"
        } catch {
            result.error = "\(error)"
        }
        result.seconds = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
        if result.status == "done" {
            do { try AtomicFile.write(try Self.encoder.encode(result), to: casePath) } catch {
                result.status = "failed"
                result.error = "\(casePath): cannot write (\(error.localizedDescription))"
            }
        }
        return result
    }

    /// A mask volume, or an RTSTRUCT rasterised on the image grid.
    private func readMask(_ path: String, on image: Volume) throws -> Volume {
        let volumeSuffixes = [".nii", ".nii.gz", ".nrrd", ".nhdr", ".hdr", ".img"]
        var isFolder: ObjCBool = false
        let isVolume = volumeSuffixes.contains { path.lowercased().hasSuffix($0) }
            || (FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) && isFolder.boolValue)
        if !isVolume, let rt = try? RTStruct.read(path) {
            let names = rt.rois.map(\.name)
            let chosen = roi.flatMap { name in rt.rois.first { $0.name == name } } ?? (rt.rois.count == 1 ? rt.rois.first : nil)
            guard let structure = chosen else {
                throw VolumeError(path: path, reason: "RTSTRUCT holds \(names.count) structures (\(names.joined(separator: ", ")))",
                                  hint: "name one with --roi")
            }
            return try rt.mask(roi: structure.name, on: image)
        }
        return try VolumeFile.read(path)
    }

    private func writeMaps(_ c: Case, image: Volume, mask: Volume, _ cfg: RadiomicsConfiguration) throws {
        let folder = "\(out)/maps/\(Self.safeName(c.id))"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let volumes = try VoxelFeatureMaps.compute(image: image, mask: mask, label: cfg.label, parameters: cfg.parameters,
                                                   texture: cfg.texture, kernelRadius: kernelRadius,
                                                   features: mapFeatures.isEmpty ? nil : mapFeatures)
        for (tag, volume) in volumes {
            try NIfTI.write(volume, to: "\(folder)/\(tag).nii.gz", as: .float32)
        }
    }

    private func writeTables(_ results: [CaseResult], convention: Convention, parametersText: String, parametersHash: String,
                             ignored: [String]) throws {
        let done = results.filter { $0.status != "failed" }
        // Columns in first-seen order over the cases (all cases share a configuration).
        var order: [String] = []
        var seen = Set<String>()
        for r in done { for c in r.columns where seen.insert(c).inserted { order.append(c) } }
        let provenance = ["id", "image", "mask", "label", "radiopath_version", "mode", "parameters_sha256", "image_sha256", "mask_sha256"]
        let rows: [[String]] = done.map { r in
            let byName = Dictionary(zip(r.columns, r.values), uniquingKeysWith: { a, _ in a })
            return [r.id, r.image, r.mask, r.label.map(String.init) ?? "", RadioPath.version, mode, r.parametersSHA256,
                    r.imageSHA256 ?? "", r.maskSHA256 ?? ""]
                + order.map { name in byName[name].flatMap { $0 }.map { "\($0)" } ?? "" }
        }
        try AtomicFile.write(Data(CSVTable(header: provenance + order, rows: rows).encoded().utf8), to: "\(out)/radiomics.csv")
        try AtomicFile.write(Data(Self.dictionary(order).encoded().utf8), to: "\(out)/radiomics_features.csv")
        let failures = results.filter { $0.status == "failed" }
        try AtomicFile.write(Data(CSVTable(header: ["id", "image", "mask", "error"],
                                           rows: failures.map { [$0.id, $0.image, $0.mask, $0.error ?? ""] }).encoded().utf8),
                             to: "\(out)/radiomics_failures.csv")
        let run: [String: Any] = [
            "tool": "radiopath", "version": RadioPath.version, "command": CommandLine.arguments.joined(separator: " "),
            "mode": mode, "parameters_file": params ?? NSNull(), "parameters": parametersText, "parameters_sha256": parametersHash,
            "ignored_settings": ignored,
            "cases": results.map { ["id": $0.id, "status": $0.status, "seconds": $0.seconds, "image_sha256": $0.imageSHA256 ?? "",
                                    "mask_sha256": $0.maskSHA256 ?? "", "error": $0.error ?? ""] as [String: Any] },
        ]
        try AtomicFile.write(try JSONSerialization.data(withJSONObject: run, options: [.prettyPrinted, .sortedKeys]),
                             to: "\(out)/radiomics_run.json")
    }

    /// What each feature column is: image type, IBSI tag and PyRadiomics name.
    static func dictionary(_ columns: [String]) -> CSVTable {
        let aliases = RadiomicsNames.aliases()
        let rows: [[String]] = columns.map { column in
            // Column = <image type>_<name>; image types never contain '_' (filter names use '-').
            let split = column.firstIndex(of: "_").map { (String(column[..<$0]), String(column[column.index(after: $0)...])) } ?? ("", column)
            let (tag, py) = aliases.byTag[split.1] != nil ? (split.1, aliases.byTag[split.1]!) : (aliases.byAlias[split.1] ?? "", split.1)
            return [column, split.0, tag, py]
        }
        return CSVTable(header: ["column", "image_type", "ibsi_tag", "pyradiomics_name"], rows: rows)
    }

    static func statusLine(_ r: CaseResult) -> String {
        switch r.status {
        case "done": return String(format: "✓ %@: %d features · %.2f s", r.id, r.columns.count, r.seconds)
        case "skipped": return "· \(r.id): already done — --force redoes it"
        default: return "✗ \(r.id): \(r.error ?? "failed")"
        }
    }

    static func safeName(_ id: String) -> String {
        String(id.map { $0 == "/" || $0 == "\\" || $0 == ":" ? "_" : $0 })
    }

    static func hash(_ data: Data) -> String {
        var h = SHA256()
        data.withUnsafeBytes { h.update($0) }
        return h.finish().map { String(format: "%02x", $0) }.joined()
    }

    /// SHA-256 of a file, or of a DICOM folder's files in name order.
    static func hashPath(_ path: String) throws -> String {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir), isDir.boolValue else {
            return try SHA256.hexDigest(ofFile: path)
        }
        let names = try FileManager.default.contentsOfDirectory(atPath: path).sorted()
        return hash(Data(try names.map { "\($0) \(try SHA256.hexDigest(ofFile: path + "/" + $0))" }.joined(separator: "\n").utf8))
    }

    static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        return e
    }()
}
