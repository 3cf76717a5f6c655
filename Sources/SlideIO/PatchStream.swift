import COpenSlide
import Foundation
import ImageCore

/// Which patches to read, and how: every pipeline that feeds patches to a model (feature
/// extraction, `tile --save-patches`) describes its bag this way.
public struct PatchRequest: Sendable {
    /// Level-0 top-left corners, flat `[x0, y0, x1, y1, …]`, in bag order.
    public var coords: [Int64]
    /// Pyramid level the pixels are read from.
    public var level: Int
    /// Patch side in pixels AT `level`.
    public var readSize: Int
    /// Side delivered: `readSize`, or smaller — then each patch is area-averaged down
    /// (`RGBImage.resizedArea` semantics, byte for byte).
    public var outputSize: Int

    public init(coords: [Int64], level: Int, readSize: Int, outputSize: Int) {
        self.coords = coords; self.level = level; self.readSize = readSize; self.outputSize = outputSize
    }
}

/// What to do with a tile the file cannot give (damaged or truncated JPEG data).
public enum BadTilePolicy: String, Sendable, CaseIterable {
    /// Throw `SlideError(.corrupt)` naming the file, level and tile (after delivering the
    /// batches before it).
    case fail
    /// Deliver the patch with the tile's area painted white (the colour of empty glass, as
    /// `Slide.readRegion` gives outside the slide) and count it in `PatchStreamReport.filled`.
    case fill
    /// Leave every patch touching the tile out of its batch; its bag index goes to
    /// `PatchStreamReport.skippedIndices`.
    case skip
}

/// One batch of patches, valid only inside the `run` callback: its memory is reused for a
/// later batch as soon as the callback returns (copy what must outlive it).
public struct PatchBatch {
    /// First bag index of the bag range this batch covers (`batchSize` patches from here,
    /// fewer for the last batch). With `.skip`, `indices` says which of them were delivered.
    public let startIndex: Int
    /// Patches delivered in this batch (skipped ones are left out).
    public let count: Int
    /// Bag index of each delivered patch, increasing.
    public let indices: UnsafeBufferPointer<Int>
    /// `2 * count` values: level-0 (x, y) of each delivered patch.
    public let coords: UnsafeBufferPointer<Int64>
    /// `count * patchSize² * 3` bytes, RGB, row-major; patch i starts at `i * patchSize² * 3`.
    public let pixels: UnsafeBufferPointer<UInt8>
    /// Side of every patch (the request's `outputSize`).
    public let patchSize: Int

    /// The `patchSize² * 3` bytes of delivered patch `i` (0 ..< count).
    public func patch(_ i: Int) -> UnsafeBufferPointer<UInt8> {
        precondition(i >= 0 && i < count, "PatchBatch.patch: index \(i) out of 0..<\(count)")
        let n = patchSize * patchSize * 3
        return UnsafeBufferPointer(rebasing: pixels[(i * n)..<((i + 1) * n)])
    }
}

/// What a `PatchStream.run` did; `radiopath stream` prints it and pipelines record it.
public struct PatchStreamReport: Codable, Sendable {
    /// Patches delivered.
    public var patches: Int
    /// Patches left out (`.skip`) and patches delivered with white-filled tiles (`.fill`).
    public var skipped: Int, filled: Int
    /// Bag indices of the skipped patches, increasing.
    public var skippedIndices: [Int]
    /// True when the direct TIFF reader (libtiff + TurboJPEG) served the stream.
    public var fastPath: Bool
    /// Why OpenSlide (the general path) read the stream or part of it; nil when it did not.
    public var note: String?
    /// Unreadable tiles met, "level L tile (c, r): reason", each once.
    public var badTiles: [String]
    /// Wall-clock time of `run`.
    public var seconds: Double
    /// Decoded-tile cache use (tiles shared by neighbouring, tile-unaligned patches).
    public var tileCacheHits: Int, tileCacheMisses: Int

    init() {
        patches = 0; skipped = 0; filled = 0; skippedIndices = []; fastPath = false; note = nil
        badTiles = []; seconds = 0; tileCacheHits = 0; tileCacheMisses = 0
    }
}

