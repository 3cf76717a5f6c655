import CTIFF
import Foundation
import ImageCore

/// Finds the physical scale of level 0 from, in order: the user's value, OpenSlide's
/// `openslide.mpp-*`, vendor keys, the TIFF resolution tags, the objective power. Every
/// candidate that is present but unusable is remembered, so "no scale" can say why.
struct ScaleResolver {
    /// Accepted µm/px range. Anything outside is a unit mix-up or a screen DPI (72 px/inch
    /// gives 352 µm/px), not a microscope.
    static let minMPP = 0.01
    static let maxMPP = 100.0

    var properties: [String: String]
    var path: String
    var isTIFF: Bool
    var mppOverride: Double?
    var allowObjectivePowerFallback: Bool

    struct Result {
        var scale: SlideScale?
        var note: String?
        var objectivePower: Double?
    }

    /// nil if `v` is a usable µm/px, else why not.
    static func rejection(_ v: Double) -> String? {
        if !v.isFinite { return "not a finite number" }
        if v <= 0 { return "not positive" }
        if v > maxMPP || v < minMPP {
            return "\(fmt(v)) µm/px is outside the plausible range \(fmt(minMPP))–\(fmt(maxMPP)) µm/px"
        }
        return nil
    }

    static func fmt(_ v: Double) -> String { String(format: "%g", v) }

    func resolve() -> Result {
        var rejected: [String] = []
        let power = objectivePower(&rejected)

        func accept(_ x: Double, _ y: Double, _ source: MPPSource, _ detail: String) -> SlideScale? {
            if let r = ScaleResolver.rejection(x) ?? ScaleResolver.rejection(y) {
                rejected.append("\(source.rawValue) \(detail) rejected: \(r)")
                return nil
            }
            return SlideScale(mppX: x, mppY: y, source: source, detail: detail)
        }
        func finish(_ s: SlideScale?) -> Result {
            Result(scale: s, note: rejected.isEmpty ? nil : rejected.joined(separator: "; "), objectivePower: power)
        }

        if let m = mppOverride, let s = accept(m, m, .user, "user-override \(ScaleResolver.fmt(m))") { return finish(s) }

        if let x = number("openslide.mpp-x") ?? number("openslide.mpp-y") {
            let y = number("openslide.mpp-y") ?? x
            if let s = accept(x, y, .openslide, "openslide.mpp-x") { return finish(s) }
        } else if properties["openslide.mpp-x"] != nil || properties["openslide.mpp-y"] != nil {
            rejected.append("openslide.mpp-x '\(properties["openslide.mpp-x"] ?? "")' is not a number")
        }

        for (x, y, detail) in vendorCandidates(&rejected) {
            if let s = accept(x, y, .vendor, detail) { return finish(s) }
        }

        if isTIFF, let (x, y, detail) = tiffResolution(&rejected) {
            if let s = accept(x, y, .tiffResolution, detail) { return finish(s) }
        }

        if let p = power {
            if allowObjectivePowerFallback {
                if let s = accept(10 / p, 10 / p, .objectivePower, "objective power \(ScaleResolver.fmt(p))") { return finish(s) }
            } else {
                rejected.append("objective power \(ScaleResolver.fmt(p)) is present but the objective-power estimate is disabled")
            }
        }

        if rejected.isEmpty {
            rejected.append("no openslide.mpp-x/y, no vendor µm/px key, "
                + (isTIFF ? "no TIFF XResolution/YResolution with a unit, " : "")
                + "no objective power")
        }
        return finish(nil)
    }

    private func number(_ key: String) -> Double? {
        guard let s = properties[key] else { return nil }
        return Double(s.trimmingCharacters(in: .whitespaces))
    }

    private func objectivePower(_ rejected: inout [String]) -> Double? {
        for key in ["openslide.objective-power", "aperio.AppMag", "hamamatsu.SourceLens",
                    "mirax.GENERAL.OBJECTIVE_MAGNIFICATION"] {
            guard let raw = properties[key] else { continue }
            if let v = number(key), v.isFinite, v > 0, v <= 200 { return v }
            rejected.append("\(key) '\(raw)' is not a usable objective power")
        }
        return nil
    }

    /// Vendor keys OpenSlide may expose without turning them into openslide.mpp-*.
    private func vendorCandidates(_ rejected: inout [String]) -> [(Double, Double, String)] {
        var out: [(Double, Double, String)] = []
        if let v = number("aperio.MPP") { out.append((v, v, "aperio.MPP")) }
        let mx = "mirax.LAYER_0_LEVEL_0_SECTION.MICROMETER_PER_PIXEL_X"
        let my = "mirax.LAYER_0_LEVEL_0_SECTION.MICROMETER_PER_PIXEL_Y"
        if let x = number(mx) { out.append((x, number(my) ?? x, mx)) }
        if let raw = properties["philips.DICOM_PIXEL_SPACING"] {
            // DICOM PixelSpacing in mm, row spacing (y) first: "\"0.000243\" \"0.000243\"".
            let parts = raw.replacingOccurrences(of: "\"", with: " ")
                .split(whereSeparator: { $0 == " " || $0 == "\\" }).compactMap { Double($0) }
            if let first = parts.first {
                let y = first * 1000, x = (parts.count > 1 ? parts[1] : first) * 1000
                out.append((x, y, "philips.DICOM_PIXEL_SPACING"))
            } else {
                rejected.append("philips.DICOM_PIXEL_SPACING '\(raw)' is not readable")
            }
        }
        if let v = number("ventana.ScanRes") { out.append((v, v, "ventana.ScanRes")) }
        if properties["openslide.vendor"] == "hamamatsu", let xr = number("tiff.XResolution") {
            let yr = number("tiff.YResolution") ?? xr
            switch properties["tiff.ResolutionUnit"] {
            case "centimeter": out.append((10000 / xr, 10000 / yr, "hamamatsu tiff.XResolution=\(ScaleResolver.fmt(xr)) px/cm"))
            case "inch": out.append((25400 / xr, 25400 / yr, "hamamatsu tiff.XResolution=\(ScaleResolver.fmt(xr)) px/inch"))
            default: break
            }
        }
        return out
    }

