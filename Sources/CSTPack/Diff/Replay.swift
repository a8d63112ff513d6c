/// Replays a reported edit script on the old tree and compares the result with the new tree:
/// kinds, own texts and order of children, node for node. What the script says is applied as
/// GumTree's actions are: a deleted run goes with its subtree; an inserted run comes with
/// its subtree; a moved node goes to its new parent at its new index; an updated node takes
/// its new kind and text; every other node stays under its parent, in its order, around the
/// nodes placed at fixed indices. Nodes that are not named by an action are identified
/// through the matching (which old node a new parent is), as GumTree's actions refer to the
/// nodes of the tree being edited.
///
/// Two things are implied rather than listed, as the report describes them: a matched node
/// whose new parent is not its old parent's partner but whose nearest matched ancestors
/// correspond (wrapped in an inserted node or unwrapped from a deleted one, in place) goes
/// where its partner is; anonymous tokens of white space only (newline terminators) are
/// layout and take no part.
struct EditReplay {
    let a: DiffTree
    let b: DiffTree
    let m1: [Int32]
    let m2: [Int32]

    /// nil when the script replays to the new tree; else the first difference found.
    func check(_ changes: [NodeChange]) -> String? {
        let layoutA = (0..<a.n).map { a.isLayout($0) }, layoutB = (0..<b.n).map { b.isLayout($0) }
        var deleted = [Bool](repeating: false, count: a.n), inserted = [Bool](repeating: false, count: b.n)
        var movedTo = [Int32](repeating: -1, count: a.n), updatedTo = [Int32](repeating: -1, count: a.n)
        for c in changes {
            switch c.op {
            case .delete:
                guard let r = run(a, c.oldNode, c.oldLastNode) else { return "delete of an invalid run \(c.oldNode)...\(c.oldLastNode)" }
                for x in r { deleted[x] = true }
            case .insert:
                guard let r = run(b, c.newNode, c.newLastNode) else { return "insert of an invalid run \(c.newNode)...\(c.newLastNode)" }
                for y in r { inserted[y] = true }
            case .move:
                guard valid(a, c.oldNode), valid(b, c.newNode) else { return "move of an invalid node" }
                movedTo[c.oldNode] = Int32(c.newNode)
            case .update:
                guard valid(a, c.oldNode), valid(b, c.newNode) else { return "update of an invalid node" }
                updatedTo[c.oldNode] = Int32(c.newNode)
            }
        }
        // Non-layout index of each new node among its siblings.
        var slot = [Int32](repeating: 0, count: b.n)
        for p in 0..<b.n {
            var k: Int32 = 0
            for j in 0..<b.childCount(p) {
                let c = b.child(p, j)
                slot[c] = k
                if !layoutB[c] { k += 1 }
            }
        }
        // Nodes of the edited tree: old ones (id x) and inserted new ones (id a.n + y).
        let total = a.n + b.n
        func id(ofNew z: Int) -> Int { m2[z] >= 0 ? Int(m2[z]) : a.n + z }
        var fixed = [[(slot: Int32, node: Int32)]](repeating: [], count: total)
        var staying = [[Int32]](repeating: [], count: total)
        var placed = 0
        for x in 1..<max(a.n, 1) where !layoutA[x] {
            let y = Int(m1[x])
            if y < 0 {
                if deleted[x] { continue }
                staying[Int(a.parent[x])].append(Int32(x))
            } else if movedTo[x] >= 0 {
                guard Int(movedTo[x]) == y else { return "move of \(describeOld(x)) to \(describeNew(Int(movedTo[x]))), not to its partner" }
                fixed[id(ofNew: Int(b.parent[y]))].append((slot[y], Int32(x)))
            } else if m1[Int(a.parent[x])] == b.parent[y] {
                staying[Int(a.parent[x])].append(Int32(x))
            } else {
                // Wrapped or unwrapped in place: the nearest matched ancestors correspond.
                var up1 = Int(a.parent[x]), up2 = Int(b.parent[y])
                while up1 >= 0 && m1[up1] < 0 { up1 = Int(a.parent[up1]) }
                while up2 >= 0 && m2[up2] < 0 { up2 = Int(b.parent[up2]) }
                guard up1 >= 0, up2 >= 0, Int(m1[up1]) == up2 else {
                    return "\(describeOld(x)) goes to \(describeNew(y)) without a reported move"
                }
                fixed[id(ofNew: Int(b.parent[y]))].append((slot[y], Int32(x)))
            }
            placed += 1
        }
        for y in 1..<max(b.n, 1) where !layoutB[y] && m2[y] < 0 && inserted[y] {
            fixed[id(ofNew: Int(b.parent[y]))].append((slot[y], Int32(a.n + y)))
            placed += 1
        }
        // Walk the edited tree and the new one together.
        func labelValue(_ t: Int) -> (Int32, UInt64) {
            if t >= a.n { return (b.label[t - a.n], b.value[t - a.n]) }
            let u = Int(updatedTo[t])
            return u >= 0 ? (b.label[u], b.value[u]) : (a.label[t], a.value[t])
        }
        var stack: [(Int, Int)] = [(0, 0)]
        var reached = 0
        var order: [Int32] = []
        while let (t, z) = stack.popLast() {
            let (label, value) = labelValue(t)
            if label != b.label[z] { return "\(describeNew(z)): the replay has kind \(kindName(t)) there" }
            if value != b.value[z] { return "\(describeNew(z)): the replay has other text there (\(t >= a.n ? "inserted" : describeOld(t)))" }
            // Children: nodes at fixed slots, the staying ones in old order around them.
            let count = fixed[t].count + staying[t].count
            order = [Int32](repeating: -1, count: count)
            for (s, c) in fixed[t] {
                guard Int(s) < count, order[Int(s)] < 0 else {
                    return "\(describeNew(z)): two nodes or none at child \(s) of \(count) in the replay"
                }
                order[Int(s)] = c
            }
            var k = 0
            for c in staying[t] {
                while order[k] >= 0 { k += 1 }
                order[k] = c
            }
            var kids: [Int] = []
            for j in 0..<b.childCount(z) where !layoutB[b.child(z, j)] { kids.append(b.child(z, j)) }
            guard kids.count == count else {
                return "\(describeNew(z)): \(kids.count) children in the new tree, \(count) in the replay"
            }
            for (c, k) in zip(order, kids) { stack.append((Int(c), k)) }
            reached += count
        }
        if reached != placed { return "\(placed - reached) nodes of the replay are not under its root" }
        return nil
    }

    private func valid(_ t: DiffTree, _ i: Int) -> Bool { i >= 0 && i < t.n }

    /// The preorder range of a run of siblings first...last (with their subtrees).
    private func run(_ t: DiffTree, _ first: Int, _ last: Int) -> Range<Int>? {
        guard valid(t, first), valid(t, last), first > 0, t.parent[first] == t.parent[last], first <= last else { return nil }
        return first..<Int(t.end[last])
    }

    private func kindName(_ t: Int) -> String {
        t >= a.n ? b.file.kindName(t - a.n) : a.file.kindName(t)
    }

    private func describeOld(_ x: Int) -> String { describe(a, x, side: "old") }
    private func describeNew(_ y: Int) -> String { describe(b, y, side: "new") }

    private func describe(_ t: DiffTree, _ i: Int, side: String) -> String {
        let p = lineColumn(t.file, Int(t.file.tree.starts[i]))
        return "\(t.file.kindName(i)) at \(side) \(p.line):\(p.column)"
    }
}
