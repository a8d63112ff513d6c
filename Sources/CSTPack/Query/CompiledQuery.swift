import Foundation

/// A Query flattened for matching: every item, expression, kind set and capture list in
/// arrays of plain values addressed by index, so the matcher's inner loops touch no
/// reference-counted storage, and patterns grouped by the kind their root must have.
struct CompiledQuery {
    struct Item {
        var expr: Int32
        var quantifier: Query.Quantifier
        var field: UInt16          // 0: any
        var anchoredBefore: Bool
        var anchoredAfter: Bool
        var captureStart: Int32
        var captureCount: Int32
        /// In a sibling sequence, a group (without captures) or an alternation is replaced
        /// by its items: `ranges[spliceStart..<spliceStart+spliceCount]` are the sequences
        /// it stands for, already adjusted (captures, field, anchor). -1: not spliced.
        var spliceStart: Int32
        var spliceCount: Int32
        /// tree-sitter splits its state at a sibling this item matches (one copy takes it,
        /// one waits for a later one) only when the item captures or has children to test;
        /// otherwise the first sibling that matches is taken.
        var triesLater: Bool
    }

    enum Tag: UInt8 { case node, token, any, missing, alternation, group }

    struct Expr {
        var tag: Tag
        /// Offset of the kind set in `kindWords`; -1 for `(_)`.
        var kinds: Int32
        /// node: children items; group: items; alternation: alternatives in `ranges`.
        var first: Int32
        var count: Int32
        var negatedStart: Int32
        var negatedCount: Int32
    }

    struct Range { var start: Int32; var count: Int32 }

    /// A pattern of one node test (a kind, token, wildcard, or an alternation of those)
    /// with no children: it matches on the node's own kind, flags and field.
    struct Leaf {
        var tag: Tag
        var kinds: Int32
        var itemField: UInt16
        var altField: UInt16
        var captureStart: Int32
        var captureCount: Int32
        /// The first leaf of the pattern with the same captures (a match by either is the
        /// same match), or -1 when this is that leaf.
        var sameAs: Int32
    }

    enum Shape {
        /// `leaves[start..<start+count]`
        case leaves(Int32, Int32)
        /// One item, matched at the node (the compiled item's index).
        case single(Int32)
        /// A sequence of siblings starting at the node.
        case siblings(Range)
    }

    var items: [Item] = []
    var exprs: [Expr] = []
    var ranges: [Range] = []
    var captureIDs: [Int32] = []
    var negated: [UInt16] = []
    var kindWords: [UInt64] = []
    var leaves: [Leaf] = []
    var shapes: [Shape] = []
    let kindCount: Int
    let wordsPerSet: Int
    /// Per kind code, the patterns to try at a node of that kind, in pattern order:
    /// `attempts[attemptStarts[k]..<attemptStarts[k+1]]`; kinds past the table use the last row.
    var attemptStarts: [Int32] = []
    var attempts: [Attempt] = []
    /// A pattern to try; for a pattern of leaves, only those that can match this kind:
    /// `leafRefs[leafStart..<leafStart+leafCount]`.
    struct Attempt { var pattern: Int32; var leafStart: Int32; var leafCount: Int32 }
    var leafRefs: [Int32] = []
    var needsChildren = false
    var hasSiblingPatterns = false
    static let maxItems = 1 << 20

    init(_ query: Query, kindCount: Int) throws {
        self.kindCount = kindCount
        wordsPerSet = max(1, (kindCount + 63) / 64)
        var rootKinds: [Set<UInt16>?] = []
        for p in query.patterns {
            if p.items.count == 1, p.items[0].quantifier == .one, let ls = Self.leafTests(p.items[0]) {
                let start = Int32(leaves.count)
                for (k, l) in ls.enumerated() {
                    let caps = l.captures.sorted()
                    let capStart = Int32(captureIDs.count)
                    captureIDs += caps.map { Int32($0) }
                    let same = ls[..<k].firstIndex { $0.captures.sorted() == caps }.map { start + Int32($0) } ?? -1
                    leaves.append(Leaf(tag: l.tag, kinds: kindSet(l.kinds), itemField: l.itemField, altField: l.altField,
                                       captureStart: capStart, captureCount: Int32(caps.count), sameAs: same))
                }
                shapes.append(.leaves(start, Int32(ls.count)))
                rootKinds.append(QueryMatcher.rootKinds(p.items[0].expr))
            } else if p.items.count == 1, p.items[0].quantifier == .one {
                let r = try sequence(p.items)
                shapes.append(.single(r.start))
                rootKinds.append(QueryMatcher.rootKinds(p.items[0].expr))
                needsChildren = true
            } else {
                shapes.append(.siblings(try sequence(p.items)))
                rootKinds.append(nil)
                needsChildren = true
                hasSiblingPatterns = true
            }
        }
        // Dense table: the patterns each kind code can start, in pattern order.
        for kind in 0...kindCount {
            attemptStarts.append(Int32(attempts.count))
            for (p, ks) in rootKinds.enumerated() where ks == nil || (kind < kindCount && ks!.contains(UInt16(kind))) {
                guard case .leaves(let start, let count) = shapes[p] else {
                    attempts.append(Attempt(pattern: Int32(p), leafStart: 0, leafCount: 0))
                    continue
                }
                let refStart = leafRefs.count
                for l in Int(start)..<Int(start + count) {
                    let set = Int(leaves[l].kinds)
                    if set < 0 || (kind < kindCount && kindWords[set + kind >> 6] & (1 << UInt64(kind & 63)) != 0) {
                        leafRefs.append(Int32(l))
                    }
                }
                if leafRefs.count > refStart {
                    attempts.append(Attempt(pattern: Int32(p), leafStart: Int32(refStart), leafCount: Int32(leafRefs.count - refStart)))
                }
            }
        }
        attemptStarts.append(Int32(attempts.count))
    }

