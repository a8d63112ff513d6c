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
            return try helper.parse(source, grammar: grammar, timeoutMicros: timeoutMicros, wantTree: true)!
        }
        return try local.parse(source, grammar: grammar, timeoutMicros: timeoutMicros)
    }

    /// Parses several files (all of them, or none with `wantTree` false: parse only), the
    /// helper's share in batches of up to `batchBytes` of source. When the helper crashes
    /// during a batch, its files are parsed again one by one: only the file that crashed it
    /// fails. Per file, its result or its error, in order.
    func parse(_ jobs: [IsolatedParser.Job], timeoutMicros: UInt64, wantTree: Bool) -> [Result<TreeSitterParser.Result?, Error>] {
        var results = [Result<TreeSitterParser.Result?, Error>?](repeating: nil, count: jobs.count)
        var batch: [Int] = []
        var batchSize = 0
        func flush() {
            guard !batch.isEmpty, let helper = isolated else { return }
            defer { batch.removeAll(); batchSize = 0 }
            // A batch of one goes alone: after a crash it would only crash again.
            if batch.count > 1, let done = try? helper.parse(batch.map { jobs[$0] }, timeoutMicros: timeoutMicros, wantTree: wantTree) {
                for (k, r) in zip(batch, done) { results[k] = r }
                return
            }
            for k in batch {
                results[k] = Result { try helper.parse(jobs[k].source, grammar: jobs[k].grammar, timeoutMicros: timeoutMicros, wantTree: wantTree) }
            }
        }
        for (k, job) in jobs.enumerated() {
            if isolates(job.source) {
                batch.append(k)
                batchSize += job.source.count
                if batchSize >= Self.batchBytes { flush() }
            } else {
                results[k] = Result {
                    if wantTree { return try local.parse(job.source, grammar: job.grammar, timeoutMicros: timeoutMicros) }
                    try local.parseOnly(job.source, grammar: job.grammar, timeoutMicros: timeoutMicros)
                    return nil
                }
            }
        }
        flush()
        return results.map { $0! }
    }

    /// Source bytes sent to the helper in one request.
    static let batchBytes = 256 << 10

    func parseOnly(_ source: UnsafeRawBufferPointer, grammar: Grammar, timeoutMicros: UInt64) throws {
        if isolates(source), let helper = isolated {
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
