/// A node of a ``SyntaxTree``: its kind, range and flags, and its neighbours.
///
/// A node is a small value (its tree and its id); it keeps its tree alive. The names
/// follow tree-sitter's node API (`ts_node_type`, `ts_node_is_named`,
/// `ts_node_child_by_field_name`, ...), and so do the answers: a node's children are
/// tree-sitter's children, anonymous tokens included.
public struct SyntaxNode: Sendable, Hashable, CustomStringConvertible {
    let storage: TreeStorage
    let index: Int

    init(_ storage: TreeStorage, _ index: Int) {
        self.storage = storage
        self.index = index
    }

    private var flags: CSTTree.Flags { storage.tree.tree.flags[index] }

    /// The node's preorder id in its tree (0 for the root), as `cstpack query` prints it
    /// (`#42`).
    public var id: Int { index }

    /// The tree this node belongs to.
    public var tree: SyntaxTree { SyntaxTree(storage: storage) }

    /// The node's kind (tree-sitter's type): a grammar rule's name such as `identifier`,
    /// the token itself for an anonymous node such as `(`, or `ERROR`.
    public var kind: String { storage.tree.kindName(index) }

    /// Whether the node is named (a rule of the grammar), not an anonymous token.
    public var isNamed: Bool { flags.contains(.named) }

    /// Whether the node is an extra, such as a comment, that may appear anywhere.
    public var isExtra: Bool { flags.contains(.extra) }

    /// Whether the parser inserted the node to recover from an error (it spans no text).
    public var isMissing: Bool { flags.contains(.missing) }

    /// Whether the node is an `ERROR` node: text the parser could not fit to the grammar.
    public var isError: Bool { storage.tree.isError(index) }

    /// Whether the node is or contains an `ERROR` or missing node.
    public var hasError: Bool { flags.contains(.hasError) }

    /// The name of the field this node fills in its parent (`name` in
    /// `function_definition`, say), or nil.
    public var fieldName: String? { storage.tree.fieldName(index) }

    /// The node's range of bytes in the file's text.
    public var byteRange: Range<Int> {
        Int(storage.tree.tree.starts[index])..<Int(storage.tree.tree.ends[index])
    }

    /// Where the node starts: 1-based line and byte column.
    public var start: SourcePoint { storage.point(storage.tree.tree.starts[index]) }

    /// Where the node ends (the position just after its last byte): 1-based line and byte
    /// column.
    public var end: SourcePoint { storage.point(storage.tree.tree.ends[index]) }

    /// The node's text, or nil when the archive does not store the file's text. Bytes that
    /// are not UTF-8 are shown as U+FFFD.
    public var text: String? {
        storage.tree.text(index).map { String(decoding: $0, as: UTF8.self) }
    }

    // MARK: Neighbours

    /// The node's parent, or nil for the root.
    public var parent: SyntaxNode? {
        let p = storage.parent(index)
        return p >= 0 ? SyntaxNode(storage, p) : nil
    }

    /// The number of children, named and anonymous.
    public var childCount: Int { storage.children(index).count }

    /// The number of named children.
    public var namedChildCount: Int {
        storage.children(index).reduce(0) { $0 + (storage.tree.tree.flags[Int(storage.childIDs[$1])].contains(.named) ? 1 : 0) }
    }

    /// The child at position `position` (0-based, among all children), or nil.
    public func child(at position: Int) -> SyntaxNode? {
        let r = storage.children(index)
        guard position >= 0, position < r.count else { return nil }
        return SyntaxNode(storage, Int(storage.childIDs[r.lowerBound + position]))
    }

    /// The named child at position `position` (0-based, among named children), or nil.
    public func namedChild(at position: Int) -> SyntaxNode? {
        guard position >= 0 else { return nil }
        var k = position
        for j in storage.children(index) {
            let c = Int(storage.childIDs[j])
            guard storage.tree.tree.flags[c].contains(.named) else { continue }
            if k == 0 { return SyntaxNode(storage, c) }
            k -= 1
        }
        return nil
    }

    /// The node's children in order, named and anonymous.
    public var children: [SyntaxNode] {
        storage.children(index).map { SyntaxNode(storage, Int(storage.childIDs[$0])) }
    }

