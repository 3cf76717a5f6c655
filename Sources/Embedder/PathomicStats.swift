import Foundation

/// Percentiles with numpy's default ("linear") rule: for q in [0, 1] the value at position
/// q·(n−1) of the sorted data, interpolated between its two neighbours (numpy's `_lerp`).
///
/// `values` (n ≥ 1, all ≥ 0 and finite, e.g. clipped stain amounts) is left unchanged; `scratch`
/// needs n floats. Exact without sorting: non-negative floats order like their bit patterns, so one
/// pass buckets them by exponent and top 8 mantissa bits (1/256 octave; everything below 2⁻²⁰ in
/// the first bucket, from 2⁸ on in the last), a second pass gathers only the buckets that hold a
/// wanted rank, and a quickselect inside each small bucket finishes the job.
func linearPercentiles(_ values: UnsafePointer<Float>, count n: Int, _ qs: [Double],
                       scratch: UnsafeMutablePointer<Float>) -> [Double] {
    precondition(n >= 1, "linearPercentiles: no values")
    // Wanted ranks (ascending): k and k+1 for each q.
    var ranks: [Int] = [], weights: [(k: Int, t: Double)] = []
    for q in qs {
        let pos = Double(n - 1) * q
        let k = min(n - 1, Int(pos.rounded(.down)))
        weights.append((k, pos - Double(k)))
        ranks.append(k); ranks.append(min(n - 1, k + 1))
    }
    let sortedRanks = Array(Set(ranks)).sorted()
    let low = Int(Float(0x1p-20).bitPattern >> 15), high = Int(Float(0x1p8).bitPattern >> 15)
    let bins = high - low + 1
    @inline(__always) func bin(_ v: Float) -> Int { // monotone in v; −0 goes with +0
        min(max(Int((v.bitPattern & 0x7FFF_FFFF) >> 15) - low, 0), bins - 1)
    }
    return withUnsafeTemporaryAllocation(of: Int32.self, capacity: 3 * bins) { buf in
        let hist = buf.baseAddress!, slotStart = hist + bins, fill = hist + 2 * bins
        for b in 0..<bins { hist[b] = 0; slotStart[b] = -1 }
        for i in 0..<n { hist[bin(values[i])] &+= 1 }
        // Bucket of each rank and the rank inside it; each wanted bucket gets a region of `scratch`.
        var rankBin: [Int: (bin: Int, local: Int)] = [:]
        var below = 0, next = 0, region: Int32 = 0
        for b in 0..<bins where hist[b] > 0 {
            let c = Int(hist[b])
            while next < sortedRanks.count && sortedRanks[next] < below + c {
                rankBin[sortedRanks[next]] = (b, sortedRanks[next] - below)
                if slotStart[b] < 0 { slotStart[b] = region; fill[b] = region; region += Int32(c) }
                next += 1
            }
            below += c
        }
        for i in 0..<n {
            let b = bin(values[i])
            if slotStart[b] >= 0 { scratch[Int(fill[b])] = values[i]; fill[b] += 1 }
        }
        // Select ranks in ascending order; within a bucket each selection narrows the next.
        var value: [Int: Double] = [:], done: [Int: Int] = [:]
        for r in sortedRanks {
            let (b, local) = rankBin[r]!
            let base = scratch + Int(slotStart[b]), lo = done[b] ?? 0
            selectKth(base, lo, Int(hist[b]) - 1, local)
            value[r] = Double(base[local])
            done[b] = local + 1
        }
        return weights.map { (k, t) in
            let a = value[k]!
            guard t > 0 else { return a }
            let b = value[min(n - 1, k + 1)]!, d = b - a
            return t < 0.5 ? a + d * t : b - d * (1 - t) // numpy's _lerp
        }
    }
}

/// Hoare-partition quickselect: afterwards `a[k]` holds the value it would have in sorted order,
/// with no larger value before it and no smaller one after it (within lo0...hi0).
func selectKth(_ a: UnsafeMutablePointer<Float>, _ lo0: Int, _ hi0: Int, _ k: Int) {
    var lo = lo0, hi = hi0
    while lo < hi {
        let x0 = a[lo], x1 = a[lo + (hi - lo) / 2], x2 = a[hi]
        let pivot = max(min(x0, x1), min(max(x0, x1), x2)) // median of three
        var i = lo, j = hi
        while i <= j {
            while a[i] < pivot { i += 1 }
            while pivot < a[j] { j -= 1 }
            if i <= j {
                let s = a[i]; a[i] = a[j]; a[j] = s
                i += 1; j -= 1
            }
        }
        // Now lo...j ≤ pivot ≤ i...hi, and anything strictly between j and i equals the pivot.
        if k <= j { hi = j } else if k >= i { lo = i } else { return }
    }
}

/// Mean and population standard deviation (numpy's `std`, ddof 0), two-pass in double.
func meanStd(_ values: UnsafePointer<Float>, count n: Int) -> (mean: Double, std: Double) {
    guard n > 0 else { return (0, 0) }
    var s = 0.0
    for i in 0..<n { s += Double(values[i]) }
    let m = s / Double(n)
    var v = 0.0
    for i in 0..<n { let d = Double(values[i]) - m; v += d * d }
    return (m, (v / Double(n)).squareRoot())
}
