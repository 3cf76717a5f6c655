import Foundation
import ImageCore

/// One tile: its core (nuclei whose centroid falls in it belong to it) and the window read
/// around it, both in analysis-grid pixels.
struct Tile: Sendable {
    var core: PixelRect
    var window: PixelRect
}

/// Splits a grid into tiles of `size` px with `margin` px of context, clipped to the grid.
/// `include` may drop tiles (e.g. those touching no tissue patch).
func makeTiles(width: Int, height: Int, size: Int, margin: Int, include: (PixelRect) -> Bool = { _ in true }) -> [Tile] {
    var tiles: [Tile] = []
    var y = 0
    while y < height {
        var x = 0
        while x < width {
            let core = PixelRect(x: x, y: y, width: min(size, width - x), height: min(size, height - y))
            if include(core) {
                let wx0 = max(0, x - margin), wy0 = max(0, y - margin)
                let wx1 = min(width, core.maxX + margin), wy1 = min(height, core.maxY + margin)
                tiles.append(Tile(core: core, window: PixelRect(x: wx0, y: wy0, width: wx1 - wx0, height: wy1 - wy0)))
            }
            x += size
        }
        y += size
    }
    return tiles
}

/// Runs the per-tile pipeline over tiles on `workers` threads and hands each tile's nuclei to
/// `emit` on one thread at a time, in tile order (so outputs are deterministic), while later
/// tiles are still running. Memory: one segmenter per worker, at most workers + 1 raw windows
/// read ahead (streaming sources), and the nuclei of at most 4 tiles per worker not yet emitted.
enum TileRunner {
    /// `owner(core, gx, gy)` decides whether a nucleus with centroid (gx, gy) (global analysis
    /// px) belongs to the tile with this core: nil = no, else the patch index to record.
    /// With `sampleStride` > 0, every RGB pixel of the cores whose global x and y are multiples of
    /// it is returned (interleaved RGB, in tile order): a sample for checking the stain.
    @discardableResult
    static func run(source: WindowSource, tiles: [Tile], settings: PixelSettings, singleChannel: Bool, workers: Int,
                    sampleStride: Int = 0, owner: @escaping (PixelRect, Double, Double) -> Int?,
                    emit: (Int, [Nucleus]) throws -> Void) throws -> [UInt8] {
        guard !tiles.isEmpty else { return [] }
        let state = RunState()
        let threads = max(1, min(workers, tiles.count))
        let mapping = source.mapping

        // A streaming source is read by a producer thread, ahead of the workers (bounded);
        // workers compute; the calling thread emits in order.
        let group = DispatchGroup()
        if source.streams {
            DispatchQueue.global().async(group: group) {
                do {
                    try source.stream(tiles, workers: threads) { i, raw in
                        try state.putRaw(i, Array(raw), limit: threads + 1)
                    }
                } catch { state.fail(error) }
            }
        }
        for _ in 0..<threads {
            DispatchQueue.global().async(group: group) {
                let seg = TileSegmenter(settings: settings)
                let meas = NucleusMeasurer(settings: settings, singleChannel: singleChannel)
                var buffers = WindowBuffers()
                while let i = state.take(count: tiles.count, lookAhead: 4 * threads) {
                    let t = tiles[i]
                    do {
                        let w = t.window
                        if source.streams {
                            guard let raw = state.takeRaw(i) else { return }
                            try buffers.load(source, t, raw: raw, into: seg)
                        } else {
                            try buffers.load(source, t, into: seg)
                        }
                        if sampleStride > 0 && source.isRGB { state.addSample(i, buffers.sample(t, stride: sampleStride)) }
                        let count = seg.segment()
                        let core = t.core
                        let nuclei = meas.measure(labels: seg.labels, count: count, planes: seg.stain, width: w.width, height: w.height,
                                                  windowX: w.x, windowY: w.y, mapping: mapping) { gx, gy in
                            let px = Int((gx + 0.5).rounded(.down)), py = Int((gy + 0.5).rounded(.down))
                            guard px >= core.x, px < core.maxX, py >= core.y, py < core.maxY else { return nil }
                            return owner(core, gx, gy)
                        }
                        state.finished(i, nuclei)
                    } catch {
                        state.fail(error)
                        return
                    }
                }
            }
        }
        var failure: Error?
        while let (i, nuclei) = state.nextInOrder(count: tiles.count) {
            do { try emit(i, nuclei) } catch { failure = error; state.fail(error); break }
            state.emitted(i)
        }
        group.wait()
        if let e = failure ?? state.error { throw e }
        return state.samples(count: tiles.count)
    }

