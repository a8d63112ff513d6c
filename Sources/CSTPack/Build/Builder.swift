import Glibc

package struct BuildOptions: Sendable {
    package var root: String
    package var output: String
    package var jobs: Int
    package var codec: Codec = .zstd
    package var level: Int? = nil
    /// Compression level of stored source text (nil: the codec's source default).
    package var sourceLevel: Int? = nil
    package var segmentSize: Int = 256 * 1024
    /// Instruction bytes between a file's checkpoints (see Format.checkpointBytes).
    package var checkpointBytes = Format.checkpointBytes
    /// Bytecode a record holds per open ancestor before a checkpoint (Spec 11.4); tests set
    /// 0 to make checkpoints under deep stacks.
    var checkpointBytesPerAncestor = TreeCodec.checkpointBytesPerAncestor
    /// Where the encoder cuts a file's CST records.
    package var recordLimit: Int { Format.recordLimit(segmentSize: segmentSize, checkpointBytes: checkpointBytes) }
    package var maxFileSize: Int = 4 << 20
    package var storeSource = true
    package var languageOverrides: [String: String] = [:]
    package var parseTimeoutMicros: UInt64 = 10_000_000
    package var noIgnore = false
    package var excludes: [String] = []
    /// Walk, read and parse only; write nothing (the reference for build-time benchmarks).
    package var parseOnly = false
    /// Write an archive that holds no file. Off by default: a tree with nothing to pack
    /// (wrong directory, no grammar) must not silently replace a good archive.
    package var allowEmpty = false
    /// Encoding phases; without `.delta` there are no tag models and no shared files.
    package var phases: Format.Phases = .all
    /// Keep every trained tag model, even one that does not pay for itself (tests use it
    /// to exercise models on small trees).
    package var keepEveryModel = false
    /// The cstpack executable that runs `parse-helper`; nil parses every file in process.
    package var parseHelper: String? = nil
    /// Files of at least this many bytes are parsed in the helper: by default every file.
    /// tree-sitter 0.20.7 aborts on trees nested ~65,536 deep (32 KiB of `[` in JSON), and
    /// grammars' scanners crash on small files too: fixed-form Fortran's asks the lexer for
    /// a column where 0.20.7's lexer then reads before the file's start (the first 564
    /// bytes of our broken Rust fixture, read as a `.f` file).
    /// Isolating every file costs ~1% of a build (measured on the stdlib).
    package var isolateAbove = BuildOptions.isolateAboveDefault
    package static let isolateAboveDefault = 0

    package init(root: String, output: String, jobs: Int) {
        self.root = root
        self.output = output
        self.jobs = jobs
    }
}

package struct BuildSummary: Sendable {
    package var files = 0
    package var uniqueFiles = 0
    package var lines = 0
    package var nodes = 0
    package var sourceBytes = 0
    package var archiveBytes: UInt64 = 0
    package var seconds = 0.0
    package var skipped = SkipCounts()
    package var languages: [String] = []
    package var usedGit = false
    package var excluded = 0
}

/// What a build tells its caller while it runs.
package enum BuildEvent {
    /// A file was passed over (reason, path); printed with --verbose.
    case skipped(String, String)
    /// A problem worth a warning (unreadable file, parse failure, missing grammar).
    case warning(String)
    /// Progress: files done, total, source bytes done.
    case progress(Int, Int, Int)
    /// Phase 2 trained (or declined) a language's tag model; printed with --verbose.
    case model(ModelTraining.Report)
}