/// Streams a bag of patches from a slide in bag order, in fixed-size batches, at the speed
/// of the JPEG decoder.
///
/// **Fast path.** For TIFF-family slides (Aperio SVS, generic tiled TIFF) whose level is
/// JPEG-compressed the way `Slide.readLevel` reads directly, tiles are read raw with
/// libtiff and decoded by TurboJPEG (one handle of each per worker) — OpenSlide's pixels bit
/// for bit (see `TIFFTileReader`). A tile lying wholly inside a patch is decoded straight
/// into the patch's place in the batch buffer; a tile shared with neighbouring patches is
/// decoded once into a shared LRU cache (bounded by `tileCacheBytes`) and the needed part
/// copied. Only patches whose level position `x / downsample` is a whole pixel take it
/// (always true at level 0): OpenSlide resamples other positions, so those patches are read
/// through OpenSlide.
///
/// **General path.** Anything else — other formats, non-JPEG levels, levels served by the
/// libtiff workaround, tiles TurboJPEG would decode differently from OpenSlide — is read with
/// OpenSlide (`Slide.readRegion` semantics) on the worker threads; `report.note` says why.
///
/// **Memory** is `readAhead` batch buffers (`batchSize × outputSize² × 3` bytes each), per
/// worker scratch (one tile, one `readSize²` region, one raw tile), and the tile cache —
/// independent of the slide's size and of the bag's length (apart from the request itself).
///
/// **Threads.** `workers` decode threads fill the next batch buffers while `run`'s caller
/// consumes the current one. It is the one concurrency knob: a consumer that runs its own
/// threads (BLAS in an encoder, a PNG writer) should pass the cores left over for decoding,
/// e.g. `activeProcessorCount − its threads`, not oversubscribe.
public final class PatchStream: @unchecked Sendable {
    public let slide: Slide
    public let request: PatchRequest
    public let batchSize: Int, workers: Int, readAhead: Int
    public let badTiles: BadTilePolicy
    public let tileCacheBytes: Int

    private let cancelLock = NSLock()
    private var cancelled = false

    /// Patches served by each path in the last `run` (tests check the fast path was really taken).
    private(set) var lastFastPatches = 0, lastGeneralPatches = 0

    /// Validates the request; throws `SlideError(.invalidRequest)` for a level out of range,
    /// sizes out of range (`1 ≤ outputSize ≤ readSize`), an odd number of coordinates, or
    /// non-positive `batchSize` / `workers` / `readAhead`.
    public init(slide: Slide, request: PatchRequest, batchSize: Int = 64,
                workers: Int = ProcessInfo.processInfo.activeProcessorCount, readAhead: Int = 2,
                badTiles: BadTilePolicy = .fail, tileCacheBytes: Int = 64 << 20) throws {
        func invalid(_ reason: String, _ hint: String = "") -> SlideError {
            SlideError(kind: .invalidRequest, path: slide.path, reason: reason, hint: hint)
        }
        guard slide.levels.indices.contains(request.level) else {
            throw invalid("level \(request.level) does not exist (the slide has levels 0–\(slide.levels.count - 1))")
        }
        guard request.readSize >= 1, request.readSize * request.readSize <= Slide.maxRegionPixels else {
            throw invalid("patch read size \(request.readSize) must be 1–\(Int(Double(Slide.maxRegionPixels).squareRoot())) px")
        }
        guard request.outputSize >= 1, request.outputSize <= request.readSize else {
            throw invalid("patch output size \(request.outputSize) must be 1–\(request.readSize) (the read size); patches are only ever shrunk")
        }
        guard request.coords.count % 2 == 0 else {
            throw invalid("\(request.coords.count) patch coordinates: they must come in (x, y) pairs")
        }
        guard batchSize >= 1, workers >= 1, readAhead >= 1, tileCacheBytes >= 0 else {
            throw invalid("batchSize (\(batchSize)), workers (\(workers)) and readAhead (\(readAhead)) must be at least 1, tileCacheBytes (\(tileCacheBytes)) not negative")
        }
        self.slide = slide
        self.request = request
        self.batchSize = batchSize
        self.workers = workers
        self.readAhead = readAhead
        self.badTiles = badTiles
        self.tileCacheBytes = tileCacheBytes
    }

