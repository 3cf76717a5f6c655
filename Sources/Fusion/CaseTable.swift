import Foundation

/// One row per case: every region's model columns widened as `<family>_<region>_<column>`,
/// grouped by modality. Pathology columns of unsupported regions are left empty (NaN), so
/// a region without histology never counts as pathology evidence.
public struct CaseTable: Sendable {
    public var caseIDs: [String]
    public var outcome: [Bool?]
    public var columns: [String]
    public var roles: [ColumnRole]
    /// cases × columns, NaN = missing.
    public var values: [[Double]]

    public init(caseIDs: [String], outcome: [Bool?], columns: [String], roles: [ColumnRole], values: [[Double]]) {
        self.caseIDs = caseIDs; self.outcome = outcome; self.columns = columns; self.roles = roles; self.values = values
    }

    /// Widens region rows; `cases` fixes the row order (cases without rows get all-NaN rows).
    public init(rows: [RegionRow], cases: [(id: String, outcome: Bool?)]) {
        let modelColumns = RegionTable.columns(rows).filter { let r = RegionColumns.role(of: $0); return r == .radiology || r == .pathology }
        var index: [String: Int] = [:], cols: [String] = [], roles: [ColumnRole] = []
        var cells: [String: [Int: Double]] = [:]
        for r in rows {
            let prefix = Self.clean(r.text["family"]!) + "_" + Self.clean(r.text["region"]!) + "_"
            let supported = r.value("supported") == 1
            for c in modelColumns where r.numbers[c] != nil {
                let role = RegionColumns.role(of: c)
                let name = prefix + c
                if index[name] == nil { index[name] = cols.count; cols.append(name); roles.append(role) }
                cells[r.text["case"]!, default: [:]][index[name]!] = role == .pathology && !supported ? .nan : r.value(c)
            }
        }
        caseIDs = cases.map(\.id)
        outcome = cases.map(\.outcome)
        columns = cols
        self.roles = roles
        values = cases.map { c in
            let m = cells[c.id] ?? [:]
            return (0..<cols.count).map { m[$0] ?? .nan }
        }
    }

    /// Names go into column headers: anything but letters, digits, `-` and `.` becomes `_`.
    static func clean(_ s: String) -> String {
        String(s.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "." ? $0 : "_" })
    }

    public func csv() -> String {
        let hasOutcome = outcome.contains { $0 != nil }
        var s = (["case"] + (hasOutcome ? ["outcome"] : []) + columns).joined(separator: ",") + "\n"
        for (n, id) in caseIDs.enumerated() {
            let o = hasOutcome ? [outcome[n].map { $0 ? "1" : "0" } ?? ""] : []
            s += ([RegionTable.csvEscape(id)] + o + values[n].map(fmt)).joined(separator: ",") + "\n"
        }
        return s
    }

    /// The modality blocks for the fusion models: radiology then pathology.
    public func modalities() -> [Modality] {
        [ColumnRole.radiology, .pathology].compactMap { role in
            let idx = roles.indices.filter { roles[$0] == role }
            guard !idx.isEmpty else { return nil }
            return Modality(name: role.rawValue, columns: idx.map { columns[$0] }, values: values.map { r in idx.map { r[$0] } })
        }
    }
}
