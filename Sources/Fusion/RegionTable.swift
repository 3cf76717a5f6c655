import Foundation
import Radiomics
import Regions
import VolumeIO

/// One case as `radiopath fuse` reads it from cases.csv.
public struct CaseInput: Sendable {
    public var id: String
    /// The MRI/CT the regions are defined on (their grid must equal it).
    public var image: String
    /// Output folder of `radiopath regions`: `<family>.nii.gz` + `<family>.json` per family.
    public var regionsDir: String
    public var sections: [SectionInput]
    public var outcome: Bool?

    public init(id: String, image: String, regionsDir: String, sections: [SectionInput], outcome: Bool? = nil) {
        self.id = id; self.image = image; self.regionsDir = regionsDir; self.sections = sections; self.outcome = outcome
    }
}

public struct RegionTableOptions: Sendable {
    /// Regions with fewer voxels get empty radiomic columns (and a note saying so).
    public var minVoxels = 10
    /// `supported` = coverage_fraction ≥ this.
    public var coverageThreshold = 0.5
    public var radiomics = RadiomicsConfiguration()
    public var pyradiomicsNames = false
    /// Families to use (nil: every family in the regions folder).
    public var families: [String]?
    public init() {}
}

/// One row of the region table: text cells and numbers by column name.
public struct RegionRow: Sendable {
    public var text: [String: String] = [:]
    public var numbers: [String: Double] = [:]
    /// Names of the input-dependent columns, in extraction order.
    public var radiomicColumns: [String] = []
    public var pathomicColumns: [String] = []
    public func value(_ name: String) -> Double { numbers[name] ?? .nan }
}

public enum RegionTable {
    /// The rows of one case: every region of every family, with its evidence. `note` receives
    /// warnings (regions without coverage, tissue source).
    public static func rows(for c: CaseInput, options o: RegionTableOptions, note: (String) -> Void = { _ in }) throws -> [RegionRow] {
        let image = try VolumeFile.read(c.image)
        let families = try o.families ?? RegionMap.families(in: c.regionsDir)
        guard !families.isEmpty else {
            throw FusionError("\(c.regionsDir): no region families (<family>.json + <family>.nii.gz)", hint: "run `radiopath regions` for case \(c.id)")
        }
        let sections = try c.sections.map(SectionEvidence.load)
        for (s, e) in zip(c.sections, sections) where e.tissueSource.hasPrefix("the whole") {
            note("case \(c.id): \(s.registerDir): tissue = \(e.tissueSource)")
        }
        var out: [RegionRow] = []
        for family in families {
            let map = try RegionMap.read(folder: c.regionsDir, family: family)
            guard map.labels.hasSameGrid(as: image, tolerance: 1e-3) else {
                throw FusionError("\(c.regionsDir)/\(family).nii.gz: its grid (\(map.labels.size), spacing \(map.labels.spacing)) differs from \(c.image)'s (\(image.size), spacing \(image.spacing))",
                                  hint: "build the regions on the case's image grid")
            }
            for (s, e) in zip(c.sections, sections) {
                let g = e.transform.mri
                let sameSize = g.size == [image.size.x, image.size.y, image.size.z]
                let sameSpacing = zip(g.spacing, [image.spacing.x, image.spacing.y, image.spacing.z]).allSatisfy { abs($0 - $1) <= 1e-3 }
                guard sameSize && sameSpacing else {
                    throw FusionError("\(s.registerDir)/transform.json: registered to an MRI grid \(g.size) spacing \(g.spacing), not \(c.image)'s",
                                      hint: "register the section to the case's image (`radiopath register --fixed \(c.image)`)")
                }
            }
            out += familyRows(c, image: image, map: map, sections: sections, options: o)
        }
        for r in out where r.value("supported") == 0 && !sections.isEmpty {
            note("case \(c.id): \(r.text["family"]!)/\(r.text["region"]!) has coverage \(fmt(r.value("coverage_fraction"))) (< \(o.coverageThreshold)): supported = 0")
        }
        return out
    }

