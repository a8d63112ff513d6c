import Foundation

/// `cstpack query`: selects nodes in stored trees and renders them, over one file or many
/// (in parallel, printed in path order).
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

package struct QueryOptions: Sendable {
    package enum Mode: Sendable, Equatable { case lines, text, tree(depth: Int?), json, count(byFile: Bool), vimgrep }
    package var mode: Mode = .lines
    /// Line output grouped under each file's path (ripgrep's --heading).
    package var heading = false
    /// Source lines shown before and after each match's first line (grep's -B/-A), in
    /// grep's form: `path:N:line` for the match, `path-N-line` around it, `--` between groups.
    package var before = 0, after = 0
    /// ANSI colours: paths, line numbers, kinds.
    package var color = false
    /// Include anonymous nodes (point lookups, trees).
    package var anonymous = false
    package var jobs = 1
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

package enum QueryRunner {
    /// Runs `selector` over `files`, handing rendered output to `output` in file order.
    package static func run(_ archive: Archive, files: [Int], selector: NodeSelector, options: QueryOptions,
                           output: ([UInt8]) -> Void) throws -> QueryResult {
        var result = QueryResult()
        if case .text = options.mode, !archive.flags.contains(.sources) {
            throw CSTPackError("\(archive.path) does not store source text (built with --no-source): --text has nothing to print")
        }
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
                    try TreeSitterQueryCheck.check(text, table: table)
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
        return try execute(work, result: result, output: output)
    }

    /// Runs a structural search (`--pattern`, `--rule`) over `files`, as `run` does.
    package static func run(_ archive: Archive, files: [Int], search: StructuralSearch, options: QueryOptions,
                            output: ([UInt8]) -> Void) throws -> QueryResult {
        if case .text = options.mode, !archive.flags.contains(.sources) {
            throw CSTPackError("\(archive.path) does not store source text (built with --no-source): --text has nothing to print")
        }
        let work = QueryWork(archive: archive, files: files, selector: nil, options: options, queries: [:], kindCodes: [:],
                             structural: search)
        return try execute(work, result: QueryResult(), output: output)
    }

    /// The files' outcomes, worked out in parallel and handed to `output` in file order.
    static func execute(_ work: QueryWork, result: QueryResult, output: ([UInt8]) -> Void) throws -> QueryResult {
        var result = result
        let files = work.files, options = work.options
        let jobs = max(1, min(options.jobs, files.count))
        // Runs of consecutive files, whose records share segments (a 256 KiB segment holds
        // the trees of dozens of files): alternating files between threads made each
        // decompress every segment, and runs of 8 still had both decompress most of them.
        // Shorter runs for few files, so that every thread gets some.
        let run = max(1, min(32, files.count / (jobs * 4)))
        let queue = OrderedWorkQueue<FileOutcome>(total: files.count, window: jobs * run * 2)
        let join = startThreads(jobs) { _ in
            let worker = QueryWorker(work)
            while let taken = queue.take(run: run) {
                queue.put(taken.map { k in
                    let outcome = worker.process(k)
                    return (k, outcome, outcome.text.count)
                })
            }
        }
        var failure: Error? = nil
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
            if !o.text.isEmpty { output(o.text) }
        }
        join()
        if let f = failure { throw f }
        if case .count(let byFile) = options.mode, !byFile { output(Array("\(result.hits)\n".utf8)) }
        return result
    }
}

struct FileOutcome: Sendable {
    var path = ""
    var hits = 0
    /// What to print for this file (bytes: `--text` prints node bytes as they are).
    var text: [UInt8] = []
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

    init(archive: Archive, files: [Int], selector: NodeSelector?, options: QueryOptions,
         queries: [Int: Query], kindCodes: [Int: Set<UInt16>], structural: StructuralSearch? = nil) {
        self.archive = archive; self.files = files; self.selector = selector; self.options = options
        self.queries = queries
        self.structural = structural
        isKind = kindCodes.mapValues { codes in
            let n = Int(codes.max() ?? 0) + 1
            return (0..<n).map { codes.contains(UInt16($0)) }
        }
    }

