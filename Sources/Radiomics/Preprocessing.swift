import Foundation
import VolumeIO

/// The ROI after IBSI pre-processing (resampling, mask partial-volume threshold, re-segmentation),
/// on a grid cropped to the mask's bounding box plus a margin that holds the 1 cm³
/// local-intensity sphere. The morphological mask (shape) and the intensity mask (intensity and
/// texture; re-segmented, finite values only) are kept apart as IBSI asks.
public struct PreparedROI: Sendable {
    public let size: SIMD3<Int>
    public let spacing: SIMD3<Double>
    /// LPS position of voxel (0, 0, 0) of the cropped grid; the image's direction.
    public let origin: SIMD3<Double>
    public let direction: [Double]
    /// Every voxel of the cropped grid, in the ROI or not (local intensity uses the surroundings).
    public let intensities: [Double]
    public let morphologicalMask: [Bool]
    public let intensityMask: [Bool]
    /// Bounding box (inclusive) of the morphological mask in the cropped grid; lower > upper when empty.
    public let roiLower: SIMD3<Int>
    public let roiUpper: SIMD3<Int>
    /// The re-segmentation range that was applied (fixed-bin-size X_min and IVH use it).
    public let resegmentationLower: Double?
    public let resegmentationUpper: Double?

    public var isEmpty: Bool { roiLower.x > roiUpper.x }
    var voxelVolume: Double { spacing.x * spacing.y * spacing.z }

    /// Radius (mm) of the 1 cm³ sphere of the local intensity features.
    static let peakRadius = pow(3.0 / (4.0 * Double.pi) * 1000.0, 1.0 / 3.0)

    /// Pre-processes `image` with `mask` (voxels equal to `label`, or any non-zero voxel when nil).
    public init(image: Volume, mask: Volume, label: Int? = nil, parameters p: RadiomicsParameters) throws {
        guard mask.size == image.size else {
            throw RadiomicsError("the mask grid \(mask.size) differs from the image grid \(image.size)",
                                 hint: "resample the mask onto the image grid first")
        }
        guard mask.hasSameGrid(as: image, tolerance: 1e-3 * max(1, image.spacing.max())) else {
            throw RadiomicsError("the mask's spacing, origin or direction differ from the image's",
                                 hint: "resample the mask onto the image grid first")
        }
        if let s = p.resampledSpacing, !(s.min() > 0) {
            throw RadiomicsError("resampled spacing \(s) must be positive")
        }
        let n = image.size
        let inside = Self.membership(label)
        let (lo, hi) = Self.maskBounds(mask, inside)
        let (grids, newSpacing) = Self.targetGrids(image, p)
        let resampled = grids.contains { !$0.isIdentity }

        // The crop: new voxels that can see the mask (±2 old voxels, the spline's reach), plus the
        // local-intensity sphere's reach.
        var c0 = SIMD3<Int>(0, 0, 0), c1 = SIMD3<Int>(-1, -1, -1)
        if hi.x >= 0 {
            for a in 0..<3 {
                let g = grids[a]
                let margin = Int((Self.peakRadius / newSpacing[a]).rounded(.up))
                let first = Int(((Double(lo[a]) - 2 - g.start) / g.step).rounded(.up)) - margin
                let last = Int(((Double(hi[a]) + 2 - g.start) / g.step).rounded(.down)) + margin
                c0[a] = max(0, first); c1[a] = min(g.count - 1, last)
            }
        }
        let size = SIMD3(max(0, c1.x - c0.x + 1), max(0, c1.y - c0.y + 1), max(0, c1.z - c0.z + 1))
        let count = size.x * size.y * size.z

        var values: [Double]
        var morph: [Bool]
        if count == 0 {
            values = []; morph = []
        } else if !resampled {
            values = Self.crop(image.voxels, n, c0, size) { Double($0) }
            morph = Self.crop(mask.voxels, n, c0, size) { inside($0) ? 1 : 0 }.map { $0 > 0.5 }
        } else {
            let r = Self.resample(image, mask, inside, grids, c0, size, p)
            values = r.values
            morph = r.maskFraction.map { $0 >= p.maskThreshold - 1e-9 }   // ties at the threshold are inside
        }
        if p.roundIntensities { for v in values.indices { values[v] = values[v].rounded() } }

        // Re-segmentation: range, then outliers; the intensity mask also drops non-finite voxels.
        var intensity = zip(values, morph).map { $1 && $0.isFinite }
        let lower = p.resegmentationLower, upper = p.resegmentationUpper
        if lower != nil || upper != nil {
            let a = lower ?? -.infinity, b = upper ?? .infinity
            for v in 0..<count where intensity[v] && !(values[v] >= a && values[v] <= b) { intensity[v] = false }
        }
        if let k = p.outlierSigma {
            var s = 0.0, s2 = 0.0, nIn = 0.0
            for v in 0..<count where intensity[v] { s += values[v]; nIn += 1 }
            if nIn > 0 {
                let mean = s / nIn
                for v in 0..<count where intensity[v] { s2 += (values[v] - mean) * (values[v] - mean) }
                let sd = (s2 / nIn).squareRoot()
                for v in 0..<count where intensity[v] && abs(values[v] - mean) > k * sd { intensity[v] = false }
            }
        }

        var rlo = size, rhi = SIMD3<Int>(-1, -1, -1)
        for k in 0..<size.z { for j in 0..<size.y { for i in 0..<size.x where morph[i + size.x * (j + size.y * k)] {
            rlo = pointwiseMin(rlo, SIMD3(i, j, k)); rhi = pointwiseMax(rhi, SIMD3(i, j, k))
        } } }

        self.size = size
        self.spacing = newSpacing
        let firstIndex = SIMD3(grids[0].position(c0.x), grids[1].position(c0.y), grids[2].position(c0.z))
        self.origin = image.point(ofIndex: firstIndex)
        self.direction = image.direction
        self.intensities = values
        self.morphologicalMask = morph
        self.intensityMask = intensity
        self.roiLower = rhi.x >= 0 ? rlo : SIMD3(0, 0, 0)
        self.roiUpper = rhi
        self.resegmentationLower = lower
        self.resegmentationUpper = upper
    }

