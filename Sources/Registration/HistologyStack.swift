import Foundation

/// A stack of histology sections described by RAPSODI's JSON (one object per section: file,
/// pixel size in µm, flip, rotation, region masks). Only the fields RadioPath uses are read.
public struct HistologyStack: Sendable {
    public struct Region: Sendable { public var key, id, filename, note: String }

    public struct Section: Sendable {
        /// The JSON key ("slice1", …) and the section's id.
        public var key: String
        public var id: String
        /// As written in the JSON (often Windows paths relative to the study root).
        public var filename: String
        /// µm per image pixel.
        public var mppX: Double, mppY: Double
        /// RAPSODI's orientation hints: mirror left–right, then turn by `rotationDegrees`
        /// (counter-clockwise as displayed, y down) to bring the section into the MRI's view.
        public var flip: Bool
        public var rotationDegrees: Double
        public var regions: [Region]

        public init(key: String, id: String, filename: String, mppX: Double, mppY: Double, flip: Bool, rotationDegrees: Double, regions: [Region]) {
            self.key = key; self.id = id; self.filename = filename; self.mppX = mppX; self.mppY = mppY
            self.flip = flip; self.rotationDegrees = rotationDegrees; self.regions = regions
        }

        /// The engine's hints: the mirror, and the fixed → moving rotation. Histology → MRI view
        /// is R(−α)·F in y-down coordinates (F the mirror, α the displayed CCW angle), so the
        /// fixed → moving matrix R(α')·F has α' = −α with a mirror and α' = α without.
        public var registrationHints: (flip: Bool, rotationDegrees: Double) {
            (flip, flip ? -rotationDegrees : rotationDegrees)
        }

        /// The file name with Windows separators turned into '/', resolved against `root`.
        public func resolvedPath(root: String) -> String {
            let rel = filename.replacingOccurrences(of: "\\", with: "/")
            return rel.hasPrefix("/") ? rel : (root as NSString).appendingPathComponent(rel)
        }
    }

    /// Sections in numeric order of their keys (slice1, slice2, …, slice10).
    public var sections: [Section]

    public static func read(_ path: String) throws -> HistologyStack {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw RegistrationError("\(path): cannot be read", hint: "check the path of the histology stack JSON")
        }
        guard let root = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw RegistrationError("\(path): not a JSON object", hint: "give RAPSODI's histology stack JSON ({\"slice1\": {...}, ...})")
        }
        var out: [Section] = []
        for (key, value) in root {
            guard let s = value as? [String: Any] else { continue }
            func number(_ k: String) -> Double? { (s[k] as? NSNumber)?.doubleValue ?? (s[k] as? String).flatMap(Double.init) }
            guard let filename = s["filename"] as? String else {
                throw RegistrationError("\(path): section '\(key)' has no \"filename\"", hint: "every section needs its image file")
            }
            guard let rx = number("resolution_x_um") else {
                throw RegistrationError("\(path): section '\(key)' has no \"resolution_x_um\"", hint: "add the pixel size in µm (RAPSODI writes resolution_x_um/resolution_y_um)")
            }
            let ry = number("resolution_y_um") ?? rx
            guard rx > 0, ry > 0, rx.isFinite, ry.isFinite else {
                throw RegistrationError("\(path): section '\(key)' has pixel size \(rx) × \(ry) µm", hint: "pixel sizes must be positive")
            }
            let t = s["transform"] as? [String: Any] ?? [:]
            let flip = ((t["flip"] as? NSNumber)?.intValue ?? 0) != 0
            let angle = (t["rotation_angle"] as? NSNumber)?.doubleValue ?? 0
            var regions: [Region] = []
            for (rk, rv) in (s["regions"] as? [String: Any] ?? [:]).sorted(by: { $0.key < $1.key }) {
                guard let r = rv as? [String: Any], let f = r["filename"] as? String else { continue }
                regions.append(Region(key: rk, id: "\(r["id"] ?? rk)", filename: f, note: r["note"] as? String ?? ""))
            }
            out.append(Section(key: key, id: s["id"] as? String ?? key, filename: filename, mppX: rx, mppY: ry,
                               flip: flip, rotationDegrees: angle, regions: regions))
        }
        guard !out.isEmpty else {
            throw RegistrationError("\(path): no sections", hint: "RAPSODI's stack JSON has one object per section (\"slice1\": {...})")
        }
        func order(_ k: String) -> (Int, String) { (Int(k.filter(\.isNumber)) ?? Int.max, k) }
        out.sort { order($0.key) < order($1.key) }
        return HistologyStack(sections: out)
    }

    /// Section by 1-based number (slice1 = 1) or by key / id.
    public func section(_ which: String, file: String) throws -> Section {
        if let n = Int(which), n >= 1, n <= sections.count { return sections[n - 1] }
        if let s = sections.first(where: { $0.key == which || $0.id == which }) { return s }
        throw RegistrationError("\(file): no section '\(which)'",
                                hint: "use 1…\(sections.count) or one of \(sections.map(\.key).joined(separator: ", "))")
    }
}
