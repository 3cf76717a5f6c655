import Foundation
import VolumeIO

/// A 2D scalar image for registration: a Float grid placed in millimetres. Pixel (i, j) has its
/// centre at `origin + spacing ⊙ (i, j)`; x follows i (columns), y follows j (rows). An axial
/// slice of an LPS `Volume` with identity direction keeps its LPS x and y here.
public struct Image2D: Sendable, Equatable {
    public var width: Int
    public var height: Int
    /// Pixel pitch in mm along x and y.
    public var spacing: SIMD2<Double>
    /// Position (mm) of the centre of pixel (0, 0).
    public var origin: SIMD2<Double>
    /// width · height values, row-major (x fastest).
    public var pixels: [Float]

    public init(width: Int, height: Int, spacing: SIMD2<Double> = .one, origin: SIMD2<Double> = .zero, pixels: [Float]) {
        precondition(pixels.count == width * height, "pixel count does not match width × height")
        self.width = width
        self.height = height
        self.spacing = spacing
        self.origin = origin
        self.pixels = pixels
    }

    public init(width: Int, height: Int, spacing: SIMD2<Double> = .one, origin: SIMD2<Double> = .zero, fill: Float = 0) {
        self.init(width: width, height: height, spacing: spacing, origin: origin,
                  pixels: [Float](repeating: fill, count: width * height))
    }

    /// Slice `k` of a volume (grid axes i, j become x, y). Throws when the slice is out of range
    /// or the volume's in-plane axes are oblique (direction not axis-aligned with identity x, y).
    public init(slice k: Int, of volume: Volume) throws {
        guard k >= 0, k < volume.size.z else {
            throw RegistrationError("slice \(k) is outside the volume (0..<\(volume.size.z))", hint: "pick a slice index inside the volume")
        }
        let d = volume.direction
        guard abs(d[0] - 1) < 1e-6, abs(d[4] - 1) < 1e-6, abs(d[1]) < 1e-6, abs(d[3]) < 1e-6 else {
            throw RegistrationError("the volume's in-plane axes are not LPS x and y (direction \(d))",
                                    hint: "resample the volume to an axial grid with identity direction first")
        }
        let plane = volume.size.x * volume.size.y
        let o = volume.point(ofIndex: SIMD3(0, 0, Double(k)))
        self.init(width: volume.size.x, height: volume.size.y, spacing: SIMD2(volume.spacing.x, volume.spacing.y),
                  origin: SIMD2(o.x, o.y), pixels: Array(volume.voxels[(k * plane)..<((k + 1) * plane)]))
    }

    @inline(__always) public subscript(i: Int, j: Int) -> Float {
        get { pixels[j * width + i] }
        set { pixels[j * width + i] = newValue }
    }

    public func point(ofIndex p: SIMD2<Double>) -> SIMD2<Double> { origin + spacing * p }
    public func continuousIndex(ofPoint q: SIMD2<Double>) -> SIMD2<Double> { (q - origin) / spacing }

    /// The centre (mm) of the image's extent.
    public var center: SIMD2<Double> { point(ofIndex: SIMD2(Double(width - 1), Double(height - 1)) * 0.5) }

    /// Bilinear value at a point (mm), or nil outside the pixel centres' hull.
    public func value(at p: SIMD2<Double>) -> Float? {
        pixels.withUnsafeBufferPointer { buf in
            let s = Sampler(buf.baseAddress!, self)
            var v: Float = 0
            var g = SIMD2<Double>.zero
            return s.inside(p, &v, &g) ? v : nil
        }
    }

    /// Bilinear value at a point (mm); `outside` beyond the image, blending toward it in the
    /// one-pixel rim so masks fall off smoothly.
    public func value(at p: SIMD2<Double>, outside: Float) -> Float {
        pixels.withUnsafeBufferPointer { buf in
            let s = Sampler(buf.baseAddress!, self)
            var v: Float = 0
            var g = SIMD2<Double>.zero
            s.padded(p, outside, &v, &g)
            return v
        }
    }