    /// XResolution/YResolution/ResolutionUnit of the first TIFF directory, via libtiff.
    private func tiffResolution(_ rejected: inout [String]) -> (Double, Double, String)? {
        guard let tags = TIFFTags.read(path: path) else { return nil }
        guard let xr = tags.xResolution else { return nil }
        let yr = tags.yResolution ?? xr
        let res = xr == yr ? "XResolution=\(ScaleResolver.fmt(xr))" : "XResolution=\(ScaleResolver.fmt(xr)), YResolution=\(ScaleResolver.fmt(yr))"
        guard xr > 0, yr > 0, xr.isFinite, yr.isFinite else {
            rejected.append("tiff-resolution \(res) rejected: not positive")
            return nil
        }
        switch tags.resolutionUnit {
        case UInt16(RESUNIT_CENTIMETER):
            return (10000 / xr, 10000 / yr, "\(res) px/cm")
        case UInt16(RESUNIT_INCH):
            return (25400 / xr, 25400 / yr, "\(res) px/inch")
        case nil:
            // TIFF 6.0: ResolutionUnit defaults to inch when absent.
            return (25400 / xr, 25400 / yr, "\(res) px/inch (ResolutionUnit absent, TIFF default inch)")
        default:
            rejected.append("tiff-resolution \(res) has ResolutionUnit none (no absolute unit), so it gives no scale")
            return nil
        }
    }
}

/// The few first-directory TIFF tags SlideIO needs (scale and plain-image properties).
struct TIFFTags {
    var width = 0, height = 0
    var xResolution: Double?, yResolution: Double?
    var resolutionUnit: UInt16?
    var compression: UInt16 = 1, photometric: UInt16?
    var strings: [String: String] = [:]
    /// nil when RGBA decoding of the first directory is possible, else libtiff's reason.
    var rgbaProblem: String?

    /// nil when libtiff cannot open the file as TIFF.
    static func read(path: String) -> TIFFTags? {
        (try? read(path: path, strict: false)) ?? nil
    }

    /// Throws libtiff's message when it cannot open the file (strict), else returns nil.
    static func read(path: String, strict: Bool) throws -> TIFFTags? {
        TIFFMessages.install()
        _ = TIFFMessages.takeLast()
        guard let tif = TIFFOpen(path, "r") else {
            if strict { throw ImageCodecError(path: path, reason: TIFFMessages.takeLast() ?? "libtiff cannot open it") }
            return nil
        }
        defer { TIFFClose(tif) }
        var t = TIFFTags()
        var w: UInt32 = 0, h: UInt32 = 0
        withVaTag(tif, TIFFTAG_IMAGEWIDTH, &w)
        withVaTag(tif, TIFFTAG_IMAGELENGTH, &h)
        t.width = Int(w); t.height = Int(h)
        var xr: Float = 0, yr: Float = 0, unit: UInt16 = 0, comp: UInt16 = 1, photo: UInt16 = 0
        if withVaTag(tif, TIFFTAG_XRESOLUTION, &xr) { t.xResolution = Double(xr) }
        if withVaTag(tif, TIFFTAG_YRESOLUTION, &yr) { t.yResolution = Double(yr) }
        if withVaTag(tif, TIFFTAG_RESOLUTIONUNIT, &unit) { t.resolutionUnit = unit }
        if withVaTag(tif, TIFFTAG_COMPRESSION, &comp) { t.compression = comp }
        if withVaTag(tif, TIFFTAG_PHOTOMETRIC, &photo) { t.photometric = photo }
        for (tag, name) in [(TIFFTAG_IMAGEDESCRIPTION, "ImageDescription"), (TIFFTAG_MAKE, "Make"),
                            (TIFFTAG_MODEL, "Model"), (TIFFTAG_SOFTWARE, "Software"), (TIFFTAG_DATETIME, "DateTime")] {
            var p: UnsafeMutablePointer<CChar>? = nil
            if withVaTag(tif, tag, &p), let p { t.strings[name] = String(cString: p) }
        }
        var emsg = [CChar](repeating: 0, count: 1024)
        if TIFFRGBAImageOK(tif, &emsg) == 0 {
            t.rgbaProblem = String(cString: emsg)
        }
        return t
    }

    /// OpenSlide-style `tiff.*` properties for plain TIFF files.
    var properties: [String: String] {
        var p: [String: String] = [:]
        for (k, v) in strings { p["tiff.\(k)"] = v }
        p["tiff.ImageWidth"] = String(width)
        p["tiff.ImageLength"] = String(height)
        p["tiff.Compression"] = String(compression)
        if let photometric { p["tiff.Photometric"] = String(photometric) }
        if let xResolution { p["tiff.XResolution"] = String(xResolution) }
        if let yResolution { p["tiff.YResolution"] = String(yResolution) }
        if let u = resolutionUnit {
            p["tiff.ResolutionUnit"] = u == UInt16(RESUNIT_INCH) ? "inch" : u == UInt16(RESUNIT_CENTIMETER) ? "centimeter" : "none"
        }
        return p
    }
}
