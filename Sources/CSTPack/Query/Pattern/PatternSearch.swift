/// What `query --pattern` (and `--rule`) looks for, compiled for the archive's languages
/// before any file is read.
package struct StructuralSearch: Sendable {
    /// The compiled rules per archive language index.
    let rules: [Int: RuleSet]

    init(rules: [Int: [SearchRule]]) {
        self.rules = rules.mapValues(RuleSet.init)
    }

    /// The files the search reads: those of its languages.
    package func files(_ files: [Int], in archive: Archive) throws -> [Int] {
        try files.filter { rules[Int(try archive.file($0).language)] != nil }
    }

    /// `--pattern`: compiles `pattern` for the language `--lang` names, or the one language
    /// of the selected files. Every error (no such language, the pattern does not parse,
    /// unknown metavariable forms) is thrown here, once. `parser` parses the pattern text.
    package static func pattern(_ pattern: String, language: String?, strictness: PatternStrictness,
                                archive: Archive, files: [Int], parser: UntrustedTextParser) throws -> StructuralSearch {
        let l = try resolveLanguage(language, archive: archive, files: files)
        let grammar = try grammar(for: l, archive: archive)
        let compiled = try PatternCompiler.compile(pattern, grammar: grammar, strictness: strictness, parser: parser)
        return StructuralSearch(rules: [l: [SearchRule(id: nil, message: nil, severity: nil, rule: CompiledRule(.pattern(compiled)))]])
    }

    /// The archive language (index) a search is for.
    static func resolveLanguage(_ language: String?, archive: Archive, files: [Int]) throws -> Int {
        var present = Set<Int>()
        for i in files { present.insert(Int(try archive.file(i).language)) }
        if let language {
            let name = PatternLanguage.grammarName(language)
            guard let l = archive.languages.firstIndex(where: { $0.name == name }) else {
                let known = archive.languages.map(\.name).sorted().joined(separator: ", ")
                throw CSTPackError("no \(name) files in the archive (--lang \(language); it holds: \(known))")
            }
            return l
        }
        if present.count == 1 { return present.first! }
        let names = present.map { archive.languages[$0].name }.sorted()
        throw CSTPackError("the files are in \(names.count) languages (\(names.joined(separator: ", "))): say which with --lang")
    }

    /// The grammar the archive's trees of language `l` were parsed with, to parse patterns.
    static func grammar(for l: Int, archive: Archive) throws -> Grammar {
        let table = archive.languages[l]
        let registry = GrammarRegistry.loadedOnce(table.name)
        guard let g = registry.grammars[table.name] else {
            throw CSTPackError("no \(table.name) grammar found to parse the pattern with (searched \(registry.searchedDirectories.joined(separator: ", ")))")
        }
        guard g.table == table else {
            throw CSTPackError("the \(table.name) grammar in \(g.libraryPath) differs from the one the archive was built with: rebuild the archive")
        }
        return g
    }
}

/// One rule of a search: a matcher and, for rule files, what to report with its matches.
struct SearchRule: Sendable {
    let id: String?
    let message: String?
    let severity: String?
    let rule: CompiledRule
}

/// One language's rules, with the rules a node of each kind may match (looked up per node:
/// asking each rule per node copied the rules, and cost more than decoding the tree).
struct RuleSet: Sendable {
    let rules: [SearchRule]
    /// `list[start[k]..<start[k + 1]]`: the rules a node of kind k may match; kinds past
    /// the table share its last entry, the rules that take any kind.
    let start: [Int32]
    let list: [Int32]
    /// Whether some rule needs text in the file (patterns' named leaves): the file's text is
    /// then read first, and the rules that cannot match in it are left out.
    let hasLiterals: Bool

    init(_ rules: [SearchRule]) {
        self.rules = rules
        let kinds = rules.map { $0.rule.kindTable?.count ?? 0 }.max() ?? 0
        var start: [Int32] = [0], list: [Int32] = []
        for k in 0...kinds {
            for (r, rule) in rules.enumerated() where k < kinds ? rule.rule.isCandidate(UInt16(k)) : rule.rule.kindTable == nil {
                list.append(Int32(r))
            }
            start.append(Int32(list.count))
        }
        self.start = start
        self.list = list
        // A rule that may match in an empty file needs no text: reading it first gains nothing.
        hasLiterals = rules.contains { !$0.rule.rule.mayMatch(in: UnsafeRawBufferPointer(start: nil, count: 0)) }
    }

    /// Calls `body` with the lookup from a node's kind to the rules it may match.
    func withCandidates<R>(_ body: ((UInt16) -> UnsafeBufferPointer<Int32>) throws -> R) rethrows -> R {
        try start.withUnsafeBufferPointer { start in
            try list.withUnsafeBufferPointer { list in
                let last = start.count - 2
                return try body { kind in
                    let k = min(Int(kind), last)
                    return UnsafeBufferPointer(rebasing: list[Int(start[k])..<Int(start[k + 1])])
                }
            }
        }
    }

