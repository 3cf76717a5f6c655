import CTIFF
import Foundation

/// libtiff reports problems through process-wide handlers that print to stderr. This
/// installs handlers that keep the last message per thread instead, so callers can put
/// it into an error that names the file.
public enum TIFFMessages {
    private static let installOnce: Void = {
        TIFFSetWarningHandler(nil)
        TIFFSetErrorHandler { module, fmt, args in
            guard let fmt, let args else { return }
            var buf = [CChar](repeating: 0, count: 512)
            _ = vsnprintf(&buf, buf.count, fmt, args)
            let text = String(cString: buf)
            let prefix = module.map { String(cString: $0) + ": " } ?? ""
            Thread.current.threadDictionary["radiopath.tiff.error"] = prefix + text
        }
    }()

    /// Call before using libtiff.
    public static func install() { _ = installOnce }

    /// The last libtiff error on this thread, cleared on read.
    public static func takeLast() -> String? {
        let m = Thread.current.threadDictionary["radiopath.tiff.error"] as? String
        Thread.current.threadDictionary.removeObject(forKey: "radiopath.tiff.error")
        return m
    }
}
