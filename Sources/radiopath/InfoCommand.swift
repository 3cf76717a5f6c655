import ArgumentParser
import Foundation
import SlideIO

struct InfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info",
        abstract: "Show what a slide holds: format, pyramid levels, scale (µm/px) and where it came from.",
        discussion: """
        The scale is taken, in order, from: --slide-mpp; OpenSlide's
        openslide.mpp-x/y; vendor properties; the TIFF XResolution and
        ResolutionUnit tags; the objective power (an estimate, flagged). A slide
        with none of these is reported without a scale.
        Exit status: 0 when every slide opened, 1 otherwise.
        """)

    @Argument(help: "Slide files (anything OpenSlide opens, or plain TIFF/PNG/JPEG images).")
    var slides: [String]

    @Option(name: .customLong("slide-mpp"), help: "Scale to assume for every slide, in µm/px.")
    var slideMPP: Double?

    @Flag(help: "Print JSON (one array of slide records) instead of text.")
    var json = false

    @Flag(help: "List every property (text output).")
    var properties = false

    func run() throws {
        var infos: [SlideInfo] = []
        var failures: [[String: String]] = []
        for path in slides {
            do {
                let slide = try Slide.open(path: path, mppOverride: slideMPP)
                let info = slide.info()
                infos.append(info)
                if !json { print(describe(slide, info: info)) }
            } catch let e as SlideError {
                failures.append(["path": path, "error": e.reason, "hint": e.hint])
                if !json { FileHandle.standardError.write(Data("✗ \(path): \(e.reason)\n  → \(e.hint)\n".utf8)) }
            }
        }
        if json {
            let enc = JSONEncoder()
            enc.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            struct Out: Encodable { let slides: [SlideInfo]; let failures: [[String: String]] }
            print(String(decoding: try enc.encode(Out(slides: infos, failures: failures)), as: UTF8.self))
        }
        if !failures.isEmpty { throw ExitCode(1) }
    }

    func describe(_ slide: Slide, info: SlideInfo) -> String {
        var lines: [String] = []
        lines.append("\(slide.path)")
        lines.append("  format        \(slide.format)")
        lines.append("  dimensions    \(slide.width) × \(slide.height) px (level 0)")
        if let s = slide.scale {
            let est = s.isEstimate ? "  (ESTIMATE — give --slide-mpp if wrong)" : ""
            lines.append(String(format: "  scale         %.4f × %.4f µm/px from %@ (%@)%@", s.mppX, s.mppY, s.source.rawValue, s.detail, est))
            lines.append(String(format: "  size          %.2f × %.2f mm", Double(slide.width) * s.mppX / 1000, Double(slide.height) * s.mppY / 1000))
        } else {
            lines.append("  scale         none found — tile needs --slide-mpp or --mpp-csv")
        }
        if let p = slide.objectivePower { lines.append("  objective     \(p.formatted())x") }
        lines.append("  levels        \(slide.levels.count)")
        for l in slide.levels {
            lines.append(String(format: "    %2d  %8d × %-8d  downsample %.3f", l.index, l.width, l.height, l.downsample))
        }
        let assoc = slide.associatedImageNames
        lines.append("  associated    \(assoc.isEmpty ? "none" : assoc.joined(separator: ", "))")
        lines.append("  quickhash     \(slide.quickHash)")
        if properties {
            lines.append("  properties")
            for k in slide.properties.keys.sorted() { lines.append("    \(k) = \(slide.properties[k]!)") }
        } else {
            lines.append("  properties    \(slide.properties.count) (--properties lists them)")
        }
        return lines.joined(separator: "\n")
    }
}
