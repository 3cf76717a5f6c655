import Foundation

/// Reading and writing by path, whatever the format: `.nii`/`.nii.gz`/`.hdr` (NIfTI),
/// `.nrrd`/`.nhdr` (NRRD), or a folder holding one DICOM series.
public enum VolumeFile {
    public static func read(_ path: String) throws -> Volume {
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDir), isDir.boolValue {
            return try DICOMSeries.read(folder: path).volume
        }
        let lower = path.lowercased()
        if lower.hasSuffix(".nrrd") || lower.hasSuffix(".nhdr") { return try NRRD.read(path) }
        if lower.hasSuffix(".nii") || lower.hasSuffix(".nii.gz") || lower.hasSuffix(".hdr") || lower.hasSuffix(".hdr.gz") {
            return try NIfTI.read(path)
        }
        // Unknown extension: go by the content.
        let head = try readFile(path).prefix(512)
        if head.starts(with: Array("NRRD000".utf8)) { return try NRRD.read(path) }
        if DICOMFile.looksLikeDICOM(head) {
            throw VolumeError(path: path, reason: "is a single DICOM file", hint: "pass the folder that holds the whole series")
        }
        return try NIfTI.read(path)
    }

    /// Writes NIfTI-1 (`.nii`, `.nii.gz`) or NRRD (`.nrrd`, `.nhdr`) by extension; atomic.
    public static func write(_ volume: Volume, to path: String, as type: VoxelType = .float32) throws {
        let lower = path.lowercased()
        if lower.hasSuffix(".nrrd") || lower.hasSuffix(".nhdr") { return try NRRD.write(volume, to: path, as: type) }
        guard lower.hasSuffix(".nii") || lower.hasSuffix(".nii.gz") else {
            throw VolumeError(path: path, reason: "has an extension RadioPath does not write", hint: "use .nii, .nii.gz, .nrrd or .nhdr")
        }
        try NIfTI.write(volume, to: path, as: type)
    }
}