    struct LeafTest {
        var tag: Tag
        var kinds: Set<UInt16>?
        var itemField: UInt16
        var altField: UInt16
        var captures: [Int]
    }

    /// The leaf tests of an item that needs nothing but its node, or nil.
    static func leafTests(_ item: Query.Item) -> [LeafTest]? {
        func leaf(_ e: Query.Expr) -> (Tag, Set<UInt16>?)? {
            switch e {
            case .node(let kinds, let children, let negated) where children.isEmpty && negated.isEmpty: return (.node, kinds)
            case .token(let codes): return (.token, codes)
            case .any: return (.any, nil)
            case .missing(let kinds): return (.missing, kinds)
            default: return nil
            }
        }
        let outerField = item.field ?? 0
        if let (tag, kinds) = leaf(item.expr) {
            return [LeafTest(tag: tag, kinds: kinds, itemField: outerField, altField: 0, captures: item.captures)]
        }
        guard case .alternation(let alts) = item.expr else { return nil }
        var out: [LeafTest] = []
        // As the general matcher does: an alternative of several items never matches at a node.
        for alt in alts where alt.count == 1 {
            guard let (tag, kinds) = leaf(alt[0].expr) else { return nil }
            out.append(LeafTest(tag: tag, kinds: kinds, itemField: outerField, altField: alt[0].field ?? 0,
                                captures: item.captures + alt[0].captures))
        }
        return out
    }

    mutating func kindSet(_ kinds: Set<UInt16>?) -> Int32 {
        guard let kinds else { return -1 }
        let offset = kindWords.count
        kindWords += [UInt64](repeating: 0, count: wordsPerSet)
        for k in kinds where Int(k) < kindCount { kindWords[offset + Int(k) >> 6] |= 1 << UInt64(k & 63) }
        return Int32(offset)
    }

    /// Compiles `list` into consecutive items.
    mutating func sequence(_ list: [Query.Item]) throws -> Range {
        let start = items.count
        guard start + list.count <= Self.maxItems else { throw CSTPackError("the query is too large to compile (over \(Self.maxItems) items after expanding alternations)") }
        items += list.map { _ in Item(expr: -1, quantifier: .one, field: 0, anchoredBefore: false, anchoredAfter: false,
                                      captureStart: 0, captureCount: 0, spliceStart: -1, spliceCount: -1, triesLater: true) }
        for (k, item) in list.enumerated() { try fill(start + k, item) }
        return Range(start: Int32(start), count: Int32(list.count))
    }

    mutating func fill(_ slot: Int, _ item: Query.Item) throws {
        let expr = try expression(item.expr)
        let capStart = Int32(captureIDs.count)
        captureIDs += item.captures.map { Int32($0) }
        var spliced: [[Query.Item]]? = nil
        if item.quantifier == .one {
            switch item.expr {
            case .group(var inner) where item.captures.isEmpty:
                if !inner.isEmpty { inner[0].anchoredBefore = inner[0].anchoredBefore || item.anchoredBefore }
                spliced = [inner]
            case .alternation(let alts):
                spliced = alts.map { alt in
                    var s = alt
                    for j in s.indices {
                        s[j].captures += item.captures
                        if s[j].field == nil { s[j].field = item.field }
                    }
                    if !s.isEmpty { s[0].anchoredBefore = s[0].anchoredBefore || item.anchoredBefore }
                    return s
                }
            default: break
            }
        }
        var spliceStart: Int32 = -1, spliceCount: Int32 = -1
        if let spliced {
            var rs: [Range] = []
            for s in spliced { rs.append(try sequence(s)) }
            spliceStart = Int32(ranges.count)
            spliceCount = Int32(rs.count)
            ranges += rs
        }
        items[slot] = Item(expr: expr, quantifier: item.quantifier, field: item.field ?? 0,
                           anchoredBefore: item.anchoredBefore, anchoredAfter: item.anchoredAfter,
                           captureStart: capStart, captureCount: Int32(item.captures.count),
                           spliceStart: spliceStart, spliceCount: spliceCount,
                           triesLater: Self.hasCaptures(item) || Self.hasChildren(item.expr))
    }

