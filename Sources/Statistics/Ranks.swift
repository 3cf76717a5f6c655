/// Mid-ranks (1-based; tied values share the mean of their ranks), as in Mann–Whitney and
/// Sun & Xu's fast DeLong.
func midranks(_ values: [Double]) -> [Double] {
    let n = values.count
    var order = Array(0..<n)
    order.sort { values[$0] < values[$1] }
    var ranks = [Double](repeating: 0, count: n)
    var i = 0
    while i < n {
        var j = i
        while j + 1 < n && values[order[j + 1]] == values[order[i]] { j += 1 }
        // Positions i...j (0-based) hold one tie group: mean 1-based rank is (i + j) / 2 + 1.
        let r = Double(i + j) / 2 + 1
        for k in i...j { ranks[order[k]] = r }
        i = j + 1
    }
    return ranks
}
