import Foundation

/// A small RFC 4180 CSV reader/writer (quoted fields, embedded commas, quotes and newlines).
public struct CSVTable: Sendable {
    public var header: [String]
    public var rows: [[String]]

    public init(header: [String], rows: [[String]]) { self.header = header; self.rows = rows }

    /// Index of a column by case-insensitive name.
    public func column(_ name: String) -> Int? {
        header.firstIndex { $0.trimmingCharacters(in: .whitespaces).lowercased() == name.lowercased() }
    }

    public static func read(path: String) throws -> CSVTable {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw CSVError(path: path, reason: "cannot read the CSV file", hint: "check that it exists and is UTF-8 text")
        }
        let records = parse(text)
        guard let header = records.first else {
            throw CSVError(path: path, reason: "the CSV file is empty", hint: "add a header row")
        }
        let width = header.count
        let rows = records.dropFirst().filter { !($0.count == 1 && $0[0].isEmpty) }.map { r -> [String] in
            r.count >= width ? Array(r.prefix(width)) : r + Array(repeating: "", count: width - r.count)
        }
        return CSVTable(header: header, rows: rows)
    }

    public static func parse(_ text: String) -> [[String]] {
        var records: [[String]] = []
        var field = "", record: [String] = []
        var inQuotes = false
        var chars = text.unicodeScalars.makeIterator()
        var pending: Unicode.Scalar? = nil
        func next() -> Unicode.Scalar? { if let p = pending { pending = nil; return p }; return chars.next() }
        while let c = next() {
            if inQuotes {
                if c == "\"" {
                    if let n = chars.next() {
                        if n == "\"" { field.unicodeScalars.append("\"") } else { inQuotes = false; pending = n }
                    } else { inQuotes = false }
                } else { field.unicodeScalars.append(c) }
            } else if c == "\"" && field.isEmpty {
                inQuotes = true
            } else if c == "," {
                record.append(field); field = ""
            } else if c == "\n" || c == "\r" {
                if c == "\r", let n = chars.next(), n != "\n" { pending = n }
                record.append(field); records.append(record); field = ""; record = []
            } else {
                field.unicodeScalars.append(c)
            }
        }
        if !field.isEmpty || !record.isEmpty { record.append(field); records.append(record) }
        return records
    }

    /// Encodes the table; fields with commas, quotes or newlines are quoted.
    public func encoded() -> String {
        func esc(_ s: String) -> String {
            s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
        }
        return ([header] + rows).map { $0.map(esc).joined(separator: ",") }.joined(separator: "\n") + "\n"
    }
}

/// A CSV file that cannot be used: which file, what is wrong, what to do.
public struct CSVError: Error, CustomStringConvertible, Sendable, Equatable {
    public let path: String, reason: String, hint: String
    public init(path: String, reason: String, hint: String) { self.path = path; self.reason = reason; self.hint = hint }
    public var description: String { "\(path): \(reason) — \(hint)" }
}
