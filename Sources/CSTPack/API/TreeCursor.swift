/// A cursor that walks a subtree node by node, as tree-sitter's `TSTreeCursor` does.
///
/// Moving allocates nothing, so a cursor is the way to visit every node of large trees.
/// The cursor stays inside the subtree it was made for: ``gotoParent()`` and
/// ``gotoNextSibling()`` return false at that subtree's root.
///
/// ```swift
/// var cursor = tree.walk()
/// var visited = 0
/// repeat {
///     visited += 1
///     if cursor.gotoFirstChild() { continue }
///     while !cursor.gotoNextSibling() {
///         guard cursor.gotoParent() else { break }
///     }
/// } while cursor.nodeID != 0
/// ```
public struct TreeCursor: Sendable {
    let storage: TreeStorage
    /// Where the cursor started: it does not leave this node's subtree.
    let root: Int
    private var current: Int
    /// Steps below `root`.
    public private(set) var depth = 0

    init(_ storage: TreeStorage, root: Int) {
        self.storage = storage
        self.root = root
        current = root
    }

    /// The node the cursor is at.
    public var node: SyntaxNode { SyntaxNode(storage, current) }

    /// The id of the node the cursor is at (``SyntaxNode/id``), read without making a node.
    public var nodeID: Int { current }

    /// The kind of the node the cursor is at (``SyntaxNode/kind``).
    public var kind: String { storage.tree.kindName(current) }

    /// The field the node the cursor is at fills in its parent, or nil.
    public var fieldName: String? { current == root ? nil : storage.tree.fieldName(current) }

    /// Moves to the current node's first child; false (and no move) when it has none.
    @discardableResult
    public mutating func gotoFirstChild() -> Bool {
        let r = storage.children(current)
        guard !r.isEmpty else { return false }
        current = Int(storage.childIDs[r.lowerBound])
        depth += 1
        return true
    }

    /// Moves to the current node's next sibling; false (and no move) when it has none or
    /// the cursor is at its starting node.
    @discardableResult
    public mutating func gotoNextSibling() -> Bool {
        guard current != root else { return false }
        let next = storage.sibling(current, 1)
        guard next >= 0 else { return false }
        current = next
        return true
    }

    /// Moves to the current node's parent; false (and no move) at the cursor's starting
    /// node.
    @discardableResult
    public mutating func gotoParent() -> Bool {
        guard current != root else { return false }
        current = storage.parent(current)
        depth -= 1
        return true
    }

    /// Moves the cursor to `node`'s place and makes it the subtree the cursor walks.
    /// `node` may belong to another tree.
    public mutating func reset(to node: SyntaxNode) {
        self = TreeCursor(node.storage, root: node.index)
    }
}
