import Foundation
import ImageCore
import VolumeIO

/// A generated section written as a registration case folder (what `radiopath synth section`
/// writes and bench/bench_register.py reads): every file names its space in case.json.
extension SyntheticSection {
    /// H&E-like colour for a grey section: each pixel's optical density against the glass (the
    /// median of the image border) is spread over half haematoxylin, half eosin (Ruifrok &
    /// Johnston's unit OD vectors, scaled so the mean channel OD equals the grey OD). Darkness
    /// order is kept; tissue detection (saturation) and colour deconvolution then apply.
    static func stained(_ grey: RGBImage) -> RGBImage {
        let w = grey.width, h = grey.height, b = max(1, min(w, h) / 20)
        var border: [UInt8] = []
        for j in 0..<h { for i in 0..<w where i < b || i >= w - b || j < b || j >= h - b { border.append(grey.pixels[3 * (i + w * j)]) } }
        border.sort()
        let glass = max(1, Double(border[border.count / 2])) / 255
        let hv = SIMD3<Double>(0.650, 0.704, 0.286), ev = SIMD3<Double>(0.072, 0.990, 0.105)
        let v = (hv + ev) / ((hv + ev).sum() / 3)
        // One entry per grey level: 256 values cover every pixel.
        let table: [(UInt8, UInt8, UInt8)] = (0..<256).map { g in
            let od = max(0, -log10(max(Double(g), 1) / 255 / glass))
            func c(_ x: Double) -> UInt8 { UInt8(max(0, min(255, (255 * pow(10, -od * x)).rounded()))) }
            return (c(v.x), c(v.y), c(v.z))
        }
        var out = grey
        for k in 0..<(w * h) {
            let t = table[Int(grey.pixels[3 * k])]
            out.pixels[3 * k] = t.0; out.pixels[3 * k + 1] = t.1; out.pixels[3 * k + 2] = t.2
        }
        return out
    }

    /// Writes into `dir` (created):
    /// - `fixed.nii`, `fixed_mask.nii`: the MRI slice and gland as one-slice volumes (LPS kept);
    /// - `section.png`, `section_mask.png`: the section (grey, 8-bit; with `stained`, H&E-like
    ///   colour of the same optical density) and its tissue mask, one pixel = `moving.spacing`
    ///   (give `--moving-mpp` = spacing × 1000 to `register`);
    /// - `fixed.mha`, `fixed_mask.mha`, `moving.mha`, `moving_mask.mha`, `region.mha` (2D
    ///   MetaImage for elastix; moving in slide mm, the same 8-bit values as the PNG; region = the
    ///   fixed mask's bounding box grown by `margin` mm, where RadioPath samples);
    /// - `truth_displacement.nii`: the true fixed → moving map as an ITK displacement field on
    ///   the MRI slice grid (MRI mm → slide mm);
    /// - `landmarks.csv`: the interior points and their true slide pixels (register's format);
    /// - `case.json`: parameters, truth, points.
    /// The moving grid must be in slide mm (`movingOrigin` = spacing/2). The MetaImage section
    /// is block-averaged by `workingFactor` (the grid `register --working-mpp` reads), so
    /// elastix and RadioPath align the same pixels.
    public func writeCase(to dir: String, parameters p: Parameters, mri: Volume, label: Volume, workingFactor: Int = 1, margin: Double = 10,
                          stained: Bool = false) throws {
        let sp = moving.spacing
        guard abs(moving.origin.x - sp.x / 2) < 1e-9, abs(moving.origin.y - sp.y / 2) < 1e-9 else {
            throw RegistrationError("the section grid is not in slide mm (origin \(moving.origin))", hint: "generate it with movingOrigin = spacing / 2")
        }
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try Self.slab(mri, p.slice).write(dir + "/fixed.nii")
        try Self.slab(label, p.slice).write(dir + "/fixed_mask.nii")

        // 8-bit section: the PNG and the MetaImage hold the same values.
        var grey = moving, rgb = RGBImage(width: moving.width, height: moving.height)
        var maskPNG = GrayImage(width: moving.width, height: moving.height)
        for k in 0..<grey.pixels.count {
            let v = UInt8(max(0, min(255, (grey.pixels[k] * 255).rounded())))
            grey.pixels[k] = Float(v) / 255
            rgb.pixels[3 * k] = v; rgb.pixels[3 * k + 1] = v; rgb.pixels[3 * k + 2] = v
            maskPNG.pixels[k] = movingMask.pixels[k] > 0.5 ? 255 : 0
        }
        if stained { rgb = Self.stained(rgb) }
        try AtomicFile.write(try PNGCodec.encode(rgb), to: dir + "/section.png")
        try AtomicFile.write(try PNGCodec.encode(maskPNG), to: dir + "/section_mask.png")
        try fixed.writeMetaImage(to: dir + "/fixed.mha")
        try fixedMask.writeMetaImage(to: dir + "/fixed_mask.mha")
        try grey.blockAveraged(workingFactor).writeMetaImage(to: dir + "/moving.mha")
        try movingMask.blockAveraged(workingFactor).mapped { $0 >= 0.5 ? 1 : 0 }.writeMetaImage(to: dir + "/moving_mask.mha")
        try region(margin: margin).writeMetaImage(to: dir + "/region.mha")

        let truth = self.truth
        try DisplacementField2D(sampling: InverseTruth(truth: truth), on: fixed).writeNIfTI(to: dir + "/truth_displacement.nii")
        var csv = "fixed_x,fixed_y,moving_x,moving_y\n"
        for q in points {
            let y = truth.inverse(q) / sp
            csv += "\(q.x),\(q.y),\(y.x),\(y.y)\n"
        }
        try AtomicFile.write(Data(csv.utf8), to: dir + "/landmarks.csv")

        let json: [String: Any] = [
            "case": "\(p)", "slice": p.slice, "seed": p.seed, "shrink": p.shrink, "angle_degrees": p.angleDegrees, "flipped": p.flipped,
            "moving_mpp": sp.x * 1000, "working_mpp": sp.x * 1000 * Double(workingFactor),
            "spaces": ["fixed": "MRI slice, LPS mm", "moving": "slide mm = slide px × moving_mpp / 1000 (pixel i centred at i + 0.5 px)",
                       "truth": "moving mm → fixed mm: similarity about the centres, then the bumps' displacement in fixed mm",
                       "points": "interior gland points, fixed mm (TRE: distance between truth(predicted moving point) and the point)"],
            "truth": ["fixedCenter": [truth.fixedCenter.x, truth.fixedCenter.y], "movingCenter": [truth.movingCenter.x, truth.movingCenter.y],
                      "scale": truth.scale, "angle": truth.angle, "flipped": truth.flipped,
                      "bumps": truth.bumps.map { ["center": [$0.center.x, $0.center.y], "amplitude": [$0.amplitude.x, $0.amplitude.y], "sigma": $0.sigma] }],
            "points": points.map { [$0.x, $0.y] },
        ]
        try AtomicFile.write(try JSONSerialization.data(withJSONObject: json, options: [.prettyPrinted, .sortedKeys]), to: dir + "/case.json")
    }

