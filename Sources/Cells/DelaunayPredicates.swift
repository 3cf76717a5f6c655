import Foundation

/// Exact geometric predicates on points snapped to an integer grid.
///
/// Why a grid: floating-point orientation and in-circle tests give wrong signs on nearly
/// degenerate input (grids of nuclei, duplicates, collinear rows), and a wrong sign makes a
/// triangulation inconsistent or loop. Snapping every point to an integer lattice of at most
/// 2³⁰ steps across the point set's extent makes both tests exact in 64/128-bit integer
/// arithmetic. The lattice step is the extent divided by about 2³⁰ (≈ 0.0001 px across a 100 000-px
/// slide), so the triangulation is exactly Delaunay for positions that differ from the input by
/// less than a ten-thousandth of a pixel; points closer than that count as duplicates.
struct SnappedPoints {
    /// Lattice coordinates, each in 0..<2³⁰.
    var qx: [Int64]
    var qy: [Int64]
    /// Lattice steps per input unit (a power of two, so snapping only drops low bits).
    let scale: Double

    static let bits = 30

    init(_ points: UnsafeBufferPointer<SIMD2<Double>>) {
        let n = points.count
        var minX = Double.infinity, minY = Double.infinity, maxX = -Double.infinity, maxY = -Double.infinity
        for p in points where p.x.isFinite && p.y.isFinite {
            minX = min(minX, p.x); maxX = max(maxX, p.x)
            minY = min(minY, p.y); maxY = max(maxY, p.y)
        }
        let extent = minX > maxX ? 0 : max(maxX - minX, maxY - minY)
        let limit = Double((1 << Self.bits) - 1)
        // Largest power of two with extent · scale ≤ limit.
        var s = 1.0
        if extent > 0 {
            s = pow(2.0, (log2(limit / extent)).rounded(.down))
            while extent * s > limit { s *= 0.5 }
        }
        scale = s
        var xs = [Int64](repeating: 0, count: n), ys = [Int64](repeating: 0, count: n)
        // Non-finite points get −1 (callers leave them out).
        for i in 0..<n where points[i].x.isFinite && points[i].y.isFinite {
            xs[i] = Int64(((points[i].x - minX) * s).rounded())
            ys[i] = Int64(((points[i].y - minY) * s).rounded())
        }
        for i in 0..<n where !(points[i].x.isFinite && points[i].y.isFinite) { xs[i] = -1; ys[i] = -1 }
        qx = xs
        qy = ys
    }
}

/// Sign of the orientation determinant of a, b, c: > 0 when they turn counter-clockwise in a
/// y-up frame (clockwise on screen, where y points down), 0 when collinear. Exact for lattice
/// coordinates below 2³⁰ (each product < 2⁶⁰).
@inline(__always)
func orient(_ ax: Int64, _ ay: Int64, _ bx: Int64, _ by: Int64, _ cx: Int64, _ cy: Int64) -> Int64 {
    let l = (bx - ax) * (cy - ay), r = (by - ay) * (cx - ax)
    return l > r ? 1 : (l < r ? -1 : 0)
}

/// Sign of the in-circle determinant: > 0 when d lies strictly inside the circle through a, b, c
/// given counter-clockwise (orient(a, b, c) > 0), 0 on the circle. Exact: lifts and cross terms
/// are < 2⁶¹, their products < 2¹²², summed in 128 bits.
@inline(__always)
func inCircle(_ ax: Int64, _ ay: Int64, _ bx: Int64, _ by: Int64, _ cx: Int64, _ cy: Int64,
              _ dx: Int64, _ dy: Int64) -> Int {
    let adx = ax - dx, ady = ay - dy, bdx = bx - dx, bdy = by - dy, cdx = cx - dx, cdy = cy - dy
    let alift = adx * adx + ady * ady, blift = bdx * bdx + bdy * bdy, clift = cdx * cdx + cdy * cdy
    let bc = bdx * cdy - bdy * cdx, ca = cdx * ady - cdy * adx, ab = adx * bdy - ady * bdx
    var acc = Wide128(alift.multipliedFullWidth(by: bc))
    acc.add(Wide128(blift.multipliedFullWidth(by: ca)))
    acc.add(Wide128(clift.multipliedFullWidth(by: ab)))
    return acc.signum
}

/// A two's-complement 128-bit accumulator (only what `inCircle` needs; Swift's `Int128` needs
/// macOS 15, and the package still builds for macOS 13).
struct Wide128 {
    var high: Int64
    var low: UInt64

    @inline(__always) init(_ p: (high: Int64, low: UInt64)) { high = p.high; low = p.low }

    /// Sums of three products below 2¹²² cannot overflow 128 bits.
    @inline(__always) mutating func add(_ o: Wide128) {
        let (l, carry) = low.addingReportingOverflow(o.low)
        low = l
        high = high &+ o.high &+ (carry ? 1 : 0)
    }

    @inline(__always) var signum: Int { high < 0 ? -1 : (high > 0 || low != 0 ? 1 : 0) }
}
