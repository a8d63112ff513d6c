import Foundation

/// One match of a query pattern in a file.
public struct QueryMatch: Sendable, Equatable {
    public var pattern: Int
    /// The node the pattern matched at (for sibling groups, the first matched sibling).
    public var root: Int
    /// (capture id, node), ordered by node (preorder) then capture id.
    public var captures: [Capture]

    public struct Capture: Sendable, Equatable, Hashable {
        public var id: Int
        public var node: Int
    }
}

/// Runs a Query over one file's tree. Matching explores the pattern, never the tree's
/// depth, so it needs no recursion proportional to nesting; each root's search is bounded
/// by a step budget so no pattern can run away on a pathological file.
public final class QueryMatcher {
    public let query: Query
    private let regexes: [Int: NSRegularExpression]
    /// Patterns by the kind code their root must have; `anyRoot` for the rest.
    private var byKind: [UInt16: [Int]] = [:]
    private var anyRoot: [Int] = []
    private var candidatesByKind: [UInt16: [Int]] = [:]
    private var regexMemo: [Int: [String: Bool]] = [:]
    private var siblingPatterns: [Int] = []
    public static let stepBudget = 200_000
    /// Roots whose search ran out of steps (reported, never silent).
    public private(set) var budgetExceeded = 0

    public init(_ query: Query) throws {
        self.query = query
        var regexes: [Int: NSRegularExpression] = [:]
        var k = 0
        for p in query.patterns {
            for pred in p.predicates {
                if pred.kind == .match || pred.kind == .notMatch {
                    do {
                        regexes[k] = try NSRegularExpression(pattern: pred.strings[0])
                    } catch {
                        throw CSTPackError("invalid regular expression \"\(pred.strings[0])\" in #\(pred.kind.rawValue)")
                    }
                }
                k += 1
            }
        }
        self.regexes = regexes
        for (index, p) in query.patterns.enumerated() {
            if p.items.count > 1 || p.items[0].quantifier != .one {
                siblingPatterns.append(index)
            } else if let kinds = Self.rootKinds(p.items[0].expr) {
                for kind in kinds { byKind[kind, default: []].append(index) }
            } else {
                anyRoot.append(index)
            }
        }
        for (k, v) in byKind { byKind[k] = v.sorted() }
    }

    static func rootKinds(_ e: Query.Expr) -> Set<UInt16>? {
        switch e {
        case .node(let kinds, _, _): return kinds
        case .token(let codes): return codes
        case .any: return nil
        case .alternation(let alts):
            var all = Set<UInt16>()
            for alt in alts {
                guard alt.count == 1, alt[0].quantifier == .one, let k = rootKinds(alt[0].expr) else { return nil }
                all.formUnion(k)
            }
            return all
        case .group(let items):
            guard items.count == 1, items[0].quantifier == .one else { return nil }
            return rootKinds(items[0].expr)
        }
    }

    /// Every match in `ft`, in document order of the root, then pattern order.
    public func matches(in ft: FileTree) throws -> [QueryMatch] {
        let ctx = Context(ft)
        var out: [QueryMatch] = []
        // Different ways of matching one root can capture the same nodes: report them once.
        func emit(_ pattern: Int, _ root: Int, _ results: [[QueryMatch.Capture]]) throws {
            var seen: [[QueryMatch.Capture]] = []
            for caps in results {
                let sorted = caps.count < 2 ? caps : caps.sorted { $0.node != $1.node ? $0.node < $1.node : $0.id < $1.id }
                if results.count > 1 {
                    if seen.contains(sorted) { continue }
                    seen.append(sorted)
                }
                let m = QueryMatch(pattern: pattern, root: root, captures: sorted)
                if try predicatesHold(m, ft) { out.append(m) }
            }
        }
        let n = ft.count
        for node in 0..<n {
            let kind = ctx.kinds[node]
            let candidates: [Int]
            if let c = candidatesByKind[kind] { candidates = c } else {
                candidates = ((byKind[kind] ?? []) + anyRoot).sorted()
                candidatesByKind[kind] = candidates
            }
            for p in candidates {
                let budget = Budget()
                let item = query.patterns[p].items[0]
                var results: [[QueryMatch.Capture]] = []
                ctx.matchItem(item, node: node, caps: [], budget: budget) { results.append($0) }
                if budget.exhausted { budgetExceeded += 1 }
                if !results.isEmpty { try emit(p, node, results) }
            }
            // Sibling sequences start at this node among its parent's children.
            if !siblingPatterns.isEmpty {
                let parent = Int(ft.tree.parents[node])
                let list: ArraySlice<Int32> = parent < 0 ? [Int32(0)][...] : ctx.children(parent)
                guard let start = list.firstIndex(of: Int32(node)) else { continue }
                for p in siblingPatterns {
                    let budget = Budget()
                    var results: [[QueryMatch.Capture]] = []
                    ctx.matchSequence(query.patterns[p].items, 0, list: list, from: start, previous: nil,
                                      pinned: start, inParent: parent >= 0, caps: [], budget: budget) { results.append($0) }
                    if budget.exhausted { budgetExceeded += 1 }
                    if !results.isEmpty { try emit(p, node, results) }
                }
            }
        }
        out.sort { $0.root != $1.root ? $0.root < $1.root : $0.pattern < $1.pattern }
        return out
    }

