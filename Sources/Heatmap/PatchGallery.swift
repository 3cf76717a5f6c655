import Dispatch
import Foundation
import ImageCore
import SlideIO

/// A grid of the k highest- or lowest-scoring patches read from the slide, each labelled
/// with its rank (1 = highest score of the slide) and score — what drove the prediction,
/// at a glance. Ties keep bag order; NaN scores are never shown.
public struct PatchGallery: Sendable {
    public enum Order: String, Sendable { case highest, lowest }

    public var k: Int = 10
    public var order: Order = .highest
    /// Displayed patch side in pixels.
    public var tileSize: Int = 224
    public var columns: Int = 5
    public var title: String?

    public init(k: Int = 10, order: Order = .highest) { self.k = k; self.order = order }

    /// Indices of the shown patches, in display order (best first for `.highest`, worst
    /// first for `.lowest`).
    public static func select(scores: [Double], k: Int, order: Order) -> [Int] {
        let valid = scores.indices.filter { !scores[$0].isNaN }
        let sorted = valid.sorted { a, b in
            scores[a] != scores[b] ? (order == .highest ? scores[a] > scores[b] : scores[a] < scores[b]) : a < b
        }
        return Array(sorted.prefix(max(0, k)))
    }

    /// The gallery image. Each patch is its level-0 footprint read at the coarsest level
    /// that still has at least `tileSize` pixels across it, area-averaged to `tileSize`.
    public func render(slide: Slide, patches: PatchSet, scores: [Double]) throws -> RGBImage {
        guard scores.count == patches.count else {
            throw HeatmapError(path: slide.path, reason: "\(scores.count) scores for \(patches.count) patches", hint: "give one score per patch, in bag order")
        }
        let shown = PatchGallery.select(scores: scores, k: k, order: order)
        let ranks = PatchGallery.ranks(scores)
        let n = scores.filter { !$0.isNaN }.count
        let ts = max(16, tileSize)
        let s0 = patches.patchSizeLevel0
        let level = slide.bestLevel(forDownsample: s0 / Double(ts))
        let ds = slide.levels[level].downsample
        let side = max(1, Int((s0 / ds).rounded(.up)))

        var tiles = [RGBImage?](repeating: nil, count: shown.count)
        var failure: Error?
        let lock = NSLock()
        tiles.withUnsafeMutableBufferPointer { out in
            DispatchQueue.concurrentPerform(iterations: shown.count) { i in
                let p = shown[i]
                do {
                    let img = try slide.readRegion(x: Int(patches.coords[2 * p]), y: Int(patches.coords[2 * p + 1]),
                                                   level: level, width: side, height: side)
                    out[i] = img.resizedArea(width: ts, height: ts)
                } catch {
                    lock.lock(); if failure == nil { failure = error }; lock.unlock()
                }
            }
        }
        if let failure { throw failure }

        let font = max(1, ts / 150)
        let pad = 8 * font
        let captionHeight = BitmapFont.size(of: "0\n0", scale: font).height + pad
        let cols = max(1, min(columns, shown.count))
        let rows = (shown.count + cols - 1) / cols
        let head = title.map { BitmapFont.size(of: $0, scale: font).height + 2 * pad } ?? pad
        var out = RGBImage(width: pad + cols * (ts + pad), height: head + rows * (ts + captionHeight + pad))
        if let title { BitmapFont.draw(title, into: &out, x: pad, y: pad, scale: font) }
        for (i, tile) in tiles.enumerated() {
            guard let tile else { continue }
            let x = pad + (i % cols) * (ts + pad), y = head + (i / cols) * (ts + captionHeight + pad)
            out.blit(tile, x: x, y: y)
            let p = shown[i]
            let label = "#\(Int(ranks[p])) of \(n)\nscore \(HeatmapLegend.format(scores[p]))"
            BitmapFont.draw(label, into: &out, x: x, y: y + ts + pad / 2, scale: font)
        }
        return out
    }

    /// 1-based rank from the top (highest score = 1; ties: bag order), NaN for NaN.
    static func ranks(_ scores: [Double]) -> [Double] {
        var r = [Double](repeating: .nan, count: scores.count)
        for (i, p) in select(scores: scores, k: scores.count, order: .highest).enumerated() { r[p] = Double(i + 1) }
        return r
    }
}
