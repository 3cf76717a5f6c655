import Foundation
import VolumeIO

/// A plane through a volume near the axial orientation: through `center` (LPS mm), tilted by
/// `angleX` about the LPS x axis, then `angleY` about y (degrees). Its 2D coordinates (u, v) are
/// the LPS x, y it would have untilted: (u, v) ↦ center + R · (u − cx, v − cy, 0), so at zero
/// angles a plane at a slice's z is that slice, with the same coordinates.
public struct ObliquePlane: Codable, Sendable, Equatable {
    public var center: [Double]
    public var angleXDegrees: Double
    public var angleYDegrees: Double

    public init(center: SIMD3<Double>, angleXDegrees: Double = 0, angleYDegrees: Double = 0) {
        self.center = [center.x, center.y, center.z]
        self.angleXDegrees = angleXDegrees
        self.angleYDegrees = angleYDegrees
    }

    public var centerPoint: SIMD3<Double> { SIMD3(center[0], center[1], center[2]) }

    /// Columns of R = Ry · Rx: the plane's u and v axes and its normal, in LPS.
    public var axes: (u: SIMD3<Double>, v: SIMD3<Double>, normal: SIMD3<Double>) {
        let a = angleXDegrees * .pi / 180, b = angleYDegrees * .pi / 180
        let ca = cos(a), sa = sin(a), cb = cos(b), sb = sin(b)
        // Rx: (1,0,0; 0,ca,−sa; 0,sa,ca); Ry: (cb,0,sb; 0,1,0; −sb,0,cb).
        return (SIMD3(cb, 0, -sb), SIMD3(sb * sa, ca, cb * sa), SIMD3(sb * ca, -sa, cb * ca))
    }

    /// The LPS point (mm) of plane coordinates (u, v).
    public func point(_ p: SIMD2<Double>) -> SIMD3<Double> {
        let a = axes, c = centerPoint
        return c + a.u * (p.x - c.x) + a.v * (p.y - c.y)
    }

    /// `volume` sampled trilinearly on `grid`'s pixel centres (plane coordinates); `outside`
    /// beyond the volume (the slab within half a voxel of the first and last slice counts as inside).
    /// `nearest`: the nearest voxel's value (labels).
    public func resample(_ volume: Volume, onto grid: Image2D, outside: Float = 0, nearest: Bool = false) -> Image2D {
        var out = grid
        let n = volume.size, w = grid.width
        volume.voxels.withUnsafeBufferPointer { vb in
            let v = vb.baseAddress!
            out.pixels.withUnsafeMutableBufferPointer { ob in
                let o = ob.baseAddress!
                DispatchQueue.concurrentPerform(iterations: grid.height) { j in
                    for i in 0..<w {
                        var q = volume.continuousIndex(ofPoint: point(grid.point(ofIndex: SIMD2(Double(i), Double(j)))))
                        if nearest { q = q.rounded(.toNearestOrAwayFromZero) }
                        o[j * w + i] = Self.trilinear(v, n, q, outside)
                    }
                }
            }
        }
        return out
    }

    @inline(__always) static func trilinear(_ v: UnsafePointer<Float>, _ n: SIMD3<Int>, _ q: SIMD3<Double>, _ outside: Float) -> Float {
        guard q.x > -0.5, q.y > -0.5, q.z > -0.5, q.x < Double(n.x) - 0.5, q.y < Double(n.y) - 0.5, q.z < Double(n.z) - 0.5 else { return outside }
        let c = SIMD3(min(max(q.x, 0), Double(n.x - 1)), min(max(q.y, 0), Double(n.y - 1)), min(max(q.z, 0), Double(n.z - 1)))
        let i = min(Int(c.x), max(n.x - 2, 0)), j = min(Int(c.y), max(n.y - 2, 0)), k = min(Int(c.z), max(n.z - 2, 0))
        let fx = c.x - Double(i), fy = c.y - Double(j), fz = c.z - Double(k)
        let di = n.x > 1 ? 1 : 0, dj = n.y > 1 ? n.x : 0, dk = n.z > 1 ? n.x * n.y : 0
        let b = i + n.x * (j + n.y * k)
        @inline(__always) func lerp(_ a: Float, _ b: Float, _ t: Double) -> Double { Double(a) + (Double(b) - Double(a)) * t }
        let x00 = lerp(v[b], v[b + di], fx), x10 = lerp(v[b + dj], v[b + dj + di], fx)
        let x01 = lerp(v[b + dk], v[b + dk + di], fx), x11 = lerp(v[b + dk + dj], v[b + dk + dj + di], fx)
        let y0 = x00 + (x10 - x00) * fy, y1 = x01 + (x11 - x01) * fy
        return Float(y0 + (y1 - y0) * fz)
    }
}
