import Archive
import Embedder
import Foundation
import PatchBag
import SlideIO

/// What to do with patches whose size differs from the encoder's input contract.
public enum SizeMismatchPolicy: String, Sendable, CaseIterable {
    /// Shrink them to the contract's size (area averaging) and say so in a warning.
    case resize
    /// Fail the slide: the bag was tiled for another encoder.
    case refuse
}

/// One slide's embedding: its patch bag in, its features bag out.
public struct EmbedRequest: Sendable {
    public var bagPath: String
    public var slideID: String
    /// Where `features_<encoder>/<slideID>.h5` goes.
    public var outputPath: String
    /// Folder to find the slide in when it moved since tiling (or the bag does not name it,
    /// as CLAM's bags do not): tried by the recorded file name, then `<slideID>.<ext>`.
    public var slidesDir: String?
    public var batchSize = 32
    /// Decode threads of the patch reader (the encoder uses `Compute.threads`).
    public var decodeWorkers = 1
    public var sizeMismatch: SizeMismatchPolicy = .resize
    public var badTiles: BadTilePolicy = .fail
    public var force = false
    public var toolVersion: String
    /// The command line, recorded in the output.
    public var command: String

    public init(bagPath: String, slideID: String, outputPath: String, toolVersion: String, command: String) {
        self.bagPath = bagPath; self.slideID = slideID; self.outputPath = outputPath
        self.toolVersion = toolVersion; self.command = command
    }
}

public struct EmbedResult: Codable, Sendable {
    public enum Status: String, Codable, Sendable { case done, skipped, failed }
    public var slideID: String
    public var bag: String
    public var slide: String?
    public var output: String
    public var status: Status
    public var patches = 0
    /// Patches left out by `--bad-tiles skip`.
    public var skippedPatches = 0
    public var featureDim = 0
    public var seconds = 0.0
    /// True when the direct TIFF/JPEG reader served the patches.
    public var fastPath: Bool?
    public var warnings: [String] = []
    public var error: String?
    public var hint: String?

    public init(slideID: String, bag: String, slide: String? = nil, output: String, status: Status,
                error: String? = nil, hint: String? = nil) {
        self.slideID = slideID; self.bag = bag; self.slide = slide; self.output = output; self.status = status
        self.error = error; self.hint = hint
    }
}

/// Embeds one slide: reads its bag, finds and checks the slide (quickhash), streams its
/// patches in bag order (`PatchStream`), encodes them batch by batch and appends each batch to
/// the features bag (`FeatureBagWriter`), so memory is bounded by the batch, never the slide.
/// The output appears atomically when complete; a failure leaves nothing behind.
public enum EmbedJob {
    struct Failure: Error { let what: String; let hint: String }

    public static func run(_ req: EmbedRequest, encoder: PatchEncoder, progress: (Int) -> Void = { _ in }) -> EmbedResult {
        let started = DispatchTime.now().uptimeNanoseconds
        var result = EmbedResult(slideID: req.slideID, bag: req.bagPath, output: req.outputPath, status: .done)
        result.featureDim = encoder.featureDim
        if !req.force && PatchBag.isComplete(path: req.outputPath) {
            result.status = .skipped
            return result
        }
        do {
            try embed(req, encoder: encoder, result: &result, progress: progress)
        } catch let f as Failure {
            result.status = .failed; result.error = f.what; result.hint = f.hint
        } catch let e as EmbedderError {
            result.status = .failed; result.error = e.what; result.hint = e.hint.isEmpty ? nil : e.hint
        } catch let e as SlideError {
            result.status = .failed; result.error = e.description
        } catch let e as PatchBagError {
            result.status = .failed; result.error = "\(e.path): \(e.what)" + (e.reason.map { " (\($0))" } ?? ""); result.hint = e.hint
        } catch {
            result.status = .failed; result.error = "\(error)"
        }
        result.seconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
        return result
    }

