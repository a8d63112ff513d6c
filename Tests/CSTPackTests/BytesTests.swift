import XCTest
@testable import CSTPack

/// ByteWriter / ByteReader: varints, fixed-width little-endian integers and bounds.
final class BytesTests: XCTestCase {

    // MARK: Helpers

    /// Runs `body` with a reader over a copy of `bytes`.
    private func withReader<R>(_ bytes: [UInt8], _ body: (inout ByteReader) throws -> R) rethrows -> R {
        try bytes.withUnsafeBytes { raw in
            var r = ByteReader(raw, context: "test")
            return try body(&r)
        }
    }

    private func encode(_ v: UInt64) -> [UInt8] {
        var w = ByteWriter()
        w.varint(v)
        return w.bytes
    }

    /// Values with every bit width from 0 to 64, plus the edges of each 7-bit group.
    private func edgeValues() -> [UInt64] {
        var v: [UInt64] = [0, 1, 2, 126, 127, 128, 129, 255, 256, 16383, 16384, UInt64.max, UInt64.max - 1, 1 << 63, (1 << 63) - 1]
        for k in stride(from: 7, through: 63, by: 7) {
            v.append((1 << UInt64(k)) - 1)
            v.append(1 << UInt64(k))
            v.append((1 << UInt64(k)) + 1)
        }
        return v
    }

    // MARK: Varints

    func testVarintKnownEncodings() {
        XCTAssertEqual(encode(0), [0x00])
        XCTAssertEqual(encode(1), [0x01])
        XCTAssertEqual(encode(127), [0x7F])
        XCTAssertEqual(encode(128), [0x80, 0x01])
        XCTAssertEqual(encode(300), [0xAC, 0x02])
        XCTAssertEqual(encode(16384), [0x80, 0x80, 0x01])
        XCTAssertEqual(encode(UInt64.max), [UInt8](repeating: 0xFF, count: 9) + [0x01])
        XCTAssertEqual(encode(1 << 63), [UInt8](repeating: 0x80, count: 9) + [0x01])
        // The Int and UInt32 overloads write the same bytes.
        var w = ByteWriter()
        w.varint(Int(300)); w.varint(UInt32(300))
        XCTAssertEqual(w.bytes, [0xAC, 0x02, 0xAC, 0x02])
    }

    func testVarintRoundTripRandomAndEdges() throws {
        var rng = SplitMix64(seed: 0x5EED_0001)
        var values = edgeValues()
        for _ in 0..<20_000 {
            // Spread over bit widths: a random value shifted right by a random amount.
            let shift = UInt64(rng.below(64))
            values.append(rng.next() >> shift)
        }
        var w = ByteWriter()
        var sizes: [Int] = []
        for v in values {
            let before = w.count
            w.varint(v)
            sizes.append(w.count - before)
            XCTAssertEqual(w.count - before, ByteWriter.varintSize(v), "varintSize(\(v))")
            XCTAssertLessThanOrEqual(w.count - before, 10)
        }
        try withReader(w.bytes) { r in
            for (i, v) in values.enumerated() {
                let start = r.offset
                let got = try r.varint()
                XCTAssertEqual(got, v, "value \(i)")
                XCTAssertEqual(r.offset - start, sizes[i], "bytes consumed by value \(i)")
            }
            XCTAssertTrue(r.isAtEnd)
            XCTAssertEqual(r.remaining, 0)
            XCTAssertThrowsError(try r.varint()) { XCTAssertTrue($0 is FormatError) }
        }
    }

    func testVarintRejectsEveryTruncation() throws {
        var rng = SplitMix64(seed: 0x5EED_0002)
        var values = edgeValues().filter { $0 >= 128 }
        for _ in 0..<500 { values.append(rng.next() >> UInt64(rng.below(57)) | 0x80) }
        for v in values {
            let bytes = encode(v)
            XCTAssertGreaterThan(bytes.count, 1)
            for n in 0..<bytes.count {
                let prefix = Array(bytes[0..<n])
                try withReader(prefix) { r in
                    XCTAssertThrowsError(try r.varint(), "prefix \(n) of varint(\(v)) must not decode") {
                        XCTAssertTrue($0 is FormatError)
                    }
                }
            }
        }
    }

