/// `RGBImage.resizedArea` for one fixed geometry, from and into caller-owned memory, so a
/// stream of equal-sized patches is resized without any allocation per patch.
///
/// Same definition and the same arithmetic, in the same order, as `resizedArea`: every
/// output pixel is the mean of the source area it covers, fractional source pixels weighted
/// by their overlap (a box filter of exactly the output pixel's footprint, applied
/// separably, accumulated in `Float`, rounded half up) — so the bytes are identical.
///
/// The weights are computed once at init; two row buffers of `destinationWidth × 3` floats
/// are owned by the instance. Not thread-safe: use one per thread.
public final class AreaResizer {
    public let sourceWidth: Int, sourceHeight: Int
    public let destinationWidth: Int, destinationHeight: Int
    private let xw: AreaWeights, yw: AreaWeights
    private let acc: UnsafeMutablePointer<Float>
    private let line: UnsafeMutablePointer<Float>

    public init(sourceWidth: Int, sourceHeight: Int, destinationWidth: Int, destinationHeight: Int) {
        precondition(sourceWidth > 0 && sourceHeight > 0 && destinationWidth > 0 && destinationHeight > 0,
                     "AreaResizer: sizes must be positive (\(sourceWidth)x\(sourceHeight) → \(destinationWidth)x\(destinationHeight))")
        self.sourceWidth = sourceWidth; self.sourceHeight = sourceHeight
        self.destinationWidth = destinationWidth; self.destinationHeight = destinationHeight
        xw = AreaWeights(source: sourceWidth, destination: destinationWidth)
        yw = AreaWeights(source: sourceHeight, destination: destinationHeight)
        acc = .allocate(capacity: destinationWidth * 3)
        line = .allocate(capacity: destinationWidth * 3)
    }

    deinit {
        acc.deallocate()
        line.deallocate()
    }

    /// Resizes the RGB image at `source` (rows `sourceRowStride` bytes apart) into
    /// `destination` (rows `destinationRowStride` bytes apart). The two must not overlap.
    public func resize(_ source: UnsafePointer<UInt8>, sourceRowStride: Int,
                       into destination: UnsafeMutablePointer<UInt8>, destinationRowStride: Int) {
        areaResampleRows(source, sourceRowStride, sourceWidth, sourceHeight, destination, destinationRowStride,
                         destinationWidth, destinationHeight, xw, yw, rows: 0..<destinationHeight, acc: acc, line: line)
    }
}

/// The area-resampling kernel shared by `resizedArea` and `AreaResizer`: output rows `rows`,
/// each the overlap-weighted mean of its source footprint (separable, accumulated in Float,
/// rounded half up). `acc` and `line` hold `dw × 3` floats each.
///
/// Whole power-of-two factors (40× → 20× is 2) take an integer path: with weights 1/2ⁿ the
/// Float arithmetic is exact, so the integer mean rounded half up is the same byte.
func areaResampleRows(_ src: UnsafePointer<UInt8>, _ srcStride: Int, _ sw: Int, _ sh: Int,
                      _ dst: UnsafeMutablePointer<UInt8>, _ dstStride: Int, _ dw: Int, _ dh: Int,
                      _ xw: AreaWeights, _ yw: AreaWeights, rows: Range<Int>,
                      acc: UnsafeMutablePointer<Float>, line: UnsafeMutablePointer<Float>) {
    let k = sw / dw
    if k >= 2, sw == k * dw, sh == k * dh, k & (k - 1) == 0 {
        let shift = UInt32((k * k).trailingZeroBitCount), half = UInt32(k * k / 2)
        if k == 2 { // the common case, unrolled: each output byte is the rounded mean of a 2×2 block
            let n = dw * 3
            for y in rows {
                let a = src + (2 * y) * srcStride, b = a + srcStride, out = dst + y * dstStride
                var i = 0, j = 0
                while i < n {
                    out[i] = UInt8((UInt16(a[j]) + UInt16(a[j + 3]) + UInt16(b[j]) + UInt16(b[j + 3]) + 2) >> 2)
                    out[i + 1] = UInt8((UInt16(a[j + 1]) + UInt16(a[j + 4]) + UInt16(b[j + 1]) + UInt16(b[j + 4]) + 2) >> 2)
                    out[i + 2] = UInt8((UInt16(a[j + 2]) + UInt16(a[j + 5]) + UInt16(b[j + 2]) + UInt16(b[j + 5]) + 2) >> 2)
                    i += 3; j += 6
                }
            }
            return
        }
        for y in rows {
            let out = dst + y * dstStride
            for x in 0..<dw {
                var r: UInt32 = 0, g: UInt32 = 0, b: UInt32 = 0
                for j in 0..<k {
                    var p = src + (y * k + j) * srcStride + x * k * 3
                    for _ in 0..<k {
                        r &+= UInt32(p[0]); g &+= UInt32(p[1]); b &+= UInt32(p[2])
                        p += 3
                    }
                }
                out[3 * x] = UInt8((r + half) >> shift)
                out[3 * x + 1] = UInt8((g + half) >> shift)
                out[3 * x + 2] = UInt8((b + half) >> shift)
            }
        }
        return
    }
    let n = dw * 3
    xw.index.withUnsafeBufferPointer { xiB in
    xw.weight.withUnsafeBufferPointer { xwB in
    xw.start.withUnsafeBufferPointer { xsB in
    yw.index.withUnsafeBufferPointer { yiB in
    yw.weight.withUnsafeBufferPointer { ywB in
    yw.start.withUnsafeBufferPointer { ysB in
        let xi = xiB.baseAddress!, xwt = xwB.baseAddress!, xs = xsB.baseAddress!
        let yi = yiB.baseAddress!, ywt = ywB.baseAddress!, ys = ysB.baseAddress!
        for y in rows {
            acc.initialize(repeating: 0, count: n)
            for q in ys[y]..<ys[y + 1] {
                let row = src + Int(yi[q]) * srcStride
                for x in 0..<dw {
                    var r: Float = 0, g: Float = 0, b: Float = 0
                    for e in xs[x]..<xs[x + 1] {
                        let p = row + 3 * Int(xi[e]), wt = xwt[e]
                        r += wt * Float(p[0]); g += wt * Float(p[1]); b += wt * Float(p[2])
                    }
                    line[3 * x] = r; line[3 * x + 1] = g; line[3 * x + 2] = b
                }
                let wy = ywt[q]
                for i in 0..<n { acc[i] += wy * line[i] }
            }
            let out = dst + y * dstStride
            for i in 0..<n {
                let v = acc[i] + 0.5
                out[i] = v <= 0 ? 0 : (v >= 255 ? 255 : UInt8(v)) // UInt8(v) truncates: floor for v > 0
            }
        }
    }}}}}}
}
