
/// An ast-grep rule (https://ast-grep.github.io/reference/rule.html), compiled for one
/// language: atomic (pattern, kind, regex), relational (inside, has, follows, precedes)
/// and composite (all, any, not) parts, all of which must hold.
indirect enum Rule: Sendable {
    case pattern(CompiledPattern)
    case kind(Set<UInt16>)
    case regex(RuleRegex)
    case relation(Relation, Rule, stopBy: StopBy, field: UInt16?)
    case all([Rule])
    case any([Rule])
    case not(Rule)

    enum Relation: String, Sendable { case inside, has, follows, precedes }
    enum StopBy: Sendable { case neighbor, end, rule(Rule) }
}

/// A rule's regular expression: Rust's regex syntax and meaning, as ast-grep's (the engine
/// `#match?` uses).
struct RuleRegex: Sendable {
    let regex: ByteRegex

    init(_ pattern: String) throws {
        regex = try ByteRegex(pattern)
    }

    func matches(_ t: UnsafeBufferPointer<UInt8>) -> Bool { regex.firstMatch(in: t) }
}

/// Metavariables bound while a rule is matched, by name (shared by its parts).
struct RuleEnvironment {
    var single: [String: Int32] = [:]
    var multi: [String: [Int32]] = [:]

    var variables: MatchVariables {
        var v = MatchVariables(entries: [])
        for (k, n) in single.sorted(by: { $0.key < $1.key }) { v.entries.append((k, [Int(n)], false)) }
        for (k, ns) in multi.sorted(by: { $0.key < $1.key }) { v.entries.append((k, ns.map(Int.init), true)) }
        return v
    }
}

/// A rule with its metavariable constraints: what one rule-file entry matches with.
struct CompiledRule: Sendable {
    let rule: Rule
    let constraints: [(String, Rule)]
    /// Per kind code, whether a match can have it (nil: any kind): others are skipped unread.
    let kindTable: [Bool]?
    let needsText: Bool

    init(_ rule: Rule, constraints: [(String, Rule)] = []) {
        self.rule = rule
        self.constraints = constraints
        kindTable = rule.potentialKinds.map { kinds in
            let n = Int(kinds.max() ?? 0) + 1
            return (0..<n).map { kinds.contains(UInt16($0)) }
        }
        needsText = rule.needsText || constraints.contains { $0.1.needsText }
    }

    @inline(__always) func isCandidate(_ kind: UInt16) -> Bool {
        guard let t = kindTable else { return true }
        return Int(kind) < t.count && t[Int(kind)]
    }
}

extension Rule {
    /// The kinds a matching node can have, nil when any.
    var potentialKinds: Set<UInt16>? {
        switch self {
        case .pattern(let p): return p.rootKind.map { [$0] }
        case .kind(let k): return k
        case .all(let rs):
            let known = rs.compactMap(\.potentialKinds)
            return known.isEmpty ? nil : known.dropFirst().reduce(known[0]) { $0.intersection($1) }
        case .any(let rs):
            var out = Set<UInt16>()
            for r in rs { guard let k = r.potentialKinds else { return nil }; out.formUnion(k) }
            return out
        case .regex, .relation, .not: return nil
        }
    }

    /// Whether the rule may match somewhere in a file with this text: every pattern it needs
    /// finds its literals. A relation's rule matches a node of the same file, so its needs
    /// are the file's too; what `not` excludes needs nothing.
    func mayMatch(in text: UnsafeRawBufferPointer) -> Bool {
        switch self {
        case .pattern(let p): return p.mayMatch(in: text)
        case .kind, .regex, .not: return true
        case .relation(_, let r, _, _): return r.mayMatch(in: text)
        case .all(let rs): return rs.allSatisfy { $0.mayMatch(in: text) }
        case .any(let rs): return rs.contains { $0.mayMatch(in: text) }
        }
    }

    /// Whether the rule may match somewhere in a file with this summary (`text`: the file's
    /// text is stored, and its leaf filter made): as `mayMatch(in:)`, and a `kind` rule
    /// needs one of its kinds.
    func mayMatch(_ summary: FileSummary, text: Bool) -> Bool {
        switch self {
        case .pattern(let p): return p.mayMatch(summary, text: text)
        case .kind(let k): return summary.has(anyOf: k)
        case .regex, .not: return true
        case .relation(_, let r, _, _): return r.mayMatch(summary, text: text)
        case .all(let rs): return rs.allSatisfy { $0.mayMatch(summary, text: text) }
        case .any(let rs): return rs.contains { $0.mayMatch(summary, text: text) }
        }
    }

    var needsText: Bool {
        switch self {
        case .pattern(let p): return p.needsText
        case .kind: return false
        case .regex: return true
        case .relation(_, let r, let stop, _):
            if case .rule(let s) = stop, s.needsText { return true }
            return r.needsText
        case .all(let rs), .any(let rs): return rs.contains { $0.needsText }
        case .not(let r): return r.needsText
        }
    }
}

