import Foundation

/// What `cstpack query` selects in stored trees; `QueryRunner` finds it over one file or
/// many (in parallel, handed on in path order).
package enum NodeSelector: Sendable, Equatable {
    case id(Int)
    case point(line: Int, column: Int)
    /// `L:C-L:C`: the deepest named node that spans the whole range.
    case span(line: Int, column: Int, endLine: Int, endColumn: Int)
    case byte(Int)
    case kind(String)
    case query(String)

    /// Node ids are below a file's node count, at most Int32.max (FORMAT.md 10.1).
    package static let nodeIDs = 0...(Int(Int32.max) - 1)
    /// Byte offsets, lines and columns address a file of under 4 GiB (UInt32 offsets).
    package static let bytes = 0...Int(UInt32.max)
    package static let lines = 1...Int(UInt32.max)

    /// `42` id, `120:17` line:column, `@5123` byte, a kind name, or a tree-sitter query.
    /// A number outside its range (past Int too) is an error naming the range, so that no
    /// later arithmetic on it can overflow.
    package init(_ s: String) throws {
        let t = s.trimmingSpaces
        func number(_ text: Substring, _ range: ClosedRange<Int>, _ what: String) throws -> Int {
            guard case .inRange(let n)? = parseDecimal(text), range.contains(n) else {
                throw CSTPackError("\(what) must be between \(range.lowerBound) and \(range.upperBound) (in '\(t)')")
            }
            return n
        }
        let colon = t.firstIndex(of: ":")
        if let first = t.first, "([\"_;".contains(first) {
            self = .query(s)
        } else if parseDecimal(t) != nil {
            self = .id(try number(t[...], Self.nodeIDs, "node id"))
        } else if t.hasPrefix("@"), parseDecimal(t.dropFirst()) != nil {
            self = .byte(try number(t.dropFirst(), Self.bytes, "byte offset @N"))
        } else if let colon, parseDecimal(t[..<colon]) != nil, parseDecimal(t[t.index(after: colon)...]) != nil {
            let line = try number(t[..<colon], Self.lines, "line")
            self = .point(line: line, column: try number(t[t.index(after: colon)...], Self.lines, "column"))
        } else if let dash = t.firstIndex(of: "-"), let a = Self.lineColumn(t[..<dash]), let b = Self.lineColumn(t[t.index(after: dash)...]) {
            let l1 = try number(a.0, Self.lines, "line"), c1 = try number(a.1, Self.lines, "column")
            let l2 = try number(b.0, Self.lines, "line"), c2 = try number(b.1, Self.lines, "column")
            guard (l1, c1) <= (l2, c2) else { throw CSTPackError("the range \(t) ends before it starts") }
            self = .span(line: l1, column: c1, endLine: l2, endColumn: c2)
        } else if let first = t.first, first.isNumber || first == "@" {
            // Never a kind name: a locator with a typo is an error, not a search for a kind.
            throw CSTPackError("malformed locator '\(t)': expected a node id (42), LINE:COL (120:17), LINE:COL-LINE:COL or @BYTE")
        } else {
            self = .kind(t)
        }
    }

    var needsWholeTree: Bool { true }

    /// `L:C` as its two digit strings, or nil.
    static func lineColumn(_ s: Substring) -> (Substring, Substring)? {
        guard let colon = s.firstIndex(of: ":") else { return nil }
        let l = s[..<colon], c = s[s.index(after: colon)...]
        guard parseDecimal(l) != nil, parseDecimal(c) != nil else { return nil }
        return (l, c)
    }

    /// `FILE:LINE:COL` or `FILE:L:C-L:C`, as compilers print locations, split into FILE and
    /// the NODE locator; nil when the argument is not one.
    package static func splitLocation(_ argument: String) -> (file: String, node: String)? {
        let parts = argument.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count >= 3 else { return nil }
        for cut in [parts.count - 2, parts.count - 3] where cut >= 1 {
            let node = parts[cut...].joined(separator: ":")
            let file = parts[..<cut].joined(separator: ":")
            if !file.isEmpty, (try? NodeSelector(node)).map({ if case .point = $0 { return true }; if case .span = $0 { return true }; return false }) == true {
                return (file, node)
            }
        }
        return nil
    }
}

