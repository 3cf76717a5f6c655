import CHDF5
import Foundation
import PatchBag

/// The few HDF5 calls the graph writer needs, serialised by one lock like PatchBag's (a libhdf5
/// built without thread safety must never be entered by two threads at once). PatchBag keeps its
/// helpers internal, so this is a small duplicate; both locks guard thread-safe Debian builds.
enum GraphH5 {
    private static let lock = NSLock()

    struct Failure: Error { let step: String; let reason: String }

    static func locked<T>(_ body: () throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        H5Eset_auto2(rp_h5e_default(), nil, nil)
        H5Eclear2(rp_h5e_default())
        return try body()
    }

    @discardableResult
    static func check(_ id: hid_t, _ step: @autoclosure () -> String) throws -> hid_t {
        if id < 0 { throw Failure(step: step(), reason: stackReason()) }
        return id
    }

    static func check(_ status: herr_t, _ step: @autoclosure () -> String) throws {
        if status < 0 { throw Failure(step: step(), reason: stackReason()) }
    }

    /// The innermost message of the HDF5 error stack (the cause), then clears it.
    static func stackReason() -> String {
        var messages: [String] = []
        withUnsafeMutablePointer(to: &messages) { box in
            _ = H5Ewalk2(rp_h5e_default(), H5E_WALK_DOWNWARD, { _, err, data in
                guard let err, let data else { return 0 }
                let desc = err.pointee.desc.map { String(cString: $0) } ?? ""
                data.assumingMemoryBound(to: [String].self).pointee.append(desc)
                return 0
            }, box)
        }
        H5Eclear2(rp_h5e_default())
        return messages.last.flatMap { $0.isEmpty ? nil : $0 } ?? "unknown HDF5 error"
    }

