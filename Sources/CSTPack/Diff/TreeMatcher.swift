/// The per-file budget: work units (node visits, table cells) and a deadline, checked every
/// few thousand units so that checking stays cheap.
struct DiffBudget {
    var work = 0
    let maxWork: Int
    let deadline: Double
    let seconds: Double
    private var nextCheck: Int

    init(maxWork: Int, seconds: Double, from start: Double = monotonicSeconds()) {
        self.maxWork = maxWork
        self.seconds = seconds
        deadline = start + seconds
        nextCheck = min(1 << 14, maxWork == Int.max ? maxWork : maxWork + 1)
    }

    @inline(__always) mutating func spend(_ units: Int) throws(BudgetExceeded) {
        work &+= units
        if work >= nextCheck { try check() }
    }

    mutating func check() throws(BudgetExceeded) {
        nextCheck = min(work + (1 << 14), maxWork == Int.max ? maxWork : maxWork + 1)
        if work > maxWork { throw BudgetExceeded(reason: "work budget of \(maxWork) steps exceeded") }
        if monotonicSeconds() > deadline { throw BudgetExceeded(reason: "time budget of \(fmt(seconds, 2)) s exceeded") }
    }
}

struct BudgetExceeded: Error, Sendable {
    let reason: String
}

/// GumTree-style matching (Falleri et al., "Fine-grained and accurate source code
/// differencing", ASE 2014): identical subtrees (kinds and text) top-down by hash (largest
/// first, ambiguous ones settled by how alike their parents are); then declarations of the
/// same kind and name in corresponding scopes, outer scopes first; then containers bottom-up
/// by the share of matched descendants (dice), each new container pair followed by a
/// recovery pass over its unmatched children (identical subtrees, then equal kinds, in
/// order). Two declarations of different names are paired only as a true rename (see
/// DeclarationPair.mayPair). No recursion.
struct TreeMatcher {
    let a: DiffTree
    let b: DiffTree
    /// a-node -> b-node and back; -1 when unmatched.
    var m1: [Int32]
    var m2: [Int32]
    /// The a-node's whole subtree is mapped node for node onto its partner's.
    var iso1: [Bool]
    var budget: DiffBudget
    let identityFields: [Int32]
    let decls: DeclarationPair

    static let minHeight: Int32 = 2
    static let minDice = 0.5
    /// Ambiguous groups of identical subtrees with more pairs than this are left to recovery.
    static let maxCandidatePairs = 64
    /// Containers of at most this many nodes may be matched on their kind alone in recovery.
    static let smallSubtree = 64

    init(_ a: DiffTree, _ b: DiffTree, budget: DiffBudget, identityFields: [Int32], decls: DeclarationPair) {
        self.a = a
        self.b = b
        m1 = [Int32](repeating: -1, count: a.n)
        m2 = [Int32](repeating: -1, count: b.n)
        iso1 = [Bool](repeating: false, count: a.n)
        self.budget = budget
        self.identityFields = identityFields
        self.decls = decls
    }

    mutating func run() throws(BudgetExceeded) {
        try topDown()
        try pairByName(-1, -1)
        try bottomUp()
        try pruneOrphans()
    }

    /// Tiny subtrees matched although neither parent is (a `.` or a name shared by a deleted
    /// and an unrelated inserted statement) would be reported as moves of fragments: they are
    /// unmatched again, and so part of the enclosing delete and insert.
    static let orphanSize = 6

    private mutating func pruneOrphans() throws(BudgetExceeded) {
        var x = 1
        while x < a.n {
            let y = Int(m1[x])
            guard y > 0 else { x += 1; continue }
            if m1[Int(a.parent[x])] < 0 && m2[Int(b.parent[y])] < 0
                && a.size(x) <= Self.orphanSize && b.size(y) <= Self.orphanSize {
                for d in x..<Int(a.end[x]) where m1[d] >= 0 && b.isAncestor(y, of: Int(m1[d])) {
                    m2[Int(m1[d])] = -1
                    m1[d] = -1
                    iso1[d] = false
                }
                x = Int(a.end[x])
                continue
            }
            x += 1
        }
        try budget.spend(a.n)
    }

