// TEMPORARY until the pathomic-v1 branch merges; deleted then.
final class PathomicEncoder: PatchEncoder {
    static let featureNames = ["x"]
    let name = "pathomic-v1"; let featureDim = 1
    let contract = InputContract(patchPx: 224, mpp: 0.5, resize: "area", mean: [], std: [])
    let provenance: [String: String] = [:]
    func encode(_ pixels: UnsafeBufferPointer<UInt8>, count: Int, into out: UnsafeMutableBufferPointer<Float>) throws { fatalError() }
}