/// `cstpack build`: walk, parse and encode in parallel, write in path order.
package enum Builder {
    enum Outcome {
        case encoded(EncodedFile)
        case skipped(reason: String, message: String?)
        case parsedOnly(Int)

        /// Memory the outcome holds while it waits for the writer.
        var bytes: Int {
            if case .encoded(let f) = self { return f.sourcePayload.count + f.cst.byteCount }
            return 0
        }
    }

    /// Parsed files a worker holds while the tag models are fitted.
    static let maxWaiting = 64
    /// Consecutive files a worker takes at once: the parse helper gets them in one request.
    static let parseRun = 16

    /// The files a build of `options.root` packs, with their languages, and what it passes
    /// over without reading: the walk and the choice of grammar, shared by `build`,
    /// `update` and the staleness check.
    package struct Selection: Sendable {
        package var chosen: [(file: WalkedFile, language: String)] = []
        package var skipped = SkipCounts()
        package var usedGit = false
        package var excluded = 0
        package var walked = 0
    }

    package static func select(_ options: BuildOptions, grammars: GrammarRegistry,
                              events: (BuildEvent) -> Void) throws -> Selection {
        let map = LanguageMap(overrides: options.languageOverrides)
        var walker = Walker(root: options.root)
        walker.noIgnore = options.noIgnore
        walker.excludes = options.excludes
        walker.wants = { name in map.language(forFileName: name) != nil }
        let walk = try walker.walk()
        if walk.files.isEmpty && walk.usedGit {
            events(.warning("\(options.root): git lists no files here (all ignored?); use --no-ignore to walk the directory itself"))
        }
        for w in walk.warnings { events(.warning(w)) }
        var selection = Selection()
        selection.usedGit = walk.usedGit
        selection.excluded = walk.excluded
        selection.walked = walk.files.count
        selection.skipped.symlinks = walk.symlinks
        for link in walk.symlinkPaths { events(.skipped("symbolic link (not followed)", String(decoding: link, as: UTF8.self))) }

        // Choose a grammar for each file.
        var missingGrammars: [String: Int] = [:]
        let outputRelative = relativeOutputPath(options)
        for f in walk.files {
            if let out = outputRelative, f.path == out { continue }
            let name = Array(f.path.split(separator: UInt8(ascii: "/")).last ?? [])
            guard let lang = map.language(forFileName: name) else {
                selection.skipped.unknownLanguage += 1
                events(.skipped("unknown language", f.displayPath))
                continue
            }
            guard grammars.grammars[lang] != nil else {
                selection.skipped.noGrammar += 1
                missingGrammars[lang, default: 0] += 1
                events(.skipped("no grammar for \(lang)", f.displayPath))
                continue
            }
            guard f.size <= options.maxFileSize else {
                selection.skipped.tooLarge += 1
                events(.skipped("larger than --max-file-size (\(f.size) bytes)", f.displayPath))
                continue
            }
            selection.chosen.append((f, lang))
        }
        for (lang, n) in missingGrammars.sorted(by: { $0.key < $1.key }) {
            events(.warning("no grammar for '\(lang)': \(n) file(s) skipped (run scripts/setup-grammars, or see `cstpack languages`)"))
        }
        return selection
    }

    /// The build's stages, in order: (1) walk and choose grammars, (2) parse a sample and
    /// train the tag models (phase 2) on a thread of its own, (3) parse and encode every file
    /// on `jobs` workers, (4) write the encoded files in path order as they come, (5) finish
    /// the archive (models, the tree's description, the index).
    package static func build(_ options: BuildOptions, grammars: GrammarRegistry,
                             events: (BuildEvent) -> Void) throws -> BuildSummary {
        let started = monotonicSeconds()
        let selection = try select(options, grammars: grammars, events: events)
        try checkSomethingToPack(selection, options, events: events)
        let inputs = Inputs(selection, grammars: grammars, jobs: options.jobs)
        // One parser per worker (each starts its parse helper on first use), for the
        // training sample first and then for the workers.
        let parsers = FileParsers(count: inputs.jobs, options: options)
        let training = startTraining(inputs, options: options, parsers: parsers)
        let writer = options.parseOnly ? nil : try ArchiveWriter(
            destination: options.output, languages: inputs.grammars.map(\.table), phases: options.phases, codec: options.codec,
            level: options.level ?? options.codec.defaultLevel,
            sourceLevel: options.sourceLevel ?? options.codec.defaultSourceLevel, segmentSize: options.segmentSize)
        let queue = OrderedWorkQueue<Outcome>(total: inputs.files.count, window: inputs.jobs * 256)
        let joinWorkers = startEncoding(inputs, training: training, parsers: parsers, options: options, queue: queue)
        let written = write(queue, inputs: inputs, writer: writer, events: events)
        joinWorkers()
        training.join()
        let trained = training.gate.wait()
        for r in trained.reports { events(.model(r)) }
        var summary = try finish(written, inputs: inputs, models: trained.models, writer: writer, options: options)
        summary.seconds = monotonicSeconds() - started
        return summary
    }

    /// The files chosen, their languages (sorted, as the archive stores them) and grammars.
    struct Inputs {
        let selection: Selection
        let languageNames: [String]
        let grammars: [Grammar]
        /// Each file with its language's index in `languageNames`.
        let files: [(WalkedFile, Int)]
        let jobs: Int

        init(_ selection: Selection, grammars registry: GrammarRegistry, jobs: Int) {
            self.selection = selection
            languageNames = Array(Set(selection.chosen.map(\.language))).sorted()
            let index = Dictionary(uniqueKeysWithValues: languageNames.enumerated().map { ($1, $0) })
            grammars = languageNames.map { registry.grammars[$0]! }
            files = selection.chosen.map { ($0.file, index[$0.language]!) }
            self.jobs = max(1, jobs)
        }
    }

    /// Stage 1's end: a tree with nothing to pack is an error unless asked for.
    static func checkSomethingToPack(_ selection: Selection, _ options: BuildOptions, events: (BuildEvent) -> Void) throws {
        guard selection.chosen.isEmpty else { return }
        let k = selection.skipped
        let why = "\(options.root): no files to pack (\(selection.walked) found; unknown language \(k.unknownLanguage), "
            + "no grammar \(k.noGrammar), too large \(k.tooLarge), symbolic links \(k.symlinks))"
        guard options.allowEmpty || options.parseOnly else { throw Self.refusingEmpty(why, options) }
        events(.warning(why + "; the archive will be empty"))
    }

    /// Stage 2: phase 2's training sample, parsed now; the models fitted on a thread of
    /// their own while the workers parse the other files (they wait for the models to encode).
    struct Training {
        /// Opens when the models are fitted (at once, with no models, without phase 2).
        let gate: ModelGate
        /// The sample's parsed files, which the workers then take instead of parsing again.
        let preParsed: ModelTraining.Parsed?
        let join: () -> Void
    }

    static func startTraining(_ inputs: Inputs, options: BuildOptions, parsers: FileParsers) -> Training {
        guard options.phases.contains(.delta) && !options.parseOnly else {
            return Training(gate: ModelGate(models: [TagModel?](repeating: nil, count: inputs.grammars.count)), preParsed: nil, join: {})
        }
        let sample = ModelTraining.parseSample(files: inputs.files, grammars: inputs.grammars, options: options, parsers: parsers)
        let gate = ModelGate()
        let join = startThreads(1) { _ in
            let fitted = ModelTraining.fit(sample, files: inputs.files, grammars: inputs.grammars, options: options)
            gate.open(fitted.models, reports: fitted.reports)
        }
        return Training(gate: gate, preParsed: sample.parsed, join: join)
    }

    /// Stage 3: `jobs` workers take runs of files, parse them (in the parse helper, while
    /// encoding the run before) and encode them once the models are ready, putting each
    /// outcome on `queue` in file order. Returns the join of the workers.
    static func startEncoding(_ inputs: Inputs, training: Training, parsers: FileParsers, options: BuildOptions,
                              queue: OrderedWorkQueue<Outcome>) -> () -> Void {
        precondition(Self.maxWaiting < 256, "files waiting for the models must stay below the queue's window per worker")
        let work = WorkList(files: inputs.files, grammars: inputs.grammars, preParsed: training.preParsed, options: options)
        let modelGate = training.gate
        return startThreads(inputs.jobs) { worker in
            let parser = parsers[worker]
            // While the models are being fitted, parsed files wait here (a few per worker:
            // far fewer than the queue's window, so taking more work cannot block on them).
            var waiting: [(Int, WorkList.ParsedFile)] = []
            var waitingBytes = 0
            func encodeWaiting() {
                guard !waiting.isEmpty else { return }
                let models = modelGate.wait().models
                for (i, p) in waiting {
                    let outcome = work.encode(i, p, models: models)
                    queue.put(i, outcome, bytes: outcome.bytes)
                }
                waiting.removeAll()
                waitingBytes = 0
            }
            // The run whose last batch the parse helper is parsing while this thread encodes
            // the run before it (with -j 1 the build then keeps both cores busy).
            var pending: WorkList.PendingRun? = nil
            while true {
                if !waiting.isEmpty && modelGate.ready() != nil { encodeWaiting() }
                // A worker holding parsed files may be holding the one the writer waits for:
                // it must not wait for the queue's byte limit then (the window still holds).
                let next = queue.take(run: Builder.parseRun, holdingResults: !waiting.isEmpty || pending != nil)
                // Nothing to take until this worker puts what it holds.
                if next?.isEmpty == true && pending == nil { encodeWaiting(); continue }
                let started = next.flatMap { $0.isEmpty ? nil : work.beginParse($0, parser: parser) }
                defer { pending = started }
                guard let current = pending else {
                    if next == nil { break }
                    continue
                }
                for (i, stage) in zip(current.range, work.finishParse(current)) {
                    switch stage {
                    case .done(let outcome):
                        queue.put(i, outcome, bytes: outcome.bytes)
                    case .parsed(let p):
                        if waiting.isEmpty, let models = modelGate.ready() {
                            let outcome = work.encode(i, p, models: models)
                            queue.put(i, outcome, bytes: outcome.bytes)
                        } else {
                            waiting.append((i, p))
                            waitingBytes += p.bytes.count
                            if modelGate.ready() != nil || waiting.count >= Builder.maxWaiting || waitingBytes >= 8 << 20 { encodeWaiting() }
                        }
                    }
                }
            }
            encodeWaiting()
        }
    }

    /// What stage 4 wrote and counted.
    struct Written {
        var summary = BuildSummary()
        var skipped: SkipCounts
        var passedOver: [PassedOverFile] = []
        /// The first write that failed: the queue was cancelled then.
        var failure: Error? = nil
    }

    /// Stage 4: the outcomes in file order, each encoded file added to the archive.
    static func write(_ queue: OrderedWorkQueue<Outcome>, inputs: Inputs, writer: ArchiveWriter?,
                      events: (BuildEvent) -> Void) -> Written {
        var w = Written(skipped: inputs.selection.skipped)
        w.summary.usedGit = inputs.selection.usedGit
        w.summary.excluded = inputs.selection.excluded
        w.summary.languages = inputs.languageNames
        let chosen = inputs.selection.chosen
        var done = 0
        var sourceDone = 0
        while let outcome = queue.next() {
            let walked = chosen[done].file
            done += 1
            switch outcome {
            case .encoded(let file):
                sourceDone += file.sourceLength
                if w.failure == nil {
                    do {
                        try writer!.add(file)
                        w.summary.files += 1
                        w.summary.lines += file.lineCount
                        w.summary.nodes += file.nodeCount
                        w.summary.sourceBytes += file.sourceLength
                    } catch {
                        w.failure = error
                        queue.cancel()
                    }
                }
            case .parsedOnly(let n):
                sourceDone += n
                w.summary.files += 1
                w.summary.sourceBytes += n
            case .skipped(let reason, let message):
                w.skipped.count(reason)
                if let remembered = PassedOverFile.Reason(skipReason: reason) {
                    w.passedOver.append(PassedOverFile(path: walked.path, reason: remembered, stamp: walked.stamp))
                }
                if let m = message { events(.warning(m)) }
            }
            events(.progress(done, chosen.count, sourceDone))
        }
        return w
    }

    /// Stage 5: the archive completed (models, the tree's description, the index), or
    /// removed when a write failed or every file was skipped.
    static func finish(_ w: Written, inputs: Inputs, models: [TagModel?], writer: ArchiveWriter?,
                       options: BuildOptions) throws -> BuildSummary {
        if let f = w.failure {
            writer?.abort()
            throw f
        }
        let skipped = w.skipped
        if w.summary.files == 0 && !options.allowEmpty && !options.parseOnly {
            writer?.abort()
            throw Self.refusingEmpty("\(options.root): every file was skipped (\(skipped.total): binary \(skipped.binary), "
                                     + "unreadable \(skipped.unreadable), parse failed \(skipped.parseFailed))", options)
        }
        writer?.setModels(models)
        writer?.setTree(TreeState.describing(options, root: options.root, usedGit: inputs.selection.usedGit, passedOver: w.passedOver))
        try writer?.finish(skipped: skipped)
        var summary = w.summary
        summary.skipped = skipped
        summary.archiveBytes = writer?.archiveBytes ?? 0
        return summary
    }

    static func refusingEmpty(_ why: String, _ options: BuildOptions) -> CSTPackError {
        CSTPackError(why + "; not writing an empty archive over \(options.output) (--allow-empty writes it anyway)")
    }

    /// The output's path relative to the root, when the archive is written inside the tree
    /// (so a rebuild does not try to read the previous archive).
    static func relativeOutputPath(_ o: BuildOptions) -> [UInt8]? {
        guard let root = realPath(o.root), let out = realPath(directoryOf(o.output)) else { return nil }
        let outFile = out + "/" + (o.output.split(separator: "/").last.map(String.init) ?? o.output)
        guard outFile.hasPrefix(root + "/") else { return nil }
        return Array(outFile.dropFirst(root.count + 1).utf8)
    }
}

