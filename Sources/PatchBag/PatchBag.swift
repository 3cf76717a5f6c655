import CHDF5
import Foundation

/// Everything a patch bag holds, as `PatchBag.read` returns it.
public struct PatchBagContents: Equatable, Sendable {
    /// Level-0 top-left corners, flat: x0, y0, x1, y1, … (`count` × 2 values).
    public var coords: [Int64]
    /// Number of patches (rows of `coords`).
    public var count: Int
    /// Attributes of the `coords` dataset: the CLAM/TRIDENT tiling parameters.
    public var coordsAttributes: [String: HDF5Value]
    /// Attributes of the root group: provenance (tool version, parameters, input hash, …).
    public var fileAttributes: [String: HDF5Value]
    /// Per-patch tissue fraction in [0, 1], when the tiler recorded it.
    public var tissueFraction: [Float]?
    /// Per-patch embeddings, row-major `count` × `featureDim`, when an encoder has run.
    public var features: [Float]?
    /// Width of a feature row; set exactly when `features` is.
    public var featureDim: Int?
    /// Per-patch float columns (N values each) beyond `tissue_fraction`, by dataset name —
    /// e.g. a MIL model's `attention`; only those asked for in `read` are loaded.
    public var scores: [String: [Float]] = [:]

    public init(coords: [Int64], coordsAttributes: [String: HDF5Value] = [:],
                fileAttributes: [String: HDF5Value] = [:], tissueFraction: [Float]? = nil,
                features: [Float]? = nil, featureDim: Int? = nil) {
        self.coords = coords
        self.count = coords.count / 2
        self.coordsAttributes = coordsAttributes
        self.fileAttributes = fileAttributes
        self.tissueFraction = tissueFraction
        self.features = features
        self.featureDim = featureDim
    }
}

/// The per-slide HDF5 patch bag, laid out so CLAM- and TRIDENT-style Python loads it unchanged:
/// `coords` (N × 2 int64, level-0 x, y), optional `tissue_fraction` (N float32) and `features`
/// (N × D float32), tiling parameters as attributes of `coords`, provenance on the root group.
///
/// All HDF5 work is serialised through one process-wide lock (see `HDF5.locked`), so bags may be
/// written and read from any number of threads.
public enum PatchBag {
    static let coordsName = "coords"
    static let tissueFractionName = "tissue_fraction"
    static let featuresName = "features"
    /// Chunk size targets: 4096 coords rows; feature chunks of at most 1 MiB, which fit
    /// HDF5's default per-dataset chunk cache.
    static let coordsChunkBytes = 64 << 10
    static let featuresChunkBytes = 1 << 20

    // MARK: write

    /// Writes a complete bag to `path` atomically: the file is built under a hidden temporary
    /// name in the same folder, flushed to disk and renamed over `path`, so readers (and a
    /// resumed batch) see either the previous file or the finished new one, never half a bag.
    /// On failure nothing new is left behind and an existing file at `path` is untouched.
    /// Missing parent folders are created.
    ///
    /// - Parameters:
    ///   - coords: level-0 top-left corners, flat x, y pairs (N × 2 values; N may be 0).
    ///   - coordsAttributes: the tiling parameters CLAM/TRIDENT read from `coords.attrs`.
    ///   - tissueFraction: N values, stored as `tissue_fraction` float32.
    ///   - features: N × `featureDim` values, stored as `features` float32 (N, D).
    ///   - scores: more per-patch float32 columns (N values each), one dataset per name.
    ///   - fileAttributes: provenance, stored on the root group.
    /// - Throws: `PatchBagError` naming `path`, what failed and what to do.
    public static func write(path: String, coords: [Int64], coordsAttributes: [String: HDF5Value],
                             tissueFraction: [Float]?, features: [Float]? = nil, featureDim: Int? = nil,
                             scores: [String: [Float]] = [:], fileAttributes: [String: HDF5Value]) throws {
        var columns = scores
        if let tf = tissueFraction { columns[tissueFractionName] = tf }
        let n = try validate(path: path, coords: coords, coordsAttributes: coordsAttributes,
                             columns: columns, features: features, featureDim: featureDim,
                             fileAttributes: fileAttributes)
        try produceAtomically(path) { tmp in
            do {
                try HDF5.locked {
                    try writeFile(tmp, n: n, coords: coords, coordsAttributes: coordsAttributes,
                                  columns: columns, features: features, featureDim: featureDim,
                                  fileAttributes: fileAttributes)
                }
            } catch let f as H5Failure {
                throw f.writeError(path)
            }
        }
    }

