/// A file's summary (SUMMARIES, Spec/FORMAT.md 19): how many nodes of each kind its tree
/// has, and a Bloom filter of its named leaves' texts. Searches read it to pass over files
/// that cannot match without decoding their tree or text, and count kinds without decoding.
package struct FileSummary: Equatable, Sendable {
    package struct KindCount: Equatable, Sendable {
        package var kind: UInt16
        /// Nodes of this kind in the tree (at least 1).
        package var count: UInt32
        /// Whether at least one of them has children.
        package var inner: Bool
    }

    /// Kinds present, by increasing code.
    package var kinds: [KindCount]
    /// The leaf-text filter's words (empty: no text stored, or no qualifying leaf).
    package var filter: [UInt64]

    /// Filter bits per distinct leaf text, and bits set per text.
    static let bitsPerText = 8
    static let probes: UInt64 = 3
    /// Leaves whose text is longer are not in the filter (long strings and comments are
    /// rarely what a pattern names, and would fill it).
    package static let maxLeafText = 64

    package init(kinds: [KindCount], filter: [UInt64]) {
        self.kinds = kinds
        self.filter = filter
    }

    /// The summary of a tree (preorder arrays, one entry per node); `source` is the file's text
    /// when it is stored (the filter is empty without it).
    init(kinds: UnsafeBufferPointer<UInt16>, flags: UnsafeBufferPointer<CSTTree.Flags>, starts: UnsafeBufferPointer<UInt32>,
         ends: UnsafeBufferPointer<UInt32>, parents: UnsafeBufferPointer<Int32>, kindCount: Int, source: UnsafeRawBufferPointer?) {
        let n = kinds.count
        var counts = [UInt32](repeating: 0, count: kindCount)
        var inner = [Bool](repeating: false, count: kindCount)
        var texts = Set<UInt64>()
        for i in 0..<n {
            let k = Int(kinds[i])
            guard k < kindCount else { continue }
            counts[k] &+= 1
            // Preorder: a node has children when the next node is its child.
            let hasChildren = i + 1 < n && Int(parents[i + 1]) == i
            if hasChildren {
                inner[k] = true
            } else if let source, flags[i].contains(.named) {
                let a = Int(starts[i]), b = Int(ends[i])
                if a < b, b <= source.count, b - a <= Self.maxLeafText {
                    texts.insert(Hash.xxh3(UnsafeRawBufferPointer(rebasing: source[a..<b])))
                }
            }
        }
        self.kinds = counts.indices.compactMap { k in
            counts[k] == 0 ? nil : KindCount(kind: UInt16(k), count: counts[k], inner: inner[k])
        }
        var filter = [UInt64](repeating: 0, count: (texts.count * Self.bitsPerText + 63) / 64)
        for h in texts { Self.forEachBit(h, bits: UInt64(filter.count) * 64) { filter[Int($0 >> 6)] |= 1 << ($0 & 63) } }
        self.filter = filter
    }

    /// The summary of a decoded tree.
    init(_ b: TreeDecoder.Buffers, kindCount: Int, source: UnsafeRawBufferPointer?) {
        func view<T>(_ p: UnsafeMutablePointer<T>) -> UnsafeBufferPointer<T> { UnsafeBufferPointer(start: p, count: b.count) }
        self.init(kinds: view(b.kinds), flags: view(b.flags), starts: view(b.starts), ends: view(b.ends), parents: view(b.parents),
                  kindCount: kindCount, source: source)
    }

    /// The summary of a parsed tree.
    package init(_ t: CSTTree, kindCount: Int, source: UnsafeRawBufferPointer?) {
        self = t.kinds.withUnsafeBufferPointer { k in t.flags.withUnsafeBufferPointer { f in
            t.starts.withUnsafeBufferPointer { s in t.ends.withUnsafeBufferPointer { e in t.parents.withUnsafeBufferPointer { p in
                FileSummary(kinds: k, flags: f, starts: s, ends: e, parents: p, kindCount: kindCount, source: source)
            } } }
        } }
    }

    /// The filter's bits for a text hash: `probes` positions `(a + j*b) mod bits`, where a
    /// and b are the hash's low and high 32 bits.
    @inline(__always)
    static func forEachBit(_ h: UInt64, bits: UInt64, _ body: (UInt64) -> Void) {
        let a = h & 0xFFFF_FFFF, b = h >> 32
        for j in 0..<probes { body((a + j * b) % bits) }
    }

    /// The number of nodes whose kind is one of `codes` (`codes[k]` says whether kind k is).
    package func count(of isKind: [Bool]) -> Int {
        var n = 0
        for e in kinds where Int(e.kind) < isKind.count && isKind[Int(e.kind)] { n += Int(e.count) }
        return n
    }

    /// Whether the tree has a node of one of these kinds.
    package func has(anyOf codes: Set<UInt16>) -> Bool {
        kinds.contains { codes.contains($0.kind) }
    }

    /// The entry of `kind`, if the tree has nodes of it.
    package func entry(_ kind: UInt16) -> KindCount? {
        var lo = 0, hi = kinds.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if kinds[mid].kind == kind { return kinds[mid] }
            if kinds[mid].kind < kind { lo = mid + 1 } else { hi = mid }
        }
        return nil
    }

    /// Whether some named leaf may have this text: false only when none has (a Bloom
    /// filter: true may be wrong). Texts past `maxLeafText` bytes, or empty, are not
    /// filtered (always true).
    package func mayHaveLeaf(_ text: [UInt8]) -> Bool {
        guard !text.isEmpty, text.count <= Self.maxLeafText else { return true }
        guard !filter.isEmpty else { return false }
        let bits = UInt64(filter.count) * 64
        var all = true
        Self.forEachBit(Hash.xxh3(text), bits: bits) { if filter[Int($0 >> 6)] & (1 << ($0 & 63)) == 0 { all = false } }
        return all
    }

    /// What differs between this summary (stored) and `expected` (worked out from the
    /// tree and text), said for a person; nil when they are equal.
    package func difference(from expected: FileSummary, table: LanguageTable) -> String? {
        for e in expected.kinds where entry(e.kind) != e {
            let name = table.kindNames[Int(e.kind)]
            guard let s = entry(e.kind) else { return "no entry for kind '\(name)', which the tree has \(e.count) nodes of" }
            return s.count != e.count ? "\(s.count) nodes of kind '\(name)', the tree has \(e.count)"
                                      : "kind '\(name)' marked \(s.inner ? "" : "never ")with children, wrongly"
        }
        if let extra = kinds.first(where: { expected.entry($0.kind) == nil }) {
            return "an entry for kind '\(table.kindNames[Int(extra.kind)])', which the tree has no nodes of"
        }
        if filter != expected.filter {
            return "the leaf-text filter (\(filter.count) words) is not the one the tree and text give (\(expected.filter.count) words)"
        }
        return nil
    }

    /// The summary as stored.
    package var bytes: [UInt8] {
        var w = ByteWriter()
        write(to: &w)
        return w.bytes
    }

    package func write(to w: inout ByteWriter) {
        w.varint(kinds.count)
        var previous = 0
        for (i, e) in kinds.enumerated() {
            let gap = i == 0 ? Int(e.kind) : Int(e.kind) - previous
            w.varint(UInt64(gap) << 1 | (e.inner ? 1 : 0))
            w.varint(e.count)
            previous = Int(e.kind)
        }
        w.varint(filter.count)
        for word in filter { w.u64(word) }
    }

    /// Reads one summary (all of `r`), checked: kinds strictly increasing and below
    /// `kindCount`, counts from 1 to `nodeCount` summing to `nodeCount`, nothing after it.
    package static func read(_ r: inout ByteReader, kindCount: Int, nodeCount: Int) throws(FormatError) -> FileSummary {
        let n = Int(try r.varint(max: UInt64(min(kindCount, nodeCount)), "kind count"))
        var kinds: [KindCount] = []
        kinds.reserveCapacity(n)
        var kind = -1, total = 0
        for i in 0..<n {
            let v = try r.varint(max: UInt64(kindCount) << 1, "kind gap")
            let gap = Int(v >> 1)
            guard i == 0 || gap >= 1 else { throw FormatError("\(r.context): kinds not increasing") }
            kind = i == 0 ? gap : kind + gap
            guard kind < kindCount else { throw FormatError("\(r.context): kind \(kind) outside the \(kindCount) kinds") }
            let c = Int(try r.varint(max: UInt64(nodeCount), "node count"))
            guard c >= 1 else { throw FormatError("\(r.context): kind \(kind) listed with no nodes") }
            total += c
            kinds.append(KindCount(kind: UInt16(kind), count: UInt32(c), inner: v & 1 == 1))
        }
        guard total == nodeCount else { throw FormatError("\(r.context): kind counts sum to \(total), not the file's \(nodeCount) nodes") }
        let words = Int(try r.varint(max: UInt64(r.remaining / 8), "filter length"))
        let filter = try r.integers(UInt64.self, count: words)
        guard r.isAtEnd else { throw FormatError("\(r.context): \(r.remaining) bytes after the summary") }
        return FileSummary(kinds: kinds, filter: filter)
    }
}

