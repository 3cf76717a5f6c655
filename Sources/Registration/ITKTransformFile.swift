import Foundation
import ImageCore

/// ITK text transform files (`.tfm`, "#Insight Transform File V1.0"), as SimpleITK, 3D Slicer
/// and elastix's transformix read them. ITK transforms map points of the fixed (output) space
/// to the moving (input) space, in physical mm — the direction `MatrixTransform2D` uses — and
/// ITK's physical frame is LPS, the frame RadioPath's `Volume`s use.
public enum ITKTransformFile {
    /// Text of one 2D transform: Euler2D (rigid), Similarity2D, Translation, or Affine (also
    /// for flipped sections, whose mirror only an affine matrix can hold).
    public static func text(_ t: MatrixTransform2D) -> String {
        let c = t.center
        let (name, params): (String, [Double])
        switch (t.kind, t.flipped) {
        case (.translation, false): (name, params) = ("TranslationTransform_double_2_2", t.parameters)
        case (.rigid, false): (name, params) = ("Euler2DTransform_double_2_2", t.parameters)
        case (.similarity, false): (name, params) = ("Similarity2DTransform_double_2_2", t.parameters)
        default: (name, params) = ("AffineTransform_double_2_2", t.asAffine.parameters)
        }
        let fixed = t.kind == .translation && !t.flipped ? "" : "\(num(c.x)) \(num(c.y))"
        return "#Insight Transform File V1.0\n#Transform 0\nTransform: \(name)\nParameters: \(params.map(num).joined(separator: " "))\nFixedParameters: \(fixed)\n"
    }

    /// Writes `t` atomically to `path`.
    public static func write(_ t: MatrixTransform2D, to path: String) throws {
        try AtomicFile.write(Data(text(t).utf8), to: path)
    }

    /// Reads the first transform of a 2D `.tfm` file.
    public static func read(_ path: String) throws -> MatrixTransform2D {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw RegistrationError("\(path): cannot be read", hint: "check the path and permissions")
        }
        return try parse(String(decoding: data, as: UTF8.self), path: path)
    }

    static func parse(_ text: String, path: String) throws -> MatrixTransform2D {
        var name: String?, params: [Double]?, fixed: [Double] = []
        for raw in text.split(whereSeparator: \.isNewline) {
            let line = raw.trimmingCharacters(in: .whitespaces)
            func values(_ key: String) throws -> [Double] {
                try line.dropFirst(key.count).split(separator: " ").map {
                    guard let v = Double($0) else { throw RegistrationError("\(path): '\($0)' in '\(line)' is not a number", hint: "fix or re-export the file") }
                    return v
                }
            }
            if line.hasPrefix("Transform:") {
                if name != nil { break } // only the first transform
                name = line.dropFirst("Transform:".count).trimmingCharacters(in: .whitespaces)
            } else if line.hasPrefix("Parameters:") { params = try values("Parameters:") }
            else if line.hasPrefix("FixedParameters:") { fixed = try values("FixedParameters:") }
        }
        guard let name, let params else {
            throw RegistrationError("\(path): no 'Transform:' and 'Parameters:' lines", hint: "is this an ITK text transform (.tfm)?")
        }
        let kinds: [String: (MatrixTransform2D.Kind, Int)] = [
            "TranslationTransform": (.translation, 2), "Euler2DTransform": (.rigid, 3), "Rigid2DTransform": (.rigid, 3),
            "Similarity2DTransform": (.similarity, 4), "AffineTransform": (.affine, 6),
        ]
        let base = name.components(separatedBy: "_").first ?? name
        guard let (kind, count) = kinds[base], name.hasSuffix("_2_2") else {
            throw RegistrationError("\(path): transform '\(name)' is not supported",
                                    hint: "RadioPath reads 2D Translation, Euler2D, Similarity2D and Affine transforms")
        }
        guard params.count == count, kind == .translation || fixed.count == 2 else {
            throw RegistrationError("\(path): \(name) needs \(count) parameters and 2 fixed parameters, found \(params.count) and \(fixed.count)",
                                    hint: "the file is damaged or not 2D")
        }
        let center = fixed.count == 2 ? SIMD2(fixed[0], fixed[1]) : .zero
        return MatrixTransform2D(kind: kind, center: center, parameters: params)
    }

    private static func num(_ v: Double) -> String { v == v.rounded() && abs(v) < 1e15 ? String(Int(v)) : "\(v)" }
}
