import Foundation
import ImageCore

/// The parameters in pixels of the analysis scale, plus the resolved stains and threshold.
struct PixelSettings: Sendable {
    var mpp: Double
    var stains: StainMatrix?          // nil: single channel
    var kernel: [Float]
    var backgroundRadius: Int
    var threshold: Float
    var localThreshold: Float
    var localRadius: Int
    var minArea: Int, maxArea: Int
    var depth: Double, minSeparation: Double
    var fillHoles: Bool
    var glcmLevels: Int
    var glcmScale: Float              // signal × scale = grey level (before clipping)

    init(_ p: NucleiParameters, mpp: Double, stains: StainMatrix?, threshold: Double) {
        self.mpp = mpp
        self.stains = stains
        kernel = PlaneFilters.gaussianKernel(sigma: p.sigma / mpp)
        backgroundRadius = Int((p.backgroundRadius / mpp).rounded())
        self.threshold = Float(threshold)
        localThreshold = Float(p.localThreshold)
        localRadius = p.localThreshold > 0 ? Int((p.localRadius / mpp).rounded()) : 0
        let a = mpp * mpp
        minArea = Int((p.minArea / a).rounded(.up))
        maxArea = Int((p.maxArea / a).rounded(.down))
        depth = p.splitDepth / mpp
        minSeparation = p.minSeparation / mpp
        fillHoles = p.fillHoles
        glcmLevels = p.glcmLevels
        glcmScale = Float(Double(p.glcmLevels) / p.glcmMaximum)
    }

    /// Context (px) a filter needs around a pixel for its value to be that of the whole image.
    var filterReach: Int { kernel.count - 1 + 2 * backgroundRadius + localRadius }
}

/// One worker's segmentation of a window: signal planes, mask, distance transform, watershed
/// labels. Owns all its scratch memory (grown to the largest window seen, then reused).
final class TileSegmenter {
    let settings: PixelSettings
    private(set) var width = 0, height = 0
    private var capacity = 0
    /// Planar stain amounts (H, E, residual) or, for a single channel, the signal in plane 0.
    private(set) var stain = UnsafeMutablePointer<Float>.allocate(capacity: 1)
    /// Smoothed, background-subtracted signal.
    private(set) var signal = UnsafeMutablePointer<Float>.allocate(capacity: 1)
    private var scratch = UnsafeMutablePointer<Float>.allocate(capacity: 1)
    /// w·(h + 2r) floats for the vertical pass of min/max filters.
    private var padded = UnsafeMutablePointer<Float>.allocate(capacity: 1)
    private var paddedCapacity = 0
    private var lineA = UnsafeMutablePointer<Float>.allocate(capacity: 1)
    private var lineB = UnsafeMutablePointer<Float>.allocate(capacity: 1)
    private var mask = UnsafeMutablePointer<UInt8>.allocate(capacity: 1)
    private var sq = UnsafeMutablePointer<Int32>.allocate(capacity: 1)
    private var column = UnsafeMutablePointer<Int32>.allocate(capacity: 1)
    private(set) var labels = UnsafeMutablePointer<Int32>.allocate(capacity: 1)
    private var f = UnsafeMutablePointer<Double>.allocate(capacity: 1)
    private var z = UnsafeMutablePointer<Double>.allocate(capacity: 1)
    private var v = UnsafeMutablePointer<Int32>.allocate(capacity: 1)
    private var lineCapacity = 0
    private let watershed = Watershed()
    /// Per channel and byte value, the byte's contribution to H and to E (Float, from the
    /// stain matrix's own logarithm table): three lookups and two adds per plane and pixel.
    private let tableH: [Float], tableE: [Float]

    init(settings: PixelSettings) {
        self.settings = settings
        var th = [Float](repeating: 0, count: 768), te = th
        if let m = settings.stains {
            for v in 0..<256 {
                let od = log(max(Double(v) * (1.0 / 255.0), 1e-6)) / log(1e-6)
                for c in 0..<3 { th[c * 256 + v] = Float(od * m.inverse[c].x); te[c * 256 + v] = Float(od * m.inverse[c].y) }
            }
        }
        tableH = th; tableE = te
    }

    deinit {
        for p in [stain, signal, scratch, lineA, lineB, padded] { p.deallocate() }
        mask.deallocate(); sq.deallocate(); column.deallocate(); labels.deallocate()
        f.deallocate(); z.deallocate(); v.deallocate()
    }

