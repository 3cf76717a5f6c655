import CHDF5
import Foundation

/// Writes a per-slide feature bag batch by batch: `coords` (N × 2 int64, level-0 x, y) and
/// `features` (N × D float32), tiling parameters on `coords`, provenance on the root group —
/// the layout of `PatchBag.write` and of CLAM's and TRIDENT's feature files. Memory stays
/// bounded by one batch plus HDF5's chunk caches (about 2 MiB per dataset), never the slide.
///
/// Atomic like `PatchBag.write`: the bag grows under a hidden temporary name beside `path` and
/// `finish` renames it over `path`, so readers and a resumed batch see the previous file or the
/// finished new one, never half a bag. `abandon()` — or dropping an unfinished writer —
/// removes the temporary file and leaves any existing file at `path` untouched.
///
/// Errors: invalid input (wrong lengths, NaN/Inf features, too many rows, a bad attribute
/// name) throws `.invalidInput` and changes nothing, so the writer stays usable. An HDF5 or
/// file-system failure inside `append` or `finish` abandons the writer (its temporary file is
/// removed) and later calls throw.
///
/// One thread at a time per writer; each call holds the module's HDF5 lock only while it runs,
/// so other bags can be read and written meanwhile.
public final class FeatureBagWriter {
    /// The finished bag's path.
    public let path: String
    /// D, the width of a feature row.
    public let featureDim: Int
    /// The row count the bag should reach, when known (an upper bound; see `finish`).
    public let expectedCount: Int?
    /// Rows appended so far.
    public private(set) var count = 0

    private enum State { case open, finished, abandoned }
    private var state = State.open
    private let tmp: String
    private let fileAttributes: [String: HDF5Value]
    private var file: hid_t = -1
    private var coords: hid_t = -1
    private var features: hid_t = -1

    /// Creates the temporary file with empty, extendible `coords` (N × 2 int64) and `features`
    /// (N × `featureDim` float32) datasets and writes `coordsAttributes`; missing parent folders
    /// are created. `fileAttributes` are written by `finish`.
    ///
    /// Chunks: `coords` 4096 rows (64 KiB); `features` as many rows as fit in 1 MiB (256 rows
    /// at D = 1024). Both are capped at `expectedCount` rows so a small bag carries no mostly
    /// empty 1 MiB chunk. Uncompressed unless `gzipLevel` (0–9, with the shuffle filter) is
    /// given: encoder output compresses poorly and h5py reads either.
    ///
    /// - Throws: `PatchBagError` (`.invalidInput`, `.notWritable`, `.hdf5`) naming `path`.
    public init(path: String, featureDim: Int, coordsAttributes: [String: HDF5Value] = [:],
                fileAttributes: [String: HDF5Value] = [:], expectedCount: Int? = nil, gzipLevel: Int? = nil) throws {
        self.path = path
        self.featureDim = featureDim
        self.expectedCount = expectedCount
        self.fileAttributes = fileAttributes
        func invalid(_ what: String) -> PatchBagError {
            PatchBagError(kind: .invalidInput, path: path, what: what,
                          hint: "this is a bug in the caller of FeatureBagWriter; nothing was written")
        }
        guard featureDim >= 1 else { throw invalid("featureDim is \(featureDim); it must be at least 1") }
        if let expectedCount, expectedCount < 0 { throw invalid("expectedCount is \(expectedCount); it must be at least 0") }
        if let gzipLevel, !(0...9).contains(gzipLevel) { throw invalid("gzipLevel is \(gzipLevel); it must be 0 to 9") }
        guard !coordsAttributes.keys.contains("") else { throw invalid("an attribute of coords has an empty name") }
        guard !fileAttributes.keys.contains("") else { throw invalid("an attribute of the file has an empty name") }
        // An 800 MB bag should not find out at the rename that a folder sits at its path.
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDir), isDir.boolValue {
            throw PatchBagError(kind: .notWritable, path: path, what: "is a folder",
                                hint: "a folder has that name: remove it or choose another --out")
        }

