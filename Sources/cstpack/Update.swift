import ArgumentParser
import CommandSupport
import CSTPack
import Glibc

struct Update: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "update",
        abstract: "Bring an archive up to date with its source tree, parsing only what changed.",
        discussion: """
        DIR defaults to the directory the archive was built from. Files are chosen and encoded \
        with the options the archive records; a file whose size, mtime, ctime and inode are as \
        recorded is taken as unchanged, any other is read and compared by content hash. Only \
        new content is parsed; unchanged files keep their encoded records (whole compressed \
        segments are copied as stored), renamed files keep theirs. The result is written \
        atomically like a build and equals a fresh build of the tree (`cstpack diff` finds \
        nothing between them). Nothing is written when nothing changed.
        """
    )

    @Argument(help: "The source tree (default: the directory the archive was built from).")
    var directory: String?

    @OptionGroup var archiveOption: ArchiveOption

    @Option(name: .short, help: ArgumentHelp("Parallel workers, 1 to 256 (default: all cores).", valueName: "N"), transform: saturatingInt)
    var jobs: Int?

    @Flag(name: .shortAndLong, help: "Print nothing but errors and warnings.")
    var quiet = false

    @OptionGroup var grammarOptions: GrammarOptions

    func run() throws {
        signal(SIGXFSZ, SIG_IGN)
        do {
            try checkRange(jobs, 1...256, "-j")
            let path = try archiveOption.path()
            let base = try Archive(path: path)
            let overrides = base.treeState?.options.languageOverrides.map(\.1) ?? []
            let grammars = grammarOptions.registry(extraNames: overrides)
            var options = Updater.Options(output: path)
            options.root = directory
            options.jobs = jobs ?? defaultJobs()
            options.parseHelper = ownExecutable()
            let progress = !quiet && isTerminal(2)
            let summary = try Updater.update(base, options: options, grammars: grammars) { event in
                switch event {
                case .warning(let w):
                    if progress { writeStderr("\r\u{1B}[K") }
                    writeStderr("cstpack: warning: \(w)\n")
                case .progress(let done, let total, _):
                    if progress { writeStderr("\r\u{1B}[Kparsing \(done)/\(total) files") }
                default: break
                }
            }
            if progress { writeStderr("\r\u{1B}[K") }
            guard !quiet else { return }
            let s = summary
            let found = "\(s.changed) changed, \(s.added) added, \(s.deleted) deleted, \(s.renamed) renamed, \(s.unchanged) unchanged"
                + (s.touched > 0 ? " (\(s.touched) touched, same content)" : "")
            if !s.wrote {
                print("\(path): up to date: \(found); \(fmt(s.seconds, 2)) s")
                return
            }
            print("\(path): \(found); parsed \(s.parsed) files, reused \(s.reused); segments: \(s.segmentsCopied) copied, "
                  + "\(s.segmentsRepacked) repacked, \(s.deadBytes) dead bytes; archive \(fmt(Double(s.archiveBytes) / 1_000_000, 2)) MB; "
                  + "\(fmt(s.seconds, 2)) s")
        } catch {
            fail(error)
        }
    }
}