    /// Whether a mask value belongs to the ROI: equal to `label`, or any finite non-zero value.
    static func membership(_ label: Int?) -> (Float) -> Bool {
        let target = Float(label ?? 0)
        return { v in label == nil ? (v != 0 && v == v) : abs(v - target) < 0.5 }
    }

    /// Inclusive bounding box of the mask on its grid; hi.x < 0 when empty.
    static func maskBounds(_ mask: Volume, _ inside: (Float) -> Bool) -> (SIMD3<Int>, SIMD3<Int>) {
        let n = mask.size
        var lo = n, hi = SIMD3<Int>(-1, -1, -1)
        mask.voxels.withUnsafeBufferPointer { m in
            for k in 0..<n.z { for j in 0..<n.y {
                let row = n.x * (j + n.y * k)
                var first = -1, last = -1
                for i in 0..<n.x where inside(m[row + i]) {
                    if first < 0 { first = i }
                    last = i
                }
                if first >= 0 {
                    lo = pointwiseMin(lo, SIMD3(first, j, k)); hi = pointwiseMax(hi, SIMD3(last, j, k))
                }
            } }
        }
        return (lo, hi)
    }

    /// The target grid per axis: count = ceil(extent / new spacing); IBSI aligns the grid
    /// centres, PyRadiomics the outer corners of the first voxels.
    static func targetGrids(_ image: Volume, _ p: RadiomicsParameters) -> ([AxisGrid], SIMD3<Double>) {
        let n = image.size
        var grids: [AxisGrid] = []
        var newSpacing = image.spacing
        for a in 0..<3 {
            if let s = p.resampledSpacing, !(p.inPlaneOnly && a == 2), abs(s[a] - image.spacing[a]) > 1e-9 * s[a] {
                let count = max(1, Int((Double(n[a]) * image.spacing[a] / s[a] - 1e-9).rounded(.up)))
                let step = s[a] / image.spacing[a]
                let start = p.convention == .ibsi ? Double(n[a] - 1) / 2 - Double(count - 1) / 2 * step : (step - 1) / 2
                grids.append(AxisGrid(count: count, start: start, step: step))
                newSpacing[a] = s[a]
            } else {
                grids.append(AxisGrid(count: n[a], start: 0, step: 1))
            }
        }
        return (grids, newSpacing)
    }

    /// The image and the mask's ROI fraction on the block [c0, c0 + size) of the new grid. The
    /// PyRadiomics convention reads 0 outside the image, keeps the file's integer type and
    /// resamples the mask by nearest neighbour, as SimpleITK does for it.
    static func resample(_ image: Volume, _ mask: Volume, _ inside: (Float) -> Bool, _ grids: [AxisGrid],
                         _ c0: SIMD3<Int>, _ size: SIMD3<Int>, _ p: RadiomicsParameters) -> (values: [Double], maskFraction: [Double]) {
        let zeroOutside = p.convention == .pyradiomics
        var values = Resampler(grids: grids, crop: c0, size: size, source: image.size, interpolator: p.interpolator,
                               outsideIsZero: zeroOutside).apply(image.voxels) { Double($0) }
        keepStoredType(&values, of: image, p)
        let maskInterpolator = p.convention == .pyradiomics ? .nearest : p.maskInterpolator
        let m = Resampler(grids: grids, crop: c0, size: size, source: image.size, interpolator: maskInterpolator,
                          outsideIsZero: zeroOutside).apply(mask.voxels) { inside($0) ? 1 : 0 }
        return (values, m)
    }

