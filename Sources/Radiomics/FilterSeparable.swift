import Foundation

/// A 1-D kernel as taps of a convolution: y[i] = Σₜ weight[t] · x[i − offset[t]].
/// Odd kernels are centred; an even kernel of length L sits at offsets −L/2 … L/2 − 1, the
/// alignment of the IBSI 2 reference filters and of PyWavelets' stationary transform.
struct Taps: Hashable, Sendable {
    var offsets: [Int]
    var weights: [Double]

    init(offsets: [Int], weights: [Double]) {
        precondition(offsets.count == weights.count && !offsets.isEmpty)
        self.offsets = offsets
        self.weights = weights
    }

    init(centred values: [Double]) {
        let first = -(values.count / 2)
        self.init(offsets: values.indices.map { first + $0 }, weights: values)
    }

    /// The kernel mirrored about its centre (IBSI: the kernel of a rotated filter).
    var flipped: Taps { Taps(offsets: offsets.map { -$0 }, weights: weights) }

    /// The à trous kernel of the next level: holes between the taps.
    func dilated(by factor: Int) -> Taps { Taps(offsets: offsets.map { $0 * factor }, weights: weights) }
}

/// Separable convolution passes over a volume (i fastest), one axis at a time, on all cores.
enum Separable {
    static var workers: Int { max(1, ProcessInfo.processInfo.activeProcessorCount) }

    /// `dst` (= or +=) the convolution of `src` with `taps` along `axis` (0 = i, 1 = j, 2 = k).
    /// `src` and `dst` must not overlap.
    static func pass(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, size: SIMD3<Int>,
                     axis: Int, taps: Taps, padding: PaddingMode, accumulate: Bool = false) {
        let nx = size.x, ny = size.y, nz = size.z
        let rows = ny * nz
        guard rows > 0 && nx > 0 else { return }
        let weights = taps.weights.map(Float.init)
        let offsets = taps.offsets
        let jobs = min(rows, workers * 8)
        DispatchQueue.concurrentPerform(iterations: jobs) { job in
            let r0 = job * rows / jobs, r1 = (job + 1) * rows / jobs
            if axis == 0 {
                lineJob(src, dst, nx: nx, rows: r0..<r1, offsets: offsets, weights: weights, padding: padding, accumulate: accumulate)
            } else {
                rowJob(src, dst, nx: nx, ny: ny, nz: nz, axis: axis, rows: r0..<r1, offsets: offsets, weights: weights,
                       padding: padding, accumulate: accumulate)
            }
        }
    }

    /// Along i: each line is copied once into a padded buffer, then each tap is a shifted
    /// multiply-add over the contiguous line.
    private static func lineJob(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, nx: Int, rows: Range<Int>,
                                offsets: [Int], weights: [Float], padding: PaddingMode, accumulate: Bool) {
        let maxO = offsets.max()!, minO = offsets.min()!
        let length = nx + maxO - minO
        let buffer = UnsafeMutablePointer<Float>.allocate(capacity: length)
        defer { buffer.deallocate() }
        for r in rows {
            let line = src + r * nx
            for q in 0..<length {
                if let s = padding.source(q - maxO, nx) { buffer[q] = line[s] } else { buffer[q] = 0 }
            }
            let out = dst + r * nx
            if !accumulate { out.update(repeating: 0, count: nx) }
            var t = 0
            while t + 4 <= offsets.count {
                let s0 = UnsafePointer(buffer + (maxO - offsets[t])), s1 = UnsafePointer(buffer + (maxO - offsets[t + 1]))
                let s2 = UnsafePointer(buffer + (maxO - offsets[t + 2])), s3 = UnsafePointer(buffer + (maxO - offsets[t + 3]))
                let w0 = weights[t], w1 = weights[t + 1], w2 = weights[t + 2], w3 = weights[t + 3]
                for i in 0..<nx { out[i] += w0 * s0[i] + w1 * s1[i] + w2 * s2[i] + w3 * s3[i] }
                t += 4
            }
            while t < offsets.count {
                let w = weights[t]
                let shifted = UnsafePointer(buffer + (maxO - offsets[t]))
                for i in 0..<nx { out[i] += w * shifted[i] }
                t += 1
            }
        }
    }

    /// Along j or k: an output row is a weighted sum of whole source rows, which keeps the
    /// inner loop contiguous.
    private static func rowJob(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, nx: Int, ny: Int, nz: Int,
                               axis: Int, rows: Range<Int>, offsets: [Int], weights: [Float], padding: PaddingMode, accumulate: Bool) {
        var sources: [UnsafePointer<Float>] = []
        var ws: [Float] = []
        sources.reserveCapacity(offsets.count)
        ws.reserveCapacity(offsets.count)
        for r in rows {
            let j = r % ny, k = r / ny
            let out = dst + r * nx
            if !accumulate { out.update(repeating: 0, count: nx) }
            sources.removeAll(keepingCapacity: true)
            ws.removeAll(keepingCapacity: true)
            for t in offsets.indices {
                let sourceRow: Int
                if axis == 1 {
                    guard let sj = padding.source(j - offsets[t], ny) else { continue }
                    sourceRow = sj + ny * k
                } else {
                    guard let sk = padding.source(k - offsets[t], nz) else { continue }
                    sourceRow = j + ny * sk
                }
                sources.append(src + sourceRow * nx)
                ws.append(weights[t])
            }
            // Four source rows per sweep: a quarter of the read-modify-writes of `out`.
            var t = 0
            while t + 4 <= sources.count {
                let s0 = sources[t], s1 = sources[t + 1], s2 = sources[t + 2], s3 = sources[t + 3]
                let w0 = ws[t], w1 = ws[t + 1], w2 = ws[t + 2], w3 = ws[t + 3]
                for i in 0..<nx { out[i] += w0 * s0[i] + w1 * s1[i] + w2 * s2[i] + w3 * s3[i] }
                t += 4
            }
            while t < sources.count {
                let s = sources[t], w = ws[t]
                for i in 0..<nx { out[i] += w * s[i] }
                t += 1
            }
        }
    }

