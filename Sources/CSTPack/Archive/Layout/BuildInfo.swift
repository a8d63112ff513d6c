/// BUILD_INFO (Spec/FORMAT.md, 14): per-language figures measured at build time, the
/// encoding options, and how many files the build passed over, by reason (for `stats`).
/// One language's figures in BUILD_INFO.
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

extension BuildInfo {
    package func write(to w: inout ByteWriter) {
        w.u32(UInt32(languages.count))
        for l in languages {
            w.u16(l.language); w.u16(0); w.u32(l.files)
            w.u64(l.treeSitterBytes); w.u64(l.phase1Bytes); w.u64(l.bytecodeBytes); w.u64(l.unmodelledBytes)
        }
        w.u8(codec.rawValue); w.u8(UInt8(bitPattern: Int8(clamping: level))); w.u16(phases.rawValue)
        w.u32(segmentSize)
        w.u32(UInt32(SkipCounts.fieldCount))
        for c in skipped.asArray { w.u32(UInt32(clamping: c)) }
    }

    package static func read(_ section: ByteReader, languageCount: Int) throws(FormatError) -> BuildInfo {
        var r = section
        var info = BuildInfo()
        let n = Int(try r.u32())
        guard n == languageCount else { throw FormatError("\(r.context): \(n) language entries for \(languageCount) languages") }
        for _ in 0..<n {
            let lang = try r.u16()
            guard try r.u16() == 0, Int(lang) < languageCount else { throw FormatError("\(r.context): bad language entry") }
            info.languages.append(LanguageBuildInfo(language: lang, files: try r.u32(), treeSitterBytes: try r.u64(),
                                                    phase1Bytes: try r.u64(), bytecodeBytes: try r.u64(),
                                                    unmodelledBytes: try r.u64()))
        }
        guard let codec = Codec(rawValue: try r.u8()) else { throw FormatError("\(r.context): unknown codec") }
        info.codec = codec
        info.level = Int(Int8(bitPattern: try r.u8()))
        info.phases = Format.Phases(rawValue: try r.u16())
        guard Format.Phases.all.isSuperset(of: info.phases) else { throw FormatError("\(r.context): unknown phase bits") }
        info.segmentSize = try r.u32()
        let counts = Int(try r.u32())
        guard counts == SkipCounts.fieldCount else { throw FormatError("\(r.context): \(counts) skip counters") }
        var a: [Int] = []
        for _ in 0..<counts { a.append(Int(try r.u32())) }
        info.skipped = SkipCounts(a)
        guard r.isAtEnd else { throw FormatError("\(r.context): \(r.remaining) stray bytes") }
        return info
    }
}
