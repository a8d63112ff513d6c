/// One file stored in a ``CSTArchive``: its path, language and size, and access to its
/// syntax tree and source text.
///
/// A file keeps what it needs of its archive alive, so it stays usable after the
/// ``CSTArchive`` value that listed it is released.
public struct ArchiveFile: Sendable, Hashable, CustomStringConvertible {
    /// The path as stored: relative to the directory the archive was built from, with `/`
    /// between folders. Bytes that are not UTF-8 are shown as U+FFFD.
    public let path: String
    /// The name of the file's tree-sitter grammar, such as `python` or `c`.
    public let language: String
    /// The length of the file's text in bytes (known even when the text is not stored).
    public let byteCount: Int
    /// The number of nodes in the file's syntax tree (named and anonymous).
    public let nodeCount: Int

    let reading: ArchiveReading
    /// The file's index in the archive's file table.
    let index: Int

    init(reading: ArchiveReading, index: Int, entry: FileEntry, path: [UInt8], language: String) {
        self.reading = reading
        self.index = index
        self.path = String(decoding: path, as: UTF8.self)
        self.language = language
        byteCount = Int(entry.sourceLength)
        nodeCount = Int(entry.nodeCount)
    }

    /// The file's syntax tree, decoded from the archive (or taken from its cache).
    ///
    /// - Throws: ``CSTPackError`` when the stored tree is corrupt.
    public func syntaxTree() throws -> SyntaxTree {
        SyntaxTree(storage: try reading.treeStorage(self))
    }

    /// The file's text as stored, or nil when the archive was built with `--no-source`.
    ///
    /// - Throws: ``CSTPackError`` when the stored text is corrupt.
    public func source() throws -> [UInt8]? {
        try reading.source(self)
    }

    /// The file's path.
    public var description: String { path }

    /// Whether two values are the same file of the same opened archive.
    public static func == (a: ArchiveFile, b: ArchiveFile) -> Bool {
        a.reading === b.reading && a.index == b.index
    }

    /// Hashes the file's identity (its archive and its place in it).
    public func hash(into hasher: inout Hasher) {
        hasher.combine(ObjectIdentifier(reading))
        hasher.combine(index)
    }
}
