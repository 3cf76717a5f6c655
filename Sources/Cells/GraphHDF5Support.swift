import CHDF5
import Foundation
import PatchBag

/// The HDF5 writes the graph writer needs that PatchBag's `HDF5` helpers do not have: fixed-size
/// datasets chunked along any axis, block writes and string datasets. Callers run them inside
/// `HDF5.locked`, PatchBag's one process-wide HDF5 lock.
enum GraphH5 {
    /// A chunked dataset of shape `dims`, chunked along `axis` in blocks of about `chunkBytes`
    /// (never more than the data holds).
    static func createDataset(_ file: hid_t, _ name: String, type: hid_t, dims: [Int], elementSize: Int,
                              axis: Int = 0, chunkBytes: Int = 1 << 20) throws -> hid_t {
        var d = dims.map { hsize_t($0) }
        let space = try HDF5.check(H5Screate_simple(Int32(d.count), &d, nil), "create the dataspace of \(name)")
        defer { H5Sclose(space) }
        let dcpl = try HDF5.check(H5Pcreate(rp_h5p_dataset_create()), "create properties of \(name)")
        defer { H5Pclose(dcpl) }
        var chunk = dims.map { hsize_t(max(1, $0)) }
        let across = dims.indices.filter { $0 != axis }.reduce(1) { $0 * max(1, dims[$1]) }
        chunk[axis] = hsize_t(min(max(1, dims[axis]), max(1, chunkBytes / (across * elementSize))))
        try HDF5.check(H5Pset_chunk(dcpl, Int32(chunk.count), &chunk), "set the chunk shape of \(name)")
        try HDF5.check(H5Pset_obj_track_times(dcpl, false), "disable time tracking on \(name)")
        return try HDF5.check(H5Dcreate2(file, name, type, space, rp_h5p_default(), dcpl, rp_h5p_default()),
                              "create dataset \(name)")
    }

    /// Writes the block starting at `offset` with shape `count` of an open dataset.
    static func writeBlock(_ dset: hid_t, _ name: String, memType: hid_t, offset: [Int], count: [Int],
                           _ data: UnsafeRawPointer) throws {
        guard count.allSatisfy({ $0 > 0 }) else { return }
        let fileSpace = try HDF5.check(H5Dget_space(dset), "get the dataspace of \(name)")
        defer { H5Sclose(fileSpace) }
        var off = offset.map { hsize_t($0) }, cnt = count.map { hsize_t($0) }
        try HDF5.check(H5Sselect_hyperslab(fileSpace, H5S_SELECT_SET, &off, nil, &cnt, nil), "select a block of \(name)")
        let mem = try HDF5.check(H5Screate_simple(Int32(cnt.count), &cnt, nil), "create a memory dataspace for \(name)")
        defer { H5Sclose(mem) }
        try HDF5.check(H5Dwrite(dset, memType, mem, fileSpace, rp_h5p_default(), data), "write \(name)")
    }

    /// A 1-D dataset of variable-length UTF-8 strings (h5py: `ds.asstr()[()]`).
    static func writeStrings(_ file: hid_t, _ name: String, _ strings: [String]) throws {
        let type = try HDF5.check(H5Tcopy(rp_h5t_c_s1()), "create the string type of \(name)")
        defer { H5Tclose(type) }
        try HDF5.check(H5Tset_size(type, rp_h5t_variable()), "size the string type of \(name)")
        try HDF5.check(H5Tset_cset(type, H5T_CSET_UTF8), "set UTF-8 on \(name)")
        var dims = [hsize_t(strings.count)]
        let space = try HDF5.check(H5Screate_simple(1, &dims, nil), "create the dataspace of \(name)")
        defer { H5Sclose(space) }
        let dcpl = try HDF5.check(H5Pcreate(rp_h5p_dataset_create()), "create properties of \(name)")
        defer { H5Pclose(dcpl) }
        try HDF5.check(H5Pset_obj_track_times(dcpl, false), "disable time tracking on \(name)")
        let dset = try HDF5.check(H5Dcreate2(file, name, type, space, rp_h5p_default(), dcpl, rp_h5p_default()),
                                  "create dataset \(name)")
        defer { H5Dclose(dset) }
        guard !strings.isEmpty else { return }
        let cstrings = strings.map { strdup($0) }
        defer { cstrings.forEach { free($0) } }
        var ptrs: [UnsafePointer<CChar>?] = cstrings.map { UnsafePointer($0) }
        try ptrs.withUnsafeMutableBytes {
            try HDF5.check(H5Dwrite(dset, type, rp_h5s_all(), rp_h5s_all(), rp_h5p_default(), $0.baseAddress), "write \(name)")
        }
    }
}
