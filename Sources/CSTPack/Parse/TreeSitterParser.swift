import CTreeSitter
import CTreeSitterSupport

/// One tree-sitter parser, used by one thread at a time: turns source bytes into a CSTTree.
package final class TreeSitterParser {
    private let parser: OpaquePointer
    /// How trees are read: `.fast` reads tree-sitter's subtrees directly (CTreeSitterSupport/tree_walk.c)
    /// where the library allows it; `.cursor` uses the public cursor API only (what
    /// `verify` uses, so that the check does not share the code it checks).
    package enum Reader: Sendable { case fast, cursor }
    private let reader: Reader
    /// The fast walker's arrays, reused from file to file.
    private var walk = CSTWalkBuffers()

    package struct Result {
        package var tree: CSTTree
        /// Bytes tree-sitter's own tree held in memory (measured by the counting allocator).
        package var treeSitterBytes: Int
    }

    /// Installs an allocator that counts tree-sitter's bytes per thread. Call once, before
    /// any parser exists (tree-sitter frees with the allocator that is current).
    package static let installCountingAllocator: Void = { cst_install_counting_allocator() }()

    package init(reader: Reader = .fast) {
        _ = Self.installCountingAllocator
        parser = ts_parser_new()
        self.reader = reader
    }

    deinit {
        ts_parser_delete(parser)
        cst_walk_buffers_free(&walk)
    }

    /// Parses `source` and reads every node the cursor visits (named, anonymous, extras,
    /// ERROR and MISSING). `timeoutMicros` 0 means no limit.
    package func parse(_ source: UnsafeRawBufferPointer, grammar: Grammar, timeoutMicros: UInt64) throws -> Result {
        let tsTree = try treeSitterParse(source, grammar: grammar, timeoutMicros: timeoutMicros)
        let tree: CSTTree
        do {
            tree = try read(tsTree, table: grammar.table, sourceLength: source.count)
        } catch {
            ts_tree_delete(tsTree)
            throw error
        }
        // The tree's size is what deleting it frees: unlike growth during the parse, this
        // does not depend on the parser's reused buffers, so archives stay reproducible.
        let beforeDelete = cst_thread_ts_live_bytes()
        ts_tree_delete(tsTree)
        return Result(tree: tree, treeSitterBytes: Int(beforeDelete - cst_thread_ts_live_bytes()))
    }

    /// One parse read by both readers (the fast one where available): tests compare them on
    /// the same tree (two parses of one input may differ where a grammar's scanner reads
    /// memory it never wrote, as lua's does under ThreadSanitizer).
    func parseReadByBoth(_ source: UnsafeRawBufferPointer, grammar: Grammar) throws -> (fast: CSTTree, cursor: CSTTree) {
        let tsTree = try treeSitterParse(source, grammar: grammar, timeoutMicros: 0)
        defer { ts_tree_delete(tsTree) }
        let fast = try TreeSitterParser(reader: .fast).read(tsTree, table: grammar.table, sourceLength: source.count)
        return (fast, try Self.readWithCursor(tsTree, table: grammar.table, sourceLength: source.count))
    }

    /// Parses and discards the tree: the reference that `build` is measured against.
    package func parseOnly(_ source: UnsafeRawBufferPointer, grammar: Grammar, timeoutMicros: UInt64) throws {
        ts_tree_delete(try treeSitterParse(source, grammar: grammar, timeoutMicros: timeoutMicros))
    }

    private func treeSitterParse(_ source: UnsafeRawBufferPointer, grammar: Grammar, timeoutMicros: UInt64) throws -> OpaquePointer {
        guard ts_parser_set_language(parser, grammar.language) else {
            throw CSTPackError("grammar '\(grammar.name)' (ABI \(grammar.abi)) is rejected by tree-sitter 0.20.7")
        }
        guard source.count < Int(UInt32.max) else { throw CSTPackError("file larger than 4 GiB; tree-sitter cannot parse it") }
        ts_parser_set_timeout_micros(parser, timeoutMicros)
        ts_parser_reset(parser) // a timed-out parse would otherwise be resumed
        // An empty buffer may have no address; tree-sitter reads no bytes of it then.
        let empty: StaticString = ""
        let base = source.baseAddress?.assumingMemoryBound(to: CChar.self)
            ?? UnsafeRawPointer(empty.utf8Start).assumingMemoryBound(to: CChar.self)
        guard let tsTree = ts_parser_parse_string(parser, nil, base, UInt32(source.count)) else {
            throw CSTPackError("parse timed out after \(timeoutMicros / 1000) ms (see --parse-timeout)")
        }
        return tsTree
    }

    /// Nodes' worth of walker arrays a parser keeps between files (15 MiB).
    static let keptWalkNodes = 1 << 20

    /// Whether `.fast` readers use the direct walker here (the library is the tree-sitter
    /// 0.20.7 whose layout it reads, and CSTPACK_CURSOR_WALK is not set).
    package static var fastWalkAvailable: Bool { cst_walk_available() != 0 }

    /// Every node of `tsTree`, in preorder.
    func read(_ tsTree: OpaquePointer, table: LanguageTable, sourceLength: Int) throws -> CSTTree {
        guard reader == .fast, cst_walk_available() != 0 else {
            return try Self.readWithCursor(tsTree, table: table, sourceLength: sourceLength)
        }
        var badSymbol: UInt16 = 0
        let errorKind = UInt16(table.kindCount - 1)
        switch cst_walk_tree(tsTree, errorKind, &walk, &badSymbol) {
        case Int32(CST_WALK_OK):
            let tree = CSTTree(copying: walk)
            // Kept for the next file, unless a huge file grew them (15 bytes a node).
            if walk.capacity > Self.keptWalkNodes { cst_walk_buffers_free(&walk) }
            return tree
        case Int32(CST_WALK_BAD_SYMBOL):
            throw CSTPackError("tree-sitter returned symbol \(badSymbol) outside the grammar's \(errorKind) symbols")
        default:
            // Out of memory, or the layout check failed: the cursor gives the same tree.
            return try Self.readWithCursor(tsTree, table: table, sourceLength: sourceLength)
        }
    }

    /// Preorder walk with a cursor (no recursion: depth is unbounded in hostile files).
    static func readWithCursor(_ tsTree: OpaquePointer, table: LanguageTable, sourceLength: Int) throws -> CSTTree {
        let symbolCount = UInt16(table.kindCount - 1)
        var tree = CSTTree(reservingCapacity: max(16, sourceLength / 3))
        var cursor = ts_tree_cursor_new(ts_tree_root_node(tsTree))
        defer { ts_tree_cursor_delete(&cursor) }
        var facts = CSTNodeFacts()
        var ancestors: [Int32] = []
        while true {
            cst_cursor_facts(&cursor, &facts)
            let kind: UInt16
            if facts.symbol == 0xFFFF {
                kind = symbolCount
            } else if facts.symbol < symbolCount {
                kind = facts.symbol
            } else {
                throw CSTPackError("tree-sitter returned symbol \(facts.symbol) outside the grammar's \(symbolCount) symbols")
            }
            let index = Int32(tree.count)
            tree.append(kind: kind, field: facts.field, flags: CSTTree.Flags(rawValue: facts.flags),
                        start: facts.start_byte, end: facts.end_byte, parent: ancestors.last ?? -1)
            if ts_tree_cursor_goto_first_child(&cursor) {
                ancestors.append(index)
                continue
            }
            while !ts_tree_cursor_goto_next_sibling(&cursor) {
                guard ts_tree_cursor_goto_parent(&cursor) else { return tree }
                ancestors.removeLast()
            }
        }
    }
}

extension CSTTree {
    /// The fast walker's output, copied.
    init(copying b: CSTWalkBuffers) {
        let n = b.count
        func copy<T>(_ p: UnsafeMutablePointer<T>?) -> [T] { n == 0 ? [] : Array(UnsafeBufferPointer(start: p, count: n)) }
        self.init()
        kinds = copy(b.kinds)
        fields = copy(b.fields)
        flags = [Flags](unsafeUninitializedCapacity: n) { buffer, initialized in
            if n > 0 { UnsafeMutableRawPointer(buffer.baseAddress!).copyMemory(from: b.flags, byteCount: n) }
            initialized = n
        }
        starts = copy(b.starts)
        ends = copy(b.ends)
        parents = copy(b.parents)
    }
}
