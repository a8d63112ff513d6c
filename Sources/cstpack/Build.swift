import ArgumentParser
import CommandSupport
import CSTPack
import Glibc

struct Build: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "build",
        abstract: "Parse every known file under DIR and write an archive of their syntax trees.",
        discussion: """
        Inside a git work tree the files are those git lists (tracked and untracked, .gitignore \
        honoured); elsewhere every file not under a hidden directory. Symbolic links are not \
        followed; binary files, files of unknown languages and files over --max-file-size are \
        skipped and counted. The archive is written to a temporary file and renamed into place.
        """
    )

    @Argument(help: "The source tree to pack.")
    var directory: String

    @Option(name: .shortAndLong, help: ArgumentHelp("Where to write the archive.", valueName: "PATH"))
    var output: String = Archive.defaultPath

    @Option(name: .short, help: ArgumentHelp("Parallel workers (default: all cores).", valueName: "N"), transform: saturatingInt)
    var jobs: Int?

    @Option(help: ArgumentHelp("Segment compression: zstd, lz4 or none.", valueName: "CODEC"))
    var codec: String = "zstd"

    @Option(parsing: .unconditional, help: ArgumentHelp("Compression level of CST segments (zstd -7 to 22, default 6; lz4: 0 fast, 1-12 HC).", valueName: "N"), transform: saturatingInt)
    var level: Int?

    @Option(parsing: .unconditional, help: ArgumentHelp("Compression level of the stored source text (zstd -7 to 22, default 3).", valueName: "N"), transform: saturatingInt)
    var sourceLevel: Int?

    @Option(help: ArgumentHelp("Uncompressed bytes per segment (4096 to 67108864).", valueName: "BYTES"), transform: saturatingInt)
    var segmentSize: Int = 256 * 1024

    @Option(help: ArgumentHelp("Instruction bytes between checkpoints inside a file (benchmarks; stats --measure assumes the default).",
                               valueName: "BYTES", visibility: .hidden), transform: saturatingInt)
    var checkpointBytes: Int = Format.checkpointBytes

    @OptionGroup var walk: WalkOptions

    @Flag(help: "Store only the trees and a line table, not the source text.")
    var noSource = false

    @Option(help: ArgumentHelp("""
        Encoding phases, comma-separated: 1 packing (required), 2 delta bases (tag models \
        trained on a sample of the tree, identical files stored once), 3 bytecode (required). \
        --phases 1,3 builds without phase 2, to measure what it gives.
        """, valueName: "LIST"))
    var phases: String = "1,2,3"

    @Option(help: ArgumentHelp("""
        Parse files of at least this size in a helper process, so that a crash inside \
        tree-sitter or a grammar skips the file instead of ending the build. Default 0: every \
        file (grammars crash on small files too). Smaller files parse in this process: faster \
        for many tiny files, but a crash there ends the build.
        """, valueName: "BYTES"), transform: saturatingInt)
    var isolateAbove: Int = BuildOptions.isolateAboveDefault

    @Flag(help: ArgumentHelp("Keep every trained tag model, even one that does not pay for itself (for tests and fuzz seeds).", visibility: .hidden))
    var keepEveryModel = false

    @Option(help: ArgumentHelp("""
        Take the encoded records of every file whose content another archive already holds \
        (another checkout, the previous commit's CI build) instead of parsing it again. It \
        must have been built with the same encoding options; otherwise it is not used.
        """, valueName: "ARCHIVE"))
    var reuse: String?

    @Flag(help: "Write the archive even when no file is packed (by default an empty result is refused, and a previous archive kept).")
    var allowEmpty = false

    @Flag(help: "Walk, read and parse only; write nothing (the reference for benchmarks).")
    var parseOnly = false

    @Flag(name: .shortAndLong, help: "List every skipped file with the reason.")
    var verbose = false

    @Flag(name: .shortAndLong, help: "Print neither progress nor the summary.")
    var quiet = false

    @OptionGroup var grammarOptions: GrammarOptions

    func validate() throws {
        guard Codec(name: codec) != nil else { throw ValidationError("--codec must be zstd, lz4 or none (got '\(codec)')") }
        _ = try parsedPhases()
    }

    /// Every number in its range, as a `cstpack: error:` (exit 2) from run().
    func checkNumbers() throws {
        try checkRange(jobs, 1...256, "-j")
        try checkRange(segmentSize, 4096...(64 << 20), "--segment-size")
        try checkRange(checkpointBytes, 256...(64 << 20), "--checkpoint-bytes")
        try walk.checkNumbers()
        try checkRange(isolateAbove, 0...Int(UInt32.max), "--isolate-above")
        // With --codec none no level is used, but a wild one is still a mistake.
        let levels = Codec(name: codec) == .lz4 ? 0...12 : -7...22
        let codecName = Codec(name: codec) == .lz4 ? "lz4" : "zstd"
        try checkRange(level, levels, "\(codecName) --level")
        try checkRange(sourceLevel, levels, "\(codecName) --source-level")
    }

    /// `--phases`: 1 and 3 are the archive's layout and always on; 2 is optional.
    func parsedPhases() throws -> Format.Phases {
        let items = phases.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        guard items.allSatisfy({ ["1", "2", "3"].contains($0) }), items.contains("1"), items.contains("3") else {
            throw ValidationError("--phases must be 1,2,3 or 1,3 (phases 1 and 3 are the archive layout; got '\(phases)')")
        }
        return items.contains("2") ? .all : [.packing, .bytecode]
    }

    func run() throws {
        // Over a file size limit (ulimit -f) the kernel sends SIGXFSZ, which kills silently
        // and leaves the temporary file: ignored, write fails with EFBIG and is reported.
        signal(SIGXFSZ, SIG_IGN)
        do {
            try checkNumbers()
            let overrides = try walk.overrides()
            let grammars = grammarOptions.registry(extraNames: Array(Set(overrides.values)))
            guard !grammars.grammars.isEmpty else {
                throw CSTPackError("no grammars found (searched \(grammars.searchedDirectories.joined(separator: ", "))); run scripts/setup-grammars or pass --grammars DIR")
            }
            for (ext, name) in overrides.sorted(by: { $0.key < $1.key }) where grammars.grammars[name] == nil {
                throw CSTPackError("--lang \(ext)=\(name): no grammar '\(name)' (known: \(grammars.grammars.keys.sorted().joined(separator: ", ")))")
            }
            if !parseOnly { try checkWritable(output) }
            var options = BuildOptions(root: directory, output: output, jobs: jobs ?? defaultJobs())
            options.codec = Codec(name: codec)!
            options.level = level
            options.sourceLevel = sourceLevel
            options.segmentSize = segmentSize
            options.checkpointBytes = checkpointBytes
            options.maxFileSize = walk.maxFileSize
            options.storeSource = !noSource
            options.languageOverrides = overrides
            options.parseTimeoutMicros = walk.parseTimeoutMicros
            options.noIgnore = walk.noIgnore
            options.parseOnly = parseOnly
            options.excludes = walk.exclude
            options.phases = try parsedPhases()
            options.isolateAbove = isolateAbove
            options.keepEveryModel = keepEveryModel
            options.parseHelper = ownExecutable()
            options.allowEmpty = allowEmpty
            let progress = !quiet && isTerminal(2)
            if let other = reuse, !parseOnly {
                let base = try Archive(path: other)
                if let why = Updater.reuseMismatch(base, options, grammars: grammars) {
                    writeStderr("cstpack: warning: not reusing \(other): \(why); building from scratch\n")
                } else {
                    var u = Updater.Options(output: output)
                    u.root = directory
                    u.reuse = true
                    u.build = options
                    u.jobs = options.jobs
                    u.parseHelper = options.parseHelper
                    let s = try Updater.update(base, options: u, grammars: grammars) { event in
                        if case .warning(let w) = event { writeStderr("cstpack: warning: \(w)\n") }
                        if case .progress(let done, let total, _) = event, progress { writeStderr("\r\u{1B}[Kparsing \(done)/\(total) files") }
                    }
                    if progress { writeStderr("\r\u{1B}[K") }
                    if !quiet {
                        let k = s.skipped
                        print("\(output): \(s.files) files: \(s.reused) reused from \(other), \(s.parsed) parsed; "
                              + "archive \(fmt(Double(s.archiveBytes) / 1_000_000, 2)) MB, \(fmt(s.seconds, 2)) s; skipped \(k.total) (binary \(k.binary), "
                              + "too large \(k.tooLarge), unknown language \(k.unknownLanguage), no grammar \(k.noGrammar), unreadable \(k.unreadable), "
                              + "parse failed \(k.parseFailed), symlinks \(k.symlinks))")
                    }
                    return
                }
            }
            var lastProgress = 0.0
            let started = monotonicSeconds()
            let summary = try Builder.build(options, grammars: grammars) { event in
                switch event {
                case .skipped(let why, let path):
                    if verbose { writeStderr("skipped \(path): \(why)\n") }
                case .warning(let w):
                    if progress { writeStderr("\r\u{1B}[K") }
                    writeStderr("cstpack: warning: \(w)\n")
                case .model(let r):
                    guard verbose else { return }
                    let model = r.modelBytes.map { "a \($0) B model" } ?? "no model"
                    writeStderr("phase 2: \(r.language): sample of \(r.sampleFiles) files (\(r.sampleBytes) B): CST \(r.sampleWithout) B -> "
                                + "\(r.sampleWith) B with \(model); \(r.kept ? "kept" : "not kept (does not pay for itself)"); "
                                + "trained in \(fmt(r.trainSeconds, 2)) s (sample parsed in \(fmt(r.parseSeconds, 2)) s)\n")
                case .progress(let done, let total, let bytes):
                    guard progress else { return }
                    let t = monotonicSeconds()
                    if t - lastProgress < 0.1 && done < total { return }
                    lastProgress = t
                    let mb = Double(bytes) / 1_000_000
                    writeStderr("\r\u{1B}[K\(done)/\(total) files  \(fmt(mb, 1)) MB  \(fmt(mb / max(t - started, 0.001), 1)) MB/s")
                }
            }
            if progress { writeStderr("\r\u{1B}[K") }
            if !quiet {
                let k = summary.skipped
                print("\(output): \(plural(summary.files, "file")), \(plural(summary.lines, "line")), \(plural(summary.nodes, "node")), "
                      + "source \(fmt(Double(summary.sourceBytes) / 1_000_000, 2)) MB, archive \(fmt(Double(summary.archiveBytes) / 1_000_000, 2)) MB, "
                      + "\(fmt(summary.seconds, 2)) s; skipped \(k.total) (binary \(k.binary), too large \(k.tooLarge), "
                      + "unknown language \(k.unknownLanguage), no grammar \(k.noGrammar), unreadable \(k.unreadable), "
                      + "parse failed \(k.parseFailed), symlinks \(k.symlinks))")
            }
        } catch {
            fail(error)
        }
    }
}

/// This executable's path (the parse helper is the same binary), or nil if unknown.
func ownExecutable() -> String? {
    var buffer = [CChar](repeating: 0, count: 4096)
    let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
    guard n > 0 else { return nil }
    return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

/// Fails before any work if `path` cannot receive an archive: a directory, or a place this
/// process cannot create files in (checked by creating and removing a probe there).
func checkWritable(_ path: String) throws {
    var st = stat()
    if stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR {
        throw CSTPackError("\(path): is a directory (name the archive file, e.g. -o \(path)/index.cstpack)")
    }
    let dir = path.contains("/") ? String(path[..<path.lastIndex(of: "/")!]) : "."
    let probe = (dir.isEmpty ? "" : dir) + "/.cstpack-probe-\(getpid())"
    let fd = open(probe, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
    guard fd >= 0 else { throw CSTPackError("\(path): cannot write there: \(errnoText())") }
    close(fd)
    unlink(probe)
}
