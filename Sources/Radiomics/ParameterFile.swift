import Foundation

/// A value of a radiomics parameter file: the YAML subset PyRadiomics parameter files use
/// (block maps, block lists, flow lists/maps, scalars, comments) or JSON.
public indirect enum ParameterValue: Equatable, Sendable, CustomStringConvertible {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case list([ParameterValue])
    /// Keys in file order.
    case map([(key: String, value: ParameterValue)])

    public static func == (a: ParameterValue, b: ParameterValue) -> Bool {
        switch (a, b) {
        case (.null, .null): return true
        case let (.bool(x), .bool(y)): return x == y
        case let (.number(x), .number(y)): return x == y
        case let (.string(x), .string(y)): return x == y
        case let (.list(x), .list(y)): return x == y
        case let (.map(x), .map(y)): return x.count == y.count && zip(x, y).allSatisfy { $0.key == $1.key && $0.value == $1.value }
        default: return false
        }
    }

    public subscript(key: String) -> ParameterValue? {
        if case let .map(entries) = self { return entries.first { $0.key == key }?.value }
        return nil
    }

    public var number: Double? { if case let .number(v) = self { return v }; return nil }
    public var string: String? {
        switch self {
        case let .string(s): return s
        case let .number(v): return v == v.rounded() && abs(v) < 1e15 ? String(Int(v)) : String(v)
        case let .bool(b): return b ? "true" : "false"
        default: return nil
        }
    }
    public var bool: Bool? { if case let .bool(b) = self { return b }; return nil }
    /// A list, or a single value taken as a one-element list (YAML users write both).
    public var list: [ParameterValue]? {
        switch self {
        case let .list(l): return l
        case .null: return []
        case .map: return nil
        default: return [self]
        }
    }
    public var entries: [(key: String, value: ParameterValue)] {
        if case let .map(e) = self { return e }
        return []
    }

    public var description: String {
        switch self {
        case .null: return "null"
        case let .bool(b): return b ? "true" : "false"
        case let .number(v): return string ?? "\(v)"
        case let .string(s): return "'\(s)'"
        case let .list(l): return "[" + l.map(\.description).joined(separator: ", ") + "]"
        case let .map(m): return "{" + m.map { "\($0.key): \($0.value)" }.joined(separator: ", ") + "}"
        }
    }
}

/// A parameter file that does not parse, with the line at fault.
public struct ParameterFileError: Error, CustomStringConvertible, Sendable {
    public let path: String
    public let line: Int
    public let reason: String
    public var description: String {
        "\(path)\(line > 0 ? ":\(line)" : ""): \(reason) — fix the parameter file (YAML as PyRadiomics writes it, or JSON)"
    }
}

