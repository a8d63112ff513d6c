/// What `query --pattern` (and `--rule`) looks for, compiled for the archive's languages
/// before any file is read.
package struct StructuralSearch: Sendable {
    /// One compiled matcher per archive language index.
    let rules: [Int: [SearchRule]]

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
        let language = Int(try work.archive.file(i).language)
        guard let rules = search.rules[language] else { return nil }
        buffers = try reader.decode(file: i, reusing: buffers)
        let n = buffers.count
        // Only nodes of the pattern's root kind can match: most files have few or none.
        var any = false
        let kinds = UnsafeBufferPointer(start: buffers.kinds, count: n)
        for j in 0..<n where rules.contains(where: { $0.rule.isCandidate(kinds[j]) }) {
            any = true
            break
        }
        guard any else { return nil }
        let source = try reader.source(ofFile: i)
        if source == nil && rules.contains(where: { $0.rule.needsText }) {
            throw CSTPackError("the archive does not store this file's text (built with --no-source): patterns compare it")
        }
        var hits: [(node: Int, rule: Int, vars: MatchVariables?)] = []
        let wantVars = work.options.variables
        let errorKind = work.archive.languages[language].errorKind
        (source ?? []).withUnsafeBufferPointer { text in
            let tree = TreeView(buffers, source: source == nil ? nil : text, errorKind: errorKind)
            CSTTree.childLists(parents: tree.parents, offsets: &childOffsets, children: &childList)
            childOffsets.withUnsafeBufferPointer { offsets in childList.withUnsafeBufferPointer { kids in
                let view = SyntaxView(tree: tree, offsets: offsets, kids: kids)
                // A bare pattern (`--pattern`) is matched directly, without a rule's named bindings.
                if rules.count == 1, case .pattern(let p) = rules[0].rule.rule, rules[0].rule.constraints.isEmpty {
                    let matcher = PatternMatcher(pattern: p, view: view)
                    for j in 0..<n where rules[0].rule.isCandidate(kinds[j]) {
                        if let b = matcher.match(j) { hits.append((j, 0, wantVars ? MatchVariables(b, names: p.names) : nil)) }
                    }
                    return
                }
                let evaluator = RuleEvaluator(view: view)
                for j in 0..<n {
                    for (r, rule) in rules.enumerated() where rule.rule.isCandidate(kinds[j]) {
                        if let env = evaluator.match(rule.rule, j) { hits.append((j, r, wantVars ? env.variables : nil)) }
                    }
                }
            } }
        }
        let found = hits.map { h in
            let rule = rules[h.rule]
            return QueryHit(node: h.node, variables: h.vars, rule: rule.id.map { RuleReport(id: $0, message: rule.message, severity: rule.severity) })
        }
        guard !found.isEmpty, !work.options.countOnly else { return FileMatches(path: path, tree: nil, hits: found, count: found.count) }
        let ft = FileTree(path: try work.archive.path(ofFile: i), table: work.archive.languages[language], tree: buffers.tree(),
                          source: source, lineStarts: try reader.lineStarts(ofFile: i, source: source))
        return FileMatches(path: path, tree: ft, hits: found, count: found.count)
    }
}
