/// Turns a matching into reported changes: runs of unmatched siblings under a matched parent
/// are inserted or deleted, matched nodes whose own text differs are updated, matched nodes
/// under a parent that is not their old parent's partner (or out of order among siblings that
/// stayed) are moved. Moves that only wrap or unwrap a node in place (its nearest matched
/// ancestors correspond) are not reported: the enclosing insert or delete covers them.
/// Each change is grouped under its enclosing named declaration.
struct EditScript {
    let a: DiffTree
    let b: DiffTree
    let m1: [Int32]
    let m2: [Int32]

    let facts: [TableFacts]
    let decls: DeclarationPair

    init(a: DiffTree, b: DiffTree, m1: [Int32], m2: [Int32], facts: (TableFacts, TableFacts), decls: DeclarationPair) {
        self.a = a
        self.b = b
        self.m1 = m1
        self.m2 = m2
        self.facts = [facts.0, facts.1]
        self.decls = decls
    }

    private struct Raw {
        var op: NodeChange.Op
        /// First and last node of the run (a run of one for update and move); old side for
        /// delete, new side for insert, both for update and move.
        var oldFirst = -1, oldLast = -1, newFirst = -1, newLast = -1
        var sortKey = 0
        var order = 0
    }

    /// Each maximal run of consecutive unmatched children under a matched parent of `t`.
    private static func unmatchedRuns(in t: DiffTree, partners: [Int32], _ run: (_ parent: Int, _ first: Int, _ last: Int) -> Void) {
        for parent in 0..<t.n where partners[parent] >= 0 {
            var k = 0
            let count = t.childCount(parent)
            while k < count {
                let c = t.child(parent, k)
                k += 1
                if partners[c] >= 0 { continue }
                var last = c
                while k < count, partners[t.child(parent, k)] < 0 { last = t.child(parent, k); k += 1 }
                run(parent, c, last)
            }
        }
    }

    mutating func build(budget: inout DiffBudget) throws(BudgetExceeded) -> (changes: [NodeChange], groups: [ChangeGroup]) {
        var raws: [Raw] = []
        // Inserted runs under matched new parents; deleted runs under matched old parents.
        Self.unmatchedRuns(in: b, partners: m2) { _, first, last in
            raws.append(Raw(op: .insert, newFirst: first, newLast: last, sortKey: Int(b.file.tree.starts[first]) * 4 + 2))
        }
        try budget.spend(b.n)
        Self.unmatchedRuns(in: a, partners: m1) { parent, first, last in
            raws.append(Raw(op: .delete, oldFirst: first, oldLast: last, sortKey: deletePosition(parent, first: first) * 4 + 1))
        }
        try budget.spend(a.n)
        // Updates: matched nodes whose own text or kind differs.
        for x in 0..<a.n where m1[x] >= 0 && (a.value[x] != b.value[Int(m1[x])] || a.label[x] != b.label[Int(m1[x])]) {
            let y = Int(m1[x])
            raws.append(Raw(op: .update, oldFirst: x, oldLast: x, newFirst: y, newLast: y, sortKey: Int(b.file.tree.starts[y]) * 4 + 3))
        }
        // Moves to another parent.
        var moved = [Bool](repeating: false, count: b.n)
        var steps = 0
        for y in 1..<max(b.n, 1) where m2[y] >= 0 {
            let x = Int(m2[y])
            let px = Int(a.parent[x]), py = Int(b.parent[y])
            guard px >= 0, py >= 0, Int(m1[px]) != py else { continue }
            if m1[px] < 0 || m2[py] < 0 {
                // Wrapped or unwrapped in place: nearest matched ancestors correspond.
                var up1 = px, up2 = py
                while up1 >= 0, m1[up1] < 0 { up1 = Int(a.parent[up1]); steps += 1 }
                while up2 >= 0, m2[up2] < 0 { up2 = Int(b.parent[up2]); steps += 1 }
                if up1 >= 0, up2 >= 0, Int(m1[up1]) == up2 { continue }
            }
            moved[y] = true
        }
        try budget.spend(steps + b.n)
        // Moves among siblings that stayed: those outside a longest run in the old order.
        for py in 0..<b.n where m2[py] >= 0 {
            let px = Int(m2[py])
            var kids: [Int] = [], positions: [Int] = []
            for k in 0..<b.childCount(py) {
                let y = b.child(py, k)
                guard m2[y] >= 0, Int(a.parent[Int(m2[y])]) == px else { continue }
                kids.append(y)
                positions.append(Int(a.position[Int(m2[y])]))
            }
            guard kids.count > 1 else { continue }
            var inOrder = true
            for k in 1..<positions.count where positions[k] < positions[k - 1] { inOrder = false; break }
            if inOrder { continue }
            var keep = [Bool](repeating: false, count: kids.count)
            for k in Align.increasingRun(positions) { keep[k] = true }
            for k in kids.indices where !keep[k] { moved[kids[k]] = true }
            try budget.spend(kids.count * 4)
        }
        for y in 0..<b.n where moved[y] {
            let x = Int(m2[y])
            raws.append(Raw(op: .move, oldFirst: x, oldLast: x, newFirst: y, newLast: y, sortKey: Int(b.file.tree.starts[y]) * 4))
        }
        // Anonymous tokens of white space only (Go's and Python's newline terminators) are
        // layout, not structure.
        raws.removeAll { r in
            let (t, first, last) = r.newFirst >= 0 ? (b, r.newFirst, r.newLast) : (a, r.oldFirst, r.oldLast)
            return r.op != .update && isBlank(t, first, last)
        }
        for k in raws.indices { raws[k].order = k }
        raws.sort { $0.sortKey != $1.sortKey ? $0.sortKey < $1.sortKey : $0.order < $1.order }
        try budget.spend(raws.count * 8)
        return try describe(raws, budget: &budget)
    }

