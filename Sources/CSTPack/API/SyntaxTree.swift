/// A position in a file's text: a 1-based line and a 1-based byte column, as compilers
/// and `cstpack query` print them.
///
/// Lines are counted tree-sitter's way: a line starts after each `\n`. Columns count bytes
/// (not characters) from the line's start.
public struct SourcePoint: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The 1-based line number.
    public var line: Int
    /// The 1-based byte column.
    public var column: Int

    /// A point at `line` and `column`, both 1-based.
    public init(line: Int, column: Int) {
        self.line = line
        self.column = column
    }

    /// Whether `a` comes before `b` in the text.
    public static func < (a: SourcePoint, b: SourcePoint) -> Bool {
        (a.line, a.column) < (b.line, b.column)
    }

    /// `LINE:COLUMN`.
    public var description: String { "\(line):\(column)" }
}

/// A stored file's concrete syntax tree, as tree-sitter parsed it when the archive was
/// built.
///
/// Nodes are numbered in preorder from 0 (the root), as `cstpack query FILE 42` numbers
/// them. A tree is an immutable value: it and its nodes may be used from any thread, and
/// they keep their decoded data alive (never the archive's mapped bytes).
public struct SyntaxTree: Sendable {
    let storage: TreeStorage

    init(storage: TreeStorage) { self.storage = storage }

    /// The file this tree was decoded from.
    public var file: ArchiveFile { storage.file }

    /// The root node (id 0).
    public var root: SyntaxNode { SyntaxNode(storage, 0) }

    /// The number of nodes, named and anonymous.
    public var nodeCount: Int { storage.count }

    /// Every node in preorder (document order): `nodes[id]` is the node with that id.
    public var nodes: Nodes { Nodes(storage: storage) }

    /// The node with preorder id `id`, or nil when the tree has no such node.
    public func node(id: Int) -> SyntaxNode? {
        id >= 0 && id < storage.count ? SyntaxNode(storage, id) : nil
    }

    /// The deepest named node at a 1-based line and byte column: the smallest named node
    /// whose range holds the byte there (the root when no other does), as
    /// `cstpack query FILE LINE:COLUMN` finds it.
    ///
    /// The column may point at the line's end (its newline), not past it. Returns nil for
    /// a point outside the file.
    public func node(atLine line: Int, column: Int) -> SyntaxNode? {
        guard let byte = storage.tree.byteOffset(line: line, column: column) else { return nil }
        return SyntaxNode(storage, storage.tree.deepestNode(at: byte))
    }

    /// The smallest node of the tree whose range holds `range`, as tree-sitter's
    /// `ts_node_descendant_for_byte_range` finds it from the root.
    public func descendant(forByteRange range: Range<Int>) -> SyntaxNode {
        root.descendant(forByteRange: range)
    }

    /// The smallest named node of the tree whose range holds `range`, as tree-sitter's
    /// `ts_node_named_descendant_for_byte_range` finds it from the root.
    public func namedDescendant(forByteRange range: Range<Int>) -> SyntaxNode {
        root.namedDescendant(forByteRange: range)
    }

    /// A cursor at the root, for walks that create no node values.
    public func walk() -> TreeCursor { TreeCursor(storage, root: 0) }

    /// The nodes of a tree in preorder, addressed by id.
    public struct Nodes: RandomAccessCollection, Sendable {
        let storage: TreeStorage
        /// 0, the root's id.
        public var startIndex: Int { 0 }
        /// The tree's node count.
        public var endIndex: Int { storage.count }
        /// The node with preorder id `id`.
        public subscript(id: Int) -> SyntaxNode {
            precondition(id >= 0 && id < storage.count, "node id \(id) outside 0..<\(storage.count)")
            return SyntaxNode(storage, id)
        }
    }
}

/// A decoded tree with the links a node API needs: children lists and each node's place in
/// its parent's list. Immutable once made, so shared freely.
final class TreeStorage: Sendable {
    let file: ArchiveFile
    let tree: FileTree
    /// Children of node p: `childIDs[childStarts[p]..<childStarts[p+1]]`.
    let childStarts: [Int32]
    let childIDs: [Int32]
    /// Node i's index in `childIDs` (-1 for the root): its siblings are its neighbours there.
    let slot: [Int32]
    /// What the cache counts for this tree.
    let byteCost: Int

    init(file: ArchiveFile, tree: FileTree) {
        self.file = file
        self.tree = tree
        (childStarts, childIDs) = tree.tree.childLists()
        var slot = [Int32](repeating: -1, count: tree.count)
        for (j, c) in childIDs.enumerated() { slot[Int(c)] = Int32(j) }
        self.slot = slot
        // 17 bytes of node facts, 12 of links, per node; the text and line starts.
        byteCost = tree.count * 29 + (tree.source?.count ?? 0) + 4 * (tree.lineStarts?.count ?? 0) + tree.path.count
    }

    var count: Int { tree.count }

    @inline(__always) func parent(_ i: Int) -> Int { Int(tree.tree.parents[i]) }

    @inline(__always) func children(_ i: Int) -> Range<Int> { Int(childStarts[i])..<Int(childStarts[i + 1]) }

    /// The next (`step` 1) or previous (`step` -1) sibling of node `i`, or -1.
    @inline(__always) func sibling(_ i: Int, _ step: Int) -> Int {
        let p = parent(i)
        guard p >= 0 else { return -1 }
        let j = Int(slot[i]) + step
        return children(p).contains(j) ? Int(childIDs[j]) : -1
    }

    /// The nearest sibling in direction `step` that is named, or -1.
    func namedSibling(_ i: Int, _ step: Int) -> Int {
        var j = sibling(i, step)
        while j >= 0 && !tree.tree.flags[j].contains(.named) { j = sibling(j, step) }
        return j
    }

    /// Line and column of a byte offset (every tree here has line starts).
    func point(_ byte: UInt32) -> SourcePoint {
        let p = tree.point(byte) ?? (line: 1, column: Int(byte) + 1)
        return SourcePoint(line: p.line, column: p.column)
    }
}
