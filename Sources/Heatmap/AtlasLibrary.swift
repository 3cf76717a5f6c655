import Foundation

/// Finds files shipped in the package's `Atlases/` folder (colormaps, later region atlases
/// and stain references), the way `PresetLibrary` finds `Tiling/`.
public enum AtlasLibrary {
    /// Folders searched in order: `$RADIOPATH_ATLASES`, `Atlases/` and
    /// `share/radiopath/Atlases/` beside the executable and up to four folders above it,
    /// the source tree's `Atlases/` (tests, `swift run`), then `./Atlases`.
    public static func searchFolders(executablePath: String = CommandLine.arguments.first ?? "") -> [String] {
        var dirs: [String] = []
        if let env = ProcessInfo.processInfo.environment["RADIOPATH_ATLASES"], !env.isEmpty { dirs.append(env) }
        var url = URL(fileURLWithPath: executablePath).resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<5 {
            dirs.append(url.appendingPathComponent("Atlases").path)
            dirs.append(url.appendingPathComponent("share/radiopath/Atlases").path)
            url.deleteLastPathComponent()
        }
        let source = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        dirs.append(source.appendingPathComponent("Atlases").path)
        dirs.append(FileManager.default.currentDirectoryPath + "/Atlases")
        return dirs
    }

    /// The first existing `<folder>/<relative>` over `searchFolders()`, or nil.
    public static func find(_ relative: String) -> String? {
        searchFolders().map { "\($0)/\(relative)" }.first { FileManager.default.fileExists(atPath: $0) }
    }
}
