import Foundation
@testable import MIL
import TestSupport
import XCTest

/// Labels and cross-validation splits: class order, stratification, CLAM's split files.
final class CohortTests: XCTestCase {
    func write(_ text: String) throws -> String {
        let path = try TestEnv.scratch(self, "cohort") + "/f.csv"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func testLabelsReadNumericOrderNamedOrderAndCLAMsColumns() throws {
        let numeric = try LabelTable.read(path: try write("slide_id,label\na,10\nb,2\nc,1\n"))
        XCTAssertEqual(numeric.classes, ["1", "2", "10"], "numeric labels sort as numbers")
        XCTAssertEqual(numeric.entries.map(\.label), [2, 1, 0])
        let clam = try LabelTable.read(path: try write("case_id,slide_id,label\np1,s1,tumor\np1,s2,normal\n"),
                                       classOrder: ["normal", "tumor"])
        XCTAssertEqual(clam.entries.map(\.slideID), ["s1", "s2"])
        XCTAssertEqual(clam.entries.map(\.label), [1, 0])
        XCTAssertThrowsError(try LabelTable.read(path: try write("slide_id,label\na,x\na,y\n"))) {
            XCTAssertTrue("\($0)".contains("listed twice"), "\($0)")
        }
        XCTAssertThrowsError(try LabelTable.read(path: try write("slide_id,label\na,x\n"), classOrder: ["y"])) {
            XCTAssertTrue("\($0)".contains("not in --classes"), "\($0)")
        }
        XCTAssertThrowsError(try LabelTable.read(path: try write("id,diagnosis\na,x\n"))) {
            XCTAssertTrue("\($0)".contains("slide_id and label"), "\($0)")
        }
    }

    func testStratifiedFoldsPartitionEverySlideAndKeepClassBalance() {
        let entries = (0..<50).map { (slideID: "s\($0)", label: $0 < 20 ? 1 : 0) }   // 20 positive, 30 negative
        let table = LabelTable(entries: entries, classes: ["neg", "pos"])
        let folds = Splits.stratified(table, folds: 5, valFraction: 0.1, seed: 9)
        XCTAssertEqual(folds.count, 5)
        var tested: [String] = []
        for f in folds {
            XCTAssertEqual(Set(f.train + f.val + f.test).count, 50, "every slide in every fold, once")
            XCTAssertEqual(f.train.count + f.val.count + f.test.count, 50)
            XCTAssertEqual(f.test.filter { Int($0.dropFirst())! < 20 }.count, 4, "4 of 20 positives per test fold")
            XCTAssertEqual(f.test.count, 10)
            XCTAssertGreaterThanOrEqual(f.val.filter { Int($0.dropFirst())! < 20 }.count, 1, "validation holds both classes")
            tested += f.test
        }
        XCTAssertEqual(Set(tested).count, 50, "each slide is tested in exactly one fold")
        XCTAssertEqual(Splits.stratified(table, folds: 5, seed: 9), folds, "seeded")
        XCTAssertNotEqual(Splits.stratified(table, folds: 5, seed: 10), folds)
        let single = Splits.stratified(table, folds: 1, testFraction: 0.2, seed: 9)[0]
        XCTAssertEqual(single.test.count, 10)
    }

    func testCLAMSplitFilesRoundTrip() throws {
        let split = Split(train: ["a", "b", "c"], val: ["d"], test: ["e", "f"])
        let text = Splits.clamCSV(split)
        XCTAssertTrue(text.hasPrefix(",train,val,test"), text)
        XCTAssertEqual(try Splits.readCLAM(path: try write(text)), split)
        XCTAssertThrowsError(try Splits.readCLAM(path: try write("train,test\na,b\n")))
    }
}