    static func createFile(_ path: String) throws -> hid_t {
        let fapl = try check(H5Pcreate(rp_h5p_file_access()), "create file access properties")
        defer { H5Pclose(fapl) }
        try check(H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG), "set the file close degree")
        try check(H5Pset_file_locking(fapl, false, true), "disable file locking")
        return try check(H5Fcreate(path, rp_h5f_acc_trunc(), rp_h5p_default(), fapl), "create the HDF5 file")
    }

    /// A chunked dataset of shape `dims`, chunked along `axis` in blocks of about `chunkBytes`
    /// (never more than the data holds).
    static func createDataset(_ file: hid_t, _ name: String, type: hid_t, dims: [Int], elementSize: Int,
                              axis: Int = 0, chunkBytes: Int = 1 << 20) throws -> hid_t {
        var d = dims.map { hsize_t($0) }
        let space = try check(H5Screate_simple(Int32(d.count), &d, nil), "create the dataspace of \(name)")
        defer { H5Sclose(space) }
        let dcpl = try check(H5Pcreate(rp_h5p_dataset_create()), "create properties of \(name)")
        defer { H5Pclose(dcpl) }
        var chunk = dims.map { hsize_t(max(1, $0)) }
        let across = dims.indices.filter { $0 != axis }.reduce(1) { $0 * max(1, dims[$1]) }
        chunk[axis] = hsize_t(min(max(1, dims[axis]), max(1, chunkBytes / (across * elementSize))))
        try check(H5Pset_chunk(dcpl, Int32(chunk.count), &chunk), "set the chunk shape of \(name)")
        try check(H5Pset_obj_track_times(dcpl, false), "disable time tracking on \(name)")
        return try check(H5Dcreate2(file, name, type, space, rp_h5p_default(), dcpl, rp_h5p_default()), "create dataset \(name)")
    }

    /// Writes the block starting at `offset` with shape `count` of an open dataset.
    static func writeBlock(_ dset: hid_t, _ name: String, memType: hid_t, offset: [Int], count: [Int],
                           _ data: UnsafeRawPointer) throws {
        guard count.allSatisfy({ $0 > 0 }) else { return }
        let fileSpace = try check(H5Dget_space(dset), "get the dataspace of \(name)")
        defer { H5Sclose(fileSpace) }
        var off = offset.map { hsize_t($0) }, cnt = count.map { hsize_t($0) }
        try check(H5Sselect_hyperslab(fileSpace, H5S_SELECT_SET, &off, nil, &cnt, nil), "select a block of \(name)")
        let mem = try check(H5Screate_simple(Int32(cnt.count), &cnt, nil), "create a memory dataspace for \(name)")
        defer { H5Sclose(mem) }
        try check(H5Dwrite(dset, memType, mem, fileSpace, rp_h5p_default(), data), "write \(name)")
    }

    /// A 1-D dataset of variable-length UTF-8 strings (h5py: `ds.asstr()[()]`).
    static func writeStrings(_ file: hid_t, _ name: String, _ strings: [String]) throws {
        let type = try check(H5Tcopy(rp_h5t_c_s1()), "create the string type of \(name)")
        defer { H5Tclose(type) }
        try check(H5Tset_size(type, rp_h5t_variable()), "size the string type of \(name)")
        try check(H5Tset_cset(type, H5T_CSET_UTF8), "set UTF-8 on \(name)")
        var dims = [hsize_t(strings.count)]
        let space = try check(H5Screate_simple(1, &dims, nil), "create the dataspace of \(name)")
        defer { H5Sclose(space) }
        let dcpl = try check(H5Pcreate(rp_h5p_dataset_create()), "create properties of \(name)")
        defer { H5Pclose(dcpl) }
        try check(H5Pset_obj_track_times(dcpl, false), "disable time tracking on \(name)")
        let dset = try check(H5Dcreate2(file, name, type, space, rp_h5p_default(), dcpl, rp_h5p_default()), "create dataset \(name)")
        defer { H5Dclose(dset) }
        guard !strings.isEmpty else { return }
        let cstrings = strings.map { strdup($0) }
        defer { cstrings.forEach { free($0) } }
        var ptrs: [UnsafePointer<CChar>?] = cstrings.map { UnsafePointer($0) }
        try ptrs.withUnsafeMutableBytes {
            try check(H5Dwrite(dset, type, rp_h5s_all(), rp_h5s_all(), rp_h5p_default(), $0.baseAddress), "write \(name)")
        }
    }

    /// Root-group attributes in key order (same input, same bytes).
    static func writeAttributes(_ loc: hid_t, _ attrs: [String: HDF5Value]) throws {
        for key in attrs.keys.sorted() {
            let step = "write attribute '\(key)'"
            switch attrs[key]! {
            case .int(let v): try numeric(loc, key, [v], scalar: true, rp_h5t_std_i64le(), rp_h5t_native_int64(), step)
            case .double(let v): try numeric(loc, key, [v], scalar: true, rp_h5t_ieee_f64le(), rp_h5t_native_double(), step)
            case .ints(let v): try numeric(loc, key, v, scalar: false, rp_h5t_std_i64le(), rp_h5t_native_int64(), step)
            case .doubles(let v): try numeric(loc, key, v, scalar: false, rp_h5t_ieee_f64le(), rp_h5t_native_double(), step)
            case .string(let s):
                let type = try check(H5Tcopy(rp_h5t_c_s1()), step)
                defer { H5Tclose(type) }
                try check(H5Tset_size(type, rp_h5t_variable()), step)
                try check(H5Tset_cset(type, H5T_CSET_UTF8), step)
                let space = try check(H5Screate(H5S_SCALAR), step)
                defer { H5Sclose(space) }
                let attr = try check(H5Acreate2(loc, key, type, space, rp_h5p_default(), rp_h5p_default()), step)
                defer { H5Aclose(attr) }
                try s.withCString { c in
                    var p: UnsafePointer<CChar>? = c
                    try withUnsafePointer(to: &p) { try check(H5Awrite(attr, type, $0), step) }
                }
            }
        }
    }

    private static func numeric<T>(_ loc: hid_t, _ name: String, _ v: [T], scalar: Bool, _ fileType: hid_t,
                                   _ memType: hid_t, _ step: String) throws {
        var dims = [hsize_t(v.count)]
        let space = try scalar ? check(H5Screate(H5S_SCALAR), step) : check(H5Screate_simple(1, &dims, nil), step)
        defer { H5Sclose(space) }
        let attr = try check(H5Acreate2(loc, name, fileType, space, rp_h5p_default(), rp_h5p_default()), step)
        defer { H5Aclose(attr) }
        if !v.isEmpty { try v.withUnsafeBytes { try check(H5Awrite(attr, memType, $0.baseAddress), step) } }
    }
}