    /// Histogram of the smoothed, background-subtracted signal over the cores of `tiles`
    /// (bins of width `range / bins` from 0; values above `range` in the last bin), for Otsu.
    static func signalHistogram(source: WindowSource, tiles: [Tile], settings: PixelSettings, workers: Int,
                                range: Double, bins: Int) throws -> [Int] {
        var total = [Int](repeating: 0, count: bins)
        let lock = NSLock()
        var firstError: Error?
        var next = 0
        let threads = max(1, min(workers, tiles.count))
        DispatchQueue.concurrentPerform(iterations: threads) { _ in
            let seg = TileSegmenter(settings: settings)
            var hist = [Int](repeating: 0, count: bins)
            var buffers = WindowBuffers()
            let scale = Double(bins) / range
            while true {
                lock.lock()
                if firstError != nil || next >= tiles.count { lock.unlock(); break }
                let t = tiles[next]; next += 1
                lock.unlock()
                do {
                    let w = t.window
                    try buffers.load(source, t, into: seg)
                    let s = seg.signal
                    for y in t.core.y..<t.core.maxY {
                        let row = s + (y - w.y) * w.width - w.x
                        for x in t.core.x..<t.core.maxX {
                            hist[min(bins - 1, max(0, Int(Double(row[x]) * scale)))] += 1
                        }
                    }
                } catch {
                    lock.lock(); if firstError == nil { firstError = error }; lock.unlock()
                    break
                }
            }
            lock.lock()
            for k in 0..<bins { total[k] += hist[k] }
            lock.unlock()
        }
        if let e = firstError { throw e }
        return total
    }

    /// Otsu's threshold of a histogram (bin i = values in [i, i+1)·width): the upper edge of the
    /// last bin of the lower class, maximising the between-class variance.
    static func otsu(_ hist: [Int], binWidth: Double) -> Double {
        let total = hist.reduce(0, +)
        guard total > 0 else { return 0 }
        var sumAll = 0.0
        for (i, c) in hist.enumerated() { sumAll += Double(i) * Double(c) }
        var w0 = 0.0, s0 = 0.0, best = -1.0, bestI = 0
        for i in 0..<(hist.count - 1) {
            w0 += Double(hist[i]); s0 += Double(i) * Double(hist[i])
            let w1 = Double(total) - w0
            if w0 == 0 || w1 == 0 { continue }
            let m0 = s0 / w0, m1 = (sumAll - s0) / w1
            let v = w0 * w1 * (m0 - m1) * (m0 - m1)
            if v > best { best = v; bestI = i }
        }
        return Double(bestI + 1) * binWidth
    }
}

/// A worker's window pixels: read from the source, then turned into the segmenter's signal.
struct WindowBuffers {
    var rgb: [UInt8] = []
    var plane: [Float] = []

    /// RGB of the core pixels on the global grid of `stride` (after `load`).
    func sample(_ t: Tile, stride s: Int) -> [UInt8] {
        var out: [UInt8] = []
        let w = t.window
        var y = (t.core.y + s - 1) / s * s
        while y < t.core.maxY {
            var x = (t.core.x + s - 1) / s * s
            while x < t.core.maxX {
                let i = ((y - w.y) * w.width + (x - w.x)) * 3
                out.append(rgb[i]); out.append(rgb[i + 1]); out.append(rgb[i + 2])
                x += s
            }
            y += s
        }
        return out
    }

