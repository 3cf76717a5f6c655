import Foundation

/// Where the package's data folders (`Tiling/`, `Atlases/`) are found at run time.
public enum PackageResources {
    /// Folders searched in order: `$<environment>`, `<name>/` and `share/radiopath/<name>/`
    /// beside the executable and up to four folders above it, the source tree's `<name>/`
    /// (tests, `swift run`), then `./<name>`.
    public static func folders(_ name: String, environment: String,
                               executablePath: String = CommandLine.arguments.first ?? "") -> [String] {
        var dirs: [String] = []
        if let env = ProcessInfo.processInfo.environment[environment], !env.isEmpty { dirs.append(env) }
        var url = URL(fileURLWithPath: executablePath).resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<5 {
            dirs.append(url.appendingPathComponent(name).path)
            dirs.append(url.appendingPathComponent("share/radiopath/\(name)").path)
            url.deleteLastPathComponent()
        }
        // This file is <root>/Sources/ImageCore/PackageResources.swift.
        let source = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        dirs.append(source.appendingPathComponent(name).path)
        dirs.append(FileManager.default.currentDirectoryPath + "/" + name)
        return dirs
    }
}
