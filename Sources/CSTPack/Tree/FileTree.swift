/// The node API that query, diff, verify and stats read through: one file's decoded tree
/// with its language's names, and its text and rows when the archive has them.
public struct FileTree: Sendable {
    public let path: [UInt8]
    public let table: LanguageTable
    public let tree: CSTTree
    public let source: [UInt8]?
    public let lineStarts: [UInt32]?
    /// Length of the file's text in bytes (known even when the text is not stored).
    public let sourceLength: Int

    public init(path: [UInt8], table: LanguageTable, tree: CSTTree, source: [UInt8]?, lineStarts: [UInt32]?, sourceLength: Int? = nil) {
        self.sourceLength = sourceLength ?? source?.count ?? Int(tree.ends.first ?? 0)
        self.path = path
        self.table = table
        self.tree = tree
        self.source = source
        self.lineStarts = lineStarts
    }

    public var displayPath: String { String(decoding: path, as: UTF8.self) }
    public var count: Int { tree.count }

    public func kindName(_ i: Int) -> String { table.kindNames[Int(tree.kinds[i])] }
    public func fieldName(_ i: Int) -> String? {
        let f = tree.fields[i]
        return f == 0 ? nil : table.fieldNames[Int(f)]
    }
    public func isNamed(_ i: Int) -> Bool { tree.flags[i].contains(.named) }
    public func isError(_ i: Int) -> Bool { tree.kinds[i] == table.errorKind }

    /// The node's source text, when stored.
    public func text(_ i: Int) -> ArraySlice<UInt8>? {
        guard let s = source else { return nil }
        return s[Int(tree.starts[i])..<Int(tree.ends[i])]
    }

    /// 1-based line and 1-based byte column of a byte offset (as compilers print them).
    public func point(_ byte: UInt32) -> (line: Int, column: Int)? {
        guard let starts = lineStarts else { return nil }
        var lo = 0, hi = starts.count
        while lo + 1 < hi {
            let mid = (lo + hi) / 2
            if starts[mid] <= byte { lo = mid } else { hi = mid }
        }
        return (lo + 1, Int(byte - starts[lo]) + 1)
    }
}

extension ArchiveReader {
    /// File `i` decoded with everything the node API offers. The last few decoded files
    /// are kept (see `treeCacheLimit`), so repeated lookups in one file decode it once.
    public func fileTree(_ i: Int) throws -> FileTree {
        if let hit = cachedTree(i) { return hit }
        let ft = try decodeFileTree(i)
        cacheTree(ft, for: i)
        return ft
    }

    private func decodeFileTree(_ i: Int) throws -> FileTree {
        let f = try archive.file(i)
        let source = try source(ofFile: i)
        return FileTree(path: try archive.path(ofFile: i), table: archive.languages[Int(f.language)],
                        tree: try tree(ofFile: i), source: source, lineStarts: try lineStarts(ofFile: i, source: source),
                        sourceLength: Int(f.sourceLength))
    }
}
