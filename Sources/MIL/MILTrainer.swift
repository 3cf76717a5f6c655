import SeededRandom
import Foundation

/// Training settings; the defaults are CLAM's (`main.py` and the README's CLAM-SB command):
/// Adam lr 2e-4, weight decay 1e-5, dropout 0.25, k_sample (B) 8, bag_weight 0.7, up to 200
/// epochs, early stopping on validation loss with patience 20 from epoch 50.
///
/// Differences from CLAM, on purpose: the instance loss is cross-entropy (CLAM's
/// `--inst_loss ce`; its README runs the smooth-top-1 SVM from the `topk` package);
/// `classWeighted` scales each bag's loss by N/(classes·n_class) (CLAM instead offers
/// `--weighted_sample`; PyTorch's `CrossEntropyLoss(weight:)` would cancel out on a batch of
/// one bag); bags with fewer than k_sample patches use all of them (CLAM raises).
public struct MILTrainingConfig: Sendable {
    public struct EarlyStopping: Sendable {
        /// Epochs without a lower validation loss before stopping.
        public var patience = 20
        /// Never stop at or before this (0-based) epoch.
        public var stopEpoch = 50
        public init(patience: Int = 20, stopEpoch: Int = 50) { self.patience = patience; self.stopEpoch = stopEpoch }
    }

    public var kind: MILModel.Kind = .clamSB
    public var size: MILModel.Size = .small
    public var classes = 2
    public var seed: UInt64 = 1
    public var learningRate: Float = 2e-4
    public var weightDecay: Float = 1e-5
    public var dropout: Float = 0.25
    public var kSample = 8
    public var bagWeight: Float = 0.7
    public var maxEpochs = 200
    /// nil: train `maxEpochs` and return the last model (CLAM without `--early_stopping`).
    /// Set (and a validation set given): return the model of lowest validation loss.
    public var earlyStopping: EarlyStopping? = EarlyStopping()
    public var classWeighted = false
    /// Cores used (BLAS runs single-threaded; MIL splits its GEMMs and loops itself). Results
    /// are bit-identical for the same thread count.
    public var threads = ProcessInfo.processInfo.activeProcessorCount
    /// Layer sizes other than CLAM's (tests use tiny ones).
    var customDims: (hidden: Int, attention: Int)? = nil

    public init() {}
}

/// One epoch's numbers. Losses are means over bags; `trainLoss` is the bag cross-entropy (as
/// CLAM logs it) under dropout, the validation numbers are in evaluation mode.
public struct MILEpochRecord: Sendable {
    public let epoch: Int              // 0-based, as CLAM counts
    public let trainLoss: Float
    public let trainInstanceLoss: Float
    public let trainError: Float
    public let validationLoss: Float?
    public let validationAUC: Float?   // mean one-vs-rest AUC over the classes present
    public let validationError: Float?
    /// Wall time of the epoch: training plus validation.
    public let seconds: Double
    /// This epoch's model is the one kept (lowest validation loss so far).
    public let isBest: Bool
}

public struct MILTrainingResult: Sendable {
    public let model: MILModel
    public let history: [MILEpochRecord]
    public let bestEpoch: Int
    public let stoppedEarly: Bool
}

/// Trains ABMIL or CLAM-SB one bag at a time (CLAM's batch size 1) on CPU. The same
/// config (threads included), seed and bags give the same weights, bit for bit, on the same
/// machine (BLAS kernels differ between CPUs).
public struct MILTrainer: Sendable {
    public let config: MILTrainingConfig

    public init(config: MILTrainingConfig = MILTrainingConfig()) { self.config = config }

