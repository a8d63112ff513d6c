/// One file's tree as pattern matching walks it: children in order, text.
struct SyntaxView {
    let tree: TreeView
    /// Children of node i: `kids[offsets[i]..<offsets[i+1]]` (CSTTree.childLists).
    let offsets: UnsafeBufferPointer<Int32>
    let kids: UnsafeBufferPointer<Int32>

    @inline(__always) func children(_ i: Int) -> UnsafeBufferPointer<Int32> {
        UnsafeBufferPointer(rebasing: kids[Int(offsets[i])..<Int(offsets[i + 1])])
    }
    @inline(__always) func isNamed(_ i: Int) -> Bool { tree.flags[i].contains(.named) }
    func namedChildCount(_ i: Int) -> Int {
        var n = 0
        for k in children(i) where isNamed(Int(k)) { n += 1 }
        return n
    }
    func text(_ i: Int) -> UnsafeBufferPointer<UInt8> {
        guard let s = tree.source, let base = s.baseAddress else { return UnsafeBufferPointer(start: nil, count: 0) }
        let a = Int(tree.starts[i]), b = Int(tree.ends[i])
        guard a <= b, b <= s.count else { return UnsafeBufferPointer(start: nil, count: 0) }
        return UnsafeBufferPointer(start: base + a, count: b - a)
    }
    func sameText(_ i: Int, _ bytes: [UInt8]) -> Bool {
        let t = text(i)
        return t.count == bytes.count && bytes.withUnsafeBufferPointer { b in t.elementsEqual(b) }
    }
    func sameText(_ i: Int, _ j: Int) -> Bool { text(i).elementsEqual(text(j)) }
    /// Comments and the like: tree-sitter's extras.
    @inline(__always) func isExtra(_ i: Int) -> Bool { tree.flags[i].contains(.extra) }

    /// ast-grep's equality of two bindings of one name: the same text where either is a
    /// leaf of named nodes, else the same kind and children, recursively (an explicit
    /// stack: a file's nesting is unbounded).
    func sameNode(_ a: Int, _ c: Int) -> Bool {
        var pending = [(a, c)]
        while let (x, y) = pending.popLast() {
            if x == y { continue }
            if namedChildCount(x) == 0 || namedChildCount(y) == 0 {
                if !sameText(x, y) { return false }
                continue
            }
            guard tree.kinds[x] == tree.kinds[y] else { return false }
            let p = children(x), q = children(y)
            guard p.count == q.count else { return false }
            for (u, v) in zip(p, q) { pending.append((Int(u), Int(v))) }
        }
        return true
    }
}

/// Metavariables bound during one match attempt.
struct Bindings: Equatable {
    var single: [Int32]
    var multi: [[Int32]?]
    init(count: Int) {
        single = Array(repeating: -1, count: count)
        multi = Array(repeating: nil, count: count)
    }
}

/// ast-grep's match of one pattern node against one candidate node.
enum MatchStep { case matchedBoth, skipBoth, skipGoal, skipCandidate, noMatch }

struct PatternMatcher {
    let pattern: CompiledPattern
    let view: SyntaxView

    /// Whether `node` matches the whole pattern; the bindings when it does.
    func match(_ node: Int) -> Bindings? {
        if let k = pattern.rootKind, view.tree.kinds[node] != k { return nil }
        var b = Bindings(count: pattern.names.count)
        // At the top a comment is a node like any other (`$A` lists comments too); passing
        // comments over is for the children of a pattern node.
        if case .metaVariable(let m) = pattern.root.node { return bind(m, node, &b) ? b : nil }
        return match(pattern.root.node, node, &b) == .matchedBoth ? b : nil
    }

    /// Whether comments (extras) in the candidate are passed over (all but cst and ast).
    var skipsComments: Bool { pattern.strictness != .cst && pattern.strictness != .ast }

    func match(_ goal: PatternNode, _ c: Int, _ b: inout Bindings) -> MatchStep {
        switch goal {
        case .terminal(let kind, let named, let text):
            let kindMatches = kind == view.tree.kinds[c] || kind == pattern.errorKind
            if kindMatches && (!named || view.sameText(c, text)) { return .matchedBoth }
            if skipsComments && view.isExtra(c) { return .skipCandidate }
            let candidateNamed = view.isNamed(c)
            let skipGoal: Bool, skipCandidate: Bool
            switch pattern.strictness {
            case .cst: (skipGoal, skipCandidate) = (false, false)
            case .smart: (skipGoal, skipCandidate) = (false, !candidateNamed)
            case .ast, .relaxed: (skipGoal, skipCandidate) = (!named, !candidateNamed)
            case .signature:
                if kindMatches { return .matchedBoth }
                (skipGoal, skipCandidate) = (!named, !candidateNamed)
            }
            switch (skipGoal, skipCandidate) {
            case (true, true): return .skipBoth
            case (true, false): return .skipGoal
            case (false, true): return .skipCandidate
            case (false, false): return .noMatch
            }
        case .metaVariable(let m):
            if skipsComments && view.isExtra(c) { return .skipCandidate }
            return bind(m, c, &b) ? .matchedBoth : .noMatch
        case .inner(let kind, let children):
            guard kind == view.tree.kinds[c] || kind == pattern.errorKind else { return .noMatch }
            return matchChildren(children, view.children(c), &b) ? .matchedBoth : .noMatch
        }
    }

