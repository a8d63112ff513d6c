import Glibc

/// What `update` (and `build --reuse`, and the staleness check) found and did.
package struct UpdateSummary: Sendable {
    /// Files whose path and content are those of the base archive.
    package var unchanged = 0
    /// Of those, files whose stamp had moved (touched, checked out again): read and hashed.
    package var touched = 0
    /// Paths of the base whose content changed.
    package var changed = 0
    /// Paths new to the base (renames not counted).
    package var added = 0
    /// Paths of the base that are gone (rename sources not counted).
    package var deleted = 0
    /// New paths holding the content of a path that is gone.
    package var renamed = 0
    /// Files parsed (changed, added, or new content under any name).
    package var parsed = 0
    /// Files whose records were taken from the base without parsing.
    package var reused = 0
    package var files = 0
    package var skipped = SkipCounts()
    package var segmentsCopied = 0
    package var segmentsRepacked = 0
    /// Bytes of copied segments that no record names any more (decompressed sizes).
    package var deadBytes = 0
    package var archiveBytes: UInt64 = 0
    package var seconds = 0.0
    /// Whether an archive was written (false: the base was already up to date).
    package var wrote = false

    /// Whether the tree's content differs from the base's (a stamp alone does not count).
    package var contentChanged: Bool { changed + added + deleted + renamed > 0 || parsed > 0 }
}

