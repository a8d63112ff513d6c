/// Phase 2's tag model: a delta base that predicts each instruction from its context.
///
/// The context of an instruction is the kind of its parent and the kind of its previous
/// sibling (for END: the closed node and its last child). Within one grammar that context
/// makes the next instruction very predictable (`(` after a call's function, `:` after a
/// parameter list), so a model trained on the archive's own trees lists, per context, the
/// instructions that occur there, most frequent first. An instruction is then written as
/// its rank in that list: one small number instead of a tag, a field id and often a token
/// length or an indentation gap. Anything else is written as an escape followed by the
/// plain phase-3 instruction. Layout: Spec/FORMAT.md, "Tag models".
package struct TagModel: Sendable, Equatable {
    /// One predicted instruction: a phase-3 tag (0 = END) and the values it folds in.
    package struct Symbol: Sendable, Hashable, Comparable {
        package var tag: UInt32
        package var field: UInt16
        /// Token length + 1 when the symbol fixes it, else 0 (the length is written).
        package var lengthCode: UInt32
        /// The start gap (>= 2) when the symbol fixes it, else 0 (the gap is written).
        package var gap: UInt32

        package init(tag: UInt32, field: UInt16 = 0, lengthCode: UInt32 = 0, gap: UInt32 = 0) {
            self.tag = tag; self.field = field; self.lengthCode = lengthCode; self.gap = gap
        }

        package static func < (a: Symbol, b: Symbol) -> Bool {
            (a.tag, a.field, a.lengthCode, a.gap) < (b.tag, b.field, b.lengthCode, b.gap)
        }

        /// Folded values a tag allows: a length for a token without a predicted length, a gap
        /// for gap code 2.
        static func canFoldLength(_ tag: UInt32) -> Bool {
            tag != 0 && UInt64(tag) & (TreeCodec.bitChildren | TreeCodec.bitImplied) == 0
        }
        static func canFoldGap(_ tag: UInt32) -> Bool {
            tag != 0 && (UInt64(tag) >> TreeCodec.gapShift) & 3 == TreeCodec.gapExplicit
        }
    }

    /// Contexts in ascending (parent, previous) order, each with its ranked symbols.
    package struct Context: Sendable, Equatable {
        package var parent: UInt32
        package var previous: UInt32
        package var symbols: [Symbol]
    }

    package let kindCount: Int
    package let contexts: [Context]
    private let tables: Tables

    /// Most symbols one context may list (a rank then fits the varint's two bytes at most).
    package static let maxSymbols = 255

    /// Lookup tables, built once per model and owned by it; read through `Lookup`'s raw
    /// pointers: decoding does one lookup per instruction, and copying a struct of arrays
    /// there costs reference counting that was most of the decoding time.
    private final class Tables: @unchecked Sendable {
        let lookup: Lookup
        let flatCount: Int

        static let maxDense = 1 << 19

        init(kindCount: Int, contexts: [Context]) {
            let width = kindCount + 1
            let n = contexts.count
            let starts = UnsafeMutablePointer<UInt32>.allocate(capacity: n + 1)
            let total = contexts.reduce(0) { $0 + $1.symbols.count }
            // Symbols in 8 bytes when their folded values fit (they do in any model we
            // write): the tables a decoder walks then fit in a core's L2 with room.
            let packs = contexts.allSatisfy { $0.symbols.allSatisfy { $0.lengthCode <= 255 && $0.gap <= 255 } }
            let packed = UnsafeMutablePointer<PackedSymbol>.allocate(capacity: packs ? max(total, 1) : 1)
            let wide = packs ? nil : UnsafeMutablePointer<Symbol>.allocate(capacity: max(total, 1))
            flatCount = total
            var k = 0
            starts[0] = 0
            for (i, c) in contexts.enumerated() {
                for s in c.symbols {
                    if let wide { (wide + k).initialize(to: s) } else {
                        (packed + k).initialize(to: PackedSymbol(tag: s.tag, field: s.field, lengthCode: UInt8(s.lengthCode), gap: UInt8(s.gap)))
                    }
                    k += 1
                }
                starts[i + 1] = UInt32(k)
            }
            let keys = UnsafeMutablePointer<UInt64>.allocate(capacity: max(n, 1))
            for (i, c) in contexts.enumerated() { keys[i] = TagModel.key(c.parent, c.previous) }
            // When the square table is small enough: the context's symbol range, packed as
            // `first << 8 | count`, at `parent * width + previous` (0: no such context), so a
            // lookup is one load. Otherwise open addressing over the keys (index + 1).
            let dense = width * width <= Self.maxDense && total < 1 << 24
                && contexts.allSatisfy { $0.symbols.count <= 255 }
            var size = dense ? width * width : 16
            if !dense { while size < n * 2 { size <<= 1 } }
            let ranges = UnsafeMutablePointer<UInt32>.allocate(capacity: dense ? size : 1)
            let slots = UnsafeMutablePointer<UInt32>.allocate(capacity: dense ? 1 : size)
            if dense { ranges.initialize(repeating: 0, count: size) } else { slots.initialize(repeating: 0, count: size) }
            for i in 0..<n {
                if dense {
                    ranges[Int(contexts[i].parent) * width + Int(contexts[i].previous)] =
                        starts[i] << 8 | (starts[i + 1] - starts[i])
                } else {
                    var s = TagModel.hash(keys[i]) & (size - 1)
                    while slots[s] != 0 { s = (s + 1) & (size - 1) }
                    slots[s] = UInt32(i + 1)
                }
            }
            lookup = Lookup(width: width, dense: dense ? ranges : nil, slots: slots, slotMask: size - 1, keys: keys, starts: starts,
                            packed: packed, wide: wide)
            if !dense { ranges.deallocate() }
        }

        deinit {
            lookup.dense?.deallocate()
            lookup.slots.deallocate()
            lookup.keys.deallocate()
            lookup.starts.deallocate()
            lookup.packed.deallocate()
            lookup.wide?.deallocate()
        }
    }

    /// A Symbol in 8 bytes (folded length and gap below 256).
    struct PackedSymbol {
        var tag: UInt32
        var field: UInt16
        var lengthCode: UInt8
        var gap: UInt8
    }

    /// Raw view of a model's tables (no reference counting); valid while the model lives.
    package struct Lookup {
        let width: Int
        let dense: UnsafeMutablePointer<UInt32>?
        let slots: UnsafeMutablePointer<UInt32>
        let slotMask: Int
        let keys: UnsafeMutablePointer<UInt64>
        let starts: UnsafeMutablePointer<UInt32>
        let packed: UnsafeMutablePointer<PackedSymbol>
        /// The symbols unpacked, for a model whose folded values do not fit 8 bytes.
        let wide: UnsafeMutablePointer<Symbol>?

        /// The positions of the context's symbols (empty when the context is unknown), for
        /// `symbol(_:)`. Kinds above the sentinel have no context.
        @inline(__always)
        package func symbols(parent: UInt32, previous: UInt32) -> Range<Int> {
            guard Int(parent) < width, Int(previous) < width else { return 0..<0 }
            if let d = dense {
                let packed = d[Int(parent) * width + Int(previous)]
                let first = Int(packed >> 8)
                return first..<(first + Int(packed & 0xFF))
            }
            var c: Int
            do {
                let k = TagModel.key(parent, previous)
                var s = TagModel.hash(k) & slotMask
                while true {
                    c = Int(slots[s])
                    if c == 0 || keys[c - 1] == k { break }
                    s = (s + 1) & slotMask
                }
            }
            if c == 0 { return 0..<0 }
            return Int(starts[c - 1])..<Int(starts[c])
        }

        /// The symbol at a position of `symbols(parent:previous:)`'s range.
        @inline(__always)
        package func symbol(_ i: Int) -> Symbol {
            if let w = wide { return w[i] }
            let p = packed[i]
            return Symbol(tag: p.tag, field: p.field, lengthCode: UInt32(p.lengthCode), gap: UInt32(p.gap))
        }
    }

    package init(kindCount: Int, contexts: [Context]) {
        self.kindCount = kindCount
        self.contexts = contexts
        tables = Tables(kindCount: kindCount, contexts: contexts)
    }

    /// The tables' raw view: take it once, outside a loop, while holding the model.
    package var lookup: Lookup { tables.lookup }

    /// The sentinel kind: the root's "parent" and a first child's "previous sibling".
    package var none: UInt32 { UInt32(kindCount) }

    @inline(__always)
    static func key(_ parent: UInt32, _ previous: UInt32) -> UInt64 { UInt64(parent) << 32 | UInt64(previous) }

    @inline(__always)
    static func hash(_ key: UInt64) -> Int { Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) >> 40) }

    package func symbols(parent: UInt32, previous: UInt32) -> Range<Int> { lookup.symbols(parent: parent, previous: previous) }

    /// Every symbol, context after context.
    var flat: [Symbol] { (0..<tables.flatCount).map { tables.lookup.symbol($0) } }

    package static func == (a: TagModel, b: TagModel) -> Bool {
        a.kindCount == b.kindCount && a.contexts == b.contexts
    }

    // MARK: Bytes

    package func serialized() -> [UInt8] {
        var w = ByteWriter()
        w.varint(contexts.count)
        for c in contexts {
            w.varint(c.parent); w.varint(c.previous); w.varint(c.symbols.count)
            for s in c.symbols {
                w.varint(s.tag)
                if s.tag != 0 { w.varint(UInt32(s.field)); w.varint(s.lengthCode); w.varint(s.gap) }
            }
        }
        return w.bytes
    }

    /// Parses and validates a model for `table` (untrusted bytes): every kind, field and
    /// flag combination is checked, so a decoder can use a symbol without checking it again.
    package static func parse(_ bytes: UnsafeRawBufferPointer, table: LanguageTable, context: String) throws(FormatError) -> TagModel {
        var r = ByteReader(bytes, context: context)
        let k = UInt64(table.kindCount)
        // Every context takes at least 3 bytes and every symbol at least 1.
        let n = Int(try r.varint(max: UInt64(bytes.count / 3), "context count"))
        var contexts: [Context] = []
        contexts.reserveCapacity(n)
        var previousKey: UInt64? = nil
        for _ in 0..<n {
            let parent = UInt32(try r.varint(max: k, "context parent kind"))
            let previous = UInt32(try r.varint(max: k, "context previous kind"))
            let key = Self.key(parent, previous)
            if let p = previousKey, key <= p { throw FormatError("\(context): contexts out of order") }
            previousKey = key
            let count = Int(try r.varint(max: UInt64(min(maxSymbols, r.remaining)), "symbol count"))
            guard count >= 1 else { throw FormatError("\(context): empty context") }
            var symbols: [Symbol] = []
            symbols.reserveCapacity(count)
            for _ in 0..<count {
                let tag = try r.varint(max: (k + 1) << TreeCodec.kindShift | 0x3F, "symbol tag")
                var s = Symbol(tag: UInt32(tag))
                if tag != 0 {
                    let kindPlusOne = tag >> TreeCodec.kindShift
                    guard kindPlusOne >= 1, kindPlusOne <= k, (tag >> TreeCodec.gapShift) & 3 != 3 else {
                        throw FormatError("\(context): symbol tag \(tag) is not a valid instruction")
                    }
                    s.field = UInt16(try r.varint(max: UInt64(table.fieldCount), "symbol field"))
                    guard (s.field != 0) == (tag & TreeCodec.bitField != 0) else {
                        throw FormatError("\(context): symbol field \(s.field) disagrees with its tag \(tag)")
                    }
                    s.lengthCode = UInt32(try r.varint(max: UInt64(UInt32.max), "symbol length"))
                    s.gap = UInt32(try r.varint(max: UInt64(UInt32.max), "symbol gap"))
                    guard s.lengthCode == 0 || Symbol.canFoldLength(s.tag), s.gap == 0 || (Symbol.canFoldGap(s.tag) && s.gap >= 2) else {
                        throw FormatError("\(context): symbol of tag \(tag) folds a value its tag does not allow")
                    }
                    if tag & TreeCodec.bitImplied != 0 && tag & TreeCodec.bitChildren == 0 {
                        guard table.predictedLength[Int(kindPlusOne - 1)] != nil else {
                            throw FormatError("\(context): symbol of named kind \(table.kindNames[Int(kindPlusOne - 1)]) claims a predicted length")
                        }
                    }
                }
                symbols.append(s)
            }
            contexts.append(Context(parent: parent, previous: previous, symbols: symbols))
        }
        guard r.isAtEnd else { throw FormatError("\(context): \(r.remaining) stray bytes") }
        return TagModel(kindCount: table.kindCount, contexts: contexts)
    }
}
