import ArgumentParser
import CommandSupport
import CSTPack
import Glibc

struct QueryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "query",
        abstract: "Find nodes in an archive without re-parsing.",
        discussion: """
        FILE is a stored path (inside the built tree: relative to the current directory), a \
        directory, or a glob ('src/**/*.py'; '*' stays in a folder, '**' crosses folders), or \
        omitted with --all. NODE is one of:
          42           node id: preorder index in the file, 0 = the root
          120:17       line:column, both 1-based (the column counts bytes, as
                       compilers print them): the deepest named node there
                       (--any: any node)
          @5123        byte offset, same rule
          identifier   every node of that kind
          '(call function: (identifier) @f)'
                       a tree-sitter query: node patterns, field:, !field,
                       "tokens", (_) and _, (MISSING) (MISSING kind)
                       (MISSING "token"), @captures, ? * +, [ ], groups,
                       anchors ., #eq? #not-eq? #match? #not-match? #any-of?
                       #not-any-of? and #any-eq? ... (regular expressions in
                       Rust's regex syntax); #set!, #is-not? and other
                       predicates are accepted and not applied, as
                       tree-sitter's query cursor; -f FILE.scm reads it
        With --pattern (-p), an ast-grep pattern replaces NODE: code with metavariables \
        ($VAR one named node, $$VAR any node, $$$ and $$$ARGS zero or more nodes, $_ not \
        captured; one name twice means the same text), matched as ast-grep 0.51 does, with \
        --strictness; --json adds each match's metavariables (vars). --rule FILE.yml runs \
        ast-grep rule files instead. --lang names the language when the files have several.
        Output: one line per node or capture: path:line:col-line:col, kind, #id, \
        @capture, text. Files changed since the archive was built are read fresh \
        (--as-built: the archive alone). Exit status: 0 when something matched, 1 when \
        nothing did, 2 on error.
        """
    )

    @Argument(help: "FILE NODE, or just NODE with --all (with --query-file, --pattern or --rule: FILE, or nothing with --all).")
    var arguments: [String] = []

    @Option(name: [.customShort("f"), .customLong("query-file")], help: ArgumentHelp("Read the tree-sitter query (NODE) from this file.", valueName: "FILE.scm"))
    var queryFile: String?

    @Option(name: [.customShort("p"), .long], help: ArgumentHelp("An ast-grep pattern to match instead of NODE.", valueName: "PATTERN"))
    var pattern: String?

    @Option(help: ArgumentHelp("An ast-grep rule file (YAML: id, language, rule, message, severity, constraints; '---' between rules) to run instead of NODE.", valueName: "FILE.yml"))
    var rule: String?

    @Option(help: ArgumentHelp("The pattern's language (ast-grep's names: python, rust, go, c, javascript, typescript, tsx, ...); with --all, only its files.", valueName: "LANG"))
    var lang: String?

    @Option(help: ArgumentHelp("How closely --pattern matches: cst, smart, ast, relaxed or signature.", valueName: "LEVEL"))
    var strictness: String = "smart"

    @Flag(help: "Search every file of the archive.")
    var all = false

    @Option(help: ArgumentHelp("Leave out files matching this glob (repeatable; ':!GLOB' as FILE does the same).", valueName: "GLOB"))
    var exclude: [String] = []

    @OptionGroup var archiveOption: LiveArchiveOption

    @Flag(help: "For line:column and @byte, return anonymous nodes too; with --tree, show them.")
    var any = false

    @Flag(help: "Print each node's subtree as an S-expression with fields, ids and ranges.")
    var tree = false

    @Option(help: ArgumentHelp("With --tree, how many levels below each node to print.", valueName: "N"), transform: saturatingInt)
    var depth: Int?

    @Flag(help: "Print the exact source text of each node.")
    var text = false

    @Flag(help: "Print JSON Lines: path, id, kind, field, named, extra, missing, error, start_byte, end_byte, start, end, text, match, pattern, capture.")
    var json = false

    @Flag(help: "Print only the number of nodes (or captures) found.")
    var count = false

    @Flag(help: "With --count, one line per file: path, tab, count.")
    var byFile = false

    @Flag(help: "Print path:line:column:text, one line per match (ripgrep's --vimgrep, for vim's quickfix).")
    var vimgrep = false

    @Flag(help: "Print each file's path once above its matches.")
    var heading = false

    @Option(name: .customShort("A"), help: ArgumentHelp("Show N lines after each match's first line (grep's -A).", valueName: "N"), transform: saturatingInt)
    var afterContext: Int?

    @Option(name: .customShort("B"), help: ArgumentHelp("Show N lines before each match's first line (grep's -B).", valueName: "N"), transform: saturatingInt)
    var beforeContext: Int?

    @Option(name: .customShort("C"), help: ArgumentHelp("Show N lines before and after each match's first line (grep's -C).", valueName: "N"), transform: saturatingInt)
    var context: Int?

    @Option(help: ArgumentHelp("Colour paths, line numbers and kinds: auto (on a terminal, unless NO_COLOR is set), always or never.", valueName: "WHEN"))
    var color: String = "auto"

    @Option(name: .short, help: ArgumentHelp("Parallel workers for many files (default: all cores).", valueName: "N"), transform: saturatingInt)
    var jobs: Int?

    var structural: Bool { pattern != nil || rule != nil }

    func validate() throws {
        if pattern != nil && rule != nil { throw ValidationError("choose one of --pattern and --rule") }
        if structural && queryFile != nil { throw ValidationError("--query-file goes with tree-sitter queries, not --pattern or --rule") }
        if !structural && (lang != nil || strictness != "smart") { throw ValidationError("--lang and --strictness go with --pattern or --rule") }
        if structural && arguments.count != (all ? 0 : 1) { throw ValidationError(all ? "with --all and --pattern or --rule, give no FILE" : "give FILE (or --all) with --pattern or --rule") }
        if structural && any { throw ValidationError("--any goes with node locators, not --pattern or --rule") }
        if structural { return try validateOutput() }
        if queryFile != nil {
            if all && !arguments.isEmpty { throw ValidationError("with --all and --query-file, give no other argument") }
            if !all && arguments.count != 1 { throw ValidationError("with --query-file, give FILE (or --all)") }
        } else if all && arguments.count != 1 { throw ValidationError("with --all, give only NODE") }
        if queryFile == nil && !all && arguments.count != 2 && !(arguments.count == 1 && NodeSelector.splitLocation(arguments[0]) != nil) {
            throw ValidationError("give FILE and NODE, FILE:LINE:COL, or --all NODE")
        }
        try validateOutput()
    }

    func validateOutput() throws {
        if [tree, text, json, count, vimgrep].filter({ $0 }).count > 1 { throw ValidationError("choose one of --tree, --text, --json, --count, --vimgrep") }
        if !["auto", "always", "never"].contains(color) { throw ValidationError("--color must be auto, always or never (got '\(color)')") }
        if (afterContext ?? beforeContext ?? context) != nil && (tree || text || json || count || vimgrep) {
            throw ValidationError("-A, -B and -C go with line output")
        }
        if byFile && !count { throw ValidationError("--by-file goes with --count") }
        if depth != nil && !tree { throw ValidationError("--depth goes with --tree") }
    }

    func run() throws {
        var found = 0
        do {
            // Numbers first: out of range is an error (exit 2) before any work.
            try checkRange(depth, 0...Int(Int32.max), "--depth")
            try checkRange(jobs, 1...256, "-j")
            for (n, name) in [(afterContext, "-A"), (beforeContext, "-B"), (context, "-C")] { try checkRange(n, 0...10_000, name) }
            let opening: LiveOpening
            if structural {
                // Pattern text is parsed in the parse helper (a grammar's scanner may crash on
                // it), started now so that its start overlaps opening the archive.
                let parser = UntrustedTextParser(helper: ownExecutable())
                parser.prepare()
                opening = try archiveOption.openLive(file: all ? nil : arguments.first)
                try opening.answer { archive, gate in found = try runStructural(archive, parser: parser, gate: gate) }
            } else {
                let selector = try queryFile.map(NodeSelector.queryFile) ?? NodeSelector(fileAndNode.node)
                opening = try archiveOption.openLive(file: all ? nil : fileAndNode.file)
                try opening.answer { archive, gate in found = try runQuery(archive, selector, gate: gate) }
            }
        } catch {
            fail(error)
        }
        if found == 0 { throw ExitCode(1) }
    }

    /// FILE, and NODE (FILE:LINE:COL as one argument, as compilers print it).
    var fileAndNode: (file: String, node: String) {
        queryFile != nil ? (arguments.first ?? "", "")
            : !all && arguments.count == 1 ? NodeSelector.splitLocation(arguments[0])! : (arguments.first!, arguments.last!)
    }

    /// A tree-sitter query, kind or locator over `archive`; the number of hits.
    func runQuery(_ archive: Archive, _ selector: NodeSelector, gate: AnswerGate) throws -> Int {
        let fileArgument = fileAndNode.file
        let files = try Locate.select(archive, all ? [] : archiveOption.storedPatterns([fileArgument], archive), excludes: exclude)
        if files.isEmpty { throw CSTPackError("no stored file matches '\(fileArgument)'") }
        try checkTextStored(archive)
        let printer = self.printer
        let result = try QueryRunner.run(archive, files: files, selector: selector, options: options(gate.abandoned), beforeOutput: gate.pass, outputReady: gate.isOpen,
                                         each: { try printer.print($0) }, outputSize: { $0.count }, sink: writeStdout)
        return report(result, files: files.count)
    }

    /// What the search collects for the chosen output; `abandoned`: when to give it up.
    func options(_ abandoned: (@Sendable () -> Bool)?) -> QueryOptions {
        var options = QueryOptions()
        options.abandoned = abandoned
        options.anonymous = any
        options.jobs = jobs ?? defaultJobs()
        options.countOnly = count
        // Only JSON prints metavariables.
        options.variables = json
        return options
    }

    /// The printer of the chosen output.
    var printer: any MatchPrinter {
        let colored = colorWanted(color)
        let before = beforeContext ?? context ?? 0, after = afterContext ?? context ?? 0
        if count { return CountPrinter(byFile: byFile) }
        if before > 0 || after > 0 { return ContextPrinter(before: before, after: after, color: colored) }
        let style = PrintStyle(color: colored, path: !heading)
        let printer: any MatchPrinter
        if tree { printer = TreePrinter(depth: depth, anonymous: any) }
        else if text { printer = TextPrinter() }
        else if json { printer = JSONPrinter() }
        else if vimgrep { printer = VimgrepPrinter(style: style) }
        else { printer = LinePrinter(style: style) }
        return heading ? HeadingPrinter(inner: printer, style: style) : printer
    }

    /// `--text` needs the archive's source text.
    func checkTextStored(_ archive: Archive) throws {
        if text, !archive.flags.contains(.sources) {
            throw CSTPackError("\(archive.path) does not store source text (built with --no-source): --text has nothing to print")
        }
    }

    /// Warnings, and a failure when files could not be read; the number of hits. With
    /// `--count` alone, the total comes first.
    func report(_ result: QueryResult, files: Int) -> Int {
        if count && !byFile { writeStdout(Array("\(result.hits)\n".utf8)) }
        for w in result.warnings { writeStderr("cstpack: warning: \(w)\n") }
        if result.failedFiles > 0 {
            fail(CSTPackError("\(result.failedFiles) of \(files) files could not be read (see the warnings above); the others' results are printed"))
        }
        return result.hits
    }

    /// `--pattern` and `--rule`: compiled once (every error before any file is read); the
    /// number of hits.
    func runStructural(_ archive: Archive, parser: UntrustedTextParser, gate: AnswerGate) throws -> Int {
        guard let level = PatternStrictness(rawValue: strictness) else {
            throw CSTPackError("--strictness must be cst, smart, ast, relaxed or signature (got '\(strictness)')")
        }
        var files = try Locate.select(archive, all ? [] : archiveOption.storedPatterns(arguments, archive), excludes: exclude)
        if files.isEmpty { throw CSTPackError("no stored file matches '\(arguments.first ?? "")'") }
        let search: StructuralSearch
        if let pattern {
            search = try StructuralSearch.pattern(pattern, language: lang, strictness: level, archive: archive, files: files, parser: parser)
        } else {
            search = try StructuralSearch.rules(file: rule!, language: lang, archive: archive, files: files, parser: parser)
        }
        try checkTextStored(archive)
        files = try search.files(files, in: archive)
        let printer = self.printer
        let result = try QueryRunner.run(archive, files: files, search: search, options: options(gate.abandoned), beforeOutput: gate.pass, outputReady: gate.isOpen,
                                         each: { try printer.print($0) }, outputSize: { $0.count }, sink: writeStdout)
        return report(result, files: files.count)
    }
}