    func testVarintRejectsOverlongAndOverflowingEncodings() throws {
        // 11 bytes: ten continuation bytes then a terminator.
        let overlong11 = [UInt8](repeating: 0x80, count: 10) + [0x00]
        let allOnes11 = [UInt8](repeating: 0xFF, count: 10) + [0x01]
        // 10 bytes whose last byte carries more than bit 63.
        let overflow10 = [UInt8](repeating: 0xFF, count: 9) + [0x02]
        let overflow10b = [UInt8](repeating: 0x80, count: 9) + [0x7F]
        // A long run of continuation bytes with no terminator at all.
        let endless = [UInt8](repeating: 0xFF, count: 64)
        for (name, bytes) in [("overlong11", overlong11), ("allOnes11", allOnes11), ("overflow10", overflow10),
                              ("overflow10b", overflow10b), ("endless", endless)] {
            try withReader(bytes) { r in
                XCTAssertThrowsError(try r.varint(), name) { XCTAssertTrue($0 is FormatError, name) }
            }
        }
        // The largest 10-byte encoding is still accepted.
        try withReader([UInt8](repeating: 0xFF, count: 9) + [0x01]) { r in
            XCTAssertEqual(try r.varint(), UInt64.max)
        }
    }

    func testVarintOnRandomGarbageNeverTraps() {
        var rng = SplitMix64(seed: 0x5EED_0003)
        var decoded = 0, rejected = 0
        for _ in 0..<5_000 {
            // Bytes biased towards continuation bits so that long and overlong varints occur.
            let n = rng.below(24)
            let bytes: [UInt8] = (0..<n).map { _ in rng.chance(0.8) ? UInt8(0x80 | rng.below(128)) : UInt8(rng.below(256)) }
            withReader(bytes) { r in
                while !r.isAtEnd {
                    let before = r.offset
                    do {
                        let v = try r.varint()
                        decoded += 1
                        // What was accepted re-encodes to a value of the same size or less.
                        XCTAssertLessThanOrEqual(ByteWriter.varintSize(v), r.offset - before)
                        XCTAssertLessThanOrEqual(r.offset - before, 10)
                    } catch {
                        rejected += 1
                        break
                    }
                }
            }
        }
        XCTAssertGreaterThan(decoded, 0)
        XCTAssertGreaterThan(rejected, 0)
    }

    func testVarintWithLimit() throws {
        try withReader(encode(1000) + encode(1001)) { r in
            XCTAssertEqual(try r.varint(max: 1000, "count"), 1000)
            XCTAssertThrowsError(try r.varint(max: 1000, "count")) { e in
                XCTAssertTrue(e is FormatError)
                XCTAssertTrue("\(e)".contains("count"), "message names the value: \(e)")
            }
        }
    }

    // MARK: Fixed-width integers

    func testFixedWidthLittleEndianLayout() throws {
        var w = ByteWriter()
        w.u8(0xAB)
        w.u16(0x1122)
        w.u32(0x3344_5566)
        w.u64(0x7788_99AA_BBCC_DDEE)
        XCTAssertEqual(w.bytes, [0xAB, 0x22, 0x11, 0x66, 0x55, 0x44, 0x33, 0xEE, 0xDD, 0xCC, 0xBB, 0xAA, 0x99, 0x88, 0x77])
        try withReader(w.bytes) { r in
            XCTAssertEqual(try r.u8(), 0xAB)
            XCTAssertEqual(try r.u16(), 0x1122)   // unaligned offset 1
            XCTAssertEqual(try r.u32(), 0x3344_5566)  // unaligned offset 3
            XCTAssertEqual(try r.u64(), 0x7788_99AA_BBCC_DDEE)  // unaligned offset 7
            XCTAssertTrue(r.isAtEnd)
        }
    }

    func testFixedWidthRoundTripRandom() throws {
        var rng = SplitMix64(seed: 0x5EED_0004)
        var expected: [(kind: Int, value: UInt64)] = []
        var w = ByteWriter()
        for _ in 0..<5_000 {
            let v = rng.next()
            switch rng.below(4) {
            case 0: w.u8(UInt8(truncatingIfNeeded: v)); expected.append((0, v & 0xFF))
            case 1: w.u16(UInt16(truncatingIfNeeded: v)); expected.append((1, v & 0xFFFF))
            case 2: w.u32(UInt32(truncatingIfNeeded: v)); expected.append((2, v & 0xFFFF_FFFF))
            default: w.u64(v); expected.append((3, v))
            }
        }
        try withReader(w.bytes) { r in
            for (i, e) in expected.enumerated() {
                let got: UInt64
                switch e.kind {
                case 0: got = UInt64(try r.u8())
                case 1: got = UInt64(try r.u16())
                case 2: got = UInt64(try r.u32())
                default: got = try r.u64()
                }
                XCTAssertEqual(got, e.value, "entry \(i)")
            }
            XCTAssertTrue(r.isAtEnd)
        }
    }

