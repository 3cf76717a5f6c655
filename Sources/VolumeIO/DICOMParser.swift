import Foundation

/// DICOM tags RadioPath reads, as (group << 16 | element).
enum Tag {
    static let transferSyntaxUID: UInt32 = 0x0002_0010
    static let specificCharacterSet: UInt32 = 0x0008_0005
    static let sopInstanceUID: UInt32 = 0x0008_0018
    static let seriesDate: UInt32 = 0x0008_0021
    static let acquisitionDate: UInt32 = 0x0008_0022
    static let acquisitionDateTime: UInt32 = 0x0008_002A
    static let seriesTime: UInt32 = 0x0008_0031
    static let acquisitionTime: UInt32 = 0x0008_0032
    static let modality: UInt32 = 0x0008_0060
    static let seriesDescription: UInt32 = 0x0008_103E
    static let referencedSOPInstanceUID: UInt32 = 0x0008_1155
    static let patientWeight: UInt32 = 0x0010_1030
    static let sliceThickness: UInt32 = 0x0018_0050
    static let radiopharmaceuticalStartTime: UInt32 = 0x0018_1072
    static let radionuclideTotalDose: UInt32 = 0x0018_1074
    static let radionuclideHalfLife: UInt32 = 0x0018_1075
    static let radiopharmaceuticalStartDateTime: UInt32 = 0x0018_1078
    static let studyInstanceUID: UInt32 = 0x0020_000D
    static let seriesInstanceUID: UInt32 = 0x0020_000E
    static let instanceNumber: UInt32 = 0x0020_0013
    static let imagePositionPatient: UInt32 = 0x0020_0032
    static let imageOrientationPatient: UInt32 = 0x0020_0037
    static let frameOfReferenceUID: UInt32 = 0x0020_0052
    static let samplesPerPixel: UInt32 = 0x0028_0002
    static let numberOfFrames: UInt32 = 0x0028_0008
    static let rows: UInt32 = 0x0028_0010
    static let columns: UInt32 = 0x0028_0011
    static let pixelSpacing: UInt32 = 0x0028_0030
    static let correctedImage: UInt32 = 0x0028_0051
    static let bitsAllocated: UInt32 = 0x0028_0100
    static let bitsStored: UInt32 = 0x0028_0101
    static let highBit: UInt32 = 0x0028_0102
    static let pixelRepresentation: UInt32 = 0x0028_0103
    static let rescaleIntercept: UInt32 = 0x0028_1052
    static let rescaleSlope: UInt32 = 0x0028_1053
    static let radiopharmaceuticalInformationSequence: UInt32 = 0x0054_0016
    static let units: UInt32 = 0x0054_1001
    static let decayCorrection: UInt32 = 0x0054_1102
    static let referencedFrameOfReferenceSequence: UInt32 = 0x3006_0010
    static let structureSetROISequence: UInt32 = 0x3006_0020
    static let roiNumber: UInt32 = 0x3006_0022
    static let referencedFrameOfReferenceUID: UInt32 = 0x3006_0024
    static let roiName: UInt32 = 0x3006_0026
    static let roiContourSequence: UInt32 = 0x3006_0039
    static let contourSequence: UInt32 = 0x3006_0040
    static let contourGeometricType: UInt32 = 0x3006_0042
    static let contourData: UInt32 = 0x3006_0050
    static let referencedROINumber: UInt32 = 0x3006_0084
    static let pixelData: UInt32 = 0x7FE0_0010
    static let item: UInt32 = 0xFFFE_E000
    static let itemDelimiter: UInt32 = 0xFFFE_E00D
    static let sequenceDelimiter: UInt32 = 0xFFFE_E0DD

    /// "(gggg,eeee)"
    static func name(_ t: UInt32) -> String { String(format: "(%04X,%04X)", t >> 16, t & 0xFFFF) }

    /// Sequences RadioPath reads; in implicit VR a defined-length sequence looks like any
    /// other value, so these (and values that start with an item tag) are parsed as items.
    static let knownSequences: Set<UInt32> = [
        radiopharmaceuticalInformationSequence, referencedFrameOfReferenceSequence, structureSetROISequence,
        roiContourSequence, contourSequence, 0x3006_0012, 0x3006_0014, 0x3006_0016, 0x3006_0080,
    ]
}

/// One DICOM data set: elements by tag, values as byte ranges of the file's bytes.
struct DICOMDataSet: @unchecked Sendable {
    struct Element {
        var vr: String            // "" when the encoding is implicit VR
        var offset: Int
        var length: Int
        var items: [DICOMDataSet]?
    }

    var elements: [UInt32: Element] = [:]
    let data: Data                 // the whole file; offsets count from data.startIndex

    func has(_ tag: UInt32) -> Bool { elements[tag] != nil }