/// The files to encode and everything a worker needs; read-only, shared by all workers.
final class WorkList: @unchecked Sendable {
    let files: [(WalkedFile, Int)]
    let grammars: [Grammar]
    /// The phase-2 training sample, already read and parsed.
    let preParsed: ModelTraining.Parsed?
    let options: BuildOptions

    init(files: [(WalkedFile, Int)], grammars: [Grammar], preParsed: ModelTraining.Parsed?,
         options: BuildOptions) {
        self.files = files
        self.grammars = grammars
        self.preParsed = preParsed
        self.options = options
    }

    /// A file read and parsed, waiting to be encoded.
    struct ParsedFile {
        let bytes: [UInt8]
        let result: TreeSitterParser.Result
    }

    enum Stage {
        case done(Builder.Outcome)
        case parsed(ParsedFile)
    }

    /// Reads and parses files `range` (or takes them from the training sample), in one
    /// batch for the parse helper; their stages, in order.
    func parse(_ range: Range<Int>, parser: FileParser) -> [Stage] {
        finishParse(beginParse(range, parser: parser))
    }

    /// Files whose parse has begun: the helper may still be parsing the last batch while
    /// the worker encodes the previous run (the build's two cores both busy with `-j 1`).
    struct PendingRun {
        let range: Range<Int>
        var stages: [Stage?]
        let sources: [(slot: Int, bytes: [UInt8])]
        /// The sources as the parser reads them: a copy that lives until `finishParse`.
        let copies: UnsafeMutableRawBufferPointer
        let parsing: FileParser.Pending
        let parser: FileParser
    }

