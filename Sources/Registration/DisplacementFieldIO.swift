import Foundation

extension DisplacementField2D {
    /// A field from its grid and component planes (mm, LPS).
    public init(grid: Image2D, dx: Image2D, dy: Image2D) {
        precondition(dx.pixels.count == grid.width * grid.height && dy.pixels.count == dx.pixels.count, "field planes must match the grid")
        self.grid = Image2D(width: grid.width, height: grid.height, spacing: grid.spacing, origin: grid.origin)
        self.dx = dx
        self.dy = dy
    }

    /// Reads a 2D displacement field written by `writeNIfTI` (or by SimpleITK from a 2-component
    /// float32 vector image with axis-aligned LPS axes): dim (5, w, h, 1, 1, 2), components in LPS.
    public static func readNIfTI(_ path: String) throws -> DisplacementField2D {
        guard let data = FileManager.default.contents(atPath: path), data.count >= 352 else {
            throw RegistrationError("\(path): cannot be read or is shorter than a NIfTI-1 header", hint: "give the mri_displacement.nii that `radiopath register` wrote")
        }
        func i16(_ at: Int) -> Int { Int(data.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: at, as: Int16.self) }) }
        func f32(_ at: Int) -> Double { Double(data.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: at, as: Float.self) }) }
        let dims = (0..<8).map { i16(40 + 2 * $0) }
        guard data.withUnsafeBytes({ $0.loadUnaligned(fromByteOffset: 0, as: Int32.self) }) == 348 else {
            throw RegistrationError("\(path): not a little-endian NIfTI-1 file", hint: "give the .nii displacement field written by `radiopath register` (uncompressed)")
        }
        guard dims[0] == 5, dims[3] == 1, dims[4] == 1, dims[5] == 2, i16(70) == 16 else {
            throw RegistrationError("\(path): not a 2D float32 displacement field (dim \(dims.prefix(6)), datatype \(i16(70)))",
                                    hint: "expected dim (5, w, h, 1, 1, 2) with float32 components")
        }
        let w = dims[1], h = dims[2], offset = Int(f32(108))
        guard data.count >= offset + 2 * w * h * 4 else {
            throw RegistrationError("\(path): truncated (\(data.count) bytes for a \(w)×\(h)×2 field)", hint: "rewrite the file")
        }
        // sform rows (RAS): x = −spacing_x·i − origin_x, as `writeNIfTI` stores an LPS grid.
        let srow = (0..<8).map { f32(280 + 4 * $0) }
        let grid = Image2D(width: w, height: h, spacing: SIMD2(-srow[0], -srow[5]), origin: SIMD2(-srow[3], -srow[7]))
        guard grid.spacing.x > 0, grid.spacing.y > 0, srow[1] == 0, srow[4] == 0 else {
            throw RegistrationError("\(path): the field's grid is not an axis-aligned LPS grid (sform \(srow))", hint: "resample the field onto the MRI slice grid")
        }
        var planes: [Image2D] = []
        for c in 0..<2 {
            var p = grid
            data.withUnsafeBytes { raw in
                for k in 0..<(w * h) { p.pixels[k] = raw.loadUnaligned(fromByteOffset: offset + 4 * (c * w * h + k), as: Float.self) }
            }
            planes.append(p)
        }
        return DisplacementField2D(grid: grid, dx: planes[0], dy: planes[1])
    }
}