    /// The node's named children in order.
    public var namedChildren: [SyntaxNode] {
        storage.children(index).compactMap {
            let c = Int(storage.childIDs[$0])
            return storage.tree.tree.flags[c].contains(.named) ? SyntaxNode(storage, c) : nil
        }
    }

    /// The first child in the field `name`, or nil (as `ts_node_child_by_field_name`).
    public func child(field name: String) -> SyntaxNode? {
        guard let f = fieldID(name) else { return nil }
        for j in storage.children(index) where storage.tree.tree.fields[Int(storage.childIDs[j])] == f {
            return SyntaxNode(storage, Int(storage.childIDs[j]))
        }
        return nil
    }

    /// Every child in the field `name`, in order (a field may hold several nodes).
    public func children(field name: String) -> [SyntaxNode] {
        guard let f = fieldID(name) else { return [] }
        return storage.children(index).compactMap {
            let c = Int(storage.childIDs[$0])
            return storage.tree.tree.fields[c] == f ? SyntaxNode(storage, c) : nil
        }
    }

    private func fieldID(_ name: String) -> UInt16? {
        storage.tree.table.fieldNames.dropFirst().firstIndex(of: name).map { UInt16($0) }
    }

    /// The next child of the same parent, or nil.
    public var nextSibling: SyntaxNode? { node(storage.sibling(index, 1)) }

    /// The previous child of the same parent, or nil.
    public var previousSibling: SyntaxNode? { node(storage.sibling(index, -1)) }

    /// The next named child of the same parent, or nil.
    public var nextNamedSibling: SyntaxNode? { node(storage.namedSibling(index, 1)) }

    /// The previous named child of the same parent, or nil.
    public var previousNamedSibling: SyntaxNode? { node(storage.namedSibling(index, -1)) }

    private func node(_ i: Int) -> SyntaxNode? { i >= 0 ? SyntaxNode(storage, i) : nil }

    // MARK: Searching

    /// The smallest node in this node's subtree whose range holds `range` (this node when
    /// no child does), as tree-sitter's `ts_node_descendant_for_byte_range`.
    public func descendant(forByteRange range: Range<Int>) -> SyntaxNode {
        descendant(range, named: false)
    }

    /// The smallest named node in this node's subtree whose range holds `range` (this node
    /// when no named descendant does), as tree-sitter's
    /// `ts_node_named_descendant_for_byte_range`.
    public func namedDescendant(forByteRange range: Range<Int>) -> SyntaxNode {
        descendant(range, named: true)
    }

    /// tree-sitter's walk: step into the first child that reaches past the range's end
    /// (and its start) and starts at or before its start; stop at a child that starts
    /// after it. The last node stepped into that counts (named, with `named`) is the answer.
    private func descendant(_ range: Range<Int>, named: Bool) -> SyntaxNode {
        let t = storage.tree.tree
        var node = index, found = index
        var descended = true
        while descended {
            descended = false
            for j in storage.children(node) {
                let c = Int(storage.childIDs[j])
                let end = Int(t.ends[c])
                if end < range.upperBound || end <= range.lowerBound { continue }
                if range.lowerBound < Int(t.starts[c]) { break }
                node = c
                if !named || t.flags[c].contains(.named) { found = c }
                descended = true
                break
            }
        }
        return SyntaxNode(storage, found)
    }

    /// A cursor at this node, for walks of its subtree that create no node values.
    public func walk() -> TreeCursor { TreeCursor(storage, root: index) }

    // MARK: Conformances

    /// `KIND LINE:COLUMN-LINE:COLUMN #ID`, a named kind bare and an anonymous one quoted.
    public var description: String {
        (isNamed ? kind : "\"\(kind)\"") + " \(start)-\(end) #\(id)"
    }

    /// Whether two values are the same node of the same decoded tree.
    public static func == (a: SyntaxNode, b: SyntaxNode) -> Bool {
        a.storage === b.storage && a.index == b.index
    }

    /// Hashes the node's identity (its tree and its id).
    public func hash(into hasher: inout Hasher) {
        hasher.combine(ObjectIdentifier(storage))
        hasher.combine(index)
    }
}
