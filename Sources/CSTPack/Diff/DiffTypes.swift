/// What `diff` reports, file by file and node by node.

package struct LineColumn: Sendable, Equatable {
    /// 1-based line and 1-based byte column.
    package var line: Int
    package var column: Int
}

/// A byte range of one side's source, with its line:column ends.
package struct SourceSpan: Sendable, Equatable {
    package var startByte: Int
    package var endByte: Int
    package var start: LineColumn
    package var end: LineColumn
}

/// One reported difference between two syntax trees.
package struct NodeChange: Sendable {
    package enum Op: String, Sendable {
        case insert, delete, update, move
    }
    package var op: Op
    /// Kind of the node (for a run of sibling nodes inserted or deleted together, the kinds of
    /// its named nodes, comma-separated).
    package var kind: String
    /// Where it was (delete, update, move) and is (insert, update, move).
    package var old: SourceSpan?
    package var new: SourceSpan?
    /// The whole text of each side (of the run, for a run of siblings).
    package var oldText: String?
    package var newText: String?
    /// Index into TreeDiff.groups: the enclosing declaration.
    package var group: Int
    /// What part of that declaration it is in: the field name of the declaration's child on
    /// the way down ("body", "parameters"), else that child's kind; nil at the top level.
    package var part: String?
    /// Preorder node ids (old side, new side) of the first node; -1 when absent.
    package var oldNode: Int
    package var newNode: Int
    /// Preorder node ids of the last node of a run (the first node's for a single node).
    package var oldLastNode: Int = -1
    package var newLastNode: Int = -1
    /// For an insert or delete: the outermost nodes inside the run that stay (matched; wrapped
    /// in place by the inserted nodes, or unwrapped from the deleted ones), on the run's side.
    package var kept: [SourceSpan] = []
}

/// A declaration matched to one of another name: a rename (the old name is gone from its
/// scope and the new one was not there).
package struct DeclarationRename: Sendable, Equatable {
    package var kind: String
    package var oldName: String
    package var newName: String
    /// Names of the enclosing declarations, outermost first, on each side.
    package var oldScope: [String]
    package var newScope: [String]
    package var old: SourceSpan
    package var new: SourceSpan
}

/// A declaration that changes are grouped under, e.g. function_definition `parse_args`.
package struct Declaration: Sendable, Equatable {
    package var kind: String
    package var name: String
    /// The name on the old side when it differs (a rename).
    package var oldName: String?
}

package struct ChangeGroup: Sendable {
    /// Enclosing declarations, outermost first; empty for the file's top level.
    package var path: [Declaration]
    /// What changed in the innermost one ("body", "parameters", ...), in order of appearance.
    package var parts: [String]
    /// Indices into TreeDiff.changes, in order of position.
    package var changes: [Int]
}

/// The node-level diff of one file.
package struct TreeDiff: Sendable {
    package enum Mode: Sendable, Equatable {
        /// GumTree matching within the budget.
        case structural
        /// The budget was exceeded: aligned top-down by identical subtrees only, no moves.
        case coarse(reason: String)
    }
    package var mode: Mode
    package var changes: [NodeChange]
    package var groups: [ChangeGroup]
    package var oldNodes: Int
    package var newNodes: Int
    package var seconds: Double
    /// With TreeDiffOptions.checkReplay: .some(nil) when the edit script replays on the old
    /// tree to the new one, .some(why) when it does not; nil when not checked.
    package var replay: String?? = nil
    /// Every declaration shown renamed, nested ones included.
    package var renames: [DeclarationRename] = []

    package var isCoarse: Bool { if case .coarse = mode { return true } else { return false } }
    package func count(_ op: NodeChange.Op) -> Int { changes.reduce(0) { $0 + ($1.op == op ? 1 : 0) } }
}

/// A file's status between the two snapshots (git's letters).
package enum FileStatus: Sendable, Equatable {
    case added, deleted, modified
    /// Renamed or moved; score is the similarity in percent (100: identical content).
    case renamed(score: Int)

    package var letter: String {
        switch self {
        case .added: return "A"
        case .deleted: return "D"
        case .modified: return "M"
        case .renamed(let s): return "R" + String(min(max(s, 0), 100)).leftPadded(to: 3)
        }
    }
}

/// One file that differs, with its node-level diff when there is one.
package struct FileDiff: Sendable {
    package var status: FileStatus
    package var old: SnapshotFile?
    package var new: SnapshotFile?
    package enum Nodes: Sendable {
        /// Not asked for (file-level output), or nothing to compare (added, deleted, identical).
        case none
        case diff(TreeDiff)
        /// Why there is no node-level diff (different languages, no source stored, parse failure).
        case unavailable(String)
    }
    package var nodes: Nodes = .none

    package var oldPath: [UInt8]? { old?.path }
    package var newPath: [UInt8]? { new?.path }
    /// The path the file is listed under: the new one, else the old one.
    package var path: [UInt8] { new?.path ?? old?.path ?? [] }
    package var treeDiff: TreeDiff? { if case .diff(let d) = nodes { return d } else { return nil } }
}