    private func ensure(_ w: Int, _ h: Int) {
        width = w; height = h
        let n = w * h
        if n > capacity {
            for p in [stain, signal, scratch] { p.deallocate() }
            mask.deallocate(); sq.deallocate(); column.deallocate(); labels.deallocate()
            stain = .allocate(capacity: 3 * n); signal = .allocate(capacity: n); scratch = .allocate(capacity: n)
            mask = .allocate(capacity: n); sq = .allocate(capacity: n); column = .allocate(capacity: n); labels = .allocate(capacity: n)
            capacity = n
        }
        let reach = max(settings.backgroundRadius, settings.kernel.count, settings.localRadius)
        if w * (h + 2 * reach) > paddedCapacity {
            padded.deallocate()
            paddedCapacity = w * (h + 2 * reach)
            padded = .allocate(capacity: paddedCapacity)
        }
        let line = max(w, h) + 4 * reach + 8
        if line > lineCapacity {
            lineA.deallocate(); lineB.deallocate(); f.deallocate(); z.deallocate(); v.deallocate()
            lineA = .allocate(capacity: line); lineB = .allocate(capacity: line)
            f = .allocate(capacity: line); z = .allocate(capacity: line); v = .allocate(capacity: line)
            lineCapacity = line
        }
    }

    /// Computes the signal planes of an RGB window (w·h·3 bytes) or a single-channel one (w·h
    /// floats) and the smoothed, background-subtracted signal in ``signal``.
    func computeSignal(rgb: UnsafePointer<UInt8>?, plane: UnsafePointer<Float>?, width w: Int, height h: Int) {
        ensure(w, h)
        let n = w * h
        // Locals, not the class's stored properties, in the loops (no exclusivity checks).
        let stain = self.stain, signal = self.signal
        if let rgb, settings.stains != nil {
            tableH.withUnsafeBufferPointer { hB in tableE.withUnsafeBufferPointer { eB in
                let th = hB.baseAddress!, te = eB.baseAddress!, e = stain + n
                for i in 0..<n {
                    let r = Int(rgb[3 * i]), g = 256 + Int(rgb[3 * i + 1]), b = 512 + Int(rgb[3 * i + 2])
                    stain[i] = max(0, th[r] + th[g] + th[b])
                    e[i] = max(0, te[r] + te[g] + te[b])
                }
            } }
        } else if let rgb {
            // A single channel from RGB pixels: their grey value (mean of R, G, B) / 255.
            for i in 0..<n { stain[i] = (Float(rgb[3 * i]) + Float(rgb[3 * i + 1]) + Float(rgb[3 * i + 2])) * (1 / 765) }
        } else if let plane {
            stain.update(from: plane, count: n)
        }
        PlaneFilters.gaussian(stain, signal, width: w, height: h, kernel: settings.kernel, scratch: scratch, line: lineA)
        let r = settings.backgroundRadius
        if r > 0 {
            let bg = stain + 2 * n // the residual plane is not needed past here
            bg.update(from: signal, count: n)
            PlaneFilters.opening(bg, width: w, height: h, radius: r, padded: padded, line: lineA)
            for i in 0..<n { signal[i] = max(0, signal[i] - bg[i]) }
        }
    }

    /// Thresholds the signal, fills holes, splits touching nuclei; returns the label count
    /// (labels in ``labels``, 0 = background).
    func segment() -> Int {
        let w = width, h = height, n = w * h
        let signal = self.signal, mask = self.mask, scratch = self.scratch
        let t = settings.threshold
        var any = false
        if settings.localRadius > 0 && settings.localThreshold > 0 {
            // Local maximum of the signal into `scratch` (max filter = the dilation half of an opening).
            scratch.update(from: signal, count: n)
            PlaneFilters.extreme(scratch, width: w, height: h, radius: settings.localRadius, isMax: true,
                                 padded: padded, line: lineA)
            let k = settings.localThreshold
            for i in 0..<n { let on: UInt8 = signal[i] > t && signal[i] >= k * scratch[i] ? 1 : 0; mask[i] = on; if on != 0 { any = true } }
        } else {
            for i in 0..<n { let on: UInt8 = signal[i] > t ? 1 : 0; mask[i] = on; if on != 0 { any = true } }
        }
        guard any else { labels.initialize(repeating: 0, count: n); return 0 }
        if settings.fillHoles { fillHoles() }
        DistanceTransform.squared(mask, width: w, height: h, into: sq, column: column, f: f, v: v, z: z)
        return watershed.run(sq, width: w, height: h, depth: settings.depth, minSeparation: settings.minSeparation, into: labels)
    }

    /// Background not 4-connected to the window's edge becomes foreground. Breadth-first from
    /// the edge, with `column` as the queue and mask value 2 marking reached background.
    private func fillHoles() {
        let w = width, h = height, n = w * h
        let mask = self.mask, column = self.column
        var head = 0, tail = 0
        @inline(__always) func seed(_ i: Int) { if mask[i] == 0 { mask[i] = 2; column[tail] = Int32(i); tail += 1 } }
        for x in 0..<w { seed(x); seed((h - 1) * w + x) }
        for y in 0..<h { seed(y * w); seed(y * w + w - 1) }
        while head < tail {
            let p = Int(column[head]); head += 1
            let x = p % w
            if p >= w { seed(p - w) }
            if p + w < n { seed(p + w) }
            if x > 0 { seed(p - 1) }
            if x + 1 < w { seed(p + 1) }
        }
        for i in 0..<n { mask[i] = mask[i] == 2 ? 0 : 1 }
    }
}