    // MARK: Mapping

    @inline(__always) mutating func link(_ x: Int, _ y: Int) {
        m1[x] = Int32(y)
        m2[y] = Int32(x)
    }

    /// Maps isomorphic subtrees node for node (same shape: same preorder offsets), skipping
    /// nodes already matched on either side.
    mutating func linkSubtrees(_ x: Int, _ y: Int) throws(BudgetExceeded) {
        let size = a.size(x)
        try budget.spend(size)
        var whole = true
        for k in 0..<size where m1[x + k] >= 0 || m2[y + k] >= 0 { whole = false; break }
        for k in 0..<size where m1[x + k] < 0 && m2[y + k] < 0 {
            link(x + k, y + k)
            if whole { iso1[x + k] = true }
        }
    }

    // MARK: Top-down

    /// Nodes waiting in the top-down phase, bucketed by height (heights only decrease).
    private struct Buckets {
        var lists: [[Int32]]
        var top: Int
        init(maxHeight: Int) { lists = Array(repeating: [], count: maxHeight + 1); top = maxHeight }
        mutating func push(_ i: Int, height: Int32) { lists[Int(height)].append(Int32(i)) }
        mutating func peek() -> Int32 {
            while top > 0 && lists[top].isEmpty { top -= 1 }
            return Int32(top)
        }
        mutating func pop() -> [Int32] {
            let out = lists[top]
            lists[top] = []
            return out
        }
    }

    private mutating func topDown() throws(BudgetExceeded) {
        var q1 = Buckets(maxHeight: Int(a.height[0]))
        var q2 = Buckets(maxHeight: Int(b.height[0]))
        if a.height[0] >= Self.minHeight { q1.push(0, height: a.height[0]) }
        if b.height[0] >= Self.minHeight { q2.push(0, height: b.height[0]) }
        var candidates: [(Int32, Int32)] = []
        func open(_ t: DiffTree, _ i: Int32, _ q: inout Buckets) {
            for k in Int(t.childStart[Int(i)])..<Int(t.childStart[Int(i) + 1]) {
                let c = Int(t.children[k])
                if t.height[c] >= Self.minHeight { q.push(c, height: t.height[c]) }
            }
        }
        while true {
            let h1 = q1.peek(), h2 = q2.peek()
            if h1 < Self.minHeight || h2 < Self.minHeight { break }
            if h1 > h2 {
                for i in q1.pop() { open(a, i, &q1) }
                continue
            }
            if h2 > h1 {
                for i in q2.pop() { open(b, i, &q2) }
                continue
            }
            let l1 = q1.pop().map { (a.hash[Int($0)], $0) }.sorted { $0.0 < $1.0 || ($0.0 == $1.0 && $0.1 < $1.1) }
            let l2 = q2.pop().map { (b.hash[Int($0)], $0) }.sorted { $0.0 < $1.0 || ($0.0 == $1.0 && $0.1 < $1.1) }
            try budget.spend(l1.count + l2.count)
            var i = 0, j = 0
            while i < l1.count || j < l2.count {
                let h: UInt64
                if j >= l2.count || (i < l1.count && l1[i].0 < l2[j].0) { h = l1[i].0 } else { h = l2[j].0 }
                var e1 = i, e2 = j
                while e1 < l1.count && l1[e1].0 == h { e1 += 1 }
                while e2 < l2.count && l2[e2].0 == h { e2 += 1 }
                let c1 = e1 - i, c2 = e2 - j
                if c1 == 1 && c2 == 1 {
                    try linkSubtrees(Int(l1[i].1), Int(l2[j].1))
                } else if c1 > 0 && c2 > 0 && c1 * c2 <= Self.maxCandidatePairs {
                    for x in i..<e1 { for y in j..<e2 { candidates.append((l1[x].1, l2[y].1)) } }
                } else {
                    for x in i..<e1 { open(a, l1[x].1, &q1) }
                    for y in j..<e2 { open(b, l2[y].1, &q2) }
                }
                i = e1; j = e2
            }
        }
        guard !candidates.isEmpty else { return }
        // Ambiguous identical subtrees: those whose parents are most alike first, then the
        // nearest in place among their siblings, then in document order.
        var diceCache: [UInt64: Double] = [:]
        var keyed: [(dice: Double, distance: Int, order: Int, x: Int32, y: Int32)] = []
        keyed.reserveCapacity(candidates.count)
        for (x, y) in candidates {
            let px = a.parent[Int(x)], py = b.parent[Int(y)]
            var d = 0.0
            if px >= 0 && py >= 0 {
                let key = UInt64(UInt32(px)) << 32 | UInt64(UInt32(py))
                if let c = diceCache[key] { d = c } else {
                    d = try dice(Int(px), Int(py))
                    diceCache[key] = d
                }
            }
            let distance = abs(Int(a.position[Int(x)]) - Int(b.position[Int(y)]))
            keyed.append((d, distance, Int(x) + Int(y), x, y))
        }
        keyed.sort { l, r in
            if l.dice != r.dice { return l.dice > r.dice }
            if l.distance != r.distance { return l.distance < r.distance }
            if l.order != r.order { return l.order < r.order }
            return l.x < r.x
        }
        // Pairs whose parents have nothing matched in common yet carry no evidence: they are
        // left to the bottom-up phase and recovery, which see them in context.
        for c in keyed where c.dice > 0 && m1[Int(c.x)] < 0 && m2[Int(c.y)] < 0 {
            try linkSubtrees(Int(c.x), Int(c.y))
        }
    }