    /// Whether a run of siblings is anonymous tokens whose text is all white space.
    private func isBlank(_ t: DiffTree, _ first: Int, _ last: Int) -> Bool {
        let p = Int(t.parent[first])
        for k in Int(t.position[first])...Int(t.position[last]) where !t.isLayout(p >= 0 ? t.child(p, k) : first) { return false }
        return true
    }

    /// Where a deleted run sits in the new file: after the partner of its nearest matched
    /// preceding sibling, else at the start of its parent's partner.
    private func deletePosition(_ parent: Int, first: Int) -> Int {
        let py = Int(m1[parent])
        var j = Int(a.position[first]) - 1
        while j >= 0 {
            let s = a.child(parent, j)
            if m1[s] >= 0 {
                let p = Int(m1[s])
                if Int(b.parent[p]) == py { return Int(b.file.tree.ends[p]) }
                break
            }
            j -= 1
        }
        return Int(b.file.tree.starts[py])
    }

    // MARK: Describing

    private mutating func describe(_ raws: [Raw], budget: inout DiffBudget) throws(BudgetExceeded) -> (changes: [NodeChange], groups: [ChangeGroup]) {
        var changes: [NodeChange] = []
        var groups: [ChangeGroup] = []
        var groupIndex: [Int: Int] = [:] // (side << 40 | node) -> group
        for r in raws {
            let side = r.newFirst >= 0 ? 1 : 0
            let t = side == 1 ? b : a
            let v = side == 1 ? r.newFirst : r.oldFirst
            var c = NodeChange(op: r.op, kind: "", old: nil, new: nil, oldText: nil, newText: nil, group: 0, part: nil,
                               oldNode: r.oldFirst, newNode: r.newFirst, oldLastNode: r.oldLast, newLastNode: r.newLast)
            if r.oldFirst >= 0 {
                c.old = span(a, r.oldFirst, r.oldLast)
                c.oldText = text(a, c.old!)
            }
            if r.newFirst >= 0 {
                c.new = span(b, r.newFirst, r.newLast)
                c.newText = text(b, c.new!)
            }
            c.kind = kindText(t, first: v, last: side == 1 ? r.newLast : r.oldLast)
            if r.op == .insert || r.op == .delete {
                // Matched nodes inside the run stay: wrapped in the inserted nodes or
                // unwrapped from the deleted ones.
                let partners = side == 1 ? m2 : m1
                var d = v
                let stop = Int(t.end[side == 1 ? r.newLast : r.oldLast])
                while d < stop {
                    if partners[d] >= 0 {
                        if !t.isLayout(d) && inPlace(side, d) { c.kept.append(span(t, d, d)) }
                        d = Int(t.end[d])
                    } else {
                        d += 1
                    }
                }
                try budget.spend(stop - v)
            }
            if r.op == .update, a.label[r.oldFirst] != b.label[r.newFirst], kindName(a, r.oldFirst) != c.kind {
                c.kind = kindName(a, r.oldFirst) + " → " + c.kind
            }
            // The enclosing declaration (a matched one is keyed by its new side).
            let layout = grouping(side)
            let decl = Int(layout.group[v])
            var keySide = side, keyNode = decl
            if decl >= 0, side == 0, m1[decl] >= 0 { keySide = 1; keyNode = Int(m1[decl]) }
            let key = decl < 0 ? -1 : (keySide << 40 | keyNode)
            let g: Int
            if let existing = groupIndex[key] {
                g = existing
            } else {
                g = groups.count
                groupIndex[key] = g
                groups.append(ChangeGroup(path: decl < 0 ? [] : declarationPath(keySide, keyNode), parts: [], changes: []))
            }
            if decl >= 0 {
                let node = Int(layout.part[v])
                c.part = t.file.fieldName(node) ?? t.file.kindName(node)
                if !groups[g].parts.contains(c.part!) { groups[g].parts.append(c.part!) }
            }
            c.group = g
            groups[g].changes.append(changes.count)
            changes.append(c)
        }
        return (changes, groups)
    }

