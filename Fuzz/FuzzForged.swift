// Fuzz target `forged`: archives a forger could write. Checksums are XXH3, not a MAC, so
// anyone can change a decoded structure and recompute every checksum. This target's
// mutator (LLVMFuzzerCustomMutator) does exactly that: it takes the input archive apart
// (header, section table, metadata sections decompressed, segments decompressed), mutates
// the plain bytes of ONE structure (a metadata section — strings, languages, bases, segment
// table, records, files, build info, tree — or one segment's records: state headers,
// instructions, line tables, source), stores everything uncompressed, and recomputes every
// length, offset and checksum. The reader then runs as shipped, checksums enforced, so each
// mutation reaches the structure checks and decoders instead of failing a checksum or a
// zstd frame. Inputs it cannot take apart get libFuzzer's plain byte mutation.

import Glibc

@_silgen_name("LLVMFuzzerMutate")
func libFuzzerMutate(_ data: UnsafeMutablePointer<UInt8>, _ size: Int, _ maxSize: Int) -> Int

enum FuzzForged {
    /// One archive taken apart into plain bytes.
    struct Parts {
        var version: UInt32
        var flags: UInt32
        /// Metadata sections by id (decompressed), in the writer's order.
        var sections: [(id: UInt32, bytes: [UInt8])]
        /// Segments, decompressed unless kept as stored (zstd with a dictionary base).
        var segments: [(bytes: [UInt8], codec: UInt8)]
    }

