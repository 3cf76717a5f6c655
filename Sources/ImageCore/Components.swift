import Foundation

/// Connected components of a mask: a label per pixel plus per-label area and bounding box.
public struct ComponentLabels: Sendable, Equatable {
    public let width: Int
    public let height: Int
    /// Row-major, `width * height`; 0 = background, 1...count = component, numbered in raster order
    /// of each component's first pixel (the same order as `skimage.measure.label`).
    public let labels: [Int32]
    public let count: Int
    /// Pixel count per label; index = label, `areas[0]` is unused (0).
    public let areas: [Int]
    /// Tight pixel bounding box per label; index = label, `boundingBoxes[0]` is unused (empty).
    public let boundingBoxes: [PixelRect]
}

/// Pixel adjacency: `.four` = edge neighbours, `.eight` = edge and corner neighbours.
public enum Connectivity: Sendable { case four, eight }

public enum ConnectedComponents {
    /// Labels the non-zero pixels of `mask` (two-pass union–find, linear time). Tissue detection uses
    /// it to drop fragments below an area and to group holes with their tissue piece.
    public static func label(_ mask: GrayImage, connectivity: Connectivity) -> ComponentLabels {
        let w = mask.width, h = mask.height
        var labels = [Int32](repeating: 0, count: w * h)
        var parent: [Int32] = [0]
        mask.pixels.withUnsafeBufferPointer { mB in
            labels.withUnsafeMutableBufferPointer { lB in
                guard let m = mB.baseAddress, let l = lB.baseAddress else { return }
                @inline(__always) func find(_ x: Int32) -> Int32 {
                    var r = x
                    while parent[Int(r)] != r { r = parent[Int(r)] }
                    var c = x
                    while parent[Int(c)] != r { let n = parent[Int(c)]; parent[Int(c)] = r; c = n }
                    return r
                }
                // Root = smallest provisional label of the set, i.e. the earliest first pixel.
                @inline(__always) func union(_ a: Int32, _ b: Int32) -> Int32 {
                    let ra = find(a), rb = find(b)
                    if ra == rb { return ra }
                    if ra < rb { parent[Int(rb)] = ra; return ra }
                    parent[Int(ra)] = rb; return rb
                }
                let eight = connectivity == .eight
                for y in 0..<h {
                    let row = m + y * w, lab = l + y * w, up = l + (y - 1) * w
                    for x in 0..<w where row[x] != 0 {
                        var cur: Int32 = 0
                        if y > 0 && up[x] != 0 {
                            cur = up[x] // N touches W, NW and NE already (they were joined through it)
                            if !eight {
                                if x > 0 && lab[x - 1] != 0 { cur = union(cur, lab[x - 1]) }
                            }
                        } else {
                            if x > 0 && lab[x - 1] != 0 { cur = lab[x - 1] }
                            if eight && y > 0 {
                                if x > 0 && up[x - 1] != 0 { cur = cur == 0 ? up[x - 1] : union(cur, up[x - 1]) }
                                if x + 1 < w && up[x + 1] != 0 { cur = cur == 0 ? up[x + 1] : union(cur, up[x + 1]) }
                            }
                        }
                        if cur == 0 {
                            cur = Int32(parent.count)
                            parent.append(cur)
                        }
                        lab[x] = cur
                    }
                }
            }
        }
        // Second pass: final labels in order of first appearance.
        var final = [Int32](repeating: 0, count: parent.count)
        var areas = [0]
        var boxes = [PixelRect(x: 0, y: 0, width: 0, height: 0)]
        var minX = [0], minY = [0], maxX = [0], maxY = [0]
        var count: Int32 = 0
        for i in 1..<parent.count {
            // Flatten: parents always have smaller indices, so one pass suffices.
            parent[i] = parent[Int(parent[i])]
        }
        labels.withUnsafeMutableBufferPointer { lB in
            guard let l = lB.baseAddress else { return }
            for y in 0..<h {
                let lab = l + y * w
                for x in 0..<w where lab[x] != 0 {
                    let root = Int(parent[Int(lab[x])])
                    var f = final[root]
                    if f == 0 {
                        count += 1; f = count; final[root] = f
                        areas.append(0); minX.append(x); maxX.append(x); minY.append(y); maxY.append(y)
                    }
                    lab[x] = f
                    let fi = Int(f)
                    areas[fi] += 1
                    if x < minX[fi] { minX[fi] = x }
                    if x > maxX[fi] { maxX[fi] = x }
                    maxY[fi] = y
                }
            }
        }
        for i in 1..<Int(count + 1) {
            boxes.append(PixelRect(x: minX[i], y: minY[i], width: maxX[i] - minX[i] + 1, height: maxY[i] - minY[i] + 1))
        }
        return ComponentLabels(width: w, height: h, labels: labels, count: Int(count), areas: areas, boundingBoxes: boxes)
    }
}
