/// Constants and fixed-size entries of the `.cstpack` layout (Spec/FORMAT.md).
/// All integers are little-endian.
package enum Format {
    package static let magic: [UInt8] = [0x89, 0x43, 0x53, 0x54, 0x50, 0x4B, 0x0D, 0x0A] // \x89 C S T P K \r \n
    /// The version this cstpack writes.
    package static let version: UInt32 = 4
    /// The versions it reads: version 3 is version 4 without the SUMMARIES section, version
    /// 2 is version 3 without the TREE section (and with records that tile their segments
    /// exactly).
    package static let readableVersions: ClosedRange<UInt32> = 2...4
    package static let headerSize = 64
    package static let sectionEntrySize = 32
    package static let segmentEntrySize = 32
    package static let recordEntrySize = 16
    package static let fileEntrySize = 64
    package static let baseEntrySize = 32
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
        /// Per file, its kind counts and leaf-text filter (version 4).
        case summaries = 10

        /// The sections an archive of `version` must have, each exactly once.
        static func required(version: UInt32) -> [SectionID] {
            allCases.filter { ($0 != .tree || version >= 3) && ($0 != .summaries || version >= 4) }
        }
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