extension NodeSelector {
    /// `--query-file FILE`: the query in FILE (whatever its text looks like, a query).
    package static func queryFile(_ path: String) throws -> NodeSelector {
        let resolved = URL(fileURLWithPath: path).resolvingSymlinksInPath().path
        let bytes: [UInt8]
        do {
            bytes = try readFile(Array(resolved.utf8), limit: 64 << 20)
        } catch {
            throw CSTPackError("cannot read query file '\(path)': \(error)")
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw CSTPackError("query file '\(path)' is not UTF-8 text")
        }
        return .query(text)
    }
}

/// What a search collects (how its results are shown is the caller's: the CLI's printers).
package struct QueryOptions: Sendable {
    /// Only each file's number of matches is wanted: trees are counted in reused buffers,
    /// without a `FileTree` (`FileMatches.tree` is nil).
    package var countOnly = false
    /// Structural matches carry their metavariables (`QueryHit.variables`).
    package var variables = false
    /// Point lookups may return anonymous nodes.
    package var anonymous = false
    package var jobs = 1
    /// Polled between runs of files: when it says true the search stops taking files, and
    /// `beforeOutput` must then throw (the answer is being abandoned for a fresh one).
    package var abandoned: (@Sendable () -> Bool)? = nil
    package init() {}
}

package struct QueryResult: Sendable {
    package var hits = 0
    package var files = 0
    /// Files that could not be read (a corrupt segment, say): the others' results are
    /// printed, and the command exits 2.
    package var failedFiles = 0
    package var warnings: [String] = []
}

/// One file's matches, as the search found them (in tree order).
package struct FileMatches {
    /// The stored path.
    package var path: String
    /// The file's tree with its source and line starts; nil when `QueryOptions.countOnly`.
    package var tree: FileTree?
    /// The matches (with `countOnly`, possibly none though `count` is not 0).
    package var hits: [QueryHit]
    /// The number of matches.
    package var count: Int
}

/// A selected node: for a tree-sitter query, one capture (or a capture-less match's root);
/// for a structural search, one match.
package struct QueryHit {
    package var node: Int
    /// The query match it belongs to (its index in the file's matches).
    package var match: Int? = nil
    /// The query pattern that matched (its index in the query).
    package var pattern: Int? = nil
    package var capture: String? = nil
    /// A structural match's metavariables (with `QueryOptions.variables`).
    package var variables: MatchVariables? = nil
    /// The rule (of a rule file) that matched.
    package var rule: RuleReport? = nil
}

/// What a rule file's rule reports with its matches.
package struct RuleReport: Sendable {
    package var id: String
    package var message: String?
    package var severity: String?
}

