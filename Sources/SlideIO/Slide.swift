import COpenSlide
import Foundation
import ImageCore

/// An open whole-slide image: any file OpenSlide 3.4.1 opens, plus plain PNG/JPEG/TIFF
/// images it refuses (served as one level). Metadata is read once at open; pixel reads
/// are safe from many threads on one handle.
///
/// Once OpenSlide reports an error on a read, the handle is dead (OpenSlide's rule): that
/// error is thrown again by every later read, so no caller gets blank pixels silently.
public final class Slide: @unchecked Sendable {
    /// The path as given to `open`.
    public let path: String
    /// `openslide.vendor` ("aperio", "hamamatsu", "generic-tiff", ...) or
    /// "plain-tiff" / "plain-png" / "plain-jpeg".
    public let format: String
    /// Pyramid levels, level 0 first (largest).
    public let levels: [SlideLevel]
    /// Level-0 width in pixels.
    public var width: Int { levels[0].width }
    /// Level-0 height in pixels.
    public var height: Int { levels[0].height }
    /// All OpenSlide properties; for plain images a few TIFF tags (`tiff.*`) or nothing.
    public let properties: [String: String]
    /// Level-0 µm/px and where it came from; nil when there is no usable scale.
    public let scale: SlideScale?
    /// Why `scale` is nil, or which candidates were rejected on the way.
    let scaleNote: String?
    /// Scanner objective magnification when the metadata says it.
    public let objectivePower: Double?
    /// Names of associated images (label, macro, thumbnail, ...).
    public let associatedImageNames: [String]

    enum Backend {
        case openslide(OpaquePointer)
        case plain(PlainImage)
    }
    let backend: Backend
    /// Levels OpenSlide 3.4.1 + libtiff 4.5 would read as garbage, served by libtiff instead
    /// (see `TIFFLevelImage`).
    let libtiffLevels: [Int: TIFFLevelImage]
    /// Direct libtiff + TurboJPEG reads of whole JPEG levels (`readLevel`); planned lazily.
    let tiffTileReader = TIFFTileReader()

    private let lock = NSLock()
    private var failure: SlideError?
    private var cachedHash: String?

    /// Largest region one `readRegion` call may return (pixels): 2^28 = 268 M px, 1 GiB
    /// of ARGB scratch. Larger areas must be read in pieces.
    static let maxRegionPixels = 1 << 28
    /// Largest accepted level side; anything bigger is a damaged header.
    static let maxSide = 1_000_000

    private init(path: String, format: String, levels: [SlideLevel], properties: [String: String],
                 resolved: ScaleResolver.Result, associatedImageNames: [String], backend: Backend,
                 libtiffLevels: [Int: TIFFLevelImage] = [:]) {
        self.path = path
        self.format = format
        self.levels = levels
        self.properties = properties
        self.scale = resolved.scale
        self.scaleNote = resolved.note
        self.objectivePower = resolved.objectivePower
        self.associatedImageNames = associatedImageNames
        self.backend = backend
        self.libtiffLevels = libtiffLevels
    }

    deinit {
        if case .openslide(let osr) = backend { openslide_close(osr) }
    }

    // MARK: open

    /// Opens a slide. `mppOverride` (µm per level-0 pixel) beats any scale in the file;
    /// `allowObjectivePowerFallback` allows estimating the scale as 10 / objective power
    /// when the file has nothing better (the result is flagged `isEstimate`).
    ///
    /// Throws `SlideError`: `.notFound`, `.unreadable` (folder, permissions),
    /// `.unsupported` (a format neither OpenSlide nor the plain reader handles),
    /// `.corrupt` (OpenSlide or libtiff recognises the file but fails on it, or absurd
    /// dimensions), `.invalidRequest` (an unusable `mppOverride`).
    public static func open(path: String, mppOverride: Double? = nil, allowObjectivePowerFallback: Bool = true) throws -> Slide {
        if let m = mppOverride, let why = ScaleResolver.rejection(m) {
            throw SlideError(kind: .invalidRequest, path: path, reason: "the µm/px override \(m) is unusable: \(why)",
                             hint: "give the level-0 pixel size in micrometres, e.g. --slide-mpp 0.25 for a 40x scan")
        }
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw SlideError(kind: .notFound, path: path, reason: "no such file", hint: "check the path (relative paths are resolved from \(FileManager.default.currentDirectoryPath))")
        }
        if isDir.boolValue {
            throw SlideError(kind: .unreadable, path: path, reason: "is a folder, not a slide file",
                             hint: "give the slide file itself (for MIRAX, the .mrxs file beside the folder)")
        }
        guard access(path, R_OK) == 0 else {
            throw SlideError(kind: .unreadable, path: path, reason: "cannot be read (\(String(cString: strerror(errno))))",
                             hint: "check the file's permissions")
        }