    /// Checks the mutator's assembly on the seed archives (CSTPACK_FUZZ_SEEDS, a folder):
    /// a seed taken apart and put together unchanged must open, with checksums enforced,
    /// and read exactly as the seed does; otherwise every mutation would be lost on a
    /// checksum and the target would test nothing.
    static func initialize() {
        guard let dir = getenv("CSTPACK_FUZZ_SEEDS").map({ String(cString: $0) }), let d = opendir(dir) else {
            fputs("fuzz: the forged target needs CSTPACK_FUZZ_SEEDS=DIR (seed archives)\n", stderr)
            exit(2)
        }
        defer { closedir(d) }
        var checked = 0
        while let e = readdir(d) {
            let name = withUnsafeBytes(of: e.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            guard name.hasSuffix(".cstpack"), let seed = try? readFile(Array((dir + "/" + name).utf8), limit: 1 << 24) else { continue }
            let original = seed.withUnsafeBytes { ReadEverything.run($0) }
            let rebuilt = seed.withUnsafeBytes { split($0) }.map { assemble($0) { _ in } }
            let again = rebuilt?.withUnsafeBytes { ReadEverything.run($0) } ?? -1
            guard original > 0, again == original else {
                fputs("fuzz: forged: seed \(name) reassembled reads \(again) items, the seed \(original)\n", stderr)
                exit(1)
            }
            checked += 1
        }
        guard checked > 0 else { fputs("fuzz: forged: no seed archive in \(dir)\n", stderr); exit(2) }
    }

    static func mutate(_ data: UnsafeMutablePointer<UInt8>, size: Int, maxSize: Int, seed: UInt32) -> Int {
        var rng = SplitMix(seed: UInt64(seed) &* 0x9E37_79B9 &+ UInt64(size))
        guard var parts = split(UnsafeRawBufferPointer(start: data, count: size)) else {
            return libFuzzerMutate(data, size, maxSize)
        }
        // The unit to change: a metadata section or a segment (segments hold most of what
        // decoders read, so they get half the picks).
        let segmentTableIndex = parts.sections.firstIndex { $0.id == Format.SectionID.segmentTable.rawValue }
        let pickSegment = !parts.segments.isEmpty && rng.next() % 2 == 0
        var mutateTableLater = false
        if pickSegment {
            let i = Int(rng.next() % UInt64(parts.segments.count))
            if parts.segments[i].codec == 0 { mutateBytes(&parts.segments[i].bytes, &rng) }
        } else if !parts.sections.isEmpty {
            let i = Int(rng.next() % UInt64(parts.sections.count))
            // The segment table's offsets and lengths are rewritten on assembly; its mutation
            // is applied afterwards so that it survives.
            if i == segmentTableIndex { mutateTableLater = true } else { mutateBytes(&parts.sections[i].bytes, &rng) }
        }
        var out = assemble(parts) { table in if mutateTableLater { mutateBytes(&table, &rng) } }
        guard out.count <= maxSize else { return libFuzzerMutate(data, size, maxSize) }
        out.withUnsafeBytes { UnsafeMutableRawPointer(data).copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        return out.count
    }

    /// Plain byte mutation, or (one time in three) a fixed-width field set to a value that
    /// sits on a boundary: counts, ids and offsets are u32/u64 in the tables.
    static func mutateBytes(_ bytes: inout [UInt8], _ rng: inout SplitMix) {
        if bytes.count >= 4 && rng.next() % 3 == 0 {
            let width = bytes.count >= 8 && rng.next() % 2 == 0 ? 8 : 4
            let at = Int(rng.next() % UInt64(bytes.count - width + 1)) & ~(width - 1)
            var old: UInt64 = 0
            for k in 0..<width { old |= UInt64(bytes[at + k]) << (8 * k) }
            let interesting: [UInt64] = [0, 1, 0x7F, 0x80, 0xFFFF, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF,
                                         0x1_0000_0000, UInt64(Int64.max), UInt64.max, old &+ 1, old &- 1, old &* 2, old >> 1]
            let v = interesting[Int(rng.next() % UInt64(interesting.count))]
            for k in 0..<width { bytes[at + k] = UInt8(truncatingIfNeeded: v >> (8 * k)) }
            return
        }
        let limit = bytes.count * 2 + 64
        let count = bytes.count
        bytes.append(contentsOf: repeatElement(0, count: limit - count))
        let n = bytes.withUnsafeMutableBufferPointer { libFuzzerMutate($0.baseAddress!, count, limit) }
        bytes.removeLast(limit - max(0, min(n, limit)))
    }

    /// Takes an archive apart; nil when its header or tables are too broken to split.
    static func split(_ input: UnsafeRawBufferPointer) -> Parts? {
        let bytes = Array(input)
        func inside(_ offset: UInt64, _ length: UInt64) -> Bool {
            offset <= UInt64(bytes.count) && length <= UInt64(bytes.count) - offset
        }
        guard bytes.count >= Format.headerSize, Array(bytes[0..<8]) == Format.magic else { return nil }
        let tableOffset = get64(bytes, at: 24)
        let count = UInt64(get32(bytes, at: 32))
        guard count <= 64, inside(tableOffset, count * 32) else { return nil }
        var sections: [(id: UInt32, bytes: [UInt8])] = []
        for k in 0..<Int(count) {
            let e = Int(tableOffset) + 32 * k
            let id = get32(bytes, at: e)
            let codec = get32(bytes, at: e + 4)
            let offset = get64(bytes, at: e + 8)
            let length = get64(bytes, at: e + 16)
            guard inside(offset, length) else { return nil }
            if id == Format.SectionID.segments.rawValue { continue }
            let stored = Array(bytes[Int(offset)..<Int(offset + length)])
            if codec == Format.SectionCodec.zstd.rawValue {
                guard stored.count >= 8 else { return nil }
                let raw = get64(stored, at: 0)
                guard raw <= 1 << 24 else { return nil }
                var plain = [UInt8](repeating: 0, count: Int(raw))
                let ok = stored.withUnsafeBytes { frame in
                    plain.withUnsafeMutableBytes { out in
                        (try? SectionCompression.decompress(UnsafeRawBufferPointer(rebasing: frame[8...]), into: out)) != nil
                    }
                }
                guard ok else { return nil }
                sections.append((id, plain))
            } else {
                sections.append((id, stored))
            }
        }
        sections.sort { writerRank($0.id) < writerRank($1.id) }
        var segments: [(bytes: [UInt8], codec: UInt8)] = []
        if let table = sections.first(where: { $0.id == Format.SectionID.segmentTable.rawValue })?.bytes, table.count >= 8 {
            let n = Int(get32(table, at: 0))
            guard n <= 4096, table.count >= 8 + 32 * n else { return nil }
            let decompressor = Decompressor()
            for i in 0..<n {
                let e = 8 + 32 * i
                let offset = get64(table, at: e)
                let stored = UInt64(get32(table, at: e + 8))
                let raw = Int(get32(table, at: e + 12))
                let codec = table[e + 16]
                let base = get32(table, at: e + 20)
                guard inside(offset, stored), raw <= 1 << 22 else { return nil }
                let storedBytes = Array(bytes[Int(offset)..<Int(offset + stored)])
                if codec == Codec.zstd.rawValue && base != 0xFFFF_FFFF { // names a base
                    segments.append((storedBytes, codec))  // needs its dictionary: kept as stored
                    continue
                }
                guard let c = Codec(rawValue: codec) else { return nil }
                var out: [UInt8] = []
                let ok = storedBytes.withUnsafeBytes { (try? decompressor.decompress($0, codec: c, rawLength: raw, into: &out)) != nil }
                guard ok else { return nil }
                segments.append((out, 0))
            }
        }
        return Parts(version: get32(bytes, at: 8), flags: get32(bytes, at: 12), sections: sections, segments: segments)
    }

    /// Writes `parts` as an archive: segments, then metadata sections stored as is, then the
    /// section table; every offset, length and checksum computed afresh. `finishTable`
    /// may change the segment table after its entries were pointed at the new segments.
    static func assemble(_ parts: Parts, finishTable: (inout [UInt8]) -> Void) -> [UInt8] {
        var w = ByteWriter()
        w.zeros(Format.headerSize)
        var placed: [(offset: Int, length: Int)] = []
        var maxRaw = 0
        for s in parts.segments {
            placed.append((w.count, s.bytes.count))
            w.append(s.bytes)
            if s.codec == 0 { maxRaw = max(maxRaw, s.bytes.count) }
        }
        var entries: [(id: UInt32, offset: Int, length: Int, checksum: UInt64)] =
            [(Format.SectionID.segments.rawValue, Format.headerSize, w.count - Format.headerSize, 0)]
        for (id, bytes) in parts.sections {
            var bytes = bytes
            if id == Format.SectionID.segmentTable.rawValue {
                for (i, p) in placed.enumerated() where 8 + 32 * (i + 1) <= bytes.count {
                    let e = 8 + 32 * i
                    let codec = parts.segments[i].codec
                    put(&bytes, UInt64(p.offset), at: e)
                    put(&bytes, UInt32(p.length), at: e + 8)
                    if codec == 0 { put(&bytes, UInt32(p.length), at: e + 12) } else {
                        maxRaw = max(maxRaw, Int(get32(bytes, at: e + 12)))
                    }
                    bytes[e + 16] = codec
                    put(&bytes, parts.segments[i].bytes.withUnsafeBytes { Hash.xxh3($0) }, at: e + 24)
                }
                finishTable(&bytes)
            }
            entries.append((id, w.count, bytes.count, Hash.xxh3(bytes)))
            w.append(bytes)
        }
        let tableOffset = w.count
        var table = ByteWriter()
        for e in entries {
            table.u32(e.id); table.u32(0); table.u64(UInt64(e.offset)); table.u64(UInt64(e.length)); table.u64(e.checksum)
        }
        w.append(table.bytes)
        var header = ByteWriter()
        header.append(Format.magic)
        header.u32(parts.version)
        header.u32(parts.flags)
        header.u64(UInt64(w.count))
        header.u64(UInt64(tableOffset))
        header.u32(UInt32(entries.count))
        header.u32(UInt32(min(maxRaw, Format.maxSegmentRaw)))
        header.u64(Hash.xxh3(table.bytes))
        header.u64(0)
        header.u64(Hash.xxh3(header.bytes))
        var out = w.bytes
        out.replaceSubrange(0..<Format.headerSize, with: header.bytes)
        return out
    }

    static func writerRank(_ id: UInt32) -> Int {
        [1, 2, 3, 5, 6, 7, 8, 9, 10].firstIndex(of: id) ?? 99
    }

    static func put<T: FixedWidthInteger>(_ bytes: inout [UInt8], _ v: T, at offset: Int) {
        for k in 0..<MemoryLayout<T>.size { bytes[offset + k] = UInt8(truncatingIfNeeded: v >> (8 * k)) }
    }

    static func get32(_ bytes: [UInt8], at offset: Int) -> UInt32 {
        (0..<4).reduce(0) { $0 | UInt32(bytes[offset + $1]) << (8 * $1) }
    }

    static func get64(_ bytes: [UInt8], at offset: Int) -> UInt64 {
        (0..<8).reduce(0) { $0 | UInt64(bytes[offset + $1]) << (8 * $1) }
    }
}

/// A small deterministic generator: a mutation must depend only on libFuzzer's seed.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
