/// One bag: the features of its N patches, an N×D row-major Float matrix (N ≥ 1).
public struct MILBag: Sendable {
    public let patches: Int
    public let dim: Int
    public let features: [Float]

    public init(features: [Float], patches: Int, dim: Int) throws {
        guard patches >= 0, dim >= 1, features.count == patches * dim else {
            throw MILError(.badBag, what: "\(features.count) feature values for \(patches) patches × \(dim) dims",
                           hint: "pass a row-major patches×dim matrix")
        }
        self.patches = patches; self.dim = dim; self.features = features
    }

    /// Checks the bag fits a model taking `dim`-wide features: ≥ 1 patch, all finite.
    func validate(dim expected: Int, id: String) throws {
        guard patches >= 1 else {
            throw MILError(.badBag, subject: id, what: "the bag has no patches",
                           hint: "drop slides with no tissue patches before training or scoring")
        }
        guard dim == expected else {
            throw MILError(.badBag, subject: id, what: "features are \(dim)-dimensional, the model takes \(expected)",
                           hint: "embed every slide with the encoder the model was trained on")
        }
        let bad = features.withUnsafeBufferPointer { p -> Int? in
            // Sum of x·0 is NaN exactly when some x is NaN or ±Inf; find which only then.
            var acc = SIMD8<Float>(repeating: 0)
            var i = 0
            while i + 8 <= p.count { acc += UnsafeRawPointer(p.baseAddress! + i).loadUnaligned(as: SIMD8<Float>.self) * 0; i += 8 }
            var tail: Float = 0
            while i < p.count { tail += p[i] * 0; i += 1 }
            if acc.sum().isFinite && tail.isFinite { return nil }
            return p.firstIndex { !$0.isFinite }
        }
        if let bad {
            throw MILError(.badBag, subject: id,
                           what: "feature \(bad % dim) of patch \(bad / dim) is \(features[bad])",
                           hint: "re-embed the slide; NaN/Inf features come from a broken patch or encoder")
        }
    }
}

/// Bags for training or evaluation, loaded on demand so a large set never sits in memory.
public struct MILBagSet {
    public let ids: [String]
    public let labels: [Int]
    let load: (Int) throws -> MILBag

    /// `load(i)` returns bag `i` (its id is `ids[i]`, its class `labels[i]`).
    public init(ids: [String], labels: [Int], load: @escaping (Int) throws -> MILBag) throws {
        guard ids.count == labels.count else {
            throw MILError(.badTrainingSet, what: "\(ids.count) bag ids but \(labels.count) labels", hint: "give one label per bag")
        }
        self.ids = ids; self.labels = labels; self.load = load
    }

    /// Bags already in memory, named "bag-0", "bag-1", ….
    public init(bags: [MILBag], labels: [Int]) throws {
        try self.init(ids: bags.indices.map { "bag-\($0)" }, labels: labels) { bags[$0] }
    }

    public var count: Int { ids.count }

    /// Bag `i`, checked against the model's feature width (any width when nil); errors name the bag.
    func bag(_ i: Int, dim: Int?) throws -> MILBag {
        let bag: MILBag
        do { bag = try load(i) } catch let e as MILError {
            throw MILError(e.kind, subject: ids[i], what: e.what, hint: e.hint)
        } catch {
            throw MILError(.badBag, subject: ids[i], what: "cannot load the bag (\(error))", hint: "check the feature file")
        }
        try bag.validate(dim: dim ?? bag.dim, id: ids[i])
        return bag
    }
}