    /// Runs passes in order and returns the result (the input is left alone).
    static func apply(_ input: [Float], size: SIMD3<Int>, passes: [(axis: Int, taps: Taps)], padding: PaddingMode) -> [Float] {
        guard let first = passes.first else { return input }
        // Every pass writes all of its output, so the buffers need no zeroing.
        var a = [Float](unsafeUninitializedCapacity: input.count) { d, n in
            input.withUnsafeBufferPointer { s in
                pass(s.baseAddress!, d.baseAddress!, size: size, axis: first.axis, taps: first.taps, padding: padding)
            }
            n = input.count
        }
        guard passes.count > 1 else { return a }
        var b = [Float](unsafeUninitializedCapacity: input.count) { _, n in n = input.count }
        for p in passes.dropFirst() {
            a.withUnsafeBufferPointer { s in
                b.withUnsafeMutableBufferPointer { d in
                    pass(s.baseAddress!, d.baseAddress!, size: size, axis: p.axis, taps: p.taps, padding: padding)
                }
            }
            swap(&a, &b)
        }
        return a
    }

    /// `into` += the pass of `input`.
    static func accumulate(_ input: [Float], into output: inout [Float], size: SIMD3<Int>, axis: Int, taps: Taps, padding: PaddingMode) {
        input.withUnsafeBufferPointer { s in
            output.withUnsafeMutableBufferPointer { d in
                pass(s.baseAddress!, d.baseAddress!, size: size, axis: axis, taps: taps, padding: padding, accumulate: true)
            }
        }
    }
}

/// A rotation of the voxel grid by right angles: the kernel of filter axis a goes to grid
/// axis `axes[a]`, mirrored where `flips[a]`. Proper rotations only (determinant +1): 24 in
/// 3-D, 4 in a plane — the set IBSI 2 pools over for rotation invariance.
struct RightAngleRotation: Hashable, Sendable {
    let axes: [Int]
    let flips: [Bool]

    static func all(dimensions n: Int) -> [RightAngleRotation] {
        var out: [RightAngleRotation] = []
        for perm in permutations(Array(0..<n)) {
            let parity = inversions(perm) % 2 == 0 ? 1 : -1
            for mask in 0..<(1 << n) {
                let flips = (0..<n).map { mask & (1 << $0) != 0 }
                let sign = flips.filter { $0 }.count % 2 == 0 ? 1 : -1
                if parity * sign == 1 { out.append(RightAngleRotation(axes: perm, flips: flips)) }
            }
        }
        return out
    }

    /// The separable kernel set rotated: grid axis → taps.
    func rotate(_ kernels: [Taps]) -> [Int: Taps] {
        var out: [Int: Taps] = [:]
        for (a, t) in kernels.enumerated() { out[axes[a]] = flips[a] ? t.flipped : t }
        return out
    }

    private static func permutations(_ a: [Int]) -> [[Int]] {
        guard a.count > 1 else { return [a] }
        return a.indices.flatMap { i -> [[Int]] in
            var rest = a
            let head = rest.remove(at: i)
            return permutations(rest).map { [head] + $0 }
        }
    }

    private static func inversions(_ p: [Int]) -> Int {
        var n = 0
        for i in p.indices { for j in (i + 1)..<p.count where p[i] > p[j] { n += 1 } }
        return n
    }
}

/// Combines response maps voxel by voxel (rotation or orientation pooling).
struct Pooler {
    let pooling: RotationPooling
    private(set) var result: [Float] = []
    private(set) var count = 0

    init(_ pooling: RotationPooling) { self.pooling = pooling }

    mutating func add(_ map: [Float]) {
        count += 1
        if result.isEmpty { result = map; return }
        result.withUnsafeMutableBufferPointer { r in
            map.withUnsafeBufferPointer { m in
                switch pooling {
                case .max: for i in r.indices { r[i] = Swift.max(r[i], m[i]) }
                case .min: for i in r.indices { r[i] = Swift.min(r[i], m[i]) }
                case .average: for i in r.indices { r[i] += m[i] }
                }
            }
        }
    }

    func finish() -> [Float] {
        guard pooling == .average && count > 1 else { return result }
        let s = 1 / Float(count)
        return result.map { $0 * s }
    }
}
