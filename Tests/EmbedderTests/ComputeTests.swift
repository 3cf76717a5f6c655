@testable import Embedder
import XCTest

final class ComputeTests: XCTestCase {
    func testThreadKnobClampsAndParallelRangesCoverEveryIndexOnce() {
        let before = Compute.threads
        defer { Compute.setThreads(before) }
        Compute.setThreads(0)
        XCTAssertEqual(Compute.threads, 1)
        Compute.setThreads(2)
        let hits = UnsafeMutableBufferPointer<Int32>.allocate(capacity: 100_003)
        defer { hits.deallocate() }
        hits.initialize(repeating: 0)
        Compute.parallelRanges(hits.count, minChunk: 1000) { r in for i in r { hits[i] += 1 } }
        XCTAssertTrue(hits.allSatisfy { $0 == 1 })
    }
}