/// Reads YAML (the subset used by radiomics parameter files) or JSON.
public enum ParameterFile {
    public static func read(_ path: String) throws -> ParameterValue {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw ParameterFileError(path: path, line: 0, reason: "cannot read the file as UTF-8 text")
        }
        return try parse(text, path: path)
    }

    public static func parse(_ text: String, path: String = "<parameters>") throws -> ParameterValue {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        if trimmed.hasPrefix("{") || trimmed.hasPrefix("[") {
            // JSON is also flow YAML; JSONSerialization gives better messages for real JSON.
            if let object = try? JSONSerialization.jsonObject(with: Data(trimmed.utf8), options: [.fragmentsAllowed]) {
                return fromJSON(object)
            }
        }
        var parser = BlockParser(path: path, lines: logicalLines(text))
        return try parser.parseDocument()
    }

    private static func fromJSON(_ o: Any) -> ParameterValue {
        switch o {
        case is NSNull: return .null
        case let n as NSNumber:
            // Booleans are NSNumbers of ObjC type "c" (char) on every Foundation.
            if String(cString: n.objCType) == "c" { return .bool(n.boolValue) }
            return .number(n.doubleValue)
        case let s as String: return .string(s)
        case let a as [Any]: return .list(a.map(fromJSON))
        case let d as [String: Any]: return .map(d.keys.sorted().map { ($0, fromJSON(d[$0]!)) })
        default: return .null
        }
    }

    struct Line { let number: Int; let indent: Int; let text: String }

    /// Non-blank lines with comments removed (a `#` outside quotes that starts the line or
    /// follows a space) and their indentation.
    private static func logicalLines(_ text: String) -> [Line] {
        var out: [Line] = []
        for (n, raw) in text.components(separatedBy: "\n").enumerated() {
            var s = ""
            var quote: Character? = nil
            var previous: Character = " "
            for c in raw {
                if let q = quote { if c == q { quote = nil } }
                else if c == "'" || c == "\"" { quote = c }
                else if c == "#" && (previous == " " || previous == "\t") { break }
                s.append(c)
                previous = c
            }
            let body = s.trimmingCharacters(in: .whitespaces)
            if body.isEmpty || body == "---" { continue }
            let indent = s.prefix { $0 == " " }.count
            out.append(Line(number: n + 1, indent: indent, text: body))
        }
        return out
    }

    private struct BlockParser {
        let path: String
        let lines: [Line]
        var at = 0

        init(path: String, lines: [Line]) {
            self.path = path
            self.lines = lines
        }

        mutating func parseDocument() throws -> ParameterValue {
            guard !lines.isEmpty else { return .map([]) }
            let v = try parseBlock(indent: lines[0].indent)
            if at < lines.count { throw ParameterFileError(path: path, line: lines[at].number, reason: "unexpected indentation") }
            return v
        }

        mutating func parseBlock(indent: Int) throws -> ParameterValue {
            if lines[at].text.hasPrefix("- ") || lines[at].text == "-" { return try parseList(indent: indent) }
            return try parseMap(indent: indent)
        }

        mutating func parseList(indent: Int) throws -> ParameterValue {
            var items: [ParameterValue] = []
            while at < lines.count, lines[at].indent == indent, lines[at].text.hasPrefix("-") {
                let line = lines[at]
                let rest = String(line.text.dropFirst()).trimmingCharacters(in: .whitespaces)
                at += 1
                if rest.isEmpty {
                    items.append(at < lines.count && lines[at].indent > indent ? try parseBlock(indent: lines[at].indent) : .null)
                } else {
                    items.append(try ParameterFile.scalarOrFlow(rest, path: path, line: line.number))
                }
            }
            return .list(items)
        }

        mutating func parseMap(indent: Int) throws -> ParameterValue {
            var entries: [(key: String, value: ParameterValue)] = []
            while at < lines.count, lines[at].indent == indent {
                let line = lines[at]
                guard let colon = ParameterFile.keyColon(line.text) else {
                    throw ParameterFileError(path: path, line: line.number, reason: "expected 'key: value', found '\(line.text)'")
                }
                let key = ParameterFile.unquote(String(line.text[..<colon]).trimmingCharacters(in: .whitespaces))
                let rest = String(line.text[line.text.index(after: colon)...]).trimmingCharacters(in: .whitespaces)
                at += 1
                if entries.contains(where: { $0.key == key }) {
                    throw ParameterFileError(path: path, line: line.number, reason: "key '\(key)' appears twice")
                }
                if !rest.isEmpty {
                    entries.append((key, try ParameterFile.scalarOrFlow(rest, path: path, line: line.number)))
                } else if at < lines.count, lines[at].indent > indent {
                    entries.append((key, try parseBlock(indent: lines[at].indent)))
                } else if at < lines.count, lines[at].indent == indent, lines[at].text.hasPrefix("- ") {
                    entries.append((key, try parseList(indent: indent)))   // YAML allows lists at the key's indent
                } else {
                    entries.append((key, .null))
                }
            }
            if at < lines.count, lines[at].indent > indent {
                throw ParameterFileError(path: path, line: lines[at].number, reason: "unexpected indentation")
            }
            return .map(entries)
        }
    }

    /// The colon ending a mapping key (outside quotes and brackets, followed by space or end).
    static func keyColon(_ s: String) -> String.Index? {
        var quote: Character? = nil
        var depth = 0
        var i = s.startIndex
        while i < s.endIndex {
            let c = s[i]
            if let q = quote { if c == q { quote = nil } }
            else if c == "'" || c == "\"" { quote = c }
            else if c == "[" || c == "{" { depth += 1 }
            else if c == "]" || c == "}" { depth -= 1 }
            else if c == ":" && depth == 0 {
                let next = s.index(after: i)
                if next == s.endIndex || s[next] == " " { return i }
            }
            i = s.index(after: i)
        }
        return nil
    }

    static func unquote(_ s: String) -> String {
        if s.count >= 2, let f = s.first, let l = s.last, (f == "'" && l == "'") || (f == "\"" && l == "\"") {
            return String(s.dropFirst().dropLast())
        }
        return s
    }

    static func scalarOrFlow(_ s: String, path: String, line: Int) throws -> ParameterValue {
        var scanner = FlowScanner(chars: Array(s), path: path, line: line)
        let v = try scanner.value()
        scanner.skipSpaces()
        guard scanner.at == scanner.chars.count else {
            throw ParameterFileError(path: path, line: line, reason: "unexpected text after a value in '\(s)'")
        }
        return v
    }

    static func scalar(_ raw: String) -> ParameterValue {
        let s = raw.trimmingCharacters(in: .whitespaces)
        if s.count >= 2, (s.hasPrefix("'") && s.hasSuffix("'")) || (s.hasPrefix("\"") && s.hasSuffix("\"")) { return .string(unquote(s)) }
        switch s.lowercased() {
        case "", "~", "null", "none": return .null
        case "true", "yes", "on": return .bool(true)
        case "false", "no", "off": return .bool(false)
        default: break
        }
        if let d = Double(s) { return .number(d) }
        return .string(s)
    }

    /// Flow values: `[a, b]`, `{k: v}`, quoted or plain scalars.
    struct FlowScanner {
        let chars: [Character]
        let path: String
        let line: Int
        var at = 0

        mutating func skipSpaces() { while at < chars.count, chars[at] == " " { at += 1 } }

        mutating func value() throws -> ParameterValue {
            skipSpaces()
            guard at < chars.count else { return .null }
            switch chars[at] {
            case "[":
                at += 1
                var items: [ParameterValue] = []
                skipSpaces()
                if at < chars.count, chars[at] == "]" { at += 1; return .list([]) }
                while true {
                    items.append(try value())
                    skipSpaces()
                    guard at < chars.count else { throw error("unclosed '['") }
                    if chars[at] == "]" { at += 1; return .list(items) }
                    guard chars[at] == "," else { throw error("expected ',' or ']'") }
                    at += 1
                }
            case "{":
                at += 1
                var entries: [(key: String, value: ParameterValue)] = []
                skipSpaces()
                if at < chars.count, chars[at] == "}" { at += 1; return .map([]) }
                while true {
                    skipSpaces()
                    let keyStart = at
                    while at < chars.count, chars[at] != ":" { at += 1 }
                    guard at < chars.count else { throw error("expected ':' in a flow map") }
                    let key = ParameterFile.unquote(String(chars[keyStart..<at]).trimmingCharacters(in: .whitespaces))
                    at += 1
                    entries.append((key, try value()))
                    skipSpaces()
                    guard at < chars.count else { throw error("unclosed '{'") }
                    if chars[at] == "}" { at += 1; return .map(entries) }
                    guard chars[at] == "," else { throw error("expected ',' or '}'") }
                    at += 1
                }
            case "'", "\"":
                let q = chars[at]
                let start = at + 1
                at += 1
                while at < chars.count, chars[at] != q { at += 1 }
                guard at < chars.count else { throw error("unclosed quote") }
                at += 1
                return .string(String(chars[start..<(at - 1)]))
            default:
                let start = at
                while at < chars.count, !",]}".contains(chars[at]) { at += 1 }
                return ParameterFile.scalar(String(chars[start..<at]))
            }
        }

        func error(_ reason: String) -> ParameterFileError { ParameterFileError(path: path, line: line, reason: reason) }
    }
}