/// The SUMMARIES section (19): u32 count, u32 reserved, `count` u32 end offsets into the
/// body (file i's summary is `body[end[i-1] ..< end[i]]`, end[-1] = 0), then the body.
package enum SummaryTable {
    package static func write(_ summaries: [[UInt8]]) -> [UInt8] {
        var w = ByteWriter()
        TableHead.write(count: summaries.count, to: &w)
        var end = 0
        for s in summaries { end += s.count; w.u32(UInt32(end)) }
        for s in summaries { w.append(s) }
        return w.bytes
    }

    /// The ends table and the body, checked: `fileCount` entries, ends nondecreasing and
    /// the last one the body's length.
    package static func read(_ section: ByteReader, fileCount: Int) throws(FormatError) -> (ends: ByteReader, body: ByteReader) {
        var r = section
        let n = try TableHead.read(&r, entrySize: 4, name: "summary ends", exact: false)
        guard n == fileCount else { throw FormatError("\(section.context): \(n) summaries for \(fileCount) files") }
        let ends = try section.slice(at: 8, length: 4 * n, context: section.context)
        let body = try section.slice(at: 8 + 4 * n, length: section.count - 8 - 4 * n, context: "\(section.context) body")
        var e = ends, previous: UInt32 = 0
        for _ in 0..<n {
            let v = try e.u32()
            guard v >= previous else { throw FormatError("\(section.context): summary ends decrease") }
            previous = v
        }
        guard Int(previous) == body.count else {
            throw FormatError("\(section.context): summaries end at \(previous), but the body has \(body.count) bytes")
        }
        return (ends, body)
    }
}