package enum QueryRunner {
    /// Runs `selector` over `files`. Each file's matches are turned into an `Output` by
    /// `each`, in the worker thread that found them (so that printing is parallel too), and
    /// handed to `sink` in file order. Files without matches are not handed to `each`.
    /// `outputSize` tells how many bytes an output holds: outputs waiting for their turn
    /// count against the queue's memory bound. `beforeOutput` is called before the first
    /// output reaches `sink`, and before the result is returned: when it throws, the search
    /// stops and the error is thrown. Until `outputReady` says it would not wait, outputs
    /// are held (up to `heldByteLimit` bytes) and the search goes on.
    package static func run<Output: Sendable>(_ archive: Archive, files: [Int], selector: NodeSelector, options: QueryOptions,
                                              beforeOutput: () throws -> Void = {}, outputReady: () -> Bool = { true },
                                              each: @escaping @Sendable (FileMatches) throws -> Output,
                                              outputSize: @escaping @Sendable (Output) -> Int,
                                              sink: (Output) -> Void) throws -> QueryResult {
        var result = QueryResult()
        // Compile per language present (queries and kind names are per grammar).
        var languages = Set<Int>()
        for i in files { languages.insert(Int(try archive.file(i).language)) }
        var queries: [Int: Query] = [:]
        var kindCodes: [Int: Set<UInt16>] = [:]
        var firstError: Error? = nil
        var skippedLanguages: [String] = []
        for l in languages.sorted() {
            let table = archive.languages[l]
            switch selector {
            case .query(let text):
                do {
                    let q = try QueryParser.parse(text, table: table)
                    try TreeSitterQueryCheck.check(q.plainText ?? text, table: table)
                    // Compiles the predicates' regular expressions too: a bad one is one
                    // error before any file is read, not a warning per file.
                    _ = try QueryMatcher(q)
                    queries[l] = q
                    for name in q.unappliedPredicates where !result.warnings.contains(where: { $0.hasPrefix(name + " ") }) {
                        result.warnings.append("\(name) is not applied: tree-sitter's query cursor leaves it to the application")
                    }
                } catch {
                    // A kind this grammar lacks says less than an error any grammar would give
                    // (a bad regular expression): the latter is the one reported.
                    if firstError == nil || "\(firstError!)".contains("no node kind") { firstError = error }
                    skippedLanguages.append(table.name)
                }
            case .kind(let name):
                let codes = Set(table.kindCodes(named: name))
                if codes.isEmpty {
                    let near = nearestNames(name, in: table.kindNames.filter { !$0.isEmpty })
                    let e = CSTPackError("no node kind '\(name)' in \(table.name)" + (near.isEmpty ? "" : " (nearest: \(near.joined(separator: ", ")))"))
                    firstError = firstError ?? e
                } else {
                    kindCodes[l] = codes
                }
            default: break
            }
        }
        if case .query = selector, queries.isEmpty, let e = firstError { throw e }
        if !skippedLanguages.isEmpty {
            result.warnings.append("the query does not apply to \(skippedLanguages.count) of \(languages.count) languages (\(skippedLanguages.joined(separator: ", "))): their files were skipped")
        }
        if case .kind = selector, kindCodes.isEmpty, let e = firstError { throw e }
        if case .kind = selector { result.warnings.removeAll() }

        let work = QueryWork(archive: archive, files: files, selector: selector, options: options,
                             queries: queries, kindCodes: kindCodes)
        return try execute(work, result: result, beforeOutput: beforeOutput, outputReady: outputReady, each: each, outputSize: outputSize, sink: sink)
    }

    /// Runs a structural search (`--pattern`, `--rule`) over `files`, as `run` does.
    package static func run<Output: Sendable>(_ archive: Archive, files: [Int], search: StructuralSearch, options: QueryOptions,
                                              beforeOutput: () throws -> Void = {}, outputReady: () -> Bool = { true },
                                              each: @escaping @Sendable (FileMatches) throws -> Output,
                                              outputSize: @escaping @Sendable (Output) -> Int,
                                              sink: (Output) -> Void) throws -> QueryResult {
        let work = QueryWork(archive: archive, files: files, selector: nil, options: options, queries: [:], kindCodes: [:],
                             structural: search)
        return try execute(work, result: QueryResult(), beforeOutput: beforeOutput, outputReady: outputReady, each: each, outputSize: outputSize, sink: sink)
    }

    /// Bytes of output held while `beforeOutput` would wait (beyond them, the search waits).
    static let heldByteLimit = 64 << 20

    /// The files' outcomes, worked out in parallel and handed to `sink` in file order.
    static func execute<Output: Sendable>(_ work: QueryWork, result: QueryResult, beforeOutput: () throws -> Void,
                                          outputReady: () -> Bool,
                                          each: @escaping @Sendable (FileMatches) throws -> Output,
                                          outputSize: @escaping @Sendable (Output) -> Int,
                                          sink: (Output) -> Void) throws -> QueryResult {
        var result = result
        let files = work.files, options = work.options
        // Searches read the summaries, once here: a damaged table is one error, not one per
        // file. A lookup by position or id never does.
        if work.readsSummaries {
            do { _ = try work.archive.summaryTable() } catch { throw CSTPackError(error.description) }
        }
        let jobs = max(1, min(options.jobs, files.count))
        // Runs of consecutive files, whose records share segments (a 256 KiB segment holds
        // the trees of dozens of files): alternating files between threads made each
        // decompress every segment, and runs of 8 still had both decompress most of them.
        // Shorter runs for few files, so that every thread gets some.
        let run = max(1, min(32, files.count / (jobs * 4)))
        let queue = OrderedWorkQueue<FileOutcome<Output>>(total: files.count, window: jobs * run * 2)
        let join = startThreads(jobs) { _ in
            let worker = QueryWorker(work)
            while let taken = queue.take(run: run) {
                if options.abandoned?() == true {
                    queue.cancel()
                    break
                }
                queue.put(taken.map { k in
                    let outcome = worker.process(k, each: each)
                    // Bytes waiting to be printed count against the queue's memory bound.
                    return (k, outcome, outcome.output.map(outputSize) ?? 0)
                })
            }
        }
        var failure: Error? = nil
        var cleared = false
        // Outputs found before `beforeOutput` may be called without waiting are held here,
        // not in the queue: its window would stop the workers until the check ends.
        var held: [Output] = [], heldBytes = 0
        func clear() throws {
            guard !cleared else { return }
            cleared = true
            do { try beforeOutput() } catch {
                queue.cancel()
                join()
                throw error
            }
            for h in held { sink(h) }
            held = []
        }
        while let o = queue.next() {
            if let e = o.error {
                if files.count == 1 { failure = failure ?? e } else { result.warnings.append(e.description) }
                result.failedFiles += 1
                continue
            }
            result.hits += o.hits
            if o.hits > 0 { result.files += 1 }
            if o.budgetExceeded > 0 {
                result.warnings.append("\(o.path): \(o.budgetExceeded) match attempt(s) stopped at the step budget; matches there may be missing")
            }
            if let output = o.output {
                if cleared {
                    sink(output)
                } else {
                    held.append(output)
                    heldBytes += outputSize(output)
                    if outputReady() || heldBytes > Self.heldByteLimit { try clear() }
                }
            }
        }
        join()
        // A check that fails only now (the workers ended first, as a kind count from
        // summaries often does) joins them again in `clear`: `join` does nothing the
        // second time.
        try clear()
        if options.abandoned?() == true { throw CSTPackError("internal: a search was abandoned, yet its answer was let out") }
        if let f = failure { throw f }
        return result
    }
}