    /// 1 inside the fixed mask's bounding box grown by `margin` mm.
    func region(margin: Double) -> Image2D {
        var lo = SIMD2(Double.infinity, .infinity), hi = -lo
        for j in 0..<fixedMask.height { for i in 0..<fixedMask.width where fixedMask[i, j] > 0.5 {
            let q = fixedMask.point(ofIndex: SIMD2(Double(i), Double(j))); lo = pointwiseMin(lo, q); hi = pointwiseMax(hi, q)
        } }
        lo -= margin; hi += margin
        var r = Image2D(width: fixedMask.width, height: fixedMask.height, spacing: fixedMask.spacing, origin: fixedMask.origin)
        for j in 0..<r.height { for i in 0..<r.width {
            let q = r.point(ofIndex: SIMD2(Double(i), Double(j)))
            r[i, j] = q.x >= lo.x && q.y >= lo.y && q.x <= hi.x && q.y <= hi.y ? 1 : 0
        } }
        return r
    }

    /// Slice k of `v` as a one-slice volume at the same place.
    static func slab(_ v: Volume, _ k: Int) -> Volume {
        let plane = v.size.x * v.size.y
        return Volume(size: SIMD3(v.size.x, v.size.y, 1), spacing: v.spacing, origin: v.point(ofIndex: SIMD3(0, 0, Double(k))),
                      direction: v.direction, voxels: Array(v.voxels[(k * plane)..<((k + 1) * plane)]))
    }

    struct InverseTruth: Transform2D {
        var truth: Truth
        var parameters: [Double] { get { [] } set {} }
        func map(_ p: SIMD2<Double>) -> SIMD2<Double> { truth.inverse(p) }
        func accumulate(_ p: SIMD2<Double>, _ g: SIMD2<Double>, into grad: UnsafeMutablePointer<Double>) {}
        func parameterScales(radius: Double) -> [Double] { [] }
    }
}

private extension Volume {
    func write(_ path: String) throws { try VolumeFile.write(self, to: path) }
}

extension Image2D {
    /// Means of f × f blocks (a partial last block averages what it holds); the grid stays in
    /// the same mm frame (block centres).
    func blockAveraged(_ f: Int) -> Image2D {
        guard f > 1 else { return self }
        let w = (width + f - 1) / f, h = (height + f - 1) / f
        var o = Image2D(width: w, height: h, spacing: spacing * Double(f), origin: origin - spacing / 2 + spacing * Double(f) / 2)
        for J in 0..<h { for I in 0..<w {
            var s: Float = 0, n: Float = 0
            for j in (J * f)..<min(J * f + f, height) { for i in (I * f)..<min(I * f + f, width) { s += self[i, j]; n += 1 } }
            o[I, J] = s / n
        } }
        return o
    }

    /// 2D MetaImage (`.mha`, float32, LPS like ITK), as elastix and SimpleITK read it.
    public func writeMetaImage(to path: String) throws {
        var d = Data("""
        ObjectType = Image
        NDims = 2
        BinaryData = True
        BinaryDataByteOrderMSB = False
        TransformMatrix = 1 0 0 1
        Offset = \(origin.x) \(origin.y)
        ElementSpacing = \(spacing.x) \(spacing.y)
        DimSize = \(width) \(height)
        ElementType = MET_FLOAT
        ElementDataFile = LOCAL

        """.utf8)
        pixels.withUnsafeBufferPointer { d.append(Data(buffer: $0)) }
        try AtomicFile.write(d, to: path)
    }
}
