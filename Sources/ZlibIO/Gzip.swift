import CZlib
import Foundation

/// A gzip/zlib stream that zlib refused, with what to do about it.
public struct ZlibError: Error, CustomStringConvertible, Sendable {
    public let reason: String
    public var description: String { "\(reason) (the file is not valid gzip or is truncated; re-export or re-download it)" }
}

/// gzip (RFC 1952) through the system zlib. Output headers carry no name and mtime 0, so the
/// same input gives the same bytes; input may be gzip (several members, as `cat a.gz b.gz`
/// makes) or a zlib stream.
public enum Gzip {
    /// True when `data` starts with the gzip magic bytes.
    public static func isGzip(_ data: Data) -> Bool {
        data.count >= 2 && data[data.startIndex] == 0x1F && data[data.startIndex + 1] == 0x8B
    }

    /// `data` gzip-compressed at `level` (0…9; 6 is zlib's default).
    public static func compress(_ data: Data, level: Int32 = 6) throws -> Data {
        var s = z_stream()
        guard rp_deflate_init_gzip(&s, level) == Z_OK else { throw ZlibError(reason: "zlib could not start deflate") }
        defer { deflateEnd(&s) }
        var out = Data()
        let chunk = 1 << 18
        var buffer = [UInt8](repeating: 0, count: chunk)
        try data.withUnsafeBytes { (input: UnsafeRawBufferPointer) in
            s.next_in = UnsafeMutablePointer(mutating: input.bindMemory(to: UInt8.self).baseAddress)
            var remaining = input.count
            var rc: Int32 = Z_OK
            repeat {
                // avail_in is 32-bit: feed at most 1 GiB at a time.
                let feed = min(remaining, 1 << 30)
                s.avail_in = UInt32(feed)
                remaining -= feed
                let flush = remaining == 0 ? Z_FINISH : Z_NO_FLUSH
                repeat {
                    rc = buffer.withUnsafeMutableBufferPointer { b in
                        s.next_out = b.baseAddress
                        s.avail_out = UInt32(chunk)
                        return deflate(&s, flush)
                    }
                    guard rc != Z_STREAM_ERROR else { throw ZlibError(reason: "zlib deflate failed") }
                    out.append(contentsOf: buffer[0..<(chunk - Int(s.avail_out))])
                } while s.avail_out == 0
            } while remaining > 0
            guard rc == Z_STREAM_END else { throw ZlibError(reason: "zlib deflate did not finish (code \(rc))") }
        }
        return out
    }

    /// The decompressed bytes of a gzip or zlib stream; concatenated gzip members are joined.
    /// `expectedSize` only pre-sizes the output.
    public static func decompress(_ data: Data, expectedSize: Int = 0) throws -> Data {
        var out = Data()
        out.reserveCapacity(max(expectedSize, data.count * 3))
        let chunk = 1 << 18
        var buffer = [UInt8](repeating: 0, count: chunk)
        try data.withUnsafeBytes { (input: UnsafeRawBufferPointer) in
            guard let base = input.bindMemory(to: UInt8.self).baseAddress, input.count > 0 else {
                throw ZlibError(reason: "empty compressed stream")
            }
            var offset = 0
            while offset < input.count {
                var s = z_stream()
                guard rp_inflate_init_auto(&s) == Z_OK else { throw ZlibError(reason: "zlib could not start inflate") }
                defer { inflateEnd(&s) }
                s.next_in = UnsafeMutablePointer(mutating: base + offset)
                s.avail_in = UInt32(min(input.count - offset, Int(UInt32.max)))
                var rc: Int32 = Z_OK
                while rc != Z_STREAM_END {
                    rc = buffer.withUnsafeMutableBufferPointer { b in
                        s.next_out = b.baseAddress
                        s.avail_out = UInt32(chunk)
                        return inflate(&s, Z_NO_FLUSH)
                    }
                    out.append(contentsOf: buffer[0..<(chunk - Int(s.avail_out))])
                    if rc == Z_BUF_ERROR && s.avail_in == 0 { throw ZlibError(reason: "compressed stream ends early") }
                    guard rc == Z_OK || rc == Z_STREAM_END else {
                        throw ZlibError(reason: "corrupt compressed data (zlib code \(rc)\(s.msg.map { ": " + String(cString: $0) } ?? ""))")
                    }
                }
                offset += Int(s.total_in)
                // Trailing zero padding after the last member is tolerated, as gzip does.
                while offset < input.count && base[offset] == 0 { offset += 1 }
            }
        }
        return out
    }
}
