import Foundation
import XCTest
@testable import CSTPack

/// Spec/vectors: the format's golden vectors. Instruction streams (records.txt) decode to
/// their listed nodes and the writer's rules produce their bytes; each stored archive
/// (`*.cstpack`) reads, structure by structure, exactly as its `.expected` says, and its
/// trees are those tree-sitter gives for its source (`verify --source`). They were written
/// once by `scripts/make-vectors`; a change to how any of them reads is a format change.
final class GoldenVectorTests: XCTestCase {
    static let directory = TestPaths.repoRoot.appendingPathComponent("Spec/vectors")
    /// Where the archives and their `.expected` files are: Spec/vectors, or
    /// $CSTPACK_VECTORS_DIR (scripts/make-vectors with VECTORS_OUT writes a copy there).
    static let archiveDirectory = ProcessInfo.processInfo.environment["CSTPACK_VECTORS_DIR"].map { URL(fileURLWithPath: $0) } ?? directory

    // MARK: Instruction streams

    struct RecordVector {
        var name = ""
        var kinds: [(String, Bool)] = []
        var fields: [String] = []
        var model: [UInt8]?
        var sourceLength = 0
        var nodeCount = 0
        var records: [(first: Int, bytes: [UInt8])] = []
        var encode: (limit: Int, perAncestor: Int)?
        var expected: [String]?
        var reject: String?

        var table: LanguageTable {
            LanguageTable(name: name, abi: 14, kindNames: kinds.map(\.0), kindNamed: kinds.map(\.1), fieldNames: [""] + fields)
        }
    }

    static func recordVectors() throws -> [RecordVector] {
        let text = try String(contentsOf: directory.appendingPathComponent("records.txt"), encoding: .utf8)
        var vectors: [RecordVector] = []
        var inExpect = false
        for (n, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = String(raw)
            if line.isEmpty || line.hasPrefix("#") { inExpect = false; continue }
            let t = try Self.tokens(line, line: n + 1)
            if t[0] == "vector" { vectors.append(RecordVector(name: t[1])); inExpect = false; continue }
            guard !vectors.isEmpty else { throw FormatError("records.txt:\(n + 1): before any vector") }
            if inExpect { vectors[vectors.count - 1].expected!.append(line); continue }
            var v = vectors.removeLast()
            switch t[0] {
            case "kinds":
                v.kinds = try t.dropFirst().map { k in
                    guard let slash = k.lastIndex(of: "/") else { throw FormatError("records.txt:\(n + 1): kind \(k)") }
                    return (String(k[..<slash]), k[k.index(after: slash)...] == "n")
                }
            case "fields": v.fields = Array(t.dropFirst())
            case "model": v.model = try Self.hex(t.dropFirst())
            case "source_length": v.sourceLength = Int(t[1])!
            case "node_count": v.nodeCount = Int(t[1])!
            case "record": v.records.append((Int(t[1].dropFirst("first=".count))!, try Self.hex(t.dropFirst(2))))
            case "encode":
                v.encode = (Int(t[1].dropFirst("record_limit=".count))!, Int(t[2].dropFirst("bytes_per_ancestor=".count))!)
            case "expect": v.expected = []; inExpect = true
            case "reject": v.reject = t.dropFirst().joined(separator: " ")
            default: throw FormatError("records.txt:\(n + 1): unknown line \(t[0])")
            }
            vectors.append(v)
        }
        return vectors
    }