    /// Thread-safe; the stream stops after the batch in progress (and stays cancelled).
    public func cancel() {
        cancelLock.lock(); cancelled = true; cancelLock.unlock()
    }

    private var isCancelled: Bool {
        cancelLock.lock(); defer { cancelLock.unlock() }
        return cancelled
    }

    /// How the level is read, and why not directly.
    private func route() -> (TIFFTileReader.LevelPlan?, String?) {
        let L = request.level
        guard case .openslide = slide.backend else {
            return (nil, "\(slide.format) images are not read by the direct TIFF reader; patches come from Slide.readRegion")
        }
        if slide.libtiffLevels[L] != nil {
            return (nil, "level \(L) is served by the libtiff workaround for OpenSlide 3.4.1 (tiles larger than the level); read through Slide.readRegion")
        }
        switch slide.tiffTileReader.plan(level: L, path: slide.path, vendor: slide.format, levels: slide.levels) {
        case .direct(let plan): return (plan, nil)
        case .fallback(let why): return (nil, "level \(L) is read through OpenSlide: \(why)")
        }
    }

    /// Reads every patch in bag order; calls `body` on the calling thread with each batch,
    /// in order (batches with every patch skipped are not delivered). Returns when done or
    /// cancelled; throws `SlideError` on a bad tile with policy `.fail` (after delivering
    /// the batches before it), on an OpenSlide failure on the general path (the handle is
    /// then dead, whatever the policy), or what `body` throws.
    public func run(_ body: (PatchBatch) throws -> Void) throws -> PatchStreamReport {
        let started = DispatchTime.now().uptimeNanoseconds
        try slide.checkUsable()
        let n = request.coords.count / 2
        let (plan, routeNote) = route()
        let state = RunState(stream: self, plan: plan, count: n)
        defer { state.deallocate() }

        var report = PatchStreamReport()
        func finish() -> PatchStreamReport {
            state.cond.lock()
            report.skipped = state.skippedTotal
            report.skippedIndices = state.skippedIndices
            report.filled = state.filledPatches
            report.badTiles = state.badTileList
            report.fastPath = plan != nil && state.demotedReason == nil
            var notes: [String] = []
            if let routeNote { notes.append(routeNote) }
            if let why = state.demotedReason {
                notes.append("level \(request.level) was read directly until a tile needed OpenSlide's decoder (\(why)); the rest went through OpenSlide")
            }
            if plan != nil && state.offGridPatches > 0 {
                notes.append("\(state.offGridPatches) patches are not at whole pixels of level \(request.level) (downsample \(slide.levels[request.level].downsample)); OpenSlide read them")
            }
            report.note = notes.isEmpty ? nil : notes.joined(separator: "; ")
            lastFastPatches = state.fastPatches
            lastGeneralPatches = state.generalPatches
            state.cond.unlock()
            if let cache = state.cache {
                let (h, m) = cache.counters()
                report.tileCacheHits = h; report.tileCacheMisses = m
            }
            report.seconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
            return report
        }
        if n == 0 || isCancelled { return finish() }

        let batches = (n + batchSize - 1) / batchSize
        let threads = min(workers, n)
        let group = DispatchGroup()
        for _ in 0..<threads {
            group.enter()
            let t = Thread { state.work(); group.leave() }
            t.stackSize = 1 << 20
            t.start()
        }
        func stopWorkers() {
            state.cond.lock(); state.abort = true; state.cond.broadcast(); state.cond.unlock()
            group.wait()
        }

        for b in 0..<batches {
            if isCancelled { break }
            let slot = b % readAhead
            let start = b * batchSize, cnt = min(batchSize, n - start)
            state.cond.lock()
            while state.done[slot] < cnt && !(state.failure.map { $0.index < start + cnt } ?? false) {
                state.cond.wait()
            }
            if let f = state.failure, f.index < start + cnt {
                state.cond.unlock()
                stopWorkers()
                throw f.error
            }
            // Compact out skipped patches; fill indices and coordinates.
            let pix = state.pixels(slot), skip = state.skipFlags(slot)
            let idx = state.indices + slot * batchSize, crd = state.coordsOut + slot * batchSize * 2
            let pb = state.patchBytes
            var k = 0
            for j in 0..<cnt {
                if skip[j] != 0 { state.skippedIndices.append(start + j); state.skippedTotal += 1; continue }
                if k != j { UnsafeMutableRawPointer(pix + k * pb).copyMemory(from: pix + j * pb, byteCount: pb) }
                idx[k] = start + j
                crd[2 * k] = request.coords[2 * (start + j)]; crd[2 * k + 1] = request.coords[2 * (start + j) + 1]
                k += 1
            }
            state.cond.unlock()
            if k > 0 {
                let batch = PatchBatch(startIndex: start, count: k, indices: UnsafeBufferPointer(start: idx, count: k),
                                       coords: UnsafeBufferPointer(start: crd, count: 2 * k),
                                       pixels: UnsafeBufferPointer(start: pix, count: k * pb), patchSize: request.outputSize)
                do {
                    try body(batch)
                } catch {
                    stopWorkers()
                    throw error
                }
                report.patches += k
            }
            state.cond.lock()
            state.done[slot] = 0
            skip.update(repeating: 0, count: batchSize)
            state.released += 1
            state.cond.broadcast()
            state.cond.unlock()
        }
        stopWorkers()
        return finish()
    }
}

