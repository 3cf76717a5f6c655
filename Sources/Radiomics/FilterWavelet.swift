import Foundation
import VolumeIO

/// Separable undecimated wavelets: every sub-band is on the input grid.
enum WaveletFilter {
    struct Output {
        let name: String
        let level: Int
        let band: String
    }

    static func validate(_ p: WaveletParameters) throws {
        guard FilterKernels.wavelet(p.family) != nil else {
            throw RadiomicsError("wavelet '\(p.family)' is not available",
                              hint: "use one of \(FilterKernels.waveletNames.joined(separator: ", ")) (biorthogonal and dmey wavelets are not implemented)")
        }
        guard p.levels.lowerBound >= 1 else { throw RadiomicsError("wavelet levels \(p.levels) must start at 1 or above") }
        let d = p.dimension == .threeD ? 3 : 2
        for b in p.subbands ?? [] where b.count != d || !b.uppercased().allSatisfy({ $0 == "L" || $0 == "H" }) {
            throw RadiomicsError("wavelet sub-band '\(b)' is not \(d) letters L or H", hint: d == 3 ? "e.g. LLH (i, j, k)" : "e.g. LH (i, j)")
        }
        if p.convention == .pyradiomics && p.rotationInvariant {
            throw RadiomicsError("PyRadiomics wavelets have no rotation invariance", hint: "use the IBSI convention for rotation-invariant wavelets")
        }
    }

    /// Every sub-band of d axes, PyWavelets' order (last letter fastest, L before H).
    static func allBands(_ d: Int) -> [String] {
        (0..<(1 << d)).map { m in String((0..<d).map { a in m & (1 << (d - 1 - a)) != 0 ? Character("H") : Character("L") }) }
    }

    static func outputs(_ p: WaveletParameters) -> [Output] {
        let d = p.dimension == .threeD ? 3 : 2
        let all = allBands(d)
        let lowest = String(repeating: "L", count: d)
        var out: [Output] = []
        for level in p.levels {
            let prefix: String
            var bands: [String]
            switch p.convention {
            case .ibsi:
                prefix = level == 1 ? "wavelet" : "wavelet\(level)"
                bands = p.subbands?.map { $0.uppercased() } ?? all
            case .pyradiomics:
                let index = level - p.levels.lowerBound + 1
                prefix = index == 1 ? "wavelet" : "wavelet\(index)"
                bands = p.subbands?.map { $0.uppercased() } ?? all.filter { $0 != lowest || level == p.levels.upperBound }
                if p.subbands == nil, let i = bands.firstIndex(of: lowest) { bands.append(bands.remove(at: i)) }
            }
            let suffix = p.rotationInvariant ? "-rot-\(p.pooling == .average ? "avg" : p.pooling.rawValue)" : ""
            out += bands.map { Output(name: "\(prefix)-\($0)\(suffix)", level: level, band: $0) }
        }
        return out
    }

    static func apply(_ volume: Volume, _ p: WaveletParameters) -> [(String, [Float])] {
        let wanted = outputs(p)
        let bank = FilterKernels.wavelet(p.family)!
        let lo = Taps(centred: bank.lo), hi = Taps(centred: bank.hi)
        let d = p.dimension == .threeD ? 3 : 2
        switch p.convention {
        case .pyradiomics:
            return pyradiomics(volume, wanted: wanted, lo: lo, hi: hi, dims: d)
        case .ibsi:
            if p.rotationInvariant {
                return wanted.map { o in
                    (o.name, rotationInvariant(volume, band: o.band, level: o.level, lo: lo, hi: hi, pooling: p.pooling, padding: p.padding))
                }
            }
            var out: [(String, [Float])] = []
            var approx = volume.voxels
            var approxLevel = 0
            for level in p.levels {
                // Approximation of level − 1 by the dilated low-pass cascade.
                while approxLevel < level - 1 {
                    let t = lo.dilated(by: 1 << approxLevel)
                    approx = Separable.apply(approx, size: volume.size, passes: (0..<d).reversed().map { ($0, t) }, padding: p.padding)
                    approxLevel += 1
                }
                let factor = 1 << (level - 1)
                let l = lo.dilated(by: factor), h = hi.dilated(by: factor)
                let here = wanted.filter { $0.level == level }
                // The shared tree costs 2^(d+1) − 2 passes, one band alone d passes.
                if here.count * d < (1 << (d + 1)) - 2 {
                    for o in here {
                        let passes = (0..<d).reversed().map { a in (axis: a, taps: Array(o.band)[a] == "L" ? l : h) }
                        out.append((o.name, Separable.apply(approx, size: volume.size, passes: passes, padding: p.padding)))
                    }
                } else {
                    let bands = subbandTree(approx, size: volume.size, lo: l, hi: h, dims: d, padding: p.padding)
                    for o in here { out.append((o.name, bands[o.band]!)) }
                }
            }
            return out
        }
    }

