/// Sequence alignment used by the tree diff (children lists) and the coarse fallback:
/// a longest common subsequence, exact while the quadratic table stays small, and anchored on
/// elements unique to both sides (patience diff) beyond that. Iterative throughout.
enum Align {
    /// Cells of the LCS table allowed for one sub-problem before patience anchoring is used.
    static let cellLimit = 1 << 20

    /// Pairs (i, j) with a[i] == b[j], increasing in both i and j. `work` counts the cells and
    /// comparisons spent, for the caller's budget.
    static func common(_ a: [UInt64], _ b: [UInt64], work: inout Int) -> [(Int, Int)] {
        var out: [(Int, Int)] = []
        guard !a.isEmpty, !b.isEmpty else { return out }
        var pending: [(Int, Int, Int, Int)] = [(0, a.count, 0, b.count)]
        var table: [Int32] = []
        while let (a0Start, a1Start, b0Start, b1Start) = pending.popLast() {
            var a0 = a0Start, a1 = a1Start, b0 = b0Start, b1 = b1Start
            while a0 < a1, b0 < b1, a[a0] == b[b0] { out.append((a0, b0)); a0 += 1; b0 += 1 }
            while a0 < a1, b0 < b1, a[a1 - 1] == b[b1 - 1] { a1 -= 1; b1 -= 1; out.append((a1, b1)) }
            let n = a1 - a0, m = b1 - b0
            work += (a1Start - a1) + (a0 - a0Start) + 1
            guard n > 0, m > 0 else { continue }
            if n * m <= cellLimit {
                work += n * m
                lcsTable(a, a0, a1, b, b0, b1, table: &table, into: &out)
                continue
            }
            // Patience: elements occurring once on each side, longest increasing run of them.
            var countA: [UInt64: Int] = [:], countB: [UInt64: Int] = [:]
            for i in a0..<a1 { countA[a[i], default: 0] += 1 }
            var posB: [UInt64: Int] = [:]
            for j in b0..<b1 { countB[b[j], default: 0] += 1; posB[b[j]] = j }
            work += n + m
            var seq: [(Int, Int)] = []
            for i in a0..<a1 where countA[a[i]] == 1 && countB[a[i]] == 1 { seq.append((i, posB[a[i]]!)) }
            let keep = increasingRun(seq.map { $0.1 })
            guard !keep.isEmpty else { continue } // nothing to anchor on: leave it unaligned
            var prevA = a0, prevB = b0
            for k in keep {
                let (i, j) = seq[k]
                out.append((i, j))
                if i > prevA, j > prevB { pending.append((prevA, i, prevB, j)) }
                prevA = i + 1; prevB = j + 1
            }
            if a1 > prevA, b1 > prevB { pending.append((prevA, a1, prevB, b1)) }
        }
        out.sort { $0.0 < $1.0 }
        return out
    }

    /// Exact LCS of a[a0..<a1] and b[b0..<b1] (suffix table, then a forward walk).
    private static func lcsTable(_ a: [UInt64], _ a0: Int, _ a1: Int, _ b: [UInt64], _ b0: Int, _ b1: Int,
                                 table: inout [Int32], into out: inout [(Int, Int)]) {
        let n = a1 - a0, m = b1 - b0
        let w = m + 1
        let cells = (n + 1) * w
        if table.count < cells { table = [Int32](repeating: 0, count: cells) }
        table.withUnsafeMutableBufferPointer { t in
            for j in 0...m { t[n * w + j] = 0 }
            var i = n - 1
            while i >= 0 {
                let row = i * w, next = (i + 1) * w
                t[row + m] = 0
                let ai = a[a0 + i]
                var j = m - 1
                while j >= 0 {
                    if ai == b[b0 + j] {
                        t[row + j] = t[next + j + 1] + 1
                    } else {
                        let down = t[next + j], right = t[row + j + 1]
                        t[row + j] = down >= right ? down : right
                    }
                    j -= 1
                }
                i -= 1
            }
            var i2 = 0, j2 = 0
            while i2 < n, j2 < m {
                if a[a0 + i2] == b[b0 + j2] {
                    out.append((a0 + i2, b0 + j2)); i2 += 1; j2 += 1
                } else if t[(i2 + 1) * w + j2] >= t[i2 * w + j2 + 1] {
                    i2 += 1
                } else {
                    j2 += 1
                }
            }
        }
    }

    /// Indices of a longest strictly increasing subsequence of `values` (patience sorting).
    static func increasingRun(_ values: [Int]) -> [Int] {
        guard !values.isEmpty else { return [] }
        var tails: [Int] = []          // index into values of the smallest tail of each length
        var previous = [Int](repeating: -1, count: values.count)
        for (k, v) in values.enumerated() {
            var lo = 0, hi = tails.count
            while lo < hi {
                let mid = (lo + hi) / 2
                if values[tails[mid]] < v { lo = mid + 1 } else { hi = mid }
            }
            if lo > 0 { previous[k] = tails[lo - 1] }
            if lo == tails.count { tails.append(k) } else { tails[lo] = k }
        }
        var out: [Int] = []
        var k = tails.last!
        while k >= 0 { out.append(k); k = previous[k] }
        return out.reversed()
    }
}
