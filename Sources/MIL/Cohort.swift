import SeededRandom
import Foundation
import Tabular

/// Slide-level labels of a cohort: `slide_id,label` (CLAM's `case_id,slide_id,label` works too).
public struct LabelTable: Sendable, Equatable {
    /// (slide id, class index) in file order.
    public let entries: [(slideID: String, label: Int)]
    /// Class names, index = class; numeric labels sort numerically ("0" < "1" < "10"),
    /// others alphabetically, unless an order is given.
    public let classes: [String]

    public static func == (a: LabelTable, b: LabelTable) -> Bool {
        a.classes == b.classes && a.entries.map(\.slideID) == b.entries.map(\.slideID) && a.entries.map(\.label) == b.entries.map(\.label)
    }

    public init(entries: [(slideID: String, label: Int)], classes: [String]) {
        self.entries = entries; self.classes = classes
    }

    /// Reads the CSV. `classOrder` fixes the class indices (e.g. ["normal", "tumour"]: the
    /// second is the positive class of a binary task).
    public static func read(path: String, classOrder: [String]? = nil) throws -> LabelTable {
        func bad(_ reason: String, _ hint: String) -> MILDataError { MILDataError(path: path, reason: reason, hint: hint) }
        let table: CSVTable
        do { table = try CSVTable.read(path: path) } catch let e as CSVError { throw bad(e.reason, e.hint) }
        guard let idCol = table.column("slide_id") ?? table.column("slide"), let labelCol = table.column("label") else {
            throw bad("needs columns slide_id and label (header: \(table.header.joined(separator: ",")))",
                      "write a header row: slide_id,label")
        }
        var seen = Set<String>(), raw: [(String, String)] = []
        for (n, row) in table.rows.enumerated() {
            let id = row[idCol].trimmingCharacters(in: .whitespaces), label = row[labelCol].trimmingCharacters(in: .whitespaces)
            guard !id.isEmpty, !label.isEmpty else { throw bad("row \(n + 2) has an empty slide_id or label", "fill it in or delete the row") }
            guard seen.insert(id).inserted else { throw bad("slide \(id) is listed twice (row \(n + 2))", "keep one row per slide") }
            raw.append((id, label))
        }
        let present = Set(raw.map(\.1))
        var classes: [String]
        if let order = classOrder {
            let unknown = present.subtracting(order)
            guard unknown.isEmpty else { throw bad("labels \(unknown.sorted()) are not in --classes \(order)", "list every label in --classes") }
            classes = order
        } else if present.allSatisfy({ Double($0) != nil }) {
            classes = present.sorted { Double($0)! < Double($1)! }
        } else {
            classes = present.sorted()
        }
        let index = Dictionary(uniqueKeysWithValues: classes.enumerated().map { ($1, $0) })
        return LabelTable(entries: raw.map { ($0.0, index[$0.1]!) }, classes: classes)
    }
}

/// One fold: which slides train, which decide early stopping, which are held out.
public struct Split: Sendable, Equatable, Codable {
    public var train: [String], val: [String], test: [String]
    public init(train: [String], val: [String], test: [String]) { self.train = train; self.val = val; self.test = test }
}

public enum Splits {
    /// Stratified k-fold: each class's slides are shuffled (seeded) and dealt round-robin into
    /// k test folds; from the rest of each fold, `valFraction` of every class (at least one
    /// slide when the class has two or more) goes to validation. k = 1 holds out
    /// `testFraction` instead (a single train/val/test split).
    public static func stratified(_ labels: LabelTable, folds k: Int, valFraction: Double = 0.1,
                                  testFraction: Double = 0.2, seed: UInt64) -> [Split] {
        var rng = SplitMix64(seed: seed, tag: 4)   // tag 4: splits
        var byClass: [[String]] = Array(repeating: [], count: labels.classes.count)
        for e in labels.entries { byClass[e.label].append(e.slideID) }
        for c in byClass.indices { byClass[c] = shuffled(byClass[c], &rng) }
        let foldCount = max(1, k)
        var splits: [Split] = []
        for f in 0..<foldCount {
            var split = Split(train: [], val: [], test: [])
            for ids in byClass {
                let test: [String]
                if foldCount == 1 {
                    test = Array(ids.prefix(Int((Double(ids.count) * testFraction).rounded())))
                } else {
                    test = ids.enumerated().filter { $0.offset % foldCount == f }.map(\.element)
                }
                let rest = ids.filter { !test.contains($0) }
                var nVal = Int((Double(rest.count) * valFraction).rounded())
                if nVal == 0 && rest.count >= 2 && valFraction > 0 { nVal = 1 }
                split.test += test
                split.val += rest.prefix(nVal)
                split.train += rest.dropFirst(nVal)
            }
            splits.append(split)
        }
        return splits
    }

    /// Reads CLAM's `splits_<k>.csv` (columns train, val, test; ragged; an unnamed index
    /// column is ignored).
    public static func readCLAM(path: String) throws -> Split {
        let table: CSVTable
        do { table = try CSVTable.read(path: path) } catch let e as CSVError {
            throw MILDataError(path: path, reason: e.reason, hint: e.hint)
        }
        guard let tr = table.column("train"), let va = table.column("val"), let te = table.column("test") else {
            throw MILDataError(path: path, reason: "needs columns train, val and test (header: \(table.header.joined(separator: ",")))",
                               hint: "use CLAM's create_splits_seq.py output or let radiopath train generate splits")
        }
        func col(_ c: Int) -> [String] { table.rows.map { $0[c].trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty } }
        return Split(train: col(tr), val: col(va), test: col(te))
    }

    /// Writes a split in CLAM's layout, so CLAM's own scripts can reuse it.
    public static func clamCSV(_ s: Split) -> String {
        let n = max(s.train.count, s.val.count, s.test.count)
        let rows = (0..<n).map { i in ["\(i)", i < s.train.count ? s.train[i] : "", i < s.val.count ? s.val[i] : "", i < s.test.count ? s.test[i] : ""] }
        return CSVTable(header: ["", "train", "val", "test"], rows: rows).encoded()
    }

    static func shuffled(_ a: [String], _ rng: inout SplitMix64) -> [String] {
        var a = a
        if a.count > 1 { for i in stride(from: a.count - 1, to: 0, by: -1) { a.swapAt(i, Int(rng.next() % UInt64(i + 1))) } }
        return a
    }
}

/// A labels or splits file that cannot be used.
public struct MILDataError: Error, CustomStringConvertible, Sendable {
    public let path: String, reason: String, hint: String
    public var description: String { "\(path): \(reason) — \(hint)" }
}
