import Foundation
import ImageCore
import VolumeIO
import ZlibIO

/// A dense fixed → moving displacement field on a fixed volume's grid: y = x + d(x), d
/// trilinear between voxel centres and 0 outside the grid (ITK's DisplacementFieldTransform).
public struct DisplacementField3D: Sendable {
    /// The grid (its voxels hold the x component).
    public var grid: Volume
    /// Components of d (mm, LPS) per voxel, i fastest.
    public var dx: [Float], dy: [Float], dz: [Float]

    /// Samples `map(x) − x` at every voxel centre of `grid`.
    public init(sampling map: (SIMD3<Double>) -> SIMD3<Double>, on grid: Volume) {
        let n = grid.size, count = n.x * n.y * n.z
        var p0 = [Float](repeating: 0, count: count), p1 = p0, p2 = p0
        withoutActuallyEscaping(map) { map in
            p0.withUnsafeMutableBufferPointer { px in p1.withUnsafeMutableBufferPointer { py in p2.withUnsafeMutableBufferPointer { pz in
                let (a, b, c) = (px.baseAddress!, py.baseAddress!, pz.baseAddress!)
                DispatchQueue.concurrentPerform(iterations: n.z) { k in
                    for j in 0..<n.y { for i in 0..<n.x {
                        let x = grid.point(ofIndex: SIMD3(Double(i), Double(j), Double(k)))
                        let d = map(x) - x, q = i + n.x * (j + n.y * k)
                        a[q] = Float(d.x); b[q] = Float(d.y); c[q] = Float(d.z)
                    } }
                }
            } } }
        }
        self.grid = grid
        self.grid.voxels = p0
        dx = p0; dy = p1; dz = p2
    }

    /// x + d(x), d trilinear (0 beyond the outermost voxel centres, as ITK).
    public func map(_ x: SIMD3<Double>) -> SIMD3<Double> {
        let q = grid.continuousIndex(ofPoint: x)
        var d = SIMD3<Double>.zero
        for (c, plane) in [dx, dy, dz].enumerated() {
            guard let v = plane.withUnsafeBufferPointer({ Registration3D.trilinearGradient($0.baseAddress!, grid.size, q)?.0 }) else { return x }
            d[c] = v
        }
        return x + d
    }

    /// Writes a 3-component vector NIfTI-1 (`.nii`, or gzip for `.nii.gz`) the way ITK/SimpleITK
    /// does: dim = (5, nx, ny, nz, 1, 3), intent VECTOR (1007), float32, components stored as
    /// planes in ITK's LPS frame; the grid's geometry in qform/sform as any RadioPath NIfTI.
    /// `sitk.DisplacementFieldTransform(sitk.ReadImage(path, sitk.sitkVectorFloat64))` reads it.
    public func writeNIfTI(to path: String) throws {
        let lower = path.lowercased()
        guard lower.hasSuffix(".nii") || lower.hasSuffix(".nii.gz") else {
            throw RegistrationError("\(path): displacement fields are written as NIfTI", hint: "name the file *.nii or *.nii.gz")
        }
        // The scalar writer gives the geometry; the dims and intent are then made a vector's.
        let tmp = NSTemporaryDirectory() + "/radiopath-field-\(UUID().uuidString).nii"
        defer { try? FileManager.default.removeItem(atPath: tmp) }
        try NIfTI.write(grid, to: tmp)
        guard var data = FileManager.default.contents(atPath: tmp), data.count >= 352 else {
            throw RegistrationError("\(tmp): the temporary NIfTI could not be read back", hint: "check the temporary folder's free space")
        }
        data = data.prefix(352)
        func put<T>(_ v: T, _ at: Int) { withUnsafeBytes(of: v) { data.replaceSubrange(at..<(at + $0.count), with: $0) } }
        for (k, v) in [5, grid.size.x, grid.size.y, grid.size.z, 1, 3, 1, 1].enumerated() { put(Int16(v), 40 + 2 * k) }
        put(Int16(1007), 68)
        for plane in [dx, dy, dz] { plane.withUnsafeBufferPointer { data.append(Data(buffer: $0)) } }
        if lower.hasSuffix(".gz") {
            do { data = try Gzip.compress(data, level: 1) } catch { throw RegistrationError("\(path): gzip failed (\(error))", hint: "write .nii instead") }
        }
        try AtomicFile.write(data, to: path)
    }
}
