import Foundation

extension NRRDHeader {
    private static let domainKinds: Set<String> = ["domain", "space", "time"]

    /// Size, spacing, LPS origin and LPS direction of the (up to three) spatial axes; other
    /// axes must have size 1 (RadioPath reads scalar volumes).
    func geometry() throws -> (SIMD3<Int>, SIMD3<Double>, SIMD3<Double>, [Double]) {
        let n = sizes.count
        let kinds = fields["kinds"].map { $0.split(separator: " ").map { $0.lowercased() } }
        if let kinds, kinds.count != n {
            throw VolumeError(path: path, reason: "'kinds' lists \(kinds.count) kinds for dimension \(n)", hint: "the header is damaged")
        }
        let directions = try fields["space directions"].map { try vectors($0, count: n, field: "space directions") }
        // Spatial axes: those with a space direction, else those of a domain kind, else all.
        let spatial: [Int]
        if let directions {
            spatial = (0..<n).filter { directions[$0] != nil }
        } else if let kinds {
            spatial = (0..<n).filter { NRRDHeader.domainKinds.contains(kinds[$0]) || kinds[$0] == "???" || kinds[$0] == "none" }
        } else {
            spatial = Array(0..<n)
        }
        for axis in 0..<n where !spatial.contains(axis) && sizes[axis] > 1 {
            let kind = kinds?[axis] ?? "non-spatial"
            throw VolumeError(path: path, reason: "axis \(axis) is a \(kind) axis of \(sizes[axis]) values per voxel",
                              hint: "RadioPath reads scalar volumes; extract one component first")
        }
        let used = spatial.filter { sizes[$0] > 1 }
        guard used.count <= 3 else {
            throw VolumeError(path: path, reason: "has \(used.count) spatial axes larger than 1 (sizes \(sizes.map(String.init).joined(separator: " ")))",
                              hint: "RadioPath reads one 3-D volume; extract it first")
        }
        let axes = spatial.count <= 3 ? spatial : used
        var size = SIMD3(1, 1, 1)
        for (k, a) in axes.enumerated() { size[k] = sizes[a] }

        if let directions {
            let space = try self.space()
            var vecs = axes.map { directions[$0]! }
            var origin = try fields["space origin"].map { try vectors($0, count: 1, field: "space origin")[0] ?? .zero } ?? .zero
            if !origin.x.isFinite || !origin.y.isFinite || !origin.z.isFinite { origin = .zero }
            // To LPS: RAS flips x and y, LAS flips y.
            let flip = space == .ras ? SIMD3<Double>(-1, -1, 1) : space == .las ? SIMD3<Double>(1, -1, 1) : SIMD3<Double>(1, 1, 1)
            vecs = vecs.map { $0 * flip }
            origin *= flip
            completeAxes(&vecs)
            let (spacing, direction) = try gridFromAxes(vecs, path: path, what: "space directions")
            return (size, spacing, origin, direction)
        }
        // No space: axis-aligned with `spacings`; `axis mins` is the cell's edge unless the
        // axis is node-centred.
        let spacings = fields["spacings"].map { $0.split(separator: " ").map { Double($0) ?? .nan } }
        let mins = fields["axis mins"].map { $0.split(separator: " ").map { Double($0) ?? .nan } }
        let centers = (fields["centers"] ?? fields["centerings"]).map { $0.split(separator: " ").map { $0.lowercased() } }
        var spacing = SIMD3<Double>(1, 1, 1), origin = SIMD3<Double>(0, 0, 0)
        for (k, a) in axes.enumerated() {
            if let s = spacings, a < s.count, s[a].isFinite, s[a] != 0 { spacing[k] = abs(s[a]) }
            if let m = mins, a < m.count, m[a].isFinite {
                let node = centers.map { a < $0.count && $0[a] == "node" } ?? false
                origin[k] = m[a] + (node ? 0 : spacing[k] / 2)
            }
        }
        return (size, spacing, origin, Volume.identityDirection)
    }

    private enum Space { case lps, ras, las, other }

    private func space() throws -> Space {
        guard let s = fields["space"]?.lowercased() else { return .other }   // "space dimension" only
        switch s {
        case "left-posterior-superior", "lps": return .lps
        case "right-anterior-superior", "ras": return .ras
        case "left-anterior-superior", "las": return .las
        case "scanner-xyz", "3d-right-handed", "3d-left-handed": return .other
        default:
            throw VolumeError(path: path, reason: "space '\(s)' is not a 3-D patient space RadioPath reads",
                              hint: "use left-posterior-superior, right-anterior-superior or scanner-xyz")
        }
    }

    /// Fewer than three spatial axes (a 2-D image): the missing axes complete a right-handed
    /// orthonormal frame with unit length, so the volume has one slice.
    private func completeAxes(_ vecs: inout [SIMD3<Double>]) {
        if vecs.isEmpty { vecs.append(SIMD3(1, 0, 0)) }
        if vecs.count == 1 {
            let u = vecs[0] / norm(vecs[0])
            let helper = abs(u.x) < 0.9 ? SIMD3<Double>(1, 0, 0) : SIMD3<Double>(0, 1, 0)
            let v = cross(u, helper)
            vecs.append(v / norm(v))
        }
        if vecs.count == 2 {
            let w = cross(vecs[0], vecs[1])
            vecs.append(w / norm(w))
        }
    }

    /// "(x,y,z) none (x,y,z)" → vectors (nil for none), padded to 3 components.
    private func vectors(_ text: String, count: Int, field: String) throws -> [SIMD3<Double>?] {
        var out: [SIMD3<Double>?] = []
        var rest = Substring(text)
        while let first = rest.firstIndex(where: { !$0.isWhitespace }) {
            rest = rest[first...]
            if rest.lowercased().hasPrefix("none") {
                out.append(nil)
                rest = rest.dropFirst(4)
                continue
            }
            guard rest.hasPrefix("("), let close = rest.firstIndex(of: ")") else {
                throw VolumeError(path: path, reason: "'\(field): \(text)' is not a list of (x,y,z) vectors", hint: "the header is damaged")
            }
            let parts = rest[rest.index(after: rest.startIndex)..<close].split(separator: ",").map {
                Double($0.trimmingCharacters(in: .whitespaces)) ?? .nan
            }
            guard (1...3).contains(parts.count) else {
                throw VolumeError(path: path, reason: "'\(field)' has a vector of \(parts.count) components", hint: "RadioPath reads 2-D or 3-D spaces")
            }
            out.append(SIMD3(parts[0], parts.count > 1 ? parts[1] : 0, parts.count > 2 ? parts[2] : 0))
            rest = rest[rest.index(after: close)...]
        }
        guard out.count == count else {
            throw VolumeError(path: path, reason: "'\(field)' lists \(out.count) entries, expected \(count)", hint: "the header is damaged")
        }
        return out
    }
}
