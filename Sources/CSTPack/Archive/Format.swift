/// Constants and fixed-size entries of the `.cstpack` layout (Spec/FORMAT.md).
/// All integers are little-endian.
public enum Format {
    public static let magic: [UInt8] = [0x89, 0x43, 0x53, 0x54, 0x50, 0x4B, 0x0D, 0x0A] // \x89 C S T P K \r \n
    /// The version this cstpack writes.
    public static let version: UInt32 = 3
    /// The versions it reads: version 2 is version 3 without the TREE section (and with
    /// records that tile their segments exactly).
    public static let readableVersions: ClosedRange<UInt32> = 2...3
    public static let headerSize = 64
    public static let sectionEntrySize = 32
    public static let segmentEntrySize = 32
    public static let recordEntrySize = 16
    public static let fileEntrySize = 64
    public static let baseEntrySize = 32
    public static let none32: UInt32 = 0xFFFF_FFFF
    /// The v2 writer starts a new CST record (a checkpoint, 11.4) once a record's
    /// instructions reach this many bytes, or the segment size if that is smaller: a
    /// lookup inside a large file then decodes from the nearest checkpoint, not the start.
    public static let checkpointBytes = 8 << 10
    /// The record limit of a build with segments of `segmentSize` bytes.
    public static func recordLimit(segmentSize: Int, checkpointBytes: Int = Format.checkpointBytes) -> Int {
        min(segmentSize, checkpointBytes)
    }
    /// A segment's raw length may never exceed this, whatever the header says.
    public static let maxSegmentRaw = 1 << 30

    public struct HeaderFlags: OptionSet, Sendable {
        public let rawValue: UInt32
        public init(rawValue: UInt32) { self.rawValue = rawValue }
        /// Source text is stored for the files (each file's own flag says whether it has it).
        public static let sources = HeaderFlags(rawValue: 1)
        public static let known: HeaderFlags = [.sources]
    }

    public enum SectionID: UInt32, CaseIterable, Sendable {
        case strings = 1, languages = 2, bases = 3, segments = 4, segmentTable = 5, records = 6, files = 7, buildInfo = 8
        /// The built directory, build options and file stamps (version 3).
        case tree = 9

        /// The sections an archive of `version` must have, each exactly once.
        static func required(version: UInt32) -> [SectionID] { version >= 3 ? allCases : allCases.filter { $0 != .tree } }
    }

    /// How a section's bytes are stored (the section table entry's second field).
    public enum SectionCodec: UInt32, Sendable {
        case stored = 0
        /// u64 raw length, then one zstd frame.
        case zstd = 1
    }

    /// A compressed section may expand at most this much (bounds the allocation).
    public static let maxSectionExpansion = 1024

    public enum Stream: UInt8, Sendable {
        case cst = 0
        case source = 1
    }

    public enum BaseKind: UInt8, Sendable {
        case zstdDictionary = 1
        /// A language's tag model (phase 2): used by every CST record of that language.
        case tagModel = 2
    }

    /// The encoding phases a build applied (BUILD_INFO), as bits.
    public struct Phases: OptionSet, Sendable, Equatable {
        public let rawValue: UInt16
        public init(rawValue: UInt16) { self.rawValue = rawValue }
        public static let packing = Phases(rawValue: 1)
        public static let delta = Phases(rawValue: 2)
        public static let bytecode = Phases(rawValue: 4)
        public static let all: Phases = [.packing, .delta, .bytecode]
    }

    public struct FileFlags: OptionSet, Sendable {
        public let rawValue: UInt16
        public init(rawValue: UInt16) { self.rawValue = rawValue }
        /// The source records hold the file's text.
        public static let source = FileFlags(rawValue: 1)
        /// The source records hold a line table (varint line lengths) instead of text.
        public static let lineTable = FileFlags(rawValue: 2)
        /// The tree has ERROR or MISSING nodes.
        public static let syntaxErrors = FileFlags(rawValue: 4)
        public static let known: FileFlags = [.source, .lineTable, .syntaxErrors]
    }
}

public struct SectionEntry: Sendable {
    public var id: UInt32
    public var codec: Format.SectionCodec
    public var offset: UInt64
    public var length: UInt64
    public var checksum: UInt64
}

public struct SegmentEntry: Sendable {
    public var offset: UInt64
    public var storedLength: UInt32
    public var rawLength: UInt32
    public var codec: Codec
    public var stream: Format.Stream
    public var base: UInt32
    public var checksum: UInt64
}

public struct RecordEntry: Sendable, Equatable {
    public var segment: UInt32
    public var offset: UInt32
    public var length: UInt32
    /// First node id (CST records) or first source byte / line (source records).
    public var first: UInt32
}

public struct FileEntry: Sendable {
    public var pathID: UInt32
    public var language: UInt16
    public var flags: Format.FileFlags
    public var contentHash: ContentHash
    public var sourceLength: UInt32
    public var lineCount: UInt32
    public var nodeCount: UInt32
    public var cstBytes: UInt32
    public var firstCSTRecord: UInt32
    public var cstRecordCount: UInt32
    public var firstSourceRecord: UInt32
    public var sourceRecordCount: UInt32
    /// Index of the earlier file whose records this one shares (identical content), or none32.
    public var sameAs: UInt32

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
public struct LanguageBuildInfo: Sendable, Equatable {
    public var language: UInt16
    public var files: UInt32
    /// Bytes tree-sitter's own trees held (measured through its allocator).
    public var treeSitterBytes: UInt64
    /// The same trees in the plain phase-1 record layout.
    public var phase1Bytes: UInt64
    /// Phase-3 bytecode of every file, before identical files are shared.
    public var bytecodeBytes: UInt64
    /// The same bytecode without the tag model (equal to `bytecodeBytes` when there is none).
    public var unmodelledBytes: UInt64 = 0
}

public struct BuildInfo: Sendable, Equatable {
    public var languages: [LanguageBuildInfo] = []
    public var codec: Codec = .zstd
    public var level: Int = 0
    public var segmentSize: UInt32 = 0
    public var phases: Format.Phases = .all
    public var skipped: SkipCounts = SkipCounts()
}

/// Files a build passed over, by reason.
public struct SkipCounts: Sendable, Equatable {
    public var binary = 0
    public var tooLarge = 0
    public var unknownLanguage = 0
    public var noGrammar = 0
    public var unreadable = 0
    public var parseFailed = 0
    public var symlinks = 0
    public var total: Int { binary + tooLarge + unknownLanguage + noGrammar + unreadable + parseFailed + symlinks }
    static let fieldCount = 7
    var asArray: [Int] { [binary, tooLarge, unknownLanguage, noGrammar, unreadable, parseFailed, symlinks] }
    init() {}
    init(_ a: [Int]) {
        binary = a[0]; tooLarge = a[1]; unknownLanguage = a[2]; noGrammar = a[3]
        unreadable = a[4]; parseFailed = a[5]; symlinks = a[6]
    }
}