    func bytes(_ tag: UInt32) -> Data? {
        guard let e = elements[tag], e.items == nil else { return nil }
        let base = data.startIndex + e.offset
        return data[base..<(base + e.length)]
    }

    /// A text value with padding (spaces, NULs) trimmed; UTF-8, else Latin-1.
    func string(_ tag: UInt32) -> String? {
        guard let b = bytes(tag) else { return nil }
        let text = String(data: b, encoding: .utf8) ?? String(decoding: b.map { UInt16($0) }, as: UTF16.self)
        return text.trimmingCharacters(in: CharacterSet(charactersIn: " \0"))
    }

    func strings(_ tag: UInt32) -> [String] {
        guard let s = string(tag), !s.isEmpty else { return [] }
        return s.split(separator: "\\", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
    }

    /// Numbers from a DS/IS string (or FD/FL binary values in explicit VR).
    func doubles(_ tag: UInt32) -> [Double]? {
        guard let e = elements[tag], let b = bytes(tag) else { return nil }
        switch e.vr {
        case "FD": return stride(from: 0, to: b.count - 7, by: 8).map { o in Double(bitPattern: le64(b, o)) }
        case "FL": return stride(from: 0, to: b.count - 3, by: 4).map { o in Double(Float(bitPattern: UInt32(truncatingIfNeeded: le64(b, o, 4)))) }
        default:
            let parts = strings(tag)
            let values = parts.compactMap { Double($0) }
            return values.count == parts.count && !values.isEmpty ? values : nil
        }
    }

    func double(_ tag: UInt32) -> Double? { doubles(tag)?.first }

    /// A whole number from a DS/IS string; nil when absent, not finite or out of range.
    func integer(_ tag: UInt32) -> Int? {
        guard let d = double(tag), d.isFinite, abs(d) < 1e15 else { return nil }
        return Int(d)
    }

    /// An unsigned short (US), or an integer string (IS) where the VR says so.
    func uint16(_ tag: UInt32) -> Int? {
        guard let e = elements[tag], let b = bytes(tag) else { return nil }
        if e.vr == "IS" || e.vr == "DS" { return integer(tag) }
        guard b.count >= 2 else { return nil }
        return Int(le64(b, 0, 2))
    }

    func sequence(_ tag: UInt32) -> [DICOMDataSet] { elements[tag]?.items ?? [] }

    private func le64(_ b: Data, _ o: Int, _ n: Int = 8) -> UInt64 {
        var v: UInt64 = 0
        for k in 0..<n { v |= UInt64(b[b.startIndex + o + k]) << (8 * UInt64(k)) }
        return v
    }
}

/// A parsed DICOM Part 10 file (or a bare data set without preamble).
struct DICOMFile: @unchecked Sendable {
    let path: String
    let transferSyntax: String
    let dataSet: DICOMDataSet

    static let implicitLittle = "1.2.840.10008.1.2"
    static let explicitLittle = "1.2.840.10008.1.2.1"

    /// True when the bytes look like DICOM: the "DICM" marker at 128, or (no preamble) a
    /// group-0002/0008 element at the start.
    static func looksLikeDICOM(_ data: Data) -> Bool {
        if data.count >= 132 && data[data.startIndex + 128..<data.startIndex + 132].elementsEqual("DICM".utf8) { return true }
        guard data.count >= 8 else { return false }
        let group = UInt16(data[data.startIndex]) | UInt16(data[data.startIndex + 1]) << 8
        return group == 0x0002 || group == 0x0008
    }

    /// Parses the meta group and the data set. Refuses transfer syntaxes whose data set
    /// RadioPath cannot walk (deflate, big endian); compressed pixel data is refused later, by
    /// the pixel reader, so headers of JPEG files still list their series.
    static func parse(_ path: String, data: Data) throws -> DICOMFile {
        var start = 0
        var meta = DICOMDataSet(data: data)
        var syntax = implicitLittle
        try data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            var parser = DICOMParser(p: raw, data: data, path: path)
            if raw.count >= 132 && raw[128] == 0x44 && raw[129] == 0x49 && raw[130] == 0x43 && raw[131] == 0x4D {
                start = 132
            } else if raw.count < 8 || !looksLikeDICOM(data) {
                throw VolumeError(path: path, reason: "is not a DICOM file (no 'DICM' marker at byte 128)", hint: "check the file type")
            }
            if raw.count >= start + 2 && parser.u16(start) == 0x0002 {
                let (elements, next) = try parser.parseDataSet(from: start, to: raw.count, explicit: true, depth: 0, metaOnly: true)
                meta.elements = elements
                start = next
                if let ts = meta.string(Tag.transferSyntaxUID), !ts.isEmpty { syntax = ts }
            } else if raw.count >= start + 6, DICOMParser.isVR(raw[start + 4], raw[start + 5]) {
                syntax = explicitLittle     // no meta group: guess the encoding from the first element
            }
        }
        switch syntax {
        case "1.2.840.10008.1.2.1.99", "1.2.840.10008.1.2.2":
            throw VolumeError(path: path, reason: "uses the \(TransferSyntax.describe(syntax)) transfer syntax, which RadioPath does not read",
                              hint: TransferSyntax.convertHint)
        default: break
        }
        var dataSet = DICOMDataSet(data: data)
        try data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            var parser = DICOMParser(p: raw, data: data, path: path)
            dataSet.elements = try parser.parseDataSet(from: start, to: raw.count, explicit: syntax != implicitLittle, depth: 0).0
        }
        for (tag, e) in meta.elements { dataSet.elements[tag] = e }
        return DICOMFile(path: path, transferSyntax: syntax, dataSet: dataSet)
    }
}