struct FileOutcome<Output: Sendable>: Sendable {
    var path = ""
    var hits = 0
    /// `each`'s product for this file's matches; nil when it has none.
    var output: Output? = nil
    var error: CSTPackError? = nil
    var budgetExceeded = 0
}

final class QueryWork: @unchecked Sendable {
    let archive: Archive
    let files: [Int]
    /// nil for a structural search.
    let selector: NodeSelector?
    let options: QueryOptions
    let queries: [Int: Query]
    let structural: StructuralSearch?
    /// Per language, whether each kind code is a selected kind (a table: hashing each
    /// node's kind cost 15% of a scan).
    let isKind: [Int: [Bool]]
    /// Per language, what a file must have for the query to match in it (`Query.needs`).
    let queryNeeds: [Int: [[Set<UInt16>]]]

    init(archive: Archive, files: [Int], selector: NodeSelector?, options: QueryOptions,
         queries: [Int: Query], kindCodes: [Int: Set<UInt16>], structural: StructuralSearch? = nil) {
        self.archive = archive; self.files = files; self.selector = selector; self.options = options
        self.queries = queries
        self.structural = structural
        queryNeeds = queries.compactMapValues(\.needs)
        isKind = kindCodes.mapValues { codes in
            let n = Int(codes.max() ?? 0) + 1
            return (0..<n).map { codes.contains(UInt16($0)) }
        }
    }

    func selects(_ kind: UInt16, in table: [Bool]) -> Bool { Int(kind) < table.count && table[Int(kind)] }

    /// Whether the search reads file summaries (kinds, queries, patterns and rules).
    var readsSummaries: Bool {
        switch selector {
        case .kind?, .query?, nil: return true
        case .id?, .point?, .span?, .byte?: return false
        }
    }
}

/// One thread's reader, decode buffers and compiled matchers.
final class QueryWorker {
    let work: QueryWork
    let reader: ArchiveReader
    var matchers: [Int: QueryMatcher] = [:]
    var buffers = TreeDecoder.Buffers(capacity: 1 << 12)
    /// Structural searches' child lists, reused from file to file.
    var childOffsets: [Int32] = [], childList: [Int32] = []

