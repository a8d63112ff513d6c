/// Decodes the bytecode of `TreeCodec`. Input is untrusted: every count, kind, field and
/// position is checked (against the language table, the node count and the source length
/// recorded in the index) before it is used, and decoding uses an explicit stack.
package struct TreeDecoder {
    struct Open {
        var node: Int32
        var implied: Bool
        var errorToggle: Bool
        var childError: Bool
        /// The node's kind and its last child's kind so far (the kind count when none):
        /// the context of the tag model.
        var kind: UInt32
        var last: UInt32
    }

    /// Decoded nodes, written through raw pointers: appending to six Swift arrays costs a
    /// uniqueness check per array per node, which was a third of decoding time.
    /// They grow as nodes are decoded (up to the node count), so memory follows the bytes
    /// actually decoded, never the index's unchecked `node_count` alone.
    package final class Buffers {
        package private(set) var capacity: Int
        package internal(set) var count = 0
        private(set) var kinds: UnsafeMutablePointer<UInt16>
        private(set) var fields: UnsafeMutablePointer<UInt16>
        private(set) var flags: UnsafeMutablePointer<CSTTree.Flags>
        private(set) var starts: UnsafeMutablePointer<UInt32>
        private(set) var ends: UnsafeMutablePointer<UInt32>
        private(set) var parents: UnsafeMutablePointer<Int32>

        package init(capacity: Int) {
            self.capacity = capacity
            kinds = .allocate(capacity: capacity); fields = .allocate(capacity: capacity)
            flags = .allocate(capacity: capacity); starts = .allocate(capacity: capacity)
            ends = .allocate(capacity: capacity); parents = .allocate(capacity: capacity)
        }

        deinit {
            kinds.deallocate(); fields.deallocate(); flags.deallocate()
            starts.deallocate(); ends.deallocate(); parents.deallocate()
        }

        /// Doubles the capacity (at least 1024), to at most `limit`; keeps the nodes.
        func grow(limit: Int) {
            let c = min(max(capacity * 2, 1024), limit)
            guard c > capacity else { return }
            func moved<T>(_ p: UnsafeMutablePointer<T>) -> UnsafeMutablePointer<T> {
                let q = UnsafeMutablePointer<T>.allocate(capacity: c)
                q.moveInitialize(from: p, count: count)
                p.deallocate()
                return q
            }
            kinds = moved(kinds); fields = moved(fields); flags = moved(flags)
            starts = moved(starts); ends = moved(ends); parents = moved(parents)
            capacity = c
        }

        @inline(__always)
        func append(kind: UInt16, field: UInt16, flags f: CSTTree.Flags, start: UInt32, end: UInt32, parent: Int32) {
            kinds[count] = kind; fields[count] = field; flags[count] = f
            starts[count] = start; ends[count] = end; parents[count] = parent
            count += 1
        }

        func tree() -> CSTTree {
            var t = CSTTree()
            t.kinds = Array(UnsafeBufferPointer(start: kinds, count: count))
            t.fields = Array(UnsafeBufferPointer(start: fields, count: count))
            t.flags = Array(UnsafeBufferPointer(start: flags, count: count))
            t.starts = Array(UnsafeBufferPointer(start: starts, count: count))
            t.ends = Array(UnsafeBufferPointer(start: ends, count: count))
            t.parents = Array(UnsafeBufferPointer(start: parents, count: count))
            return t
        }
    }

    let table: LanguageTable
    /// The language's tag model (phase 2), when the archive has one.
    let model: TagModel?
    let nodeCount: Int
    let sourceLength: UInt64
    /// Preorder id of the first node this decoder materialises (0 for a whole file).
    let base: Int32
    let nodes: Buffers
    var stack: [Open] = []
    var pos: UInt64 = 0
    var recordsRead = 0

    /// `nodeCount` comes from an untrusted index: it caps the buffers, which start at most
    /// `initialCapacity` nodes large and grow with the nodes decoded.
    /// `reusing` buffers are written over (and grown if needed) instead of allocating new ones.
    package init(table: LanguageTable, model: TagModel?, nodeCount: Int, sourceLength: Int, base: Int = 0, reusing: Buffers? = nil) {
        self.table = table
        self.model = model
        self.nodeCount = nodeCount
        self.sourceLength = UInt64(sourceLength)
        self.base = Int32(base)
        let needed = max(0, nodeCount - base)
        if let r = reusing {
            r.count = 0
            nodes = r
        } else {
            nodes = Buffers(capacity: min(needed, Self.initialCapacity))
        }
    }

    static let initialCapacity = 1 << 16

    /// Checks that the stream is complete, leaving the nodes in the buffers (no copy).
    package func finishInPlace(context: String) throws(FormatError) -> Buffers {
        guard stack.isEmpty else { throw FormatError("\(context): \(stack.count) nodes left open at the end") }
        // Decoding from a checkpoint (`base`) yields the nodes from there on.
        guard nodes.count == nodeCount - Int(base) else {
            throw FormatError("\(context): decoded \(Int(base) + nodes.count) nodes, the index says \(nodeCount)")
        }
        return nodes
    }

    /// Nodes decoded so far.
    package var count: Int { nodes.count }

    /// Ids of the nodes still open (their ends are not known yet), outermost first.
    var openNodes: [Int32] { stack.map(\.node) }

    /// Facts of a decoded node by preorder id.
    func record(_ id: Int) -> NodeRecord {
        let i = id - Int(base)
        return NodeRecord(id: id, kind: nodes.kinds[i], field: nodes.fields[i], flags: nodes.flags[i],
                          start: nodes.starts[i], end: nodes.ends[i], parent: Int(nodes.parents[i]))
    }

    /// Decodes the next record of a file (records come in order).
    package mutating func feed(_ record: UnsafeRawBufferPointer, context: String) throws(FormatError) {
        var reader = ByteReader(record, context: context)
        try readState(&reader, checkAgainstRunning: recordsRead > 0)
        _ = try run(&reader, stopAfter: nil)
    }

    /// The decoded tree, once every record was fed; checks that the stream is complete.
    package func finish(context: String) throws(FormatError) -> CSTTree {
        try finishInPlace(context: context).tree()
    }

    /// Reads a record's state header. For a record decoded in sequence, the header must
    /// agree with where the previous record left off.
    mutating func readState(_ r: inout ByteReader, checkAgainstRunning: Bool) throws(FormatError) {
        let p = try r.varint(max: sourceLength, "checkpoint position")
        let depth = Int(try r.varint(max: UInt64(nodeCount), "checkpoint depth"))
        guard depth <= r.remaining else { throw FormatError("\(r.context): checkpoint depth \(depth) exceeds the record") }
        if checkAgainstRunning {
            guard p == pos, depth == stack.count else {
                throw FormatError("\(r.context): checkpoint (position \(p), depth \(depth)) disagrees with the stream (position \(pos), depth \(stack.count))")
            }
        }
        if !checkAgainstRunning && base == 0 {
            guard p == 0, depth == 0 else { throw FormatError("\(r.context): a file's first record must start at position 0 with no open nodes") }
        }
        var previous: Int64 = -1
        let none = UInt64(table.kindCount)
        for k in 0..<depth {
            let v = try r.varint()
            let kind = UInt32(try r.varint(max: none - 1, "checkpoint ancestor kind"))
            let node = Int64(v >> 1)
            // Ancestors open at a checkpoint are earlier nodes than the record's first one.
            let limit = checkAgainstRunning ? Int64(nodeCount) : Int64(base)
            guard node > previous, node < limit else {
                throw FormatError("\(r.context): checkpoint ancestor \(node) out of order or range")
            }
            previous = node
            if checkAgainstRunning {
                guard stack[k].node == Int32(node), stack[k].implied == (v & 1 == 1), stack[k].kind == kind else {
                    throw FormatError("\(r.context): checkpoint ancestor \(k) disagrees with the stream")
                }
            } else {
                // An ancestor's last child so far is the next ancestor.
                if k > 0 { stack[k - 1].last = kind }
                stack.append(Open(node: Int32(node), implied: v & 1 == 1, errorToggle: false, childError: false,
                                  kind: kind, last: UInt32(none)))
            }
        }
        if depth > 0 {
            let last = UInt32(try r.varint(max: none, "checkpoint last child kind"))
            if checkAgainstRunning {
                guard stack[depth - 1].last == last else {
                    throw FormatError("\(r.context): checkpoint's last child kind disagrees with the stream")
                }
            } else {
                stack[depth - 1].last = last
            }
        }
        pos = p
        recordsRead += 1
    }

    /// Decodes instructions until the reader is exhausted, or until node `stopAfter` is
    /// complete (its END read, or it is a token). Returns true when it stopped there.
    /// With `stopBefore`, it stops (returning true) just before the first node that starts
    /// after that byte, leaving the reader at that node's instruction.
    mutating func run(_ r: inout ByteReader, stopAfter: Int32?, stopBefore: UInt64? = nil) throws(FormatError) -> Bool {
        let kindCount = UInt64(table.kindCount)
        let fieldCount = UInt64(table.fieldCount)
        let errorKind = table.errorKind
        let none = UInt32(table.kindCount)
        let kindNamed = table.kindNamed
        let predictedLength = table.predictedLength
        let n = nodes
        // `model` (held by self) keeps the tables alive while this raw view is used.
        let lookup = model?.lookup
        // The innermost open node lives in `top` (its fields change at every child); the
        // array holds the ones below it. Written back when this returns or throws.
        var hasTop = !stack.isEmpty
        var top = hasTop ? stack.removeLast() : Open(node: -1, implied: false, errorToggle: false, childError: false, kind: none, last: none)
        defer { if hasTop { stack.append(top) } }
        while !r.isAtEnd {
            let instructionStart = r.offset
            // The instruction's tag, and what a tag-model symbol folds in (field, gap, length).
            var tag = try r.varint()
            var symbol = TagModel.Symbol(tag: 0)
            var fromModel = false
            if let m = lookup {
                let range = hasTop ? m.symbols(parent: top.kind, previous: top.last) : m.symbols(parent: none, previous: none)
                if tag < UInt64(range.count) {
                    symbol = m.symbol(range.lowerBound + Int(tag))
                    tag = UInt64(symbol.tag)
                    fromModel = true
                } else {
                    tag -= UInt64(range.count)
                }
            }
            if tag == 0 {
                guard hasTop else { throw FormatError("\(r.context): END with no open node at offset \(r.offset)") }
                let closed = top
                if let below = stack.popLast() { top = below } else { hasTop = false }
                var end = pos
                if !closed.implied {
                    end += try r.varint(max: sourceLength - pos, "end delta")
                }
                let local = Int(closed.node - base)
                var hasError = closed.childError
                if local >= 0 && local < n.count {
                    n.ends[local] = UInt32(end)
                    var f = n.flags[local]
                    if n.kinds[local] == errorKind || f.contains(.missing) { hasError = true }
                    if closed.errorToggle { hasError.toggle() }
                    if hasError { f.insert(.hasError) }
                    n.flags[local] = f
                }
                pos = end
                if hasError, hasTop { top.childError = true }
                if closed.node == stopAfter { return true }
                continue
            }
            let id = Int(base) + n.count
            guard id < nodeCount else { throw FormatError("\(r.context): more nodes than the \(nodeCount) the index records") }
            if n.count == n.capacity { n.grow(limit: nodeCount - Int(base)) }
            if id > 0 && !hasTop { throw FormatError("\(r.context): node \(id) lies outside the root") }
            let kindPlusOne = tag >> TreeCodec.kindShift
            guard kindPlusOne >= 1, kindPlusOne <= kindCount else {
                throw FormatError("\(r.context): kind \(kindPlusOne &- 1) outside the \(kindCount) kinds of \(table.name)")
            }
            let kind = UInt16(kindPlusOne - 1)
            var field: UInt16 = 0
            if fromModel {
                field = symbol.field
            } else if tag & TreeCodec.bitField != 0 {
                let f = try r.varint()
                guard f >= 1, f <= fieldCount else { throw FormatError("\(r.context): field \(f) outside the \(fieldCount) fields of \(table.name)") }
                field = UInt16(f)
            }
            var exceptions: UInt8 = 0
            if tag & TreeCodec.bitExceptions != 0 {
                exceptions = try r.u8()
                guard exceptions & 0xF0 == 0 else { throw FormatError("\(r.context): unknown node flags \(exceptions)") }
            }
            let gapCode = (tag >> TreeCodec.gapShift) & 3
            let gap: UInt64
            switch gapCode {
            case 0, 1: gap = gapCode
            case TreeCodec.gapExplicit:
                gap = symbol.gap != 0 ? UInt64(symbol.gap) : 2 + (try r.varint(max: sourceLength, "start gap"))
            default: throw FormatError("\(r.context): reserved gap code 3 at offset \(r.offset)")
            }
            guard gap <= sourceLength - pos else { throw FormatError("\(r.context): node \(id) starts past the source") }
            let start = pos + gap
            if let b = stopBefore, start > b {
                try r.seek(to: instructionStart)
                return true
            }
            var flags = CSTTree.Flags()
            if kindNamed[Int(kind)] != (exceptions & TreeCodec.excNamedToggle != 0) { flags.insert(.named) }
            if exceptions & TreeCodec.excExtra != 0 { flags.insert(.extra) }
            if exceptions & TreeCodec.excMissing != 0 { flags.insert(.missing) }
            let parent = hasTop ? top.node : -1
            if hasTop { top.last = UInt32(kind) }
            if tag & TreeCodec.bitChildren != 0 {
                if hasTop { stack.append(top) }
                top = Open(node: Int32(id), implied: tag & TreeCodec.bitImplied != 0,
                           errorToggle: exceptions & TreeCodec.excErrorToggle != 0, childError: false,
                           kind: UInt32(kind), last: none)
                hasTop = true
                n.append(kind: kind, field: field, flags: flags, start: UInt32(start), end: UInt32(start), parent: parent)
                pos = start
            } else {
                let length: UInt64
                if tag & TreeCodec.bitImplied != 0 {
                    guard let p = predictedLength[Int(kind)] else {
                        throw FormatError("\(r.context): node \(id) of named kind \(table.kindNames[Int(kind)]) claims a predicted length")
                    }
                    length = UInt64(p)
                    guard length <= sourceLength - start else { throw FormatError("\(r.context): node \(id) ends past the source") }
                } else if symbol.lengthCode != 0 {
                    length = UInt64(symbol.lengthCode - 1)
                    guard length <= sourceLength - start else { throw FormatError("\(r.context): node \(id) ends past the source") }
                } else {
                    length = try r.varint(max: sourceLength - start, "token length")
                }
                var hasError = kind == errorKind || flags.contains(.missing)
                if exceptions & TreeCodec.excErrorToggle != 0 { hasError.toggle() }
                if hasError {
                    flags.insert(.hasError)
                    if hasTop { top.childError = true }
                }
                n.append(kind: kind, field: field, flags: flags, start: UInt32(start), end: UInt32(start + length), parent: parent)
                pos = start + length
                if Int32(id) == stopAfter { return true }
            }
        }
        return false
    }
}