    static func hasCaptures(_ item: Query.Item) -> Bool {
        if !item.captures.isEmpty { return true }
        switch item.expr {
        case .node(_, let children, _): return children.contains(where: hasCaptures)
        case .group(let items): return items.contains(where: hasCaptures)
        case .alternation(let alts): return alts.contains { $0.contains(where: hasCaptures) }
        case .token, .any, .missing: return false
        }
    }

    /// Whether the item's steps go on into the node's children (tree-sitter's "fallible" step).
    static func hasChildren(_ e: Query.Expr) -> Bool {
        switch e {
        case .node(_, let children, _): return !children.isEmpty
        case .group(let items): return items.count > 1 || items.contains { hasChildren($0.expr) }
        case .alternation(let alts): return alts.contains { $0.count > 1 || $0.contains { hasChildren($0.expr) } }
        case .token, .any, .missing: return false
        }
    }

    mutating func expression(_ e: Query.Expr) throws -> Int32 {
        var x = Expr(tag: .any, kinds: -1, first: 0, count: 0, negatedStart: 0, negatedCount: 0)
        switch e {
        case .any: break
        case .token(let codes):
            x.tag = .token
            x.kinds = kindSet(codes)
        case .missing(let kinds):
            x.tag = .missing
            x.kinds = kindSet(kinds)
        case .node(let kinds, let children, let negatedFields):
            x.tag = .node
            x.kinds = kindSet(kinds)
            let r = try sequence(children)
            x.first = r.start; x.count = r.count
            x.negatedStart = Int32(negated.count)
            x.negatedCount = Int32(negatedFields.count)
            negated += negatedFields
        case .group(let list):
            x.tag = .group
            let r = try sequence(list)
            x.first = r.start; x.count = r.count
        case .alternation(let alts):
            x.tag = .alternation
            var rs: [Range] = []
            for alt in alts { rs.append(try sequence(alt)) }
            x.first = Int32(ranges.count); x.count = Int32(rs.count)
            ranges += rs
        }
        exprs.append(x)
        return Int32(exprs.count - 1)
    }
}

/// A CompiledQuery's tables as plain pointers: the matcher's loops neither nest
/// `withUnsafeBufferPointer` nor count references. Valid while their CompiledTables lives.
struct TablePointers {
    let items: UnsafeBufferPointer<CompiledQuery.Item>
    let exprs: UnsafeBufferPointer<CompiledQuery.Expr>
    let ranges: UnsafeBufferPointer<CompiledQuery.Range>
    let captureIDs: UnsafeBufferPointer<Int32>
    let negated: UnsafeBufferPointer<UInt16>
    let kindWords: UnsafeBufferPointer<UInt64>
    let attemptStarts: UnsafeBufferPointer<Int32>
    let attempts: UnsafeBufferPointer<CompiledQuery.Attempt>
    let shapes: UnsafeBufferPointer<CompiledQuery.Shape>
    let leaves: UnsafeBufferPointer<CompiledQuery.Leaf>
    let leafRefs: UnsafeBufferPointer<Int32>
    let kindCount: Int
    let wordsPerSet: Int
}

/// A CompiledQuery's tables copied into memory of their own (TablePointers point into
/// it), freed with the matcher that owns it.
final class CompiledTables {
    let pointers: TablePointers
    let needsChildren: Bool
    let hasSiblingPatterns: Bool

    init(_ c: CompiledQuery) {
        func copy<T>(_ a: [T]) -> UnsafeBufferPointer<T> {
            let p = UnsafeMutablePointer<T>.allocate(capacity: max(a.count, 1))
            p.initialize(from: a, count: a.count)
            return UnsafeBufferPointer(start: p, count: a.count)
        }
        pointers = TablePointers(
            items: copy(c.items), exprs: copy(c.exprs), ranges: copy(c.ranges), captureIDs: copy(c.captureIDs),
            negated: copy(c.negated), kindWords: copy(c.kindWords), attemptStarts: copy(c.attemptStarts),
            attempts: copy(c.attempts), shapes: copy(c.shapes), leaves: copy(c.leaves), leafRefs: copy(c.leafRefs),
            kindCount: c.kindCount, wordsPerSet: c.wordsPerSet)
        needsChildren = c.needsChildren
        hasSiblingPatterns = c.hasSiblingPatterns
    }

    deinit {
        // Every element type is plain data: nothing to deinitialize.
        func free<T>(_ b: UnsafeBufferPointer<T>) { UnsafeMutablePointer(mutating: b.baseAddress!).deallocate() }
        let t = pointers
        free(t.items); free(t.exprs); free(t.ranges); free(t.captureIDs); free(t.negated); free(t.kindWords)
        free(t.attemptStarts); free(t.attempts); free(t.shapes); free(t.leaves); free(t.leafRefs)
    }
}
