/// Phase 1 + phase 3: a CSTTree as a bytecode stream with implicit structure.
///
/// Each node is one instruction in preorder; a node with children is closed by an END
/// instruction after its last child, so no pointers or child lists are stored. Positions
/// are relative: a node stores its gap from the current position (end of the previous
/// sibling, or the parent's start), tokens store their length unless the kind predicts it,
/// and a parent's end is implied by its last child unless it says otherwise.
/// The byte layout is specified in Spec/FORMAT.md, "CST records".
package enum TreeCodec {
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

    package struct Encoded: Sendable {
        /// Records: each a state header and bytecode; records after the first start at a
        /// checkpoint so a reader can decode from there without the earlier records.
        package var records: [[UInt8]]
        /// Preorder id of the first node that begins in each record.
        package var firstNodes: [UInt32]
        /// Size of the same tree in the plain phase-1 layout (for `stats`).
        package var phase1Bytes: Int
        /// Size of the records without a tag model (phases 1 and 3 only; for `stats`).
        package var plainBytes: Int
        package var byteCount: Int { records.reduce(0) { $0 + $1.count } }
    }

    /// Bytecode a record must hold per ancestor its state header lists (Spec 11.4). Tests
    /// pass 0 to cut records under deep stacks, as a reader must still accept them.
    package static let checkpointBytesPerAncestor = 32

    /// Encodes `tree`; a new record (checkpoint) starts at the first node boundary after
    /// `recordLimit` bytes (more under a deep stack: `checkpointBytesPerAncestor`). With a `model` (phase 2), each instruction is written as its
    /// rank among the model's symbols for its context; a `trainer` counts the instructions.
    package static func encode(_ tree: CSTTree, table: LanguageTable, model: TagModel? = nil,
                              trainer: TagModelTrainer? = nil, recordLimit: Int = 256 * 1024,
                              bytesPerAncestor: Int = TreeCodec.checkpointBytesPerAncestor) throws -> Encoded {
        let n = tree.count
        guard n > 0 else { throw CSTPackError("cannot encode an empty tree") }
        guard n < Int(Int32.max) else { throw CSTPackError("tree has too many nodes") }
        if let m = model, m.kindCount != table.kindCount { throw CSTPackError("tag model is for another grammar") }
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

        // Records are cut from one stream at the end (cutting as we go would reallocate the
        // whole buffer at every checkpoint).
        var recordStarts: [Int] = [0]
        var firstNodes: [UInt32] = [0]
        var e = InstructionWriter(model: model, trainer: trainer, none: UInt32(table.kindCount), capacity: n * 4 + 16)
        e.w.varint(0); e.w.varint(0) // state header of the first record: position 0, no open ancestors
        var recordStart = e.w.count
        var pos: UInt32 = 0
        var phase1 = 0
        var previousStart: UInt32 = 0
        let errorKind = table.errorKind

        func close(_ top: InstructionWriter.Open, _ e: inout InstructionWriter) throws {
            let end = tree.ends[Int(top.node)]
            guard end >= pos else { throw CSTPackError("node \(top.node) ends before its last child") }
            // END's context is the node it closes.
            _ = e.head(parent: top.kind, previous: top.last, tag: 0, field: 0, gap: 0, length: nil)
            if !top.implied { e.w.varint(end - pos) }
            pos = end
        }

        for i in 0..<n {
            let parent = tree.parents[i]
            while let top = e.stack.last, top.node != parent {
                e.stack.removeLast()
                try close(top, &e)
            }
            if i > 0 && e.stack.isEmpty { throw CSTPackError("node \(i) is outside the root") }
            // Only bytecode counts toward the limit, not the state header: with deep nesting
            // the header alone can exceed it, and every node would start a record. And a
            // record under a deep stack must be long enough to pay for its header (at most
            // 8 bytes an open ancestor, so at most a quarter of the record): headers repeat
            // every open ancestor, and cut every `recordLimit` bytes under a stack 200,000
            // deep they made a left-deep chain's archive quadratic (137 B/node).
            if e.w.count - recordStart >= max(recordLimit, bytesPerAncestor * e.stack.count) {
                recordStarts.append(e.w.count)
                firstNodes.append(UInt32(i))
                e.w.varint(pos)
                e.w.varint(e.stack.count)
                for s in e.stack {
                    e.w.varint(UInt64(s.node) << 1 | (s.implied ? 1 : 0))
                    e.w.varint(s.kind)
                }
                if let top = e.stack.last { e.w.varint(top.last) }
                recordStart = e.w.count
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
            var tag = (UInt32(kind) + 1) << UInt32(kindShift) | min(gap, 2) << UInt32(gapShift)
            if field != 0 { tag |= UInt32(bitField) }
            if exceptions != 0 { tag |= UInt32(bitExceptions) }
            if hasKids { tag |= UInt32(bitChildren) }
            if implied { tag |= UInt32(bitImplied) }
            let writtenLength: UInt32? = !hasKids && !implied ? end - start : nil
            let folded: (gap: Bool, length: Bool)
            if let top = e.stack.last {
                folded = e.head(parent: top.kind, previous: top.last, tag: tag, field: field, gap: gap, length: writtenLength)
                e.stack[e.stack.count - 1].last = UInt32(kind)
            } else {
                folded = e.head(parent: e.none, previous: e.none, tag: tag, field: field, gap: gap, length: writtenLength)
            }
            if exceptions != 0 { e.w.u8(exceptions) }
            if gap >= 2 && !folded.gap { e.w.varint(gap - 2) }
            if hasKids {
                e.stack.append(InstructionWriter.Open(node: Int32(i), implied: implied, kind: UInt32(kind), last: e.none))
                pos = start
            } else {
                if let l = writtenLength, !folded.length { e.w.varint(l) }
                pos = end
            }
            // Plain phase-1 record for comparison: kind, field, flags, start delta, length, parent delta.
            phase1 += ByteWriter.varintSize(UInt64(kind)) + ByteWriter.varintSize(UInt64(field)) + 1
                + ByteWriter.varintSize(UInt64(start &- previousStart)) + ByteWriter.varintSize(UInt64(end - start))
                + ByteWriter.varintSize(UInt64(i - Int(parent)))
            previousStart = start
        }
        while let top = e.stack.popLast() { try close(top, &e) }
        recordStarts.append(e.w.count)
        let stream = e.w.bytes
        let records = recordStarts.count == 2 ? [stream]
            : (1..<recordStarts.count).map { Array(stream[recordStarts[$0 - 1]..<recordStarts[$0]]) }
        return Encoded(records: records, firstNodes: firstNodes, phase1Bytes: phase1, plainBytes: stream.count + e.unmodelled)
    }

    /// The encoder's output and open nodes, and the writing of an instruction's head (tag
    /// and field) with or without a tag model.
    struct InstructionWriter {
        /// An open node: id, implied bit, kind, and the kind of its last child so far.
        struct Open {
            var node: Int32
            var implied: Bool
            var kind: UInt32
            var last: UInt32
        }

        var w: ByteWriter
        var stack: [Open] = []
        /// The model's raw tables (the caller holds the model for the whole encoding).
        let model: TagModel.Lookup?
        let trainer: TagModelTrainer?
        /// The kind count: "no parent" / "no previous child".
        let none: UInt32
        /// Bytes the same records would take without the model (negative: the model costs).
        var unmodelled = 0

        init(model: TagModel?, trainer: TagModelTrainer?, none: UInt32, capacity: Int) {
            w = ByteWriter(capacity: capacity)
            self.model = model?.lookup
            self.trainer = trainer
            self.none = none
        }

        /// Writes the tag and field in context (parent, previous); returns whether the
        /// model's symbol also fixed the gap and the length (which then are not written).
        @inline(__always)
        mutating func head(parent: UInt32, previous: UInt32, tag: UInt32, field: UInt16,
                           gap: UInt32, length: UInt32?) -> (gap: Bool, length: Bool) {
            trainer?.count(parent: parent, previous: previous, tag: tag, field: field,
                           length: length, gap: gap >= 2 ? gap : nil)
            guard let m = model else {
                w.varint(tag)
                if field != 0 { w.varint(UInt64(field)) }
                return (false, false)
            }
            let before = w.count
            unmodelled += ByteWriter.varintSize(UInt64(tag)) + (field != 0 ? ByteWriter.varintSize(UInt64(field)) : 0)
            let range = m.symbols(parent: parent, previous: previous)
            let lengthCode = length.map { $0 &+ 1 } ?? 0
            var found = -1
            for i in range {
                let s = m.symbol(i)
                if s.tag == tag && s.field == field && (s.gap == 0 || s.gap == gap)
                    && (s.lengthCode == 0 || s.lengthCode == lengthCode) {
                    found = i
                    break
                }
            }
            var folded = (gap: false, length: false)
            if found >= 0 {
                let s = m.symbol(found)
                w.varint(found - range.lowerBound)
                if s.gap != 0 { unmodelled += ByteWriter.varintSize(UInt64(gap - 2)); folded.gap = true }
                if s.lengthCode != 0 { unmodelled += ByteWriter.varintSize(UInt64(s.lengthCode - 1)); folded.length = true }
            } else {
                w.varint(UInt64(range.count) + UInt64(tag))
                if field != 0 { w.varint(UInt64(field)) }
            }
            unmodelled -= w.count - before
            return folded
        }
    }
}
