import Foundation
@testable import Heatmap
import TestSupport
import XCTest

final class ColormapTests: XCTestCase {
    /// Values printed by matplotlib 3.11 (`colormaps[name](x, bytes=True)`), written here so
    /// the committed CSVs are checked against matplotlib without it installed.
    func testSpotValuesFromMatplotlib() throws {
        let entries: [(String, Int, (UInt8, UInt8, UInt8))] = [
            ("viridis", 0, (68, 1, 84)), ("viridis", 255, (253, 231, 36)),
            ("jet", 0, (0, 0, 127)), ("jet", 128, (124, 255, 121)), ("jet", 255, (127, 0, 0)),
            ("coolwarm", 0, (58, 76, 192)), ("coolwarm", 128, (221, 220, 219)), ("coolwarm", 255, (179, 3, 38)),
            ("magma", 100, (137, 40, 129)), ("RdBu_r", 200, (218, 106, 85)), ("inferno", 37, (41, 11, 84)),
        ]
        for (name, i, want) in entries {
            let c = try Colormap.named(name)
            XCTAssertEqual([c.table[3 * i], c.table[3 * i + 1], c.table[3 * i + 2]], [want.0, want.1, want.2], "\(name)[\(i)]")
        }
        // Float lookups: cmap(x, bytes=True).
        let floats: [(String, Double, (UInt8, UInt8, UInt8))] = [
            ("viridis", 0.5, (32, 144, 140)), ("jet", 0.3, (0, 176, 255)), ("coolwarm", 0.999, (179, 3, 38)),
            ("jet", 1.0, (127, 0, 0)), ("jet", -0.2, (0, 0, 127)), ("jet", 1.7, (127, 0, 0)),
        ]
        for (name, x, want) in floats {
            let c = try XCTUnwrap(try Colormap.named(name).color(x))
            XCTAssertEqual([c.0, c.1, c.2], [want.0, want.1, want.2], "\(name)(\(x))")
        }
        XCTAssertNil(try Colormap.named("jet").color(.nan))
    }

    func testEveryShippedTableLoadsAndNamesAreCaseInsensitive() throws {
        for name in Colormap.shipped {
            let c = try Colormap.named(name)
            XCTAssertEqual(c.table.count, 768)
            XCTAssertEqual(try Colormap.named(name.uppercased()), c)
        }
        XCTAssertThrowsError(try Colormap.named("no-such-map")) { e in
            XCTAssertTrue("\(e)".contains("RADIOPATH_ATLASES"), "\(e)")
        }
    }

    func testIndexRuleIsMatplotlibs() {
        XCTAssertEqual(Colormap.index(0), 0)
        XCTAssertEqual(Colormap.index(0.5), 128)
        XCTAssertEqual(Colormap.index(127.999 / 256), 127)
        XCTAssertEqual(Colormap.index(0.9999), 255)
        XCTAssertEqual(Colormap.index(1), 255)
        XCTAssertEqual(Colormap.index(-3), 0)
        XCTAssertEqual(Colormap.index(7), 255)
        XCTAssertNil(Colormap.index(.nan))
    }

    func testCSVFormats() throws {
        let ints = (0..<256).map { "\($0),\(255 - $0),7" }.joined(separator: "\n")
        let c = try Colormap.parse(csv: "# comment\n" + ints, name: "ramp", file: "ramp.csv")
        XCTAssertEqual(Array(c.table[0..<6]), [0, 255, 7, 1, 254, 7])
        XCTAssertThrowsError(try Colormap.parse(csv: "0,0,0\n", name: "short", file: "short.csv")) { e in
            XCTAssertTrue("\(e)".contains("exactly 256"), "\(e)")
        }
        XCTAssertThrowsError(try Colormap.parse(csv: "1,2\n", name: "bad", file: "bad.csv"))
    }

    /// The whole tables against matplotlib (in the test venv, scripts/requirements-dev.txt).
    func testAllTablesAgainstMatplotlib() throws {
        let script = """
        import sys, json
        from matplotlib import colormaps
        out = {n: colormaps[n].resampled(256)(range(256), bytes=True)[:, :3].flatten().tolist() for n in sys.argv[1:]}
        print(json.dumps(out))
        """
        let out = try TestEnv.runPython(script, Colormap.shipped)
        let tables = try XCTUnwrap(try TestEnv.json(out) as? [String: [Int]])
        for name in Colormap.shipped {
            XCTAssertEqual(try Colormap.named(name).table.map(Int.init), tables[name], name)
        }
    }
}
