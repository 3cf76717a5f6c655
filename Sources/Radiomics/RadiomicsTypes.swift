import Foundation

/// One computed feature: its IBSI identifier (the tag used in the IBSI reference tables, e.g.
/// `morph_volume`, `cm_joint_max_3D_avg`) and its value. NaN means "not defined for this ROI"
/// (e.g. a texture feature of a one-voxel ROI), never a silent zero.
public struct FeatureValue: Sendable, Equatable {
    public let tag: String
    public let value: Double
    public init(_ tag: String, _ value: Double) {
        self.tag = tag
        self.value = value
    }
}

/// The ROI after IBSI pre-processing (resampling, re-segmentation) and discretisation, as the
/// texture families consume it. Grid index (i, j, k), i fastest; k is the slice axis that the
/// 2D and 2.5D aggregations split on.
public struct DiscretisedROI: Sendable {
    public let size: SIMD3<Int>
    public let spacing: SIMD3<Double>
    /// Grey level 1…levelCount inside the intensity mask, 0 outside it.
    public let levels: [Int32]
    /// Ng: the number of grey levels of the discretisation (not only those present).
    public let levelCount: Int
    /// The morphological mask (before re-segmentation); GLDZM distances use it.
    public let morphologicalMask: [Bool]

    public init(size: SIMD3<Int>, spacing: SIMD3<Double>, levels: [Int32], levelCount: Int, morphologicalMask: [Bool]) {
        precondition(levels.count == size.x * size.y * size.z && morphologicalMask.count == levels.count)
        self.size = size
        self.spacing = spacing
        self.levels = levels
        self.levelCount = levelCount
        self.morphologicalMask = morphologicalMask
    }

    @inline(__always) public func index(_ i: Int, _ j: Int, _ k: Int) -> Int { i + size.x * (j + size.y * k) }
}