    private func predicatesHold(_ m: QueryMatch, _ ft: FileTree) throws -> Bool {
        let preds = query.patterns[m.pattern].predicates
        guard !preds.isEmpty else { return true }
        var regexIndex = 0
        for p in query.patterns[..<m.pattern] { regexIndex += p.predicates.count }
        for (k, pred) in preds.enumerated() {
            let nodes = m.captures.filter { $0.id == pred.capture }.map(\.node)
            guard !nodes.isEmpty else { continue }
            func text(_ node: Int) throws -> String {
                guard let t = ft.text(node) else { throw CSTPackError("text predicates need the source, and this archive was built with --no-source") }
                return String(decoding: t, as: UTF8.self)
            }
            for node in nodes {
                let t = try text(node)
                let ok: Bool
                switch pred.kind {
                case .eq, .notEq:
                    let other: String
                    if let oc = pred.otherCapture {
                        guard let o = m.captures.first(where: { $0.id == oc }) else { continue }
                        other = try text(o.node)
                    } else {
                        other = pred.strings[0]
                    }
                    ok = (t == other) == (pred.kind == .eq)
                case .match, .notMatch:
                    // Names repeat: remember each text's answer (bounded).
                    let key = regexIndex + k
                    let found: Bool
                    if let known = regexMemo[key]?[t] {
                        found = known
                    } else {
                        let re = regexes[key]!
                        found = re.firstMatch(in: t, range: NSRange(t.startIndex..., in: t)) != nil
                        if regexMemo[key, default: [:]].count < 100_000 { regexMemo[key, default: [:]][t] = found }
                    }
                    ok = found == (pred.kind == .match)
                case .anyOf:
                    ok = pred.strings.contains(t)
                }
                if !ok { return false }
            }
        }
        return true
    }

    /// The tree views the matcher needs, built once per file.
    final class Context {
        let offsets: [Int32]
        let childIDs: [Int32]
        // The arrays matching reads, held directly (not through FileTree) to keep
        // reference counting out of the inner loops.
        let kinds: [UInt16]
        let fields: [UInt16]
        let flags: [CSTTree.Flags]
        let errorKind: UInt16

        init(_ ft: FileTree) {
            errorKind = ft.table.errorKind
            (offsets, childIDs) = ft.tree.childLists()
            kinds = ft.tree.kinds
            fields = ft.tree.fields
            flags = ft.tree.flags
        }

        func children(_ node: Int) -> ArraySlice<Int32> {
            childIDs[Int(offsets[node])..<Int(offsets[node + 1])]
        }

        func isNamed(_ node: Int32) -> Bool { flags[Int(node)].contains(.named) }

        /// Matches `item` at `node` (field, expression, captures).
        func matchItem(_ item: Query.Item, node: Int, caps: [QueryMatch.Capture], budget: Budget,
                       _ k: ([QueryMatch.Capture]) -> Void) {
            guard budget.step() else { return }
            if let f = item.field, fields[node] != f { return }
            var withCaps = caps
            for c in item.captures { withCaps.append(.init(id: c, node: node)) }
            matchExpr(item.expr, node: node, caps: withCaps, budget: budget, k)
        }

        func matchExpr(_ e: Query.Expr, node: Int, caps: [QueryMatch.Capture], budget: Budget,
                       _ k: ([QueryMatch.Capture]) -> Void) {
            let kind = kinds[node]
            switch e {
            // Wildcards do not match ERROR nodes, as in tree-sitter's query cursor.
            case .any:
                if kind != errorKind { k(caps) }
            case .token(let codes):
                if codes.contains(kind) && !flags[node].contains(.named) { k(caps) }
            case .node(let kinds, let childPatterns, let negated):
                guard flags[node].contains(.named) else { return }
                if let ks = kinds { if !ks.contains(kind) { return } } else if kind == errorKind { return }
                let list = children(node)
                for f in negated where list.contains(where: { fields[Int($0)] == f }) { return }
                if childPatterns.isEmpty { k(caps); return }
                matchSequence(childPatterns, 0, list: list, from: list.startIndex, previous: nil, pinned: nil,
                              inParent: true, caps: caps, budget: budget, k)
            case .alternation(let alts):
                for alt in alts where alt.count == 1 {
                    matchItem(alt[0], node: node, caps: caps, budget: budget, k)
                }
            case .group(let items):
                if items.count == 1 { matchItem(items[0], node: node, caps: caps, budget: budget, k) }
            }
        }