    /// Every matched pair of declarations whose names differ, in new-file order.
    mutating func renames() -> [DeclarationRename] {
        var out: [DeclarationRename] = []
        for y in 0..<b.n where decls.b.isDecl[y] && m2[y] >= 0 {
            let x = Int(m2[y])
            guard decls.a.isDecl[x], decls.a.nameHash[x] != decls.b.nameHash[y] else { continue }
            func scope(_ t: DiffTree, _ d: Declarations, _ i: Int) -> [String] {
                var names: [String] = []
                var up = Int(d.scope[i])
                while up >= 0 { names.append(declName(t, d, up) ?? ""); up = Int(d.scope[up]) }
                return names.reversed()
            }
            out.append(DeclarationRename(kind: b.file.kindName(y), oldName: declName(a, decls.a, x) ?? "", newName: declName(b, decls.b, y) ?? "",
                                         oldScope: scope(a, decls.a, x), newScope: scope(b, decls.b, y),
                                         old: span(a, x, x), new: span(b, y, y)))
        }
        return out
    }

    /// Whether a matched node under an unmatched parent stays in place: its nearest matched
    /// ancestor and its partner's correspond (else it is reported moved).
    private func inPlace(_ side: Int, _ node: Int) -> Bool {
        let (t, u, own, other) = side == 1 ? (b, a, m2, m1) : (a, b, m1, m2)
        var up1 = Int(t.parent[node]), up2 = Int(u.parent[Int(own[node])])
        while up1 >= 0 && own[up1] < 0 { up1 = Int(t.parent[up1]) }
        while up2 >= 0 && other[up2] < 0 { up2 = Int(u.parent[up2]) }
        return up1 >= 0 && up2 >= 0 && Int(own[up1]) == up2
    }

    private mutating func declarationPath(_ side: Int, _ node: Int) -> [Declaration] {
        let t = side == 1 ? b : a
        let layout = grouping(side)
        var out: [Declaration] = []
        var up = node
        let own = side == 1 ? decls.b : decls.a
        while up >= 0 {
            let name = declName(t, own, up) ?? ""
            var d = Declaration(kind: t.file.kindName(up), name: name, oldName: nil)
            if side == 1, m2[up] >= 0, decls.a.isDecl[Int(m2[up])], decls.a.nameHash[Int(m2[up])] != decls.b.nameHash[up],
               let old = declName(a, decls.a, Int(m2[up])), old != name {
                d.oldName = old
            }
            out.append(d)
            up = Int(layout.declAbove[up])
        }
        return out.reversed()
    }

    /// Where changes of one side are grouped, computed in one preorder pass: for a change at
    /// node i, the declaration it is grouped under (the outermost function-like declaration
    /// enclosing i's parent, else the innermost declaration; -1 at the top level), and its
    /// child on the way down to i (the "part" that changed).
    struct Grouping {
        var group: [Int32]
        var part: [Int32]
        var declAbove: [Int32]
    }
    private var groupings: [Grouping?] = [nil, nil]

    private mutating func grouping(_ side: Int) -> Grouping {
        if let g = groupings[side] { return g }
        let t = side == 1 ? b : a
        let kindFunction = facts[side].kindFunction
        let isDecl = (side == 1 ? decls.b : decls.a).isDecl
        var g = Grouping(group: [Int32](repeating: -1, count: t.n),
                         part: [Int32](repeating: -1, count: t.n), declAbove: [Int32](repeating: -1, count: t.n))
        var inner = [Int32](repeating: -1, count: t.n), outerFunction = [Int32](repeating: -1, count: t.n)
        for i in 0..<t.n {
            let kind = Int(t.file.tree.kinds[i])
            let decl = isDecl[i]
            let p = Int(t.parent[i])
            inner[i] = decl ? Int32(i) : (p >= 0 ? inner[p] : -1)
            outerFunction[i] = p >= 0 && outerFunction[p] >= 0 ? outerFunction[p] : (decl && kindFunction[kind] ? Int32(i) : -1)
            guard p >= 0 else { continue }
            g.declAbove[i] = inner[p]
            let group = outerFunction[p] >= 0 ? outerFunction[p] : inner[p]
            g.group[i] = group
            g.part[i] = group < 0 ? -1 : (Int32(p) == group ? Int32(i) : g.part[p])
        }
        groupings[side] = g
        return g
    }

