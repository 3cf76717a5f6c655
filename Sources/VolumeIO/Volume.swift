import Foundation

/// A scalar volume on a regular grid, in patient millimetres with the DICOM/ITK convention
/// LPS (+x toward the patient's left, +y posterior, +z superior). Readers of RAS formats
/// (NIfTI) convert on read, so every `Volume` in RadioPath is LPS.
///
/// Voxel (i, j, k) sits at `origin + direction · (spacing ⊙ (i, j, k))`; i varies fastest in
/// `voxels`. Masks are volumes too (label values; 0 is background).
public struct Volume: Sendable, Equatable {
    /// Voxels along i, j, k.
    public var size: SIMD3<Int>
    /// Voxel pitch in mm along i, j, k.
    public var spacing: SIMD3<Double>
    /// LPS position (mm) of the centre of voxel (0, 0, 0).
    public var origin: SIMD3<Double>
    /// Row-major 3×3; column c is the LPS unit vector of grid axis c.
    public var direction: [Double]
    /// size.x · size.y · size.z values, i fastest, then j, then k.
    public var voxels: [Float]
    /// The range of the file's integer voxel type when the file stored integers unscaled (nil:
    /// real-valued, scaled or unknown). PyRadiomics' resampling keeps the stored type, so its
    /// convention truncates resampled values into this range.
    public var integerRange: ClosedRange<Double>? = nil

    public init(size: SIMD3<Int>, spacing: SIMD3<Double>, origin: SIMD3<Double> = .zero,
                direction: [Double] = Volume.identityDirection, voxels: [Float]) {
        precondition(voxels.count == size.x * size.y * size.z, "voxel count does not match the size")
        precondition(direction.count == 9, "direction must be 3×3")
        self.size = size
        self.spacing = spacing
        self.origin = origin
        self.direction = direction
        self.voxels = voxels
    }

    /// Equal grids and voxels; `integerRange` is provenance, not content.
    public static func == (a: Volume, b: Volume) -> Bool {
        a.size == b.size && a.spacing == b.spacing && a.origin == b.origin && a.direction == b.direction && a.voxels == b.voxels
    }

    public static let identityDirection: [Double] = [1, 0, 0, 0, 1, 0, 0, 0, 1]

    public var count: Int { voxels.count }

    @inline(__always) public func index(_ i: Int, _ j: Int, _ k: Int) -> Int { i + size.x * (j + size.y * k) }

    @inline(__always) public subscript(i: Int, j: Int, k: Int) -> Float {
        get { voxels[index(i, j, k)] }
        set { voxels[index(i, j, k)] = newValue }
    }

    /// The LPS point (mm) of a continuous grid index.
    public func point(ofIndex p: SIMD3<Double>) -> SIMD3<Double> {
        let s = p * spacing
        let d = direction
        return origin + SIMD3(d[0] * s.x + d[1] * s.y + d[2] * s.z,
                              d[3] * s.x + d[4] * s.y + d[5] * s.z,
                              d[6] * s.x + d[7] * s.y + d[8] * s.z)
    }

    /// The continuous grid index of an LPS point (mm); the direction is orthonormal, so its
    /// inverse is its transpose.
    public func continuousIndex(ofPoint q: SIMD3<Double>) -> SIMD3<Double> {
        let v = q - origin
        let d = direction
        return SIMD3(d[0] * v.x + d[3] * v.y + d[6] * v.z,
                     d[1] * v.x + d[4] * v.y + d[7] * v.z,
                     d[2] * v.x + d[5] * v.y + d[8] * v.z) / spacing
    }

    /// Same size, and spacing, origin and direction equal within `tolerance` (mm, or unitless
    /// for the direction cosines).
    public func hasSameGrid(as other: Volume, tolerance: Double = 1e-4) -> Bool {
        size == other.size
            && ((spacing - other.spacing).abs().max() <= tolerance)
            && ((origin - other.origin).abs().max() <= tolerance)
            && zip(direction, other.direction).allSatisfy { abs($0 - $1) <= tolerance }
    }
}

extension SIMD3 where Scalar == Double {
    fileprivate func abs() -> SIMD3<Double> { SIMD3(Swift.abs(x), Swift.abs(y), Swift.abs(z)) }
}

/// A volume file that cannot be read or written, with what to do about it.
public struct VolumeError: Error, CustomStringConvertible, Sendable {
    public let path: String
    public let reason: String
    public let hint: String
    public init(path: String, reason: String, hint: String = "") {
        self.path = path
        self.reason = reason
        self.hint = hint
    }
    public var description: String { "\(path): \(reason)" + (hint.isEmpty ? "" : " — \(hint)") }
}