    private static func embed(_ req: EmbedRequest, encoder: PatchEncoder, result: inout EmbedResult, progress: (Int) -> Void) throws {
        let bag = try PatchBag.read(path: req.bagPath)
        guard case .int(let level)? = bag.coordsAttributes["patch_level"],
              case .int(let readSize)? = bag.coordsAttributes["patch_size"] else {
            throw Failure(what: "\(req.bagPath): coords has no patch_level/patch_size attributes",
                          hint: "embed reads bags written by radiopath tile or CLAM's create_patches_fp.py")
        }
        let slidePath = try locateSlide(req, bag: bag)
        result.slide = slidePath
        let slide = try Slide.open(path: slidePath)
        if case .string(let recorded)? = bag.fileAttributes["slide_quickhash"], !recorded.isEmpty {
            guard recorded == slide.quickHash else {
                throw Failure(what: "\(slidePath) changed since it was tiled (quickhash \(slide.quickHash.prefix(16))…, the bag recorded \(recorded.prefix(16))…)",
                              hint: "re-run radiopath tile on this slide, or point --slides-dir at the file that was tiled")
            }
        } else {
            result.warnings.append("the bag records no slide quickhash (not a RadioPath bag?): the slide could not be verified")
        }

        // The bag's patch side at its target scale (`target_patch_size`, or the read size for
        // CLAM's bags) must be the encoder's; reading larger and shrinking to it is the
        // tiler's own scale step, not a mismatch.
        let want = encoder.contract.patchPx
        var bagPatch = Int(readSize)
        if case .int(let t)? = bag.coordsAttributes["target_patch_size"], t > 0 { bagPatch = Int(t) }
        if bagPatch != want {
            guard bagPatch > want else {
                throw Failure(what: "patches are \(bagPatch) px, smaller than \(encoder.name)'s \(want) px",
                              hint: "re-tile with --patch-size \(want)" + (encoder.contract.mpp.map { " --target-mpp \($0)" } ?? ""))
            }
            guard req.sizeMismatch == .resize else {
                throw Failure(what: "patches are \(bagPatch) px; \(encoder.name) takes \(want) px",
                              hint: "re-tile with --patch-size \(want), or pass --size-mismatch resize")
            }
            result.warnings.append("patches of \(bagPatch) px resized to \(want) px (area averaging) for \(encoder.name)")
        }
        let outputSize = want
        guard Int(readSize) >= outputSize else {
            throw Failure(what: "the bag reads \(readSize)-px regions at level \(level), smaller than the \(want) px \(encoder.name) needs",
                          hint: "re-tile with --patch-size \(want) at a finer level")
        }
        if let want = encoder.contract.mpp, let mpp = slide.scale?.mpp, slide.levels.indices.contains(Int(level)) {
            let have = mpp * slide.levels[Int(level)].downsample * Double(readSize) / Double(outputSize)
            if abs(have / want - 1) > 0.15 {
                result.warnings.append(String(format: "patches are at %.3f µm/px; %@ expects %.3f µm/px", have, encoder.name, want))
            }
        }

        let request = PatchRequest(coords: bag.coords, level: Int(level), readSize: Int(readSize), outputSize: outputSize)
        let stream = try PatchStream(slide: slide, request: request, batchSize: req.batchSize,
                                     workers: req.decodeWorkers, badTiles: req.badTiles)
        let writer = try FeatureBagWriter(path: req.outputPath, featureDim: encoder.featureDim,
                                          coordsAttributes: bag.coordsAttributes,
                                          expectedCount: bag.count)
        defer { writer.abandon() }   // no-op after finish
        var features = [Float](repeating: 0, count: req.batchSize * encoder.featureDim)
        let report = try stream.run { batch in
            try features.withUnsafeMutableBufferPointer { out in
                try encoder.encode(batch.pixels, count: batch.count, into: out)
                try checkFinite(out, rows: batch.count, dim: encoder.featureDim, batch: batch, req: req, encoder: encoder)
                let rows = UnsafeBufferPointer(rebasing: out[0..<(batch.count * encoder.featureDim)])
                try writer.append(coords: batch.coords, features: rows, count: batch.count)
            }
            progress(batch.count)
        }
        result.patches = report.patches
        result.skippedPatches = report.skipped
        result.fastPath = report.fastPath
        if report.filled > 0 { result.warnings.append("\(report.filled) patches had unreadable tiles painted white (--bad-tiles fill)") }
        if report.skipped > 0 { result.warnings.append("\(report.skipped) patches with unreadable tiles left out (--bad-tiles skip)") }
        try writer.finish(fileAttributes: provenance(req, bag: bag, slidePath: slidePath, encoder: encoder, outputSize: outputSize),
                          allowFewer: report.skipped > 0)
    }

    /// NaN or Inf never reaches a features file: the slide fails, naming the first bad patch.
    private static func checkFinite(_ out: UnsafeMutableBufferPointer<Float>, rows: Int, dim: Int, batch: PatchBatch,
                                    req: EmbedRequest, encoder: PatchEncoder) throws {
        for r in 0..<rows {
            for j in 0..<dim where !out[r * dim + j].isFinite {
                throw Failure(what: "\(encoder.name) produced \(out[r * dim + j]) for patch \(batch.indices[r]) at (\(batch.coords[2 * r]), \(batch.coords[2 * r + 1])); nothing was written",
                              hint: "check the weight file (NaN/Inf or overflowing weights) and the patch; other slides go on")
            }
        }
    }

    private static func locateSlide(_ req: EmbedRequest, bag: PatchBagContents) throws -> String {
        var recorded: String?
        if case .string(let p)? = bag.fileAttributes["slide_path"] { recorded = p }
        var candidates: [String] = []
        if let dir = req.slidesDir {
            if let r = recorded { candidates.append(dir + "/" + URL(fileURLWithPath: r).lastPathComponent) }
            candidates += SlideInputs.slideExtensions.sorted().map { "\(dir)/\(req.slideID).\($0)" }
        } else if let r = recorded {
            candidates.append(r)
        }
        if let found = candidates.first(where: { FileManager.default.fileExists(atPath: $0) }) { return found }
        throw Failure(what: recorded.map { "slide \($0) not found" + (req.slidesDir.map { " (nor in \($0))" } ?? "") }
                          ?? "the bag does not name its slide and no \(req.slideID).* is in --slides-dir",
                      hint: "pass --slides-dir with the folder that holds the slide")
    }

    private static func provenance(_ req: EmbedRequest, bag: PatchBagContents, slidePath: String, encoder: PatchEncoder,
                                   outputSize: Int) throws -> [String: HDF5Value] {
        var a = bag.fileAttributes   // the tiling provenance travels on
        let contract = String(decoding: try JSONEncoder().encode(encoder.contract), as: UTF8.self)
        a["radiopath_version"] = .string(req.toolVersion)
        a["radiopath_command"] = .string("embed")
        a["embed_command_line"] = .string(req.command)
        a["encoder"] = .string(encoder.name)
        a["encoder_feature_dim"] = .int(Int64(encoder.featureDim))
        a["encoder_input_contract"] = .string(contract)
        a["encoder_patch_px"] = .int(Int64(outputSize))
        for (k, v) in encoder.provenance where k != "encoder" { a["encoder_" + k] = .string(v) }
        a["patch_bag"] = .string(req.bagPath)
        a["slide_path"] = .string(slidePath)
        return a
    }
}
