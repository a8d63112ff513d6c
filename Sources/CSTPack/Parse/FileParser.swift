/// How `build` and `diff` parse a file: in the parse helper process (IsolatedParser), where
/// a crash in tree-sitter or a grammar costs one file instead of the build, when the file
/// has at least `isolateAbove` bytes (by default every file does); else in this process.
/// One per worker thread.
final class FileParser {
    let local = TreeSitterParser()
    let isolated: IsolatedParser?
    let isolateAbove: Int

    init(helper: String?, isolateAbove: Int) {
        isolated = helper.map { IsolatedParser(executable: $0) }
        self.isolateAbove = isolateAbove
    }

    convenience init(options: BuildOptions) {
        self.init(helper: options.parseHelper, isolateAbove: options.isolateAbove)
    }

    private func isolates(_ source: UnsafeRawBufferPointer) -> Bool {
        isolated != nil && source.count >= isolateAbove
    }

    func parse(_ source: UnsafeRawBufferPointer, grammar: Grammar, timeoutMicros: UInt64) throws -> TreeSitterParser.Result {
        if isolates(source), let helper = isolated {
            drain()
            return try helper.parse(source, grammar: grammar, timeoutMicros: timeoutMicros, wantTree: true)!
        }
        return try local.parse(source, grammar: grammar, timeoutMicros: timeoutMicros)
    }

    /// Parses several files (all of them, or none with `wantTree` false: parse only), the
    /// helper's share in batches of up to `batchBytes` of source. When the helper crashes
    /// during a batch, its files are parsed again one by one: only the file that crashed it
    /// fails. Per file, its result or its error, in order.
    func parse(_ jobs: [IsolatedParser.Job], timeoutMicros: UInt64, wantTree: Bool) -> [Result<TreeSitterParser.Result?, Error>] {
        finish(begin(jobs, timeoutMicros: timeoutMicros, wantTree: wantTree))
    }

    /// Files whose parse has begun: the results known, and the last batch, sent to the
    /// helper and not yet answered (its reply is read by `finish`).
    struct Pending {
        var results: [Result<TreeSitterParser.Result?, Error>?]
        var outstanding: (batch: [Int], request: Int)?
        let jobs: [IsolatedParser.Job]
        let timeoutMicros: UInt64
        let wantTree: Bool
    }

    /// Parses `jobs` as `parse` does, but leaves the last batch with the helper when it fits
    /// in its pipe, so that the caller can work (encode earlier files) while it is parsed.
    /// The jobs' sources must stay valid until `finish`.
    func begin(_ jobs: [IsolatedParser.Job], timeoutMicros: UInt64, wantTree: Bool) -> Pending {
        var p = Pending(results: [Result<TreeSitterParser.Result?, Error>?](repeating: nil, count: jobs.count), outstanding: nil,
                        jobs: jobs, timeoutMicros: timeoutMicros, wantTree: wantTree)
        var batch: [Int] = []
        var batchSize = 0
        for (k, job) in jobs.enumerated() {
            if isolates(job.source) {
                batch.append(k)
                batchSize += job.source.count
                if batchSize >= Self.batchBytes {
                    flush(batch, &p, leaveOutstanding: false)
                    batch.removeAll(); batchSize = 0
                }
            } else {
                p.results[k] = Result {
                    if wantTree { return try local.parse(job.source, grammar: job.grammar, timeoutMicros: timeoutMicros) }
                    try local.parseOnly(job.source, grammar: job.grammar, timeoutMicros: timeoutMicros)
                    return nil
                }
            }
        }
        if !batch.isEmpty {
            // Left with the helper only if it fits its pipe while the previous reply waits.
            let limit = (try? isolated?.inFlightLimit()) ?? 0
            let frame = batchSize + batch.reduce(12) { $0 + 29 + jobs[$1].grammar.libraryPath.utf8.count + jobs[$1].grammar.name.utf8.count }
            flush(batch, &p, leaveOutstanding: frame <= limit)
        }
        return p
    }

    /// The results of `begin`'s files, in order.
    func finish(_ pending: Pending) -> [Result<TreeSitterParser.Result?, Error>] {
        var p = pending
        if let (batch, request) = p.outstanding, let helper = isolated {
            p.outstanding = nil
            if inFlight?.request == request { drain() }
            switch arrived.removeValue(forKey: request) ?? .failure(CSTPackError("the parse helper's reply was lost")) {
            case .success(let done):
                for (k, r) in zip(batch, done) { p.results[k] = r }
            case .failure(let error):
                // A file alone crashed the helper: parsing it again would only crash again.
                if batch.count == 1 { p.results[batch[0]] = .failure(error) } else { oneByOne(batch, &p, helper) }
            }
        }
        return p.results.map { $0! }
    }

    // Replies come in request order. At most one request is left unanswered (the last
    // batch of a `begin`); before anything else is sent its reply is read and kept here,
    // so that no reply is taken for another's and no request waits behind an unread reply.
    private var inFlight: (request: Int, sent: IsolatedParser.Sent)? = nil
    private var arrived: [Int: Result<[Result<TreeSitterParser.Result?, Error>], Error>] = [:]
    private var requests = 0

    private func drain() {
        guard let f = inFlight, let helper = isolated else { return }
        inFlight = nil
        arrived[f.request] = Result { try helper.receive(f.sent) }
    }

    private func flush(_ batch: [Int], _ p: inout Pending, leaveOutstanding: Bool) {
        guard let helper = isolated else { return }
        drain()
        // A batch of one goes alone: after a crash it would only crash again.
        if batch.count > 1 || leaveOutstanding, let sent = try? helper.send(batch.map { p.jobs[$0] }, timeoutMicros: p.timeoutMicros, wantTree: p.wantTree) {
            if leaveOutstanding {
                requests += 1
                inFlight = (requests, sent)
                p.outstanding = (batch, requests)
                return
            }
            if let done = try? helper.receive(sent) {
                for (k, r) in zip(batch, done) { p.results[k] = r }
                return
            }
        }
        oneByOne(batch, &p, helper)
    }

    /// After a crash (or for a single file): each file alone, so only the culprit fails.
    private func oneByOne(_ batch: [Int], _ p: inout Pending, _ helper: IsolatedParser) {
        drain()
        for k in batch {
            let job = p.jobs[k]
            p.results[k] = Result { try helper.parse(job.source, grammar: job.grammar, timeoutMicros: p.timeoutMicros, wantTree: p.wantTree) }
        }
    }

    /// Source bytes sent to the helper in one request.
    static let batchBytes = IsolatedParser.batchBytes

    func parseOnly(_ source: UnsafeRawBufferPointer, grammar: Grammar, timeoutMicros: UInt64) throws {
        if isolates(source), let helper = isolated {
            drain()
            _ = try helper.parse(source, grammar: grammar, timeoutMicros: timeoutMicros, wantTree: false)
            return
        }
        try local.parseOnly(source, grammar: grammar, timeoutMicros: timeoutMicros)
    }
}

/// One FileParser per worker thread, handed from one parallel stage to the next (each is
/// used by one thread at a time: the stages do not overlap).
final class FileParsers: @unchecked Sendable {
    private let parsers: [FileParser]

    init(count: Int, options: BuildOptions) {
        parsers = (0..<max(1, count)).map { _ in FileParser(options: options) }
    }

    var count: Int { parsers.count }
    subscript(worker: Int) -> FileParser { parsers[worker] }
}