/// Matches rules against one file's tree.
struct RuleEvaluator {
    let view: SyntaxView

    func parent(_ i: Int) -> Int? {
        let p = Int(view.tree.parents[i])
        return p >= 0 ? p : nil
    }

    /// Node i's parent's children and i's place among them. Children are in preorder, so
    /// the place is a binary search (a linear one made `follows` quadratic in wide lists).
    func siblings(_ i: Int) -> (list: UnsafeBufferPointer<Int32>, index: Int)? {
        guard let p = parent(i) else { return nil }
        let list = view.children(p)
        var lo = 0, hi = list.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if Int(list[mid]) < i { lo = mid + 1 } else { hi = mid }
        }
        guard lo < list.count, Int(list[lo]) == i else { return nil }
        return (list, lo)
    }

    func matches(_ r: Rule, _ node: Int, _ env: inout RuleEnvironment) -> Bool {
        switch r {
        case .pattern(let p):
            guard let b = PatternMatcher(pattern: p, view: view).match(node) else { return false }
            return merge(b, names: p.names, into: &env)
        case .kind(let k):
            return k.contains(view.tree.kinds[node])
        case .regex(let re):
            return re.matches(view.text(node))
        case .all(let rs):
            var e = env
            for sub in rs where !matches(sub, node, &e) { return false }
            env = e
            return true
        case .any(let rs):
            for sub in rs {
                var e = env
                if matches(sub, node, &e) { env = e; return true }
            }
            return false
        case .not(let sub):
            var e = env
            return !matches(sub, node, &e)
        case .relation(let relation, let sub, let stopBy, let field):
            return relate(relation, sub, stopBy, field, node, &env)
        }
    }

    /// The relational rules: the nodes they look at, nearest first, until `stopBy` says stop
    /// (the stopping node itself is still tried).
    func relate(_ relation: Rule.Relation, _ sub: Rule, _ stopBy: Rule.StopBy, _ field: UInt16?, _ node: Int,
                _ env: inout RuleEnvironment) -> Bool {
        func attempt(_ n: Int) -> Bool {
            var e = env
            if matches(sub, n, &e) { env = e; return true }
            return false
        }
        func stops(_ n: Int) -> Bool {
            switch stopBy {
            case .neighbor: return true
            case .end: return false
            case .rule(let s):
                var e = env
                return matches(s, n, &e)
            }
        }
        switch relation {
        case .inside:
            var child = node
            while let p = parent(child) {
                // `field`: the node (or the ancestor on the way) sits in that field of it.
                if field == nil || view.tree.fields[child] == field!, attempt(p) { return true }
                if stops(p) { return false }
                child = p
            }
            return false
        case .has:
            // Breadth-first below the node: children, then theirs (stopBy end).
            var level = view.children(node).map(Int.init).filter { field == nil || view.tree.fields[$0] == field! }
            while !level.isEmpty {
                var next: [Int] = []
                for c in level {
                    if attempt(c) { return true }
                    if case .neighbor = stopBy { continue }
                    if stops(c) { continue }
                    next += view.children(c).map(Int.init)
                }
                level = next
            }
            return false
        case .follows, .precedes:
            guard let (list, k) = siblings(node) else { return false }
            // Nearest first: backwards for follows, forwards for precedes.
            let step = relation == .follows ? -1 : 1
            var s = k + step
            while s >= 0 && s < list.count {
                if attempt(Int(list[s])) { return true }
                if stops(Int(list[s])) { return false }
                s += step
            }
            return false
        }
    }

    /// A pattern's bindings joined to the rule's: a name bound twice must mean the same.
    func merge(_ b: Bindings, names: [String], into env: inout RuleEnvironment) -> Bool {
        for (k, name) in names.enumerated() {
            if b.single[k] >= 0 {
                if let prior = env.single[name], !view.sameNode(Int(prior), Int(b.single[k])) { return false }
                env.single[name] = b.single[k]
            }
            if let ns = b.multi[k] {
                if let prior = env.multi[name] {
                    guard prior.count == ns.count, zip(prior, ns).allSatisfy({ view.sameNode(Int($0), Int($1)) }) else { return false }
                }
                env.multi[name] = ns
            }
        }
        return true
    }

    /// Whether a rule-file entry matches `node`, constraints included; its bindings if so.
    func match(_ r: CompiledRule, _ node: Int) -> RuleEnvironment? {
        var env = RuleEnvironment()
        guard matches(r.rule, node, &env) else { return nil }
        for (name, c) in r.constraints {
            guard let bound = env.single[name] else { continue }
            var e = RuleEnvironment()
            if !matches(c, Int(bound), &e) { return nil }
        }
        return env
    }
}
