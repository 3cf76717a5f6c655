import Tabular
import XCTest

final class CSVTableTests: XCTestCase {
    func testCSVHandlesQuotesCommasNewlinesAndRoundTrips() {
        let text = "path,slide_id,mpp\r\n\"a, b.svs\",x,0.25\n\"say \"\"hi\"\"\",\"multi\nline\",\n"
        let rows = CSVTable.parse(text)
        XCTAssertEqual(rows, [["path", "slide_id", "mpp"], ["a, b.svs", "x", "0.25"], ["say \"hi\"", "multi\nline", ""]])
        let table = CSVTable(header: rows[0], rows: Array(rows.dropFirst()))
        XCTAssertEqual(CSVTable.parse(table.encoded()), rows)
    }
}
