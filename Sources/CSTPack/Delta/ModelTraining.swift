import Glibc

/// Trains phase 2's tag models: parses a deterministic sample of each language's files
/// (which the build then encodes without parsing again), counts their instructions, and
/// keeps a language's model only when it pays for itself (measured on the sample,
/// compressed as the build compresses, against the model's own stored size). Fitting runs
/// on a thread of its own while the workers parse the other files; they wait for the
/// models (`ModelGate`) only to encode.
package enum ModelTraining {
    /// Sample size per language: 1/16 of its source, at least 256 KiB, at most 2 MiB.
    static func sampleBudget(totalBytes: Int) -> Int { min(max(totalBytes / 16, 256 << 10), 2 << 20) }

    /// What training decided for one language (for `--verbose` and `stats`).
    package struct Report: Sendable {
        package var language: String
        package var sampleFiles: Int
        package var sampleBytes: Int
        /// Compressed CST bytes of the sample without and with the model.
        package var sampleWithout: Int
        package var sampleWith: Int
        /// The model's stored (compressed) size; nil when no model was trained.
        package var modelBytes: Int?
        package var kept: Bool
        /// Wall time spent parsing the whole sample (all languages) and training this model.
        package var parseSeconds = 0.0
        package var trainSeconds = 0.0
    }

    /// Files parsed for the sample, which the build encodes without parsing them again.
    final class Parsed: @unchecked Sendable {
        private var byFile: [Int: (bytes: [UInt8], result: TreeSitterParser.Result)] = [:]
        private let lock = Mutex()

        func put(_ i: Int, _ bytes: [UInt8], _ result: TreeSitterParser.Result) { lock.locked { byFile[i] = (bytes, result) } }
        /// File `i`'s bytes and parse, once (they are released when taken).
        func take(_ i: Int) -> (bytes: [UInt8], result: TreeSitterParser.Result)? { lock.locked { byFile.removeValue(forKey: i) } }
        func peek(_ i: Int) -> TreeSitterParser.Result? { lock.locked { byFile[i]?.result } }
    }

    /// The parsed sample, ready for `fit`.
    struct Sample {
        let indices: [Int]
        let parsed: Parsed
        /// The sample's trees by file index, taken before the workers start consuming
        /// `parsed` (the fit runs while they do).
        let trees: [Int: CSTTree]
        let totals: [Int]
        let parseSeconds: Double
    }

    /// Chooses and parses the sample (one thread per parser; the build's workers use the
    /// same parsers afterwards, and their helper processes). `files`: (file, language index)
    /// in path order.
    static func parseSample(files: [(WalkedFile, Int)], grammars: [Grammar], options: BuildOptions, parsers: FileParsers) -> Sample {
        // The sample: per language, files in the order of a hash of their path, until the
        // budget is reached. The hash spreads the sample over the tree; the order does not
        // depend on the number of workers, so neither does the model.
        var totals = [Int](repeating: 0, count: grammars.count)
        for (f, l) in files { totals[l] += f.size }
        let keys = files.map { Hash.xxh3($0.0.path) }
        // Paths are distinct, so ties in the hash are broken by the path.
        let order = files.indices.sorted {
            keys[$0] != keys[$1] ? keys[$0] < keys[$1] : files[$0].0.path.lexicographicallyPrecedes(files[$1].0.path)
        }
        var taken = [Int](repeating: 0, count: grammars.count)
        var chosen: [Int] = []
        for i in order {
            let (f, l) = files[i]
            // Files that would overrun the budget are passed over, so that one huge file
            // cannot make the whole sample (or the training time).
            guard taken[l] + f.size <= sampleBudget(totalBytes: totals[l]) else { continue }
            taken[l] += f.size
            chosen.append(i)
        }
        let sample = chosen.sorted()

        // Parse the sample on all workers; each keeps its trees by sample position.
        final class Next: @unchecked Sendable {
            let lock = Mutex()
            var next = 0
        }
        let counter = Next()
        let parsed = Parsed()
        let parseStarted = monotonicSeconds()
        let join = startThreads(parsers.count) { worker in
            let parser = parsers[worker]
            while true {
                let k: Int = counter.lock.locked {
                    defer { counter.next += 1 }
                    return counter.next
                }
                guard k < sample.count else { return }
                let (file, language) = files[sample[k]]
                guard case .bytes(let bytes) = WorkList.readSource(root: options.root, path: file.path, limit: options.maxFileSize),
                      let result = try? bytes.withUnsafeBytes({ try parser.parse($0, grammar: grammars[language], timeoutMicros: options.parseTimeoutMicros) })
                else { continue } // the main pass reports what is wrong with the file
                parsed.put(sample[k], bytes, result)
            }
        }
        join()
        var trees: [Int: CSTTree] = [:]
        for i in sample { if let r = parsed.peek(i) { trees[i] = r.tree } }
        return Sample(indices: sample, parsed: parsed, trees: trees, totals: totals, parseSeconds: monotonicSeconds() - parseStarted)
    }

    /// Trains each language's model from the sample and keeps those that pay.
    static func fit(_ s: Sample, files: [(WalkedFile, Int)], grammars: [Grammar], options: BuildOptions) -> (models: [TagModel?], reports: [Report]) {
        let sample = s.indices, totals = s.totals, parseSeconds = s.parseSeconds
        var models = [TagModel?](repeating: nil, count: grammars.count)
        var reports: [Report] = []
        for l in grammars.indices {
            let trainStarted = monotonicSeconds()
            let table = grammars[l].table
            let trainer = TagModelTrainer(table: table)
            var trees: [CSTTree] = []
            for i in sample where files[i].1 == l {
                guard let tree = s.trees[i] else { continue }
                try? trainer.add(tree, sourceBytes: files[i].0.size)
                trees.append(tree)
            }
            var report = Report(language: table.name, sampleFiles: trainer.sampleFiles, sampleBytes: trainer.sampleBytes,
                                sampleWithout: 0, sampleWith: 0, modelBytes: nil, kept: false)
            defer {
                report.parseSeconds = parseSeconds
                report.trainSeconds = monotonicSeconds() - trainStarted
                reports.append(report)
            }
            guard trainer.instructions > 0 else { continue }
            let model = trainer.model()
            guard let stored = try? SectionCompression.compress(model.serialized()),
                  let without = try? compressedSize(trees, table: table, model: nil, options: options),
                  let with = try? compressedSize(trees, table: table, model: model, options: options) else { continue }
            report.sampleWithout = without
            report.sampleWith = with
            report.modelBytes = stored.count
            // The saving on the sample, scaled to the language's whole source, must exceed
            // the model's size with a margin (the sample is also the training set).
            let projected = Double(without - with) * Double(totals[l]) / Double(max(trainer.sampleBytes, 1))
            if projected > 1.5 * Double(stored.count) || options.keepEveryModel {
                models[l] = model
                report.kept = true
            }
        }
        return (models, reports)
    }

    /// Compressed size of `trees` encoded with or without `model`, in segments of the
    /// build's size and codec (an estimate of what the archive would hold).
    static func compressedSize(_ trees: [CSTTree], table: LanguageTable, model: TagModel?, options: BuildOptions) throws -> Int {
        var sizer = SegmentSizer(codec: options.codec, level: options.level ?? options.codec.defaultLevel, segmentSize: options.segmentSize)
        for t in trees {
            try sizer.add(try TreeCodec.encode(t, table: table, model: model, recordLimit: options.recordLimit).records)
        }
        return try sizer.finish()
    }
}

