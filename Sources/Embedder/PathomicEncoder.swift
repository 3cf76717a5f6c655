import Foundation
import ImageCore

/// `pathomic-v1`: the built-in, weight-free encoder. Each 224-px patch at 0.5 µm/px becomes a
/// fixed vector of hand-made pathomic features — tissue fraction, colour, haematoxylin and eosin
/// optical densities (Ruifrok–Johnston deconvolution), grey-level co-occurrence and uniform LBP
/// texture, and a simple nuclear density. Nothing to download, deterministic, and every number
/// is defined in `docs/pathomic-v1.md` (one line per entry of ``featureNames``).
public final class PathomicEncoder: PatchEncoder {
    public let name = "pathomic-v1"
    public let contract = InputContract(patchPx: 224, mpp: PathomicV1.mpp, resize: "area", mean: [], std: [])

    /// The meaning of each output column, in order (snake_case). A versioned format: columns are
    /// never reordered or redefined; a change makes a new encoder version.
    public let featureNames: [String] = PathomicV1.featureNames
    public var featureDim: Int { featureNames.count }

    public var provenance: [String: String] {
        let a = PathomicV1.nucleusAreaUm2
        return [
            "definition": "docs/pathomic-v1.md",
            "weights": "none (hand-made features)",
            "tissue": "not glass (min(R,G,B) < \(PathomicV1.glassMin)) and not black (max(R,G,B) >= \(PathomicV1.blackMax))",
            "stains": "Ruifrok-Johnston HED matrix of scikit-image rgb2hed; amounts in its units (decadic OD / 6)",
            "grey": "(19595 R + 38470 G + 7471 B + 32768) >> 16",
            "glcm": "\(PathomicV1.glcmLevels) levels (grey >> 3), distances 1 and 3 px, angles 0/45/90/135 deg, symmetric, normed, tissue pairs only; mean and range over angles",
            "lbp": "uniform, P=8, R=1 (scikit-image), histogram over tissue",
            "nuclei": "H > \(PathomicV1.hematoxylinThreshold) on tissue, 3x3 opening, 8-connected, \(a.lowerBound)-\(a.upperBound) um2 at \(PathomicV1.mpp) um/px",
            "eosin_threshold": "\(PathomicV1.eosinThreshold)",
        ]
    }

    public init() {}

    public func encode(_ pixels: UnsafeBufferPointer<UInt8>, count: Int, into out: UnsafeMutableBufferPointer<Float>) throws {
        let side = contract.patchPx, bytes = side * side * 3, dim = featureDim
        try checkBatch(self, pixels, count: count, out: out)
        guard count > 0, let src = pixels.baseAddress, let dst = out.baseAddress else { return }
        // Contiguous runs of patches per thread, each with its own reused scratch buffers.
        let chunks = min(count, Compute.threads)
        Compute.parallel(chunks) { c in
            let lo = count * c / chunks, hi = count * (c + 1) / chunks
            let ws = PathomicWorkspace(width: side, height: side)
            for p in lo..<hi { ws.describe(src + p * bytes, into: dst + p * dim) }
        }
    }
}