        tmp = try PatchBag.createTemporary(for: path)
        do {
            try HDF5.locked {
                file = try HDF5.createFile(tmp)
                let coordsRows = HDF5.chunkRows(rowBytes: 16, chunkBytes: PatchBag.coordsChunkBytes,
                                                expectedRows: expectedCount)
                coords = try HDF5.createDataset(file, PatchBag.coordsName, fileType: rp_h5t_std_i64le(), dims: [0, 2],
                                                chunkRows: coordsRows, gzipLevel: gzipLevel,
                                                cacheBytes: Self.cacheBytes(chunkBytes: coordsRows * 16))
                try HDF5.writeAttributes(coords, coordsAttributes, owner: "coords")
                let rowBytes = featureDim * 4
                let featureRows = HDF5.chunkRows(rowBytes: rowBytes, chunkBytes: PatchBag.featuresChunkBytes,
                                                 expectedRows: expectedCount)
                features = try HDF5.createDataset(file, PatchBag.featuresName, fileType: rp_h5t_ieee_f32le(),
                                                  dims: [0, featureDim], chunkRows: featureRows, gzipLevel: gzipLevel,
                                                  cacheBytes: Self.cacheBytes(chunkBytes: featureRows * rowBytes))
            }
        } catch {
            abandon()
            throw (error as? H5Failure)?.writeError(path) ?? error
        }
    }

    /// Room for two chunks (the one being filled and the one an append spills into), at least
    /// HDF5's default 1 MiB, so appends never re-read a partly written chunk from disk.
    private static func cacheBytes(chunkBytes: Int) -> Int { max(1 << 20, 2 * chunkBytes) }

    deinit {
        if state == .open { abandon() }
    }

    /// Appends `count` rows: `coords` holds `count` × 2 values (x, y pairs), `features`
    /// `count` × `featureDim` values, both row-major. `count` may be 0.
    ///
    /// - Throws: `.invalidInput` — nothing written, the writer stays usable — when the lengths
    ///   do not match, the rows would exceed `expectedCount`, or a feature is NaN or ±Inf (the
    ///   error names the first bad row); `.hdf5` when HDF5 fails, after which the writer is
    ///   abandoned.
    public func append(coords: UnsafeBufferPointer<Int64>, features: UnsafeBufferPointer<Float>, count n: Int) throws {
        try checkOpen("append to")
        func invalid(_ what: String, _ hint: String = "this is a bug in the caller of FeatureBagWriter") -> PatchBagError {
            PatchBagError(kind: .invalidInput, path: path, what: what, hint: hint + "; nothing of this batch was written")
        }
        guard n >= 0 else { throw invalid("a batch of \(n) rows") }
        guard coords.count % 2 == 0, coords.count / 2 == n else {
            throw invalid("coords has \(coords.count) values; \(n) patches need \(n) x, y pairs")
        }
        let (needed, overflow) = n.multipliedReportingOverflow(by: featureDim)
        guard !overflow, features.count == needed else {
            throw invalid("features has \(features.count) values; \(n) patches × \(featureDim) dims needs \(overflow ? "more" : "\(needed)")")
        }
        if let expectedCount, count + n > expectedCount {
            throw invalid("this batch would make \(count + n) rows; the bag expects \(expectedCount)")
        }
        if let i = Self.firstNonFinite(features) {
            let row = i / featureDim
            throw invalid("features row \(count + row) (row \(row) of this batch, column \(i % featureDim)) is \(features[i])",
                          "the encoder produced a non-finite value: check its weights, input normalisation and precision")
        }
        guard n > 0 else { return }
        do {
            try HDF5.locked {
                try HDF5.appendRows(self.coords, PatchBag.coordsName, memType: rp_h5t_native_int64(), start: count,
                                    rows: n, width: 2, values: coords.baseAddress!)
                try HDF5.appendRows(self.features, PatchBag.featuresName, memType: rp_h5t_native_float(), start: count,
                                    rows: n, width: featureDim, values: features.baseAddress!)
            }
        } catch {
            abandon()
            throw (error as? H5Failure)?.writeError(path) ?? error
        }
        count += n
    }

    /// Writes the root-group attributes (`fileAttributes` from `init` merged with `extra`; `extra`
    /// wins on a shared name), closes and flushes the file, fsyncs it and renames it over `path`.
    ///
    /// With `expectedCount` set the bag must hold exactly that many rows; pass `allowFewer: true`
    /// when patches were skipped on purpose (say, unreadable regions) — record how many in
    /// `extra` so readers know. More rows than expected are refused already by `append`.
    ///
    /// - Throws: `.invalidInput` when the row count or an attribute name is wrong (nothing
    ///   changes; the writer stays open); `.hdf5` / `.notWritable` when HDF5 or the rename fails,
    ///   after which the writer is abandoned and any existing file at `path` is untouched.
    public func finish(fileAttributes extra: [String: HDF5Value] = [:], allowFewer: Bool = false) throws {
        try checkOpen("finish")
        guard !extra.keys.contains("") else {
            throw PatchBagError(kind: .invalidInput, path: path, what: "an attribute of the file has an empty name",
                                hint: "this is a bug in the caller of FeatureBagWriter; the bag is not finished yet")
        }
        if let expectedCount, count != expectedCount, !(allowFewer && count < expectedCount) {
            throw PatchBagError(kind: .invalidInput, path: path,
                                what: "holds \(count) rows but \(expectedCount) were expected",
                                hint: "append the missing rows, or pass allowFewer: true if patches were skipped on purpose; the bag is not finished yet")
        }
        let attributes = fileAttributes.merging(extra) { _, new in new }
        do {
            try HDF5.locked {
                try HDF5.writeAttributes(file, attributes, owner: "the file")
                H5Dclose(coords)
                H5Dclose(features)
                coords = -1
                features = -1
                let f = file
                file = -1
                try HDF5.check(H5Fclose(f), "close (flush) the HDF5 file")
            }
            try PatchBag.moveIntoPlace(tmp, path)
        } catch {
            abandon()
            throw (error as? H5Failure)?.writeError(path) ?? error
        }
        state = .finished
    }

    /// Closes and deletes the temporary file; `path` is left as it was. Safe to call more than
    /// once, and a no-op after `finish`.
    public func abandon() {
        guard state == .open else { return }
        state = .abandoned
        discard()
    }

    private func discard() {
        HDF5.locked {
            if coords >= 0 { H5Dclose(coords) }
            if features >= 0 { H5Dclose(features) }
            if file >= 0 { H5Fclose(file) }
        }
        coords = -1
        features = -1
        file = -1
        unlink(tmp)
    }

    private func checkOpen(_ verb: String) throws {
        switch state {
        case .open: return
        case .finished:
            throw PatchBagError(kind: .invalidInput, path: path, what: "cannot \(verb) a feature bag already finished",
                                hint: "create a new FeatureBagWriter")
        case .abandoned:
            throw PatchBagError(kind: .invalidInput, path: path,
                                what: "cannot \(verb) a feature bag that was abandoned (by abandon() or an earlier failure)",
                                hint: "create a new FeatureBagWriter")
        }
    }

    /// Index of the first NaN or ±Inf. A max over the magnitude bits vectorises; only a block
    /// that holds a bad value is scanned again to find it.
    static func firstNonFinite(_ x: UnsafeBufferPointer<Float>) -> Int? {
        x.withMemoryRebound(to: UInt32.self) { bits in
            let block = 4096
            var start = 0
            while start < bits.count {
                let end = min(start + block, bits.count)
                var top: UInt32 = 0
                for i in start..<end { top = max(top, bits[i] & 0x7fff_ffff) }
                if top >= 0x7f80_0000 {
                    return (start..<end).first { bits[$0] & 0x7fff_ffff >= 0x7f80_0000 }
                }
                start = end
            }
            return nil
        }
    }
}