    init(_ work: QueryWork) {
        self.work = work
        // A scan's runs of files meet a segment soon after it is read or never again: a
        // small cache lets freed segments' memory be reused (with 32 MiB, most segments
        // went to fresh pages, whose faults took much of a pattern search's time).
        reader = ArchiveReader(work.archive, cacheLimit: 4 << 20, scanning: work.files.count > 1)
    }

    /// The `k`th file's matches, given to `each` when there are any; an error (reading the
    /// file, or `each`'s) is the file's, prefixed with its path.
    func process<Output>(_ k: Int, each: (FileMatches) throws -> Output) -> FileOutcome<Output> {
        let i = work.files[k]
        var o = FileOutcome<Output>()
        do {
            let entry = try work.archive.file(i)
            o.path = String(decoding: try work.archive.path(ofFile: i), as: UTF8.self)
            let found: FileMatches?
            if let search = work.structural {
                found = try matchStructural(i, search, path: o.path)
            } else {
                found = try match(i, entry, path: o.path, budgetExceeded: &o.budgetExceeded)
            }
            if let found, found.count > 0 {
                o.hits = found.count
                o.output = try each(found)
            }
        } catch let e as CSTPackError {
            o.error = CSTPackError(o.path.isEmpty ? e.description : "\(o.path): \(e.description)")
        } catch {
            o.error = CSTPackError(o.path.isEmpty ? "\(error)" : "\(o.path): \(error)")
        }
        return o
    }

    /// A file's nodes that the selector picks; nil when the file has none to look at.
    func match(_ i: Int, _ entry: FileEntry, path: String, budgetExceeded: inout Int) throws -> FileMatches? {
        let language = Int(entry.language)
        // Counting kinds needs neither text nor rows: decode into reused buffers.
        if work.options.countOnly, case .kind = work.selector {
            guard let table = work.isKind[language] else { return nil }
            // The summary counts every kind: nothing to decode.
            if let summary = try work.archive.summary(ofFile: i) {
                return FileMatches(path: path, tree: nil, hits: [], count: summary.count(of: table))
            }
            buffers = try reader.decode(file: i, reusing: buffers)
            var n = 0
            for j in 0..<buffers.count where work.selects(buffers.kinds[j], in: table) { n += 1 }
            return FileMatches(path: path, tree: nil, hits: [], count: n)
        }
        if case .query = work.selector, work.queries[language] == nil { return nil }
        // A query none of whose patterns can match here (the summary lacks a kind each needs).
        if case .query = work.selector, let needs = work.queryNeeds[language], let summary = try work.archive.summary(ofFile: i),
           !needs.contains(where: { pattern in pattern.allSatisfy(summary.has(anyOf:)) }) {
            return nil
        }
        // Counting a query's matches: the same, from reused buffers and without a FileTree.
        if work.options.countOnly, case .query = work.selector {
            let m = try matcher(language)
            buffers = try reader.decode(file: i, reusing: buffers)
            let source = m.needsText ? try reader.source(ofFile: i) : nil
            let before = m.budgetExceeded
            let ms = try (source ?? []).withUnsafeBufferPointer { text in
                try m.matchList(in: TreeView(buffers, source: source == nil ? nil : text,
                                             errorKind: work.archive.languages[language].errorKind),
                                storing: false)
            }
            budgetExceeded = m.budgetExceeded - before
            return FileMatches(path: path, tree: nil, hits: [], count: ms.nodeCount)
        }
        if case .kind = work.selector {
            guard let table = work.isKind[language] else { return nil }
            if let summary = try work.archive.summary(ofFile: i), summary.count(of: table) == 0 { return nil }
        }
        // A node at a point needs the tree only up to that node's end.
        var located: (tree: FileTree, node: Int)? = nil
        switch work.selector {
        case .point(let line, let column):
            located = try reader.fileTree(i, line: line, column: column, anonymous: work.options.anonymous)
            // Outside the file: say so without decoding the whole tree.
            if located == nil { throw CSTPackError(try reader.pointOutside(i, line: line, column: column)) }
        case .byte(let b) where b <= UInt64(entry.sourceLength):
            located = try reader.fileTree(i, at: UInt32(b), anonymous: work.options.anonymous)
        default:
            break
        }
        let ft = try located?.tree ?? reader.fileTree(i)
        let hits = try located.map { [QueryHit(node: $0.node)] } ?? select(ft, language: language, budgetExceeded: &budgetExceeded)
        return FileMatches(path: path, tree: ft, hits: hits, count: hits.count)
    }