    /// Checks the arrays fit together; returns N.
    private static func validate(path: String, coords: [Int64], coordsAttributes: [String: HDF5Value],
                                 columns: [String: [Float]], features: [Float]?, featureDim: Int?,
                                 fileAttributes: [String: HDF5Value]) throws -> Int {
        func invalid(_ what: String) -> PatchBagError {
            PatchBagError(kind: .invalidInput, path: path, what: what,
                          hint: "this is a bug in the caller of PatchBag.write; nothing was written")
        }
        guard coords.count % 2 == 0 else {
            throw invalid("coords has \(coords.count) values, not x, y pairs (N × 2)")
        }
        let n = coords.count / 2
        for (name, values) in columns.sorted(by: { $0.key < $1.key }) {
            guard values.count == n else { throw invalid("\(name) has \(values.count) values for \(n) patches") }
            guard !name.isEmpty, ![coordsName, featuresName].contains(name) else {
                throw invalid("a per-patch column cannot be named '\(name)'")
            }
        }
        switch (features, featureDim) {
        case (nil, nil): break
        case (nil, .some): throw invalid("featureDim given without features")
        case (.some, nil): throw invalid("features given without featureDim")
        case let (.some(f), .some(d)):
            guard d > 0 else { throw invalid("featureDim is \(d); it must be at least 1") }
            guard f.count == n * d else {
                throw invalid("features has \(f.count) values; \(n) patches × \(d) dims needs \(n * d)")
            }
        }
        for (owner, attrs) in [("coords", coordsAttributes), ("the file", fileAttributes)] where attrs.keys.contains("") {
            throw invalid("an attribute of \(owner) has an empty name")
        }
        return n
    }

    private static func writeFile(_ tmp: String, n: Int, coords: [Int64], coordsAttributes: [String: HDF5Value],
                                  columns: [String: [Float]], features: [Float]?, featureDim: Int?,
                                  fileAttributes: [String: HDF5Value]) throws {
        let file = try HDF5.createFile(tmp)
        var open = true
        defer { if open { H5Fclose(file) } }

        let c = try coords.withUnsafeBytes { buf in
            try HDF5.writeDataset(file, coordsName, fileType: rp_h5t_std_i64le(), memType: rp_h5t_native_int64(),
                                  dims: [n, 2], chunkBytes: coordsChunkBytes, elementSize: 8, values: buf)
        }
        // On any failure below the STRONG close in the defer above also closes `c`.
        try HDF5.writeAttributes(c, coordsAttributes, owner: "coords")

        for (name, values) in columns.sorted(by: { $0.key < $1.key }) {
            let d = try values.withUnsafeBytes { buf in
                try HDF5.writeDataset(file, name, fileType: rp_h5t_ieee_f32le(),
                                      memType: rp_h5t_native_float(), dims: [n], chunkBytes: 64 << 10,
                                      elementSize: 4, values: buf)
            }
            H5Dclose(d)
        }
        if let f = features, let dim = featureDim {
            let d = try f.withUnsafeBytes { buf in
                try HDF5.writeDataset(file, featuresName, fileType: rp_h5t_ieee_f32le(),
                                      memType: rp_h5t_native_float(), dims: [n, dim], chunkBytes: featuresChunkBytes,
                                      elementSize: 4, values: buf)
            }
            H5Dclose(d)
        }
        try HDF5.writeAttributes(file, fileAttributes, owner: "the file")
        H5Dclose(c)
        open = false
        try HDF5.check(H5Fclose(file), "close (flush) the HDF5 file")
    }

    // MARK: read

    /// Reads a whole bag: coords, optional tissue fraction and features, and every attribute
    /// of the five `HDF5Value` kinds on `coords` and on the root group (integers of any width
    /// become `.int`, floats `.double`, fixed- or variable-length strings `.string`, 1-D numeric
    /// arrays `.ints`/`.doubles`; other attribute kinds are skipped). Works on bags written by
    /// h5py (CLAM, TRIDENT) as well as by `write`.
    /// `scores` names per-patch float columns to load into `PatchBagContents.scores` (a name
    /// the file lacks is left out; a column of the wrong length is an error).
    public static func read(path: String, scores: [String] = []) throws -> PatchBagContents {
        try checkReadable(path)
        do {
            return try HDF5.locked { try readFile(path, scores: scores) }
        } catch let f as H5Failure {
            throw PatchBagError(kind: .hdf5, path: path, what: "cannot \(f.step)", reason: f.reason,
                                hint: "the file may be damaged or from an incompatible writer; delete it and rerun the tiler")
        }
    }

