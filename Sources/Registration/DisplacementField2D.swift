import Foundation
import ImageCore

/// A dense fixed → moving displacement field on a fixed-space grid: y = x + d(x), d bilinear
/// between grid points and 0 outside the grid (as ITK's DisplacementFieldTransform).
public struct DisplacementField2D: Transform2D {
    /// The grid (its pixels are unused).
    public let grid: Image2D
    /// Components of d (mm) per grid pixel, LPS x and y.
    public var dx: Image2D
    public var dy: Image2D

    /// Samples `t(x) − x` at every pixel centre of `grid`.
    public init<T: Transform2D>(sampling t: T, on grid: Image2D) {
        self.grid = Image2D(width: grid.width, height: grid.height, spacing: grid.spacing, origin: grid.origin)
        dx = self.grid
        dy = self.grid
        for j in 0..<grid.height {
            for i in 0..<grid.width {
                let p = grid.point(ofIndex: SIMD2(Double(i), Double(j)))
                let d = t.map(p) - p
                dx[i, j] = Float(d.x)
                dy[i, j] = Float(d.y)
            }
        }
    }

    public var parameters: [Double] { get { [] } set {} }

    public func map(_ p: SIMD2<Double>) -> SIMD2<Double> {
        guard let x = dx.value(at: p), let y = dy.value(at: p) else { return p }
        return p + SIMD2(Double(x), Double(y))
    }

    public func accumulate(_ p: SIMD2<Double>, _ g: SIMD2<Double>, into grad: UnsafeMutablePointer<Double>) {}
    public func parameterScales(radius: Double) -> [Double] { [] }

    /// Writes a 2D vector NIfTI-1 (`.nii`) the way ITK/SimpleITK does: dim = (5, w, h, 1, 1, 2),
    /// intent VECTOR (1007), float32, components stored as planes, and — as ITK stores vector
    /// images — the components in ITK's LPS frame (not negated to RAS); the grid's origin and axes
    /// are converted to RAS in qform/sform like any NIfTI. SimpleITK reads it back as a
    /// 2-component vector image ready for `sitk.DisplacementFieldTransform`.
    public func writeNIfTI(to path: String) throws {
        guard path.lowercased().hasSuffix(".nii") else {
            throw RegistrationError("\(path): displacement fields are written as uncompressed .nii",
                                    hint: "name the file *.nii (gzip it afterwards if needed)")
        }
        var h = Data(count: 352)
        func put<T>(_ v: T, _ at: Int) { withUnsafeBytes(of: v) { h.replaceSubrange(at..<(at + $0.count), with: $0) } }
        put(Int32(348), 0)
        for (k, v) in [5, grid.width, grid.height, 1, 1, 2, 1, 1].enumerated() { put(Int16(v), 40 + 2 * k) }
        put(Int16(1007), 68) // NIFTI_INTENT_VECTOR
        put(Int16(16), 70) // float32
        put(Int16(32), 72)
        for (k, v) in [1.0, grid.spacing.x, grid.spacing.y, 1, 0, 0, 0, 0].enumerated() { put(Float(v), 76 + 4 * k) }
        put(Float(352), 108)
        h[123] = 10 // mm, s
        put(Int16(1), 252) // qform: scanner
        put(Int16(1), 254) // sform: scanner
        // LPS → RAS is a 180° turn about z: quaternion (b, c, d) = (0, 0, 1).
        for (k, v) in [0.0, 0, 1, -grid.origin.x, -grid.origin.y, 0].enumerated() { put(Float(v), 256 + 4 * k) }
        let srow: [Double] = [-grid.spacing.x, 0, 0, -grid.origin.x, 0, -grid.spacing.y, 0, -grid.origin.y, 0, 0, 1, 0]
        for (k, v) in srow.enumerated() { put(Float(v), 280 + 4 * k) }
        h.replaceSubrange(344..<348, with: Array("n+1\0".utf8))
        var body = h
        for plane in [dx, dy] { plane.pixels.withUnsafeBufferPointer { body.append(Data(buffer: $0)) } }
        try AtomicFile.write(body, to: path)
    }
}