/// Transfer syntax names for messages.
enum TransferSyntax {
    static let convertHint = "convert the files to uncompressed little endian first, e.g. `gdcmconv --raw in.dcm out.dcm` or `dcmdjpeg in.dcm out.dcm`"

    static func describe(_ uid: String) -> String {
        let names: [String: String] = [
            "1.2.840.10008.1.2": "Implicit VR Little Endian",
            "1.2.840.10008.1.2.1": "Explicit VR Little Endian",
            "1.2.840.10008.1.2.1.99": "Deflated Explicit VR Little Endian",
            "1.2.840.10008.1.2.2": "Explicit VR Big Endian",
            "1.2.840.10008.1.2.4.50": "JPEG Baseline (Process 1)",
            "1.2.840.10008.1.2.4.51": "JPEG Extended (Process 2 & 4)",
            "1.2.840.10008.1.2.4.57": "JPEG Lossless (Process 14)",
            "1.2.840.10008.1.2.4.70": "JPEG Lossless SV1 (Process 14, first-order prediction)",
            "1.2.840.10008.1.2.4.80": "JPEG-LS Lossless",
            "1.2.840.10008.1.2.4.81": "JPEG-LS Near-Lossless",
            "1.2.840.10008.1.2.4.90": "JPEG 2000 (Lossless Only)",
            "1.2.840.10008.1.2.4.91": "JPEG 2000",
            "1.2.840.10008.1.2.4.92": "JPEG 2000 Part 2 Multi-component (Lossless Only)",
            "1.2.840.10008.1.2.4.93": "JPEG 2000 Part 2 Multi-component",
            "1.2.840.10008.1.2.4.201": "High-Throughput JPEG 2000 (Lossless Only)",
            "1.2.840.10008.1.2.4.202": "High-Throughput JPEG 2000 with RPCL (Lossless Only)",
            "1.2.840.10008.1.2.4.203": "High-Throughput JPEG 2000",
            "1.2.840.10008.1.2.5": "RLE Lossless",
        ]
        if let n = names[uid] { return "\(n) (\(uid))" }
        if uid.hasPrefix("1.2.840.10008.1.2.4.10") { return "MPEG video (\(uid))" }
        return "unknown (\(uid))"
    }
}

/// Walks elements in a byte buffer: explicit or implicit VR little endian, sequences and
/// items of defined or undefined length.
struct DICOMParser {
    let p: UnsafeRawBufferPointer
    let data: Data                  // the same bytes, shared by the item data sets
    let path: String

    @inline(__always) func u16(_ o: Int) -> UInt16 { UInt16(p[o]) | UInt16(p[o + 1]) << 8 }
    @inline(__always) func u32(_ o: Int) -> UInt32 { UInt32(u16(o)) | UInt32(u16(o + 2)) << 16 }
    @inline(__always) func tag(_ o: Int) -> UInt32 { UInt32(u16(o)) << 16 | UInt32(u16(o + 2)) }

    static func isVR(_ a: UInt8, _ b: UInt8) -> Bool { (0x41...0x5A).contains(a) && (0x41...0x5A).contains(b) }
    private static let longVRs: Set<String> = ["OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV"]
    private static let undefined: UInt32 = 0xFFFF_FFFF

    private func truncated(_ what: String, at offset: Int) -> VolumeError {
        VolumeError(path: path, reason: "is truncated or damaged: \(what) at byte \(offset) runs past the end (\(p.count) bytes)",
                    hint: "re-export or re-copy the file")
    }

