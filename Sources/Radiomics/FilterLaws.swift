import Foundation
import VolumeIO

/// Laws kernels (IBSI 2): separable products of normalised 1-D kernels, optional pooling
/// over right-angle rotations, then the optional energy map.
enum LawsFilter {
    /// "E5L5S5" → [E5 (i), L5 (j), S5 (k)].
    static func kernels(_ name: String) throws -> [Taps] {
        let s = Array(name.uppercased())
        guard s.count == 4 || s.count == 6 else {
            throw RadiomicsError("Laws kernel '\(name)' is not 2 or 3 kernel names", hint: "write e.g. E5L5S5 (3-D) or L5S5 (2-D) from L5 E5 S5 W5 R5 L3 E3 S3")
        }
        return try stride(from: 0, to: s.count, by: 2).map { i in
            let part = String(s[i...i + 1])
            guard let t = FilterKernels.lawsTaps(part) else {
                throw RadiomicsError("Laws kernel '\(part)' in '\(name)' is unknown", hint: "use L5 E5 S5 W5 R5 L3 E3 S3")
            }
            return t
        }
    }

    static func apply(_ volume: Volume, kernel: String, rotationInvariant: Bool, pooling: RotationPooling,
                      energyDistance: Int?, padding: PaddingMode) throws -> [Float] {
        let ks = try kernels(kernel)
        let dims = ks.count
        let response = pooledSeparable(volume.voxels, size: volume.size, kernels: ks, rotationInvariant: rotationInvariant,
                                       pooling: pooling, padding: padding)
        guard let delta = energyDistance else { return response }
        // Energy: mean of |response| over the (2δ+1)^d neighbourhood, same padding.
        let box = Taps(centred: [Double](repeating: 1 / Double(2 * delta + 1), count: 2 * delta + 1))
        let axes = dims == 3 ? [2, 1, 0] : [1, 0]
        return Separable.apply(response.map(abs), size: volume.size, passes: axes.map { ($0, box) }, padding: padding)
    }

    /// The response of a separable kernel set (filter axis a on grid axis a), or its pool over
    /// every distinct right-angle rotation. Each distinct rotated kernel occurs equally often
    /// among the 24 (or 4), so pooling the distinct ones equals pooling all of them.
    static func pooledSeparable(_ input: [Float], size: SIMD3<Int>, kernels: [Taps], rotationInvariant: Bool,
                                pooling: RotationPooling, padding: PaddingMode) -> [Float] {
        let rotations = rotationInvariant ? RightAngleRotation.all(dimensions: kernels.count)
                                          : [RightAngleRotation(axes: Array(kernels.indices), flips: kernels.map { _ in false })]
        var seen = Set<[Taps]>()
        var pool = Pooler(pooling)
        for r in rotations {
            let byAxis = r.rotate(kernels)
            let key = (0..<kernels.count).map { byAxis[$0]! }
            guard seen.insert(key).inserted else { continue }
            let passes = byAxis.keys.sorted(by: >).map { (axis: $0, taps: byAxis[$0]!) }
            pool.add(Separable.apply(input, size: size, passes: passes, padding: padding))
        }
        return pool.finish()
    }
}