    // MARK: Declarations

    private static let declWords = ["function", "method", "class", "struct", "enum", "interface", "trait", "impl",
                                    "module", "namespace", "constructor", "definition", "declaration", "item",
                                    "type_alias", "macro", "union", "protocol", "extension", "object", "record",
                                    "subroutine", "procedure"]
    private static let notDeclWords = ["call", "invocation", "expression", "parameter", "argument", "declarator",
                                       "identifier", "reference", "access", "pattern", "specifier", "body", "list",
                                       "literal", "statement", "import", "use_", "include", "arguments", "clause",
                                       "modifier", "heritage", "bound", "field_initializer"]
    private static let functionWords = ["function", "method", "constructor", "subroutine", "procedure"]

    static func isFunctionKind(_ kind: String) -> Bool { functionWords.contains(where: { kind.contains($0) }) }

    static func isDeclKind(_ kind: String) -> Bool {
        declWords.contains(where: { kind.contains($0) }) && !notDeclWords.contains(where: { kind.contains($0) })
    }

    private func declName(_ t: DiffTree, _ d: Declarations, _ i: Int) -> String? {
        let n = Int(d.nameNode[i])
        return n < 0 ? nil : nameText(t, n)
    }

    /// A declaration's name: the whole text of its name node, white space trimmed (a C
    /// declarator may span lines).
    private func nameText(_ t: DiffTree, _ i: Int) -> String? {
        guard let src = t.file.source else { return nil }
        var lo = min(max(Int(t.file.tree.starts[i]), 0), src.count), hi = min(max(Int(t.file.tree.ends[i]), lo), src.count)
        while lo < hi, isSpace(src[lo]) { lo += 1 }
        while hi > lo, isSpace(src[hi - 1]) { hi -= 1 }
        return lo < hi ? String(decoding: src[lo..<hi], as: UTF8.self) : nil
    }

    // MARK: Text

    /// A named node's kind; an anonymous token is named by where it is ("binary_operator.operator",
    /// "argument_list token"), its text being shown anyway.
    private func kindName(_ t: DiffTree, _ i: Int) -> String {
        if t.file.isNamed(i) { return t.file.kindName(i) }
        let p = Int(t.parent[i])
        guard p >= 0 else { return "token" }
        return t.file.kindName(p) + (t.file.fieldName(i).map { "." + $0 } ?? " token")
    }

    /// The whole text of a span (invalid UTF-8 shown as U+FFFD).
    private func text(_ t: DiffTree, _ s: SourceSpan) -> String {
        guard let src = t.file.source else { return "" }
        let lo = min(max(s.startByte, 0), src.count), hi = min(max(s.endByte, lo), src.count)
        return String(decoding: src[lo..<hi], as: UTF8.self)
    }

    private func span(_ t: DiffTree, _ first: Int, _ last: Int) -> SourceSpan {
        let s = Int(t.file.tree.starts[first]), e = Int(t.file.tree.ends[last])
        return SourceSpan(startByte: s, endByte: e, start: lineColumn(t.file, s), end: lineColumn(t.file, e))
    }

    private func kindText(_ t: DiffTree, first: Int, last: Int) -> String {
        guard first != last else { return kindName(t, first) }
        var named: [String] = [], all: [String] = []
        let p = Int(t.parent[first])
        for k in Int(t.position[first])...Int(t.position[last]) {
            let c = p >= 0 ? t.child(p, k) : first
            let name = t.file.kindName(c)
            if t.file.isNamed(c) { if !named.contains(name) { named.append(name) } } else if !all.contains(name) { all.append(name) }
        }
        return (named.isEmpty ? all : named).joined(separator: ", ")
    }
}

func lineColumn(_ f: FileTree, _ byte: Int) -> LineColumn {
    if let p = f.point(UInt32(byte)) { return LineColumn(line: p.line, column: p.column) }
    return LineColumn(line: 1, column: byte + 1)
}