    func testInstructionStreamsDecodeAsTheSpecSays() throws {
        let vectors = try Self.recordVectors()
        XCTAssertGreaterThanOrEqual(vectors.count, 15)
        XCTAssertGreaterThanOrEqual(vectors.filter { $0.reject != nil }.count, 10)
        for v in vectors {
            let table = v.table
            let model = try v.model.map { m in try m.withUnsafeBytes { try TagModel.parse($0, table: table, context: v.name) } }
            var decoder = TreeDecoder(table: table, model: model, nodeCount: v.nodeCount, sourceLength: v.sourceLength)
            let decoded: CSTTree
            do {
                XCTAssertEqual(v.records.first?.first, 0, "\(v.name): a file's first record starts at node 0")
                for (k, r) in v.records.enumerated() {
                    try r.bytes.withUnsafeBytes { try decoder.feed($0, context: "\(v.name) record \(k)") }
                }
                decoded = try decoder.finish(context: v.name)
            } catch {
                if v.reject == nil { XCTFail("\(v.name): \(error)") }
                continue
            }
            if let reason = v.reject {
                XCTFail("\(v.name): decoded, but the vector must be rejected (\(reason))")
                continue
            }
            let expected = v.expected ?? []
            XCTAssertEqual(Self.nodeLines(decoded, table: table, from: 0), expected, v.name)
            for (k, r) in v.records.enumerated() where k > 0 {
                let (nodes, open) = try decodeFromCheckpoint(v.records.map(\.bytes), from: k, base: r.first, table: table, model: model,
                                                             nodeCount: v.nodeCount, sourceLength: v.sourceLength)
                XCTAssertEqual(open, 0, "\(v.name) from record \(k)")
                XCTAssertEqual(Self.nodeLines(nodes, table: table, from: r.first), Array(expected[r.first...]), "\(v.name) from record \(k)")
            }
            if let e = v.encode {
                let enc = try TreeCodec.encode(decoded, table: table, model: model, recordLimit: e.limit, bytesPerAncestor: e.perAncestor)
                XCTAssertEqual(enc.records, v.records.map(\.bytes), "\(v.name): the writer's bytes")
                XCTAssertEqual(enc.firstNodes.map(Int.init), v.records.map(\.first), "\(v.name): the records' first nodes")
            }
        }
    }

    // MARK: Archives