/// What records would take once packed into segments and compressed as the archive writer
/// does (same sealing rule, codec and level), without writing anything.
struct SegmentSizer {
    let compressor: Compressor
    let segmentSize: Int
    private var segment: [UInt8] = []
    private(set) var total = 0

    init(codec: Codec, level: Int, segmentSize: Int) {
        compressor = Compressor(codec: codec, level: level)
        self.segmentSize = segmentSize
    }

    mutating func add(_ records: [[UInt8]]) throws {
        for record in records {
            if !segment.isEmpty && segment.count + record.count > segmentSize { try seal() }
            segment.append(contentsOf: record)
        }
    }

    private mutating func seal() throws {
        guard !segment.isEmpty else { return }
        // The writer stores a segment raw when compressing does not make it smaller.
        total += min(try segment.withUnsafeBytes { try compressor.compress($0) }.count, segment.count)
        segment.removeAll(keepingCapacity: true)
    }

    mutating func finish() throws -> Int {
        try seal()
        return total
    }
}

/// The tag models, once trained: workers wait here before encoding their first file.
final class ModelGate: @unchecked Sendable {
    private var mutex = pthread_mutex_t()
    private var condition = pthread_cond_t()
    private var value: (models: [TagModel?], reports: [ModelTraining.Report])? = nil

    init() {
        pthread_mutex_init(&mutex, nil)
        pthread_cond_init(&condition, nil)
    }

    /// A gate that is open from the start (no training).
    convenience init(models: [TagModel?]) {
        self.init()
        value = (models, [])
    }

    deinit {
        pthread_cond_destroy(&condition)
        pthread_mutex_destroy(&mutex)
    }

    func open(_ models: [TagModel?], reports: [ModelTraining.Report]) {
        pthread_mutex_lock(&mutex)
        value = (models, reports)
        pthread_cond_broadcast(&condition)
        pthread_mutex_unlock(&mutex)
    }

    /// The models if they are ready, without waiting.
    func ready() -> [TagModel?]? {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return value?.models
    }

    func wait() -> (models: [TagModel?], reports: [ModelTraining.Report]) {
        pthread_mutex_lock(&mutex)
        while value == nil { pthread_cond_wait(&condition, &mutex) }
        let v = value!
        pthread_mutex_unlock(&mutex)
        return v
    }
}