    /// Per rule, whether it may match in a file with this summary: it may (`Rule.mayMatch`),
    /// and the file has nodes of a kind it can match.
    func active(in summary: FileSummary, text: Bool) -> [Bool] {
        rules.map { r in
            r.rule.rule.mayMatch(summary, text: text) && (r.rule.kindTable == nil || summary.kinds.contains { r.rule.isCandidate($0.kind) })
        }
    }

    /// Per rule, whether it may match in a file with this text.
    func active(in text: UnsafeRawBufferPointer) -> [Bool] {
        rules.map { $0.rule.rule.mayMatch(in: text) }
    }
}

/// A match's metavariables: each name's node, or nodes for `$$$NAME`.
package struct MatchVariables {
    package var entries: [(name: String, nodes: [Int], multiple: Bool)]

    init(entries: [(name: String, nodes: [Int], multiple: Bool)]) { self.entries = entries }

    /// A pattern's bindings, by its names.
    init(_ b: Bindings, names: [String]) {
        entries = []
        for (k, name) in names.enumerated() {
            if b.single[k] >= 0 { entries.append((name, [Int(b.single[k])], false)) }
            if let m = b.multi[k] { entries.append((name, m.map(Int.init), true)) }
        }
    }
}

extension QueryWorker {
    /// One file's matches of a structural search; nil when the file has none to look at.
    func matchStructural(_ i: Int, _ search: StructuralSearch, path: String) throws -> FileMatches? {
        let entry = try work.archive.file(i)
        let language = Int(entry.language)
        guard let set = search.rules[language] else { return nil }
        // Rules that need kinds the file lacks, or leaves its filter lacks, cannot match:
        // such a file's text and tree are not read (for most patterns, most files).
        var active = [Bool](repeating: true, count: set.rules.count)
        if let summary = try work.archive.summary(ofFile: i) {
            active = set.active(in: summary, text: entry.flags.contains(.source))
            guard active.contains(true) else { return nil }
        }
        // Then rules whose patterns' leaves are not in the text.
        if set.hasLiterals, let found = try reader.withSource(ofFile: i, set.active(in:)) {
            active = zip(active, found).map { $0 && $1 }
            guard active.contains(true) else { return nil }
        }
        buffers = try reader.decode(file: i, reusing: buffers)
        let n = buffers.count
        let kinds = UnsafeBufferPointer(start: buffers.kinds, count: n)
        var hits: [(node: Int, rule: Int, vars: MatchVariables?)] = []
        // Only nodes of the rules' kinds can match: many files have none.
        let candidate = set.withCandidates { candidates in
            (0..<n).contains { j in candidates(kinds[j]).contains { active[Int($0)] } }
        }
        guard candidate else { return nil }
        let rules = set.rules
        let wantVars = work.options.variables
        let errorKind = work.archive.languages[language].errorKind
        // Matched on the text in place (inside its cached segment; nothing else is read
        // meanwhile): only a file with output to print gets a copy.
        func matchAll(_ text: UnsafeBufferPointer<UInt8>?) {
            let tree = TreeView(buffers, source: text, errorKind: errorKind)
            CSTTree.childLists(parents: tree.parents, offsets: &childOffsets, children: &childList)
            childOffsets.withUnsafeBufferPointer { offsets in childList.withUnsafeBufferPointer { kids in
                let view = SyntaxView(tree: tree, offsets: offsets, kids: kids)
                // A bare pattern (`--pattern`) is matched directly, without a rule's named bindings.
                if rules.count == 1, case .pattern(let p) = rules[0].rule.rule, rules[0].rule.constraints.isEmpty {
                    let matcher = PatternMatcher(pattern: p, view: view)
                    let rule = rules[0].rule
                    for j in 0..<n where rule.isCandidate(kinds[j]) {
                        if let b = matcher.match(j) { hits.append((j, 0, wantVars ? MatchVariables(b, names: p.names) : nil)) }
                    }
                    return
                }
                let evaluator = RuleEvaluator(view: view)
                set.withCandidates { candidates in
                    for j in 0..<n {
                        for r in candidates(kinds[j]) where active[Int(r)] {
                            if let env = evaluator.match(rules[Int(r)].rule, j) { hits.append((j, Int(r), wantVars ? env.variables : nil)) }
                        }
                    }
                }
            } }
        }
        if try reader.withSource(ofFile: i, { matchAll($0.assumingMemoryBound(to: UInt8.self)) }) == nil {
            if rules.contains(where: { $0.rule.needsText }) {
                throw CSTPackError("the archive does not store this file's text (built with --no-source): patterns compare it")
            }
            matchAll(nil)
        }
        let matched = hits.map { h in
            let rule = rules[h.rule]
            return QueryHit(node: h.node, variables: h.vars, rule: rule.id.map { RuleReport(id: $0, message: rule.message, severity: rule.severity) })
        }
        guard !matched.isEmpty, !work.options.countOnly else { return FileMatches(path: path, tree: nil, hits: matched, count: matched.count) }
        let source = try reader.source(ofFile: i)
        let ft = FileTree(path: try work.archive.path(ofFile: i), table: work.archive.languages[language], tree: buffers.tree(),
                          source: source, lineStarts: try reader.lineStarts(ofFile: i, source: source))
        return FileMatches(path: path, tree: ft, hits: matched, count: matched.count)
    }
}