    func selects(_ kind: UInt16, in table: [Bool]) -> Bool { Int(kind) < table.count && table[Int(kind)] }
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
        reader = ArchiveReader(work.archive, cacheLimit: 32 << 20, scanning: work.files.count > 1)
    }

    func process(_ k: Int) -> FileOutcome {
        let i = work.files[k]
        var o = FileOutcome()
        do {
            let entry = try work.archive.file(i)
            let language = Int(entry.language)
            o.path = String(decoding: try work.archive.path(ofFile: i), as: UTF8.self)
            if let search = work.structural {
                try processStructural(i, search, &o)
                return o
            }
            // Counting kinds needs neither text nor rows: decode into reused buffers.
            if case .count(let byFile) = work.options.mode, case .kind = work.selector {
                guard let table = work.isKind[language] else { return o }
                buffers = try reader.decode(file: i, reusing: buffers)
                var n = 0
                for j in 0..<buffers.count where work.selects(buffers.kinds[j], in: table) { n += 1 }
                o.hits = n
                if byFile && n > 0 { o.text = Array("\(o.path)\t\(n)\n".utf8) }
                return o
            }
            if case .query = work.selector, work.queries[language] == nil { return o }
            // Counting a query's matches: the same, from reused buffers and without a FileTree.
            if case .count(let byFile) = work.options.mode, case .query = work.selector {
                let m = try matcher(language)
                buffers = try reader.decode(file: i, reusing: buffers)
                let source = m.needsText ? try reader.source(ofFile: i) : nil
                let before = m.budgetExceeded
                let ms = try (source ?? []).withUnsafeBufferPointer { text in
                    try m.matchList(in: TreeView(buffers, source: source == nil ? nil : text,
                                                 errorKind: work.archive.languages[language].errorKind),
                                    storing: false)
                }
                o.budgetExceeded = m.budgetExceeded - before
                o.hits = ms.nodeCount
                if byFile && o.hits > 0 { o.text = Array("\(o.path)\t\(o.hits)\n".utf8) }
                return o
            }
            if case .kind = work.selector, work.isKind[language] == nil { return o }
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
            let hits = try located.map { [Hit(node: $0.node)] } ?? select(ft, language: language, outcome: &o)
            o.hits = hits.count
            o.text = try render(ft, hits: hits)
        } catch let e as CSTPackError {
            o.error = CSTPackError(o.path.isEmpty ? e.description : "\(o.path): \(e.description)")
        } catch {
            o.error = CSTPackError(o.path.isEmpty ? "\(error)" : "\(o.path): \(error)")
        }
        return o
    }

    /// Hits rendered as the options say.
    func render(_ ft: FileTree, hits: [Hit]) throws -> [UInt8] {
        var out: [UInt8] = []
        switch work.options.mode {
        case .count(let byFile):
            if byFile && !hits.isEmpty { out = Array("\(ft.displayPath)\t\(hits.count)\n".utf8) }
        case .lines where work.options.before > 0 || work.options.after > 0:
            out = Array(NodeRender.context(ft, hits: hits, options: work.options).utf8)
        default:
            let style = NodeRender.Style(color: work.options.color, path: !work.options.heading)
            for h in hits { out += try NodeRender.render(ft, hit: h, mode: work.options.mode, anonymous: work.options.anonymous, style: style) }
            if work.options.heading && !out.isEmpty {
                out = Array((style.paint(ft.displayPath, NodeRender.Style.pathColor, on: work.options.color) + "\n").utf8) + out + [0x0A]
            }
        }
        return out
    }

    /// This thread's compiled matcher for a language (its scratch is per thread).
    func matcher(_ language: Int) throws -> QueryMatcher {
        if let m = matchers[language] { return m }
        let m = try QueryMatcher(work.queries[language]!)
        matchers[language] = m
        return m
    }

    func select(_ ft: FileTree, language: Int, outcome: inout FileOutcome) throws -> [Hit] {
        guard let selector = work.selector else { return [] }
        switch selector {
        case .id(let n):
            guard n < ft.count else { throw CSTPackError("node #\(n) does not exist (the file has \(ft.count) nodes, #0 to #\(ft.count - 1))") }
            return [Hit(node: n)]
        case .point(let line, let column):
            guard let byte = ft.byteOffset(line: line, column: column) else {
                throw CSTPackError(FileTree.pointOutside(line: line, column: column, lineStarts: ft.lineStarts, sourceLength: ft.sourceLength))
            }
            return [Hit(node: ft.deepestNode(at: byte, anonymous: work.options.anonymous))]
        case .span(let l1, let c1, let l2, let c2):
            guard let a = ft.byteOffset(line: l1, column: c1) else {
                throw CSTPackError(FileTree.pointOutside(line: l1, column: c1, lineStarts: ft.lineStarts, sourceLength: ft.sourceLength))
            }
            guard let b = ft.byteOffset(line: l2, column: c2) else {
                throw CSTPackError(FileTree.pointOutside(line: l2, column: c2, lineStarts: ft.lineStarts, sourceLength: ft.sourceLength))
            }
            return [Hit(node: ft.deepestNode(spanning: a..<max(a, b), anonymous: work.options.anonymous))]
        case .byte(let b):
            guard b <= ft.sourceLength else { throw CSTPackError("byte @\(b) is past the end of the file (\(ft.sourceLength) bytes)") }
            return [Hit(node: ft.deepestNode(at: UInt32(b), anonymous: work.options.anonymous))]
        case .kind:
            let table = work.isKind[language] ?? []
            return (0..<ft.count).filter { work.selects(ft.tree.kinds[$0], in: table) }.map { Hit(node: $0) }
        case .query:
            let matcher = try self.matcher(language)
            let before = matcher.budgetExceeded
            let ms = try matcher.matchList(in: ft)
            outcome.budgetExceeded = matcher.budgetExceeded - before
            var hits: [Hit] = []
            for index in 0..<ms.count {
                let caps = ms.captures(of: index)
                let pattern = Int(ms.entries[index].pattern)
                if caps.isEmpty {
                    hits.append(Hit(node: ms.root(of: index), match: index, pattern: pattern, capture: nil))
                }
                for c in caps {
                    hits.append(Hit(node: c.node, match: index, pattern: pattern, capture: matcher.query.captureNames[c.id]))
                }
            }
            return hits
        }
    }
}

