import ArgumentParser
import CommandSupport
import CSTPack
import Glibc

struct Diff: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diff",
        abstract: "Structural differences between two archives, or an archive and a source tree.",
        usage: """
        cstpack diff OLD.cstpack NEW.cstpack [PATH...]
        cstpack diff OLD.cstpack DIR [PATH...]
        cstpack diff -a OLD.cstpack NEW [PATH...]
        """,
        discussion: """
        Files are compared by content hash, so unchanged files are never decoded: \
        added (A), deleted (D), modified (M), renamed (R<score>: the same content, or \
        at least --rename-threshold percent of lines alike).

        For each modified file whose language both sides know, the syntax trees are \
        matched GumTree-style (identical subtrees top-down, then declarations of the same \
        name in the same scope, then containers by how many of their descendants match, \
        bottom-up) and the inserted (+), deleted (-), updated (~, changed words marked) \
        and moved (>) subtrees are listed with line:column ranges, grouped under their \
        enclosing named declaration. A declaration is shown renamed only when its old \
        name is gone from its scope and its new name was not there. A file over its \
        budget (--max-nodes, --max-time), or minified or generated (a line over 10,000 \
        bytes, or lines over 500 bytes on average; see --force-structural), gets a \
        coarse diff instead, labelled as such.

        A directory NEW is walked as `build` walks it; only the files that differ are \
        parsed. PATH limits the diff to files, directories or globs (`*` stays in a \
        folder, `**` crosses folders, `:!GLOB` leaves out), as in `query` and `ls`; \
        --exclude leaves out stored paths on both sides too (as `query --exclude`).

        Exit status: 0; 1 with --exit-code or --quiet when there are differences; 2 on \
        errors.
        """
    )

    @OptionGroup var archiveOption: ArchiveOption

    @Argument(help: ArgumentHelp("OLD archive (unless -a names it), NEW archive or directory, then paths to limit the diff to.",
                                 valueName: "OLD NEW PATH"))
    var operands: [String] = []

    @Flag(help: "Per-file counts of inserted, deleted, updated and moved nodes, and a total.")
    var stat = false

    @Flag(help: "Only status letters and paths, tab-separated, as git prints them (A, D, M, R<score>).")
    var nameStatus = false

    @Flag(help: "One JSON object per file (JSON Lines): status, paths, languages, node counts, groups and changes.")
    var json = false

    @Flag(help: "Structural diff even of minified or generated files (a line over 10,000 bytes, or lines over 500 bytes on average), which get a coarse diff by default.")
    var forceStructural = false

    @Flag(help: "Replay every node-level edit script on the old tree and check that it yields the new tree; a file that does not is an error (exit 2). For testing.")
    var checkReplay = false

    @Flag(help: "Exit with status 1 when there are differences, 0 when there are none.")
    var exitCode = false

    @Flag(name: .shortAndLong, help: "Print nothing; only the exit status (implies --exit-code).")
    var quiet = false

    @Option(help: ArgumentHelp("Colour: auto (on a terminal, unless NO_COLOR is set), always or never.", valueName: "WHEN"))
    var color: String = "auto"

    @Option(help: ArgumentHelp("Per-file budget: files with more nodes (both sides) get a coarse diff.", valueName: "N"), transform: saturatingInt)
    var maxNodes: Int = 1_000_000

    @Option(help: ArgumentHelp("Per-file budget in milliseconds of matching; beyond it, a coarse diff.", valueName: "MS"), transform: saturatingInt)
    var maxTime: Int = 2000

    @Option(help: ArgumentHelp("Minimum similarity in percent for a pair of differing files to be a rename (101: identical only).", valueName: "N"), transform: saturatingInt)
    var renameThreshold: Int = 50

    @Option(name: .short, help: ArgumentHelp("Parallel workers (default: all cores).", valueName: "N"), transform: saturatingInt)
    var jobs: Int?

    @OptionGroup(title: "NEW directory options") var walk: WalkOptions

    @OptionGroup var grammarOptions: GrammarOptions

    func validate() throws {
        let needed = archiveOption.archive == nil ? 2 : 1
        guard operands.count >= needed else {
            throw ValidationError(archiveOption.archive == nil ? "expected OLD and NEW (archives, or an archive and a directory)" : "expected NEW (an archive or a directory)")
        }
        guard [stat, nameStatus, json].filter({ $0 }).count <= 1 else { throw ValidationError("--stat, --name-status and --json exclude each other") }
        guard ["auto", "always", "never"].contains(color) else { throw ValidationError("--color must be auto, always or never") }
    }

    /// Every number in its range, as a `cstpack: error:` (exit 2) from run().
    func checkNumbers() throws {
        // Two files of at most Int32.max nodes each.
        try checkRange(maxNodes, 1...(2 * Int(Int32.max)), "--max-nodes")
        try checkRange(maxTime, 1...maxMilliseconds, "--max-time", unit: " ms")
        try checkRange(renameThreshold, 0...101, "--rename-threshold")
        try checkRange(jobs, 1...256, "-j")
        try walk.checkNumbers()
    }

    func run() throws {
        var different = false
        do {
            try checkNumbers()
            let oldPath = archiveOption.archive ?? operands[0]
            let newPath = operands[archiveOption.archive == nil ? 1 : 0]
            let paths = Array(operands.dropFirst(archiveOption.archive == nil ? 2 : 1))
            var options = DiffOptions()
            options.paths = paths
            options.jobs = jobs ?? defaultJobs()
            options.nodeLevel = !quiet && !nameStatus
            options.tree.maxNodes = maxNodes
            options.tree.maxSeconds = Double(maxTime) / 1000
            options.tree.structuralLongLines = forceStructural
            options.tree.checkReplay = checkReplay
            options.renameThreshold = renameThreshold
            options.noIgnore = walk.noIgnore
            options.excludes = walk.exclude
            options.languageOverrides = try walk.overrides()
            options.maxFileSize = walk.maxFileSize
            options.parseTimeoutMicros = walk.parseTimeoutMicros
            options.parseHelper = ownExecutable()

            let old = try Snapshot(archive: try Archive(path: oldPath))
            let new: Snapshot
            if isDirectory(newPath) {
                let grammars = grammarOptions.registry(extraNames: Array(Set(options.languageOverrides.values)))
                new = try Snapshot(directory: newPath, grammars: grammars, options: options, otherLanguages: old.languageNames)
            } else {
                new = try Snapshot(archive: try Archive(path: newPath))
            }
            let plan = try DiffPlan(old: old, new: new, options: options)
            different = !plan.files.isEmpty
            if !quiet {
                for w in plan.warnings { writeStderr("cstpack: warning: \(w)\n") }
                let useColor = !json && !nameStatus && colorWanted(color)
                let format: DiffPrinter.Format = stat ? .stat : nameStatus ? .nameStatus : json ? .json : .human
                let renderer = DiffPrinter(format: format, color: useColor)
                var replayed = 0
                var failures: [String] = []
                func tally(_ f: FileDiff) {
                    guard let r = f.treeDiff?.replay else { return }
                    replayed += 1
                    if let why = r { failures.append("\(f.new?.displayPath ?? ""): \(why)") }
                }
                if stat {
                    let files = plan.collect()
                    files.forEach(tally)
                    writeStdout(Array(renderer.stat(files).utf8))
                } else {
                    plan.run { _, f in
                        tally(f)
                        writeStdout(renderer.render(f))
                    }
                }
                if checkReplay {
                    for f in failures { writeStderr("cstpack: replay failed: \(f)\n") }
                    if !failures.isEmpty {
                        throw CSTPackError("\(failures.count) of \(replayed) edit scripts do not replay to the new tree")
                    }
                    writeStderr("cstpack: replay: all \(replayed) edit scripts yield the new tree\n")
                }
            }
        } catch {
            fail(error)
        }
        if different && (exitCode || quiet) { throw ExitCode(1) }
    }
}

private func isDirectory(_ path: String) -> Bool {
    var st = stat()
    return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
}
