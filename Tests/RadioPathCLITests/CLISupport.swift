import Foundation
import TestSupport
import XCTest

extension XCTestCase {
    /// The `radiopath` executable built beside this test bundle.
    func binary() throws -> String {
        let dir = Bundle.main.bundleURL.path
        let candidates = [dir + "/radiopath", TestEnv.packageRoot + "/.build/debug/radiopath"]
        guard let bin = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            XCTFail("radiopath executable not found in \(candidates); build it with `swift build`")
            throw XCTSkip("no binary")
        }
        return bin
    }

    func radiopath(_ args: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        let r = try TestEnv.run(try binary(), args)
        return (r.status, String(decoding: r.stdout, as: UTF8.self), r.stderr)
    }
}
