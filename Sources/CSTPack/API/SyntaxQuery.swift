/// A tree-sitter query compiled for one language of an archive: patterns such as
/// `(function_definition name: (identifier) @name)`, with captures, quantifiers,
/// alternations, anchors and the `#eq?`, `#match?` and `#any-of?` predicates (and their
/// `not-` forms).
///
/// It is the engine behind `cstpack query`. Matches come in document order of the node
/// each match starts at, then in pattern order; a match's captures come in document
/// order.
public struct SyntaxQuery: Sendable {
    /// The query's text.
    public let source: String
    /// The language it was compiled for.
    public let language: String
    /// The capture names (without `@`), indexed by ``Capture/index``.
    public var captureNames: [String] { query.captureNames }
    /// The number of patterns (``Match/pattern`` is below it).
    public var patternCount: Int { query.patterns.count }

    let query: Query
    let table: LanguageTable

    /// Compiles `source` for the language named `language` in `archive`.
    ///
    /// - Throws: ``CSTPackError`` when the archive has no such language, or the query is
    ///   malformed or names a node kind or field the language does not have.
    public init(_ source: String, language: String, in archive: CSTArchive) throws {
        let languages = archive.reading.archive.languages
        guard let table = languages.first(where: { $0.name == language }) else {
            throw CSTPackError("\(archive.path) has no files in \(language) (its languages: \(languages.map(\.name).joined(separator: ", ")))")
        }
        try self.init(source, table: table)
    }

    init(_ source: String, table: LanguageTable) throws {
        do {
            query = try QueryParser.parse(source, table: table)
            // Compiles the predicates' regular expressions too: a bad one fails here.
            _ = try QueryMatcher(query)
        } catch let e as QueryError {
            throw CSTPackError("query: \(e.description)")
        }
        self.source = source
        self.table = table
        language = table.name
    }

    /// One match of a pattern.
    public struct Match: Sendable {
        /// The index of the pattern that matched, in the order the query gives them.
        public let pattern: Int
        /// The node the pattern matched at (for a pattern of siblings, the first of them).
        public let node: SyntaxNode
        /// The match's captures, in document order (then in capture order).
        public let captures: [Capture]

        /// The file the match is in.
        public var file: ArchiveFile { node.storage.file }

        /// The nodes captured under `name` (without `@`), in document order.
        public func nodes(forCapture name: String) -> [SyntaxNode] {
            captures.filter { $0.name == name }.map(\.node)
        }
    }

    /// A node captured by a match.
    public struct Capture: Sendable {
        /// The capture's index in ``SyntaxQuery/captureNames``.
        public let index: Int
        /// The capture's name, without `@`.
        public let name: String
        /// The captured node.
        public let node: SyntaxNode
        /// The captured node's range of bytes.
        public var byteRange: Range<Int> { node.byteRange }
    }

    /// Every match in `tree`, with a fresh matcher (its compiled tables are per call).
    func matches(in storage: TreeStorage) throws -> [Match] {
        try matches(in: storage, matcher: try QueryMatcher(query))
    }

    func matches(in storage: TreeStorage, matcher: QueryMatcher) throws -> [Match] {
        guard storage.tree.table == table else {
            throw CSTPackError("the query was compiled for \(language), and \(storage.file.path) is \(storage.file.language) (or another version of its grammar)")
        }
        let before = matcher.budgetExceeded
        let list = try ArchiveReading.translatingErrors(storage.file.path) { try matcher.matchList(in: storage.tree) }
        guard matcher.budgetExceeded == before else {
            throw CSTPackError("\(storage.file.path): \(matcher.budgetExceeded - before) match attempt(s) stopped at the step budget (\(QueryMatcher.stepBudget) steps): the matches would be incomplete")
        }
        return (0..<list.count).map { m in
            Match(pattern: Int(list.entries[m].pattern), node: SyntaxNode(storage, list.root(of: m)),
                  captures: list.captures(of: m).map {
                      Capture(index: $0.id, name: query.captureNames[$0.id], node: SyntaxNode(storage, $0.node))
                  })
        }
    }
}

extension SyntaxTree {
    /// Every match of `query` in this tree.
    ///
    /// - Throws: ``CSTPackError`` when the query was compiled for another language, needs
    ///   the text the archive does not store, or a pattern ran out of its step budget.
    public func matches(of query: SyntaxQuery) throws -> [SyntaxQuery.Match] {
        try query.matches(in: storage)
    }
}

extension CSTArchive {
    /// Every match of the query `source` in `files` (all files when nil), file by file in
    /// the order given.
    ///
    /// With `language`, only that language's files are searched. Without it, the query is
    /// compiled for each language among the files, and the files of languages it does not
    /// apply to (it names a node kind or field they lack) are skipped.
    ///
    /// Matched nodes keep their files' trees in memory; to bound memory over many files,
    /// use ``forEachMatch(_:language:files:_:)``.
    ///
    /// - Throws: ``CSTPackError`` when the query applies to none of the languages (or is
    ///   malformed), or a file cannot be read or searched.
    public func query(_ source: String, language: String? = nil, files: [ArchiveFile]? = nil) throws -> [SyntaxQuery.Match] {
        var all: [SyntaxQuery.Match] = []
        try forEachMatch(source, language: language, files: files) { all.append($0) }
        return all
    }

    /// Calls `body` with every match of the query `source` in `files` (all files when
    /// nil), file by file, without keeping earlier files' trees alive.
    ///
    /// Files and languages are chosen as ``query(_:language:files:)`` chooses them.
    ///
    /// - Throws: what ``query(_:language:files:)`` throws, and what `body` throws.
    public func forEachMatch(_ source: String, language: String? = nil, files: [ArchiveFile]? = nil,
                             _ body: (SyntaxQuery.Match) throws -> Void) throws {
        let chosen = (files ?? self.files).filter { language == nil || $0.language == language }
        var compiled: [String: (query: SyntaxQuery, matcher: QueryMatcher)] = [:]
        if let language {
            let q = try SyntaxQuery(source, language: language, in: self)
            compiled[language] = (q, try QueryMatcher(q.query))
        } else {
            var firstError: Error? = nil
            for name in Set(chosen.map(\.language)).sorted() {
                do {
                    let q = try SyntaxQuery(source, language: name, in: self)
                    compiled[name] = (q, try QueryMatcher(q.query))
                } catch {
                    // A kind one grammar lacks says less than an error any grammar gives.
                    if firstError == nil || "\(firstError!)".contains("no node kind") { firstError = error }
                }
            }
            if compiled.isEmpty, let e = firstError { throw e }
        }
        for file in chosen {
            guard let c = compiled[file.language] else { continue }
            for m in try c.query.matches(in: try reading.treeStorage(file), matcher: c.matcher) { try body(m) }
        }
    }
}