    func bind(_ m: MetaVariable, _ c: Int, _ b: inout Bindings) -> Bool {
        switch m {
        case .single(let name, let named):
            if named && !view.isNamed(c) { return false }
            guard let n = name else { return true }
            let previous = b.single[n]
            if previous >= 0 { return view.sameNode(Int(previous), c) }
            b.single[n] = Int32(c)
            return true
        case .multiple(let name):
            guard let n = name else { return true }
            return bindMultiple(n, [Int32(c)], &b)
        }
    }

    func bindMultiple(_ n: Int, _ nodes: [Int32], _ b: inout Bindings) -> Bool {
        if let previous = b.multi[n] {
            guard previous.count == nodes.count else { return false }
            for (x, y) in zip(previous, nodes) where !view.sameNode(Int(x), Int(y)) { return false }
        }
        b.multi[n] = nodes
        return true
    }

    /// The children of a pattern node against a candidate's (ast-grep's sequence match:
    /// ellipses take candidates lazily, up to the first that matches the next pattern node).
    func matchChildren(_ goals: [PatternNode], _ cands: UnsafeBufferPointer<Int32>, _ b: inout Bindings) -> Bool {
        var g = 0, c = 0
        guard !cands.isEmpty else { return false }
        while true {
            // An ellipsis here.
            guard g < goals.count else { return true }
            if let e = goals[g].ellipsis {
                var taken: [Int32] = []
                g += 1
                if g == goals.count {
                    taken += cands[c...]
                    return bindEllipsis(e, taken, skipped: 0, &b)
                }
                var skipped = 0
                while goals[g].isTrivial {
                    g += 1; skipped += 1
                    if g == goals.count {
                        taken += cands[c...]
                        return bindEllipsis(e, taken, skipped: skipped, &b)
                    }
                }
                if goals[g].ellipsis != nil {
                    taken.append(cands[c]); c += 1
                    guard c < cands.count, bindEllipsis(e, taken, skipped: skipped, &b) else { return false }
                    continue
                }
                while true {
                    // A failed probe leaves no bindings behind.
                    var probe = b
                    if match(goals[g], Int(cands[c]), &probe) == .matchedBoth {
                        guard bindEllipsis(e, taken, skipped: skipped, &b) else { return false }
                        break
                    }
                    taken.append(cands[c]); c += 1
                    guard c < cands.count else { return false }
                }
            }
            // One pattern node, skipping what the strictness lets go.
            single: while true {
                guard c < cands.count else {
                    guard skipRemainingGoals(goals, &g) else { return false }
                    break single
                }
                switch match(goals[g], Int(cands[c]), &b) {
                case .matchedBoth: break single
                case .skipGoal:
                    g += 1
                    if g == goals.count { break single }
                case .skipBoth:
                    c += 1; g += 1
                    if g == goals.count { break single }
                case .skipCandidate:
                    c += 1
                case .noMatch:
                    return false
                }
            }
            if g < goals.count { g += 1; c += 1 }
            if g == goals.count {
                while c < cands.count {
                    if !skipsTrailing(Int(cands[c])) { return false }
                    c += 1
                }
                return true
            }
            guard c < cands.count else { return false }
        }
    }

    func bindEllipsis(_ e: MetaVariable, _ taken: [Int32], skipped: Int, _ b: inout Bindings) -> Bool {
        guard case .multiple(let name?) = e else { return true }
        // The separators before the pattern's skipped punctuation are not part of it.
        return bindMultiple(name, Array(taken.prefix(max(0, taken.count - skipped))), &b)
    }

    /// When the candidate's children run out: whether the pattern nodes left may match nothing.
    func skipRemainingGoals(_ goals: [PatternNode], _ g: inout Int) -> Bool {
        while g < goals.count {
            let skippable: Bool
            switch (pattern.strictness, goals[g]) {
            case (.cst, _): skippable = false
            case (.smart, .metaVariable(let m)): skippable = m.isMultiple
            case (.smart, _): skippable = false
            case (_, .metaVariable(.multiple)): skippable = true
            case (_, .metaVariable(.single(_, let named))): skippable = !named
            case (_, .terminal(_, let named, _)): skippable = !named
            case (_, .inner): skippable = false
            }
            if !skippable { return false }
            g += 1
        }
        return true
    }

    func skipsTrailing(_ c: Int) -> Bool {
        switch pattern.strictness {
        case .cst: return false
        case .smart: return true
        // `x.append(a,)` is `$X.append($Y)` in ast strictness: the `,` and `)` are left over.
        case .ast: return !view.isNamed(c)
        case .relaxed, .signature: return !view.isNamed(c) || view.isExtra(c)
        }
    }
}