    /// Per-label tallies over one family.
    struct Tally {
        var voxels = 0
        var slices = Set<Int>()
        var sliceVoxels = 0, covered = 0, tumour = 0
        var patches: [Double] = []   // attention (NaN without scores)
        var patchCount = 0
        var pathomics: [[Double]] = []
        var hd95: [Double] = [], tre: [Double] = []
        var crossing = 0
    }

    static func familyRows(_ c: CaseInput, image: Volume, map: RegionMap, sections: [SectionEvidence], options o: RegionTableOptions) -> [RegionRow] {
        let nx = image.size.x, ny = image.size.y, plane = nx * ny
        var tally: [Int: Tally] = [:]
        for r in map.regions { tally[r.label] = Tally() }
        map.labels.voxels.withUnsafeBufferPointer { v in
            for i in 0..<v.count where v[i] != 0 {
                let l = Int(v[i])
                guard tally[l] != nil else { continue }
                tally[l]!.voxels += 1
                tally[l]!.slices.insert(i / plane)
            }
        }
        func label(_ i: Int, _ j: Int, _ k: Int) -> Int { Int(map.labels.voxels[k * plane + j * nx + i]) }
        for e in sections {
            let k = e.transform.mri.slice, grid = e.transform.mri.sliceGrid
            let inTissue = e.tissueTest()
            for l in tally.keys where tally[l]!.slices.contains(k) {
                tally[l]!.crossing += 1
                if let h = e.hd95Mm { tally[l]!.hd95.append(h) }
                if let t = e.treMm { tally[l]!.tre.append(t) }
            }
            for j in 0..<ny {
                for i in 0..<nx {
                    let l = label(i, j, k)
                    guard l != 0, tally[l] != nil else { continue }
                    tally[l]!.sliceVoxels += 1
                    let q = e.transform.map(grid.point(ofIndex: SIMD2(Double(i), Double(j))))
                    guard inTissue(q) else { continue }
                    tally[l]!.covered += 1
                    if e.annotations != nil && e.insideAnnotation(q) { tally[l]!.tumour += 1 }
                }
            }
            // Slide px → MRI mm → nearest voxel on the section's slice → label.
            func regionOf(_ q: SIMD2<Double>) -> Int? {
                guard let p = e.transform.inverse(q, tolerance: 1e-4) else { return nil }
                let u = grid.continuousIndex(ofPoint: p).rounded(.toNearestOrAwayFromZero)
                guard u.x >= 0, u.y >= 0, u.x < Double(nx), u.y < Double(ny) else { return nil }
                let l = label(Int(u.x), Int(u.y), k)
                return l != 0 && tally[l] != nil ? l : nil
            }
            for (n, q) in e.patchCentres.enumerated() {
                guard let l = regionOf(q) else { continue }
                tally[l]!.patchCount += 1
                tally[l]!.patches.append(e.attention?[n] ?? .nan)
            }
            for (n, q) in e.pathomicCentres.enumerated() {
                guard let l = regionOf(q) else { continue }
                tally[l]!.pathomics.append(e.pathomicValues[n])
            }
        }
        let voxelVolume = image.spacing.x * image.spacing.y * image.spacing.z
        let pathNames = sections.first?.pathomicColumns ?? []
        let hasScores = sections.contains { $0.attention != nil }, hasAnnotations = sections.contains { $0.annotations != nil }
        let sectionSlices = sections.map(\.transform.mri.slice)
        var rows: [RegionRow] = []
        for info in map.regions {
            let t = tally[info.label]!
            var r = RegionRow()
            r.text = ["case": c.id, "family": map.family, "region": info.name, "kind": info.kind.rawValue]
            r.numbers["label"] = Double(info.label)
            r.numbers["voxels"] = Double(t.voxels)
            r.numbers["volume_mm3"] = Double(t.voxels) * voxelVolume
            // Radiomics of the region's mask.
            if t.voxels < o.minVoxels {
                r.text["radiomics_note"] = "skipped: \(t.voxels) voxels < minimum \(o.minVoxels)"
            } else {
                var cfg = o.radiomics
                cfg.label = info.label   // the label volume itself: no per-region mask copy
                do {
                    for col in try RadiomicsPipeline.run(image: image, mask: map.labels, configuration: cfg) {
                        let name = "rad_" + col.name(pyradiomicsNames: o.pyradiomicsNames)
                        r.radiomicColumns.append(name)
                        r.numbers[name] = col.value
                    }
                    r.text["radiomics_note"] = "ok"
                } catch {
                    r.text["radiomics_note"] = "failed: \(error)"
                }
            }
            r.numbers["sections"] = Double(t.crossing)
            r.numbers["slice_voxels"] = Double(t.sliceVoxels)
            r.numbers["covered_voxels"] = Double(t.covered)
            let coverage = t.sliceVoxels > 0 ? Double(t.covered) / Double(t.sliceVoxels) : 0
            r.numbers["coverage_fraction"] = coverage
            r.numbers["coverage_volume_fraction"] = t.voxels > 0 ? Double(t.covered) / Double(t.voxels) : 0
            if !sections.isEmpty && !t.slices.isEmpty {
                let d = sectionSlices.map { s in t.slices.map { abs($0 - s) }.min()! }.min()!
                r.numbers["plane_distance_mm"] = Double(d) * image.spacing.z
            }
            let hd = t.crossing > 0 ? t.hd95 : sections.compactMap(\.hd95Mm)
            let tr = t.crossing > 0 ? t.tre : sections.compactMap(\.treMm)
            if let m = hd.max() { r.numbers["reg_hd95_mm"] = m }
            if let m = tr.max() { r.numbers["reg_tre_mm"] = m }
            r.numbers["supported"] = t.sliceVoxels > 0 && coverage >= o.coverageThreshold ? 1 : 0
            r.numbers["patch_count"] = Double(t.patchCount)
            if hasScores && !t.patches.isEmpty {
                let a = t.patches.sorted()
                r.numbers["attention_mean"] = a.reduce(0, +) / Double(a.count)
                r.numbers["attention_max"] = a.last!
                r.numbers["attention_p90"] = percentile(a, 0.9)
            }
            if hasAnnotations && t.covered > 0 { r.numbers["tumour_fraction"] = Double(t.tumour) / Double(t.covered) }
            if !pathNames.isEmpty {
                r.numbers["pathomics_patches"] = Double(t.pathomics.count)
                for (k, name) in pathNames.enumerated() {
                    let col = "path_" + name
                    r.pathomicColumns.append(col)
                    let v = t.pathomics.map { $0.count > k ? $0[k] : .nan }.filter { $0.isFinite }
                    r.numbers[col] = v.isEmpty ? .nan : v.reduce(0, +) / Double(v.count)
                }
            }
            rows.append(r)
        }
        return rows
    }