// MARK: - run state

extension PatchStream {
    /// A patch that could not be read, with its bag index.
    struct Failure { let index: Int; let error: Error }

    /// Everything one `run` shares between its workers and its consumer, guarded by `cond`
    /// (except the batch memory, which is handed over through it).
    final class RunState: @unchecked Sendable {
        unowned let stream: PatchStream
        let request: PatchRequest
        let slide: Slide
        let plan: TIFFTileReader.LevelPlan?
        let count: Int, batchSize: Int, readAhead: Int
        let patchBytes: Int
        let cache: TileCache?
        let policy: BadTilePolicy

        let cond = NSCondition()
        // Batch memory, `readAhead` slots.
        private let pixelMemory: UnsafeMutablePointer<UInt8>
        private let skipMemory: UnsafeMutablePointer<UInt8>
        let indices: UnsafeMutablePointer<Int>
        let coordsOut: UnsafeMutablePointer<Int64>
        // Guarded by cond.
        var next = 0, released = 0
        var done: [Int]
        var failure: Failure?
        var abort = false
        var demotedReason: String?
        var badTileList: [String] = []
        private var badTileSet = Set<String>()
        var skippedIndices: [Int] = []
        var skippedTotal = 0, filledPatches = 0
        var fastPatches = 0, generalPatches = 0, offGridPatches = 0

        init(stream: PatchStream, plan: TIFFTileReader.LevelPlan?, count: Int) {
            self.stream = stream
            request = stream.request
            slide = stream.slide
            self.plan = plan
            self.count = count
            batchSize = stream.batchSize
            readAhead = stream.readAhead
            policy = stream.badTiles
            patchBytes = request.outputSize * request.outputSize * 3
            done = Array(repeating: 0, count: readAhead)
            let slots = count == 0 ? 0 : min(readAhead, (count + batchSize - 1) / batchSize)
            pixelMemory = .allocate(capacity: max(1, slots * batchSize * patchBytes))
            skipMemory = .allocate(capacity: max(1, readAhead * batchSize))
            skipMemory.initialize(repeating: 0, count: max(1, readAhead * batchSize))
            indices = .allocate(capacity: max(1, readAhead * batchSize))
            coordsOut = .allocate(capacity: max(2, readAhead * batchSize * 2))
            if let plan, count > 0 {
                let tileBytes = plan.tileWidth * plan.tileHeight * 3
                let cap = stream.tileCacheBytes / max(1, tileBytes)
                cache = cap > 0 ? TileCache(capacity: cap, tileBytes: tileBytes) : nil
            } else {
                cache = nil
            }
        }

