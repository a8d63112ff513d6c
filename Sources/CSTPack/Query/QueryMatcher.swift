import Foundation

/// One match of a query pattern in a file.
package struct QueryMatch: Sendable, Equatable {
    package var pattern: Int
    /// The node the pattern matched at (for sibling groups, the first matched sibling).
    package var root: Int
    /// (capture id, node), ordered by node (preorder) then capture id.
    package var captures: [Capture]

    package struct Capture: Sendable, Equatable, Hashable {
        package var id: Int
        package var node: Int
    }
}

/// The matches of one file, stored flat (no allocation per match), in document order of
/// the root, then pattern order; or, for `--count`, only counted.
package struct MatchList: Sendable {
    package struct Entry: Sendable {
        package var pattern: Int32
        package var root: Int32
        /// Match i's captures are `captures[entries[i-1].captureEnd..<entries[i].captureEnd]`.
        package var captureEnd: Int32
    }
    package let storing: Bool
    package private(set) var entries: [Entry] = []
    package private(set) var captures: [QueryMatch.Capture] = []
    /// Matches, and nodes a listing shows: each capture, or the root of a match without captures.
    package private(set) var count = 0
    package private(set) var nodeCount = 0

    package init(storing: Bool = true) { self.storing = storing }

    package func captures(of i: Int) -> ArraySlice<QueryMatch.Capture> {
        captures[(i == 0 ? 0 : Int(entries[i - 1].captureEnd))..<Int(entries[i].captureEnd)]
    }
    package func root(of i: Int) -> Int { Int(entries[i].root) }
    package var matches: [QueryMatch] {
        entries.indices.map { QueryMatch(pattern: Int(entries[$0].pattern), root: Int(entries[$0].root), captures: Array(captures(of: $0))) }
    }

    /// A match whose captures are all its root: ids `ids[start..<start+count]`.
    mutating func append(pattern: Int, root: Int, captureIDs ids: UnsafeBufferPointer<Int32>, _ start: Int, _ n: Int) {
        append(pattern: pattern, root: root, captureCount: n) { for k in start..<start + n { $0.append(.init(id: Int(ids[k]), node: root)) } }
    }

    mutating func append(pattern: Int, root: Int, captures c: [QueryMatch.Capture]) {
        append(pattern: pattern, root: root, captureCount: c.count) { $0.append(contentsOf: c) }
    }

    /// Counts the match; when storing, `add` appends its captures.
    private mutating func append(pattern: Int, root: Int, captureCount n: Int, _ add: (inout [QueryMatch.Capture]) -> Void) {
        count += 1
        nodeCount += max(n, 1)
        guard storing else { return }
        add(&captures)
        entries.append(Entry(pattern: Int32(pattern), root: Int32(root), captureEnd: Int32(captures.count)))
    }
}

