import Foundation
import XCTest
@testable import PatchBag

final class ConcurrencyTests: XCTestCase {
    private func bag(_ k: Int) -> PatchBagContents {
        let n = 500 + 337 * k
        var coords = [Int64](repeating: 0, count: 2 * n)
        for i in 0..<n { coords[2 * i] = Int64(k * 1_000_000 + i * 224); coords[2 * i + 1] = Int64(i % 13) * 224 }
        let dim = k + 1
        var attrs = clamAttributes
        attrs["name"] = .string("slide-\(k)")
        attrs["k"] = .ints([Int64(k), -Int64(k)])
        let fileAttrs: [String: HDF5Value] = ["worker": .int(Int64(k)), "scale": .double(Double(k) / 3)]
        let tf: [Float] = (0..<n).map { i in Float((i + k) % 50) / 49 }
        let scale = Float(k + 1)
        let features: [Float] = (0..<(n * dim)).map { i in Float(i % 1000) * scale }
        return PatchBagContents(coords: coords, coordsAttributes: attrs, fileAttributes: fileAttrs,
                                tissueFraction: tf, features: features, featureDim: dim)
    }

    func testEightBagsWrittenConcurrentlyReadBackCorrectly() throws {
        let dir = try makeScratchDir(self, "concurrent")
        let expected = (0..<8).map(bag)
        let errors = ErrorBox()
        DispatchQueue.concurrentPerform(iterations: 8) { k in
            let b = expected[k]
            do {
                try PatchBag.write(path: dir + "/bag\(k).h5", coords: b.coords, coordsAttributes: b.coordsAttributes,
                                   tissueFraction: b.tissueFraction, features: b.features, featureDim: b.featureDim,
                                   fileAttributes: b.fileAttributes)
            } catch { errors.add("write \(k): \(error)") }
        }
        XCTAssertEqual(errors.all, [])
        XCTAssertEqual(try listing(dir), (0..<8).map { "bag\($0).h5" }.sorted())

        // Read back concurrently too, mixed with isComplete calls.
        let results = ResultBox(count: 8)
        DispatchQueue.concurrentPerform(iterations: 16) { j in
            let k = j % 8
            if j < 8 {
                do { results.set(k, try PatchBag.read(path: dir + "/bag\(k).h5")) } catch { errors.add("read \(k): \(error)") }
            } else if !PatchBag.isComplete(path: dir + "/bag\(k).h5") {
                errors.add("isComplete \(k) false")
            }
        }
        XCTAssertEqual(errors.all, [])
        for k in 0..<8 { XCTAssertEqual(results.get(k), expected[k], "bag \(k)") }
    }
}

private final class ErrorBox: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [String] = []
    func add(_ s: String) { lock.lock(); items.append(s); lock.unlock() }
    var all: [String] { lock.lock(); defer { lock.unlock() }; return items }
}

private final class ResultBox: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [PatchBagContents?]
    init(count: Int) { items = Array(repeating: nil, count: count) }
    func set(_ i: Int, _ v: PatchBagContents) { lock.lock(); items[i] = v; lock.unlock() }
    func get(_ i: Int) -> PatchBagContents? { lock.lock(); defer { lock.unlock() }; return items[i] }
}