    /// Dice coefficient of two containers: twice the a-descendants of x matched into y's
    /// subtree, over both descendant counts.
    mutating func dice(_ x: Int, _ y: Int) throws(BudgetExceeded) -> Double {
        let total = a.size(x) - 1 + b.size(y) - 1
        guard total > 0 else { return 0 }
        var common = 0
        var d = x + 1
        let stop = Int(a.end[x])
        var steps = 0
        while d < stop {
            steps += 1
            let p = m1[d]
            if p >= 0 {
                let inside = b.isAncestor(y, of: Int(p)) && Int(p) != y
                if iso1[d] {
                    if inside { common += a.size(d) }
                    d = Int(a.end[d])
                    continue
                }
                if inside { common += 1 }
            }
            d += 1
        }
        try budget.spend(steps)
        return 2 * Double(common) / Double(total)
    }

    // MARK: Declarations by name

    private struct DeclKey: Hashable {
        let label: Int32
        let name: UInt64
    }

    /// Pairs the unmatched declarations of scopes sx (old) and sy (new) (-1, -1: the top
    /// levels) that have the same kind and name, then those of each new pair's own scopes,
    /// breadth first; then recovers under each new pair. Several of one name (overloads,
    /// a property's getter and setter) pair in order when they are as many on both sides,
    /// else by how alike they are.
    mutating func pairByName(_ sx: Int32, _ sy: Int32) throws(BudgetExceeded) {
        var queue: [(Int32, Int32)] = [(sx, sy)]
        var head = 0
        var paired: [(Int, Int)] = []
        while head < queue.count {
            let (px, py) = queue[head]
            head += 1
            guard let olds = decls.a.members[px], let news = decls.b.members[py] else { continue }
            try budget.spend(olds.count + news.count)
            var newByKey: [DeclKey: [Int]] = [:]
            for y in news where m2[Int(y)] < 0 {
                newByKey[DeclKey(label: b.label[Int(y)], name: decls.b.nameHash[Int(y)]), default: []].append(Int(y))
            }
            guard !newByKey.isEmpty else { continue }
            var oldByKey: [DeclKey: [Int]] = [:]
            var keys: [DeclKey] = []
            for x in olds where m1[Int(x)] < 0 {
                let k = DeclKey(label: a.label[Int(x)], name: decls.a.nameHash[Int(x)])
                guard newByKey[k] != nil else { continue }
                if oldByKey[k] == nil { keys.append(k) }
                oldByKey[k, default: []].append(Int(x))
            }
            for k in keys {
                let xs = oldByKey[k]!, ys = newByKey[k]!
                var pairs: [(Int, Int)] = []
                if xs.count == ys.count || xs.count * ys.count > Self.maxCandidatePairs {
                    pairs = Array(zip(xs, ys))
                } else {
                    var scored: [(dice: Double, distance: Int, x: Int, y: Int)] = []
                    for (i, x) in xs.enumerated() {
                        for (j, y) in ys.enumerated() { scored.append((try dice(x, y), abs(i - j), x, y)) }
                    }
                    scored.sort { $0.dice != $1.dice ? $0.dice > $1.dice : $0.distance != $1.distance ? $0.distance < $1.distance : $0.x < $1.x }
                    var usedX = Set<Int>(), usedY = Set<Int>()
                    for c in scored where !usedX.contains(c.x) && !usedY.contains(c.y) {
                        usedX.insert(c.x); usedY.insert(c.y)
                        pairs.append((c.x, c.y))
                    }
                }
                for (x, y) in pairs where m1[x] < 0 && m2[y] < 0 {
                    link(x, y)
                    paired.append((x, y))
                    queue.append((Int32(x), Int32(y)))
                }
            }
        }
        for (x, y) in paired { try recover(x, y) }
    }