        func deallocate() {
            pixelMemory.deallocate(); skipMemory.deallocate(); indices.deallocate(); coordsOut.deallocate()
            cache?.deallocate()
        }

        func pixels(_ slot: Int) -> UnsafeMutablePointer<UInt8> { pixelMemory + slot * batchSize * patchBytes }
        func skipFlags(_ slot: Int) -> UnsafeMutablePointer<UInt8> { skipMemory + slot * batchSize }

        /// Records a bad tile once (call with `cond` held).
        func noteBadTile(_ s: String) {
            if badTileSet.insert(s).inserted { badTileList.append(s) }
        }

        /// One worker: takes runs of consecutive patches (neighbours share tiles, so they
        /// stay on one thread and in its cache lines), waits for their batch's buffer to be
        /// free, reads them.
        func work() {
            let ctx = WorkerContext(state: self)
            let chunk = max(1, min(8, batchSize / max(1, 2 * stream.workers)))
            while true {
                cond.lock()
                guard !abort, failure == nil, next < count else { cond.unlock(); return }
                let b = next / batchSize
                let end = min(next + chunk, (b + 1) * batchSize, count)
                let range = next..<end
                next = end
                while b >= released + readAhead && !abort { cond.wait() }
                if abort { cond.unlock(); return }
                cond.unlock()
                for i in range {
                    let slot = b % readAhead
                    let outcome: WorkerContext.Outcome
                    do {
                        outcome = try ctx.read(patch: i, into: pixels(slot) + (i - b * batchSize) * patchBytes)
                    } catch {
                        cond.lock()
                        if failure == nil || failure!.index > i { failure = Failure(index: i, error: error) }
                        cond.broadcast()
                        cond.unlock()
                        return
                    }
                    cond.lock()
                    switch outcome {
                    case .ok: break
                    case .filled: filledPatches += 1
                    case .skipped: skipFlags(slot)[i - b * batchSize] = 1
                    }
                    done[slot] += 1
                    if done[slot] == min(batchSize, count - b * batchSize) { cond.broadcast() }
                    cond.unlock()
                }
            }
        }
    }
}

// MARK: - worker

extension PatchStream {
    /// One worker thread's handles and scratch memory, reused for every patch.
    final class WorkerContext {
        enum Outcome { case ok, filled, skipped }
        unowned let state: RunState
        let rs: Int, os: Int
        private var tiles: TIFFTileReader.TileContext?
        /// Region at read size, when it must be resized afterwards.
        private var region: UnsafeMutablePointer<UInt8>?
        /// One decoded tile that the cache had no room for.
        private var tileScratch: UnsafeMutablePointer<UInt8>?
        /// OpenSlide's ARGB words for one region.
        private var argb: UnsafeMutableRawPointer?
        private let resizer: AreaResizer?

        init(state: RunState) {
            self.state = state
            rs = state.request.readSize; os = state.request.outputSize
            resizer = os < rs ? AreaResizer(sourceWidth: rs, sourceHeight: rs, destinationWidth: os, destinationHeight: os) : nil
            if resizer != nil { region = .allocate(capacity: rs * rs * 3) }
        }

        deinit {
            region?.deallocate(); tileScratch?.deallocate(); argb?.deallocate()
        }

        /// Reads bag patch `i` into `out` (`outputSize² × 3` bytes).
        func read(patch i: Int, into out: UnsafeMutablePointer<UInt8>) throws -> Outcome {
            let x = state.request.coords[2 * i], y = state.request.coords[2 * i + 1]
            let target = region ?? out
            var outcome = Outcome.ok
            var fast = false
            if let plan = state.plan {
                state.cond.lock()
                let demoted = state.demotedReason != nil
                state.cond.unlock()
                if !demoted {
                    if let (lx, ly) = levelOrigin(x, y) {
                        do {
                            outcome = try readFast(plan, lx, ly, into: target)
                            fast = true
                        } catch TIFFTileReader.Stop.fallback(let why) {
                            state.cond.lock()
                            if state.demotedReason == nil {
                                state.demotedReason = why
                                state.slide.tiffTileReader.demote(level: plan.level, reason: why)
                            }
                            state.cond.unlock()
                        }
                    } else {
                        state.cond.lock(); state.offGridPatches += 1; state.cond.unlock()
                    }
                }
            }
            if !fast { try readGeneral(x, y, into: target) }
            state.cond.lock()
            if fast { state.fastPatches += 1 } else { state.generalPatches += 1 }
            state.cond.unlock()
            if outcome == .skipped { return outcome }
            if let resizer, let region {
                resizer.resize(region, sourceRowStride: rs * 3, into: out, destinationRowStride: os * 3)
            }
            return outcome
        }

