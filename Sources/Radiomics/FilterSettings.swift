import Foundation

/// Filters from a parameter file's `imageType` map, written the way PyRadiomics users write
/// them, plus RadioPath's extra filters and keys (docs/radiomics-filters.md):
///
///     imageType:
///       Original: {}
///       LoG: {sigma: [1.0, 2.0]}
///       Wavelet: {wavelet: coif1, start_level: 0, level: 1}
///       Mean: {support: [3, 5]}
///       Laws: {kernel: [E5L5S5], rotation_invariant: true, distance: 7}
///       Gabor: {sigma: 10, lambda: 4, gamma: 0.5, theta_step: 45, planes: true}
///
/// Every filter also takes `padding` (constant, nearest, periodic, mirror).
public enum FilterSettings {
    /// Image types that are not convolutional filters: left to the caller.
    public static let nonFilterImageTypes: Set<String> = [
        "Original", "Square", "SquareRoot", "Logarithm", "Exponential", "Gradient", "LBP2D", "LBP3D",
    ]

    /// `imageType` → filters in file order. `setting` is the file's `setting` map
    /// (PyRadiomics' `force2D` makes wavelets in-plane). Image types in
    /// `nonFilterImageTypes` are skipped; any other unknown name is an error.
    public static func filters(imageType: ParameterValue, setting: ParameterValue? = nil,
                               convention: Convention = .ibsi) throws -> [FilterSpec] {
        guard case .map = imageType else { throw RadiomicsError("imageType is not a map", hint: "write imageType: {LoG: {sigma: [1.0]}}") }
        let force2D = setting?["force2D"]?.bool ?? false
        if force2D, let d = setting?["force2Ddimension"]?.number, d != 0 {
            throw RadiomicsError("force2Ddimension \(Int(d)) is not supported by the filters", hint: "use 0 (in-plane slices)")
        }
        var out: [FilterSpec] = []
        for (name, value) in imageType.entries {
            if nonFilterImageTypes.contains(name) { continue }
            let p = Keys(filter: name, value: value)
            if let allowed = knownKeys[name.lowercased()] {
                for (key, _) in value.entries where !allowed.contains(key) {
                    throw RadiomicsError("imageType \(name): key '\(key)' is unknown", hint: "known keys: \(allowed.sorted().joined(separator: ", "))")
                }
            }
            switch name.lowercased() {
            case "log":
                let padding = try p.padding(default: convention == .pyradiomics ? .nearest : .mirror)
                let dim = try p.dimension(default: .threeD)
                let truncate = try p.number("truncate") ?? 4
                let sigmas = try p.numbers("sigma")
                if sigmas.isEmpty { throw RadiomicsError("LoG has no sigma", hint: "write LoG: {sigma: [1.0, 2.0]} (mm)") }
                out += sigmas.map { .laplacianOfGaussian(sigma: $0, truncate: truncate, dimension: dim, padding: padding, convention: convention) }
            case "wavelet":
                let start = Int(try p.number("start_level") ?? 0), count = Int(try p.number("level") ?? 1)
                guard start >= 0, count >= 1 else {
                    throw RadiomicsError("Wavelet start_level \(start) / level \(count) out of range", hint: "start_level ≥ 0, level ≥ 1")
                }
                var w = WaveletParameters(family: try p.string("wavelet") ?? "coif1", levels: (start + 1)...(start + count),
                                          dimension: force2D ? .twoD : try p.dimension(default: .threeD),
                                          padding: try p.padding(default: convention == .pyradiomics ? .periodic : .mirror),
                                          convention: convention)
                if let bands = try p.strings("subbands") { w.subbands = bands }
                w.rotationInvariant = try p.bool("rotation_invariant") ?? false
                w.pooling = try p.pooling(default: .average)
                out.append(.wavelet(w))
            case "mean":
                let padding = try p.padding(default: .mirror), dim = try p.dimension(default: .threeD)
                let supports = try p.numbers("support")
                if supports.isEmpty { throw RadiomicsError("Mean has no support", hint: "write Mean: {support: [5]} (voxels, odd)") }
                out += supports.map { .mean(support: Int($0), dimension: dim, padding: padding) }
            case "laws":
                let padding = try p.padding(default: .mirror)
                let rot = try p.bool("rotation_invariant") ?? false
                let pooling = try p.pooling(default: .max)
                let delta = try p.number("distance").map { Int($0) }
                guard let kernels = try p.strings("kernel"), !kernels.isEmpty else {
                    throw RadiomicsError("Laws has no kernel", hint: "write Laws: {kernel: [E5L5S5]}")
                }
                out += kernels.map { .laws(kernel: $0, rotationInvariant: rot, pooling: pooling, energyDistance: delta, padding: padding) }
            case "gabor":
                let padding = try p.padding(default: .mirror)
                let sigmas = try p.numbers("sigma"), lambdas = try p.numbers("lambda")
                if sigmas.isEmpty || lambdas.isEmpty {
                    throw RadiomicsError("Gabor needs sigma and lambda", hint: "write Gabor: {sigma: [10], lambda: [4]} (mm)")
                }
                let gammas = try p.numbers("gamma"), thetas = try p.numbers("theta")
                for s in sigmas { for l in lambdas { for g in (gammas.isEmpty ? [1] : gammas) { for t in (thetas.isEmpty ? [0] : thetas) {
                    out.append(.gabor(GaborParameters(sigma: s, lambda: l, gamma: g, theta: t, thetaStep: try p.number("theta_step"),
                                                      pooling: try p.pooling(default: .average),
                                                      orthogonalPlanes: try p.bool("planes") ?? false,
                                                      truncate: try p.number("truncate") ?? 4, padding: padding)))
                } } } }
            default:
                throw RadiomicsError("imageType '\(name)' is unknown",
                                  hint: "filters are LoG, Wavelet, Mean, Laws, Gabor; \(nonFilterImageTypes.sorted().joined(separator: ", ")) are handled elsewhere")
            }
        }
        return out
    }

