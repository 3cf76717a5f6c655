import Foundation
import ImageCore
import ZlibIO

/// Streams nuclei into a QuPath GeoJSON file (detections with measurements; gzip when the path
/// ends in `.gz`) and a CSV table (one named column per feature), both written under temporary
/// names and renamed into place by ``finish()`` — an interrupted run leaves no half files.
///
/// GeoJSON: a FeatureCollection; each nucleus is a Feature with a Polygon (its pixel-edge outline,
/// level-0 px, rings closed, outer counter-clockwise as RFC 7946 reads it), `id` a stable UUID,
/// and properties `objectType: "detection"`, `classification: {"name": "Nucleus"}` and
/// `measurements` (every feature at full double precision; ImageCore's QuPathGeoJSON rounds to
/// 2 decimals, which is why this writer exists). Gzip output (level 1: fast, ~6× smaller than the
/// JSON) is a series of gzip members (one per ~1 MB of JSON), which gzip, Python's `gzip` and QuPath's Java reader all read as one stream.
///
/// CSV: `nucleus_id,centroid_x,centroid_y,patch_index,<features…>`; centroids in level-0 px,
/// `patch_index` the patch bag row (−1 without a bag).
public final class NucleiWriter {
    public let geojsonPath: String, csvPath: String
    public let featureNames: [String]
    private let gzip: Bool
    private let idPrefix: String
    private let geoTemp: String, csvTemp: String
    private let geo: FileHandle, csv: FileHandle
    private var geoBuffer = "", csvBuffer = ""
    public private(set) var count = 0
    private var finished = false

    /// `idPrefix` (e.g. the slide id) makes the feature ids unique across slides.
    public init(geojsonPath: String, csvPath: String, featureNames: [String], idPrefix: String) throws {
        self.geojsonPath = geojsonPath; self.csvPath = csvPath
        self.featureNames = featureNames
        self.idPrefix = idPrefix
        gzip = geojsonPath.lowercased().hasSuffix(".gz")
        for p in [geojsonPath, csvPath] {
            let dir = URL(fileURLWithPath: p).deletingLastPathComponent().path
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        }
        geoTemp = AtomicFile.temporaryPath(for: geojsonPath)
        csvTemp = AtomicFile.temporaryPath(for: csvPath)
        func open(_ p: String) throws -> FileHandle {
            guard FileManager.default.createFile(atPath: p, contents: nil), let h = FileHandle(forWritingAtPath: p) else {
                throw CellsError(what: "cannot create \(p)", hint: "check that the output folder is writable and has free space")
            }
            return h
        }
        geo = try open(geoTemp)
        do { csv = try open(csvTemp) } catch { try? geo.close(); unlink(geoTemp); throw error }
        geoBuffer = "{\"type\":\"FeatureCollection\",\"features\":["
        csvBuffer = (["nucleus_id", "centroid_x", "centroid_y", "patch_index"] + featureNames).joined(separator: ",") + "\n"
    }

    deinit { if !finished { cancel() } }

    /// Adds nuclei (in the order given).
    public func append(_ nuclei: [Nucleus]) throws {
        for n in nuclei {
            precondition(n.features.count == featureNames.count, "NucleiWriter: \(n.features.count) features for \(featureNames.count) names")
            let id = count
            geoBuffer += (count == 0 ? "\n" : ",\n")
            geoBuffer += "{\"type\":\"Feature\",\"id\":\"\(QuPathGeoJSON.stableID("\(idPrefix)/\(id)"))\",\"geometry\":{\"type\":\"Polygon\",\"coordinates\":["
            geoBuffer += Self.ring(n.contour.outer)
            for h in n.contour.holes { geoBuffer += "," + Self.ring(h) }
            geoBuffer += "]},\"properties\":{\"objectType\":\"detection\",\"classification\":{\"name\":\"Nucleus\"},\"measurements\":{"
            for (k, name) in featureNames.enumerated() {
                if k > 0 { geoBuffer += "," }
                geoBuffer += "\"\(name)\":" + Self.full(n.features[k])
            }
            geoBuffer += "}}}"
            csvBuffer += "\(id),\(Self.full(n.centroid.x)),\(Self.full(n.centroid.y)),\(n.patch)"
            for v in n.features { csvBuffer += "," + Self.csvValue(v) }
            csvBuffer += "\n"
            count += 1
        }
        if geoBuffer.utf8.count >= 1 << 20 { try flushGeo() }
        if csvBuffer.utf8.count >= 1 << 20 { try flushCSV() }
    }

    /// Completes both files and renames them into place.
    public func finish() throws {
        geoBuffer += "\n]}\n"
        try flushGeo(); try flushCSV()
        try geo.close(); try csv.close()
        finished = true
        for (tmp, path) in [(geoTemp, geojsonPath), (csvTemp, csvPath)] where rename(tmp, path) != 0 {
            let why = String(cString: strerror(errno))
            unlink(geoTemp); unlink(csvTemp)
            throw CellsError(what: "cannot rename the finished output into \(path) (\(why))", hint: "check the output folder's permissions")
        }
    }

    /// Abandons the outputs (removes the temporary files).
    public func cancel() {
        finished = true
        try? geo.close(); try? csv.close()
        unlink(geoTemp); unlink(csvTemp)
    }

    private func flushGeo() throws {
        guard !geoBuffer.isEmpty else { return }
        let data = Data(geoBuffer.utf8)
        geoBuffer = ""
        do { try geo.write(contentsOf: gzip ? try Gzip.compress(data, level: 1) : data) } catch {
            throw CellsError(what: "writing \(geojsonPath) failed (\(error))", hint: "check free disk space")
        }
    }

    private func flushCSV() throws {
        guard !csvBuffer.isEmpty else { return }
        let data = Data(csvBuffer.utf8)
        csvBuffer = ""
        do { try csv.write(contentsOf: data) } catch {
            throw CellsError(what: "writing \(csvPath) failed (\(error))", hint: "check free disk space")
        }
    }

    /// A closed ring, coordinates to 1/1000 px.
    static func ring(_ pts: [Point]) -> String {
        guard let first = pts.first else { return "[]" }
        var s = "["
        for p in pts { s += "[" + coord(p.x) + "," + coord(p.y) + "]," }
        s += "[" + coord(first.x) + "," + coord(first.y) + "]]"
        return s
    }

    /// Shortest text of `v` rounded to 3 decimals (coordinates are pixel edges × downsample).
    static func coord(_ v: Double) -> String {
        let m = Int64((v * 1000).rounded())
        let sign = m < 0 ? "-" : "", a = m.magnitude
        let whole = a / 1000, frac = a % 1000
        if frac == 0 { return sign + String(whole) }
        var f = String(frac)
        f = String(repeating: "0", count: 3 - f.count) + f
        while f.hasSuffix("0") { f.removeLast() }
        return sign + String(whole) + "." + f
    }

    /// Full precision (shortest round-trip text); JSON has no NaN, so those become null.
    static func full(_ v: Double) -> String { v.isFinite ? "\(v)" : "null" }
    static func csvValue(_ v: Double) -> String { v.isFinite ? "\(v)" : "" }
}