        /// The patch's origin in whole pixels of the level, or nil when OpenSlide would
        /// place it between pixels.
        private func levelOrigin(_ x: Int64, _ y: Int64) -> (Int, Int)? {
            let L = state.request.level
            if L == 0 { return (Int(x), Int(y)) }
            let ds = state.slide.levels[L].downsample
            let qx = Double(x) / ds, qy = Double(y) / ds
            guard qx == qx.rounded(), qy == qy.rounded(), abs(qx) < 1e15, abs(qy) < 1e15 else { return nil }
            return (Int(qx), Int(qy))
        }

        private func readGeneral(_ x: Int64, _ y: Int64, into dest: UnsafeMutablePointer<UInt8>) throws {
            let slide = state.slide, L = state.request.level
            if slide.libtiffLevels[L] == nil, case .openslide(let osr) = slide.backend {
                try slide.checkUsable()
                if argb == nil { argb = .allocate(byteCount: rs * rs * 4, alignment: 16) }
                let buf = argb!
                openslide_read_region(osr, buf.bindMemory(to: UInt32.self, capacity: rs * rs), x, y, Int32(L), Int64(rs), Int64(rs))
                try slide.checkOpenSlideError(osr, doing: "reading level \(L) at (\(x), \(y)) size \(rs)x\(rs)")
                PixelConvert.premultipliedARGBToRGBInPlace(buf, count: rs * rs)
                UnsafeMutableRawPointer(dest).copyMemory(from: buf, byteCount: rs * rs * 3)
            } else {
                let img = try slide.readRegion(x: Int(x), y: Int(y), level: L, width: rs, height: rs)
                img.pixels.withUnsafeBufferPointer { dest.update(from: $0.baseAddress!, count: rs * rs * 3) }
            }
        }