    /// This thread's compiled matcher for a language (its scratch is per thread).
    func matcher(_ language: Int) throws -> QueryMatcher {
        if let m = matchers[language] { return m }
        let m = try QueryMatcher(work.queries[language]!)
        matchers[language] = m
        return m
    }

    func select(_ ft: FileTree, language: Int, budgetExceeded: inout Int) throws -> [QueryHit] {
        guard let selector = work.selector else { return [] }
        switch selector {
        case .id(let n):
            guard n < ft.count else { throw CSTPackError("node #\(n) does not exist (the file has \(ft.count) nodes, #0 to #\(ft.count - 1))") }
            return [QueryHit(node: n)]
        case .point(let line, let column):
            guard let byte = ft.byteOffset(line: line, column: column) else {
                throw CSTPackError(FileTree.pointOutside(line: line, column: column, lineStarts: ft.lineStarts, sourceLength: ft.sourceLength))
            }
            return [QueryHit(node: ft.deepestNode(at: byte, anonymous: work.options.anonymous))]
        case .span(let l1, let c1, let l2, let c2):
            guard let a = ft.byteOffset(line: l1, column: c1) else {
                throw CSTPackError(FileTree.pointOutside(line: l1, column: c1, lineStarts: ft.lineStarts, sourceLength: ft.sourceLength))
            }
            guard let b = ft.byteOffset(line: l2, column: c2) else {
                throw CSTPackError(FileTree.pointOutside(line: l2, column: c2, lineStarts: ft.lineStarts, sourceLength: ft.sourceLength))
            }
            return [QueryHit(node: ft.deepestNode(spanning: a..<max(a, b), anonymous: work.options.anonymous))]
        case .byte(let b):
            guard b <= ft.sourceLength else { throw CSTPackError("byte @\(b) is past the end of the file (\(ft.sourceLength) bytes)") }
            return [QueryHit(node: ft.deepestNode(at: UInt32(b), anonymous: work.options.anonymous))]
        case .kind:
            let table = work.isKind[language] ?? []
            return (0..<ft.count).filter { work.selects(ft.tree.kinds[$0], in: table) }.map { QueryHit(node: $0) }
        case .query:
            let matcher = try self.matcher(language)
            let before = matcher.budgetExceeded
            let ms = try matcher.matchList(in: ft)
            budgetExceeded = matcher.budgetExceeded - before
            var hits: [QueryHit] = []
            for index in 0..<ms.count {
                let caps = ms.captures(of: index)
                let pattern = Int(ms.entries[index].pattern)
                if caps.isEmpty {
                    hits.append(QueryHit(node: ms.root(of: index), match: index, pattern: pattern, capture: nil))
                }
                for c in caps {
                    hits.append(QueryHit(node: c.node, match: index, pattern: pattern, capture: matcher.query.captureNames[c.id]))
                }
            }
            return hits
        }
    }
}

extension String {
    var trimmingSpaces: String {
        String(self.drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
    }
}

extension Query {
    /// Per pattern, the kind sets a file needs a node of (one kind of each set) for the
    /// pattern to match in it: the kinds of its node and token tests that are not optional,
    /// nor inside an alternation. Nil when some pattern needs nothing (it may match in any file).
    var needs: [[Set<UInt16>]]? {
        var all: [[Set<UInt16>]] = []
        for p in patterns {
            var sets: [Set<UInt16>] = []
            var pending = p.items
            while let item = pending.popLast() {
                guard item.quantifier == .one || item.quantifier == .oneOrMore else { continue }
                switch item.expr {
                case .node(let kinds, let children, _):
                    if let kinds { sets.append(kinds) }
                    pending += children
                case .token(let kinds): sets.append(kinds)
                case .missing(let kinds?): sets.append(kinds)
                case .group(let items): pending += items
                case .any, .missing(nil), .alternation: break
                }
            }
            if sets.isEmpty { return nil }
            all.append(sets)
        }
        return all
    }
}
