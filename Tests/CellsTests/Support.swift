@testable import Cells
import Foundation
import ImageCore
import TestSupport
import XCTest

/// Detection scores of predicted against true nuclei.
struct Match {
    var truePositives = 0, predicted = 0, truth = 0
    var meanIoU = 0.0
    var precision: Double { predicted == 0 ? 0 : Double(truePositives) / Double(predicted) }
    var recall: Double { truth == 0 ? 0 : Double(truePositives) / Double(truth) }
    var f1: Double { predicted + truth == 0 ? 1 : 2 * Double(truePositives) / Double(predicted + truth) }
    var summary: String {
        String(format: "F1 %.3f (precision %.3f, recall %.3f; %d predicted, %d true, %d matched)", f1, precision, recall, predicted, truth, truePositives)
    }
}

enum Matching {
    /// One-to-one greedy matching of centroids within `radius`, closest pairs first.
    static func centroids(_ pred: [Point], _ truth: [Point], radius: Double) -> Match {
        var pairs: [(Double, Int, Int)] = []
        let cell = max(radius, 1)
        var grid: [Int64: [Int]] = [:]
        func key(_ p: Point) -> (Int, Int) { (Int((p.x / cell).rounded(.down)), Int((p.y / cell).rounded(.down))) }
        for (j, t) in truth.enumerated() { let k = key(t); grid[Int64(k.0) << 32 | Int64(UInt32(bitPattern: Int32(k.1))), default: []].append(j) }
        for (i, p) in pred.enumerated() {
            let k = key(p)
            for dy in -1...1 {
                for dx in -1...1 {
                    for j in grid[Int64(k.0 + dx) << 32 | Int64(UInt32(bitPattern: Int32(k.1 + dy))), default: []] {
                        let d = hypot(p.x - truth[j].x, p.y - truth[j].y)
                        if d <= radius { pairs.append((d, i, j)) }
                    }
                }
            }
        }
        pairs.sort { $0.0 < $1.0 }
        var usedP = Set<Int>(), usedT = Set<Int>()
        var m = Match(truePositives: 0, predicted: pred.count, truth: truth.count)
        for (_, i, j) in pairs where !usedP.contains(i) && !usedT.contains(j) {
            usedP.insert(i); usedT.insert(j); m.truePositives += 1
        }
        return m
    }

    /// One-to-one matching of instance masks at IoU ≥ `threshold` (unique above 0.5).
    static func masks(pred: [Int32], truth: [Int32], threshold: Double = 0.5) -> Match {
        var inter: [Int64: Int] = [:]
        var ap: [Int32: Int] = [:], at: [Int32: Int] = [:]
        for i in pred.indices {
            let p = pred[i], t = truth[i]
            if p != 0 { ap[p, default: 0] += 1 }
            if t != 0 { at[t, default: 0] += 1 }
            if p != 0 && t != 0 { inter[Int64(p) << 32 | Int64(t), default: 0] += 1 }
        }
        var candidates: [(Double, Int32, Int32)] = []
        for (k, n) in inter {
            let p = Int32(k >> 32), t = Int32(k & 0xFFFF_FFFF)
            let iou = Double(n) / Double(ap[p]! + at[t]! - n)
            if iou >= threshold { candidates.append((iou, p, t)) }
        }
        candidates.sort { $0.0 > $1.0 }
        var usedP = Set<Int32>(), usedT = Set<Int32>()
        var m = Match(truePositives: 0, predicted: ap.count, truth: at.count)
        var sum = 0.0
        for (iou, p, t) in candidates where !usedP.contains(p) && !usedT.contains(t) {
            usedP.insert(p); usedT.insert(t); m.truePositives += 1; sum += iou
        }
        m.meanIoU = m.truePositives > 0 ? sum / Double(m.truePositives) : 0
        return m
    }

    /// A label image of nuclei (1-based in order) from their pixel-edge contours, `scale` =
    /// output px per image px.
    static func labelImage(_ nuclei: [Nucleus], width: Int, height: Int, scale: Double = 1) -> [Int32] {
        var out = [Int32](repeating: 0, count: width * height)
        for (k, n) in nuclei.enumerated() {
            let xs = n.contour.outer.map(\.x), ys = n.contour.outer.map(\.y)
            let x0 = max(0, Int((xs.min()! / scale).rounded(.down))), y0 = max(0, Int((ys.min()! / scale).rounded(.down)))
            let x1 = min(width, Int((xs.max()! / scale).rounded(.up))), y1 = min(height, Int((ys.max()! / scale).rounded(.up)))
            guard x1 > x0, y1 > y0 else { continue }
            var shifted = n.contour
            shifted.outer = shifted.outer.map { Point(x: $0.x / scale - Double(x0), y: $0.y / scale - Double(y0)) }
            shifted.holes = shifted.holes.map { $0.map { Point(x: $0.x / scale - Double(x0), y: $0.y / scale - Double(y0)) } }
            let m = Polygon.fill([shifted], width: x1 - x0, height: y1 - y0)
            for y in y0..<y1 { for x in x0..<x1 where m[x - x0, y - y0] != 0 { out[y * width + x] = Int32(k + 1) } }
        }
        return out
    }
}

/// Raw arrays exchanged with the Python peers.
enum Raw {
    static func write<T>(_ values: [T], _ path: String) throws {
        try values.withUnsafeBytes { try Data($0).write(to: URL(fileURLWithPath: path)) }
    }
    static func read<T>(_ path: String, as: T.Type) throws -> [T] {
        let d = try Data(contentsOf: URL(fileURLWithPath: path))
        return d.withUnsafeBytes { Array($0.bindMemory(to: T.self)) }
    }
}

extension Nucleus {
    func value(_ name: String, singleChannel: Bool = false) -> Double {
        features[NucleusFeatures.names(singleChannel: singleChannel).firstIndex(of: name)!]
    }
}
