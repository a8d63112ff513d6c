import ArgumentParser
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
                       "tokens", (_) and _, @captures, ? * +, [ ], groups,
                       anchors ., #eq? #not-eq? #match? #not-match? #any-of?
                       (directives such as #set! are accepted and ignored)
        Output: one line per node or capture: path:line:col-line:col, kind, #id, \
        @capture, text. Files changed since the archive was built are read fresh \
        (--as-built: the archive alone). Exit status: 0 when something matched, 1 when \
        nothing did, 2 on error.
        """
    )

    @Argument(help: "FILE NODE, or just NODE with --all.")
    var arguments: [String] = []

    @Flag(help: "Search every file of the archive.")
    var all = false

    @OptionGroup var archiveOption: LiveArchiveOption

    @Flag(help: "For line:column and @byte, return anonymous nodes too; with --tree, show them.")
    var any = false

    @Flag(help: "Print each node's subtree as an S-expression with fields, ids and ranges.")
    var tree = false

    @Option(help: ArgumentHelp("With --tree, how many levels below each node to print.", valueName: "N"), transform: saturatingInt)
    var depth: Int?

    @Flag(help: "Print the exact source text of each node.")
    var text = false

    @Flag(help: "Print JSON Lines: path, id, kind, field, named, extra, missing, error, start_byte, end_byte, start, end, text, match, capture.")
    var json = false

    @Flag(help: "Print only the number of nodes (or captures) found.")
    var count = false

    @Flag(help: "With --count, one line per file: path, tab, count.")
    var byFile = false

    @Option(name: .short, help: ArgumentHelp("Parallel workers for many files (default: all cores).", valueName: "N"), transform: saturatingInt)
    var jobs: Int?

    func validate() throws {
        if all && arguments.count != 1 { throw ValidationError("with --all, give only NODE") }
        if !all && arguments.count != 2 { throw ValidationError("give FILE and NODE (or --all NODE)") }
        if [tree, text, json, count].filter({ $0 }).count > 1 { throw ValidationError("choose one of --tree, --text, --json, --count") }
        if byFile && !count { throw ValidationError("--by-file goes with --count") }
        if depth != nil && !tree { throw ValidationError("--depth goes with --tree") }
    }

    func run() throws {
        var found = 0
        do {
            // Numbers first: out of range is an error (exit 2) before any work.
            try checkRange(depth, 0...Int(Int32.max), "--depth")
            try checkRange(jobs, 1...256, "-j")
            let selector = try NodeSelector(arguments.last!)
            let archive = try archiveOption.open()
            let files: [Int] = all ? Array(0..<archive.fileCount) : try Locate.files(archive, matching: archiveOption.storedPatterns([arguments[0]], archive)[0])
            if files.isEmpty { throw CSTPackError("no stored file matches '\(arguments[0])'") }
            var options = QueryOptions()
            options.anonymous = any
            options.jobs = jobs ?? defaultJobs()
            options.mode = tree ? .tree(depth: depth) : text ? .text : json ? .json : count ? .count(byFile: byFile) : .lines
            let result = try QueryRunner.run(archive, files: files, selector: selector, options: options) { chunk in
                writeStdout(chunk)
            }
            for w in result.warnings { writeStderr("cstpack: warning: \(w)\n") }
            found = result.hits
            if result.failedFiles > 0 {
                fail(CSTPackError("\(result.failedFiles) of \(files.count) files could not be read (see the warnings above); the others' results are printed"))
            }
        } catch {
            fail(error)
        }
        if found == 0 { throw ExitCode(1) }
    }
}