    /// `raw`: the tile's raw pixels from a streaming source, else nil (read here).
    mutating func load(_ source: WindowSource, _ t: Tile, raw: [UInt8]? = nil, into seg: TileSegmenter) throws {
        let w = t.window, n = w.width * w.height
        if source.isRGB {
            if rgb.count < 3 * n { rgb = [UInt8](repeating: 0, count: 3 * n) }
            if let raw {
                raw.withUnsafeBufferPointer { r in rgb.withUnsafeMutableBufferPointer { source.convert(raw: r.baseAddress!, tile: t, into: $0.baseAddress!) } }
            } else {
                try rgb.withUnsafeMutableBufferPointer { try source.readRGB(t, into: $0.baseAddress!) }
            }
            rgb.withUnsafeBufferPointer { seg.computeSignal(rgb: $0.baseAddress!, plane: nil, width: w.width, height: w.height) }
        } else {
            if plane.count < n { plane = [Float](repeating: 0, count: n) }
            try plane.withUnsafeMutableBufferPointer { try source.readPlane(t, into: $0.baseAddress!) }
            plane.withUnsafeBufferPointer { seg.computeSignal(rgb: nil, plane: $0.baseAddress!, width: w.width, height: w.height) }
        }
    }
}

/// Shared state of a tile run: the next tile to take, finished tiles waiting to be emitted in
/// order, and the first error. Every access holds the condition's lock.
private final class RunState: @unchecked Sendable {
    private let cond = NSCondition()
    private var next = 0, emittedCount = 0
    private var pending: [Int: [Nucleus]] = [:]
    private var sampled: [Int: [UInt8]] = [:]
    private(set) var error: Error?

    private var raw: [Int: [UInt8]] = [:]

    /// Stores tile i's raw pixels, waiting while `limit` are stored and unclaimed; throws once
    /// the run failed (which stops the stream).
    func putRaw(_ i: Int, _ pixels: [UInt8], limit: Int) throws {
        cond.lock(); defer { cond.unlock() }
        while error == nil && raw.count >= limit { cond.wait() }
        if let e = error { throw e }
        raw[i] = pixels
        cond.broadcast()
    }

    /// Tile i's raw pixels, waiting for them; nil when the run failed.
    func takeRaw(_ i: Int) -> [UInt8]? {
        cond.lock(); defer { cond.unlock() }
        while error == nil && raw[i] == nil { cond.wait() }
        guard error == nil else { return nil }
        let r = raw.removeValue(forKey: i)
        cond.broadcast()
        return r
    }

    func addSample(_ i: Int, _ s: [UInt8]) { cond.lock(); sampled[i] = s; cond.unlock() }
    func samples(count: Int) -> [UInt8] {
        cond.lock(); defer { cond.unlock() }
        return (0..<count).flatMap { sampled[$0] ?? [] }
    }

    /// The next tile index, waiting while more than `lookAhead` tiles are ahead of the emitter;
    /// nil when all are taken or the run failed.
    func take(count: Int, lookAhead: Int) -> Int? {
        cond.lock(); defer { cond.unlock() }
        while error == nil && next < count && next - emittedCount >= lookAhead { cond.wait() }
        guard error == nil, next < count else { return nil }
        next += 1
        return next - 1
    }

    func finished(_ i: Int, _ nuclei: [Nucleus]) {
        cond.lock(); pending[i] = nuclei; cond.broadcast(); cond.unlock()
    }

    func fail(_ e: Error) {
        cond.lock(); if error == nil { error = e }; cond.broadcast(); cond.unlock()
    }

    /// The next tile's nuclei in order, waiting for it; nil when done or failed.
    func nextInOrder(count: Int) -> (Int, [Nucleus])? {
        cond.lock(); defer { cond.unlock() }
        while error == nil && emittedCount < count && pending[emittedCount] == nil { cond.wait() }
        guard error == nil, emittedCount < count, let n = pending.removeValue(forKey: emittedCount) else { return nil }
        return (emittedCount, n)
    }

    func emitted(_ i: Int) {
        cond.lock(); emittedCount = i + 1; cond.broadcast(); cond.unlock()
    }
}