    // MARK: Bottom-up

    private mutating func bottomUp() throws(BudgetExceeded) {
        var anyMatched = [Bool](repeating: false, count: a.n)
        var count = [Int32](repeating: 0, count: b.n)
        var stamp = [Int32](repeating: -1, count: b.n)
        var touched: [Int32] = []
        // Postorder by popping a stack of open ancestors as preorder proceeds.
        var stack: [Int32] = []
        var order: [Int32] = []
        order.reserveCapacity(a.n)
        for i in 0..<a.n {
            let p = a.parent[i]
            while let top = stack.last, top != p { order.append(top); stack.removeLast() }
            stack.append(Int32(i))
        }
        while let top = stack.popLast() { order.append(top) }
        try budget.spend(a.n)

        for t32 in order {
            let t = Int(t32)
            if m1[t] < 0 && t == 0 {
                if m2[0] < 0 {
                    link(0, 0)
                    try recover(0, 0)
                }
            } else if m1[t] < 0 && anyMatched[t] {
                // Candidates: unmatched b-ancestors of the partners of t's matched descendants,
                // of t's kind; each counts the descendants that lead to it.
                touched.removeAll(keepingCapacity: true)
                var d = t + 1
                let stop = Int(a.end[t])
                var steps = 0
                while d < stop {
                    steps += 1
                    let p = m1[d]
                    if p >= 0 {
                        let weight: Int32
                        let next: Int
                        if iso1[d] { weight = Int32(a.size(d)); next = Int(a.end[d]) } else { weight = 1; next = d + 1 }
                        var up = Int(b.parent[Int(p)])
                        while up >= 0 {
                            steps += 1
                            if m2[up] < 0 && b.label[up] == a.label[t] {
                                if stamp[up] != t32 { stamp[up] = t32; count[up] = 0; touched.append(Int32(up)) }
                                count[up] += weight
                            }
                            up = Int(b.parent[up])
                        }
                        d = next
                    } else {
                        d += 1
                    }
                }
                try budget.spend(steps)
                // The best candidate over the dice threshold: by dice, plus a little for
                // identical children and siblings (which tells nested calls apart when a
                // level was added or removed), then the nearest.
                var best = -1
                var bestScore = -1.0
                var bestDistance = Int.max
                let sizeT = a.size(t) - 1
                for c32 in touched {
                    let c = Int(c32)
                    guard decls.mayPair(t, c) else { continue }
                    let total = sizeT + b.size(c) - 1
                    guard total > 0 else { continue }
                    let dice = 2 * Double(count[c]) / Double(total)
                    guard dice > Self.minDice else { continue }
                    let score = dice + 0.5 * agreement(t, c) + 0.2 * agreement(Int(a.parent[t]), Int(b.parent[c]))
                    let distance = abs(Int(a.file.tree.starts[t]) - Int(b.file.tree.starts[c]))
                    if score > bestScore || (score == bestScore && distance < bestDistance) {
                        best = c; bestScore = score; bestDistance = distance
                    }
                }
                try budget.spend(touched.count * 8)
                if best >= 0 {
                    link(t, best)
                    if decls.a.isDecl[t] && decls.b.isDecl[best] {
                        try pairByName(Int32(t), Int32(best))
                    }
                    try recover(t, best)
                }
            }
            if m1[t] >= 0 || anyMatched[t] {
                let p = Int(a.parent[t])
                if p >= 0 { anyMatched[p] = true }
            }
        }
    }