    /// Elements from `start` until `end`, an item delimiter (inside undefined-length items) or,
    /// with `metaOnly`, the end of group 0002. Returns the elements and the next offset.
    mutating func parseDataSet(from start: Int, to end: Int, explicit: Bool, depth: Int, metaOnly: Bool = false) throws
        -> ([UInt32: DICOMDataSet.Element], Int) {
        guard depth < 32 else { throw VolumeError(path: path, reason: "sequences nest deeper than 32 levels", hint: "the file is damaged") }
        var elements: [UInt32: DICOMDataSet.Element] = [:]
        var o = start
        while o < end {
            guard o + 8 <= end else { throw truncated("an element header", at: o) }
            let t = tag(o)
            if metaOnly && t >> 16 != 0x0002 { break }
            if t == Tag.itemDelimiter { return (elements, o + 8) }
            if t == Tag.sequenceDelimiter { o += 8; continue }       // stray delimiter: skip
            var vr = ""
            var length: UInt32
            var header: Int
            if explicit {
                guard DICOMParser.isVR(p[o + 4], p[o + 5]) else {
                    throw VolumeError(path: path, reason: "element \(Tag.name(t)) at byte \(o) has no valid VR although the transfer syntax is explicit VR",
                                      hint: "the file is damaged or mislabelled")
                }
                vr = String(decoding: [p[o + 4], p[o + 5]], as: UTF8.self)
                if DICOMParser.longVRs.contains(vr) {
                    guard o + 12 <= end else { throw truncated("element \(Tag.name(t))", at: o) }
                    length = u32(o + 8); header = 12
                } else {
                    length = UInt32(u16(o + 6)); header = 8
                }
            } else {
                length = u32(o + 4); header = 8
            }
            let valueStart = o + header
            if length == DICOMParser.undefined {
                if t == Tag.pixelData {
                    // Encapsulated (compressed) pixel data: skip its fragments; the pixel reader
                    // refuses the transfer syntax.
                    let next = try skipFragments(from: valueStart, to: end)
                    elements[t] = .init(vr: vr, offset: valueStart, length: 0, items: nil)
                    o = next
                    continue
                }
                // A sequence; UN of undefined length holds implicit VR items.
                let (items, next) = try parseItems(from: valueStart, to: end, definedEnd: false,
                                                   explicit: explicit && vr != "UN", depth: depth + 1)
                elements[t] = .init(vr: vr, offset: valueStart, length: next - valueStart, items: items)
                o = next
                continue
            }
            let valueEnd = valueStart + Int(length)
            if t == Tag.pixelData && depth == 0 && valueEnd > end {
                // Cut-off pixel data: keep what is there so the pixel reader can say how much is missing.
                elements[t] = .init(vr: vr, offset: valueStart, length: max(0, end - valueStart), items: nil)
                return (elements, end)
            }
            guard valueEnd <= end else { throw truncated("the value of \(Tag.name(t)) (\(length) bytes)", at: o) }
            var element = DICOMDataSet.Element(vr: vr, offset: valueStart, length: Int(length), items: nil)
            if vr == "SQ" {
                element.items = try parseItems(from: valueStart, to: valueEnd, definedEnd: true, explicit: explicit, depth: depth + 1).0
            } else if !explicit || vr == "UN", length >= 8, Tag.knownSequences.contains(t) || tag(valueStart) == Tag.item {
                // Implicit VR (or UN): parse as a sequence when it is one; keep the bytes if not.
                var probe = self
                element.items = try? probe.parseItems(from: valueStart, to: valueEnd, definedEnd: true, explicit: false, depth: depth + 1).0
            }
            elements[t] = element
            o = valueEnd
        }
        return (elements, o)
    }

    /// Items of a sequence, up to `end` (defined length) or the sequence delimiter.
    private mutating func parseItems(from start: Int, to end: Int, definedEnd: Bool, explicit: Bool, depth: Int) throws
        -> ([DICOMDataSet], Int) {
        var items: [DICOMDataSet] = []
        var o = start
        while o < end {
            guard o + 8 <= end else { throw truncated("a sequence item", at: o) }
            let t = tag(o)
            let length = u32(o + 4)
            if t == Tag.sequenceDelimiter { return (items, o + 8) }
            guard t == Tag.item else {
                throw VolumeError(path: path, reason: "expected a sequence item at byte \(o) but found \(Tag.name(t))", hint: "the file is damaged")
            }
            let itemEnd = length == DICOMParser.undefined ? end : o + 8 + Int(length)
            guard itemEnd <= end else { throw truncated("a sequence item (\(length) bytes)", at: o) }
            let (elements, next) = try parseDataSet(from: o + 8, to: itemEnd, explicit: explicit, depth: depth)
            items.append(DICOMDataSet(elements: elements, data: data))
            o = length == DICOMParser.undefined ? next : itemEnd
        }
        if !definedEnd { throw truncated("a sequence without its delimiter", at: start) }
        return (items, o)
    }

    private func skipFragments(from start: Int, to end: Int) throws -> Int {
        var o = start
        while o + 8 <= end {
            let t = tag(o), length = Int(u32(o + 4))
            if t == Tag.sequenceDelimiter { return o + 8 }
            o += 8 + length
        }
        throw truncated("encapsulated pixel data", at: start)
    }
}
