import ArgumentParser
import CommandSupport
import CSTPack
import Glibc

@main
struct CSTPackCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cstpack",
        abstract: "Pack a source tree's concrete syntax trees into one compact, verifiable, random-access archive.",
        discussion: """
        Reading commands use -a/--archive PATH, else $CSTPACK_ARCHIVE, else index.cstpack in \
        the current directory or the nearest parent that has one. They answer for the tree as \
        it is now: files changed since the archive was built are read fresh (--as-built: the \
        archive alone). Grammars are found in: --grammars DIR, $CSTPACK_GRAMMARS, \
        ~/.local/share/cstpack/grammars, then beside the executable (see `cstpack languages`). \
        Exit status: 0 found or OK, 1 nothing found (or differences), 2 on any error.
        """,
        version: "cstpack 0.1.0 (archive format \(Format.version))",
        subcommands: [Build.self, Update.self, Verify.self, Cat.self, Extract.self, Stats.self, Languages.self, List.self, QueryCommand.self, Diff.self, ParseHelperCommand.self]
    )

    /// grep's exit statuses: 0 found or OK, 1 nothing found (or differences with
    /// --exit-code), 2 for every error, usage errors included (ArgumentParser's default is 64),
    /// each as one `cstpack: error:` line.
    static func main() {
        let arguments = Array(CommandLine.arguments.dropFirst())
        if arguments.first == "help", arguments.count > 1 {
            let known = configuration.subcommands.map { $0._commandName }
            if !known.contains(arguments[1]) {
                fail(CSTPackError("no command '\(arguments[1])' (commands: \(known.filter { $0 != "parse-helper" }.joined(separator: ", ")))"))
            }
        }
        do {
            var command = try parseAsRoot(arguments)
            try command.run()
        } catch let code as ExitCode {
            Glibc.exit(code.rawValue)
        } catch {
            if exitCode(for: error) == .success { exit(withError: error) } // --help, --version
            let message = self.message(for: error).split(separator: "\n").first.map(String.init) ?? "\(error)"
            let command = arguments.first { !$0.hasPrefix("-") }.flatMap { name in configuration.subcommands.first { $0._commandName == name }?._commandName }
            fail(CSTPackError(message + " (see 'cstpack help\(command.map { " " + $0 } ?? "")')"))
        }
    }
}

struct GrammarOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Directory of grammar libraries to search first.", valueName: "DIR"))
    var grammars: String?

    func registry(extraNames: [String] = []) -> GrammarRegistry {
        GrammarRegistry(directories: GrammarRegistry.searchDirectories(explicit: grammars), extraNames: extraNames)
    }
}

/// The archive of a reading command, answering for the tree as it is now: files changed
/// since the build are read fresh (see LiveView), unless --as-built.
struct LiveArchiveOption: ParsableArguments {
    @OptionGroup var archiveOption: ArchiveOption

    @Flag(help: "Answer from the archive alone, as it was built (by default, files changed since are read fresh).")
    var asBuilt = false

    /// `file`: the one stored path (not a glob) the answer reads, if it reads one: then only
    /// that file's freshness is checked while it is unchanged.
    func open(file: String? = nil) throws -> Archive {
        let opening = try openLive(file: file)
        return try opening.pending.map { try opening.settle($0).archive } ?? opening.base
    }

    /// The archive, with its freshness check (when one is needed) started on a thread of
    /// its own: see `LiveOpening.answer`.
    func openLive(file: String? = nil) throws -> LiveOpening {
        let base = try archiveOption.open()
        if asBuilt { return LiveOpening(base: base, pending: nil) }
        if let f = file.map({ storedPatterns([$0], base)[0] }), !f.contains(where: { "*?[".contains($0) }), !f.hasPrefix(":!"),
           try LiveView.isCurrent(base, paths: [Array(f.utf8)]) {
            return LiveOpening(base: base, pending: nil)
        }
        let overrides = base.treeState?.options.languageOverrides.map(\.1) ?? []
        let pending = LiveView.Pending(base, grammars: { GrammarRegistry(directories: GrammarRegistry.searchDirectories(explicit: nil), extraNames: overrides) },
                                       parseHelper: ownExecutable(), jobs: defaultJobs())
        return LiveOpening(base: base, pending: pending)
    }

    /// FILE arguments as stored paths: inside the built tree they are relative to the
    /// current directory, as git reads them.
    func storedPatterns(_ arguments: [String], _ archive: Archive) -> [String] {
        let cwd = realpath(".", nil).map { p -> String in defer { free(p) }; return String(cString: p) }
        return arguments.map { Locate.storedPattern($0, archive: archive, cwd: cwd) }
    }
}

/// An archive whose freshness is being checked while an answer is worked out from it.
struct LiveOpening {
    let base: Archive
    /// nil when `base` answers as it is (--as-built, or the one file read is unchanged).
    let pending: LiveView.Pending?

    /// The check's result, its notes printed.
    func settle(_ pending: LiveView.Pending) throws -> LiveView.Result {
        let live = try pending.wait()
        for n in live.notes { writeStderr("cstpack: note: \(n)\n") }
        return live
    }

    /// Runs `body` on `base` while the check runs. `body` passes the gate before it prints
    /// anything, and before it returns, and stops early when the gate says the work is
    /// abandoned (the tree is known to have changed); when the tree changed since the build,
    /// passing throws, and `body` runs again on the archive that reads the changed files
    /// fresh. An error of `body` stands only if `base` was current.
    func answer(_ body: (Archive, AnswerGate) throws -> Void) throws {
        guard let pending else { return try body(base, .open) }
        struct Stale: Error {}
        var settled: LiveView.Result? = nil
        let base = self.base
        let confirm: () throws -> Void = {
            let live = try settled ?? settle(pending)
            settled = live
            if live.archive !== base { throw Stale() }
        }
        let gate = AnswerGate(pass: confirm, isOpen: { settled != nil || pending.isFinished }, abandoned: { pending.knownStale })
        do {
            try body(base, gate)
            try confirm()
            return
        } catch is Stale {
        } catch {
            do { try confirm() } catch is Stale {}
            if settled?.archive === base { throw error }
        }
        guard let fresh = settled?.archive else { return }
        try body(fresh, .open)
    }
}

/// What an answer worked out from an archive waits for before it prints.
struct AnswerGate {
    /// Waits for the freshness check; throws when the answer must be made again.
    let pass: () throws -> Void
    /// Whether `pass` would return at once.
    let isOpen: () -> Bool
    /// Whether the tree is already known to have changed (work on the answer is wasted).
    let abandoned: (@Sendable () -> Bool)?

    /// Nothing to wait for.
    static var open: AnswerGate { AnswerGate(pass: {}, isOpen: { true }, abandoned: nil) }
}

/// Prints a one-line `cstpack: error:` and exits 2: the shape of every failure.
func fail(_ error: Error) -> Never { fail(error, program: "cstpack") }

func isTerminal(_ fd: Int32) -> Bool { isatty(fd) == 1 }

/// `--color WHEN` of every command: always, never, or auto (on a terminal, unless NO_COLOR
/// is set to something).
func colorWanted(_ when: String, fd: Int32 = 1) -> Bool {
    switch when {
    case "always": return true
    case "never": return false
    default: return isTerminal(fd) && (getenv("NO_COLOR").map { String(cString: $0).isEmpty } ?? true)
    }
}

/// "1 line", "2 lines".
func plural(_ n: Int, _ word: String) -> String { n == 1 ? "1 \(word)" : "\(n) \(word)s" }