    /// PyRadiomics resamples into the image's stored type: SimpleITK casts to an integer type
    /// by truncation toward zero after clamping to the type's range.
    static func keepStoredType(_ values: inout [Double], of image: Volume, _ p: RadiomicsParameters) {
        guard p.convention == .pyradiomics, let range = image.integerRange else { return }
        for v in values.indices where values[v].isFinite {
            values[v] = min(max(values[v], range.lowerBound), range.upperBound).rounded(.towardZero)
        }
    }

    /// The image and a 0/1 mask on the resampled grid, for filters, which IBSI 2 and PyRadiomics
    /// both apply after interpolation; nil when `parameters` asks for no resampling. IBSI: the
    /// whole image. PyRadiomics: its crop, the mask's bounding box ± 5 new voxels (`padDistance`),
    /// so filter borders fall where PyRadiomics' do. The mask's partial-volume threshold is applied.
    public static func resampledForFiltering(image: Volume, mask: Volume, label: Int?,
                                             parameters p: RadiomicsParameters) throws -> (image: Volume, mask: Volume)? {
        guard let spacing = p.resampledSpacing else { return nil }
        guard spacing.min() > 0 else { throw RadiomicsError("resampled spacing \(spacing) must be positive") }
        guard mask.size == image.size, mask.hasSameGrid(as: image, tolerance: 1e-3 * max(1, image.spacing.max())) else {
            throw RadiomicsError("the mask's grid differs from the image's", hint: "resample the mask onto the image grid first")
        }
        let (grids, newSpacing) = targetGrids(image, p)
        guard grids.contains(where: { !$0.isIdentity }) else { return nil }
        let inside = membership(label)
        let (lo, hi) = maskBounds(mask, inside)
        guard hi.x >= 0 else { throw RadiomicsError("the mask is empty", hint: "check the label and the mask file") }
        var c0 = SIMD3<Int>(0, 0, 0), c1 = SIMD3(grids[0].count - 1, grids[1].count - 1, grids[2].count - 1)
        if p.convention == .pyradiomics {
            let pad = 5.0
            for a in 0..<3 {
                let g = grids[a]
                c0[a] = max(0, Int(((Double(lo[a]) - 0.5) / g.step - pad).rounded(.down)))
                c1[a] = min(g.count - 1, Int(((Double(hi[a]) + 0.5) / g.step + pad).rounded(.up)))
            }
        }
        let size = c1 &- c0 &+ 1
        let (values, m) = resample(image, mask, inside, grids, c0, size, p)
        let origin = image.point(ofIndex: SIMD3(grids[0].position(c0.x), grids[1].position(c0.y), grids[2].position(c0.z)))
        let resampledImage = Volume(size: size, spacing: newSpacing, origin: origin, direction: image.direction,
                                    voxels: values.map { Float($0) })
        let resampledMask = Volume(size: size, spacing: newSpacing, origin: origin, direction: image.direction,
                                   voxels: m.map { $0 >= p.maskThreshold - 1e-9 ? 1 : 0 })
        return (resampledImage, resampledMask)
    }

    /// The block [c0, c0 + size) of `src`, each value passed through `map`.
    private static func crop(_ src: [Float], _ n: SIMD3<Int>, _ c0: SIMD3<Int>, _ size: SIMD3<Int>, _ map: (Float) -> Double) -> [Double] {
        var out = [Double](repeating: 0, count: size.x * size.y * size.z)
        src.withUnsafeBufferPointer { s in
            out.withUnsafeMutableBufferPointer { o in
                for k in 0..<size.z { for j in 0..<size.y {
                    let from = c0.x + n.x * (c0.y + j + n.y * (c0.z + k)), to = size.x * (j + size.y * k)
                    for i in 0..<size.x { o[to + i] = map(s[from + i]) }
                } }
            }
        }
        return out
    }

    /// Linear index in the cropped grid.
    @inline(__always) func index(_ i: Int, _ j: Int, _ k: Int) -> Int { i + size.x * (j + size.y * k) }

    /// The intensity-mask values.
    func roiValues() -> [Double] {
        var out: [Double] = []
        out.reserveCapacity(intensityMask.count / 2)
        for v in 0..<intensityMask.count where intensityMask[v] { out.append(intensities[v]) }
        return out
    }
}

/// New voxel j of an axis sits at old continuous index start + j·step.
struct AxisGrid {
    let count: Int
    let start: Double
    let step: Double
    var isIdentity: Bool { start == 0 && step == 1 }
    func position(_ j: Int) -> Double { start + Double(j) * step }
}
