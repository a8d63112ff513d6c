/// Constants and fixed-size entries of the `.cstpack` layout (Spec/FORMAT.md).
/// All integers are little-endian.
package enum Format {
    package static let magic: [UInt8] = [0x89, 0x43, 0x53, 0x54, 0x50, 0x4B, 0x0D, 0x0A] // \x89 C S T P K \r \n
    /// The version this cstpack writes.
    package static let version: UInt32 = 3
    /// The versions it reads: version 2 is version 3 without the TREE section (and with
    /// records that tile their segments exactly).
    package static let readableVersions: ClosedRange<UInt32> = 2...3
    package static let headerSize = 64
    package static let sectionEntrySize = 32
    package static let segmentEntrySize = 32
    package static let recordEntrySize = 16
    package static let fileEntrySize = 64
    package static let baseEntrySize = 32
    package static let none32: UInt32 = 0xFFFF_FFFF
    /// The v2 writer starts a new CST record (a checkpoint, 11.4) once a record's
    /// instructions reach this many bytes, or the segment size if that is smaller: a
    /// lookup inside a large file then decodes from the nearest checkpoint, not the start.
    package static let checkpointBytes = 8 << 10
    /// The record limit of a build with segments of `segmentSize` bytes.
    package static func recordLimit(segmentSize: Int, checkpointBytes: Int = Format.checkpointBytes) -> Int {
        min(segmentSize, checkpointBytes)
    }
    /// A segment's raw length may never exceed this, whatever the header says.
    package static let maxSegmentRaw = 1 << 30

    package struct HeaderFlags: OptionSet, Sendable {
        package let rawValue: UInt32
        package init(rawValue: UInt32) { self.rawValue = rawValue }
        /// Source text is stored for the files (each file's own flag says whether it has it).
        package static let sources = HeaderFlags(rawValue: 1)
        package static let known: HeaderFlags = [.sources]
    }

    package enum SectionID: UInt32, CaseIterable, Sendable {
        case strings = 1, languages = 2, bases = 3, segments = 4, segmentTable = 5, records = 6, files = 7, buildInfo = 8
        /// The built directory, build options and file stamps (version 3).
        case tree = 9

        /// The sections an archive of `version` must have, each exactly once.
        static func required(version: UInt32) -> [SectionID] { version >= 3 ? allCases : allCases.filter { $0 != .tree } }
    }

    /// How a section's bytes are stored (the section table entry's second field).
    package enum SectionCodec: UInt32, Sendable {
        case stored = 0
        /// u64 raw length, then one zstd frame.
        case zstd = 1
    }

    /// A compressed section may expand at most this much (bounds the allocation).
    package static let maxSectionExpansion = 1024

    package enum Stream: UInt8, Sendable {
        case cst = 0
        case source = 1
    }

    package enum BaseKind: UInt8, Sendable {
        case zstdDictionary = 1
        /// A language's tag model (phase 2): used by every CST record of that language.
        case tagModel = 2
    }

    /// The encoding phases a build applied (BUILD_INFO), as bits.
    package struct Phases: OptionSet, Sendable, Equatable {
        package let rawValue: UInt16
        package init(rawValue: UInt16) { self.rawValue = rawValue }
        package static let packing = Phases(rawValue: 1)
        package static let delta = Phases(rawValue: 2)
        package static let bytecode = Phases(rawValue: 4)
        package static let all: Phases = [.packing, .delta, .bytecode]
    }

    package struct FileFlags: OptionSet, Sendable {
        package let rawValue: UInt16
        package init(rawValue: UInt16) { self.rawValue = rawValue }
        /// The source records hold the file's text.
        package static let source = FileFlags(rawValue: 1)
        /// The source records hold a line table (varint line lengths) instead of text.
        package static let lineTable = FileFlags(rawValue: 2)
        /// The tree has ERROR or MISSING nodes.
        package static let syntaxErrors = FileFlags(rawValue: 4)
        package static let known: FileFlags = [.source, .lineTable, .syntaxErrors]
    }
}

package struct SectionEntry: Sendable {
    package var id: UInt32
    package var codec: Format.SectionCodec
    package var offset: UInt64
    package var length: UInt64
    package var checksum: UInt64
}