        /// Assembles the `rs × rs` region at level position (lx, ly) from the level's tiles.
        private func readFast(_ plan: TIFFTileReader.LevelPlan, _ lx: Int, _ ly: Int,
                              into dest: UnsafeMutablePointer<UInt8>) throws -> Outcome {
            let tw = plan.tileWidth, th = plan.tileHeight, W = plan.width, H = plan.height
            let rowBytes = rs * 3
            if lx < 0 || ly < 0 || lx + rs > W || ly + rs > H {
                dest.update(repeating: 255, count: rs * rs * 3)
            }
            let x0 = max(lx, 0), y0 = max(ly, 0), x1 = min(lx + rs, W), y1 = min(ly + rs, H)
            guard x0 < x1, y0 < y1 else { return .ok }
            if tiles == nil {
                do {
                    tiles = try TIFFTileReader.TileContext(plan, path: state.slide.path)
                } catch TIFFTileReader.Stop.corrupt(let why) {
                    throw corruptError(why)
                }
            }
            let ctx = tiles!
            var outcome = Outcome.ok
            for r in (y0 / th)...((y1 - 1) / th) {
                for c in (x0 / tw)...((x1 - 1) / tw) {
                    let tx = c * tw, ty = r * th
                    let vw = min(tw, W - tx), vh = min(th, H - ty)
                    let ix0 = max(tx, x0), ix1 = min(tx + vw, x1), iy0 = max(ty, y0), iy1 = min(ty + vh, y1)
                    let key = r * plan.across + c
                    let inside = vw == tw && vh == th && ix0 == tx && ix1 == tx + tw && iy0 == ty && iy1 == ty + th
                    do {
                        if inside {
                            let at = dest + (ty - ly) * rowBytes + (tx - lx) * 3
                            if let cache = state.cache, let hit = try cache.peek(key) {
                                copy(from: hit.pointer, tileWidth: tw, tx: tx, ty: ty, ix0, ix1, iy0, iy1, lx, ly, dest)
                                cache.release(hit.slot)
                            } else {
                                try ctx.decodeTile(col: c, row: r, into: at, rowStride: rowBytes)
                            }
                        } else if let cache = state.cache {
                            switch try cache.acquire(key) {
                            case .hit(let slot, let p):
                                copy(from: p, tileWidth: tw, tx: tx, ty: ty, ix0, ix1, iy0, iy1, lx, ly, dest)
                                cache.release(slot)
                            case .load(let slot, let p):
                                do {
                                    try ctx.decodeTile(col: c, row: r, into: p, rowStride: tw * 3)
                                } catch {
                                    cache.failed(slot, key: key, error: error)
                                    throw error
                                }
                                cache.loaded(slot)
                                copy(from: p, tileWidth: tw, tx: tx, ty: ty, ix0, ix1, iy0, iy1, lx, ly, dest)
                                cache.release(slot)
                            case .none:
                                try decodeUncached(ctx, c, r, tw, th, tx, ty, ix0, ix1, iy0, iy1, lx, ly, dest)
                            }
                        } else {
                            try decodeUncached(ctx, c, r, tw, th, tx, ty, ix0, ix1, iy0, iy1, lx, ly, dest)
                        }
                    } catch TIFFTileReader.Stop.corrupt(let why) {
                        let prefix = ctx.describe(col: c, row: r)
                        var reason = why.hasPrefix(prefix) ? String(why.dropFirst(prefix.count)) : why
                        if reason.hasPrefix(":") { reason.removeFirst() }
                        reason = reason.trimmingCharacters(in: .whitespaces)
                        state.cond.lock()
                        state.noteBadTile("level \(plan.level) tile (\(c), \(r)): \(reason)")
                        state.cond.unlock()
                        switch state.policy {
                        case .fail:
                            throw corruptError(why)
                        case .skip:
                            return .skipped
                        case .fill:
                            for yy in iy0..<iy1 {
                                (dest + (yy - ly) * rowBytes + (ix0 - lx) * 3).update(repeating: 255, count: (ix1 - ix0) * 3)
                            }
                            outcome = .filled
                        }
                    }
                }
            }
            return outcome
        }

        private func decodeUncached(_ ctx: TIFFTileReader.TileContext, _ c: Int, _ r: Int, _ tw: Int, _ th: Int,
                                    _ tx: Int, _ ty: Int, _ ix0: Int, _ ix1: Int, _ iy0: Int, _ iy1: Int,
                                    _ lx: Int, _ ly: Int, _ dest: UnsafeMutablePointer<UInt8>) throws {
            if tileScratch == nil { tileScratch = .allocate(capacity: tw * th * 3) }
            try ctx.decodeTile(col: c, row: r, into: tileScratch!, rowStride: tw * 3)
            copy(from: tileScratch!, tileWidth: tw, tx: tx, ty: ty, ix0, ix1, iy0, iy1, lx, ly, dest)
        }

        /// Copies the tile's part [ix0, ix1) × [iy0, iy1) (level px) into the region at (lx, ly).
        @inline(__always)
        private func copy(from tile: UnsafeMutablePointer<UInt8>, tileWidth tw: Int, tx: Int, ty: Int,
                          _ ix0: Int, _ ix1: Int, _ iy0: Int, _ iy1: Int, _ lx: Int, _ ly: Int,
                          _ dest: UnsafeMutablePointer<UInt8>) {
            let n = (ix1 - ix0) * 3
            for yy in iy0..<iy1 {
                (dest + (yy - ly) * rs * 3 + (ix0 - lx) * 3).update(from: tile + ((yy - ty) * tw + (ix0 - tx)) * 3, count: n)
            }
        }

