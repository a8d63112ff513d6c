/// `cstpack stats`: sizes per language and in total, sections, segments, and what each
/// encoding phase contributes, all read from the archive (no re-parsing).
package struct StatsReport: Codable, Sendable {
    package struct Totals: Codable, Sendable {
        package var files = 0
        package var unique_files = 0
        package var lines = 0
        package var nodes = 0
        package var source_bytes = 0
        /// Everything in the archive but stored source text and the search summaries.
        package var cst_bytes = 0
        package var archive_bytes = 0
        package var bytes_per_node = 0.0
        package var lines_per_mb_of_cst = 0.0
        /// How `cst_bytes` was found. The total: "measured" (the archive's bytes less its
        /// stored source and summaries). A language: "estimated" (each segment's compressed size shared out
        /// over its records by raw size, the index and tables by node count), or with
        /// `--measure` "measured" (the language's CST records compressed on their own as the
        /// build compresses segments, plus its tag model; the index and tables not counted).
        package var cst_bytes_basis = "measured"
    }
    package struct Phase: Codable, Sendable {
        package var phase: String
        package var bytes: Int
        package var bytes_per_node: Double
    }
    package struct Segments: Codable, Sendable {
        package var cst_segments = 0
        package var source_segments = 0
        package var segment_size = 0
        package var cst_raw_bytes = 0
        package var cst_stored_bytes = 0
        package var source_raw_bytes = 0
        package var source_stored_bytes = 0
        /// Mean raw size of a segment over the segment size.
        package var mean_fill = 0.0
        package var codec = ""
        package var level = 0
    }
    package var archive: String
    package var format_version: Int
    package var total = Totals()
    package var languages: [String: Totals] = [:]
    package var sections: [String: Int] = [:]
    package var segments = Segments()
    package var phases: [Phase] = []
    package var phase2 = Phase2()
    /// The SUMMARIES section as stored (a search index, like the text: not in the CST bytes).
    package var summary_bytes = 0
    package var skipped: [String: Int] = [:]

    /// Phase 2 (delta bases): what it was given and what each kind of base contributed.
    package struct Phase2: Codable, Sendable {
        package var applied = false
        /// Stored size of each base: kind ("tag model"), language, bytes.
        package var bases: [Base] = []
        /// Bytecode (uncompressed) that tag models and identical files saved.
        package var tag_models_raw_saved = 0
        package var identical_files_raw_saved = 0
        /// With `--measure`: the CST segments re-encoded without phase 2 and compressed
        /// alike, and the compressed bytes each kind of base saved (net of its own size).
        package var measured: Measured? = nil
    }
    package struct Base: Codable, Sendable {
        package var kind: String
        package var language: String
        package var bytes: Int
    }
    package struct Measured: Codable, Sendable {
        package var cst_segments_without_phase2 = 0
        package var cst_segments_with_phase2 = 0
        package var tag_models_saved = 0
        /// Measured on the trees encoded without tag models: the CST segments with every
        /// identical file stored again, less without.
        package var identical_files_saved = 0
        package var cst_bytes_without_phase2 = 0
        package var reduction = 0.0
    }

    package static func compute(_ archive: Archive, measure: Bool = false) throws -> StatsReport {
        var report = StatsReport(archive: archive.path, format_version: Int(archive.version))
        for (id, e) in archive.sections.sorted(by: { $0.key.rawValue < $1.key.rawValue }) {
            report.sections["\(id)"] = Int(e.length)
        }
        // Segments, and each CST segment's stored size shared out over its records by raw size.
        var storedPerRawByte: [Double] = []
        var s = Segments()
        s.codec = "\(archive.buildInfo.codec)"
        s.level = archive.buildInfo.level
        s.segment_size = Int(archive.buildInfo.segmentSize)
        for i in 0..<archive.segmentCount {
            let e = try archive.segment(i)
            storedPerRawByte.append(Double(e.storedLength) / Double(e.rawLength))
            if e.stream == .cst {
                s.cst_segments += 1; s.cst_raw_bytes += Int(e.rawLength); s.cst_stored_bytes += Int(e.storedLength)
            } else {
                s.source_segments += 1; s.source_raw_bytes += Int(e.rawLength); s.source_stored_bytes += Int(e.storedLength)
            }
        }
        let count = s.cst_segments + s.source_segments
        s.mean_fill = count == 0 || s.segment_size == 0 ? 0 : Double(s.cst_raw_bytes + s.source_raw_bytes) / Double(count) / Double(s.segment_size)
        report.segments = s

        let summaryBytes = archive.sections[.summaries].map { Int($0.length) } ?? 0
        report.summary_bytes = summaryBytes
        let metadataBytes = archive.size - Int(archive.sections[.segments]!.length) - summaryBytes
        var totals = Totals()
        var perLanguage = [Totals](repeating: Totals(), count: archive.languages.count)
        var attributed = [Double](repeating: 0, count: archive.languages.count)
        var sourceAttributed = [Double](repeating: 0, count: archive.languages.count)
        // CST bytes that records name (segments an update copied may hold dead bytes).
        var liveCSTRaw = 0
        for i in 0..<archive.fileCount {
            let f = try archive.file(i)
            let l = Int(f.language)
            perLanguage[l].files += 1
            perLanguage[l].lines += Int(f.lineCount)
            perLanguage[l].nodes += Int(f.nodeCount)
            perLanguage[l].source_bytes += Int(f.sourceLength)
            guard f.sameAs == nil else { continue }
            perLanguage[l].unique_files += 1
            for index in f.cstRecords {
                let r = try archive.record(index)
                attributed[l] += Double(r.length) * storedPerRawByte[r.segment.index]
                liveCSTRaw += Int(r.length)
            }
            for index in f.sourceRecords {
                let r = try archive.record(index)
                let e = try archive.segment(r.segment.index)
                let share = Double(r.length) * storedPerRawByte[r.segment.index]
                if e.stream == .source && f.flags.contains(.source) { sourceAttributed[l] += share } else { attributed[l] += share }
            }
        }
        // Metadata (index, strings, tables) is shared out by node count.
        let allNodes = perLanguage.reduce(0) { $0 + $1.nodes }
        for l in perLanguage.indices {
            let meta = allNodes == 0 ? 0 : Double(metadataBytes) * Double(perLanguage[l].nodes) / Double(allNodes)
            perLanguage[l].cst_bytes = Int((attributed[l] + meta).rounded())
            perLanguage[l].archive_bytes = Int((attributed[l] + meta + sourceAttributed[l]).rounded())
            totals.files += perLanguage[l].files
            totals.unique_files += perLanguage[l].unique_files
            totals.lines += perLanguage[l].lines
            totals.nodes += perLanguage[l].nodes
            totals.source_bytes += perLanguage[l].source_bytes
        }
        let sourceStored = archive.fileCount == 0 ? 0 : try storedSourceBytes(archive)
        totals.archive_bytes = archive.size
        totals.cst_bytes = archive.size - sourceStored - summaryBytes
        report.total = finish(totals)
        var measuredLanguages: [Int]? = nil
        if measure { measuredLanguages = try languageBytesMeasured(archive) }
        for (l, t) in perLanguage.enumerated() {
            var t = t
            t.cst_bytes_basis = "estimated"
            if let m = measuredLanguages {
                t.cst_bytes = m[l]
                t.cst_bytes_basis = "measured"
            }
            report.languages[archive.languages[l].name] = finish(t)
        }

        // What each phase contributes, for CSTs only.
        let info = archive.buildInfo
        let n = Double(max(totals.nodes, 1))
        func phase(_ name: String, _ bytes: Int) -> Phase { Phase(phase: name, bytes: bytes, bytes_per_node: Double(bytes) / n) }
        let unmodelled = Self.sum(info.languages.map(\.unmodelledBytes))
        let bytecode = Self.sum(info.languages.map(\.bytecodeBytes))
        var p2 = Phase2()
        p2.applied = info.phases.contains(.delta)
        for (b, e) in archive.bases.enumerated() {
            let kind = e.kind == .tagModel ? "tag model" : "zstd dictionary"
            let language = Int(e.language) < archive.languages.count ? archive.languages[Int(e.language)].name : "?"
            p2.bases.append(Base(kind: kind, language: language, bytes: Int(e.length)))
        }
        p2.tag_models_raw_saved = unmodelled &- bytecode
        p2.identical_files_raw_saved = bytecode &- liveCSTRaw
        if measure {
            var m = Measured()
            m.cst_segments_with_phase2 = s.cst_stored_bytes
            let without = try segmentBytesWithoutPhase2(archive)
            m.cst_segments_without_phase2 = without.withDuplicates
            m.identical_files_saved = without.withDuplicates - without.unique
            // Without bases the section would hold only its 8-byte header.
            let basesStored = Int(archive.sections[.bases]!.length) - 8
            m.tag_models_saved = m.cst_segments_without_phase2 - m.identical_files_saved - s.cst_stored_bytes - basesStored
            m.cst_bytes_without_phase2 = totals.cst_bytes + (m.cst_segments_without_phase2 - s.cst_stored_bytes) - basesStored
            m.reduction = m.cst_bytes_without_phase2 == 0 ? 0 : 1 - Double(totals.cst_bytes) / Double(m.cst_bytes_without_phase2)
            p2.measured = m
        }
        report.phase2 = p2
        report.phases = [
            phase("tree-sitter's trees in memory", Self.sum(info.languages.map(\.treeSitterBytes))),
            phase("phase 1: plain varint records", Self.sum(info.languages.map(\.phase1Bytes))),
            phase("+ phase 3: bytecode, implicit structure", unmodelled),
            phase("+ phase 2: tag models (\(p2.bases.filter { $0.kind == "tag model" }.reduce(0) { $0 + $1.bytes }) B of bases)", bytecode),
            phase("+ phase 2: identical files stored once", liveCSTRaw),
            phase("+ segment compression (\(s.codec))", s.cst_stored_bytes),
            phase("archive CST bytes (with index and tables)", totals.cst_bytes),
        ]
        let k = info.skipped
        report.skipped = ["binary": k.binary, "too_large": k.tooLarge, "unknown_language": k.unknownLanguage,
                          "no_grammar": k.noGrammar, "unreadable": k.unreadable, "parse_failed": k.parseFailed, "symlinks": k.symlinks]
        return report
    }

    /// The CST segments' compressed size without phase 2: every stored tree re-encoded
    /// without its tag model and compressed as the build did, with each file that shares an
    /// identical one stored again, and without them.
    static func segmentBytesWithoutPhase2(_ archive: Archive) throws -> (withDuplicates: Int, unique: Int) {
        let info = archive.buildInfo
        let segmentSize = Int(info.segmentSize)
        guard segmentSize >= 4096 else { throw CSTPackError("the archive records no segment size") }
        var all = SegmentSizer(codec: info.codec, level: info.level, segmentSize: segmentSize)
        var unique = SegmentSizer(codec: info.codec, level: info.level, segmentSize: segmentSize)
        let reader = ArchiveReader(archive, scanning: true)
        reader.treeCacheLimit = 0
        var plain: [Int: [[UInt8]]] = [:]
        for i in 0..<archive.fileCount {
            let f = try archive.file(i)
            if let owner = f.sameAs, let records = plain[owner.index] {
                try all.add(records)
                continue
            }
            let tree = try reader.tree(ofFile: i)
            // As the build cut records (the default checkpoint interval: the archive does not record another).
            let records = try TreeCodec.encode(tree, table: archive.languages[Int(f.language)],
                                               recordLimit: Format.recordLimit(segmentSize: segmentSize)).records
            try all.add(records)
            try unique.add(records)
            if archive.fileCount > i + 1 { plain[i] = records }
        }
        return (try all.finish(), try unique.finish())
    }

    /// Each language's CST records (as stored) compressed on their own, in segments as the
    /// build fills them, plus its tag model's bytes.
    static func languageBytesMeasured(_ archive: Archive) throws -> [Int] {
        let info = archive.buildInfo
        let segmentSize = max(Int(info.segmentSize), 4096)
        var sizers = archive.languages.map { _ in SegmentSizer(codec: info.codec, level: info.level, segmentSize: segmentSize) }
        let reader = ArchiveReader(archive, scanning: true)
        for i in 0..<archive.fileCount {
            let f = try archive.file(i)
            guard f.sameAs == nil else { continue }
            var records: [[UInt8]] = []
            for k in 0..<Int(f.cstRecordCount) { records.append(Array(try reader.recordBytes(f.firstCSTRecord.index + k, stream: .cst))) }
            try sizers[Int(f.language)].add(records)
        }
        var out: [Int] = []
        for l in sizers.indices { out.append(try sizers[l].finish() + (archive.modelBase[l].map { Int(archive.bases[$0].length) } ?? 0)) }
        return out
    }

    /// Build-info figures are unchecked u64s: summed and converted without trapping
    /// (saturating at Int.max), as a corrupt archive may hold any value.
    static func sum(_ values: [UInt64]) -> Int {
        var total: UInt64 = 0
        for v in values {
            let (t, overflow) = total.addingReportingOverflow(v)
            total = overflow ? .max : t
        }
        return Int(clamping: total)
    }

    static func storedSourceBytes(_ archive: Archive) throws -> Int {
        var total = 0
        for i in 0..<archive.segmentCount {
            let e = try archive.segment(i)
            if e.stream == .source { total += Int(e.storedLength) }
        }
        return total
    }

    static func finish(_ t: Totals) -> Totals {
        var t = t
        t.bytes_per_node = t.nodes == 0 ? 0 : Double(t.cst_bytes) / Double(t.nodes)
        t.lines_per_mb_of_cst = t.cst_bytes == 0 ? 0 : Double(t.lines) / (Double(t.cst_bytes) / 1_000_000)
        return t
    }
}

/// A number with `digits` decimals, without Foundation's locale machinery.
package func fmt(_ v: Double, _ digits: Int) -> String {
    guard v.isFinite else { return "\(v)" }
    var p = 1.0
    for _ in 0..<digits { p *= 10 }
    let scaled = (abs(v) * p).rounded()
    let whole = Int(scaled / p)
    let frac = Int(scaled - Double(whole) * p)
    let sign = v < 0 && scaled != 0 ? "-" : ""
    if digits == 0 { return sign + "\(whole)" }
    return sign + "\(whole)." + String(frac).leftPadded(to: digits)
}