package struct SegmentEntry: Sendable {
    package var offset: UInt64
    package var storedLength: UInt32
    package var rawLength: UInt32
    package var codec: Codec
    package var stream: Format.Stream
    package var base: UInt32
    package var checksum: UInt64
}

package struct RecordEntry: Sendable, Equatable {
    package var segment: UInt32
    package var offset: UInt32
    package var length: UInt32
    /// First node id (CST records) or first source byte / line (source records).
    package var first: UInt32
}

package struct FileEntry: Sendable {
    package var pathID: UInt32
    package var language: UInt16
    package var flags: Format.FileFlags
    package var contentHash: ContentHash
    package var sourceLength: UInt32
    package var lineCount: UInt32
    package var nodeCount: UInt32
    package var cstBytes: UInt32
    package var firstCSTRecord: UInt32
    package var cstRecordCount: UInt32
    package var firstSourceRecord: UInt32
    package var sourceRecordCount: UInt32
    /// Index of the earlier file whose records this one shares (identical content), or none32.
    package var sameAs: UInt32

    func write(to w: inout ByteWriter) {
        w.u32(pathID); w.u16(language); w.u16(flags.rawValue)
        w.u64(contentHash.low); w.u64(contentHash.high)
        w.u32(sourceLength); w.u32(lineCount); w.u32(nodeCount); w.u32(cstBytes)
        w.u32(firstCSTRecord); w.u32(cstRecordCount); w.u32(firstSourceRecord); w.u32(sourceRecordCount)
        w.u32(sameAs); w.u32(0)
    }

    static func read(_ r: inout ByteReader) throws(FormatError) -> FileEntry {
        let e = FileEntry(
            pathID: try r.u32(), language: try r.u16(), flags: Format.FileFlags(rawValue: try r.u16()),
            contentHash: ContentHash(low: try r.u64(), high: try r.u64()),
            sourceLength: try r.u32(), lineCount: try r.u32(), nodeCount: try r.u32(), cstBytes: try r.u32(),
            firstCSTRecord: try r.u32(), cstRecordCount: try r.u32(), firstSourceRecord: try r.u32(),
            sourceRecordCount: try r.u32(), sameAs: try r.u32())
        guard try r.u32() == 0 else { throw FormatError("\(r.context): reserved field is not zero") }
        return e
    }
}

/// Per-language figures recorded at build time, for `stats`.
package struct LanguageBuildInfo: Sendable, Equatable {
    package var language: UInt16
    package var files: UInt32
    /// Bytes tree-sitter's own trees held (measured through its allocator).
    package var treeSitterBytes: UInt64
    /// The same trees in the plain phase-1 record layout.
    package var phase1Bytes: UInt64
    /// Phase-3 bytecode of every file, before identical files are shared.
    package var bytecodeBytes: UInt64
    /// The same bytecode without the tag model (equal to `bytecodeBytes` when there is none).
    package var unmodelledBytes: UInt64 = 0
}

package struct BuildInfo: Sendable, Equatable {
    package var languages: [LanguageBuildInfo] = []
    package var codec: Codec = .zstd
    package var level: Int = 0
    package var segmentSize: UInt32 = 0
    package var phases: Format.Phases = .all
    package var skipped: SkipCounts = SkipCounts()
}

/// Files a build passed over, by reason.
package struct SkipCounts: Sendable, Equatable {
    package var binary = 0
    package var tooLarge = 0
    package var unknownLanguage = 0
    package var noGrammar = 0
    package var unreadable = 0
    package var parseFailed = 0
    package var symlinks = 0
    package var total: Int { binary + tooLarge + unknownLanguage + noGrammar + unreadable + parseFailed + symlinks }
    static let fieldCount = 7
    var asArray: [Int] { [binary, tooLarge, unknownLanguage, noGrammar, unreadable, parseFailed, symlinks] }
    init() {}
    init(_ a: [Int]) {
        binary = a[0]; tooLarge = a[1]; unknownLanguage = a[2]; noGrammar = a[3]
        unreadable = a[4]; parseFailed = a[5]; symlinks = a[6]
    }
}