struct Hit {
    var node: Int
    var match: Int? = nil
    /// The query pattern that matched (its index in the query).
    var pattern: Int? = nil
    var capture: String? = nil
    /// A structural match's metavariables.
    var vars: MatchVariables? = nil
    /// The rule (of a rule file) that matched: id, message, severity.
    var rule: (id: String, message: String?, severity: String?)? = nil
}

/// Renders nodes as lines, text, S-expressions or JSON.
enum NodeRender {
    /// `--text`: the node's bytes exactly as stored (whatever their encoding), then a newline.
    /// How line output looks: colours, and whether each line names its file.
    struct Style {
        var color = false
        var path = true
        static let pathColor = "35", lineColor = "32", kindColor = "1;36", captureColor = "33"
        func paint(_ s: String, _ code: String, on: Bool? = nil) -> String {
            (on ?? color) ? "\u{1B}[\(code)m\(s)\u{1B}[0m" : s
        }
    }

    static func render(_ ft: FileTree, hit: Hit, mode: QueryOptions.Mode, anonymous: Bool, style: Style = Style()) throws -> [UInt8] {
        let n = hit.node
        switch mode {
        case .text:
            guard let t = ft.text(n) else { throw CSTPackError("the archive does not store this file's text (built with --no-source)") }
            return Array(t) + [0x0A]
        default:
            return Array(renderText(ft, hit: hit, mode: mode, anonymous: anonymous, style: style).utf8)
        }
    }