        if let osr = openslide_open(path) {
            if let err = openslide_get_error(osr) {
                let message = String(cString: err)
                let vendor = openslide_detect_vendor(path).map { String(cString: $0) }
                openslide_close(osr)
                throw SlideError(kind: .corrupt, path: path,
                                 reason: "OpenSlide recognises it\(vendor.map { " as \($0)" } ?? "") but cannot open it: \(message)",
                                 hint: "the file is damaged or uses a variant OpenSlide 3.4.1 does not read; re-export it from the scanner software or convert it to a tiled pyramidal TIFF")
            }
            do {
                return try openOpenSlide(osr, path: path, mppOverride: mppOverride, allowObjectivePowerFallback: allowObjectivePowerFallback)
            } catch {
                openslide_close(osr)
                throw error
            }
        }

        if let plainFormat = ImageFile.sniff(path: path) {
            return try openPlain(path: path, format: plainFormat, mppOverride: mppOverride, allowObjectivePowerFallback: allowObjectivePowerFallback)
        }
        throw unsupportedError(path: path)
    }

    private static func openOpenSlide(_ osr: OpaquePointer, path: String, mppOverride: Double?,
                                      allowObjectivePowerFallback: Bool) throws -> Slide {
        let count = Int(openslide_get_level_count(osr))
        guard count >= 1 else {
            throw SlideError(kind: .corrupt, path: path, reason: "OpenSlide reports \(count) pyramid levels",
                             hint: "the file is damaged; re-export it from the scanner software")
        }
        var levels: [SlideLevel] = []
        for i in 0..<count {
            var w: Int64 = -1, h: Int64 = -1
            openslide_get_level_dimensions(osr, Int32(i), &w, &h)
            levels.append(SlideLevel(index: i, width: Int(w), height: Int(h), downsample: openslide_get_level_downsample(osr, Int32(i))))
        }
        try validate(levels: levels, path: path)

        var properties: [String: String] = [:]
        for name in cStrings(openslide_get_property_names(osr)) {
            if let v = openslide_get_property_value(osr, name) { properties[name] = String(cString: v) }
        }
        let associated = cStrings(openslide_get_associated_image_names(osr))
        if let err = openslide_get_error(osr) {
            throw SlideError(kind: .corrupt, path: path, reason: "OpenSlide failed while reading the metadata: \(String(cString: err))",
                             hint: "the file is damaged; re-export it from the scanner software")
        }
        let isTIFF = ImageFile.sniff(path: path) == .tiff
        let resolved = ScaleResolver(properties: properties, path: path, isTIFF: isTIFF,
                                     mppOverride: mppOverride, allowObjectivePowerFallback: allowObjectivePowerFallback).resolve()
        let vendor = properties["openslide.vendor"] ?? "unknown"
        let workaround = isTIFF ? TIFFLevelImage.affectedLevels(path: path, vendor: vendor, levels: levels) : [:]
        return Slide(path: path, format: vendor, levels: levels, properties: properties,
                     resolved: resolved, associatedImageNames: associated, backend: .openslide(osr), libtiffLevels: workaround)
    }

    private static func openPlain(path: String, format: ImageFile.Format, mppOverride: Double?,
                                  allowObjectivePowerFallback: Bool) throws -> Slide {
        var w = 0, h = 0
        var properties: [String: String] = [:]
        let damaged = "the file is damaged or truncated; re-export or re-copy it"
        switch format {
        case .tiff:
            let tags: TIFFTags?
            do { tags = try TIFFTags.read(path: path, strict: true) } catch {
                throw SlideError(kind: .corrupt, path: path,
                                 reason: "starts like a TIFF but neither OpenSlide nor libtiff can open it (\((error as? ImageCodecError)?.reason ?? "\(error)"))",
                                 hint: damaged)
            }
            guard let tags else { throw unsupportedError(path: path) }
            if let problem = tags.rgbaProblem {
                throw SlideError(kind: .unsupported, path: path, reason: "OpenSlide cannot open this TIFF and libtiff cannot decode its layout (\(problem))",
                                 hint: "convert it to an 8-bit RGB tiled pyramidal TIFF, e.g. `vips tiffsave IN OUT.tif --tile --pyramid --compression jpeg`")
            }
            w = tags.width; h = tags.height
            properties = tags.properties
        case .png:
            guard let d = PlainImage.pngDimensions(path: path) else {
                throw SlideError(kind: .corrupt, path: path, reason: "starts like a PNG but has no readable IHDR header", hint: damaged)
            }
            (w, h) = d
        case .jpeg:
            guard let d = PlainImage.jpegDimensions(path: path) else {
                throw SlideError(kind: .corrupt, path: path, reason: "starts like a JPEG but has no readable frame header", hint: damaged)
            }
            (w, h) = d
        }
        let levels = [SlideLevel(index: 0, width: w, height: h, downsample: 1)]
        try validate(levels: levels, path: path)
        guard w * h <= ImageFile.maxPlainPixels else {
            throw SlideError(kind: .unsupported, path: path,
                             reason: "a plain \(format.rawValue.uppercased()) of \(w)x\(h) px is too large to decode whole (limit \(ImageFile.maxPlainPixels) px)",
                             hint: "convert it to a tiled pyramidal TIFF, e.g. `vips tiffsave IN OUT.tif --tile --pyramid --compression jpeg`")
        }
        let resolved = ScaleResolver(properties: properties, path: path, isTIFF: format == .tiff,
                                     mppOverride: mppOverride, allowObjectivePowerFallback: allowObjectivePowerFallback).resolve()
        return Slide(path: path, format: "plain-\(format.rawValue)", levels: levels, properties: properties, resolved: resolved,
                     associatedImageNames: [], backend: .plain(PlainImage(path: path, format: format, width: w, height: h)))
    }

    static func validate(levels: [SlideLevel], path: String) throws {
        for l in levels {
            guard l.width > 0, l.height > 0, l.width <= maxSide, l.height <= maxSide else {
                throw SlideError(kind: .corrupt, path: path,
                                 reason: "level \(l.index) has absurd dimensions \(l.width)x\(l.height) (each side must be 1–\(maxSide) px)",
                                 hint: "the header is damaged; re-export the slide from the scanner software")
            }
            guard l.downsample.isFinite, l.downsample >= 1 || l.index == 0 else {
                throw SlideError(kind: .corrupt, path: path, reason: "level \(l.index) has an invalid downsample \(l.downsample)",
                                 hint: "the header is damaged; re-export the slide from the scanner software")
            }
        }
        for (a, b) in zip(levels, levels.dropFirst()) where b.width > a.width || b.height > a.height || b.downsample < a.downsample {
            throw SlideError(kind: .corrupt, path: path,
                             reason: "pyramid levels are not decreasing: level \(a.index) is \(a.width)x\(a.height) (downsample \(a.downsample)), level \(b.index) is \(b.width)x\(b.height) (downsample \(b.downsample))",
                             hint: "the pyramid is damaged; rebuild it, e.g. `vips tiffsave IN OUT.tif --tile --pyramid`")
        }
    }

    /// The error for a readable file no reader handles, with the most useful hint we can give.
    static func unsupportedError(path: String) -> SlideError {
        var head = [UInt8]()
        if let fh = FileHandle(forReadingAtPath: path) {
            head = [UInt8]((try? fh.read(upToCount: 132)) ?? Data())
            try? fh.close()
        }
        let ext = URL(fileURLWithPath: path).pathExtension.lowercased()
        if head.count >= 132 && head[128...131].elementsEqual("DICM".utf8) || ext == "dcm" {
            return SlideError(kind: .unsupported, path: path, reason: "is a DICOM file; OpenSlide 3.4.1 cannot open DICOM WSI",
                              hint: "convert it to a tiled pyramidal TIFF (e.g. with wsidicom in Python, or with OpenSlide ≥ 4.0 and `vips tiffsave IN OUT.tif --tile --pyramid`) and open the TIFF")
        }
        if head.isEmpty {
            return SlideError(kind: .corrupt, path: path, reason: "the file is empty", hint: "re-copy it from its source")
        }
        let names: [String: String] = [
            "svs": "an Aperio SVS", "ndpi": "a Hamamatsu NDPI", "vms": "a Hamamatsu VMS", "vmu": "a Hamamatsu VMU",
            "scn": "a Leica SCN", "mrxs": "a MIRAX", "bif": "a Ventana BIF", "tif": "a TIFF", "tiff": "a TIFF",
            "svslide": "a Sakura SVSlide",
        ]
        let first = head.prefix(8).map { String(format: "%02X", $0) }.joined(separator: " ")
        if let kind = names[ext] {
            return SlideError(kind: .corrupt, path: path,
                              reason: "the name says \(kind) file but OpenSlide does not recognise its content (first bytes \(first)); it is damaged, truncated or not a slide",
                              hint: "re-copy or re-export it from the scanner software")
        }
        if ext == "isyntax" || ext == "czi" {
            return SlideError(kind: .unsupported, path: path, reason: "OpenSlide 3.4.1 cannot open .\(ext) files",
                              hint: "convert it to a tiled pyramidal TIFF with the vendor's tools or bfconvert, then open the TIFF")
        }
        return SlideError(kind: .unsupported, path: path,
                          reason: "neither OpenSlide 3.4.1 nor the plain PNG/JPEG/TIFF reader recognises it (first bytes \(first))",
                          hint: "convert it to a tiled pyramidal TIFF, e.g. `vips tiffsave IN OUT.tif --tile --pyramid --compression jpeg`")
    }

    static func cStrings(_ list: UnsafePointer<UnsafePointer<CChar>?>?) -> [String] {
        guard let list else { return [] }
        var out: [String] = []
        var i = 0
        while let s = list[i] { out.append(String(cString: s)); i += 1 }
        return out
    }

    // MARK: state

    /// Throws the remembered failure, if the handle is dead.
    func checkUsable() throws {
        lock.lock()
        defer { lock.unlock() }
        if let failure { throw failure }
    }

    /// After an OpenSlide call: if the handle has entered the error state, remember it
    /// (first message wins) and throw.
    func checkOpenSlideError(_ osr: OpaquePointer, doing what: String) throws {
        guard let err = openslide_get_error(osr) else { return }
        let message = String(cString: err)
        lock.lock()
        defer { lock.unlock() }
        if failure == nil {
            failure = SlideError(kind: .corrupt, path: path, reason: "OpenSlide failed \(what): \(message); the slide cannot be read any further",
                                 hint: "the file is damaged or truncated; re-copy it, or re-export it from the scanner software")
        }
        throw failure!
    }

    private func invalid(_ reason: String, _ hint: String = "") -> SlideError {
        SlideError(kind: .invalidRequest, path: path, reason: reason, hint: hint)
    }

    // MARK: scale, identity

    /// The scale, or a `.noScale` error saying what was looked at and how to give one.
    public func requireScale() throws -> SlideScale {
        if let scale { return scale }
        throw SlideError(kind: .noScale, path: path,
                         reason: "no usable physical scale (µm/px): \(scaleNote ?? "none found")",
                         hint: "give it with --slide-mpp MPP (µm per level-0 pixel) or --mpp-csv FILE (columns slide,mpp)")
    }

    /// `openslide.quickhash-1` when OpenSlide gives one, else the SHA-256 (hex) of the
    /// whole file, streamed and computed once. Empty only if the file cannot be re-read.
    public var quickHash: String {
        if let q = properties["openslide.quickhash-1"], !q.isEmpty { return q }
        lock.lock()
        if let h = cachedHash { lock.unlock(); return h }
        lock.unlock()
        guard let h = try? SHA256.hexDigest(ofFile: path) else { return "" }
        lock.lock()
        cachedHash = h
        lock.unlock()
        return h
    }

    /// Same rule as OpenSlide 3.4.1's `openslide_get_best_level_for_downsample`: the
    /// deepest level whose downsample is not above `d` (level 0 for `d` below 1).
    public func bestLevel(forDownsample d: Double) -> Int {
        if d < levels[0].downsample { return 0 }
        for i in 1..<max(1, levels.count) where d < levels[i].downsample { return i - 1 }
        return levels.count - 1
    }

    // MARK: pixels

    /// Region at `level`, origin (x, y) in LEVEL-0 px, size in that level's px; RGB,
    /// premultiplied ARGB un-premultiplied and composited over white, transparent/outside = white.
    public func readRegion(x: Int, y: Int, level: Int, width: Int, height: Int) throws -> RGBImage {
        try checkUsable()
        guard levels.indices.contains(level) else {
            throw invalid("level \(level) does not exist (the slide has levels 0–\(levels.count - 1))")
        }
        guard width >= 0, height >= 0 else { throw invalid("negative region size \(width)x\(height)") }
        let (n, overflow) = width.multipliedReportingOverflow(by: height)
        guard !overflow, n <= Slide.maxRegionPixels else {
            throw invalid("region \(width)x\(height) is larger than \(Slide.maxRegionPixels) px",
                          "read it in tiles, or use downsampledImage for an overview")
        }
        if n == 0 { return RGBImage(width: width, height: height, pixels: []) }
        if let tl = libtiffLevels[level] {
            // Level coordinates as OpenSlide computes them (x / downsample), to the nearest pixel.
            let ds = levels[level].downsample
            do {
                return PlainImage.copyRegion(try tl.image(), x: Int((Double(x) / ds).rounded()), y: Int((Double(y) / ds).rounded()),
                                             width: width, height: height)
            } catch let e as SlideError {
                lock.lock(); if failure == nil { failure = e }; lock.unlock()
                throw e
            }
        }
        switch backend {
        case .openslide(let osr):
            let pixels = [UInt8](unsafeUninitializedCapacity: n * 4) { buf, count in
                let raw = UnsafeMutableRawPointer(buf.baseAddress!)
                let words = raw.bindMemory(to: UInt32.self, capacity: n)
                openslide_read_region(osr, words, Int64(x), Int64(y), Int32(level), Int64(width), Int64(height))
                PixelConvert.premultipliedARGBToRGBInPlace(raw, count: n)
                raw.bindMemory(to: UInt8.self, capacity: n * 4)
                count = n * 3
            }
            try checkOpenSlideError(osr, doing: "reading level \(level) at (\(x), \(y)) size \(width)x\(height)")
            return RGBImage(width: width, height: height, pixels: pixels)
        case .plain(let plain):
            do {
                return try plain.region(x: x, y: y, width: width, height: height)
            } catch let e as SlideError {
                lock.lock(); if failure == nil { failure = e }; lock.unlock()
                throw e
            }
        }
    }

    /// An associated image (label, macro, thumbnail, ...) as RGB.
    public func associatedImage(_ name: String) throws -> RGBImage {
        try checkUsable()
        guard associatedImageNames.contains(name), case .openslide(let osr) = backend else {
            throw invalid("has no associated image '\(name)'",
                          associatedImageNames.isEmpty ? "this slide has no associated images" : "available: \(associatedImageNames.joined(separator: ", "))")
        }
        var w: Int64 = -1, h: Int64 = -1
        openslide_get_associated_image_dimensions(osr, name, &w, &h)
        try checkOpenSlideError(osr, doing: "reading the size of associated image '\(name)'")
        guard w > 0, h > 0, w <= Int64(Slide.maxSide), h <= Int64(Slide.maxSide), Int(w * h) <= Slide.maxRegionPixels else {
            throw SlideError(kind: .corrupt, path: path, reason: "associated image '\(name)' has absurd dimensions \(w)x\(h)",
                             hint: "the file is damaged; re-export it from the scanner software")
        }
        let n = Int(w * h)
        let pixels = [UInt8](unsafeUninitializedCapacity: n * 4) { buf, count in
            let raw = UnsafeMutableRawPointer(buf.baseAddress!)
            raw.initializeMemory(as: UInt8.self, repeating: 0, count: n * 4)
            openslide_read_associated_image(osr, name, raw.bindMemory(to: UInt32.self, capacity: n))
            PixelConvert.premultipliedARGBToRGBInPlace(raw, count: n)
            raw.bindMemory(to: UInt8.self, capacity: n * 4)
            count = n * 3
        }
        try checkOpenSlideError(osr, doing: "reading associated image '\(name)'")
        return RGBImage(width: Int(w), height: Int(h), pixels: pixels)
    }

    /// A thumbnail whose longer side is `maxSize` (or the slide's, if smaller), made by
    /// `downsampledImage`, so it is an exact area average and memory stays bounded.
    public func thumbnail(maxSize: Int) throws -> RGBImage {
        guard maxSize >= 1 else { throw invalid("thumbnail size \(maxSize) must be at least 1") }
        let d = max(1, Double(max(width, height)) / Double(maxSize))
        return try downsampledImage(downsample: d).image
    }

    // MARK: info

    /// Codable summary for `radiopath info --json`.
    public func info() -> SlideInfo {
        let selectedPrefixes = ["openslide.", "tiff.XResolution", "tiff.YResolution", "tiff.ResolutionUnit",
                                "aperio.MPP", "aperio.AppMag", "hamamatsu.SourceLens", "philips.DICOM_PIXEL_SPACING",
                                "ventana.ScanRes", "mirax.LAYER_0_LEVEL_0_SECTION.MICROMETER_PER_PIXEL",
                                "mirax.GENERAL.OBJECTIVE_MAGNIFICATION", "tiff.ImageWidth", "tiff.ImageLength"]
        let selected = properties.filter { k, _ in
            selectedPrefixes.contains { k.hasPrefix($0) } && !k.hasPrefix("openslide.level[")
        }
        return SlideInfo(path: path, format: format, width: width, height: height, levels: levels, scale: scale,
                         scaleNote: scaleNote, objectivePower: objectivePower, quickHash: quickHash,
                         associatedImages: associatedImageNames, properties: selected)
    }
}