        /// Matches `items[idx...]` against siblings `list[from...]`. `previous` is the list
        /// index of the last matched sibling (for anchors); `pinned` fixes where the next
        /// item must match (a top-level sibling group starts at a given node); `inParent`
        /// says the list is a parent's children (so edge anchors apply).
        func matchSequence(_ items: [Query.Item], _ idx: Int, list: ArraySlice<Int32>, from: Int, previous: Int?,
                           pinned: Int?, inParent: Bool, caps: [QueryMatch.Capture], budget: Budget,
                           _ k: ([QueryMatch.Capture]) -> Void) {
            guard budget.step() else { return }
            guard idx < items.count else { k(caps); return }
            let item = items[idx]
            let tail = items[(idx + 1)...]
            // Groups and alternations inside a sequence are spliced into it.
            if item.quantifier == .one {
                switch item.expr {
                case .group(let inner) where item.captures.isEmpty:
                    var spliced = inner
                    if !spliced.isEmpty { spliced[0].anchoredBefore = spliced[0].anchoredBefore || item.anchoredBefore }
                    matchSequence(spliced + tail, 0, list: list, from: from, previous: previous, pinned: pinned,
                                  inParent: inParent, caps: caps, budget: budget, k)
                    return
                case .alternation(let alts):
                    for alt in alts {
                        var spliced = alt
                        for j in spliced.indices {
                            spliced[j].captures += item.captures
                            if spliced[j].field == nil { spliced[j].field = item.field }
                        }
                        if !spliced.isEmpty { spliced[0].anchoredBefore = spliced[0].anchoredBefore || item.anchoredBefore }
                        matchSequence(spliced + tail, 0, list: list, from: from, previous: previous, pinned: pinned,
                                      inParent: inParent, caps: caps, budget: budget, k)
                    }
                    return
                default: break
                }
            }
            let last = tail.isEmpty

            /// May the first occurrence of this item sit at list index j?
            func placeable(_ j: Int, after prev: Int?) -> Bool {
                if let pin = pinned, j != pin { return false }
                guard item.anchoredBefore else { return true }
                if let p = prev {
                    return !list[(p + 1)..<j].contains(where: isNamed) // immediately after the previous match
                }
                return !inParent || !list[list.startIndex..<j].contains(where: isNamed) // first named child
            }
            func endsRight(_ j: Int?) -> Bool {
                guard last && item.anchoredAfter && inParent else { return true }
                let after = j.map { $0 + 1 } ?? list.startIndex
                return !list[after...].contains(where: isNamed)
            }
            func continueAfter(_ j: Int, _ c: [QueryMatch.Capture]) {
                guard endsRight(j) else { return }
                matchSequence(items, idx + 1, list: list, from: j + 1, previous: j, pinned: nil,
                              inParent: inParent, caps: c, budget: budget, k)
            }

            switch item.quantifier {
            case .one, .optional:
                var matchedSomewhere = false
                var j = from
                while j < list.endIndex && !budget.exhausted {
                    if pinned != nil && j != pinned { break }
                    if placeable(j, after: previous) {
                        let position = j
                        matchItem(item, node: Int(list[j]), caps: caps, budget: budget) { c in
                            matchedSomewhere = true
                            continueAfter(position, c)
                        }
                    }
                    j += 1
                }
                // Like tree-sitter, an optional item that is present is not also skipped.
                if item.quantifier == .optional && !matchedSomewhere {
                    matchSequence(items, idx + 1, list: list, from: from, previous: previous, pinned: pinned,
                                  inParent: inParent, caps: caps, budget: budget, k)
                }
            case .zeroOrMore, .oneOrMore:
                // As in tree-sitter: the run starts at the first sibling that matches and
                // continues through the immediately following siblings while they match.
                var matchedSomewhere = false
                var j = from
                while j < list.endIndex && !budget.exhausted {
                    if pinned != nil && j != pinned { break }
                    defer { j += 1 }
                    guard placeable(j, after: previous) else { continue }
                    var runCaps: [QueryMatch.Capture]? = nil
                    matchItem(item, node: Int(list[j]), caps: caps, budget: budget) { c in if runCaps == nil { runCaps = c } }
                    guard var run = runCaps else { continue }
                    if pinned != nil && j > list.startIndex {
                        // A run that the previous sibling would extend is part of a longer run.
                        var extends = false
                        matchItem(item, node: Int(list[j - 1]), caps: caps, budget: budget) { _ in extends = true }
                        if extends { return }
                    }
                    matchedSomewhere = true
                    var end = j
                    while end + 1 < list.endIndex && !budget.exhausted {
                        var next: [QueryMatch.Capture]? = nil
                        matchItem(item, node: Int(list[end + 1]), caps: run, budget: budget) { c in if next == nil { next = c } }
                        guard let n = next else { break }
                        run = n
                        end += 1
                    }
                    continueAfter(end, run)
                    break // tree-sitter takes the first run only
                }
                if item.quantifier == .zeroOrMore && !matchedSomewhere {
                    matchSequence(items, idx + 1, list: list, from: from, previous: previous, pinned: pinned,
                                  inParent: inParent, caps: caps, budget: budget, k)
                }
            }
        }
    }
}

/// Bounds the work of matching one root.
final class Budget {
    var steps = 0
    var exhausted: Bool { steps > QueryMatcher.stepBudget }
    @inline(__always) func step() -> Bool { steps += 1; return steps <= QueryMatcher.stepBudget }
}
