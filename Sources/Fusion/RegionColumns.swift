import Foundation

/// What a column carries, which decides where it goes in the case table.
public enum ColumnRole: String, Sendable, Codable {
    case key          // identifies the row
    case quality      // coverage, registration uncertainty, support: never model input
    case radiology    // radiomic features of the region
    case pathology    // pathology evidence falling in the region
}

/// One column (or a block of columns, when `name` holds a `<placeholder>`) of the region table.
public struct RegionColumn: Sendable {
    public let name: String
    public let unit: String
    public let role: ColumnRole
    public let meaning: String
}

/// The region table's columns, in order; the CSV and the data dictionary both come from here.
public enum RegionColumns {
    public static let fixed: [RegionColumn] = [
        .init(name: "case", unit: "text", role: .key, meaning: "case id (cases.csv `id`)"),
        .init(name: "family", unit: "text", role: .key, meaning: "region family (`<family>.json` in the regions folder: sectors, rings, habitats, …)"),
        .init(name: "region", unit: "text", role: .key, meaning: "region name within the family"),
        .init(name: "label", unit: "integer", role: .key, meaning: "voxel value of the region in `<family>.nii.gz`"),
        .init(name: "kind", unit: "text", role: .key, meaning: "roi, habitat, ring, sector or slide (RegionKind)"),
        .init(name: "voxels", unit: "count", role: .quality, meaning: "voxels of the region on the MRI grid"),
        .init(name: "volume_mm3", unit: "mm3", role: .quality, meaning: "voxels × voxel volume"),
        .init(name: "radiomics_note", unit: "text", role: .quality, meaning: "`ok`, or why the radiomic columns are empty (fewer voxels than the minimum, extraction error)"),
        .init(name: "sections", unit: "count", role: .quality, meaning: "registered sections whose MRI slice crosses the region"),
        .init(name: "slice_voxels", unit: "count", role: .quality, meaning: "region voxels on the registered slice(s): a 2D section covers only its own slice, never the rest of a 3D region"),
        .init(name: "covered_voxels", unit: "count", role: .quality, meaning: "region voxels on the registered slice(s) whose centre maps (MRI → slide through the section transform) inside the slide's tissue (the case's tissue mask image, else the patch squares of the patch bag, else of the pathomics table, else the whole slide)"),
        .init(name: "coverage_fraction", unit: "ratio", role: .quality, meaning: "covered_voxels / slice_voxels (0 when the region misses every registered slice): how much of the region's in-plane extent has registered histology"),
        .init(name: "coverage_volume_fraction", unit: "ratio", role: .quality, meaning: "covered_voxels / voxels: the share of the whole 3D region that has histology"),
        .init(name: "plane_distance_mm", unit: "mm", role: .quality, meaning: "distance from the region's nearest voxel centre to the nearest registered section plane along the slice normal (0 when the region crosses a section)"),
        .init(name: "reg_hd95_mm", unit: "mm", role: .quality, meaning: "registration uncertainty: final-stage 95 % Hausdorff distance of MRI vs warped section masks (register report.json), largest over the sections crossing the region (over all sections when none crosses it); empty without a report"),
        .init(name: "reg_tre_mm", unit: "mm", role: .quality, meaning: "registration uncertainty: final-stage mean landmark TRE, same sections as reg_hd95_mm; empty when no landmarks were registered"),
        .init(name: "supported", unit: "0/1", role: .quality, meaning: "1 when coverage_fraction ≥ the coverage threshold (default 0.5); a row with 0 is not pathology evidence, and its pathology columns are left out of the case table"),
        .init(name: "patch_count", unit: "count", role: .pathology, meaning: "patches whose centre (level-0 px) maps into the region (slide → MRI mm through the inverse transform → nearest voxel on the section's slice)"),
        .init(name: "attention_mean", unit: "attention", role: .pathology, meaning: "mean MIL attention (softmax over the slide's patches, `radiopath score` attention/<id>.h5) of the region's patches; empty without scores or patches"),
        .init(name: "attention_max", unit: "attention", role: .pathology, meaning: "largest attention of the region's patches"),
        .init(name: "attention_p90", unit: "attention", role: .pathology, meaning: "90th percentile (numpy's linear interpolation) of the region's patch attention"),
        .init(name: "tumour_fraction", unit: "ratio", role: .pathology, meaning: "of the covered voxels, the fraction whose centre maps inside an annotation polygon (GeoJSON, slide px; holes excluded) — the annotated tumour area carried to the MRI; empty without annotations or covered voxels"),
        .init(name: "pathomics_patches", unit: "count", role: .pathology, meaning: "rows of the pathomics patch table whose patch centre maps into the region"),
    ]

    /// Blocks whose names depend on the inputs.
    public static let blocks: [RegionColumn] = [
        .init(name: "rad_<imageType>_<feature>", unit: "as the feature", role: .radiology, meaning: "radiomic feature of the region (RadiomicsPipeline on the MRI with the region's mask; IBSI tags, or PyRadiomics names with the pyradiomics convention; see docs/radiomics.md); empty when radiomics_note is not `ok`"),
        .init(name: "path_<column>", unit: "as the column", role: .pathology, meaning: "mean over the region's pathomics patches of the per-patch column `<column>` (docs/pathomics.md), NaN cells skipped; the cell-graph columns appear as `path_graph_<…>`"),
    ]

    /// The role of a concrete column name.
    public static func role(of name: String) -> ColumnRole {
        if let c = fixed.first(where: { $0.name == name }) { return c.role }
        if name.hasPrefix("rad_") { return .radiology }
        if name.hasPrefix("path_") { return .pathology }
        return .quality
    }

    /// The data dictionary (Markdown), generated from the definitions above.
    public static func markdown() -> String {
        var s = """
        ## Region table: data dictionary

        Generated by `RegionColumns.markdown()` from `Sources/Fusion/RegionColumns.swift`; a test keeps
        docs/fusion.md's dictionary section equal to it. `radiopath fuse` writes it as `region_dictionary.md`.

        One row per (case, region family, region). Empty cell = undefined (no patches, no scores, no
        annotations, too few voxels). Role: `key` identifies the row; `quality` describes coverage and
        registration and is never model input; `radiology` and `pathology` columns become the case
        table's two modalities (`<family>_<region>_<column>`).

        | column | unit | role | meaning |
        |---|---|---|---|

        """
        for c in fixed + blocks { s += "| `\(c.name)` | \(c.unit) | \(c.role.rawValue) | \(c.meaning) |\n" }
        return s
    }
}
