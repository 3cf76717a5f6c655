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
        let dw = destinationWidth, dh = destinationHeight
        let n = dw * 3
        let acc = self.acc, line = self.line
        xw.index.withUnsafeBufferPointer { xiB in
        xw.weight.withUnsafeBufferPointer { xwB in
        xw.start.withUnsafeBufferPointer { xsB in
        yw.index.withUnsafeBufferPointer { yiB in
        yw.weight.withUnsafeBufferPointer { ywB in
        yw.start.withUnsafeBufferPointer { ysB in
            let xi = xiB.baseAddress!, xwt = xwB.baseAddress!, xs = xsB.baseAddress!
            let yi = yiB.baseAddress!, ywt = ywB.baseAddress!, ys = ysB.baseAddress!
            for y in 0..<dh {
                acc.initialize(repeating: 0, count: n)
                for q in ys[y]..<ys[y + 1] {
                    let row = source + Int(yi[q]) * sourceRowStride
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
                let dst = destination + y * destinationRowStride
                for i in 0..<n {
                    let v = (acc[i] + 0.5).rounded(.down)
                    dst[i] = v <= 0 ? 0 : (v >= 255 ? 255 : UInt8(v))
                }
            }
        }}}}}}
    }
}
