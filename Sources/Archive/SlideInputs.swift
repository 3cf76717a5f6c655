import Foundation
import Tabular

/// One slide of a batch: where it is, the id its outputs are named by, and an optional
/// user-supplied scale.
public struct SlideInput: Sendable, Equatable {
    public var path: String
    public var slideID: String
    public var mpp: Double?
    /// The manifest's `label` column, when there is one (recorded in the catalog).
    public var label: String?
    public init(path: String, slideID: String, mpp: Double? = nil, label: String? = nil) {
        self.path = path; self.slideID = slideID; self.mpp = mpp; self.label = label
    }
}

/// An input that cannot become a job (missing file, duplicate id, bad manifest row).
public struct InputProblem: Sendable, Equatable {
    public var path: String
    public var reason: String
    public var hint: String
    public init(path: String, reason: String, hint: String) { self.path = path; self.reason = reason; self.hint = hint }
}

/// Turns command-line arguments (files, folders, CSV manifests) into slides.
public enum SlideInputs {
    /// File endings treated as slides when a folder is scanned: what OpenSlide opens plus plain images.
    public static let slideExtensions: Set<String> = [
        "svs", "tif", "tiff", "ndpi", "vms", "vmu", "scn", "mrxs", "svslide", "bif", "png", "jpg", "jpeg", "dcm",
    ]

    /// Expands arguments in order. A `.csv` argument is a manifest (columns `path` or `slide`,
    /// optional `slide_id`, `mpp` and `label`; relative paths are relative to the CSV). A folder adds the
    /// slide files in it (sorted; subfolders too when `recursive`). Anything else is a slide file.
    public static func expand(_ arguments: [String], recursive: Bool = false) -> (inputs: [SlideInput], problems: [InputProblem]) {
        var inputs: [SlideInput] = []
        var problems: [InputProblem] = []
        let fm = FileManager.default
        for arg in arguments {
            var isDir: ObjCBool = false
            if arg.lowercased().hasSuffix(".csv") {
                do { inputs += try readManifest(path: arg) } catch let p as InputProblem {
                    problems.append(p)
                } catch {
                    problems.append(InputProblem(path: arg, reason: "\(error)", hint: "check the manifest"))
                }
            } else if fm.fileExists(atPath: arg, isDirectory: &isDir) {
                // Absolute from here on: catalogs and patch bags record the path, and a later
                // job (embed, a Slurm task) may run from another folder.
                let arg = URL(fileURLWithPath: arg).standardizedFileURL.path
                if isDir.boolValue {
                    let found = slideFiles(in: arg, recursive: recursive)
                    if found.isEmpty {
                        problems.append(InputProblem(path: arg, reason: "folder holds no slide files",
                                                     hint: "expected endings: \(slideExtensions.sorted().joined(separator: ", "))\(recursive ? "" : "; use --recursive for subfolders")"))
                    }
                    inputs += found.map { SlideInput(path: $0, slideID: slideID(for: $0)) }
                } else {
                    inputs.append(SlideInput(path: arg, slideID: slideID(for: arg)))
                }
            } else {
                problems.append(InputProblem(path: arg, reason: "no such file or folder", hint: "check the path"))
            }
        }
        // Outputs are named by slide id, so two slides with one id would overwrite each other.
        var seen: [String: String] = [:]
        var unique: [SlideInput] = []
        for input in inputs {
            if let first = seen[input.slideID] {
                if first == input.path { continue }
                problems.append(InputProblem(path: input.path, reason: "slide id '\(input.slideID)' is also used by \(first)",
                                             hint: "rename one of them, or give a manifest CSV with a slide_id column"))
            } else {
                seen[input.slideID] = input.path
                unique.append(input)
            }
        }
        return (unique, problems)
    }

    /// The id outputs are named by: the file name without its last extension (as CLAM does).
    public static func slideID(for path: String) -> String {
        URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
    }

