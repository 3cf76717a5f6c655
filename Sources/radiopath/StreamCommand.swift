import ArgumentParser
import Foundation
import PatchBag
import SlideIO

struct StreamCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stream",
        abstract: "Read every patch of patch bags as embed would, and report the throughput.",
        discussion: """
        A diagnostic: decodes each bag's patches from its slide (the path recorded
        in the bag, or --slides-dir) in bag order and batches, touches every
        pixel, and reports patches/s, MP/s and which reader served it (the direct
        TIFF/JPEG path or OpenSlide). Use it to see whether storage and decoding
        can feed an embedding job, and to compare --workers settings.
        """)

    @Argument(help: "Patch bags (.h5) written by `radiopath tile`.")
    var bags: [String]

    @Option(name: .customLong("slides-dir"), help: "Folder holding the slides, when they moved since tiling.")
    var slidesDir: String?

    @Option(help: "Decode threads (default: number of cores).")
    var workers = ProcessInfo.processInfo.activeProcessorCount

    @Option(name: .customLong("batch-size"), help: "Patches per batch.")
    var batchSize = 64

    @Option(name: .customLong("bad-tiles"), help: "A corrupt tile: fail, fill (white) or skip its patches.")
    var badTiles: BadTilePolicy = .fail

    @Flag(inversion: .prefixedNo, help: "Sum every byte delivered, as a consumer touching the pixels would (--no-checksum measures the reader alone).")
    var checksum = true

    @Flag(help: "Print one JSON record per bag on standard output.")
    var json = false

    struct Record: Encodable {
        let bag: String, slide: String, patches: Int, patchSize: Int, seconds: Double
        let patchesPerSecond: Double, megapixelsPerSecond: Double, checksum: UInt64?
        let report: PatchStreamReport
    }

    /// Sum of all bytes (touches every pixel, as a consumer would) at memory speed: eight bytes
    /// per step, added in 16-bit lanes that are folded before they can overflow, so the
    /// consumer thread does not compete with the decoders for the cores.
    static func byteSum(_ bytes: UnsafeBufferPointer<UInt8>) -> UInt64 {
        guard let base = bytes.baseAddress else { return 0 }
        let words = bytes.count / 8
        var total: UInt64 = 0
        let raw = UnsafeRawPointer(base)
        var w = 0
        while w < words {
            let end = min(words, w + 128) // 128 × 2 × 255 fits a 16-bit lane
            var lanes: UInt64 = 0
            while w < end {
                let v = raw.loadUnaligned(fromByteOffset: w * 8, as: UInt64.self)
                lanes &+= (v & 0x00FF_00FF_00FF_00FF) &+ ((v >> 8) & 0x00FF_00FF_00FF_00FF)
                w += 1
            }
            total &+= (lanes & 0xFFFF) &+ ((lanes >> 16) & 0xFFFF) &+ ((lanes >> 32) & 0xFFFF) &+ (lanes >> 48)
        }
        for i in (words * 8)..<bytes.count { total &+= UInt64(bytes[i]) }
        return total
    }

    func validate() throws {
        guard workers >= 1 else { throw ValidationError("--workers must be at least 1") }
        guard batchSize >= 1 else { throw ValidationError("--batch-size must be at least 1") }
    }

    func run() throws {
        var records: [Record] = []
        var failed = 0
        for bagPath in bags {
            do {
                let bag = try PatchBag.read(path: bagPath)
                guard case .string(var slidePath)? = bag.fileAttributes["slide_path"] else {
                    throw ValidationError("\(bagPath): no slide_path attribute; is it a RadioPath patch bag?")
                }
                if let dir = slidesDir { slidePath = dir + "/" + URL(fileURLWithPath: slidePath).lastPathComponent }
                guard case .int(let level)? = bag.coordsAttributes["patch_level"],
                      case .int(let readSize)? = bag.coordsAttributes["patch_size"] else {
                    throw ValidationError("\(bagPath): coords has no patch_level/patch_size attributes")
                }
                var outputSize = Int(readSize)
                if case .int(let t)? = bag.coordsAttributes["target_patch_size"] { outputSize = Int(t) }
                let slide = try Slide.open(path: slidePath)
                let request = PatchRequest(coords: bag.coords, level: Int(level), readSize: Int(readSize), outputSize: outputSize)
                let stream = try PatchStream(slide: slide, request: request, batchSize: batchSize, workers: workers, badTiles: badTiles)
                var sum: UInt64 = 0
                let touch = checksum
                let start = DispatchTime.now().uptimeNanoseconds
                let report = try stream.run { batch in if touch { sum &+= Self.byteSum(batch.pixels) } }
                let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
                let rate = Double(report.patches) / max(seconds, 1e-9)
                let r = Record(bag: bagPath, slide: slidePath, patches: report.patches, patchSize: outputSize, seconds: seconds,
                               patchesPerSecond: rate, megapixelsPerSecond: rate * Double(outputSize * outputSize) / 1e6,
                               checksum: checksum ? sum : nil, report: report)
                records.append(r)
                let how = report.fastPath ? "direct TIFF/JPEG reader" : "OpenSlide (\(report.note ?? "general path"))"
                FileHandle.standardError.write(Data(String(format: "✓ %@: %d patches of %d px in %.2f s = %.0f patches/s (%.0f MP/s) via %@\n",
                    URL(fileURLWithPath: bagPath).lastPathComponent, report.patches, outputSize, seconds, rate,
                    r.megapixelsPerSecond, how).utf8))
            } catch {
                failed += 1
                FileHandle.standardError.write(Data("✗ \(bagPath): \(error)\n".utf8))
            }
        }
        if json {
            let e = JSONEncoder()
            e.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            print(String(decoding: try e.encode(records), as: UTF8.self))
        }
        if failed > 0 { throw ExitCode(1) }
    }
}