/// Brings an archive up to date with a tree: unchanged files keep their encoded records
/// (whole compressed segments are copied as they are stored), only new content is parsed,
/// and the result is written atomically like a build (Spec/FORMAT.md, "Updates").
package enum Updater {
    package struct Options: Sendable {
        /// The tree; nil means the directory the base archive records.
        package var root: String?
        package var output: String
        package var jobs = 1
        package var parseHelper: String? = nil
        /// `build --reuse`: the tree is another one (another checkout); files are matched by
        /// content only, and no check that it is the same tree is made.
        package var reuse = false
        /// Write without syncing to disk (an archive made for one answer and deleted after).
        package var durable = true
        /// For an archive made for one answer: copy every segment that holds a live record
        /// (no repacking), and store new segments uncompressed. Its size does not matter;
        /// the time to the answer does.
        package var ephemeral = false
        /// The options that choose and encode files (`build --reuse`: the command line's,
        /// whose encoding must match the base's); nil: those the base recorded.
        package var build: BuildOptions? = nil
        package init(output: String) { self.output = output }
    }

    /// One file of the new tree: where its records come from.
    enum Source {
        /// Base file `base`'s records, unchanged; `stamp` is the file's stamp now.
        case copy(base: Int, stamp: FileStamp)
        /// Parse it (index into the selection's chosen files).
        case parse(Int)
        case skip(reason: String, message: String?, remember: PassedOverFile?)
    }

    struct Plan {
        var options: BuildOptions
        var selection: Builder.Selection
        var sources: [Source]
        var summary = UpdateSummary()
        /// Files whose stamp did not vouch for them, so they were read.
        var read = 0
        var sameRoot: Bool
    }

    /// Why `base` cannot be updated in place of a full build, or nil.
    static func fullBuildReason(_ base: Archive, grammars: GrammarRegistry) -> String? {
        for table in base.languages {
            if let g = grammars.grammars[table.name], g.table.grammarHash != table.grammarHash {
                return "the grammar of \(table.name) differs from the one the archive was built with"
            }
        }
        return nil
    }

    /// Why `build --reuse base` with `options` cannot take records from `base`, or nil:
    /// copied records must be encoded as this build would encode them.
    package static func reuseMismatch(_ base: Archive, _ options: BuildOptions, grammars: GrammarRegistry) -> String? {
        guard let state = base.treeState, !state.root.isEmpty else {
            return "\(base.path) was written by an older cstpack (archive format \(base.version)) and records no build figures"
        }
        let info = base.buildInfo
        var differ: [String] = []
        if info.codec != options.codec { differ.append("--codec") }
        if info.level != (options.level ?? options.codec.defaultLevel) { differ.append("--level") }
        if Int(state.options.sourceLevel) != (options.sourceLevel ?? options.codec.defaultSourceLevel) { differ.append("--source-level") }
        if Int(info.segmentSize) != options.segmentSize { differ.append("--segment-size") }
        if Int(state.options.checkpointBytes) != options.checkpointBytes { differ.append("--checkpoint-bytes") }
        if state.options.storeSource != options.storeSource { differ.append("--no-source") }
        if info.phases != options.phases { differ.append("--phases") }
        if !differ.isEmpty { return "\(base.path) was built with other \(differ.joined(separator: ", "))" }
        return fullBuildReason(base, grammars: grammars)
    }

    /// The recorded tree of `base`, or an error saying why it has none.
    static func recordedTree(_ base: Archive) throws -> TreeState {
        guard let state = base.treeState, !state.root.isEmpty else {
            throw CSTPackError("\(base.path) records no source tree (written by an older cstpack, archive format \(base.version)): "
                               + "run `cstpack build DIR -o \(base.path)` once")
        }
        return state
    }

    static func plan(_ base: Archive, options o: Options, grammars: GrammarRegistry,
                     events: (BuildEvent) -> Void) throws -> Plan {
        let state = try recordedTree(base)
        let root = o.root ?? state.rootPath
        var st = stat()
        guard stat(root, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR else {
            if o.root == nil {
                throw CSTPackError("the directory \(root) that \(base.path) was built from does not exist here (\(errnoText())); "
                                   + "name the tree (`cstpack update DIR`), or read the archive as built (--as-built)")
            }
            throw CSTPackError("\(root): not a directory")
        }
        let sameMachine = state.machine == TreeState.machineID()
        let sameRoot = sameMachine && realPath(root).map { Array($0.utf8) } == state.root
        // A stamp vouches for a file only where it was taken: the same directory on the same machine.
        let trustStamps = sameRoot && !o.reuse
        var options = o.build ?? state.buildOptions(base.buildInfo, root: root, output: o.output, jobs: o.jobs)
        options.parseHelper = o.parseHelper
        let selection = try Builder.select(options, grammars: grammars, events: events)
        var plan = Plan(options: options, selection: selection, sources: [], sameRoot: sameRoot)
        plan.summary.skipped = selection.skipped

        let languageOfBase = base.languages.map(\.name)
        var remembered: [[UInt8]: PassedOverFile] = [:]
        if trustStamps { for p in state.passedOver { remembered[p.path] = p } }
        // Base files by content, built on first need (a file whose stamp moved).
        struct ContentKey: Hashable { var hash: ContentHash; var language: String }
        var byContent: [ContentKey: [Int]]? = nil
        func baseFiles(holding key: ContentKey) throws -> [Int] {
            if byContent == nil {
                var index: [ContentKey: [Int]] = [:]
                for i in 0..<base.fileCount {
                    let f = try base.file(i)
                    index[ContentKey(hash: f.contentHash, language: languageOfBase[Int(f.language)]), default: []].append(i)
                }
                byContent = index
            }
            return byContent![key] ?? []
        }

        // Both lists are in byte order of path: one merge pass pairs them, and finds the
        // base's paths that are gone.
        var b = 0
        var basePath: [UInt8]? = base.fileCount > 0 ? try base.path(ofFile: 0) : nil
        var matched = -1
        var gone = Set<Int>()
        func advance() throws {
            if matched != b { gone.insert(b) }
            b += 1
            basePath = b < base.fileCount ? try base.path(ofFile: b) : nil
        }
        var newPathCopies: [[Int]] = []
        var overlap = 0
        for (k, chosen) in selection.chosen.enumerated() {
            let (f, language) = chosen
            while let p = basePath, p.lexicographicallyPrecedes(f.path) { try advance() }
            var samePath: Int? = nil
            if basePath == f.path {
                samePath = b
                matched = b
                overlap += 1
            }
            if let i = samePath, trustStamps, state.files[i].stamp == f.stamp, !f.stamp.isRacy(takenAt: base.modifiedAt),
               languageOfBase[Int(try base.file(i).language)] == language {
                plan.sources.append(.copy(base: i, stamp: f.stamp))
                plan.summary.unchanged += 1
                continue
            }
            if let p = remembered[f.path], p.stamp == f.stamp, !f.stamp.isRacy(takenAt: base.modifiedAt) {
                plan.sources.append(.skip(reason: p.reason == .binary ? "binary" : "parse failed", message: nil, remember: p))
                plan.summary.skipped.count(p.reason == .binary ? "binary" : "parse failed")
                continue
            }
            plan.read += 1
            switch WorkList.readSource(root: root, path: f.path, limit: options.maxFileSize) {
            case .skipped(let reason, let message):
                plan.summary.skipped.count(reason)
                plan.sources.append(.skip(reason: reason, message: message,
                                          remember: PassedOverFile.Reason(skipReason: reason).map { PassedOverFile(path: f.path, reason: $0, stamp: f.stamp) }))
            case .bytes(let bytes):
                let key = ContentKey(hash: bytes.withUnsafeBytes { Hash.content($0) }, language: language)
                if let i = samePath, try base.file(i).contentHash == key.hash, languageOfBase[Int(try base.file(i).language)] == language {
                    plan.sources.append(.copy(base: i, stamp: f.stamp))
                    plan.summary.unchanged += 1
                    plan.summary.touched += 1
                } else if let i = try baseFiles(holding: key).first {
                    plan.sources.append(.copy(base: i, stamp: f.stamp))
                    if samePath != nil { plan.summary.changed += 1 } else { newPathCopies.append(try baseFiles(holding: key)) }
                } else {
                    plan.sources.append(.parse(k))
                    plan.summary.parsed += 1
                    if samePath != nil { plan.summary.changed += 1 } else { plan.summary.added += 1 }
                }
            }
        }
        while basePath != nil { try advance() }
        // A new path holding the content of a path that is gone is a rename.
        plan.summary.deleted = gone.count
        for holders in newPathCopies {
            if let i = holders.first(where: { gone.contains($0) }), gone.remove(i) != nil {
                plan.summary.renamed += 1
                plan.summary.deleted -= 1
            } else {
                plan.summary.added += 1
            }
        }
        if selection.chosen.isEmpty && base.fileCount > 0 && !options.allowEmpty {
            throw CSTPackError("\(root): no files to pack any more; not replacing \(base.path) with an empty archive "
                               + "(`cstpack build \(root) --allow-empty` writes one)")
        }
        if !o.reuse && base.fileCount >= 4 && overlap * 2 < min(base.fileCount, selection.chosen.count) {
            throw CSTPackError("\(root) does not look like the tree \(base.path) was built from (\(state.rootPath)): only \(overlap) of its "
                               + "\(base.fileCount) stored paths are there; build a new archive (`cstpack build \(root)`, with --reuse "
                               + "\(base.path) to take what is identical)")
        }
        return plan
    }

    /// Updates `base` from its tree (or `options.root`) into `options.output`. Nothing is
    /// written when the tree is as the base records it.
    package static func update(_ base: Archive, options o: Options, grammars: GrammarRegistry,
                              events: (BuildEvent) -> Void) throws -> UpdateSummary {
        let started = monotonicSeconds()
        // Trees of two versions of a grammar cannot share one archive: a grammar that
        // changed since the build means a full build, with the recorded options.
        if !o.reuse, let why = fullBuildReason(base, grammars: grammars) {
            let state = try recordedTree(base)
            events(.warning("\(why): building the whole tree again"))
            var options = state.buildOptions(base.buildInfo, root: o.root ?? state.rootPath, output: o.output, jobs: o.jobs)
            options.parseHelper = o.parseHelper
            let built = try Builder.build(options, grammars: grammars, events: events)
            var summary = UpdateSummary()
            summary.files = built.files
            summary.parsed = built.files
            summary.skipped = built.skipped
            summary.archiveBytes = built.archiveBytes
            summary.wrote = true
            summary.seconds = monotonicSeconds() - started
            return summary
        }
        var plan = try plan(base, options: o, grammars: grammars, events: events)
        if plan.read == 0 && plan.summary.deleted == 0 && plan.sameRoot && !o.reuse {
            plan.summary.files = base.fileCount
        } else {
            try write(plan: &plan, base: base, options: o, grammars: grammars, events: events)
        }
        plan.summary.seconds = monotonicSeconds() - started
        return plan.summary
    }

    /// Parses what the plan asks for, then writes the new archive: segments of the base
    /// that still hold enough live records are copied whole, the rest repacked.
    static func write(plan: inout Plan, base: Archive, options o: Options, grammars: GrammarRegistry,
                      events: (BuildEvent) -> Void) throws {
        let options = plan.options
        let chosen = plan.selection.chosen
        // Languages of the new archive: the base's tables where it has them (equal to the
        // loaded grammar's, or this is a full build), else the loaded grammar's.
        // Every chosen file's language, as a build lists them.
        let languageNames = Set(chosen.map(\.language)).sorted()
        let languageIndex = Dictionary(uniqueKeysWithValues: languageNames.enumerated().map { ($1, $0) })
        let baseLanguage = Dictionary(base.languages.enumerated().map { ($1.name, $0) }, uniquingKeysWith: { a, _ in a })
        let tables = languageNames.map { baseLanguage[$0].map { base.languages[$0] } ?? grammars.grammars[$0]!.table }
        // Tag models stay those of the base: its records were coded with them. A language
        // new to the archive has none until the next full build.
        let models: [TagModel?] = try languageNames.map { try baseLanguage[$0].flatMap { try base.tagModel(language: $0) } }

        // Parse the new content, in parallel, in path order.
        let toParse = plan.sources.enumerated().compactMap { k, s -> Int? in if case .parse = s { return k } else { return nil } }
        var encoded: [Int: Builder.Outcome] = [:]
        if !toParse.isEmpty {
            let grammarsByIndex = languageNames.map { grammars.grammars[$0] }
            let files = toParse.map { (chosen[$0].file, languageIndex[chosen[$0].language]!) }
            guard files.allSatisfy({ grammarsByIndex[$0.1] != nil }) else { throw CSTPackError("a grammar went missing during the update") }
            let work = WorkList(files: files, grammars: grammarsByIndex.map { $0! }, preParsed: nil, options: options)
            // Each worker starts a parse helper (about 12 ms of CPU): one more per 256 KiB of
            // source to parse (some 40 ms of parsing), and runs short enough that each worker
            // gets two (a live answer waits for the slowest).
            let bytes = files.reduce(0) { $0 + $1.0.size }
            let jobs = max(1, min(options.jobs, files.count, 1 + bytes / (256 << 10)))
            let run = max(1, min(Builder.parseRun, (files.count + 2 * jobs - 1) / (2 * jobs)))
            let parsers = FileParsers(count: jobs, options: options)
            let queue = OrderedWorkQueue<Builder.Outcome>(total: files.count, window: jobs * 256)
            let join = startThreads(jobs) { worker in
                while let taken = queue.take(run: run) {
                    for (i, stage) in zip(taken, work.parse(taken, parser: parsers[worker])) {
                        switch stage {
                        case .done(let outcome): queue.put(i, outcome, bytes: outcome.bytes)
                        case .parsed(let p):
                            let outcome = work.encode(i, p, models: models)
                            queue.put(i, outcome, bytes: outcome.bytes)
                        }
                    }
                }
            }
            var done = 0
            while let outcome = queue.next() {
                encoded[toParse[done]] = outcome
                done += 1
                events(.progress(done, files.count, 0))
            }
            join()
        }

        // Which base records stay live: those of the files that will own records (the first
        // file of each content, language and flags, as the writer shares them).
        struct Key: Hashable { var hash: ContentHash; var language: Int; var flags: UInt16 }
        var owners = Set<Key>()
        var liveBytes = [Int](repeating: 0, count: base.segmentCount)
        for (k, s) in plan.sources.enumerated() {
            switch s {
            case .copy(let i, _):
                let f = try base.file(i)
                let key = Key(hash: f.contentHash, language: languageIndex[base.languages[Int(f.language)].name]!, flags: f.flags.rawValue)
                guard owners.insert(key).inserted else { continue }
                for r in f.cstRecords { let e = try base.record(r); liveBytes[e.segment.index] += Int(e.length) }
                for r in f.sourceRecords { let e = try base.record(r); liveBytes[e.segment.index] += Int(e.length) }
            case .parse:
                if case .encoded(let e)? = encoded[k] {
                    owners.insert(Key(hash: e.contentHash, language: e.language, flags: e.sourceFlags.union(e.syntaxErrors ? .syntaxErrors : []).rawValue))
                }
            case .skip: break
            }
        }
        let keep = o.ephemeral ? (0..<base.segmentCount).filter { liveBytes[$0] > 0 && ((try? base.segment($0))?.base == nil) }
                               : try segmentsToKeep(base, liveBytes: liveBytes)

        let writer = try ArchiveWriter(destination: options.output, languages: tables, phases: base.buildInfo.phases,
                                       codec: o.ephemeral ? .none : base.buildInfo.codec, level: base.buildInfo.level,
                                       sourceLevel: options.sourceLevel ?? base.buildInfo.codec.defaultSourceLevel,
                                       segmentSize: Int(base.buildInfo.segmentSize), durable: o.durable)
        do {
            var segmentMap: [Int: SegmentID] = [:]
            for s in keep.sorted() { segmentMap[s] = try writer.copySegment(s, of: base) }
            plan.summary.segmentsCopied = keep.count
            plan.summary.deadBytes = try keep.reduce(0) { $0 + Int(try base.segment($1).rawLength) - liveBytes[$1] }
            let reader = ArchiveReader(base, cacheLimit: 16 << 20, scanning: true)
            var repacked = Set<Int>()
            func records(_ range: Range<Int>, _ stream: Format.Stream) throws -> [ArchiveWriter.CopiedRecord] {
                try range.map { r in
                    let e = try base.record(r)
                    if let s = segmentMap[e.segment.index] {
                        return .inCopiedSegment(RecordEntry(segment: s, offset: e.offset, length: e.length, first: e.first))
                    }
                    repacked.insert(e.segment.index)
                    return .bytes(try reader.recordBytes(r, stream: stream), first: e.first)
                }
            }
            var passedOver: [PassedOverFile] = []
            let baseStates = try recordedTree(base).files
            for (k, s) in plan.sources.enumerated() {
                switch s {
                case .copy(let i, let stamp):
                    var f = try base.file(i)
                    f.language = UInt16(languageIndex[base.languages[Int(f.language)].name]!)
                    let old = baseStates[i]
                    let st = StoredFileState(stamp: stamp, treeSitterBytes: old.treeSitterBytes, phase1Bytes: old.phase1Bytes,
                                             unmodelledBytes: old.unmodelledBytes)
                    // A version 3 archive has no summaries: they are worked out from its trees.
                    let summary = try base.summaryBytes(ofFile: i) ?? reader.computedSummary(ofFile: i).bytes
                    try writer.add(copied: chosen[k].file.path, f, state: st, summary: summary,
                                   cst: { try records(f.cstRecords, .cst) },
                                   source: { try records(f.sourceRecords, .source) })
                    plan.summary.reused += 1
                    plan.summary.files += 1
                case .parse:
                    switch encoded[k]! {
                    case .encoded(let e):
                        try writer.add(e)
                        plan.summary.files += 1
                    case .skipped(let reason, let message):
                        plan.summary.skipped.count(reason)
                        plan.summary.parsed -= 1
                        if let r = PassedOverFile.Reason(skipReason: reason) { passedOver.append(PassedOverFile(path: chosen[k].file.path, reason: r, stamp: chosen[k].file.stamp)) }
                        if let m = message { events(.warning(m)) }
                    case .parsedOnly: break
                    }
                case .skip(_, let message, let remember):
                    if let p = remember { passedOver.append(p) }
                    if let m = message { events(.warning(m)) }
                }
            }
            plan.summary.segmentsRepacked = repacked.count
            writer.setModels(models)
            writer.setTree(TreeState.describing(options, root: options.root,
                                                usedGit: plan.selection.usedGit, passedOver: passedOver))
            try writer.finish(skipped: plan.summary.skipped)
            plan.summary.archiveBytes = writer.archiveBytes
            plan.summary.wrote = true
        } catch {
            writer.abort()
            throw error
        }
    }

    /// The base segments copied whole. A segment with no live record is dropped; one that
    /// is mostly dead, or under a quarter full (the tail an earlier update left), is
    /// repacked (its live records move to new segments); and while the dead bytes of the
    /// copied ones exceed 1% of the base's bytes, the deadest is repacked, so that an
    /// archive updated again and again stays within a few percent of a fresh build's size.
    /// Segments that name a base (a zstd dictionary) are always repacked.
    static func segmentsToKeep(_ base: Archive, liveBytes: [Int]) throws -> [Int] {
        var keep: [(segment: Int, dead: Int)] = []
        var total = 0
        for s in 0..<base.segmentCount {
            let e = try base.segment(s)
            total += Int(e.rawLength)
            let live = liveBytes[s]
            guard live > 0, e.base == nil, live * 2 >= Int(e.rawLength),
                  Int(e.rawLength) * 4 >= Int(base.buildInfo.segmentSize) else { continue }
            keep.append((s, Int(e.rawLength) - live))
        }
        var dead = keep.reduce(0) { $0 + $1.dead }
        keep.sort { $0.dead > $1.dead || ($0.dead == $1.dead && $0.segment < $1.segment) }
        var k = 0
        while dead * 100 > total, k < keep.count {
            dead -= keep[k].dead
            k += 1
        }
        return keep[k...].map(\.segment)
    }
}