    static func slideFiles(in folder: String, recursive: Bool) -> [String] {
        let fm = FileManager.default
        var out: [String] = []
        let names = ((try? fm.contentsOfDirectory(atPath: folder)) ?? []).sorted()
        for name in names where !name.hasPrefix(".") {
            let path = (folder as NSString).appendingPathComponent(name)
            var isDir: ObjCBool = false
            fm.fileExists(atPath: path, isDirectory: &isDir)
            if isDir.boolValue {
                if recursive { out += slideFiles(in: path, recursive: true) }
            } else if slideExtensions.contains((name as NSString).pathExtension.lowercased()) {
                out.append(path)
            }
        }
        return out
    }

    static func readCSV(_ path: String) throws -> CSVTable {
        do { return try CSVTable.read(path: path) } catch let e as CSVError {
            throw InputProblem(path: e.path, reason: e.reason, hint: e.hint)
        }
    }

    /// Reads a manifest CSV: a `path` (or `slide`) column, optional `slide_id` and `mpp`.
    public static func readManifest(path: String) throws -> [SlideInput] {
        let rows = try readCSV(path)
        guard let pathCol = rows.column("path") ?? rows.column("slide") else {
            throw InputProblem(path: path, reason: "manifest has no 'path' or 'slide' column (header: \(rows.header.joined(separator: ",")))",
                               hint: "add a header row such as: path,slide_id,mpp")
        }
        let idCol = rows.column("slide_id"), mppCol = rows.column("mpp"), labelCol = rows.column("label")
        let base = URL(fileURLWithPath: path).deletingLastPathComponent()
        var out: [SlideInput] = []
        for (n, row) in rows.rows.enumerated() {
            let raw = row[pathCol].trimmingCharacters(in: .whitespaces)
            if raw.isEmpty { continue }
            let resolved = raw.hasPrefix("/") ? raw : base.appendingPathComponent(raw).standardizedFileURL.path
            var mpp: Double?
            if let c = mppCol, !row[c].trimmingCharacters(in: .whitespaces).isEmpty {
                guard let v = Double(row[c].trimmingCharacters(in: .whitespaces)), v > 0, v.isFinite else {
                    throw InputProblem(path: path, reason: "row \(n + 2): mpp '\(row[c])' is not a positive number", hint: "fix that row")
                }
                mpp = v
            }
            let id = idCol.map { row[$0].trimmingCharacters(in: .whitespaces) }.flatMap { $0.isEmpty ? nil : $0 } ?? slideID(for: resolved)
            let label = labelCol.map { row[$0].trimmingCharacters(in: .whitespaces) }.flatMap { $0.isEmpty ? nil : $0 }
            out.append(SlideInput(path: resolved, slideID: id, mpp: mpp, label: label))
        }
        return out
    }

    /// Reads a `slide,mpp` CSV (the `--mpp-csv` fix for slides without a usable scale). The
    /// `slide` column may hold a slide id, a file name or a path; all three are keys.
    public static func readMPPTable(path: String) throws -> [String: Double] {
        let rows = try readCSV(path)
        guard let s = rows.column("slide") ?? rows.column("slide_id") ?? rows.column("path"), let m = rows.column("mpp") else {
            throw InputProblem(path: path, reason: "needs columns 'slide' and 'mpp' (header: \(rows.header.joined(separator: ",")))",
                               hint: "write a header row: slide,mpp")
        }
        var table: [String: Double] = [:]
        for (n, row) in rows.rows.enumerated() {
            let key = row[s].trimmingCharacters(in: .whitespaces)
            guard !key.isEmpty else { continue }
            guard let v = Double(row[m].trimmingCharacters(in: .whitespaces)), v > 0, v.isFinite else {
                throw InputProblem(path: path, reason: "row \(n + 2): mpp '\(row[m])' is not a positive number", hint: "fix that row")
            }
            table[key] = v
        }
        return table
    }

    /// The user-supplied mpp for a slide from a table read by `readMPPTable`.
    public static func lookup(_ table: [String: Double], for input: SlideInput) -> Double? {
        table[input.slideID] ?? table[URL(fileURLWithPath: input.path).lastPathComponent] ?? table[input.path]
    }
}

extension InputProblem: Error, CustomStringConvertible {
    public var description: String { "\(path): \(reason) — \(hint)" }
}