    static func renderText(_ ft: FileTree, hit: Hit, mode: QueryOptions.Mode, anonymous: Bool, style: Style) -> String {
        let n = hit.node
        switch mode {
        case .text:
            return "" // `render` writes text as bytes
        case .json:
            return json(ft, hit) + "\n"
        case .tree(let depth):
            return "; \(ft.displayPath)\n" + tree(ft, root: n, depth: depth, anonymous: anonymous, capture: hit.capture)
        case .vimgrep:
            // ripgrep's --vimgrep: path:line:column:text, the node's first line.
            let p = ft.point(ft.tree.starts[n])
            let line = firstLine(of: ft, node: n)
            let prefix = style.path ? style.paint(ft.displayPath, Style.pathColor) + ":" : ""
            return prefix + style.paint("\(p?.line ?? 0):\(p?.column ?? 0)", Style.lineColor) + ":" + line + "\n"
        case .lines, .count:
            var s = (style.path ? style.paint(ft.displayPath, Style.pathColor) + ":" : "") + style.paint(range(ft, n), Style.lineColor)
            s += "  " + style.paint(ft.kindName(n), Style.kindColor) + "  #\(n + ft.firstID)"
            if let c = hit.capture { s += "  " + style.paint("@\(c)", Style.captureColor) }
            if let r = hit.rule { s += "  " + style.paint("[\(r.id)]", Style.captureColor) }
            if let t = ft.text(n) { s += "  " + shortText(t) }
            return s + "\n"
        }
    }

    /// The whole source line a node starts on (tabs kept, line end dropped).
    static func firstLine(of ft: FileTree, node n: Int) -> String {
        guard let source = ft.source, let starts = ft.lineStarts, let p = ft.point(ft.tree.starts[n]) else { return "" }
        let from = Int(starts[p.line - 1])
        let to = p.line < starts.count ? Int(starts[p.line]) : source.count
        var line = source[from..<to]
        while let last = line.last, last == 0x0A || last == 0x0D { line = line.dropLast() }
        return String(decoding: line, as: UTF8.self)
    }

    /// grep-style context: each hit's first line (`path:N:`) with `before`/`after` source
    /// lines around it (`path-N-`); overlapping groups merge, others are separated by `--`.
    static func context(_ ft: FileTree, hits: [Hit], options: QueryOptions) -> String {
        guard let source = ft.source, let starts = ft.lineStarts else {
            return hits.map { renderText(ft, hit: $0, mode: .lines, anonymous: options.anonymous, style: Style(color: options.color)) }.joined()
        }
        let style = Style(color: options.color)
        let matched = Set(hits.compactMap { ft.point(ft.tree.starts[$0.node])?.line })
        var ranges: [ClosedRange<Int>] = []
        for l in matched.sorted() {
            let r = max(1, l - options.before)...min(starts.count, l + options.after)
            if let last = ranges.last, r.lowerBound <= last.upperBound + 1 {
                ranges[ranges.count - 1] = last.lowerBound...max(last.upperBound, r.upperBound)
            } else {
                ranges.append(r)
            }
        }
        var out = ""
        for (k, r) in ranges.enumerated() {
            if k > 0 { out += "--\n" }
            for l in r {
                let from = Int(starts[l - 1]), to = l < starts.count ? Int(starts[l]) : source.count
                var line = source[from..<to]
                while let last = line.last, last == 0x0A || last == 0x0D { line = line.dropLast() }
                let sep = matched.contains(l) ? ":" : "-"
                out += style.paint(ft.displayPath, Style.pathColor) + sep + style.paint("\(l)", Style.lineColor) + sep
                    + String(decoding: line, as: UTF8.self) + "\n"
            }
        }
        return out
    }

    static func range(_ ft: FileTree, _ n: Int) -> String {
        guard let a = ft.point(ft.tree.starts[n]), let b = ft.point(ft.tree.ends[n]) else {
            return "@\(ft.tree.starts[n])-@\(ft.tree.ends[n])"
        }
        return "\(a.line):\(a.column)-\(b.line):\(b.column)"
    }

    /// The first line of a text, at most 80 characters.
    static func shortText(_ bytes: ArraySlice<UInt8>) -> String {
        var line = bytes.prefix { $0 != 0x0A && $0 != 0x0D }
        let more = line.count < bytes.count
        var s = String(decoding: line, as: UTF8.self).replacingTabs
        if s.count > 80 { s = String(s.prefix(79)) + "…"; line = [] } else if more { s += " …" }
        return s
    }