        private func corruptError(_ why: String) -> SlideError {
            SlideError(kind: .corrupt, path: state.slide.path, reason: why,
                       hint: "the file is damaged or truncated; re-copy it or re-export it from the scanner software, or stream with bad tiles filled or skipped")
        }
    }
}

// MARK: - tile cache

/// Decoded tiles of one level, keyed by tile number, least recently used evicted, shared by
/// a stream's workers under one lock. Slots are allocated on first use up to `capacity` and
/// reused; a slot is pinned while a worker decodes into it or copies from it, and a worker
/// wanting a tile another one is decoding waits for it (neighbouring patches are read at the
/// same time by different workers). Unreadable tiles are remembered, so they are tried once.
final class TileCache: @unchecked Sendable {
    let capacity: Int, tileBytes: Int
    private let cond = NSCondition()
    private var memory: [UnsafeMutablePointer<UInt8>] = []
    private var keyOf: [Int] = [], pins: [Int] = [], stamp: [UInt64] = [], ready: [Bool] = []
    private var map: [Int: Int] = [:]
    private var bad: [Int: Error] = [:]
    private var tick: UInt64 = 0
    private var hits = 0, misses = 0

    enum Lookup { case hit(Int, UnsafeMutablePointer<UInt8>), load(Int, UnsafeMutablePointer<UInt8>), none }

    init(capacity: Int, tileBytes: Int) {
        self.capacity = capacity; self.tileBytes = tileBytes
    }

    func deallocate() {
        for m in memory { m.deallocate() }
        memory = []
    }

    func counters() -> (Int, Int) {
        cond.lock(); defer { cond.unlock() }
        return (hits, misses)
    }

    /// The tile if cached and decoded (pinned: `release` it), else nil — never waits or loads.
    func peek(_ key: Int) throws -> (slot: Int, pointer: UnsafeMutablePointer<UInt8>)? {
        cond.lock(); defer { cond.unlock() }
        if let e = bad[key] { throw e }
        guard let s = map[key], ready[s] else { return nil }
        pins[s] += 1; tick += 1; stamp[s] = tick; hits += 1
        return (s, memory[s])
    }

    /// The tile, pinned: `.hit` (decoded), `.load` (the caller decodes into it, then calls
    /// `loaded` or `failed`, and `release`), or `.none` when every slot is pinned.
    func acquire(_ key: Int) throws -> Lookup {
        cond.lock(); defer { cond.unlock() }
        while true {
            if let e = bad[key] { throw e }
            if let s = map[key] {
                if !ready[s] { cond.wait(); continue }
                pins[s] += 1; tick += 1; stamp[s] = tick; hits += 1
                return .hit(s, memory[s])
            }
            break
        }
        misses += 1
        var victim = -1
        if memory.count < capacity {
            memory.append(.allocate(capacity: tileBytes))
            keyOf.append(-1); pins.append(0); stamp.append(0); ready.append(true)
            victim = memory.count - 1
        } else {
            var best = UInt64.max
            for s in 0..<memory.count where pins[s] == 0 && ready[s] && stamp[s] < best { best = stamp[s]; victim = s }
            if victim < 0 { return .none }
            if keyOf[victim] >= 0 { map.removeValue(forKey: keyOf[victim]) }
        }
        keyOf[victim] = key; map[key] = victim; ready[victim] = false; pins[victim] = 1
        tick += 1; stamp[victim] = tick
        return .load(victim, memory[victim])
    }

    func loaded(_ slot: Int) {
        cond.lock(); ready[slot] = true; cond.broadcast(); cond.unlock()
    }

    /// The decode into `slot` failed: the slot is emptied and the tile remembered as bad.
    func failed(_ slot: Int, key: Int, error: Error) {
        cond.lock()
        bad[key] = error
        map.removeValue(forKey: key)
        keyOf[slot] = -1; ready[slot] = true; pins[slot] = 0; stamp[slot] = 0
        cond.broadcast()
        cond.unlock()
    }

    func release(_ slot: Int) {
        cond.lock(); pins[slot] -= 1; cond.unlock()
    }
}
