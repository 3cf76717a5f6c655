import Foundation
import ImageCore

/// Finds files shipped in the package's `Atlases/` folder (colormaps, later region atlases
/// and stain references), the way `PresetLibrary` finds `Tiling/`.
public enum AtlasLibrary {
    /// Folders searched in order: `$RADIOPATH_ATLASES`, `Atlases/` and
    /// `share/radiopath/Atlases/` beside the executable and up to four folders above it,
    /// the source tree's `Atlases/` (tests, `swift run`), then `./Atlases`.
    public static func searchFolders(executablePath: String = CommandLine.arguments.first ?? "") -> [String] {
        PackageResources.folders("Atlases", environment: "RADIOPATH_ATLASES", executablePath: executablePath)
    }

    /// The first existing `<folder>/<relative>` over `searchFolders()`, or nil.
    public static func find(_ relative: String) -> String? {
        searchFolders().map { "\($0)/\(relative)" }.first { FileManager.default.fileExists(atPath: $0) }
    }
}