    /// Samples `self` on `grid`'s pixel centres through `transform` (grid point → self point):
    /// the moving image resampled into fixed space.
    public func resampled<T: Transform2D>(onto grid: Image2D, through transform: T, outside: Float = 0) -> Image2D {
        var out = Image2D(width: grid.width, height: grid.height, spacing: grid.spacing, origin: grid.origin)
        let w = grid.width
        pixels.withUnsafeBufferPointer { buf in
            let s = Sampler(buf.baseAddress!, self)
            out.pixels.withUnsafeMutableBufferPointer { o in
                let op = o.baseAddress!
                DispatchQueue.concurrentPerform(iterations: grid.height) { j in
                    var v: Float = 0
                    var g = SIMD2<Double>.zero
                    for i in 0..<w {
                        s.padded(transform.map(grid.point(ofIndex: SIMD2(Double(i), Double(j)))), outside, &v, &g)
                        op[j * w + i] = v
                    }
                }
            }
        }
        return out
    }
}

/// Bilinear sampling with the gradient in mm over a borrowed pixel buffer (hot loops).
struct Sampler {
    let p: UnsafePointer<Float>
    let w: Int, h: Int
    let origin: SIMD2<Double>
    let inv: SIMD2<Double>

    init(_ p: UnsafePointer<Float>, _ image: Image2D) {
        self.p = p
        w = image.width
        h = image.height
        origin = image.origin
        inv = 1 / image.spacing
    }

    /// Value and gradient (per mm) when `q` lies within the pixel-centre hull.
    @inline(__always) func inside(_ q: SIMD2<Double>, _ v: inout Float, _ g: inout SIMD2<Double>) -> Bool {
        let u = (q - origin) * inv
        guard u.x >= 0, u.y >= 0, u.x <= Double(w - 1), u.y <= Double(h - 1) else { return false }
        var i = Int(u.x), j = Int(u.y)
        if i == w - 1 { i = max(0, w - 2) }
        if j == h - 1 { j = max(0, h - 2) }
        let fx = u.x - Double(i), fy = u.y - Double(j)
        let k = j * w + i
        let i1 = min(i + 1, w - 1) - i, j1 = (min(j + 1, h - 1) - j) * w
        let a = Double(p[k]), b = Double(p[k + i1]), c = Double(p[k + j1]), d = Double(p[k + j1 + i1])
        let top = a + (b - a) * fx, bottom = c + (d - c) * fx
        v = Float(top + (bottom - top) * fy)
        g = SIMD2((b - a) + ((d - c) - (b - a)) * fy, (c - a) + ((d - b) - (c - a)) * fx) * inv
        return true
    }

    /// Value and gradient with the image extended by `outside` (neighbours beyond the edge take it).
    @inline(__always) func padded(_ q: SIMD2<Double>, _ outside: Float, _ v: inout Float, _ g: inout SIMD2<Double>) {
        let u = (q - origin) * inv
        guard u.x > -1, u.y > -1, u.x < Double(w), u.y < Double(h) else {
            v = outside
            g = .zero
            return
        }
        let fi = u.x.rounded(.down), fj = u.y.rounded(.down)
        let i = Int(fi), j = Int(fj)
        let fx = u.x - fi, fy = u.y - fj
        @inline(__always) func at(_ x: Int, _ y: Int) -> Double {
            (x < 0 || y < 0 || x >= w || y >= h) ? Double(outside) : Double(p[y * w + x])
        }
        let a = at(i, j), b = at(i + 1, j), c = at(i, j + 1), d = at(i + 1, j + 1)
        let top = a + (b - a) * fx, bottom = c + (d - c) * fx
        v = Float(top + (bottom - top) * fy)
        g = SIMD2((b - a) + ((d - c) - (b - a)) * fy, (c - a) + ((d - b) - (c - a)) * fx) * inv
    }
}

/// A registration input or run that cannot go on, with what to do about it.
public struct RegistrationError: Error, CustomStringConvertible, Sendable {
    public let reason: String
    public let hint: String
    public init(_ reason: String, hint: String = "") {
        self.reason = reason
        self.hint = hint
    }
    public var description: String { reason + (hint.isEmpty ? "" : " — \(hint)") }
}