    func beginParse(_ range: Range<Int>, parser: FileParser) -> PendingRun {
        var stages = [Stage?](repeating: nil, count: range.count)
        var sources: [(slot: Int, bytes: [UInt8])] = []
        for (slot, i) in range.enumerated() {
            if let p = preParsed?.take(i) {
                stages[slot] = .parsed(ParsedFile(bytes: p.bytes, result: p.result))
                continue
            }
            switch Self.readSource(root: options.root, path: files[i].0.path, limit: options.maxFileSize) {
            case .bytes(let b): sources.append((slot, b))
            case .skipped(let reason, let message): stages[slot] = .done(.skipped(reason: reason, message: message))
            }
        }
        let total = sources.reduce(0) { $0 + $1.bytes.count }
        let copies = UnsafeMutableRawBufferPointer.allocate(byteCount: max(total, 1), alignment: 16)
        var jobs: [IsolatedParser.Job] = []
        var at = 0
        for (slot, bytes) in sources {
            let part = UnsafeMutableRawBufferPointer(rebasing: copies[at..<at + bytes.count])
            bytes.withUnsafeBytes { if $0.count > 0 { part.copyMemory(from: $0) } }
            jobs.append(IsolatedParser.Job(source: UnsafeRawBufferPointer(part), grammar: grammars[files[range.lowerBound + slot].1]))
            at += bytes.count
        }
        let parsing = parser.begin(jobs, timeoutMicros: options.parseTimeoutMicros, wantTree: !options.parseOnly)
        return PendingRun(range: range, stages: stages, sources: sources, copies: copies, parsing: parsing, parser: parser)
    }

