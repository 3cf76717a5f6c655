import Foundation

/// A 256-entry colour lookup table, as matplotlib's colormaps (and so CLAM's heatmaps) use
/// them. The shipped tables are matplotlib's own, in `Atlases/colormaps/<name>.csv`
/// (written by `scripts/make_colormaps.py`).
///
/// Lookup follows matplotlib exactly: a value v in [0, 1] takes entry
/// min(⌊v·256⌋, 255), values below 0 the first entry, above 1 the last, NaN none (the
/// pixel stays unpainted); bytes are the table's floats times 255, truncated, as
/// `cmap(v, bytes=True)` and CLAM's `(cmap(v) * 255).astype(np.uint8)` give.
public struct Colormap: Sendable, Equatable {
    public let name: String
    /// 256 entries of R, G, B.
    public let table: [UInt8]

    /// The tables shipped in `Atlases/colormaps/`.
    public static let shipped = ["jet", "coolwarm", "viridis", "magma", "inferno", "RdBu_r"]

    public init(name: String, table: [UInt8]) {
        precondition(table.count == 768, "Colormap \(name): \(table.count) bytes, need 256 × 3")
        self.name = name
        self.table = table
    }

    /// The entry matplotlib picks for `v`; nil for NaN.
    @inline(__always)
    public static func index(_ v: Float) -> Int? {
        if v.isNaN { return nil }
        if v <= 0 { return 0 }
        if v >= 1 { return 255 }
        return Swift.min(255, Int(v * 256))
    }

    /// The colour of `v` (see the type's notes); nil for NaN.
    public func color(_ v: Double) -> (UInt8, UInt8, UInt8)? {
        guard let i = Colormap.index(Float(v)) else { return nil }
        return (table[3 * i], table[3 * i + 1], table[3 * i + 2])
    }

    /// A shipped colormap by name (case-insensitive: "jet", "viridis", "rdbu_r", ...) or a
    /// CSV file by path. Throws naming the folders searched when the name is unknown.
    public static func named(_ nameOrPath: String) throws -> Colormap {
        if nameOrPath.contains("/") || nameOrPath.hasSuffix(".csv") {
            return try load(path: nameOrPath)
        }
        let wanted = shipped.first { $0.lowercased() == nameOrPath.lowercased() } ?? nameOrPath
        if let path = AtlasLibrary.find("colormaps/\(wanted).csv") { return try load(path: path) }
        throw HeatmapError(path: "colormaps/\(wanted).csv",
                           reason: "no colormap '\(nameOrPath)' in \(AtlasLibrary.searchFolders().joined(separator: ", "))",
                           hint: "use one of \(shipped.joined(separator: ", ")), give a CSV path, or set RADIOPATH_ATLASES to the package's Atlases folder")
    }

    /// Reads a CSV of 256 rows `r,g,b`, either floats in 0–1 (bytes = ⌊v·255⌋, matplotlib's
    /// rule) or integers in 0–255; `#` lines are comments.
    public static func load(path: String) throws -> Colormap {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw HeatmapError(path: path, reason: "cannot read the colormap (\(error.localizedDescription))")
        }
        return try parse(csv: text, name: URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent, file: path)
    }

    /// Parses colormap CSV text (see `load(path:)`); `file` names it in errors.
    public static func parse(csv text: String, name: String, file: String) throws -> Colormap {
        var rows: [[Double]] = []
        for (n, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            let parts = line.split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) }
            guard parts.count == 3, parts.allSatisfy({ $0 != nil && $0!.isFinite && $0! >= 0 }) else {
                throw HeatmapError(path: file, reason: "line \(n + 1) is not three non-negative numbers r,g,b: '\(line)'")
            }
            rows.append(parts.map { $0! })
        }
        guard rows.count == 256 else {
            throw HeatmapError(path: file, reason: "has \(rows.count) colour rows; a colormap needs exactly 256",
                               hint: "regenerate it with scripts/make_colormaps.py")
        }
        let unit = rows.allSatisfy { $0.allSatisfy { $0 <= 1 } }
        var table = [UInt8]()
        table.reserveCapacity(768)
        for (n, r) in rows.enumerated() {
            for v in r {
                guard unit || v <= 255 else { throw HeatmapError(path: file, reason: "row \(n + 1) has \(v), above 255") }
                table.append(UInt8(unit ? v * 255 : v.rounded()))
            }
        }
        return Colormap(name: name, table: table)
    }
}