    public func train(_ train: MILBagSet, validation: MILBagSet? = nil,
                      onEpoch: ((MILEpochRecord) -> Void)? = nil) throws -> MILTrainingResult {
        let c = config
        try check(train, validation)
        let first = try train.bag(0, dim: nil)   // the first bag sets the feature width
        let dims = c.customDims ?? c.size.dims
        var model = try MILModel(kind: c.kind, inputDim: first.dim, hiddenDim: dims.hidden, attentionDim: dims.attention,
                                 classes: c.classes, seed: c.seed)
        let layout = model.layout
        var adam = Adam(layout: layout, lr: c.learningRate, weightDecay: c.weightDecay)
        let step = TrainingStep(layout: layout, threads: c.threads)
        var dropoutRNG = SplitMix64(seed: c.seed, tag: 3)
        var grad = [Float](repeating: 0, count: layout.count)
        let classWeights = balancedWeights(train.labels)
        let instanceTensors = Set(layout.tensors.indices.filter { layout.tensors[$0].name.hasPrefix("instance_classifiers.") })

        var history: [MILEpochRecord] = []
        var best = model, bestEpoch = 0, bestLoss = Float.infinity, counter = 0, stopped = false
        for epoch in 0..<c.maxEpochs {
            let t0 = DispatchTime.now().uptimeNanoseconds
            var shuffle = SplitMix64(seed: c.seed, tag: 2, index: UInt64(epoch))
            var lossSum = 0.0, instSum = 0.0, errors = 0
            for i in shuffle.permutation(train.count) {
                let bag = try train.bag(i, dim: model.inputDim)
                let y = train.labels[i]
                let r = bag.features.withUnsafeBufferPointer { x in
                    model.parameters.withUnsafeBufferPointer { p in
                        grad.withUnsafeMutableBufferPointer { g in
                            step.run(params: p.baseAddress!, grad: g.baseAddress!, x: x.baseAddress!, n: bag.patches, label: y,
                                     bagWeight: c.bagWeight, lossScale: c.classWeighted ? classWeights[y] : 1,
                                     kSample: c.kSample, dropout: c.dropout, rng: &dropoutRNG)
                        }
                    }
                }
                grad.withUnsafeBufferPointer { g in
                    adam.step(params: &model.parameters, grad: g.baseAddress!) { ti in
                        !instanceTensors.contains(ti) || layout.tensors[ti].name.hasPrefix(MILLayout.inst(r.instanceClassifier ?? -1) + ".")
                    }
                }
                guard r.bagLoss.isFinite, r.instanceLoss.isFinite else {
                    throw MILError(.diverged, subject: train.ids[i], what: "the loss became \(r.bagLoss) at epoch \(epoch)",
                                   hint: "lower the learning rate or check the features' scale")
                }
                lossSum += Double(r.bagLoss); instSum += Double(r.instanceLoss)
                if argmax(r.probabilities) != y { errors += 1 }
            }
            let n = Float(train.count)
            let record = (loss: Float(lossSum) / n, inst: Float(instSum) / n, err: Float(errors) / n)
            var val: (loss: Float, auc: Float?, error: Float)? = nil
            var isBest = false
            if let validation {
                let v = try Self.evaluate(model, validation, threads: c.threads)
                val = (v.loss, v.auc, v.error)
                // CLAM's EarlyStopping: an equal loss counts as an improvement.
                if v.loss <= bestLoss { bestLoss = v.loss; best = model; bestEpoch = epoch; counter = 0; isBest = true } else { counter += 1 }
            }
            let rec = MILEpochRecord(epoch: epoch, trainLoss: record.loss, trainInstanceLoss: record.inst, trainError: record.err,
                                     validationLoss: val?.loss, validationAUC: val?.auc, validationError: val?.error,
                                     seconds: Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9,
                                     isBest: isBest && c.earlyStopping != nil)
            history.append(rec)
            onEpoch?(rec)
            if let es = c.earlyStopping, validation != nil, counter >= es.patience, epoch > es.stopEpoch {
                stopped = true
                break
            }
        }
        if c.earlyStopping != nil, validation != nil {
            return MILTrainingResult(model: best, history: history, bestEpoch: bestEpoch, stoppedEarly: stopped)
        }
        return MILTrainingResult(model: model, history: history, bestEpoch: history.count - 1, stoppedEarly: false)
    }

    /// Mean bag cross-entropy, AUC, error rate and per-bag probabilities in evaluation mode.
    public static func evaluate(_ model: MILModel, _ bags: MILBagSet,
                                threads: Int = ProcessInfo.processInfo.activeProcessorCount) throws
        -> (loss: Float, auc: Float?, error: Float, probabilities: [[Float]]) {
        guard bags.count > 0 else { throw MILError(.badTrainingSet, what: "no bags to evaluate") }
        if let i = bags.labels.firstIndex(where: { !(0..<model.classes).contains($0) }) {
            throw MILError(.badTrainingSet, subject: bags.ids[i], what: "label \(bags.labels[i]) is outside 0..<\(model.classes)")
        }
        let evaluator = Evaluator(layout: model.layout, threads: threads)
        var loss = 0.0, errors = 0, probs: [[Float]] = []
        for i in 0..<bags.count {
            let bag = try bags.bag(i, dim: model.inputDim)
            let s = bag.features.withUnsafeBufferPointer { x in
                model.parameters.withUnsafeBufferPointer { p in evaluator.score(params: p.baseAddress!, x: x.baseAddress!, n: bag.patches) }
            }
            loss += Double(TrainingStep.crossEntropy(s.logits, bags.labels[i]).1)
            if s.predictedClass != bags.labels[i] { errors += 1 }
            probs.append(s.probabilities)
        }
        return (Float(loss / Double(bags.count)), meanAUC(labels: bags.labels, probabilities: probs, classes: model.classes),
                Float(errors) / Float(bags.count), probs)
    }