/// Runs a Query over one file's tree. Patterns that test only the node itself (most of a
/// highlights query) are decided from the node's kind, flags and field; the others explore
/// the pattern, never the tree's depth, so matching needs no recursion proportional to
/// nesting. Each root's search is bounded by a step budget, which grows with the nodes the
/// root's pattern can reach, so that no pattern can run away on a pathological file.
package final class QueryMatcher {
    package let query: Query
    let tables: CompiledTables
    let predicates: [[TextPredicate]]
    /// The predicates that apply to leaf l's captures: `leafPredicateList[starts[l]..<starts[l+1]]`
    /// (referenced without counting: `predicates` owns them).
    let leafPredicateStarts: [Int32]
    let leafPredicateList: [Unmanaged<TextPredicate>]
    package static let stepBudget = 200_000
    /// Steps a root may take for each node within its pattern's reach, past `stepBudget`.
    static let stepsPerNode = 64
    /// How many levels below its root each pattern looks.
    let reach: [Int]
    /// Ways of matching one root kept at most; past it the root counts as out of budget.
    /// (`((_)* (_)* …)` can match one root in more ways than steps could ever tell apart.)
    static let resultLimit = 10_000
    /// Captures of one root's ways of matching kept at most (64 MB of them).
    static let copiedLimit = 1 << 22
    static let noSource = CSTPackError("text predicates need the source, and this archive was built with --no-source")
    /// Roots whose search ran out of steps (reported, never silent).
    package private(set) var budgetExceeded = 0
    // Per-file scratch, reused: children lists and each node's index among its siblings.
    private var offsets: [Int32] = []
    private var childIDs: [Int32] = []
    private var position: [Int32] = []

    package init(_ query: Query, kindCount: Int? = nil) throws {
        self.query = query
        var maxKind = 0
        for p in query.patterns { for i in p.items { maxKind = max(maxKind, Self.maxKind(i.expr)) } }
        let compiled = try CompiledQuery(query, kindCount: max(kindCount ?? 0, maxKind + 1))
        tables = CompiledTables(compiled)
        predicates = try query.patterns.map { try $0.predicates.map(TextPredicate.init) }
        var starts: [Int32] = [], list: [Unmanaged<TextPredicate>] = []
        for (p, shape) in compiled.shapes.enumerated() {
            guard case .leaves(let start, let count) = shape else { continue }
            for l in Int(start)..<Int(start + count) {
                precondition(starts.count == l)
                starts.append(Int32(list.count))
                let leaf = compiled.leaves[l]
                let ids = compiled.captureIDs[Int(leaf.captureStart)..<Int(leaf.captureStart + leaf.captureCount)]
                for pred in predicates[p] where ids.contains(Int32(pred.capture)) {
                    if let oc = pred.otherCapture, !ids.contains(Int32(oc)) { continue }
                    list.append(Unmanaged.passUnretained(pred))
                }
            }
        }
        starts.append(Int32(list.count))
        leafPredicateStarts = starts
        leafPredicateList = list
        reach = query.patterns.map { p in p.items.map { Self.reach($0.expr) }.max() ?? 0 }
    }

    static func reach(_ e: Query.Expr) -> Int {
        switch e {
        case .node(_, let children, _):
            return children.isEmpty ? 0 : 1 + children.map { reach($0.expr) }.max()!
        case .token, .any, .missing: return 0
        case .alternation(let alts): return alts.flatMap { $0 }.map { reach($0.expr) }.max() ?? 0
        case .group(let items): return items.map { reach($0.expr) }.max() ?? 0
        }
    }

    static func maxKind(_ e: Query.Expr) -> Int {
        switch e {
        case .node(let kinds, let children, _):
            return max(kinds?.max().map(Int.init) ?? 0, children.map { maxKind($0.expr) }.max() ?? 0)
        case .token(let codes): return codes.max().map(Int.init) ?? 0
        case .missing(let kinds): return kinds?.max().map(Int.init) ?? 0
        case .any: return 0
        case .alternation(let alts): return alts.flatMap { $0 }.map { maxKind($0.expr) }.max() ?? 0
        case .group(let items): return items.map { maxKind($0.expr) }.max() ?? 0
        }
    }

    static func rootKinds(_ e: Query.Expr) -> Set<UInt16>? {
        switch e {
        case .node(let kinds, _, _): return kinds
        case .token(let codes): return codes
        case .missing(let kinds): return kinds
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

    /// Whether matching reads node text (the query has text predicates).
    package var needsText: Bool { predicates.contains { !$0.isEmpty } }

    /// Every match in `ft`, in document order of the root, then pattern order.
    package func matches(in ft: FileTree) throws -> [QueryMatch] { try matchList(in: ft).matches }

    /// Every match in `ft`, stored flat (or only counted).
    package func matchList(in ft: FileTree, storing: Bool = true) throws -> MatchList {
        let t = ft.tree
        return try t.kinds.withUnsafeBufferPointer { kinds in
        try t.fields.withUnsafeBufferPointer { fields in
        try t.flags.withUnsafeBufferPointer { flags in
        try t.starts.withUnsafeBufferPointer { starts in
        try t.ends.withUnsafeBufferPointer { ends in
        try t.parents.withUnsafeBufferPointer { parents in
        try (ft.source ?? []).withUnsafeBufferPointer { source in
            try matchList(in: TreeView(kinds: kinds, fields: fields, flags: flags, starts: starts, ends: ends, parents: parents,
                                       source: ft.source == nil ? nil : source, errorKind: ft.table.errorKind),
                          storing: storing)
        }}}}}}}
    }

    /// Every match in a tree given as plain arrays (a decoder's reused buffers, say).
    func matchList(in view: TreeView, storing: Bool = true) throws -> MatchList {
        var out = MatchList(storing: storing)
        if tables.needsChildren {
            CSTTree.childLists(parents: view.parents, offsets: &offsets, children: &childIDs)
            if tables.hasSiblingPatterns {
                // Each node's index in its parent's child list (the root: 0 in a list of itself).
                position.removeAll(keepingCapacity: true)
                position.append(contentsOf: repeatElement(0, count: view.count))
                for (j, c) in childIDs.enumerated() { position[Int(c)] = Int32(j) }
            }
        } else {
            offsets.removeAll(keepingCapacity: true)
            childIDs.removeAll(keepingCapacity: true)
        }
        try offsets.withUnsafeBufferPointer { offsets in
        try childIDs.withUnsafeBufferPointer { childIDs in
            let run = MatchRun(tables, view: view, offsets: offsets, childIDs: childIDs)
            defer { run.release() }
            try matchAll(run, view, &out)
        }}
        return out
    }

    private func matchAll(_ run: MatchRun, _ view: TreeView, _ out: inout MatchList) throws {
        let t = tables.pointers
        let parents = view.parents
        let text = NodeText(source: view.source, starts: view.starts, ends: view.ends)
        var results: [[QueryMatch.Capture]] = []
        var deferred: [(pattern: Int, root: Int, captures: [QueryMatch.Capture])] = []
        var emittedGroups: [Int32] = []
        let (attemptStarts, attempts, shapes, leaves, leafRefs) = (t.attemptStarts, t.attempts, t.shapes, t.leaves, t.leafRefs)
        try leafPredicateStarts.withUnsafeBufferPointer { predicateStarts in
        for node in 0..<view.count {
            let kind = Int(run.kinds[node])
            let row = min(kind, t.kindCount)
            for a in Int(attemptStarts[row])..<Int(attemptStarts[row + 1]) {
                let attempt = attempts[a]
                let p = Int(attempt.pattern)
                switch shapes[p] {
                case .leaves:
                    // Decided by the node alone: its captures are all this node. Leaves
                    // with the same captures make the same match: report it once.
                    if attempt.leafCount > 1 { emittedGroups.removeAll(keepingCapacity: true) }
                    for r in Int(attempt.leafStart)..<Int(attempt.leafStart + attempt.leafCount) {
                        let l = Int(leafRefs[r])
                        let leaf = leaves[l]
                        guard run.leafMatches(leaf, node) else { continue }
                        if attempt.leafCount > 1 {
                            let group = leaf.sameAs >= 0 ? leaf.sameAs : Int32(l)
                            if emittedGroups.contains(group) { continue }
                            emittedGroups.append(group)
                        }
                        if predicateStarts[l] != predicateStarts[l + 1],
                           try !leafPredicatesHold(predicateStarts[l]..<predicateStarts[l + 1], node, text) { continue }
                        out.append(pattern: p, root: node, captureIDs: run.q.captureIDs, Int(leaf.captureStart), Int(leaf.captureCount))
                    }
                case .single(let item):
                    run.resetBudget(root: node, reach: reach[p], comparingWays: true)
                    results.removeAll(keepingCapacity: true)
                    run.matchItem(Int(item), node: node, depth: 0) { run.keep($0, in: &results) }
                    if run.exhausted { budgetExceeded += 1 }
                    if results.count > 1 {
                        // Ways of matching that end together at the same step keep only the
                        // one whose captures hold the others' (tree-sitter merges such states).
                        try emitUndominated(results.map { (p, node, $0) }, text, &out)
                    } else if !results.isEmpty {
                        try emit(p, node, results, text, &out)
                    }
                case .siblings(let seq):
                    // Sibling sequences start at this node among its parent's children.
                    let parent = Int(parents[node])
                    let leadingOptional = run.q.items[Int(seq.start)].quantifier == .optional || run.q.items[Int(seq.start)].quantifier == .zeroOrMore
                    run.resetBudget(root: node, reach: -1, comparingWays: leadingOptional)
                    results.removeAll(keepingCapacity: true)
                    let list = parent < 0
                        ? NodeList(base: run.rootList, start: 0, end: 1)
                        : NodeList(base: run.childIDs.baseAddress!, start: Int(run.offsets[parent]), end: Int(run.offsets[parent + 1]))
                    let start = parent < 0 ? 0 : Int(position[node])
                    run.matchSequence(end: Int(seq.start + seq.count), idx: Int(seq.start), rest: -1, list: list,
                                      from: start, previous: -1, pinned: start, inParent: parent >= 0,
                                      depth: 0) { run.keep($0, in: &results) }
                    if run.exhausted { budgetExceeded += 1 }
                    if leadingOptional {
                        for caps in results { deferred.append((p, node, caps)) }
                    } else if !results.isEmpty {
                        try emit(p, node, results, text, &out)
                    }
                }
            }
        }
        }
        try emitUndominated(deferred, text, &out)
    }

    /// Matches of top-level groups that may start with nothing (`((comment)* @doc .
    /// (function_declaration))`): tree-sitter starts such a pattern at every node its first
    /// item or the next one matches, and drops a state that started later when another of
    /// the same pattern, at the same step, holds all its captures. So a match whose captures
    /// all belong to a larger match of the same pattern is not reported.
    private func emitUndominated(_ found: [(pattern: Int, root: Int, captures: [QueryMatch.Capture])], _ text: NodeText,
                                 _ out: inout MatchList) throws {
        guard !found.isEmpty else { return }
        let sorted = found.map { m in (m.pattern, m.root, m.captures.sorted { $0.node != $1.node ? $0.node < $1.node : $0.id < $1.id }) }
        // Dominating matches share the last captured node: compare only within those groups.
        struct Key: Hashable { var pattern: Int; var last: Int }
        var groups: [Key: [Int]] = [:]
        for (k, m) in sorted.enumerated() { groups[Key(pattern: m.0, last: m.2.last?.node ?? m.1), default: []].append(k) }
        var dropped = Set<Int>()
        var representative: [Int: Int] = [:] // a match -> the first with the same captures
        var seen = Set<[Int]>()
        // Each match's captures as a set, made once; equal ones compared once. The pairs
        // compared, and the captures they hold, are bounded like the search: past the bound
        // the rest are all reported (and the file warned about), rather than the comparisons
        // taking the square of a huge number of ways of matching.
        var comparisons = 0, compared = 0
        let comparisonLimit = Self.stepBudget * 10, comparedLimit = Self.stepBudget * 1000
        compare: for (_, members) in groups where members.count > 1 {
            var unique: [Int] = []
            var firstOf: [[Int]: Int] = [:]
            for k in members {
                let key = sorted[k].2.flatMap { [$0.id, $0.node] }
                if let first = firstOf[key] { representative[k] = first } else { firstOf[key] = k; unique.append(k) }
            }
            let sets = unique.map { k in Set(sorted[k].2.map { [$0.id, $0.node] }) }
            // Largest first: a set's strict supersets all come before it, and each is kept or
            // held by a kept one, so only the kept (the maximal) sets need comparing: the
            // work is the ways times the maximal ones (usually one), not the ways squared.
            var kept: [Int] = []
            for i in sets.indices.sorted(by: { sets[$0].count > sets[$1].count }) {
                var held = false
                for j in kept where sets[j].count > sets[i].count {
                    comparisons += 1
                    compared += sets[i].count
                    if comparisons > comparisonLimit || compared > comparedLimit { budgetExceeded += 1; break compare }
                    if sets[i].isSubset(of: sets[j]) { held = true; break }
                }
                if held { dropped.insert(unique[i]) } else { kept.append(i) }
            }
        }
        for (k, m) in sorted.enumerated() where !dropped.contains(representative[k] ?? k) {
            // The same captures reached from two roots are one match.
            guard seen.insert([m.0] + m.2.flatMap { [$0.id, $0.node] }).inserted else { continue }
            if try predicatesHold(m.0, m.2[...], text) { out.append(pattern: m.0, root: m.1, captures: m.2) }
        }
    }

    /// Different ways of matching one root can capture the same nodes: report them once.
    private func emit(_ pattern: Int, _ root: Int, _ results: [[QueryMatch.Capture]], _ text: NodeText, _ out: inout MatchList) throws {
        var seen: [[QueryMatch.Capture]] = []
        for caps in results {
            let sorted = caps.count < 2 ? caps : caps.sorted { $0.node != $1.node ? $0.node < $1.node : $0.id < $1.id }
            if results.count > 1 {
                if seen.contains(sorted) { continue }
                seen.append(sorted)
            }
            if try predicatesHold(pattern, sorted[...], text) { out.append(pattern: pattern, root: root, captures: sorted) }
        }
    }

    /// The predicates of a leaf's match at `node` (all its captures are that node):
    /// `leafPredicateList[range]`.
    @inline(__always)
    private func leafPredicatesHold(_ range: Range<Int32>, _ node: Int, _ text: NodeText) throws -> Bool {
        for k in Int(range.lowerBound)..<Int(range.upperBound) {
            guard let t = text[node] else { throw Self.noSource }
            let holds = leafPredicateList[k]._withUnsafeGuaranteedRef { $0.holds(t, other: $0.otherCapture == nil ? nil : t) }
            if !holds { return false }
        }
        return true
    }

    private func predicatesHold(_ pattern: Int, _ caps: ArraySlice<QueryMatch.Capture>, _ text: NodeText) throws -> Bool {
        let preds = predicates[pattern]
        guard !preds.isEmpty else { return true }
        for pred in preds {
            var passed = 0, failed = 0
            if let oc = pred.otherCapture {
                // Pairwise: the k-th node of one capture with the k-th of the other.
                let left = caps.filter { $0.id == pred.capture }, right = caps.filter { $0.id == oc }
                for (l, r) in zip(left, right) {
                    guard let a = text[l.node], let b = text[r.node] else { throw Self.noSource }
                    if pred.holds(a, other: b) { passed += 1 } else { failed += 1 }
                }
            } else {
                for c in caps where c.id == pred.capture {
                    guard let t = text[c.node] else { throw Self.noSource }
                    if pred.holds(t, other: nil) { passed += 1 } else { failed += 1 }
                }
            }
            if passed + failed == 0 { continue }
            if pred.kind.someNode ? passed == 0 : failed > 0 { return false }
        }
        return true
    }
}

/// One file's tree as the matcher reads it.
struct TreeView {
    let kinds: UnsafeBufferPointer<UInt16>
    let fields: UnsafeBufferPointer<UInt16>
    let flags: UnsafeBufferPointer<CSTTree.Flags>
    let starts: UnsafeBufferPointer<UInt32>
    let ends: UnsafeBufferPointer<UInt32>
    let parents: UnsafeBufferPointer<Int32>
    let source: UnsafeBufferPointer<UInt8>?
    let errorKind: UInt16
    var count: Int { kinds.count }
}

extension TreeView {
    /// A decoder's buffers, valid while they are not reused.
    init(_ b: TreeDecoder.Buffers, source: UnsafeBufferPointer<UInt8>?, errorKind: UInt16) {
        func view<T>(_ p: UnsafeMutablePointer<T>) -> UnsafeBufferPointer<T> { UnsafeBufferPointer(start: p, count: b.count) }
        self.init(kinds: view(b.kinds), fields: view(b.fields), flags: view(b.flags), starts: view(b.starts),
                  ends: view(b.ends), parents: view(b.parents), source: source, errorKind: errorKind)
    }
}

/// A node's bytes in the file's text (nil when the archive has no text).
struct NodeText {
    let source: UnsafeBufferPointer<UInt8>?
    let starts: UnsafeBufferPointer<UInt32>
    let ends: UnsafeBufferPointer<UInt32>

    subscript(node: Int) -> UnsafeBufferPointer<UInt8>? {
        guard let s = source, let base = s.baseAddress else { return source == nil ? nil : UnsafeBufferPointer(start: nil, count: 0) }
        let a = Int(starts[node]), b = Int(ends[node])
        guard a <= b, b <= s.count else { return UnsafeBufferPointer(start: nil, count: 0) }
        return UnsafeBufferPointer(start: base + a, count: b - a)
    }
}

/// A text predicate, comparing bytes. As tree-sitter's Rust binding applies them (its C
/// library leaves them to the client): on a quantified capture, `#eq?` `#not-eq?`
/// `#match?` `#not-match?` `#any-of?` `#not-any-of?` need every node to pass, the
/// `#any-…?` forms some node; a capture with no node passes; `#eq? @a @b` compares the two
/// captures' nodes pairwise. Regular expressions are Rust's `regex` syntax (ByteRegex).
final class TextPredicate {
    let kind: Query.Predicate.Kind
    let capture: Int
    let otherCapture: Int?
    let strings: [[UInt8]]
    let regex: ByteRegex?

    init(_ p: Query.Predicate) throws {
        kind = p.kind
        capture = p.capture
        otherCapture = p.otherCapture
        strings = p.strings.map { Array($0.utf8) }
        if p.kind.isMatch {
            do {
                regex = try ByteRegex(p.strings[0])
            } catch {
                let shown = p.strings[0].count > 60 ? p.strings[0].prefix(59) + "…" : p.strings[0][...]
                throw CSTPackError("invalid regular expression \"\(shown)\" in #\(p.kind.rawValue): \(error)")
            }
        } else {
            regex = nil
        }
    }

    /// One node's test (with the other capture's node for `#eq? @a @b`).
    func holds(_ t: UnsafeBufferPointer<UInt8>, other: UnsafeBufferPointer<UInt8>?) -> Bool {
        let passed: Bool
        if kind.isEquality {
            passed = other.map { t.elementsEqual($0) } ?? t.elementsEqual(strings[0])
        } else if kind.isMatch {
            passed = regex!.firstMatch(in: t)
        } else {
            passed = strings.contains { t.elementsEqual($0) }
        }
        return passed == kind.positive
    }
}

/// A list of sibling nodes: `base[start..<end]`.
struct NodeList {
    let base: UnsafePointer<Int32>
    let start: Int
    let end: Int
    @inline(__always) subscript(j: Int) -> Int { Int(base[j]) }
}

/// One file's matching state: the compiled query and the tree as plain pointers, the
/// step budget, the capture stack and the splice frames. A struct of pointers, so the
/// matching closures capture it without reference counting.
struct MatchRun {
    let q: TablePointers
    let kinds: UnsafeBufferPointer<UInt16>
    let fields: UnsafeBufferPointer<UInt16>
    let flags: UnsafeBufferPointer<CSTTree.Flags>
    let offsets: UnsafeBufferPointer<Int32>
    let childIDs: UnsafeBufferPointer<Int32>
    let errorKind: UInt16
    struct State {
        /// Steps taken for the current root, and how many it may take.
        var steps = 0
        var allowance = 0
        /// Captures of the current root's found ways, copied out.
        var copied = 0
        /// The root, and how deep its pattern reaches below it (-1: the allowance is fixed).
        var root = 0
        var reach = -1
        /// Splice frames in use.
        var frames = 0
        /// The list index of the last sibling a sequence matched, when it hands over to `k`,
        /// and the limit of a skipping way there (`.max`: none).
        var lastMatched = 0
        var lastLimit = Int.max
        /// The end and list of the repeated group whose skipping ways are handed over.
        var handOverEnd = -1
        var handOverList = -1
        /// The current root's ways of matching are compared and the dominated dropped.
        var comparingWays = false
    }
    private let state: UnsafeMutablePointer<State>
    /// The rest of a sequence to continue with once a spliced group or alternation ends.
    struct Frame { var end: Int32; var idx: Int32; var rest: Int32; var tailEmpty: Bool }
    private let frames: UnsafeMutablePointer<Frame>
    private let frameCapacity: Int
    /// The list of top-level nodes: the root alone.
    let rootList: UnsafeMutablePointer<Int32>
    /// The captures of the match being explored, as a stack: a call that captures writes
    /// above the depth it was given and passes its continuation the new depth, so
    /// exploring alternatives allocates nothing.
    struct CaptureStack { var base: UnsafeMutablePointer<QueryMatch.Capture>; var capacity: Int }
    private let stack: UnsafeMutablePointer<CaptureStack>

    init(_ t: CompiledTables, view: TreeView, offsets: UnsafeBufferPointer<Int32>, childIDs: UnsafeBufferPointer<Int32>) {
        q = t.pointers
        kinds = view.kinds; fields = view.fields; flags = view.flags; self.offsets = offsets; self.childIDs = childIDs
        errorKind = view.errorKind
        state = .allocate(capacity: 1)
        state.initialize(to: State())
        // A frame is live only while its splice is on the call stack, one per spliced
        // item along the path: the item count bounds them.
        frameCapacity = q.items.count + 16
        frames = .allocate(capacity: frameCapacity)
        rootList = .allocate(capacity: 1)
        rootList.initialize(to: 0)
        stack = .allocate(capacity: 1)
        stack.initialize(to: CaptureStack(base: .allocate(capacity: 64), capacity: 64))
    }

    @inline(__always) func push(_ c: QueryMatch.Capture, at depth: Int) {
        if depth >= stack.pointee.capacity {
            let bigger = UnsafeMutablePointer<QueryMatch.Capture>.allocate(capacity: stack.pointee.capacity * 2)
            bigger.moveInitialize(from: stack.pointee.base, count: stack.pointee.capacity)
            stack.pointee.base.deallocate()
            stack.pointee = CaptureStack(base: bigger, capacity: stack.pointee.capacity * 2)
        }
        stack.pointee.base[depth] = c
    }

    /// The captures at depths `from..<to`.
    func captures(_ from: Int, _ to: Int) -> [QueryMatch.Capture] {
        Array(UnsafeBufferPointer(start: stack.pointee.base + from, count: to - from))
    }

    /// Puts `caps` back on the stack at `depth` (after other branches wrote there).
    func restore(_ caps: [QueryMatch.Capture], at depth: Int) {
        for (k, c) in caps.enumerated() { push(c, at: depth + k) }
    }

    func release() {
        state.deallocate()
        frames.deallocate()
        rootList.deallocate()
        stack.pointee.base.deallocate()
        stack.deallocate()
    }

    var exhausted: Bool { state.pointee.steps > state.pointee.allowance }
    /// Starts the search at `root`. `comparingWays`: its ways of matching go through
    /// `emitUndominated`. `reach`: how many levels below the root its pattern looks; the
    /// root then gets steps in proportion to the nodes there too (a generated table's
    /// literal needs more than the fixed budget), which keeps all roots' steps together
    /// within the pattern's depth times the file's nodes. -1: the fixed budget only.
    func resetBudget(root: Int, reach: Int, comparingWays: Bool) {
        state.pointee.steps = 0
        state.pointee.copied = 0
        state.pointee.allowance = QueryMatcher.stepBudget
        state.pointee.root = root
        state.pointee.reach = reach
        state.pointee.comparingWays = comparingWays
    }
    /// Ends the current root's search as if its steps had run out.
    func exhaust() { state.pointee.reach = -1; state.pointee.steps = state.pointee.allowance + 1 }
    /// Keeps a way of matching the current root (its captures at depths `0..<c`). A root
    /// whose ways hold more than `QueryMatcher.copiedLimit` captures in all, or number
    /// `QueryMatcher.resultLimit`, stops there as if its steps had run out (many long ways
    /// would otherwise take memory without bound).
    func keep(_ c: Int, in results: inout [[QueryMatch.Capture]]) {
        results.append(captures(0, c))
        state.pointee.copied += c
        if state.pointee.copied > QueryMatcher.copiedLimit || results.count >= QueryMatcher.resultLimit { exhaust() }
    }

    @inline(__always) func step() -> Bool {
        state.pointee.steps += 1
        return state.pointee.steps <= state.pointee.allowance || extendAllowance()
    }

    /// Once the fixed budget is spent: the steps the root's nodes within the pattern's reach allow.
    private func extendAllowance() -> Bool {
        let reach = state.pointee.reach
        guard reach >= 0, !offsets.isEmpty else { return false }
        state.pointee.reach = -1
        var level = [Int32(state.pointee.root)], nodes = 1
        for _ in 0..<reach where !level.isEmpty {
            var below: [Int32] = []
            for n in level { below.append(contentsOf: childIDs[Int(offsets[Int(n)])..<Int(offsets[Int(n) + 1])]) }
            nodes += below.count
            level = below
        }
        state.pointee.allowance = max(QueryMatcher.stepBudget, QueryMatcher.stepsPerNode * nodes)
        return state.pointee.steps <= state.pointee.allowance
    }

    @inline(__always) func inSet(_ set: Int32, _ kind: UInt16) -> Bool {
        let k = Int(kind)
        guard k < q.kindCount else { return false }
        return q.kindWords[Int(set) + k >> 6] & (1 << UInt64(k & 63)) != 0
    }

    @inline(__always) func isNamed(_ node: Int) -> Bool { flags[node].contains(.named) }

    func anyNamed(_ list: NodeList, _ from: Int, _ to: Int) -> Bool {
        var j = from
        while j < to { if isNamed(list[j]) { return true }; j += 1 }
        return false
    }

    func leafMatches(_ leaf: CompiledQuery.Leaf, _ node: Int) -> Bool {
        let f = fields[node]
        if leaf.itemField != 0 && f != leaf.itemField { return false }
        if leaf.altField != 0 && f != leaf.altField { return false }
        return test(leaf.tag, leaf.kinds, node)
    }

    /// The node tests of `(kind)`, `"token"` and `_` (wildcards never match ERROR, as in
    /// tree-sitter's query cursor).
    @inline(__always) func test(_ tag: CompiledQuery.Tag, _ set: Int32, _ node: Int) -> Bool {
        let kind = kinds[node]
        switch tag {
        case .any: return kind != errorKind
        case .token: return !isNamed(node) && inSet(set, kind)
        case .missing: return flags[node].contains(.missing) && (set < 0 || inSet(set, kind))
        case .node: return isNamed(node) && (set < 0 ? kind != errorKind : inSet(set, kind))
        case .alternation, .group: return false
        }
    }

    /// Matches item `i` at `node` (field, expression, captures).
    func matchItem(_ i: Int, node: Int, depth: Int, _ k: (Int) -> Void) {
        guard step() else { return }
        let item = q.items[i]
        if item.field != 0 && fields[node] != item.field { return }
        var d = depth
        for c in Int(item.captureStart)..<Int(item.captureStart + item.captureCount) {
            push(.init(id: Int(q.captureIDs[c]), node: node), at: d)
            d += 1
        }
        matchExpr(Int(item.expr), node: node, depth: d, k)
    }

    func matchExpr(_ e: Int, node: Int, depth: Int, _ k: (Int) -> Void) {
        let x = q.exprs[e]
        switch x.tag {
        case .any, .token, .missing:
            if test(x.tag, x.kinds, node) { k(depth) }
        case .node:
            guard test(.node, x.kinds, node) else { return }
            let list = NodeList(base: childIDs.baseAddress!, start: Int(offsets[node]), end: Int(offsets[node + 1]))
            for n in Int(x.negatedStart)..<Int(x.negatedStart + x.negatedCount) {
                var j = list.start
                while j < list.end { if fields[list[j]] == q.negated[n] { return }; j += 1 }
            }
            if x.count == 0 { k(depth); return }
            matchSequence(end: Int(x.first + x.count), idx: Int(x.first), rest: -1, list: list, from: list.start,
                          previous: -1, pinned: -1, inParent: true, depth: depth, k)
        case .alternation:
            for a in Int(x.first)..<Int(x.first + x.count) where q.ranges[a].count == 1 {
                matchItem(Int(q.ranges[a].start), node: node, depth: depth, k)
            }
        case .group:
            if x.count == 1 { matchItem(Int(x.first), node: node, depth: depth, k) }
        }
    }

    /// Matches items `idx..<end` (then the frames from `rest` on) against siblings
    /// `list[from...]`. `previous` is the list index of the last matched sibling (for
    /// anchors, -1: none); `pinned` fixes where the next item must match (a top-level
    /// sibling group starts at a given node, -1: anywhere); `inParent` says the list is a
    /// parent's children (so edge anchors apply). `limit`, on a way that skipped a `?` or
    /// `*` item present at list index `limit`: the next sibling matched must sit at or
    /// before it (tree-sitter drops the skipping state when the item matches, as its
    /// captures are a subset of the other's at the same step), and the way ends in
    /// nothing if it matches no sibling.
    func matchSequence(end: Int, idx: Int, rest: Int, list: NodeList, from: Int, previous: Int,
                       pinned: Int, inParent: Bool, depth: Int, limit: Int = .max, _ k: (Int) -> Void) {
        guard step() else { return }
        var end = end, idx = idx, rest = rest
        while idx == end && rest >= 0 {
            let f = frames[rest]
            end = Int(f.end); idx = Int(f.idx); rest = Int(f.rest)
        }
        guard idx < end else {
            // A skipping state that matched nothing since waits for, and loses to, the longer
            // one; but at the end of a repeated group's siblings it is handed over with its
            // limit, as leaving the loop may still match up to there.
            if limit != .max {
                guard rest < 0 && end == state.pointee.handOverEnd && list.start == state.pointee.handOverList else { return }
            }
            state.pointee.lastMatched = previous
            state.pointee.lastLimit = limit
            k(depth)
            return
        }
        let item = q.items[idx]
        let tailEmpty = idx + 1 == end && (rest < 0 || frames[rest].tailEmpty)

        // Groups and alternations inside a sequence are spliced into it.
        if item.quantifier == .one && item.spliceCount >= 0 {
            let slot = state.pointee.frames
            guard slot < frameCapacity else { exhaust(); return }
            frames[slot] = Frame(end: Int32(end), idx: Int32(idx + 1), rest: Int32(rest), tailEmpty: tailEmpty)
            state.pointee.frames = slot + 1
            defer { state.pointee.frames = slot }
            for s in Int(item.spliceStart)..<Int(item.spliceStart + item.spliceCount) {
                let r = q.ranges[s]
                matchSequence(end: Int(r.start + r.count), idx: Int(r.start), rest: slot, list: list, from: from,
                              previous: previous, pinned: pinned, inParent: inParent, depth: depth, limit: limit, k)
            }
            return
        }

        // A quantified group of several siblings, `("," (_))*`: every number of repetitions
        // is explored (tree-sitter splits its state at each), and matches whose captures
        // another match of the same root holds are dropped afterwards, as tree-sitter does.
        if item.quantifier != .one, q.exprs[Int(item.expr)].tag == .group, q.exprs[Int(item.expr)].count > 1 {
            repeatGroup(end: end, idx: idx, rest: rest, list: list, from: from, previous: previous, pinned: pinned,
                        inParent: inParent, depth: depth, limit: limit, k)
            return
        }

        /// May the first occurrence of this item sit at list index j?
        func placeable(_ j: Int, after prev: Int) -> Bool {
            if pinned >= 0 && j != pinned { return false }
            guard item.anchoredBefore else { return true }
            if prev >= 0 { return !anyNamed(list, prev + 1, j) } // immediately after the previous match
            // A top-level group starts where it is pinned: an anchor after items that
            // matched nothing there ties this one to nothing (tree-sitter starts the pattern
            // at this step, as `((comment)* . (function_declaration))` in tags.scm needs).
            if pinned >= 0 { return true }
            return !inParent || !anyNamed(list, list.start, j)   // first named child
        }
        func endsRight(_ j: Int) -> Bool {
            guard tailEmpty && item.anchoredAfter && inParent else { return true }
            return !anyNamed(list, j + 1, list.end)
        }
        /// The way that skips this `?` or `*` item. tree-sitter splits its state on reaching
        /// the item: one copy waits for the item, one goes on to the next. Inside a parent,
        /// or after a group's first item, the copy going on lives until the item matches
        /// (at list index `present`), so it may match siblings up to there; a top-level
        /// group's leading item skips only where it is absent (as tree-sitter's states
        /// started at each sibling work out).
        func skip(present: Int) {
            if present >= 0 && pinned >= 0 { return }
            matchSequence(end: end, idx: idx + 1, rest: rest, list: list, from: from, previous: previous,
                          pinned: pinned, inParent: inParent, depth: depth,
                          limit: present < 0 ? limit : min(limit, present), k)
        }
        /// tree-sitter drops a state waiting for `field: ...` at a sibling of that field when
        /// the parent's production has no later child of that field. Nodes under one hidden
        /// child share its field, so a run of siblings with the field counts as one child,
        /// but for its first node when a separator of the field follows it (`name: a, b`
        /// is `a` then a hidden repetition of `, b`), or when it is a token before a named
        /// node (C++'s `name: template identifier`, two children of the production).
        var fieldRun = (start: -1, end: -1, last: false)  // the run of siblings of the field last looked at
        func lastOfField(_ j: Int) -> Bool {
            let f = item.field
            guard f != 0, fields[list[j]] == f else { return false }
            if j < fieldRun.end && j > fieldRun.start { return fieldRun.last }
            var first = j
            while first > list.start && fields[list[first - 1]] == f { first -= 1 }
            var m = j + 1
            while m < list.end && fields[list[m]] == f { m += 1 }
            fieldRun = (first, m, true)
            while m < list.end { if fields[list[m]] == f { fieldRun.last = false; break }; m += 1 }
            if j == first && first + 1 < fieldRun.end && (!isNamed(list[first + 1]) || !isNamed(list[first])) { return false }
            return fieldRun.last
        }
        func continueAfter(_ j: Int, _ c: Int) {
            guard endsRight(j) else { return }
            matchSequence(end: end, idx: idx + 1, rest: rest, list: list, from: j + 1, previous: j, pinned: -1,
                          inParent: inParent, depth: c, k)
        }

        switch item.quantifier {
        case .one, .optional:
            var firstMatch = -1
            var j = from
            while j < list.end && j <= limit && !exhausted {
                if pinned >= 0 && j != pinned { break }
                if placeable(j, after: previous) {
                    let position = j
                    matchItem(idx, node: list[j], depth: depth) { c in
                        if firstMatch < 0 { firstMatch = position }
                        continueAfter(position, c)
                    }
                    if firstMatch >= 0 && !item.triesLater { break }
                }
                if lastOfField(j) { break }
                j += 1
            }
            if item.quantifier == .optional {
                skip(present: firstMatch)
            }
        case .zeroOrMore, .oneOrMore:
            // As in tree-sitter: the run starts at the first sibling that matches and
            // continues through the immediately following siblings while they match.
            var firstMatch = -1
            var j = from
            var fieldEnded = false
            while j < list.end && j <= limit && !exhausted && !fieldEnded {
                if pinned >= 0 && j != pinned { break }
                fieldEnded = lastOfField(j)
                defer { j += 1 }
                guard placeable(j, after: previous) else { continue }
                var runCaps: [QueryMatch.Capture]? = nil
                matchItem(idx, node: list[j], depth: depth) { c in if runCaps == nil { runCaps = captures(depth, c) } }
                guard var run = runCaps else { continue }
                if pinned >= 0 && j > list.start {
                    // A run that the previous sibling would extend is part of a longer run.
                    var extends = false
                    matchItem(idx, node: list[j - 1], depth: depth) { _ in extends = true }
                    if extends { return }
                }
                if firstMatch < 0 { firstMatch = j }
                var last = j
                while last + 1 < list.end && !exhausted {
                    var next: [QueryMatch.Capture]? = nil
                    restore(run, at: depth)
                    matchItem(idx, node: list[last + 1], depth: depth + run.count) { c in if next == nil { next = captures(depth, c) } }
                    guard let n = next else { break }
                    run = n
                    last += 1
                }
                restore(run, at: depth)
                // tree-sitter takes the first run, unless it must end the parent's children
                // (`(comment)* @c .`) and does not: then a later run.
                if !endsRight(last) { j = last; continue }
                continueAfter(last, depth + run.count)
                break
            }
            if item.quantifier == .zeroOrMore {
                skip(present: firstMatch)
            }
        }
    }

    /// The repetitions of quantified group `idx` (see matchSequence), exits first.
    private func repeatGroup(end: Int, idx: Int, rest: Int, list: NodeList, from: Int, previous: Int, pinned: Int,
                             inParent: Bool, depth: Int, limit: Int, _ k: (Int) -> Void) {
        let item = q.items[idx]
        let x = q.exprs[Int(item.expr)]
        let groupEnd = Int(x.first + x.count)
        if item.quantifier == .optional {
            // `?`: none, or one repetition in each way the group matches (each a match of its own).
            matchSequence(end: end, idx: idx + 1, rest: rest, list: list, from: from, previous: previous, pinned: pinned,
                          inParent: inParent, depth: depth, limit: limit, k)
            matchSequence(end: groupEnd, idx: Int(x.first), rest: -1, list: list, from: from, previous: previous,
                          pinned: pinned, inParent: inParent, depth: depth, limit: limit) { c in
                let last = state.pointee.lastMatched
                guard last >= from else { return } // a repetition that matched nothing is none
                matchSequence(end: end, idx: idx + 1, rest: rest, list: list, from: last + 1, previous: last, pinned: -1,
                              inParent: inParent, depth: c, k)
            }
            return
        }
        // `*` and `+`, in a loop (a recursion per repetition would grow the stack with the
        // siblings). Each repetition takes the group's earliest match, as a quantified single
        // item takes its first run: the alternatives would only add dominated matches, in a
        // number exponential in the siblings. A repetition after the first starts at the
        // very next sibling (tree-sitter's repeat step seeks an immediate match), or not at all.
        let least = item.quantifier == .oneOrMore ? 1 : 0
        let skippable = exitsMayBeSuperseded(end: end, idx: idx, rest: rest)
        var from = from, previous = previous, depth = depth, times = 0
        while !exhausted {
            let first = times == 0
            var next: (last: Int, captures: [QueryMatch.Capture])? = nil
            var others: [(last: Int, limit: Int, captures: [QueryMatch.Capture])] = []
            let handOver = (state.pointee.handOverEnd, state.pointee.handOverList)
            (state.pointee.handOverEnd, state.pointee.handOverList) = (groupEnd, list.start)
            matchSequence(end: groupEnd, idx: Int(x.first), rest: -1, list: list, from: from, previous: previous,
                          pinned: first ? pinned : from, inParent: inParent, depth: depth, limit: first ? limit : .max) { c in
                let last = state.pointee.lastMatched, bound = state.pointee.lastLimit
                guard last >= from else { return } // an iteration that matched nothing ends the loop
                if next == nil && bound == .max {
                    next = (last, captures(depth, c))
                } else if !first || pinned >= 0 {
                    // Only ways that start where the first does: an unpinned first
                    // repetition's later starts are states tree-sitter drops.
                    others.append((last, bound, captures(depth, c)))
                }
            }
            (state.pointee.handOverEnd, state.pointee.handOverList) = handOver
            if times >= least {
                // Leaving here is the same as leaving after the next repetition, with fewer
                // captures, when what follows cannot start before that repetition ends:
                // tree-sitter drops this state when the next one reaches its step. Not
                // exploring it keeps the search linear in the repetitions.
                let superseded = skippable && next.map { !nextItemMatches(idx + 1, list, from, through: $0.last, depth: depth) } == true
                if !superseded {
                    matchSequence(end: end, idx: idx + 1, rest: rest, list: list, from: from, previous: previous,
                                  pinned: first ? pinned : -1, inParent: inParent, depth: depth, limit: first ? limit : .max, k)
                }
            }
            // The repetition's other ways are not repeated, but leaving after them may match
            // what leaving after the first cannot (`,` alone, then `(comment)` at the sibling
            // the first way took as `(_)?`: a skipping way, with its limit).
            for w in others where !exhausted {
                if let n = next, w.limit == .max, skippable, w.last < n.last, Set(w.captures).isSubset(of: n.captures),
                   !nextItemMatches(idx + 1, list, w.last + 1, through: n.last, depth: depth) { continue }
                restore(w.captures, at: depth)
                matchSequence(end: end, idx: idx + 1, rest: rest, list: list, from: w.last + 1, previous: w.last, pinned: -1,
                              inParent: inParent, depth: depth + w.captures.count, limit: w.limit, k)
            }
            guard let n = next else { return }
            restore(n.captures, at: depth)
            depth += n.captures.count
            from = n.last + 1
            previous = n.last
            times += 1
        }
    }

    /// Whether an exit from the group at `idx` that finds nothing before the next repetition
    /// ends yields only matches the later exit's hold: the current root's ways of matching
    /// are compared, the group's siblings are followed by a plain, unanchored
    /// item, and a later item is always captured (so both matches end on the same node).
    private func exitsMayBeSuperseded(end: Int, idx: Int, rest: Int) -> Bool {
        guard state.pointee.comparingWays, rest < 0, idx + 1 < end else { return false }
        let next = q.items[idx + 1]
        guard next.quantifier == .one, next.spliceCount < 0, !next.anchoredBefore else { return false }
        return (idx + 1..<end).contains { q.items[$0].quantifier == .one && q.items[$0].captureCount > 0 }
    }

    /// Whether item `i` matches any of `list[from...through]` (writing captures above `depth`).
    private func nextItemMatches(_ i: Int, _ list: NodeList, _ from: Int, through last: Int, depth: Int) -> Bool {
        var found = false
        var j = from
        while j <= last && j < list.end && !found {
            matchItem(i, node: list[j], depth: depth) { _ in found = true }
            j += 1
        }
        return found
    }

}
