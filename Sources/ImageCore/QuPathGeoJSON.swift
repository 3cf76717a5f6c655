import Foundation

/// GeoJSON that QuPath (0.3 and later) imports as annotations or detections: a
/// FeatureCollection of Polygon/MultiPolygon features with `objectType`, `classification`
/// and `measurements` properties. Output is byte-deterministic (fixed key order, fixed
/// decimals) so identical inputs give identical files.
public enum QuPathGeoJSON {
    public enum ObjectType: String, Sendable { case annotation, detection }

    public struct Feature: Sendable {
        public var id: String
        public var polygon: PolygonWithHoles
        public var objectType: ObjectType
        public var name: String?
        public var className: String?
        public var color: (UInt8, UInt8, UInt8)?
        public var measurements: [(String, Double)]

        public init(id: String, polygon: PolygonWithHoles, objectType: ObjectType = .annotation, name: String? = nil,
                    className: String? = nil, color: (UInt8, UInt8, UInt8)? = nil, measurements: [(String, Double)] = []) {
            self.id = id; self.polygon = polygon; self.objectType = objectType; self.name = name
            self.className = className; self.color = color; self.measurements = measurements
        }
    }

    /// A UUID-formatted id derived from a string, stable across runs (QuPath keeps ids as UUIDs).
    public static func stableID(_ key: String) -> String {
        var a: UInt64 = 0xcbf29ce484222325, b: UInt64 = 0x84222325cbf29ce4
        for byte in key.utf8 {
            a = (a ^ UInt64(byte)) &* 0x100000001b3
            b = (b ^ UInt64(byte)) &* 0x100000001b3 ^ (b >> 29)
        }
        let hex = String(format: "%016llx%016llx", a, b)
        var chars = Array(hex)
        chars[12] = "4"                           // version 4 layout
        chars[16] = ["8", "9", "a", "b"][Int(b & 3)]
        let s = String(chars)
        let i = s.startIndex
        func sub(_ from: Int, _ to: Int) -> Substring { s[s.index(i, offsetBy: from)..<s.index(i, offsetBy: to)] }
        return "\(sub(0, 8))-\(sub(8, 12))-\(sub(12, 16))-\(sub(16, 20))-\(sub(20, 32))"
    }

    /// Encodes features as a FeatureCollection. Rings are closed (first point repeated) and
    /// oriented as RFC 7946 asks: outer counter-clockwise, holes clockwise, judged on the
    /// coordinates as written (on screen, with y down, that looks the other way round).
    public static func encode(_ features: [Feature]) -> Data {
        var out = "{\"type\":\"FeatureCollection\",\"features\":["
        for (n, f) in features.enumerated() {
            if n > 0 { out += "," }
            out += "\n{\"type\":\"Feature\",\"id\":\"\(f.id)\",\"geometry\":{\"type\":\"Polygon\",\"coordinates\":["
            out += ring(f.polygon.outer, outer: true)
            for h in f.polygon.holes { out += "," + ring(h, outer: false) }
            out += "]},\"properties\":{\"objectType\":\"\(f.objectType.rawValue)\""
            if let name = f.name { out += ",\"name\":\(jsonString(name))" }
            if let cls = f.className {
                out += ",\"classification\":{\"name\":\(jsonString(cls))"
                if let c = f.color { out += ",\"color\":[\(c.0),\(c.1),\(c.2)]" }
                out += "}"
            }
            out += ",\"isLocked\":false"
            if !f.measurements.isEmpty {
                out += ",\"measurements\":{"
                out += f.measurements.map { "\(jsonString($0.0)):\(number($0.1))" }.joined(separator: ",")
                out += "}"
            }
            out += "}}"
        }
        out += "\n]}\n"
        return Data(out.utf8)
    }

    static func ring(_ points: [Point], outer: Bool) -> String {
        guard let first = points.first else { return "[]" }
        // Readers take the written (x, y) as a y-up plane: orientation is judged on them as written.
        var pts = points
        let area = Polygon.signedArea(points)
        if (outer && area < 0) || (!outer && area > 0) { pts.reverse() }
        var s = "["
        for p in pts { s += "[\(number(p.x)),\(number(p.y))]," }
        s += "[\(number(pts.first?.x ?? first.x)),\(number(pts.first?.y ?? first.y))]]"
        return s
    }

    /// Shortest text of `v` rounded to 2 decimals ("12", "12.5", "-0.25"). Hand-rolled because
    /// String(format:) dominated encoding contours with many thousands of vertices.
    static func number(_ v: Double) -> String {
        guard v.isFinite, abs(v) < 1e15 else { return v.isFinite ? String(v) : "0" }
        let cents = Int64((v * 100).rounded())
        let sign = cents < 0 ? "-" : ""
        let a = cents.magnitude
        let whole = a / 100, frac = a % 100
        if frac == 0 { return sign + String(whole) }
        if frac % 10 == 0 { return sign + String(whole) + "." + String(frac / 10) }
        return sign + String(whole) + (frac < 10 ? ".0" : ".") + String(frac)
    }

    static func jsonString(_ s: String) -> String {
        var out = "\""
        for ch in s.unicodeScalars {
            switch ch {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            default:
                if ch.value < 0x20 { out += String(format: "\\u%04x", ch.value) } else { out.unicodeScalars.append(ch) }
            }
        }
        return out + "\""
    }
}
