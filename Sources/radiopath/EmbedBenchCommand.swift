import ArgumentParser
import Embedder
import Foundation

/// `radiopath embed bench`: encoder throughput on synthetic patches, with the sgemm peak
/// of the same machine and thread count, so figures compare across runs as ratios.
struct EmbedBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure an encoder's patches/s and GFLOP/s against the sgemm peak.",
        discussion: """
        Runs the encoder on seeded random patches (content does not change the
        cost), after one warm-up batch, and measures cblas_sgemm's best rate at
        the same thread count. `make bench` runs it beside PyTorch.
        """)

    @Option(help: "Encoder name (radiopath embed list).")
    var encoder = "resnet50-trunc"

    @Option(help: "Weight file (.safetensors) for encoders that need one.")
    var weights: String?

    @Option(help: "ViT pooling: token (CLS) or avg.")
    var pool: String?

    @Option(name: .customLong("batch-size"), help: "Patches per batch.")
    var batchSize = 32

    @Option(help: "Patches to time (after one warm-up batch).")
    var patches = 256

    @Option(help: "Threads for BLAS and element-wise work.")
    var threads = ProcessInfo.processInfo.activeProcessorCount

    @Flag(help: "Print one JSON object on standard output.")
    var json = false

    struct Result: Encodable {
        let encoder: String, threads: Int, batch_size: Int, patches: Int, seconds: Double
        let patches_per_second: Double, gflop_per_patch: Double?, achieved_gflops: Double?, sgemm_peak_gflops: Double
        let blas_core: String
    }

    func run() throws {
        Compute.setThreads(threads)
        let options = EncoderOptions(pool: pool.flatMap(ViTConfig.Pool.init(rawValue:)))
        let enc = try EncoderRegistry.make(encoder, weights: weights, options: options)
        let side = enc.contract.patchPx
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        let pixels = (0..<(batchSize * side * side * 3)).map { _ -> UInt8 in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return UInt8(truncatingIfNeeded: state >> 56)
        }
        var out = [Float](repeating: 0, count: batchSize * enc.featureDim)
        func batch() throws {
            try pixels.withUnsafeBufferPointer { p in try out.withUnsafeMutableBufferPointer { o in
                try enc.encode(p, count: batchSize, into: o)
            } }
        }
        try batch()   // warm-up: buffers grow, BLAS threads start
        let batches = max(1, (patches + batchSize - 1) / batchSize)
        let t0 = DispatchTime.now().uptimeNanoseconds
        for _ in 0..<batches { try batch() }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
        let done = batches * batchSize
        let rate = Double(done) / seconds
        let gflop = (enc as? CountsMACs).map { 2 * Double($0.macsPerPatch) / 1e9 }
        let peak = Compute.measureSGEMMPeak()
        let r = Result(encoder: encoder, threads: threads, batch_size: batchSize, patches: done, seconds: seconds,
                       patches_per_second: rate, gflop_per_patch: gflop, achieved_gflops: gflop.map { $0 * rate },
                       sgemm_peak_gflops: peak, blas_core: Compute.blasCore)
        if json {
            let e = JSONEncoder()
            e.outputFormatting = [.sortedKeys]
            print(String(decoding: try e.encode(r), as: UTF8.self))
        } else {
            print(String(format: "%@: %d patches in %.2f s = %.1f patches/s on %d threads (OpenBLAS %@ kernels)", encoder, done,
                         seconds, rate, threads, Compute.blasCore))
            if let g = r.achieved_gflops, let f = gflop {
                print(String(format: "%.2f GFLOP/patch → %.0f GFLOP/s = %.0f%% of the sgemm peak (%.0f GFLOP/s)", f, g, 100 * g / peak, peak))
            }
        }
    }
}