    func testPatchOverwritesInPlace() throws {
        var w = ByteWriter()
        w.u32(0); w.u8(0x55); w.u64(0)
        w.patch(UInt32(0xDEAD_BEEF), at: 0)
        w.patch(UInt64(0x0102_0304_0506_0708), at: 5)
        try withReader(w.bytes) { r in
            XCTAssertEqual(try r.u32(), 0xDEAD_BEEF)
            XCTAssertEqual(try r.u8(), 0x55)
            XCTAssertEqual(try r.u64(), 0x0102_0304_0506_0708)
        }
    }

    func testTruncatedFixedReadsThrowWithoutAdvancing() throws {
        for n in 0..<8 {
            let bytes = [UInt8](repeating: 0x11, count: n)
            try withReader(bytes) { r in
                if n < 2 { XCTAssertThrowsError(try r.u16()) }
                if n < 4 { XCTAssertThrowsError(try r.u32()) }
                XCTAssertThrowsError(try r.u64())
                XCTAssertEqual(r.offset, 0, "a failed read must not move the reader")
                XCTAssertThrowsError(try r.bytes(n + 1))
                XCTAssertThrowsError(try r.skip(n + 1))
                XCTAssertEqual(r.offset, 0)
            }
        }
    }

    // MARK: Bounds

    func testSliceBounds() throws {
        let bytes: [UInt8] = Array(0..<32)
        try withReader(bytes) { r in
            // Inside: every start and length that fits.
            for start in 0...32 {
                for length in 0...(32 - start) {
                    var s = try r.slice(at: start, length: length, context: "s")
                    XCTAssertEqual(s.count, length)
                    if length > 0 { XCTAssertEqual(try s.u8(), UInt8(start)) }
                }
            }
            // Outside: negative, past the end, and lengths that would overflow.
            let bad: [(Int, Int)] = [(-1, 0), (-1, 5), (0, -1), (0, 33), (1, 32), (32, 1), (33, 0),
                                     (Int.max, 1), (1, Int.max), (Int.max, Int.max), (Int.min, 0), (16, Int.min)]
            for (start, length) in bad {
                XCTAssertThrowsError(try r.slice(at: start, length: length, context: "s"), "slice(\(start), \(length))") {
                    XCTAssertTrue($0 is FormatError)
                }
            }
        }
    }

    func testSeekSkipAndBytesBounds() throws {
        try withReader(Array(0..<10)) { r in
            try r.seek(to: 10)
            XCTAssertTrue(r.isAtEnd)
            try r.seek(to: 0)
            XCTAssertThrowsError(try r.seek(to: 11))
            XCTAssertThrowsError(try r.seek(to: -1))
            XCTAssertThrowsError(try r.skip(-1))
            XCTAssertThrowsError(try r.bytes(-1))
            XCTAssertThrowsError(try r.bytes(Int.max))
            let b = try r.bytes(4)
            XCTAssertEqual(Array(b), [0, 1, 2, 3])
            try r.skip(5)
            XCTAssertEqual(try r.u8(), 9)
            XCTAssertThrowsError(try r.u8())
        }
        // An empty buffer (no base address) reads nothing but can be sliced to zero length.
        try withReader([]) { r in
            XCTAssertThrowsError(try r.u8())
            XCTAssertThrowsError(try r.varint())
            XCTAssertEqual(try r.slice(at: 0, length: 0, context: "e").count, 0)
            XCTAssertThrowsError(try r.slice(at: 0, length: 1, context: "e"))
        }
    }

    // MARK: Hash

    func testHashesDistinguishContent() {
        var rng = SplitMix64(seed: 0x5EED_0005)
        let a = rng.bytes(1000)
        var b = a
        b[500] ^= 1
        XCTAssertEqual(Hash.xxh3(a), Hash.xxh3(a))
        XCTAssertNotEqual(Hash.xxh3(a), Hash.xxh3(b))
        let ca = a.withUnsafeBytes { Hash.content($0) }
        let cb = b.withUnsafeBytes { Hash.content($0) }
        XCTAssertNotEqual(ca, cb)
        XCTAssertEqual(ca.description.count, 32)
        XCTAssertEqual(ca, a.withUnsafeBytes { Hash.content($0) })
    }
}