    private static func checkReadable(_ path: String) throws {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw PatchBagError(kind: .notFound, path: path, what: "no such file",
                                hint: "check the path, or run the tiler to create the bag")
        }
        if isDir.boolValue {
            throw PatchBagError(kind: .notAPatchBag, path: path, what: "is a folder, not a patch bag file",
                                hint: "pass the .h5 file inside it")
        }
        if access(path, R_OK) != 0 {
            throw PatchBagError(kind: .notReadable, path: path, what: "cannot read the file",
                                reason: String(cString: strerror(errno)), hint: "check its permissions")
        }
    }

    private static func readFile(_ path: String, scores: [String]) throws -> PatchBagContents {
        func notABag(_ what: String, _ hint: String = "it is not a patch bag, or was cut short; delete it and rerun the tiler") -> PatchBagError {
            PatchBagError(kind: .notAPatchBag, path: path, what: what, hint: hint)
        }
        if H5Fis_hdf5(path) <= 0 {
            let reason = HDF5.errorStackReason()
            throw PatchBagError(kind: .notAPatchBag, path: path, what: "not an HDF5 file",
                                reason: reason == "unknown HDF5 error" ? nil : reason,
                                hint: "it is not a patch bag, or was cut short; delete it and rerun the tiler")
        }
        let file = try openReadOnly(path)
        defer { H5Fclose(file) }
        guard HDF5.exists(file, coordsName) else { throw notABag("has no 'coords' dataset") }
        let c = try HDF5.check(H5Dopen2(file, coordsName, rp_h5p_default()), "open dataset coords")
        defer { H5Dclose(c) }
        let shape = try HDF5.shape(of: c, coordsName)
        guard shape.count == 2, shape[1] == 2 else {
            throw notABag("'coords' has shape \(shape), expected (N, 2)")
        }
        let cls = try HDF5.typeClass(of: c, coordsName)
        guard cls == H5T_INTEGER || cls == H5T_FLOAT else { throw notABag("'coords' is not numeric") }
        let n = shape[0]
        var contents = PatchBagContents(coords: try HDF5.readAll(c, coordsName, memType: rp_h5t_native_int64(),
                                                                 count: n * 2, zero: Int64(0)))
        contents.coordsAttributes = try HDF5.readAttributes(c, owner: "coords")
        contents.fileAttributes = try HDF5.readAttributes(file, owner: "the file")

        func column(_ name: String) throws -> [Float]? {
            guard HDF5.exists(file, name) else { return nil }
            let d = try HDF5.check(H5Dopen2(file, name, rp_h5p_default()), "open dataset \(name)")
            defer { H5Dclose(d) }
            let s = try HDF5.shape(of: d, name)
            guard s == [n] else { throw notABag("'\(name)' has shape \(s) for \(n) patches") }
            return try HDF5.readAll(d, name, memType: rp_h5t_native_float(), count: n, zero: Float(0))
        }
        contents.tissueFraction = try column(tissueFractionName)
        for name in scores { contents.scores[name] = try column(name) }
        if HDF5.exists(file, featuresName) {
            let d = try HDF5.check(H5Dopen2(file, featuresName, rp_h5p_default()), "open dataset features")
            defer { H5Dclose(d) }
            let s = try HDF5.shape(of: d, featuresName)
            guard s.count == 2, s[0] == n else { throw notABag("'features' has shape \(s), expected (\(n), D)") }
            contents.features = try HDF5.readAll(d, featuresName, memType: rp_h5t_native_float(),
                                                 count: n * s[1], zero: Float(0))
            contents.featureDim = s[1]
        }
        return contents
    }

    private static func openReadOnly(_ path: String) throws -> hid_t {
        let fapl = try HDF5.check(H5Pcreate(rp_h5p_file_access()), "create file access properties")
        defer { H5Pclose(fapl) }
        // Use locks where the filesystem has them, carry on where it does not.
        try HDF5.check(H5Pset_file_locking(fapl, true, true), "set file locking")
        return try HDF5.check(H5Fopen(path, rp_h5f_acc_rdonly(), fapl), "open the file")
    }

    // MARK: resume

    /// True when `path` opens as HDF5 and holds a `coords` dataset of shape (N, 2) — the test a
    /// resumed batch uses to skip slides already done. Because `write` is atomic, a bag that
    /// exists is a finished one; this also rejects foreign or damaged files.
    public static func isComplete(path: String) -> Bool {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir), !isDir.boolValue else { return false }
        return HDF5.locked {
            guard H5Fis_hdf5(path) > 0, let file = try? openReadOnly(path) else {
                H5Eclear2(rp_h5e_default())
                return false
            }
            defer { H5Fclose(file) }
            guard HDF5.exists(file, coordsName) else { return false }
            let c = H5Dopen2(file, coordsName, rp_h5p_default())
            guard c >= 0 else { H5Eclear2(rp_h5e_default()); return false }
            defer { H5Dclose(c) }
            guard let shape = try? HDF5.shape(of: c, coordsName) else { return false }
            return shape.count == 2 && shape[1] == 2
        }
    }
}