    private func check(_ train: MILBagSet, _ validation: MILBagSet?) throws {
        let c = config
        func bad(_ what: String, _ hint: String) -> MILError { MILError(.badConfig, what: what, hint: hint) }
        guard c.classes >= 2 else { throw bad("classes = \(c.classes)", "a classifier needs at least 2 classes") }
        guard c.dropout >= 0, c.dropout < 1 else { throw bad("dropout \(c.dropout) is outside [0, 1)", "CLAM uses 0.25") }
        guard c.bagWeight >= 0, c.bagWeight <= 1 else { throw bad("bag weight \(c.bagWeight) is outside [0, 1]", "CLAM uses 0.7") }
        guard c.kSample >= 1 else { throw bad("k_sample \(c.kSample) must be ≥ 1", "CLAM uses 8") }
        guard c.learningRate > 0, c.learningRate.isFinite, c.weightDecay >= 0 else {
            throw bad("learning rate \(c.learningRate) / weight decay \(c.weightDecay)", "use a positive rate (CLAM: 2e-4) and decay ≥ 0")
        }
        guard c.maxEpochs >= 1 else { throw bad("max epochs \(c.maxEpochs)", "train at least one epoch") }
        guard train.count > 0 else {
            throw MILError(.badTrainingSet, what: "the training set has no bags", hint: "give labelled bags to train on")
        }
        for set in [train] + (validation.map { [$0] } ?? []) {
            if let i = set.labels.firstIndex(where: { !(0..<c.classes).contains($0) }) {
                throw MILError(.badTrainingSet, subject: set.ids[i], what: "label \(set.labels[i]) is outside 0..<\(c.classes)",
                               hint: "number classes from 0 and set `classes`")
            }
        }
        let present = Set(train.labels)
        guard present.count >= 2 else {
            throw MILError(.badTrainingSet, what: "all \(train.count) training bags are class \(present.first!)",
                           hint: "a classifier needs bags of at least two classes")
        }
    }

    /// N / (classes · n_c) for each class present (1 for absent ones).
    private func balancedWeights(_ labels: [Int]) -> [Float] {
        (0..<config.classes).map { c in
            let n = labels.filter { $0 == c }.count
            return n == 0 ? 1 : Float(labels.count) / Float(config.classes * n)
        }
    }
}

func argmax(_ v: [Float]) -> Int { v.indices.max { v[$0] < v[$1] }! }

/// Binary AUC (Mann–Whitney, ties count half) of `scores` for `positive` labels.
func auc(scores: [Float], positive: [Bool]) -> Float? {
    let pos = positive.filter { $0 }.count, neg = positive.count - pos
    guard pos > 0, neg > 0 else { return nil }
    let order = scores.indices.sorted { scores[$0] < scores[$1] }
    var rankSum = 0.0, i = 0
    while i < order.count {
        var j = i
        while j + 1 < order.count, scores[order[j + 1]] == scores[order[i]] { j += 1 }
        let rank = Double(i + j) / 2 + 1
        for k in i...j where positive[order[k]] { rankSum += rank }
        i = j + 1
    }
    return Float((rankSum - Double(pos * (pos + 1)) / 2) / Double(pos * neg))
}

/// CLAM's validation AUC: binary on p(class 1); otherwise the mean one-vs-rest AUC over the
/// classes present.
func meanAUC(labels: [Int], probabilities: [[Float]], classes: Int) -> Float? {
    if classes == 2 { return auc(scores: probabilities.map { $0[1] }, positive: labels.map { $0 == 1 }) }
    let aucs = (0..<classes).compactMap { c in auc(scores: probabilities.map { $0[c] }, positive: labels.map { $0 == c }) }
    return aucs.isEmpty ? nil : aucs.reduce(0, +) / Float(aucs.count)
}
