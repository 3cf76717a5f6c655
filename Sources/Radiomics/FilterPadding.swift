import Foundation

/// How a filter sees voxels beyond the volume edge (IBSI 2, "boundary conditions").
/// For a row `a b c d`:
/// - `constant`: zeros, `0 0 | a b c d | 0 0`
/// - `nearest`: the edge voxel repeated, `a a | a b c d | d d`
/// - `periodic`: the row wraps around, `c d | a b c d | a b`
/// - `mirror`: reflected about the edge, the edge voxel repeated, `b a | a b c d | d c`
///   (IBSI "mirror"; scipy.ndimage calls it `reflect`, numpy.pad `symmetric`).
public enum PaddingMode: String, Sendable, CaseIterable {
    case constant, nearest, periodic, mirror

    /// Accepts the IBSI names and the names scipy, numpy and PyRadiomics users write.
    public init?(name: String) {
        switch name.lowercased() {
        case "constant", "zero", "zeros": self = .constant
        case "nearest", "edge", "replicate": self = .nearest
        case "periodic", "wrap", "circular": self = .periodic
        case "mirror", "symmetric", "reflect": self = .mirror
        default: return nil
        }
    }
}

extension PaddingMode {
    /// The in-range index that stands for index `i` of a line of `n` voxels, or nil where the
    /// value is zero (constant padding). Works for any distance beyond the edge.
    @inline(__always) func source(_ i: Int, _ n: Int) -> Int? {
        if i >= 0 && i < n { return i }
        switch self {
        case .constant: return nil
        case .nearest: return i < 0 ? 0 : n - 1
        case .periodic:
            let m = i % n
            return m < 0 ? m + n : m
        case .mirror:
            let period = 2 * n
            var m = i % period
            if m < 0 { m += period }
            return m < n ? m : period - 1 - m
        }
    }
}
