import Foundation
import ZlibIO
import ImageCore

/// The scored patches as QuPath detections (File › Import objects): one square per patch
/// at its level-0 footprint, with measurements "score" (raw) and "percentile" (0–100), so
/// QuPath's measurement maps and tables show them.
///
/// Laid out as `ImageCore.QuPathGeoJSON` writes features (same keys, order and ids), but
/// measurements keep full precision: QuPathGeoJSON rounds every number to 2 decimals,
/// which erases attention scores (typically 1e-4 on a slide of 10,000 patches).
/// Coordinates are whole pixels. Patches whose score is NaN carry no measurements.
public enum HeatmapGeoJSON {
    /// The FeatureCollection text. `percentiles` (0–100) may be nil; `slideID` seeds the ids.
    public static func encode(patches: PatchSet, scores: [Double], percentiles: [Double]?, slideID: String,
                              className: String? = nil) -> Data {
        precondition(scores.count == patches.count && (percentiles?.count ?? scores.count) == scores.count,
                     "HeatmapGeoJSON: one score (and percentile) per patch")
        let s = Int64(patches.patchSizeLevel0.rounded())
        var out = "{\"type\":\"FeatureCollection\",\"features\":["
        out.reserveCapacity(patches.count * 330)
        for k in 0..<patches.count {
            let x = patches.coords[2 * k], y = patches.coords[2 * k + 1]
            if k > 0 { out += "," }
            out += "\n{\"type\":\"Feature\",\"id\":\"\(QuPathGeoJSON.stableID("\(slideID)/patch/\(k)"))\","
            out += "\"geometry\":{\"type\":\"Polygon\",\"coordinates\":[[[\(x),\(y)],[\(x + s),\(y)],[\(x + s),\(y + s)],[\(x),\(y + s)],[\(x),\(y)]]]},"
            out += "\"properties\":{\"objectType\":\"detection\",\"name\":\"patch \(k)\""
            if let c = className { out += ",\"classification\":{\"name\":\(quoted(c))}" }
            out += ",\"isLocked\":false"
            var m: [String] = []
            if scores[k].isFinite { m.append("\"score\":\(number(scores[k]))") }
            if let p = percentiles?[k], p.isFinite { m.append("\"percentile\":\(number(p))") }
            if !m.isEmpty { out += ",\"measurements\":{" + m.joined(separator: ",") + "}" }
            out += "}}"
        }
        out += "\n]}\n"
        return Data(out.utf8)
    }

    /// Writes `encode(...)` atomically to `path`, gzip-compressed when `path` ends in .gz.
    public static func write(patches: PatchSet, scores: [Double], percentiles: [Double]?, slideID: String,
                             className: String? = nil, to path: String) throws {
        var data = encode(patches: patches, scores: scores, percentiles: percentiles, slideID: slideID, className: className)
        if path.lowercased().hasSuffix(".gz") { data = try Gzip.compress(data) }
        try AtomicFile.write(data, to: path)
    }

    /// Shortest text that reads back as the same Double ("0.25", "1e-05").
    static func number(_ v: Double) -> String {
        if v == v.rounded(), abs(v) < 1e15 { return String(Int64(v)) }
        return "\(v)"
    }

    static func quoted(_ s: String) -> String {
        let data = (try? JSONSerialization.data(withJSONObject: [s])) ?? Data("[\"\"]".utf8)
        return String(decoding: data.dropFirst().dropLast(), as: UTF8.self)
    }
}