    /// numpy's default (linear) percentile of sorted values.
    static func percentile(_ sorted: [Double], _ q: Double) -> Double {
        let pos = q * Double(sorted.count - 1), lo = Int(pos.rounded(.down)), hi = min(lo + 1, sorted.count - 1)
        return sorted[lo] + (pos - Double(lo)) * (sorted[hi] - sorted[lo])
    }

    /// Column order: the fixed columns, then radiomic and pathomic columns by first appearance.
    public static func columns(_ rows: [RegionRow]) -> [String] {
        var rad: [String] = [], path: [String] = [], seen = Set<String>()
        for r in rows {
            for c in r.radiomicColumns where seen.insert(c).inserted { rad.append(c) }
            for c in r.pathomicColumns where seen.insert(c).inserted { path.append(c) }
        }
        return RegionColumns.fixed.map(\.name) + rad + path
    }

    /// The CSV text (empty cell = undefined; numbers as the shortest decimal that reads back).
    public static func csv(_ rows: [RegionRow]) -> String {
        let cols = columns(rows)
        var s = cols.joined(separator: ",") + "\n"
        for r in rows {
            s += cols.map { c in r.text[c].map(csvEscape) ?? fmt(r.value(c)) }.joined(separator: ",") + "\n"
        }
        return s
    }

    static func csvEscape(_ s: String) -> String {
        s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" }) ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
    }
}

/// Shortest round-tripping decimal; integers without ".0"; NaN as an empty cell.
func fmt(_ v: Double) -> String {
    guard v.isFinite else { return v.isNaN ? "" : (v > 0 ? "inf" : "-inf") }
    if v == v.rounded() && abs(v) < 1e15 { return String(Int64(v)) }
    return "\(v)"
}
