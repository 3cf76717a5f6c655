import Foundation
import ImageCore

/// A PNG, JPEG or stripped TIFF that OpenSlide refuses, served as a one-level slide.
/// The header is read at open; the pixels are decoded once, on first use, under a lock,
/// and then shared by all readers.
final class PlainImage: @unchecked Sendable {
    let path: String
    let format: ImageFile.Format
    let width: Int, height: Int
    private let pixels: DecodeOnce<RGBImage>

    init(path: String, format: ImageFile.Format, width: Int, height: Int) {
        self.path = path; self.format = format; self.width = width; self.height = height
        pixels = DecodeOnce { try PlainImage.decode(path: path, format: format, width: width, height: height) }
    }

    /// The whole image, decoded on first call. A decode failure is remembered and
    /// reported again on every later call.
    func image() throws -> RGBImage { try pixels.value() }

    private static func decode(path: String, format: ImageFile.Format, width: Int, height: Int) throws -> RGBImage {
        do {
            let img = try ImageFile.read(path: path)
            guard img.width == width, img.height == height else {
                throw ImageCodecError(path: path, reason: "decoded \(img.width)x\(img.height) but the header says \(width)x\(height)")
            }
            return img
        } catch {
            let reason = (error as? ImageCodecError)?.reason ?? "\(error)"
            throw SlideError(kind: .corrupt, path: path, reason: "the \(format.rawValue.uppercased()) pixels cannot be decoded: \(reason)",
                             hint: "the file is damaged or truncated; re-export or re-copy it")
        }
    }

    /// Copies a rectangle; pixels outside the image are white.
    func region(x: Int, y: Int, width w: Int, height h: Int) throws -> RGBImage {
        PlainImage.copyRegion(try image(), x: x, y: y, width: w, height: h)
    }

    /// A `w × h` window of `img` at (x, y) (may hang over the edges: outside is white).
    static func copyRegion(_ img: RGBImage, x: Int, y: Int, width w: Int, height h: Int) -> RGBImage {
        var out = [UInt8](repeating: 255, count: w * h * 3)
        let x0 = max(x, 0), x1 = min(x + w, img.width)
        let y0 = max(y, 0), y1 = min(y + h, img.height)
        if x0 < x1 && y0 < y1 {
            let rowBytes = (x1 - x0) * 3
            img.pixels.withUnsafeBufferPointer { src in
                out.withUnsafeMutableBufferPointer { dst in
                    for yy in y0..<y1 {
                        let s = src.baseAddress! + ((yy * img.width + x0) * 3)
                        let d = dst.baseAddress! + (((yy - y) * w + (x0 - x)) * 3)
                        d.update(from: s, count: rowBytes)
                    }
                }
            }
        }
        return RGBImage(width: w, height: h, pixels: out)
    }

    // MARK: headers

    /// Pixel dimensions from the PNG IHDR chunk.
    static func pngDimensions(path: String) -> (Int, Int)? {
        guard let fh = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? fh.close() }
        guard let d = try? fh.read(upToCount: 24), d.count == 24 else { return nil }
        let b = [UInt8](d)
        guard b[12] == 0x49, b[13] == 0x48, b[14] == 0x44, b[15] == 0x52 else { return nil } // "IHDR"
        func be32(_ o: Int) -> Int { Int(b[o]) << 24 | Int(b[o + 1]) << 16 | Int(b[o + 2]) << 8 | Int(b[o + 3]) }
        return (be32(16), be32(20))
    }

    /// Pixel dimensions from the first JPEG start-of-frame marker.
    static func jpegDimensions(path: String) -> (Int, Int)? {
        guard let fh = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? fh.close() }
        func bytes(_ n: Int) -> [UInt8]? {
            guard let d = try? fh.read(upToCount: n), d.count == n else { return nil }
            return [UInt8](d)
        }
        guard let soi = bytes(2), soi == [0xFF, 0xD8] else { return nil }
        while true {
            guard var m = bytes(2), m[0] == 0xFF else { return nil }
            while m[1] == 0xFF { guard let n = bytes(1) else { return nil }; m[1] = n[0] }
            let marker = m[1]
            if marker == 0x01 || (0xD0...0xD7).contains(marker) { continue }
            guard let lenBytes = bytes(2) else { return nil }
            let len = Int(lenBytes[0]) << 8 | Int(lenBytes[1])
            guard len >= 2 else { return nil }
            if (0xC0...0xCF).contains(marker) && marker != 0xC4 && marker != 0xC8 && marker != 0xCC {
                guard let sof = bytes(5) else { return nil }
                return (Int(sof[3]) << 8 | Int(sof[4]), Int(sof[1]) << 8 | Int(sof[2]))
            }
            guard let off = try? fh.offset() else { return nil }
            do { try fh.seek(toOffset: off + UInt64(len - 2)) } catch { return nil }
        }
    }
}