    func finishParse(_ pending: PendingRun) -> [Stage] {
        var stages = pending.stages
        let results = pending.parser.finish(pending.parsing)
        pending.copies.deallocate()
        for ((slot, bytes), result) in zip(pending.sources, results) {
            switch result {
            case .success(let parsed?): stages[slot] = .parsed(ParsedFile(bytes: bytes, result: parsed))
            case .success(nil): stages[slot] = .done(.parsedOnly(bytes.count))
            case .failure(let error):
                stages[slot] = .done(.skipped(reason: "parse failed", message: "\(files[pending.range.lowerBound + slot].0.displayPath): skipped: \(error)"))
            }
        }
        return stages.map { $0! }
    }

    /// Encodes a parsed file with the language's tag model, if any.
    func encode(_ i: Int, _ p: ParsedFile, models: [TagModel?]) -> Builder.Outcome {
        let (file, language) = files[i]
        let grammar = grammars[language]
        let parsed = p.result
        do {
            return try p.bytes.withUnsafeBytes { raw -> Builder.Outcome in
                let encoded = try TreeCodec.encode(parsed.tree, table: grammar.table, model: models[language],
                                                   recordLimit: options.recordLimit, bytesPerAncestor: options.checkpointBytesPerAncestor)
                let payload: [UInt8]
                let flags: Format.FileFlags
                if options.storeSource {
                    payload = p.bytes
                    flags = .source
                } else {
                    payload = LineTable.encode(Lines.starts(raw))
                    flags = .lineTable
                }
                return .encoded(EncodedFile(
                    path: file.path, stamp: file.stamp, language: language, contentHash: Hash.content(raw), sourceLength: raw.count,
                    lineCount: Lines.count(raw), nodeCount: parsed.tree.count,
                    syntaxErrors: parsed.tree.flags[0].contains(.hasError), cst: encoded,
                    sourcePayload: payload, sourceFlags: flags, treeSitterBytes: parsed.treeSitterBytes,
                    summary: FileSummary(parsed.tree, kindCount: grammar.table.kindCount, source: options.storeSource ? raw : nil).bytes))
            }
        } catch {
            return .skipped(reason: "parse failed", message: "\(file.displayPath): skipped: \(error)")
        }
    }
}

