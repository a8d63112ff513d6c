/// `cstpack verify`: proves an archive is intact and, with a source, that every node
/// decodes exactly as tree-sitter produces it.
package struct VerifyOptions: Sendable {
    /// Re-parse each file from this directory and compare every node.
    package var sourceDirectory: String?
    /// Re-parse each file from the archive's stored source and compare every node.
    package var deep = false
    /// A cstpack executable whose `parse-helper` re-parses, or nil to re-parse in this
    /// process. The text re-parsed may be a forger's (the stored source), and grammars'
    /// scanners crash on some text: the CLI passes itself, so that is a problem reported.
    package var parseHelper: String?
    package var jobs = 1
    package init() {}
}

package struct VerifyReport: Sendable {
    package var files = 0
    package var uniqueFiles = 0
    package var nodes = 0
    package var segments = 0
    package var filesReparsed = 0
    package var nodesCompared = 0
    /// Bytes of segments that no record names (left by `update`; version 3).
    package var deadBytes = 0
    /// Not problems, but worth a look: files whose compressed CST is larger than their
    /// source (the next encoding pathology shows here first).
    package var warnings: [String] = []
    /// Each problem: what and where (file, segment, node).
    package var problems: [String] = []
    package var ok: Bool { problems.isEmpty }
}

package enum Verifier {
    package static func run(_ archive: Archive, options: VerifyOptions, grammars: GrammarRegistry?,
                           progress: (Int, Int) -> Void = { _, _ in }) -> VerifyReport {
        var report = VerifyReport()
        let reader = ArchiveReader(archive, cacheLimit: 16 << 20, scanning: true)
        func problem(_ s: String) { report.problems.append(s) }

        // Segments: checksum, codec, exact decompressed size; bases: checksums.
        report.segments = archive.segmentCount
        var segmentRaw: [Int] = []
        var segmentStream: [Format.Stream?] = []
        for i in 0..<archive.segmentCount {
            do {
                let s = try archive.segment(i)
                segmentRaw.append(Int(s.rawLength))
                segmentStream.append(s.stream)
                _ = try reader.segmentBytes(i)
            } catch {
                if segmentRaw.count == i { segmentRaw.append(0); segmentStream.append(nil) }
                let text = "\(error)"
                problem(text.hasPrefix("segment \(i):") ? text : "segment \(i): \(text)")
            }
        }
        // Bases: checksums; a tag model must parse with every kind, field and flag in range
        // for its language. Bases reference nothing (no base names another), so there can be
        // no cycle; files reach bases only through their language.
        for (b, e) in archive.bases.enumerated() {
            guard (try? archive.verifiedBaseBytes(b)) != nil else {
                problem("base \(b): checksum mismatch")
                continue
            }
            if e.kind == .tagModel {
                do { _ = try archive.tagModel(language: Int(e.language)) } catch { problem("\(error)") }
            }
        }
        // Records: inside their segments, never overlapping. In version 2 they tile each
        // segment exactly, in table order; from version 3 on, bytes no record names may
        // remain in a segment that `update` copied whole (dead bytes).
        var spans = [[(start: Int, end: Int, record: Int)]](repeating: [], count: archive.segmentCount)
        for i in 0..<archive.recordCount {
            do {
                let r = try archive.record(i)
                let s = r.segment.index
                guard s < archive.segmentCount else { throw FormatError("segment \(s) does not exist") }
                let end = Int(r.offset) + Int(r.length)
                guard end <= segmentRaw[s] else { throw FormatError("ends past segment \(s)") }
                if archive.version == 2, let last = spans[s].last, last.end != Int(r.offset) {
                    throw FormatError("starts at \(r.offset) in segment \(s), expected \(last.end)")
                }
                if archive.version == 2, spans[s].isEmpty, r.offset != 0 { throw FormatError("starts at \(r.offset) in segment \(s), expected 0") }
                spans[s].append((Int(r.offset), end, i))
            } catch {
                problem("record \(i): \(error)")
            }
        }
        for s in 0..<archive.segmentCount {
            let sorted = spans[s].sorted { $0.start < $1.start }
            var covered = 0
            for (a, b) in zip(sorted, sorted.dropFirst()) where b.start < a.end {
                problem("record \(b.record): overlaps record \(a.record) in segment \(s)")
            }
            for span in sorted { covered += span.end - span.start }
            if archive.version == 2 && covered != segmentRaw[s] {
                problem("segment \(s): records cover \(covered) of its \(segmentRaw[s]) bytes")
            } else if covered < segmentRaw[s] {
                report.deadBytes += segmentRaw[s] - covered
            }
        }

        // The summaries' table (19), read on first use: checked once here.
        var summariesReadable = true
        do { _ = try archive.summaryTable() } catch { problem("\(error)"); summariesReadable = false }
        // Files: sorted, unique, consistent; every unique CST decodes and keeps its invariants.
        var compressor: Compressor? = nil
        var previousPath: [UInt8]? = nil
        report.files = archive.fileCount
        var trees: [Int: (nodes: Int, errors: Bool)] = [:]
        // The cursor, not the build's direct walker: the proof does not share the code it checks.
        let parser = UntrustedTextParser(helper: options.parseHelper, reader: .cursor)
        for i in 0..<archive.fileCount {
            progress(i, archive.fileCount)
            var where_ = "file \(i)"
            do {
                let f = try archive.file(i)
                let path = try archive.path(ofFile: i)
                where_ = String(decoding: path, as: UTF8.self)
                if let p = previousPath, !p.lexicographicallyPrecedes(path) {
                    problem("\(where_): file index is not sorted by path (after \(String(decoding: p, as: UTF8.self)))")
                }
                previousPath = path
                report.nodes += Int(f.nodeCount)
                if let owner = f.sameAs {
                    let e = try archive.file(owner.index)
                    guard owner.index < i, e.sameAs == nil, e.contentHash == f.contentHash, e.language == f.language,
                          e.firstCSTRecord == f.firstCSTRecord, e.cstRecordCount == f.cstRecordCount,
                          e.firstSourceRecord == f.firstSourceRecord, e.sourceRecordCount == f.sourceRecordCount,
                          e.nodeCount == f.nodeCount, e.sourceLength == f.sourceLength, e.flags == f.flags else {
                        throw FormatError("shares the records of file \(owner), but their entries disagree")
                    }
                    // Its tree and text are the owner's, so is its summary.
                    if summariesReadable, try archive.summaryBytes(ofFile: i) != archive.summaryBytes(ofFile: owner.index) {
                        throw FormatError("shares the records of file \(owner), but its summary differs from that file's (19)")
                    }
                    if options.sourceDirectory == nil { continue }
                }
                let ft = try reader.fileTree(i)
                try checkInvariants(ft, entry: f)
                if summariesReadable, let stored = try archive.summary(ofFile: i) {
                    let table = archive.languages[Int(f.language)]
                    let computed = ft.source.map { text in text.withUnsafeBytes { FileSummary(ft.tree, kindCount: table.kindCount, source: $0) } }
                        ?? FileSummary(ft.tree, kindCount: table.kindCount, source: nil)
                    if let problem = stored.difference(from: computed, table: table) { throw FormatError("summary (19): \(problem)") }
                }
                if f.sameAs == nil {
                    if let w = try oversizedCST(i, f, reader: reader, compressor: &compressor) { report.warnings.append("\(where_): \(w)") }
                    report.uniqueFiles += 1
                    trees[i] = (ft.count, f.flags.contains(.syntaxErrors))
                }
                if options.deep || options.sourceDirectory != nil {
                    guard let grammars else { throw FormatError("no grammars loaded to re-parse") }
                    let compared = try reparseAndCompare(ft, entry: f, archive: archive, grammars: grammars,
                                                         directory: options.sourceDirectory, parser: parser)
                    report.filesReparsed += 1
                    report.nodesCompared += compared
                }
            } catch {
                problem("\(where_): \(error)")
            }
        }
        return report
    }

    /// A warning when file `i`'s CST, compressed on its own as its segments are, is larger
    /// than its source and more than 1 KiB (a tiny file's few nodes always outweigh its few
    /// bytes, and compressed alone they pay for context a segment shares). Only files whose
    /// raw CST is already larger are compressed (a CST never takes more than its raw size).
    static func oversizedCST(_ i: Int, _ f: FileEntry, reader: ArchiveReader, compressor: inout Compressor?) throws -> String? {
        guard f.cstBytes > f.sourceLength else { return nil }
        var raw: [UInt8] = []
        for r in f.cstRecords { raw.append(contentsOf: try reader.recordBytes(r, stream: .cst)) }
        let info = reader.archive.buildInfo
        if compressor == nil { compressor = Compressor(codec: info.codec, level: info.level) }
        let packed = info.codec == .none ? raw.count : min(raw.count, try raw.withUnsafeBytes { try compressor!.compress($0) }.count)
        guard packed > Int(f.sourceLength), packed > 1024 else { return nil }
        return "its CST takes \(packed) bytes compressed (\(raw.count) raw) for \(f.nodeCount) nodes "
            + "(\(String(format: "%.2f", Double(packed) / Double(f.nodeCount))) B/node), more than its \(f.sourceLength) bytes of source"
    }

    /// Structural invariants of a decoded tree against its index entry and source.
    static func checkInvariants(_ ft: FileTree, entry f: FileEntry) throws(FormatError) {
        let t = ft.tree
        guard t.count == Int(f.nodeCount) else { throw FormatError("\(t.count) nodes, index says \(f.nodeCount)") }
        for i in 1..<max(t.count, 1) {
            let p = Int(t.parents[i])
            guard p >= 0, p < i else { throw FormatError("node \(i): parent \(p) is not an earlier node") }
            guard t.starts[i] >= t.starts[p], t.ends[i] <= t.ends[p] else {
                throw FormatError("node \(i): range \(t.starts[i])..<\(t.ends[i]) outside its parent's \(t.starts[p])..<\(t.ends[p])")
            }
        }
        guard t.ends[0] <= f.sourceLength else { throw FormatError("root ends at \(t.ends[0]) past the source (\(f.sourceLength) bytes)") }
        guard t.flags[0].contains(.hasError) == f.flags.contains(.syntaxErrors) else {
            throw FormatError("the index's syntax-error flag disagrees with the tree")
        }
        if let s = ft.source {
            let h = s.withUnsafeBytes { Hash.content($0) }
            guard h == f.contentHash else { throw FormatError("stored source does not match its content hash") }
            let lines = s.withUnsafeBytes { Lines.count($0) }
            guard lines == Int(f.lineCount) else { throw FormatError("source has \(lines) lines, index says \(f.lineCount)") }
        } else if let starts = ft.lineStarts {
            guard starts.count >= 1, starts.count <= Int(f.lineCount) + 1 else { throw FormatError("line table has \(starts.count) rows for \(f.lineCount) lines") }
        }
    }

    /// Parses the file again (from `directory`, or its stored source) and compares every
    /// node: kind, field, flags, range and parent. Returns the number of nodes compared.
    static func reparseAndCompare(_ ft: FileTree, entry f: FileEntry, archive: Archive, grammars: GrammarRegistry,
                                  directory: String?, parser: UntrustedTextParser) throws -> Int {
        let table = ft.table
        guard let grammar = grammars.grammars[table.name] else {
            throw CSTPackError("no grammar '\(table.name)' loaded to re-parse with")
        }
        guard grammar.table.grammarHash == table.grammarHash else {
            throw CSTPackError("the loaded grammar '\(table.name)' (\(grammar.libraryPath)) differs from the one that built the archive")
        }
        let text: [UInt8]
        if let dir = directory {
            text = try readFile(Array(dir.utf8) + [UInt8(ascii: "/")] + ft.path, limit: Int(UInt32.max - 1))
            let h = text.withUnsafeBytes { Hash.content($0) }
            guard h == f.contentHash else { throw CSTPackError("differs from the archived file (changed since the build)") }
        } else {
            guard let s = ft.source else { throw CSTPackError("no stored source to re-parse (built with --no-source)") }
            text = s
        }
        let parsed = try parser.parse(text, grammar: grammar, timeoutMicros: 0)
        try compare(parsed, ft.tree, table: table)
        return parsed.count
    }

    /// The first difference between what tree-sitter gave and what the archive holds.
    static func compare(_ expected: CSTTree, _ actual: CSTTree, table: LanguageTable) throws {
        guard expected.count == actual.count else {
            throw CSTPackError("tree-sitter gives \(expected.count) nodes, the archive holds \(actual.count)")
        }
        for i in 0..<expected.count {
            func differs(_ what: String, _ a: String, _ b: String) -> CSTPackError {
                CSTPackError("node \(i) (\(table.kindNames[Int(expected.kinds[i])]) at byte \(expected.starts[i])): \(what) is \(b) in the archive, tree-sitter says \(a)")
            }
            if expected.kinds[i] != actual.kinds[i] {
                throw differs("kind", table.kindNames[Int(expected.kinds[i])], table.kindNames[Int(actual.kinds[i])])
            }
            if expected.fields[i] != actual.fields[i] { throw differs("field", "\(expected.fields[i])", "\(actual.fields[i])") }
            if expected.flags[i] != actual.flags[i] { throw differs("flags", "\(expected.flags[i].rawValue)", "\(actual.flags[i].rawValue)") }
            if expected.starts[i] != actual.starts[i] || expected.ends[i] != actual.ends[i] {
                throw differs("range", "\(expected.starts[i])..<\(expected.ends[i])", "\(actual.starts[i])..<\(actual.ends[i])")
            }
            if expected.parents[i] != actual.parents[i] { throw differs("parent", "\(expected.parents[i])", "\(actual.parents[i])") }
        }
    }
}
