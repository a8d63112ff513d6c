/// The fallback when a file is over its budget: linear-time, order-preserving. Children of a
/// pair are aligned by identical subtrees; a gap of as many old as new children of the
/// same kinds in the same order is descended into pair by pair (two lone tokens are one
/// updated), anything else in a gap is deleted and inserted whole. No
/// moves, and no similarity search: cheap, but coarser than the GumTree matching.
struct CoarseMatcher {
    let a: DiffTree
    let b: DiffTree
    var m1: [Int32]
    var m2: [Int32]
    let decls: DeclarationPair

    init(_ a: DiffTree, _ b: DiffTree, decls: DeclarationPair) {
        self.a = a
        self.b = b
        self.decls = decls
        m1 = [Int32](repeating: -1, count: a.n)
        m2 = [Int32](repeating: -1, count: b.n)
    }

    mutating func run() {
        guard a.n > 0, b.n > 0 else { return }
        var queue: [(Int, Int)] = [(0, 0)]
        m1[0] = 0; m2[0] = 0
        var work = 0
        while let (x, y) = queue.popLast() {
            if a.hash[x] == b.hash[y] {
                linkSubtrees(x, y)
                continue
            }
            let ca = (0..<a.childCount(x)).map { a.child(x, $0) }
            let cb = (0..<b.childCount(y)).map { b.child(y, $0) }
            let same = Align.common(ca.map { a.hash[$0] }, cb.map { b.hash[$0] }, work: &work)
            var pi = 0, pj = 0
            for (i, j) in same + [(ca.count, cb.count)] {
                if i < ca.count { linkSubtrees(ca[i], cb[j]) }
                // A gap of as many old as new children, kind for kind: changed in place.
                let n = i - pi
                if n > 0 && n == j - pj && (0..<n).allSatisfy({ a.label[ca[pi + $0]] == b.label[cb[pj + $0]] && decls.mayPair(ca[pi + $0], cb[pj + $0]) }) {
                    for k in 0..<n {
                        let cx = ca[pi + k], cy = cb[pj + k]
                        m1[cx] = Int32(cy); m2[cy] = Int32(cx)
                        if !a.isLeaf(cx) && !b.isLeaf(cy) { queue.append((cx, cy)) }
                    }
                } else if n == 1 && j - pj == 1 && a.isLeaf(ca[pi]) && b.isLeaf(cb[pj]) {
                    m1[ca[pi]] = Int32(cb[pj]); m2[cb[pj]] = Int32(ca[pi])
                }
                pi = i + 1; pj = j + 1
            }
        }
    }

    private mutating func linkSubtrees(_ x: Int, _ y: Int) {
        for k in 0..<a.size(x) { m1[x + k] = Int32(y + k); m2[y + k] = Int32(x + k) }
    }
}
