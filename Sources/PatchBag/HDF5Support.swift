import CHDF5
import Foundation

/// A failed HDF5 call, before the public layer ties it to the file's path.
public struct H5Failure: Error {
    /// The step that failed, e.g. "create dataset coords".
    public let step: String
    /// The concise cause taken from the HDF5 error stack.
    public let reason: String
}

extension H5Failure {
    /// The public error for a failed write of the bag at `path` (never the temporary name).
    func writeError(_ path: String) -> PatchBagError {
        PatchBagError(kind: .hdf5, path: path, what: "cannot \(step)", reason: reason,
                      hint: step.hasPrefix("write attribute")
                          ? "each attribute must stay under 64 KiB (HDF5's object header limit); keep large provenance in a JSON file beside the bag"
                          : "check free disk space and the output folder, then rerun")
    }
}

/// Every HDF5 call of the process goes through `HDF5.locked` (other modules that write HDF5,
/// such as Cells' graph writer, use it too, so there is exactly one lock).
///
/// Why one process-wide lock: a libhdf5 built without `--enable-threadsafe` (conda, Homebrew,
/// many source builds — and what the brief assumes for Debian) keeps global state (the ID
/// tables, free lists, metadata caches, the error stack) that two threads corrupt if they
/// call in at the same time. Debian's 1.10.8 package happens to report
/// `H5is_library_threadsafe == true`, but even then it only takes one global mutex per API
/// call, so a module lock costs no parallelism; it also keeps our multi-call sequences — a
/// failing call followed by the walk of the (per-thread) error stack — in one piece. Callers
/// may therefore read and write bags from as many threads as they like; HDF5 work itself
/// runs one at a time, which is fine because a bag is small next to the slide reading that
/// produced it.
public enum HDF5 {
    private static let lock = NSLock()

    /// Runs `body` holding the module's HDF5 lock, with HDF5's automatic error printing off
    /// (the setting is per thread in thread-safe builds, hence on every entry).
    public static func locked<T>(_ body: () throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        H5Eset_auto2(rp_h5e_default(), nil, nil)
        H5Eclear2(rp_h5e_default())
        return try body()
    }

    /// Returns `id`, or throws an `H5Failure` for `step` with the error stack's cause when it is negative.
    @discardableResult
    public static func check(_ id: hid_t, _ step: @autoclosure () -> String) throws -> hid_t {
        if id < 0 { throw H5Failure(step: step(), reason: errorStackReason()) }
        return id
    }

    /// Throws an `H5Failure` for `step` with the error stack's cause when `status` is negative.
    public static func check(_ status: herr_t, _ step: @autoclosure () -> String) throws {
        if status < 0 { throw H5Failure(step: step(), reason: errorStackReason()) }
    }

    /// A one-line cause from the current error stack: the outermost message (what the API
    /// call could not do) and the innermost one (why), with an errno text pulled out when
    /// HDF5 embeds one. Clears the stack.
    static func errorStackReason() -> String {
        var messages: [String] = []
        withUnsafeMutablePointer(to: &messages) { box in
            _ = H5Ewalk2(rp_h5e_default(), H5E_WALK_DOWNWARD, { _, err, data in
                guard let err, let data else { return 0 }
                let desc = err.pointee.desc.map { String(cString: $0) } ?? ""
                let fn = err.pointee.func_name.map { String(cString: $0) } ?? ""
                data.assumingMemoryBound(to: [String].self).pointee.append(desc.isEmpty ? fn : desc)
                return 0
            }, box)
        }
        H5Eclear2(rp_h5e_default())
        guard let first = messages.first, let last = messages.last else { return "unknown HDF5 error" }
        let inner = errnoText(in: last) ?? last
        return messages.count == 1 || first == inner ? inner : "\(first): \(inner)"
    }

    /// HDF5's POSIX-level messages read "..., errno = 13, error message = 'Permission denied', ...".
    private static func errnoText(in s: String) -> String? {
        guard let start = s.range(of: "error message = '") else { return nil }
        let rest = s[start.upperBound...]
        guard let end = rest.firstIndex(of: "'") else { return nil }
        return String(rest[..<end])
    }

    // MARK: files

