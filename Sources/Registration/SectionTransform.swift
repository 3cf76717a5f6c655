import Foundation
import ImageCore
import VolumeIO

/// The mapping `radiopath register` writes and `radiopath warp` reads: **MRI slice (LPS mm,
/// x and y in the slice plane) → slide level-0 px** (continuous, top-left corner of the slide
/// at (0, 0), so pixel (i, j) has its centre at (i + ½, j + ½)). The deformable part comes
/// first, on the MRI grid: p ↦ A(p + d(p)), with A the affine `.tfm` and d the displacement
/// field — SimpleITK's `CompositeTransform([A, D])`.
public struct SectionTransform: Transform2D {
    /// MRI LPS mm → slide level-0 px.
    public var affine: MatrixTransform2D
    /// MRI LPS mm → MRI LPS mm (nil: affine only).
    public var field: DisplacementField2D?
    public var mri: MRIGrid
    public var slide: SlideGeometry

    /// The MRI volume's grid and the slice the section lies on.
    public struct MRIGrid: Codable, Sendable {
        public var path: String
        public var size: [Int]
        public var spacing: [Double]
        public var origin: [Double]
        public var direction: [Double]
        public var slice: Int
        /// LPS z (mm) of the slice.
        public var z: Double
        /// The plane the section lies on when it was found tilted (`--slice auto`); its 2D
        /// coordinates are the slice grid's x, y, and `slice` is the nearest axial slice.
        public var plane: ObliquePlane?

        public init(path: String, volume: Volume, slice: Int) {
            self.path = path
            size = [volume.size.x, volume.size.y, volume.size.z]
            spacing = [volume.spacing.x, volume.spacing.y, volume.spacing.z]
            origin = [volume.origin.x, volume.origin.y, volume.origin.z]
            direction = volume.direction
            self.slice = slice
            z = volume.point(ofIndex: SIMD3(0, 0, Double(slice))).z
        }

        public init(path: String, volume: Volume, slice: Int, plane: ObliquePlane?) {
            self.init(path: path, volume: volume, slice: slice)
            self.plane = plane
            if let plane { z = plane.center[2] }
        }
        /// An empty volume (zeros) on this grid.
        public func emptyVolume() -> Volume {
            Volume(size: SIMD3(size[0], size[1], size[2]), spacing: SIMD3(spacing[0], spacing[1], spacing[2]),
                   origin: SIMD3(origin[0], origin[1], origin[2]), direction: direction,
                   voxels: [Float](repeating: 0, count: size[0] * size[1] * size[2]))
        }
        /// The slice's in-plane grid (mm), pixels zero.
        public var sliceGrid: Image2D {
            Image2D(width: size[0], height: size[1], spacing: SIMD2(spacing[0], spacing[1]),
                    origin: SIMD2(origin[0] + Double(slice) * direction[2] * spacing[2], origin[1] + Double(slice) * direction[5] * spacing[2]))
        }
    }

    /// The slide: level-0 size and µm per level-0 pixel.
    public struct SlideGeometry: Codable, Sendable {
        public var path: String
        public var width: Int, height: Int
        public var mppX: Double, mppY: Double
        public init(path: String, width: Int, height: Int, mppX: Double, mppY: Double) {
            self.path = path; self.width = width; self.height = height; self.mppX = mppX; self.mppY = mppY
        }
    }

    public init(affine: MatrixTransform2D, field: DisplacementField2D?, mri: MRIGrid, slide: SlideGeometry) {
        self.affine = affine
        self.field = field
        self.mri = mri
        self.slide = slide
    }

    /// An engine transform (MRI mm → slide mm) expressed towards slide level-0 px: the scale
    /// S = 1000/µm per px folded into the affine, y = S(L(x − c) + c + t) = SL(x − c) + c + (S(c + t) − c).
    public static func toPixels(_ t: MatrixTransform2D, mppX: Double, mppY: Double) -> MatrixTransform2D {
        let s = SIMD2(1000 / mppX, 1000 / mppY), l = t.linear, c = t.center
        let tp = s * (c + t.translation) - c
        return MatrixTransform2D(kind: .affine, center: c, parameters: [s.x * l.a, s.x * l.b, s.y * l.c, s.y * l.d, tp.x, tp.y])
    }

    public var parameters: [Double] { get { [] } set {} }
    public func accumulate(_ p: SIMD2<Double>, _ g: SIMD2<Double>, into grad: UnsafeMutablePointer<Double>) {}
    public func parameterScales(radius: Double) -> [Double] { [] }

    /// MRI LPS mm → slide level-0 px.
    public func map(_ p: SIMD2<Double>) -> SIMD2<Double> { affine.map(field?.map(p) ?? p) }

    /// Slide level-0 px → MRI LPS mm: the affine's exact inverse, then Newton on the field;
    /// nil where the deformation cannot be inverted to `tolerance` mm.
    public func inverse(_ q: SIMD2<Double>, tolerance: Double = 1e-5) -> SIMD2<Double>? {
        let p = affine.inverted.map(q)
        guard let field else { return p }
        return field.inverse(p, guess: p, tolerance: tolerance)
    }

    // MARK: files

    public static let manifestName = "transform.json"
    public static let affineName = "mri_to_slide_affine.tfm"
    public static let fieldName = "mri_displacement.nii"

    struct Manifest: Codable {
        var format = "radiopath-section-transform/1"
        var direction = "MRI slice LPS mm (x, y) -> slide level-0 px; deformable part first: p -> A(p + d(p))"
        var affine: String
        var affineSpace = "fixed: MRI LPS mm (slice plane) -> moving: slide level-0 px (pixel (i, j) centre at (i + 0.5, j + 0.5))"
        var displacementField: String?
        var displacementSpace: String? = "MRI LPS mm -> MRI LPS mm on the MRI slice grid, vector components LPS"
        var mri: MRIGrid
        var slide: SlideGeometry
    }

    /// Writes the manifest, the affine `.tfm` and the field (atomic, each).
    public func write(folder: String) throws {
        try ITKTransformFile.write(affine, to: folder + "/" + Self.affineName)
        if let field { try field.writeNIfTI(to: folder + "/" + Self.fieldName) }
        var m = Manifest(affine: Self.affineName, displacementField: field == nil ? nil : Self.fieldName, mri: mri, slide: slide)
        if field == nil { m.displacementSpace = nil }
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try AtomicFile.write(try enc.encode(m), to: folder + "/" + Self.manifestName)
    }

    /// Reads what `write(folder:)` wrote.
    public static func read(folder: String) throws -> SectionTransform {
        let path = folder + "/" + manifestName
        guard let data = FileManager.default.contents(atPath: path) else {
            throw RegistrationError("\(path): not found", hint: "give --transform the output folder of `radiopath register`")
        }
        let m: Manifest
        do { m = try JSONDecoder().decode(Manifest.self, from: data) } catch {
            throw RegistrationError("\(path): not a RadioPath section transform (\(error))", hint: "rerun `radiopath register`")
        }
        guard m.mri.size.count == 3, m.mri.spacing.count == 3, m.mri.origin.count == 3, m.mri.direction.count == 9 else {
            throw RegistrationError("\(path): the MRI grid is incomplete", hint: "rerun `radiopath register`")
        }
        let affine = try ITKTransformFile.read(folder + "/" + m.affine)
        let field = try m.displacementField.map { try DisplacementField2D.readNIfTI(folder + "/" + $0) }
        return SectionTransform(affine: affine, field: field, mri: m.mri, slide: m.slide)
    }
}
