import Foundation

/// A 2D spatial transform mapping fixed-space points (mm) to moving-space points (mm) — the
/// ITK/elastix direction: the moving image is resampled onto the fixed grid through it.
public protocol Transform2D: Sendable {
    /// The optimised parameters.
    var parameters: [Double] { get set }
    func map(_ p: SIMD2<Double>) -> SIMD2<Double>
    /// Adds gᵀ · ∂T(p)/∂θ to `grad` (length `parameters.count`): back-propagates a gradient
    /// with respect to the mapped point into the parameters, touching only the non-zero ones.
    func accumulate(_ p: SIMD2<Double>, _ g: SIMD2<Double>, into grad: UnsafeMutablePointer<Double>)
    /// Typical change (mm-like) per unit of each parameter; the optimiser divides steps by it.
    func parameterScales(radius: Double) -> [Double]
}

/// A 2×2 matrix, row-major (a b; c d).
public struct Matrix2: Sendable, Equatable {
    public var a, b, c, d: Double
    public init(_ a: Double, _ b: Double, _ c: Double, _ d: Double) { self.a = a; self.b = b; self.c = c; self.d = d }
    public static let identity = Matrix2(1, 0, 0, 1)
    public static func rotation(_ t: Double) -> Matrix2 { Matrix2(cos(t), -sin(t), sin(t), cos(t)) }
    @inline(__always) public static func * (m: Matrix2, v: SIMD2<Double>) -> SIMD2<Double> {
        SIMD2(m.a * v.x + m.b * v.y, m.c * v.x + m.d * v.y)
    }
    public static func * (m: Matrix2, n: Matrix2) -> Matrix2 {
        Matrix2(m.a * n.a + m.b * n.c, m.a * n.b + m.b * n.d, m.c * n.a + m.d * n.c, m.c * n.b + m.d * n.d)
    }
    public static func * (s: Double, m: Matrix2) -> Matrix2 { Matrix2(s * m.a, s * m.b, s * m.c, s * m.d) }
    @inline(__always) public var transposed: Matrix2 { Matrix2(a, c, b, d) }
    public var determinant: Double { a * d - b * c }
    public var inverse: Matrix2 { let det = determinant; return Matrix2(d / det, -b / det, -c / det, a / det) }
}

/// Translation, rigid, similarity and affine transforms, all as y = M·F·(x − c) + c + t with a
/// fixed centre c and a fixed reflection F (identity, or x mirrored for flipped sections) —
/// ITK's MatrixOffsetTransformBase form with the flip folded into M on export.
public struct MatrixTransform2D: Transform2D, Equatable {
    public enum Kind: String, Sendable { case translation, rigid, similarity, affine }
    public let kind: Kind
    /// Centre of rotation/scaling (mm, fixed space).
    public var center: SIMD2<Double>
    /// Mirror fixed-space x about the centre before the matrix (not optimised).
    public var flipped: Bool
    /// translation: tx ty; rigid: angle tx ty; similarity: scale angle tx ty;
    /// affine: m11 m12 m21 m22 tx ty (radians, mm).
    public var parameters: [Double]

    public init(kind: Kind, center: SIMD2<Double> = .zero, flipped: Bool = false, parameters: [Double]? = nil) {
        self.kind = kind
        self.center = center
        self.flipped = flipped
        switch kind {
        case .translation: self.parameters = parameters ?? [0, 0]
        case .rigid: self.parameters = parameters ?? [0, 0, 0]
        case .similarity: self.parameters = parameters ?? [1, 0, 0, 0]
        case .affine: self.parameters = parameters ?? [1, 0, 0, 1, 0, 0]
        }
        precondition(self.parameters.count == Self.count(kind), "\(kind) takes \(Self.count(kind)) parameters")
    }

    public static let identity = MatrixTransform2D(kind: .translation)
    static func count(_ k: Kind) -> Int { [Kind.translation: 2, .rigid: 3, .similarity: 4, .affine: 6][k]! }

    /// The linear part without the flip.
    public var matrix: Matrix2 {
        let q = parameters
        switch kind {
        case .translation: return .identity
        case .rigid: return .rotation(q[0])
        case .similarity: return q[0] * .rotation(q[1])
        case .affine: return Matrix2(q[0], q[1], q[2], q[3])
        }
    }
    public var translation: SIMD2<Double> { SIMD2(parameters[parameters.count - 2], parameters[parameters.count - 1]) }
    static let flip = Matrix2(-1, 0, 0, 1)
    /// The whole linear part M·F.
    public var linear: Matrix2 { flipped ? matrix * Self.flip : matrix }

    @inline(__always) public func map(_ p: SIMD2<Double>) -> SIMD2<Double> { linear * (p - center) + center + translation }

    public func accumulate(_ p: SIMD2<Double>, _ g: SIMD2<Double>, into grad: UnsafeMutablePointer<Double>) {
        var x = p - center
        if flipped { x.x = -x.x }
        let q = parameters
        switch kind {
        case .translation:
            grad[0] += g.x; grad[1] += g.y
        case .rigid:
            let s = sin(q[0]), c = cos(q[0])
            grad[0] += g.x * (-s * x.x - c * x.y) + g.y * (c * x.x - s * x.y)
            grad[1] += g.x; grad[2] += g.y
        case .similarity:
            let s = sin(q[1]), c = cos(q[1])
            grad[0] += g.x * (c * x.x - s * x.y) + g.y * (s * x.x + c * x.y)
            grad[1] += q[0] * (g.x * (-s * x.x - c * x.y) + g.y * (c * x.x - s * x.y))
            grad[2] += g.x; grad[3] += g.y
        case .affine:
            grad[0] += g.x * x.x; grad[1] += g.x * x.y
            grad[2] += g.y * x.x; grad[3] += g.y * x.y
            grad[4] += g.x; grad[5] += g.y
        }
    }

    public func parameterScales(radius: Double) -> [Double] {
        switch kind {
        case .translation: return [1, 1]
        case .rigid: return [radius, 1, 1]
        case .similarity: return [radius, radius, 1, 1]
        case .affine: return [radius, radius, radius, radius, 1, 1]
        }
    }

    /// The same mapping as an affine transform (flip folded into the matrix).
    public var asAffine: MatrixTransform2D {
        let m = linear, t = translation
        return MatrixTransform2D(kind: .affine, center: center, parameters: [m.a, m.b, m.c, m.d, t.x, t.y])
    }
}