    /// All 2^d sub-bands of one level: split along k, then j, then i, sharing the passes.
    static func subbandTree(_ input: [Float], size: SIMD3<Int>, lo: Taps, hi: Taps, dims: Int, padding: PaddingMode) -> [String: [Float]] {
        var nodes: [(String, [Float])] = [("", input)]
        for axis in (0..<dims).reversed() {
            nodes = nodes.flatMap { suffix, v in
                [("L" + suffix, Separable.apply(v, size: size, passes: [(axis, lo)], padding: padding)),
                 ("H" + suffix, Separable.apply(v, size: size, passes: [(axis, hi)], padding: padding))]
            }
        }
        return Dictionary(uniqueKeysWithValues: nodes)
    }

    /// IBSI rotation invariance: the whole cascade (low-pass levels and the band filters) is
    /// rotated, and the band responses of the distinct rotations are pooled.
    static func rotationInvariant(_ volume: Volume, band: String, level: Int, lo: Taps, hi: Taps,
                                  pooling: RotationPooling, padding: PaddingMode) -> [Float] {
        let d = band.count
        let finalKernels = band.map { $0 == "L" ? lo : hi }.map { $0.dilated(by: 1 << (level - 1)) }
        var seen = Set<[Taps]>()
        var approximations: [[Bool]: [Float]] = [:]
        var pool = Pooler(pooling)
        for r in RightAngleRotation.all(dimensions: d) {
            let byAxis = r.rotate(finalKernels)
            guard seen.insert((0..<d).map { byAxis[$0]! }).inserted else { continue }
            // The low-pass is the same on every axis, so a rotated cascade differs only in
            // which grid axes see it mirrored.
            var mirrored = [Bool](repeating: false, count: d)
            for a in 0..<d { mirrored[r.axes[a]] = r.flips[a] }
            let approx: [Float]
            if let cached = approximations[mirrored] { approx = cached } else {
                var v = volume.voxels
                for l in 0..<(level - 1) {
                    let passes = (0..<d).reversed().map { axis -> (axis: Int, taps: Taps) in
                        let t = lo.dilated(by: 1 << l)
                        return (axis, mirrored[axis] ? t.flipped : t)
                    }
                    v = Separable.apply(v, size: volume.size, passes: passes, padding: padding)
                }
                approximations[mirrored] = v
                approx = v
            }
            pool.add(Separable.apply(approx, size: volume.size, passes: (0..<d).reversed().map { ($0, byAxis[$0]!) }, padding: padding))
        }
        return pool.finish()
    }

    /// PyRadiomics 3.0.1 `_swt3`: odd axes get one wrapped voxel appended; each level is a
    /// one-level periodic stationary transform (undilated filters) of the previous
    /// approximation; results are cropped back.
    static func pyradiomics(_ volume: Volume, wanted: [Output], lo: Taps, hi: Taps, dims: Int) -> [(String, [Float])] {
        let n = volume.size
        var m = n
        for a in 0..<dims where n[a] % 2 != 0 { m[a] += 1 }
        var padded = volume.voxels
        if m != n {
            padded = [Float](repeating: 0, count: m.x * m.y * m.z)
            for k in 0..<m.z { for j in 0..<m.y { for i in 0..<m.x {
                padded[i + m.x * (j + m.y * k)] = volume.voxels[(i % n.x) + n.x * ((j % n.y) + n.y * (k % n.z))]
            } } }
        }
        func crop(_ v: [Float]) -> [Float] {
            if m == n { return v }
            var out = [Float](repeating: 0, count: volume.count)
            for k in 0..<n.z { for j in 0..<n.y {
                let src = m.x * (j + m.y * k), dst = n.x * (j + n.y * k)
                for i in 0..<n.x { out[dst + i] = v[src + i] }
            } }
            return out
        }
        var out: [(String, [Float])] = []
        var approx = padded
        let last = wanted.map(\.level).max() ?? 0
        for level in 1...max(1, last) {
            let bands = subbandTree(approx, size: m, lo: lo, hi: hi, dims: dims, padding: .periodic)
            for o in wanted where o.level == level { out.append((o.name, crop(bands[o.band]!))) }
            approx = bands[String(repeating: "L", count: dims)]!
        }
        return out
    }
}