    func testArchivesReadAsTheirExpectedDecodings() throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: Self.archiveDirectory.path)
            .filter { $0.hasSuffix(".cstpack") }.sorted()
        // Spec/vectors holds six (four of version 3, two of version 4); scripts/make-vectors
        // writes the two of the version this cstpack writes.
        XCTAssertGreaterThanOrEqual(names.count, Self.archiveDirectory == Self.directory ? 6 : 2,
                                    "vectors in \(Self.archiveDirectory.path); scripts/make-vectors writes them")
        let write = ProcessInfo.processInfo.environment["CSTPACK_WRITE_VECTORS"] == "1"
        for name in names {
            let path = Self.archiveDirectory.appendingPathComponent(name).path
            let expectedPath = String(path.dropLast(".cstpack".count)) + ".expected"
            let archive = try Archive(path: path)
            let lines = try Self.describe(archive, name: name)
            if write {
                try (lines.joined(separator: "\n") + "\n").write(toFile: expectedPath, atomically: true, encoding: .utf8)
                continue
            }
            let expected = try String(contentsOfFile: expectedPath, encoding: .utf8)
                .split(separator: "\n", omittingEmptySubsequences: false).map(String.init).dropLast()
            if let k = (0..<min(lines.count, expected.count)).first(where: { lines[$0] != expected[$0] }) {
                XCTFail("\(name): line \(k + 1) reads\n  \(lines[k])\nbut \(expectedPath) says\n  \(expected[k])")
            } else {
                XCTAssertEqual(lines.count, expected.count, "\(name): lines")
            }
            // The outside reference: the trees are tree-sitter's for the vectors' sources.
            var options = VerifyOptions()
            let folder = name.prefix { $0 != "-" } // scripts/make-vectors builds NAME from src/<NAME up to its first '-'>
            options.sourceDirectory = Self.directory.appendingPathComponent("src/\(folder)").path
            let report = Verifier.run(archive, options: options, grammars: try TestGrammars.require())
            XCTAssertTrue(report.ok, "\(name): verify --source: \(report.problems)")
            XCTAssertEqual(report.filesReparsed, archive.fileCount, name)
        }
    }

    /// What a reader finds in an archive, structure by structure in the spec's order
    /// (Spec/vectors/README.md describes the lines).
    static func describe(_ a: Archive, name: String) throws -> [String] {
        var out = ["# \(name): its decoding, as Spec/vectors/README.md describes the lines"]
        // The header's fields read here on their own, not through the reader under test.
        let header = try readBytes(a.path).prefix(Format.headerSize)
        func field<T: FixedWidthInteger>(_ at: Int, _: T.Type) -> T {
            (0..<MemoryLayout<T>.size).reduce(T(0)) { $0 | T(header[at + $1]) << ($1 * 8) }
        }
        let version = field(8, UInt32.self), flags = field(12, UInt32.self), length = field(16, UInt64.self)
        let tableOffset = field(24, UInt64.self), sectionCount = field(32, UInt32.self)
        let maxRaw = field(36, UInt32.self), tableChecksum = field(40, UInt64.self)
        out.append("header version=\(version) flags=\(flags) file_length=\(length) table_offset=\(tableOffset) section_count=\(sectionCount) max_segment_raw=\(maxRaw) table_checksum=\(hex64(tableChecksum))")
        XCTAssertEqual(Int(version), Int(a.version)); XCTAssertEqual(Int(maxRaw), a.maxSegmentRaw); XCTAssertEqual(Int(length), a.size)
        let sectionNames = [1: "STRINGS", 2: "LANGUAGES", 3: "BASES", 4: "SEGMENTS", 5: "SEGMENT_TABLE", 6: "RECORDS", 7: "FILES", 8: "BUILD_INFO", 9: "TREE", 10: "SUMMARIES"]
        for s in a.sections.values.sorted(by: { $0.offset < $1.offset }) {
            out.append("section \(s.id.rawValue) \(sectionNames[Int(s.id.rawValue)] ?? "?") codec=\(s.codec.rawValue) offset=\(s.offset) length=\(s.length) checksum=\(hex64(s.checksum))")
        }
        out.append("strings count=\(a.strings.count)")
        for i in 0..<a.strings.count { out.append("string \(i) \(quoted(try a.strings.byteArray(StringID(i))))") }
        for (i, l) in a.languages.enumerated() {
            out.append("language \(i) \(quoted(Array(l.name.utf8))) abi=\(l.abi) grammar_hash=\(hex64(l.grammarHash)) kinds=\(l.kindCount) fields=\(l.fieldCount)")
        }
        for (i, b) in a.bases.enumerated() {
            out.append("base \(i) kind=\(b.kind.rawValue) stream=\(b.stream.rawValue) language=\(b.language) offset=\(b.offset) length=\(b.length) checksum=\(hex64(b.checksum))")
        }
        for i in 0..<a.segmentCount {
            let s = try a.segment(i)
            let base = s.base.map { "\($0)" } ?? "NONE"
            out.append("segment \(i) offset=\(s.offset) stored=\(s.storedLength) raw=\(s.rawLength) codec=\(s.codec.rawValue) stream=\(s.stream.rawValue) base=\(base) checksum=\(hex64(s.checksum))")
        }
        for i in 0..<a.recordCount {
            let rec = try a.record(i)
            out.append("record \(i) segment=\(rec.segment) offset=\(rec.offset) length=\(rec.length) first=\(rec.first)")
        }
        let reader = ArchiveReader(a)
        for i in 0..<a.fileCount {
            let f = try a.file(i)
            let table = a.languages[Int(f.language)]
            let flagNames = [(Format.FileFlags.source, "SOURCE"), (.lineTable, "LINE_TABLE"), (.syntaxErrors, "SYNTAX_ERRORS")]
                .filter { f.flags.contains($0.0) }.map(\.1)
            let sameAs = f.sameAs.map { "\($0)" } ?? "NONE"
            out.append("file \(i) \(quoted(try a.path(ofFile: i))) language=\(f.language) flags=\(flagNames.isEmpty ? "-" : flagNames.joined(separator: ",")) "
                + "hash=\(f.contentHash) source_length=\(f.sourceLength) line_count=\(f.lineCount) node_count=\(f.nodeCount) cst_bytes=\(f.cstBytes) "
                + "cst_records=\(f.firstCSTRecord)+\(f.cstRecordCount) source_records=\(f.firstSourceRecord)+\(f.sourceRecordCount) same_as=\(sameAs)")
            out += nodeLines(try reader.tree(ofFile: i), table: table, from: 0).map { "  " + $0 }
            let source = try reader.source(ofFile: i)
            if let source { out.append("  text \(quoted(source))") }
            if let rows = try reader.lineStarts(ofFile: i, source: source), source == nil {
                out.append("  rows " + rows.map(String.init).joined(separator: " "))
            }
            if let summary = try a.summary(ofFile: i), let bytes = try a.summaryBytes(ofFile: i) {
                let kinds = summary.kinds.map { "\(table.kindNames[Int($0.kind)])=\($0.count)\($0.inner ? "+" : "")" }
                out.append("  summary bytes=\(bytes.map { String($0, radix: 16).leftPadded(to: 2) }.joined()) kinds=\(quoted(Array(kinds.joined(separator: " ").utf8))) filter=\(summary.filter.map { String($0, radix: 16).leftPadded(to: 16) }.joined(separator: ","))")
            }
        }
        let info = a.buildInfo
        out.append("build_info codec=\(info.codec.rawValue) level=\(info.level) phases=\(info.phases.rawValue) segment_size=\(info.segmentSize) skipped=\(info.skipped.asArray.map(String.init).joined(separator: ","))")
        for l in info.languages {
            out.append("build_info language=\(l.language) files=\(l.files) tree_sitter_bytes=\(l.treeSitterBytes) phase1_bytes=\(l.phase1Bytes) bytecode_bytes=\(l.bytecodeBytes) unmodelled_bytes=\(l.unmodelledBytes)")
        }
        if let t = a.treeState {
            let o = t.options
            out.append("tree root=\(quoted(t.root)) machine=\(quoted(t.machine)) source=\(o.storeSource) no_ignore=\(o.noIgnore) git=\(o.usedGit) "
                + "max_file_size=\(o.maxFileSize) checkpoint_bytes=\(o.checkpointBytes) source_level=\(o.sourceLevel) parse_timeout=\(o.parseTimeoutMicros) "
                + "excludes=\(o.excludes.count) overrides=\(o.languageOverrides.count)")
            for (i, s) in t.files.enumerated() {
                out.append("tree_file \(i) size=\(s.stamp.size) mtime_ns=\(s.stamp.mtimeNanos) ctime_ns=\(s.stamp.ctimeNanos) inode=\(s.stamp.inode) "
                    + "tree_sitter_bytes=\(s.treeSitterBytes) phase1_bytes=\(s.phase1Bytes) unmodelled_bytes=\(s.unmodelledBytes)")
            }
            for p in t.passedOver {
                out.append("tree_passed \(quoted(p.path)) reason=\(p.reason.rawValue) size=\(p.stamp.size)")
            }
        }
        return out
    }

    // MARK: Text forms

    /// One line per node from preorder id `first` on: `ID "KIND" [START,END) parent=P field=F FLAGS`.
    static func nodeLines(_ t: CSTTree, table: LanguageTable, from first: Int) -> [String] {
        (0..<t.count).map { i in
            let f = t.flags[i]
            let flags = [(CSTTree.Flags.named, "named"), (.extra, "extra"), (.missing, "missing"), (.hasError, "has_error")]
                .filter { f.contains($0.0) }.map(\.1)
            let parent = t.parents[i] < 0 ? "-" : "\(t.parents[i])"
            let field = t.fields[i] == 0 ? "-" : table.fieldNames[Int(t.fields[i])]
            return "\(first + i) \(quoted(Array(table.kindNames[Int(t.kinds[i])].utf8))) [\(t.starts[i]),\(t.ends[i])) parent=\(parent) field=\(field) "
                + (flags.isEmpty ? "-" : flags.joined(separator: " "))
        }
    }

    /// Bytes in double quotes: printable ASCII as is, `\\ \" \n \t`, anything else `\xHH`.
    static func quoted(_ bytes: [UInt8]) -> String {
        var s = "\""
        for b in bytes {
            switch b {
            case 0x5C: s += "\\\\"
            case 0x22: s += "\\\""
            case 0x0A: s += "\\n"
            case 0x09: s += "\\t"
            case 0x20..<0x7F: s.append(Character(Unicode.Scalar(b)))
            default: s += "\\x" + String(b, radix: 16, uppercase: true).leftPadded(to: 2)
            }
        }
        return s + "\""
    }

    static func hex64(_ v: UInt64) -> String { "0x" + String(v, radix: 16).leftPadded(to: 16) }

    static func hex<S: Sequence<String>>(_ tokens: S) throws -> [UInt8] {
        try tokens.map { t in
            guard t.count == 2, let b = UInt8(t, radix: 16) else { throw FormatError("not a hex byte: \(t)") }
            return b
        }
    }

    /// Splits a line at spaces; a double-quoted token keeps its spaces and its escapes.
    static func tokens(_ line: String, line n: Int) throws -> [String] {
        var out: [String] = []
        var current = "", quoted = false, escaped = false
        for c in line {
            if escaped { current.append("\\"); current.append(c); escaped = false; continue }
            if quoted, c == "\\" { escaped = true; continue }
            if c == "\"" { quoted.toggle(); continue }
            if c == " ", !quoted {
                if !current.isEmpty { out.append(current); current = "" }
                continue
            }
            current.append(c)
        }
        guard !quoted else { throw FormatError("records.txt:\(n): unclosed quote") }
        if !current.isEmpty { out.append(current) }
        return out
    }
}
