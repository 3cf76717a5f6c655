import Foundation

/// gzip (RFC 1952) through the system zlib, loaded at run time: zlib is always present
/// beside libpng, but no module map exposes it to Swift. The header carries no name and
/// mtime 0, so the same input gives the same bytes.
enum Gzip {
    private typealias Bound = @convention(c) (UInt) -> UInt
    private typealias Compress2 = @convention(c) (UnsafeMutablePointer<UInt8>, UnsafeMutablePointer<UInt>, UnsafePointer<UInt8>, UInt, Int32) -> Int32
    private typealias CRC32 = @convention(c) (UInt, UnsafePointer<UInt8>, UInt32) -> UInt

    private static let zlib: (Bound, Compress2, CRC32)? = {
        for name in ["libz.so.1", "libz.so", "libz.dylib", "/usr/lib/libz.1.dylib"] {
            guard let h = dlopen(name, RTLD_NOW | RTLD_LOCAL) else { continue }
            guard let b = dlsym(h, "compressBound"), let c = dlsym(h, "compress2"), let r = dlsym(h, "crc32") else { continue }
            return (unsafeBitCast(b, to: Bound.self), unsafeBitCast(c, to: Compress2.self), unsafeBitCast(r, to: CRC32.self))
        }
        return nil
    }()

    /// `data` gzip-compressed at level 6 (zlib's default). Throws when zlib is missing.
    static func compress(_ data: Data, path: String) throws -> Data {
        guard let (bound, compress2, crc32) = zlib else {
            throw HeatmapError(path: path, reason: "gzip needs the system zlib (libz.so.1), which could not be loaded",
                               hint: "install zlib1g, or write the GeoJSON uncompressed")
        }
        let input = [UInt8](data)
        var out = [UInt8](repeating: 0, count: Int(bound(UInt(input.count))))
        var outLen = UInt(out.count)
        let rc = input.withUnsafeBufferPointer { i in
            out.withUnsafeMutableBufferPointer { o in
                compress2(o.baseAddress!, &outLen, i.baseAddress ?? UnsafePointer(bitPattern: 1)!, UInt(i.count), 6)
            }
        }
        guard rc == 0, outLen >= 6 else { throw HeatmapError(path: path, reason: "zlib compression failed (code \(rc))") }
        var crc: UInt = 0
        input.withUnsafeBufferPointer { i in
            var off = 0
            repeat {
                let n = min(1 << 30, i.count - off)
                crc = crc32(crc, (i.baseAddress ?? UnsafePointer(bitPattern: 1)!) + off, UInt32(n))
                off += n
            } while off < i.count
        }
        // zlib stream = 2-byte header + raw deflate + 4-byte Adler-32; gzip wants the raw deflate.
        var gz: [UInt8] = [0x1F, 0x8B, 8, 0, 0, 0, 0, 0, 0, 0xFF]
        gz.append(contentsOf: out[2..<(Int(outLen) - 4)])
        for v in [UInt32(truncatingIfNeeded: crc), UInt32(truncatingIfNeeded: input.count)] {
            gz.append(contentsOf: [UInt8(v & 0xFF), UInt8((v >> 8) & 0xFF), UInt8((v >> 16) & 0xFF), UInt8(v >> 24)])
        }
        return Data(gz)
    }
}
