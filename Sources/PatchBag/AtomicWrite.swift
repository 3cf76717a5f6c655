import Foundation

extension PatchBag {
    /// Temp-then-rename, like ImageCore's `AtomicFile.produce` (PatchBag does not depend on
    /// ImageCore): `body` writes the temporary file, which is then fsync'ed and renamed over
    /// `path`; on any failure it is removed. `FeatureBagWriter` uses the two halves below
    /// directly because its body spans many calls.
    static func produceAtomically(_ path: String, _ body: (String) throws -> Void) throws {
        let tmp = try createTemporary(for: path)
        do {
            try body(tmp)
            try moveIntoPlace(tmp, path)
        } catch {
            unlink(tmp)
            throw error
        }
    }

    /// Creates missing folders and an empty hidden `.<name>.tmp-<pid>-<random>` beside `path`,
    /// and returns its path. It is created here, before HDF5 touches it, so a folder that cannot
    /// be written gives a plain errno instead of an HDF5 stack.
    static func createTemporary(for path: String) throws -> String {
        let url = URL(fileURLWithPath: path)
        let dir = url.deletingLastPathComponent().path
        if let err = makeDirectories(dir) {
            throw PatchBagError(kind: .notWritable, path: path, what: "cannot create folder \(dir)",
                                reason: String(cString: strerror(err)),
                                hint: "check permissions or choose another --out")
        }
        let tmp = url.deletingLastPathComponent()
            .appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))").path
        let fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o666)
        if fd < 0 {
            let err = errno
            let notWritable = [EACCES, EPERM, EROFS].contains(err)
            throw PatchBagError(kind: .notWritable, path: path,
                                what: notWritable ? "folder not writable: \(dir)" : "cannot create a file in \(dir)",
                                reason: String(cString: strerror(err)),
                                hint: err == ENOSPC || err == EDQUOT
                                    ? "the disk is full: free space or choose another --out"
                                    : "check permissions or choose another --out")
        }
        close(fd)
        return tmp
    }

    /// fsyncs the finished temporary file (so a crash cannot leave a renamed but empty bag) and
    /// renames it over `path`. Leaves `tmp` in place on failure; the caller removes it.
    static func moveIntoPlace(_ tmp: String, _ path: String) throws {
        let sync = open(tmp, O_RDONLY | O_CLOEXEC)
        if sync >= 0 { _ = fsync(sync); close(sync) }
        if rename(tmp, path) != 0 {
            let err = errno
            throw PatchBagError(kind: .notWritable, path: path, what: "cannot move the finished bag into place",
                                reason: String(cString: strerror(err)),
                                hint: err == EISDIR ? "a folder has that name: remove it or choose another --out"
                                                    : "check permissions or choose another --out")
        }
    }

    /// `mkdir -p` returning the errno of the first failure (nil when `dir` exists as a folder).
    private static func makeDirectories(_ dir: String) -> Int32? {
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: dir, isDirectory: &isDir) { return isDir.boolValue ? nil : ENOTDIR }
        let parent = URL(fileURLWithPath: dir).deletingLastPathComponent().path
        if parent != dir, let err = makeDirectories(parent) { return err }
        if mkdir(dir, 0o777) != 0 && errno != EEXIST { return errno }
        return nil
    }
}