    private static let knownKeys: [String: Set<String>] = [
        "log": ["sigma", "truncate", "padding", "dimension"],
        "wavelet": ["wavelet", "start_level", "level", "subbands", "rotation_invariant", "pooling", "padding", "dimension"],
        "mean": ["support", "padding", "dimension"],
        "laws": ["kernel", "rotation_invariant", "pooling", "distance", "padding"],
        "gabor": ["sigma", "lambda", "gamma", "theta", "theta_step", "pooling", "planes", "truncate", "padding"],
    ]

    /// Typed access to one filter's map, with errors that name the filter and key.
    private struct Keys {
        let filter: String
        let value: ParameterValue

        private func bad(_ key: String, _ v: ParameterValue, _ want: String) -> RadiomicsError {
            RadiomicsError("imageType \(filter): '\(key)' is \(v), not \(want)")
        }
        func number(_ key: String) throws -> Double? {
            guard let v = value[key], v != .null else { return nil }
            guard let n = v.number else { throw bad(key, v, "a number") }
            return n
        }
        func numbers(_ key: String) throws -> [Double] {
            guard let v = value[key] else { return [] }
            return try (v.list ?? []).map { item in
                guard let n = item.number else { throw bad(key, v, "a number or a list of numbers") }
                return n
            }
        }
        func string(_ key: String) throws -> String? {
            guard let v = value[key], v != .null else { return nil }
            guard let s = v.string else { throw bad(key, v, "text") }
            return s
        }
        func strings(_ key: String) throws -> [String]? {
            guard let v = value[key], v != .null else { return nil }
            return try (v.list ?? []).map { item in
                guard case let .string(s) = item else { throw bad(key, v, "a name or a list of names") }
                return s
            }
        }
        func bool(_ key: String) throws -> Bool? {
            guard let v = value[key], v != .null else { return nil }
            guard let b = v.bool else { throw bad(key, v, "true or false") }
            return b
        }
        func padding(default d: PaddingMode) throws -> PaddingMode {
            guard let s = try string("padding") else { return d }
            guard let m = PaddingMode(name: s) else {
                throw RadiomicsError("imageType \(filter): padding '\(s)' is unknown", hint: "use constant, nearest, periodic or mirror")
            }
            return m
        }
        func pooling(default d: RotationPooling) throws -> RotationPooling {
            guard let s = try string("pooling") else { return d }
            switch s.lowercased() {
            case "max": return .max
            case "min": return .min
            case "average", "avg", "mean": return .average
            default: throw RadiomicsError("imageType \(filter): pooling '\(s)' is unknown", hint: "use max, average or min")
            }
        }
        func dimension(default d: FilterDimension) throws -> FilterDimension {
            guard let s = try string("dimension") else { return d }
            switch s.uppercased() {
            case "2D": return .twoD
            case "3D": return .threeD
            default: throw RadiomicsError("imageType \(filter): dimension '\(s)' is not 2D or 3D")
            }
        }
    }
}
