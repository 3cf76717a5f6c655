import Foundation
import ImageCore
import SlideIO

/// How `tile --save-patches` writes patch images.
public struct PatchImageOptions: Sendable {
    public enum Format: String, Sendable, CaseIterable { case jpeg, png }
    public var format: Format = .jpeg
    /// JPEG quality 1–100 (ignored for PNG).
    public var quality: Int = 90
    public var badTiles: BadTilePolicy = .fail
    /// Decode and encode threads (the one concurrency knob).
    public var workers: Int = ProcessInfo.processInfo.activeProcessorCount

    public init() {}
}

/// Writes the patches of a slide as image files, one folder per slide, for downstream code
/// that wants files. Files are `<slide id>_<x>_<y>.jpg|png` with level-0 coordinates.
public enum PatchExport {
    /// Streams every patch of `request` and writes it into `folder`, atomically: the files go
    /// into a hidden temporary folder that is renamed to `folder` when all are written, so an
    /// interrupted run leaves no half folder and a rerun starts it again.
    @discardableResult
    public static func write(slide: Slide, request: PatchRequest, slideID: String, folder: String,
                             options: PatchImageOptions) throws -> PatchStreamReport {
        let fm = FileManager.default
        let parent = URL(fileURLWithPath: folder).deletingLastPathComponent().path
        try fm.createDirectory(atPath: parent, withIntermediateDirectories: true)
        let tmp = AtomicFile.temporaryPath(for: folder)
        try fm.createDirectory(atPath: tmp, withIntermediateDirectories: false)
        do {
            let ext = options.format == .jpeg ? "jpg" : "png"
            let stream = try PatchStream(slide: slide, request: request, workers: options.workers, badTiles: options.badTiles)
            let workers = max(1, options.workers)
            let codecs = (0..<workers).map { _ in JPEGCodec() }
            let report = try stream.run { batch in
                // Encode the batch on all workers, each with its own codec; write in order.
                var encoded = [Data?](repeating: nil, count: batch.count)
                var failure: Error?
                let lock = NSLock()
                let chunk = (batch.count + workers - 1) / workers
                encoded.withUnsafeMutableBufferPointer { out in
                    DispatchQueue.concurrentPerform(iterations: workers) { w in
                        let lo = w * chunk, hi = min(batch.count, lo + chunk)
                        guard lo < hi else { return }
                        for i in lo..<hi {
                            do {
                                let px = batch.patch(i)
                                if options.format == .jpeg {
                                    out[i] = try codecs[w].encode(rgb: px.baseAddress!, width: batch.patchSize, height: batch.patchSize,
                                                                  quality: options.quality, subsampling: .s444)
                                } else {
                                    out[i] = try PNGCodec.encode(pixels: Array(px), width: batch.patchSize, height: batch.patchSize, channels: 3)
                                }
                            } catch {
                                lock.lock(); failure = failure ?? error; lock.unlock()
                            }
                        }
                    }
                }
                if let failure { throw failure }
                for i in 0..<batch.count {
                    let x = batch.coords[2 * i], y = batch.coords[2 * i + 1]
                    try encoded[i]!.write(to: URL(fileURLWithPath: "\(tmp)/\(slideID)_\(x)_\(y).\(ext)"))
                }
            }
            if fm.fileExists(atPath: folder) { try fm.removeItem(atPath: folder) }
            if rename(tmp, folder) != 0 {
                throw CocoaError(.fileWriteUnknown, userInfo: [NSLocalizedDescriptionKey: "cannot rename \(tmp) to \(folder): \(String(cString: strerror(errno)))"])
            }
            return report
        } catch {
            try? fm.removeItem(atPath: tmp)
            throw error
        }
    }
}
