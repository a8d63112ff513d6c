// What a forger does to an archive it has changed: recompute every checksum (XXH3 is not
// a MAC), so that the reader's structure checks, not its checksums, are what stops the
// change. The fuzz target's `archive` mode and the regression tests of its findings read
// inputs through this, with the reader as shipped. Written from Spec/FORMAT.md alone,
// byte by byte, sharing no code with the reader it is used to test. Not part of any
// product: the shipped library has no switch that turns its checksums off.

import CXXHash
import CZstd

public enum Reseal {
    /// `archive` with its checksums recomputed wherever the bytes they cover can be found:
    /// each segment's and base's (in SEGMENT_TABLE and BASES; a compressed one of these is
    /// decompressed, changed and stored again uncompressed at the end of the file), each
    /// section's, the section table's and the header's. Whatever else is wrong is left as
    /// it is, for the reader to find.
    public static func resealed(_ archive: [UInt8]) -> [UInt8] {
        var a = Bytes(archive)
        guard a.count >= headerSize else { return archive }
        let table = a.u64(24), count = a.u32(32)
        if count <= 64, table <= UInt64(a.count), UInt64(count) * 32 <= UInt64(a.count) - table {
            let table = Int(table)
            for k in 0..<Int(count) {
                let entry = table + 32 * k
                let id = a.u32(entry), codec = a.u32(entry + 4), offset = a.u64(entry + 8), length = a.u64(entry + 16)
                guard id != segmentsID, offset <= UInt64(a.count), length <= UInt64(a.count) - offset else { continue }
                let range = Int(offset)..<Int(offset + length)
                if id == segmentTableID || id == basesID, let content = content(Array(a.bytes[range]), codec: codec) {
                    var fixed = Bytes(content)
                    if id == segmentTableID { resealSegments(&fixed, in: a) } else { resealBases(&fixed) }
                    if fixed.bytes != content {
                        if codec == storedCodec {
                            a.bytes.replaceSubrange(range, with: fixed.bytes)
                        } else {
                            // Stored again uncompressed at the end, as the forged fuzz target does.
                            a.put32(storedCodec, at: entry + 4)
                            a.put64(UInt64(a.count), at: entry + 8)
                            a.put64(UInt64(fixed.count), at: entry + 16)
                            a.bytes += fixed.bytes
                            // The length grows by what was appended: a length that was
                            // wrong stays as wrong.
                            a.put64(a.u64(16) &+ UInt64(fixed.count), at: 16)
                        }
                    }
                }
                let (o, l) = (Int(a.u64(entry + 8)), Int(a.u64(entry + 16)))
                a.put64(xxh3(a.bytes[o..<(o + l)]), at: entry + 24)
            }
            a.put64(xxh3(a.bytes[table..<(table + 32 * Int(count))]), at: 40)
        }
        a.put64(xxh3(a.bytes[0..<56]), at: 56)
        return a.bytes
    }

    /// `archive` with the given sections (by id) replaced by these bytes, stored
    /// uncompressed at the end, then resealed.
    public static func replacingSections(_ replacements: [UInt32: [UInt8]], in archive: [UInt8]) -> [UInt8] {
        var a = Bytes(archive)
        let table = Int(a.u64(24)), count = Int(a.u32(32))
        for k in 0..<count {
            let entry = table + 32 * k
            guard let content = replacements[a.u32(entry)] else { continue }
            a.put32(storedCodec, at: entry + 4)
            a.put64(UInt64(a.count), at: entry + 8)
            a.put64(UInt64(content.count), at: entry + 16)
            a.bytes += content
        }
        a.put64(UInt64(a.count), at: 16)
        return resealed(a.bytes)
    }

    // Spec/FORMAT.md, 4 and 5.
    static let headerSize = 64
    static let basesID: UInt32 = 3, segmentsID: UInt32 = 4, segmentTableID: UInt32 = 5
    static let storedCodec: UInt32 = 0, zstdCodec: UInt32 = 1

    /// A section's content: as stored, or (zstd) the u64 raw length and one frame, within
    /// the reader's own bound on expansion; nil when it does not decompress.
    static func content(_ stored: [UInt8], codec: UInt32) -> [UInt8]? {
        if codec == storedCodec { return stored }
        guard codec == zstdCodec, stored.count >= 8 else { return nil }
        let raw = Bytes(stored).u64(0)
        guard raw <= UInt64(max((stored.count - 8) * 1024, 1 << 20)), raw <= 1 << 30 else { return nil }
        var out = [UInt8](repeating: 0, count: Int(raw))
        let n = out.withUnsafeMutableBytes { o in
            stored.withUnsafeBytes { s in ZSTD_decompress(o.baseAddress, o.count, s.baseAddress! + 8, s.count - 8) }
        }
        guard ZSTD_isError(n) == 0, n == Int(raw) else { return nil }
        return out
    }

    /// SEGMENT_TABLE (8.2): u32 count, u32 reserved, 32-byte entries; offset u64 at 0,
    /// stored length u32 at 8, checksum u64 at 24 of the stored bytes in the file.
    static func resealSegments(_ t: inout Bytes, in file: Bytes) {
        guard t.count >= 8 else { return }
        let n = min(Int(t.u32(0)), (t.count - 8) / 32)
        for i in 0..<n {
            let e = 8 + 32 * i
            let offset = t.u64(e), stored = UInt64(t.u32(e + 8))
            guard offset <= UInt64(file.count), stored <= UInt64(file.count) - offset else { continue }
            t.put64(xxh3(file.bytes[Int(offset)..<Int(offset + stored)]), at: e + 24)
        }
    }

    /// BASES (9): u32 count, u32 reserved, 32-byte entries; offset u64 at 8 and length u64
    /// at 16 (from the section's start), checksum u64 at 24 of the blob.
    static func resealBases(_ t: inout Bytes) {
        guard t.count >= 8 else { return }
        let n = min(Int(t.u32(0)), (t.count - 8) / 32)
        for i in 0..<n {
            let e = 8 + 32 * i
            let offset = t.u64(e + 8), length = t.u64(e + 16)
            guard offset <= UInt64(t.count), length <= UInt64(t.count) - offset else { continue }
            t.put64(xxh3(t.bytes[Int(offset)..<Int(offset + length)]), at: e + 24)
        }
    }

    static func xxh3(_ bytes: ArraySlice<UInt8>) -> UInt64 {
        bytes.withUnsafeBytes { XXH3_64bits($0.baseAddress, $0.count) }
    }

    /// Little-endian fields of a byte array (callers check bounds first).
    struct Bytes {
        var bytes: [UInt8]
        init(_ b: [UInt8]) { bytes = b }
        var count: Int { bytes.count }
        func u32(_ o: Int) -> UInt32 { (0..<4).reduce(0) { $0 | UInt32(bytes[o + $1]) << (8 * UInt32($1)) } }
        func u64(_ o: Int) -> UInt64 { (0..<8).reduce(0) { $0 | UInt64(bytes[o + $1]) << (8 * UInt64($1)) } }
        mutating func put32(_ v: UInt32, at o: Int) { for k in 0..<4 { bytes[o + k] = UInt8(truncatingIfNeeded: v >> (8 * UInt32(k))) } }
        mutating func put64(_ v: UInt64, at o: Int) { for k in 0..<8 { bytes[o + k] = UInt8(truncatingIfNeeded: v >> (8 * UInt64(k))) } }
    }
}
