/// Phase 1 + phase 3: a CSTTree as a bytecode stream with implicit structure.
///
/// Each node is one instruction in preorder; a node with children is closed by an END
/// instruction after its last child, so no pointers or child lists are stored. Positions
/// are relative: a node stores its gap from the current position (end of the previous
/// sibling, or the parent's start), tokens store their length unless the kind predicts it,
/// and a parent's end is implied by its last child unless it says otherwise.
/// The byte layout is specified in Spec/FORMAT.md, "CST records".
public enum TreeCodec {
    // Low bits of a node tag.
    static let bitField: UInt64 = 1
    static let bitExceptions: UInt64 = 2
    static let bitChildren: UInt64 = 4
    static let bitImplied: UInt64 = 8
    /// Bits 4-5: the start gap: 0 -> gap 0, 1 -> gap 1, 2 -> a varint (gap - 2) follows.
    static let gapShift: UInt64 = 4
    static let gapExplicit: UInt64 = 2
    /// The kind (plus one; 0 is END) sits above the six flag bits.
    static let kindShift: UInt64 = 6
    // Bits of the exceptions byte.
    static let excExtra: UInt8 = 1
    static let excMissing: UInt8 = 2
    static let excNamedToggle: UInt8 = 4
    static let excErrorToggle: UInt8 = 8

    public struct Encoded: Sendable {
        /// Records: each a state header and bytecode; records after the first start at a
        /// checkpoint so a reader can decode from there without the earlier records.
        public var records: [[UInt8]]
        /// Preorder id of the first node that begins in each record.
        public var firstNodes: [UInt32]
        /// Size of the same tree in the plain phase-1 layout (for `stats`).
        public var phase1Bytes: Int
        public var byteCount: Int { records.reduce(0) { $0 + $1.count } }
    }

    /// Encodes `tree`; a new record (checkpoint) starts at the first node boundary after
    /// `recordLimit` bytes.
    public static func encode(_ tree: CSTTree, table: LanguageTable, recordLimit: Int = 256 * 1024) throws -> Encoded {
        let n = tree.count
        guard n > 0 else { throw CSTPackError("cannot encode an empty tree") }
        guard n < Int(Int32.max) else { throw CSTPackError("tree has too many nodes") }
        var lastChildEnd = [UInt32](repeating: 0, count: n)
        var hasChildren = [Bool](repeating: false, count: n)
        var childError = [Bool](repeating: false, count: n)
        for i in 1..<n {
            let p = Int(tree.parents[i])
            guard p >= 0, p < i else { throw CSTPackError("node \(i): parent \(p) is not an earlier node") }
            lastChildEnd[p] = tree.ends[i]
            hasChildren[p] = true
            if tree.flags[i].contains(.hasError) { childError[p] = true }
        }
        guard tree.parents[0] == -1 else { throw CSTPackError("node 0 is not a root") }

        var records: [[UInt8]] = []
        var firstNodes: [UInt32] = [0]
        var w = ByteWriter(capacity: n * 4 + 16)
        w.varint(0); w.varint(0) // state header of the first record: position 0, no open ancestors
        var recordStart = w.count
        var stack: [(node: Int32, implied: Bool)] = []
        var pos: UInt32 = 0
        var phase1 = 0
        var previousStart: UInt32 = 0
        let errorKind = table.errorKind

        func close(_ top: (node: Int32, implied: Bool)) throws {
            let end = tree.ends[Int(top.node)]
            guard end >= pos else { throw CSTPackError("node \(top.node) ends before its last child") }
            w.varint(0)
            if !top.implied { w.varint(end - pos) }
            pos = end
        }

        for i in 0..<n {
            let parent = tree.parents[i]
            while let top = stack.last, top.node != parent {
                stack.removeLast()
                try close(top)
            }
            if i > 0 && stack.isEmpty { throw CSTPackError("node \(i) is outside the root") }
            // Only bytecode counts toward the limit, not the state header: with deep nesting
            // the header alone can exceed it, and every node would start a record.
            if w.count - recordStart >= recordLimit {
                records.append(w.bytes)
                w.removeAll()
                firstNodes.append(UInt32(i))
                w.varint(pos)
                w.varint(stack.count)
                for s in stack { w.varint(UInt64(s.node) << 1 | (s.implied ? 1 : 0)) }
                recordStart = w.count
            }
            let kind = tree.kinds[i]
            guard Int(kind) < table.kindCount else { throw CSTPackError("node \(i): kind \(kind) outside the grammar") }
            let field = tree.fields[i]
            let flags = tree.flags[i]
            let start = tree.starts[i], end = tree.ends[i]
            guard start >= pos, end >= start else {
                throw CSTPackError("node \(i): range \(start)..<\(end) overlaps the previous node (ends at \(pos))")
            }
            var exceptions: UInt8 = 0
            if flags.contains(.extra) { exceptions |= excExtra }
            if flags.contains(.missing) { exceptions |= excMissing }
            if flags.contains(.named) != table.kindNamed[Int(kind)] { exceptions |= excNamedToggle }
            let derivedError = kind == errorKind || flags.contains(.missing) || childError[i]
            if flags.contains(.hasError) != derivedError { exceptions |= excErrorToggle }

            let hasKids = hasChildren[i]
            let implied: Bool
            if hasKids {
                implied = end == lastChildEnd[i]
            } else {
                implied = table.predictedLength[Int(kind)] == end - start
            }
            let gap = start - pos
            var tag = (UInt64(kind) + 1) << kindShift | UInt64(min(gap, 2)) << gapShift
            if field != 0 { tag |= bitField }
            if exceptions != 0 { tag |= bitExceptions }
            if hasKids { tag |= bitChildren }
            if implied { tag |= bitImplied }
            w.varint(tag)
            if field != 0 { w.varint(UInt64(field)) }
            if exceptions != 0 { w.u8(exceptions) }
            if gap >= 2 { w.varint(gap - 2) }
            if hasKids {
                stack.append((Int32(i), implied))
                pos = start
            } else {
                if !implied { w.varint(end - start) }
                pos = end
            }
            // Plain phase-1 record for comparison: kind, field, flags, start delta, length, parent delta.
            phase1 += ByteWriter.varintSize(UInt64(kind)) + ByteWriter.varintSize(UInt64(field)) + 1
                + ByteWriter.varintSize(UInt64(start &- previousStart)) + ByteWriter.varintSize(UInt64(end - start))
                + ByteWriter.varintSize(UInt64(i - Int(parent)))
            previousStart = start
        }
        while let top = stack.popLast() { try close(top) }
        records.append(w.bytes)
        return Encoded(records: records, firstNodes: firstNodes, phase1Bytes: phase1)
    }
}