    /// Share of the children of x and y that are identical subtrees in the same field (or,
    /// without fields, at the same position); 0 when either is absent.
    private func agreement(_ x: Int, _ y: Int) -> Double {
        guard x >= 0, y >= 0 else { return 0 }
        let nx = a.childCount(x), ny = b.childCount(y)
        guard nx > 0, ny > 0, nx <= 64, ny <= 64 else { return 0 }
        var same = 0
        for k in 0..<nx {
            let c = a.child(x, k)
            let f = a.field[c]
            if f != 0 {
                for j in 0..<ny where b.field[b.child(y, j)] == f {
                    if a.hash[c] == b.hash[b.child(y, j)] { same += 1 }
                    break
                }
            } else if k < ny, a.hash[c] == b.hash[b.child(y, k)] {
                same += 1
            }
        }
        return Double(same) / Double(max(nx, ny))
    }

    // MARK: Recovery

    /// Matches what is left under a new container pair. Its children already matched to each
    /// other (in order) are anchors; in each gap between them, unmatched children with
    /// identical subtrees are matched in order, then, between those, children of equal kinds
    /// (recursively, through the queue).
    mutating func recover(_ x0: Int, _ y0: Int) throws(BudgetExceeded) {
        var queue: [(Int, Int)] = [(x0, y0)]
        while let (x, y) = queue.popLast() {
            let na = a.childCount(x), nb = b.childCount(y)
            try budget.spend(na + nb + 1)
            guard na > 0, nb > 0 else { continue }
            // Anchors: children matched to children of y, longest in-order run of them.
            var fixedA: [Int] = [], fixedB: [Int] = []
            var anyFree = false
            for k in 0..<na {
                let c = a.child(x, k)
                let p = Int(m1[c])
                if p >= 0 {
                    if Int(b.parent[p]) == y { fixedA.append(k); fixedB.append(Int(b.position[p])) }
                } else {
                    anyFree = true
                }
            }
            guard anyFree else { continue }
            var anchors: [(Int, Int)] = []
            for k in Align.increasingRun(fixedB) { anchors.append((fixedA[k], fixedB[k])) }
            anchors.append((na, nb))
            var pa = 0, pb = 0
            for (ea, eb) in anchors {
                if ea > pa && eb > pb {
                    let ca = (pa..<ea).map { a.child(x, $0) }.filter { m1[$0] < 0 }
                    let cb = (pb..<eb).map { b.child(y, $0) }.filter { m2[$0] < 0 }
                    if !ca.isEmpty && !cb.isEmpty { try matchGap(ca, cb, &queue) }
                }
                pa = ea + 1; pb = eb + 1
            }
        }
    }