extension SkipCounts {
    /// Counts a file passed over after it was read (a reason of `Builder.Outcome.skipped`).
    mutating func count(_ reason: String) {
        switch reason {
        case "binary": binary += 1
        case "unreadable": unreadable += 1
        case "too large": tooLarge += 1
        default: parseFailed += 1
        }
    }
}

extension PassedOverFile.Reason {
    /// The skips worth remembering: reading the file again would only skip it again.
    /// Unreadable files are not remembered (permissions change without touching the file).
    init?(skipReason: String) {
        switch skipReason {
        case "binary": self = .binary
        case "parse failed": self = .parseFailed
        default: return nil
        }
    }
}

/// One source file read as build reads it: its bytes, or why it is skipped.
enum SourceRead {
    case bytes([UInt8])
    /// reason: "too large", "unreadable" or "binary"; message: the warning to show, if any.
    case skipped(reason: String, message: String?)
}

extension WorkList {
    /// Reads `root/path` (at most `limit` bytes); files with a NUL byte in their first 8000
    /// bytes are binary. Shared with `diff`, which reads a working tree the same way.
    static func readSource(root: String, path: [UInt8], limit: Int) -> SourceRead {
        let display = String(decoding: path, as: UTF8.self)
        let full = Array(root.utf8) + [UInt8(ascii: "/")] + path
        let bytes: [UInt8]
        do {
            bytes = try readFile(full, limit: limit)
        } catch {
            let text = "\(error)"
            if text.contains("size limit") { return .skipped(reason: "too large", message: "\(display): skipped: \(text)") }
            return .skipped(reason: "unreadable", message: "\(display): skipped: \(text)")
        }
        if bytes.prefix(8000).contains(0) { return .skipped(reason: "binary", message: nil) }
        return .bytes(bytes)
    }
}

func realPath(_ p: String) -> String? {
    guard let r = realpath(p, nil) else { return nil }
    defer { free(r) }
    return String(cString: r)
}

func directoryOf(_ p: String) -> String {
    guard let slash = p.lastIndex(of: "/") else { return "." }
    let d = String(p[..<slash])
    return d.isEmpty ? "/" : d
}