    /// Creates (truncates) `path` for writing, with STRONG close (H5Fclose really closes the
    /// file, and fails loudly, before the caller renames it) and no file locking (nobody else
    /// knows a temporary name, so locks only add failure modes on NFS and Lustre).
    public static func createFile(_ path: String) throws -> hid_t {
        let fapl = try check(H5Pcreate(rp_h5p_file_access()), "create file access properties")
        defer { H5Pclose(fapl) }
        try check(H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG), "set the file close degree")
        try check(H5Pset_file_locking(fapl, false, true), "disable file locking")
        return try check(H5Fcreate(path, rp_h5f_acc_trunc(), rp_h5p_default(), fapl), "create the HDF5 file")
    }

    // MARK: datasets

    /// Rows per chunk so a chunk holds at most `chunkBytes` (at least one row), and no more
    /// rows than the dataset is expected to hold (`expectedRows`, when known): HDF5 stores
    /// every chunk whole, so a 10-row bag must not carry a 1 MiB chunk.
    static func chunkRows(rowBytes: Int, chunkBytes: Int, expectedRows: Int?) -> Int {
        let rows = max(1, chunkBytes / max(1, rowBytes))
        guard let expectedRows else { return rows }
        return min(rows, max(1, expectedRows))
    }

    /// Creates a chunked dataset of shape `dims` whose first dimension may grow later (a later
    /// job can append rows) and returns it open. `gzipLevel` (0–9) adds shuffle + deflate;
    /// `cacheBytes` sizes the dataset's chunk cache (HDF5's default is 1 MiB).
    static func createDataset(_ loc: hid_t, _ name: String, fileType: hid_t, dims: [Int], chunkRows: Int,
                              gzipLevel: Int? = nil, cacheBytes: Int? = nil) throws -> hid_t {
        var d = dims.map { hsize_t($0) }
        var maxd = d
        maxd[0] = rp_h5s_unlimited()
        let space = try check(H5Screate_simple(Int32(d.count), &d, &maxd), "create the dataspace of \(name)")
        defer { H5Sclose(space) }
        let dcpl = try check(H5Pcreate(rp_h5p_dataset_create()), "create properties of \(name)")
        defer { H5Pclose(dcpl) }
        var chunk = d
        chunk[0] = hsize_t(chunkRows)
        try check(H5Pset_chunk(dcpl, Int32(chunk.count), &chunk), "set the chunk shape of \(name)")
        if let gzipLevel {
            // Shuffle groups the bytes of each float by significance, which deflate packs better.
            try check(H5Pset_shuffle(dcpl), "set the shuffle filter on \(name)")
            try check(H5Pset_deflate(dcpl, UInt32(gzipLevel)), "set gzip compression on \(name)")
        }
        // No modification times in the object header: same input, same bytes.
        try check(H5Pset_obj_track_times(dcpl, false), "disable time tracking on \(name)")
        let dapl = try check(H5Pcreate(rp_h5p_dataset_access()), "create access properties of \(name)")
        defer { H5Pclose(dapl) }
        if let cacheBytes {
            // 521 slots is HDF5's default; w0 = 1 evicts fully written chunks first.
            try check(H5Pset_chunk_cache(dapl, 521, cacheBytes, 1.0), "set the chunk cache of \(name)")
        }
        return try check(H5Dcreate2(loc, name, fileType, space, rp_h5p_default(), dcpl, dapl),
                         "create dataset \(name)")
    }

    /// Creates a chunked, appendable dataset (see `createDataset`), writes `values` (row-major,
    /// product of `dims` elements) and returns it open.
    static func writeDataset(_ loc: hid_t, _ name: String, fileType: hid_t, memType: hid_t,
                             dims: [Int], chunkBytes: Int, elementSize: Int,
                             values: UnsafeRawBufferPointer) throws -> hid_t {
        let rowBytes = dims.dropFirst().reduce(elementSize, *)
        let rows = chunkRows(rowBytes: rowBytes, chunkBytes: chunkBytes, expectedRows: dims[0])
        let dset = try createDataset(loc, name, fileType: fileType, dims: dims, chunkRows: rows)
        if dims.reduce(1, *) > 0 {
            do {
                try check(H5Dwrite(dset, memType, rp_h5s_all(), rp_h5s_all(), rp_h5p_default(), values.baseAddress),
                          "write dataset \(name)")
            } catch {
                H5Dclose(dset)
                throw error
            }
        }
        return dset
    }

    /// Grows the open 2-D dataset `dset` from `start` to `start + rows` rows and writes `values`
    /// (row-major, `rows` × `width` elements of `memType`) into the new rows.
    static func appendRows(_ dset: hid_t, _ name: String, memType: hid_t, start: Int, rows: Int, width: Int,
                           values: UnsafeRawPointer) throws {
        guard rows > 0 else { return }
        var extent = [hsize_t(start + rows), hsize_t(width)]
        try check(H5Dset_extent(dset, &extent), "extend dataset \(name) to \(start + rows) rows")
        let fileSpace = try check(H5Dget_space(dset), "get the dataspace of \(name)")
        defer { H5Sclose(fileSpace) }
        var offset = [hsize_t(start), 0]
        var count = [hsize_t(rows), hsize_t(width)]
        try check(H5Sselect_hyperslab(fileSpace, H5S_SELECT_SET, &offset, nil, &count, nil),
                  "select rows \(start)..<\(start + rows) of \(name)")
        let memSpace = try check(H5Screate_simple(2, &count, nil), "create the memory dataspace for \(name)")
        defer { H5Sclose(memSpace) }
        try check(H5Dwrite(dset, memType, memSpace, fileSpace, rp_h5p_default(), values),
                  "write rows \(start)..<\(start + rows) of \(name)")
    }

    /// Shape of an open dataset.
    static func shape(of dset: hid_t, _ name: String) throws -> [Int] {
        let space = try check(H5Dget_space(dset), "get the dataspace of \(name)")
        defer { H5Sclose(space) }
        let rank = H5Sget_simple_extent_ndims(space)
        guard rank >= 0 else { throw H5Failure(step: "get the rank of \(name)", reason: errorStackReason()) }
        var dims = [hsize_t](repeating: 0, count: Int(rank))
        if rank > 0 { try check(H5Sget_simple_extent_dims(space, &dims, nil), "get the shape of \(name)") }
        return dims.map { Int($0) }
    }

    /// Type class of an open dataset (integer, float, string, ...).
    static func typeClass(of dset: hid_t, _ name: String) throws -> H5T_class_t {
        let type = try check(H5Dget_type(dset), "get the type of \(name)")
        defer { H5Tclose(type) }
        return H5Tget_class(type)
    }

    /// Reads a whole numeric dataset, converting to `memType` (HDF5 converts int32 → int64,
    /// float64 → float32 and so on).
    static func readAll<T>(_ dset: hid_t, _ name: String, memType: hid_t, count: Int, zero: T) throws -> [T] {
        var values = [T](repeating: zero, count: count)
        if count > 0 {
            try values.withUnsafeMutableBytes { buf in
                try check(H5Dread(dset, memType, rp_h5s_all(), rp_h5s_all(), rp_h5p_default(), buf.baseAddress),
                          "read dataset \(name)")
            }
        }
        return values
    }

    static func exists(_ loc: hid_t, _ name: String) -> Bool {
        H5Lexists(loc, name, rp_h5p_default()) > 0
    }

    // MARK: attributes

    /// Writes `attrs` on `loc` (a dataset, or a file id for the root group) in key order, so
    /// the file's bytes do not depend on dictionary order.
    public static func writeAttributes(_ loc: hid_t, _ attrs: [String: HDF5Value], owner: String) throws {
        for key in attrs.keys.sorted() {
            try writeAttribute(loc, key, attrs[key]!, owner: owner)
        }
    }

    static func writeAttribute(_ loc: hid_t, _ name: String, _ value: HDF5Value, owner: String) throws {
        let step = "write attribute '\(name)' of \(owner)"
        switch value {
        case .int(let v):
            try writeNumericAttribute(loc, name, [v], scalar: true, fileType: rp_h5t_std_i64le(),
                                      memType: rp_h5t_native_int64(), step: step)
        case .double(let v):
            try writeNumericAttribute(loc, name, [v], scalar: true, fileType: rp_h5t_ieee_f64le(),
                                      memType: rp_h5t_native_double(), step: step)
        case .ints(let v):
            try writeNumericAttribute(loc, name, v, scalar: false, fileType: rp_h5t_std_i64le(),
                                      memType: rp_h5t_native_int64(), step: step)
        case .doubles(let v):
            try writeNumericAttribute(loc, name, v, scalar: false, fileType: rp_h5t_ieee_f64le(),
                                      memType: rp_h5t_native_double(), step: step)
        case .string(let s):
            // Variable-length, UTF-8, NUL-terminated scalar: the layout h5py itself writes for
            // `attrs[k] = 'text'`, which h5py 3 hands back as `str`, not `bytes`.
            let type = try check(H5Tcopy(rp_h5t_c_s1()), step)
            defer { H5Tclose(type) }
            try check(H5Tset_size(type, rp_h5t_variable()), step)
            try check(H5Tset_cset(type, H5T_CSET_UTF8), step)
            try check(H5Tset_strpad(type, H5T_STR_NULLTERM), step)
            let space = try check(H5Screate(H5S_SCALAR), step)
            defer { H5Sclose(space) }
            let attr = try check(H5Acreate2(loc, name, type, space, rp_h5p_default(), rp_h5p_default()), step)
            defer { H5Aclose(attr) }
            try s.withCString { cstr in
                var ptr: UnsafePointer<CChar>? = cstr
                try withUnsafePointer(to: &ptr) { try check(H5Awrite(attr, type, $0), step) }
            }
        }
    }

    private static func writeNumericAttribute<T>(_ loc: hid_t, _ name: String, _ values: [T], scalar: Bool,
                                                 fileType: hid_t, memType: hid_t, step: String) throws {
        let space: hid_t
        if scalar {
            space = try check(H5Screate(H5S_SCALAR), step)
        } else {
            var dims = [hsize_t(values.count)]
            space = try check(H5Screate_simple(1, &dims, nil), step)
        }
        defer { H5Sclose(space) }
        let attr = try check(H5Acreate2(loc, name, fileType, space, rp_h5p_default(), rp_h5p_default()), step)
        defer { H5Aclose(attr) }
        if !values.isEmpty {
            try values.withUnsafeBytes { try check(H5Awrite(attr, memType, $0.baseAddress), step) }
        }
    }

    /// Reads every attribute of `loc` that is one of the five `HDF5Value` kinds. Others (enum
    /// booleans, compound, references, multi-dimensional or string arrays, empty) are skipped:
    /// they are not part of the bag format, and one odd attribute should not make a bag unreadable.
    static func readAttributes(_ loc: hid_t, owner: String) throws -> [String: HDF5Value] {
        var names: [String] = []
        try withUnsafeMutablePointer(to: &names) { box in
            try check(H5Aiterate2(loc, H5_INDEX_NAME, H5_ITER_INC, nil, { _, name, _, data in
                guard let name, let data else { return -1 }
                data.assumingMemoryBound(to: [String].self).pointee.append(String(cString: name))
                return 0
            }, box), "list the attributes of \(owner)")
        }
        var result: [String: HDF5Value] = [:]
        for name in names {
            let step = "read attribute '\(name)' of \(owner)"
            let attr = try check(H5Aopen(loc, name, rp_h5p_default()), step)
            defer { H5Aclose(attr) }
            if let value = try readAttributeValue(attr, step: step) { result[name] = value }
        }
        return result
    }

    private static func readAttributeValue(_ attr: hid_t, step: String) throws -> HDF5Value? {
        let type = try check(H5Aget_type(attr), step)
        defer { H5Tclose(type) }
        let space = try check(H5Aget_space(attr), step)
        defer { H5Sclose(space) }
        let spaceClass = H5Sget_simple_extent_type(space)
        let scalar = spaceClass == H5S_SCALAR
        guard scalar || (spaceClass == H5S_SIMPLE && H5Sget_simple_extent_ndims(space) == 1) else { return nil }
        let n = Int(H5Sget_simple_extent_npoints(space))
        switch H5Tget_class(type) {
        case H5T_INTEGER:
            var v = [Int64](repeating: 0, count: n)
            if n > 0 { try v.withUnsafeMutableBytes { try check(H5Aread(attr, rp_h5t_native_int64(), $0.baseAddress), step) } }
            return scalar ? .int(v[0]) : .ints(v)
        case H5T_FLOAT:
            var v = [Double](repeating: 0, count: n)
            if n > 0 { try v.withUnsafeMutableBytes { try check(H5Aread(attr, rp_h5t_native_double(), $0.baseAddress), step) } }
            return scalar ? .double(v[0]) : .doubles(v)
        case H5T_STRING where scalar:
            return .string(try readScalarString(attr, fileType: type, step: step))
        default:
            return nil
        }
    }

    private static func readScalarString(_ attr: hid_t, fileType: hid_t, step: String) throws -> String {
        let isVariable = H5Tis_variable_str(fileType)
        guard isVariable >= 0 else { throw H5Failure(step: step, reason: errorStackReason()) }
        if isVariable > 0 {
            let mem = try check(H5Tcopy(rp_h5t_c_s1()), step)
            defer { H5Tclose(mem) }
            try check(H5Tset_size(mem, rp_h5t_variable()), step)
            try check(H5Tset_cset(mem, H5Tget_cset(fileType)), step)
            var ptr: UnsafeMutablePointer<CChar>? = nil
            try withUnsafeMutablePointer(to: &ptr) { try check(H5Aread(attr, mem, $0), step) }
            defer { if let ptr { H5free_memory(ptr) } }
            return ptr.map { String(cString: $0) } ?? ""
        }
        // Fixed length (numpy bytes_, older writers): read the raw bytes, cut at the first NUL
        // and drop space padding.
        let size = H5Tget_size(fileType)
        var bytes = [UInt8](repeating: 0, count: size + 1)
        try bytes.withUnsafeMutableBytes { try check(H5Aread(attr, fileType, $0.baseAddress), step) }
        var end = bytes.firstIndex(of: 0) ?? size
        if H5Tget_strpad(fileType) == H5T_STR_SPACEPAD {
            while end > 0 && bytes[end - 1] == 0x20 { end -= 1 }
        }
        return String(decoding: bytes[..<end], as: UTF8.self)
    }
}
