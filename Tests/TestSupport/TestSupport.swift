import Foundation
import XCTest

/// Shared by every test target: where the package, the shared test data and the Python
/// reference peers are, scratch folders, and running a peer or the built CLI.
public enum TestEnv {
    /// The package root (this file is <root>/Tests/TestSupport/TestSupport.swift).
    public static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().path

    /// `$RADIOPATH_TESTDATA`, else `../shared/testdata` beside the package; skips the test
    /// with a visible message when absent (CI always has it).
    public static func testdata(_ relative: String = "") throws -> String {
        var candidates: [String] = []
        if let env = ProcessInfo.processInfo.environment["RADIOPATH_TESTDATA"], !env.isEmpty { candidates.append(env) }
        candidates.append(URL(fileURLWithPath: packageRoot).deletingLastPathComponent().appendingPathComponent("shared/testdata").path)
        for c in candidates where FileManager.default.fileExists(atPath: c + "/" + relative) {
            return relative.isEmpty ? c : c + "/" + relative
        }
        throw XCTSkip("SKIPPED: shared test data '\(relative)' not found (set RADIOPATH_TESTDATA or place it at ../shared/testdata)")
    }

    /// The venv Python with the reference peers: `$RADIOPATH_PYTHON`, else `<root>/.venv`.
    public static func python() throws -> String {
        var candidates: [String] = []
        if let env = ProcessInfo.processInfo.environment["RADIOPATH_PYTHON"], !env.isEmpty { candidates.append(env) }
        candidates.append(packageRoot + "/.venv/bin/python")
        for c in candidates where FileManager.default.isExecutableFile(atPath: c) { return c }
        throw XCTSkip("SKIPPED: no reference Python venv (run `make venv` or set RADIOPATH_PYTHON)")
    }

    /// A fresh folder removed after the test.
    public static func scratch(_ test: XCTestCase, _ label: String) throws -> String {
        let dir = NSTemporaryDirectory() + "rp-\(label)-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        test.addTeardownBlock { try? FileManager.default.removeItem(atPath: dir) }
        return dir
    }

    /// Runs `python -c script args…`; fails the test on a non-zero exit (skips when a needed
    /// module is missing); returns standard output.
    public static func runPython(_ script: String, _ args: [String] = [], file: StaticString = #filePath, line: UInt = #line) throws -> Data {
        let r = try run(try python(), ["-c", script] + args)
        if r.status != 0 {
            if let m = r.stderr.range(of: "No module named '[^']+'", options: .regularExpression) {
                throw XCTSkip("SKIPPED: reference peer missing (\(r.stderr[m]))")
            }
            XCTFail("python failed (\(r.status)): \(r.stderr)", file: file, line: line)
            throw NSError(domain: "python", code: Int(r.status))
        }
        return r.stdout
    }

    /// Runs a program to completion, draining both pipes.
    public static func run(_ executable: String, _ args: [String], environment: [String: String]? = nil) throws
        -> (status: Int32, stdout: Data, stderr: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = args
        if let environment { p.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        final class Sink: @unchecked Sendable { var data = Data() }
        let errSink = Sink()
        let group = DispatchGroup()
        let errHandle = err.fileHandleForReading
        DispatchQueue.global().async(group: group) { errSink.data = errHandle.readDataToEndOfFile() }
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        p.waitUntilExit()
        return (p.terminationStatus, outData, String(decoding: errSink.data, as: UTF8.self))
    }

    public static func json(_ data: Data) throws -> Any {
        try JSONSerialization.jsonObject(with: data)
    }
}