    static func json(_ ft: FileTree, _ hit: Hit) -> String {
        let n = hit.node
        let f = ft.tree.flags[n]
        func point(_ b: UInt32) -> JSONValue {
            guard let p = ft.point(b) else { return .null }
            return .object([("line", .int(p.line)), ("column", .int(p.column))])
        }
        var pairs: [(String, JSONValue)] = [
            ("path", .string(ft.displayPath)), ("id", .int(n + ft.firstID)), ("kind", .string(ft.kindName(n))),
            ("field", ft.fieldName(n).map { .string($0) } ?? .null),
            ("named", .bool(f.contains(.named))), ("extra", .bool(f.contains(.extra))),
            ("missing", .bool(f.contains(.missing))), ("error", .bool(ft.isError(n))),
            ("has_error", .bool(f.contains(.hasError))),
            ("start_byte", .int(Int(ft.tree.starts[n]))), ("end_byte", .int(Int(ft.tree.ends[n]))),
            ("start", point(ft.tree.starts[n])), ("end", point(ft.tree.ends[n])),
            ("text", ft.text(n).map { .string(String(decoding: $0, as: UTF8.self)) } ?? .null),
        ]
        if let m = hit.match { pairs.append(("match", .int(m))) }
        if let p = hit.pattern { pairs.append(("pattern", .int(p))) }
        if let c = hit.capture { pairs.append(("capture", .string(c))) }
        if let r = hit.rule {
            pairs.append(("rule", .string(r.id)))
            if let m = r.message { pairs.append(("message", .string(m))) }
            if let s = r.severity { pairs.append(("severity", .string(s))) }
        }
        if let vars = hit.vars {
            func node(_ k: Int) -> JSONValue {
                .object([("text", ft.text(k).map { .string(String(decoding: $0, as: UTF8.self)) } ?? .null),
                         ("start_byte", .int(Int(ft.tree.starts[k]))), ("end_byte", .int(Int(ft.tree.ends[k]))),
                         ("start", point(ft.tree.starts[k])), ("end", point(ft.tree.ends[k]))])
            }
            pairs.append(("vars", .object(vars.entries.map { e in
                (e.name, e.multiple ? .array(e.nodes.map(node)) : node(e.nodes[0]))
            })))
        }
        return JSONValue.object(pairs).serialized
    }

    /// The subtree as an indented S-expression with fields, ids and ranges (explicit stack).
    static func tree(_ ft: FileTree, root: Int, depth: Int?, anonymous: Bool, capture: String?) -> String {
        let ends = ft.tree.subtreeEnds()
        var out = capture.map { "; @\($0)\n" } ?? ""
        var open: [(end: Int, level: Int)] = []
        var i = root
        let stop = Int(ends[root])
        var baseLevel = 0
        func closeUntil(_ j: Int) {
            while let top = open.last, top.end <= j { out += ")"; open.removeLast(); _ = baseLevel }
        }
        while i < stop {
            closeUntil(i)
            let level = open.count
            let shown = anonymous || ft.isNamed(i) || i == root
            if !shown || (depth.map { level > $0 } ?? false) {
                i = shown ? Int(ends[i]) : i + 1
                continue
            }
            if i != root { out += "\n" + String(repeating: "  ", count: level) }
            if let f = ft.fieldName(i), i != root { out += f + ": " }
            let kind = ft.isNamed(i) ? ft.kindName(i) : "\"\(ft.kindName(i))\""
            out += "(\(kind) #\(i + ft.firstID) \(range(ft, i))"
            let hasShownChild = Int(ends[i]) > i + 1
            if !hasShownChild || (depth.map { level >= $0 } ?? false), ft.isNamed(i), let t = ft.text(i), t.count <= 60,
               !t.contains(0x0A) {
                out += " " + JSONValue.quote(String(decoding: t, as: UTF8.self))
            }
            open.append((Int(ends[i]), level))
            if depth.map({ level >= $0 }) ?? false {
                i = Int(ends[i])
            } else {
                i += 1
            }
            baseLevel = level
        }
        closeUntil(Int.max)
        return out + "\n"
    }
}

extension String {
    var trimmingSpaces: String {
        String(self.drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
    }
    var replacingTabs: String { String(map { $0 == "\t" ? " " : $0 }) }
}
