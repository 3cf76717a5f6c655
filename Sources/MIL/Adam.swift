import Foundation

/// Adam as `torch.optim.Adam` (single-tensor path, amsgrad off): L2 weight decay added to
/// the gradient, bias-corrected moments, eps added after the square root. Each tensor keeps
/// its own step count, and a tensor without a gradient this step is skipped entirely (no
/// decay, no moment update), as PyTorch skips parameters whose `.grad` is None; CLAM-SB's
/// instance classifiers of the other classes are such tensors.
struct Adam {
    var lr: Float, beta1: Float = 0.9, beta2: Float = 0.999, eps: Float = 1e-8, weightDecay: Float
    private(set) var m: [Float], v: [Float]
    private(set) var steps: [Int]
    let layout: MILLayout

    init(layout: MILLayout, lr: Float, weightDecay: Float) {
        self.layout = layout; self.lr = lr; self.weightDecay = weightDecay
        m = [Float](repeating: 0, count: layout.count)
        v = m
        steps = [Int](repeating: 0, count: layout.tensors.count)
    }

    /// One update of `params` from `grad`; `hasGradient(i)` tells whether tensor i took part.
    mutating func step(params: inout [Float], grad: UnsafePointer<Float>, hasGradient: (Int) -> Bool) {
        let (b1, b2, wd, eps) = (beta1, beta2, weightDecay, eps)
        for (ti, t) in layout.tensors.enumerated() where hasGradient(ti) {
            steps[ti] += 1
            // PyTorch computes the corrections in double and applies them as float scalars.
            let bc1 = 1 - pow(Double(b1), Double(steps[ti])), bc2 = 1 - pow(Double(b2), Double(steps[ti]))
            let stepSize = Float(Double(lr) / bc1), bc2Sqrt = Float(bc2.squareRoot())
            params.withUnsafeMutableBufferPointer { p in m.withUnsafeMutableBufferPointer { m in v.withUnsafeMutableBufferPointer { v in
                for i in t.range {
                    let g = grad[i] + wd * p[i]
                    m[i] += (1 - b1) * (g - m[i])                 // lerp(m, g, 1 − β1)
                    v[i] = v[i] * b2 + (1 - b2) * g * g
                    p[i] -= stepSize * (m[i] / (v[i].squareRoot() / bc2Sqrt + eps))
                }
            } } }
        }
    }
}