    private mutating func matchGap(_ ca: [Int], _ cb: [Int], _ queue: inout [(Int, Int)]) throws(BudgetExceeded) {
        var work = 0
        let same = Align.common(ca.map { a.hash[$0] }, cb.map { b.hash[$0] }, work: &work)
        try budget.spend(work)
        var anchors: [(Int, Int)] = []
        for (i, j) in same {
            let cx = ca[i], cy = cb[j]
            guard m1[cx] < 0, m2[cy] < 0 else { continue }
            try linkSubtrees(cx, cy)
            anchors.append((i, j))
        }
        anchors.append((ca.count, cb.count))
        var pi = 0, pj = 0
        for (i, j) in anchors {
            if i > pi && j > pj {
                let ga = Array(ca[pi..<i]), gb = Array(cb[pj..<j])
                var census = GapCensus()
                for x in ga { census.labelsA[a.label[x], default: 0] += 1; census.fieldsA[a.field[x], default: 0] += 1 }
                for y in gb { census.labelsB[b.label[y], default: 0] += 1; census.fieldsB[b.field[y], default: 0] += 1 }
                work = ga.count + gb.count
                let kinds = Align.common(ga.map { UInt64(UInt32(bitPattern: a.label[$0])) },
                                         gb.map { UInt64(UInt32(bitPattern: b.label[$0])) }, work: &work)
                try budget.spend(work)
                var qi = 0, qj = 0
                for (gi, gj) in kinds + [(ga.count, gb.count)] {
                    // A lone token facing a lone token between kind matches (an operator
                    // or a literal that changed kind): the same token, updated.
                    if gi - qi == 1 && gj - qj == 1 {
                        let lx = ga[qi], ly = gb[qj]
                        if m1[lx] < 0 && m2[ly] < 0 && a.isLeaf(lx) && b.isLeaf(ly) { link(lx, ly) }
                    }
                    qi = gi + 1; qj = gj + 1
                    guard gi < ga.count else { break }
                    let cx = ga[gi], cy = gb[gj]
                    guard m1[cx] < 0, m2[cy] < 0, acceptable(cx, cy, census) else { continue }
                    link(cx, cy)
                    queue.append((cx, cy))
                }
            }
            pi = i + 1; pj = j + 1
        }
    }

    /// Whether two unmatched children of equal kind, facing each other in a gap, are the
    /// same node changed rather than one deleted and another inserted.
    /// How many children of each kind and field a gap holds on each side.
    private struct GapCensus {
        var labelsA: [Int32: Int] = [:], labelsB: [Int32: Int] = [:]
        var fieldsA: [Int32: Int] = [:], fieldsB: [Int32: Int] = [:]
    }

    private func acceptable(_ x: Int, _ y: Int, _ census: GapCensus) -> Bool {
        guard decls.mayPair(x, y) else { return false }
        if decls.a.isDecl[x] && decls.b.isDecl[y] && decls.a.nameHash[x] == decls.b.nameHash[y] { return true }
        if a.isLeaf(x) && b.isLeaf(y) { return true }
        if max(a.size(x), b.size(y)) <= Self.smallSubtree { return true }
        let f = a.field[x]
        if f != 0 && f == b.field[y] && census.fieldsA[f] == 1 && census.fieldsB[f] == 1 { return true }
        if sameIdentity(x, y) { return true }
        // The only ones of their kind facing each other, of comparable size.
        let l = a.label[x]
        if census.labelsA[l] == 1 && census.labelsB[l] == 1
            && min(a.size(x), b.size(y)) * 4 >= max(a.size(x), b.size(y)) {
            return true
        }
        return false
    }

    /// Both have children in identifying fields (name, type, trait, declarator), the same
    /// fields, with identical subtrees: the same declaration, changed inside.
    private func sameIdentity(_ x: Int, _ y: Int) -> Bool {
        var found = 0
        for k in 0..<a.childCount(x) {
            let c = a.child(x, k)
            let f = a.field[c]
            guard f != 0, identityFields.contains(f) else { continue }
            var matched = false
            for j in 0..<b.childCount(y) {
                let d = b.child(y, j)
                if b.field[d] == f { matched = a.hash[c] == b.hash[d]; break }
            }
            guard matched else { return false }
            found += 1
        }
        guard found > 0 else { return false }
        var other = 0
        for j in 0..<b.childCount(y) where identityFields.contains(b.field[b.child(y, j)]) { other += 1 }
        return other == found
    }
}
