import CLZ4
import CZstd

/// How a segment's bytes are stored. The raw values are part of the format.
package enum Codec: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    case none = 0
    case zstd = 1
    case lz4 = 2

    package init?(name: String) {
        switch name.lowercased() {
        case "none": self = .none
        case "zstd": self = .zstd
        case "lz4": self = .lz4
        default: return nil
        }
    }

    package var description: String {
        switch self {
        case .none: "none"
        case .zstd: "zstd"
        case .lz4: "lz4"
        }
    }

    package var defaultSourceLevel: Int {
        self == .zstd ? 3 : 0
    }

    /// CST segments. zstd 6 is where speed and size meet on real trees (measured on the
    /// Python stdlib's CST: level 6 compresses at 87 MB/s and 3.70x, level 9 at 46 MB/s and
    /// 3.75x, level 5 at 107 MB/s and 3.59x); `--level 19` is there for the smallest archive.
    package var defaultLevel: Int {
        switch self {
        case .none: 0
        case .zstd: 6
        case .lz4: 0
        }
    }
}

/// A reusable compressor for one thread (zstd contexts are not thread-safe).
package final class Compressor {
    package let codec: Codec
    package let level: Int
    private let cctx: OpaquePointer?
    private var dictionaries: [Int: OpaquePointer] = [:]

    package init(codec: Codec, level: Int) {
        self.codec = codec
        self.level = level
        cctx = codec == .zstd ? ZSTD_createCCtx() : nil
    }

    deinit {
        if let c = cctx { ZSTD_freeCCtx(c) }
        for (_, d) in dictionaries { ZSTD_freeCDict(d) }
    }

    /// Compresses `input`; with `dictionary` (a zstd dictionary base) when given.
    package func compress(_ input: UnsafeRawBufferPointer, dictionary: (id: Int, bytes: [UInt8])? = nil) throws -> [UInt8] {
        switch codec {
        case .none:
            return Array(input)
        case .zstd:
            let bound = ZSTD_compressBound(input.count)
            var out = [UInt8](repeating: 0, count: bound)
            let n = try out.withUnsafeMutableBytes { dst -> Int in
                let r: Int
                if let dict = dictionary {
                    let cdict = try cdictFor(dict)
                    r = ZSTD_compress_usingCDict(cctx, dst.baseAddress, dst.count, input.baseAddress, input.count, cdict)
                } else {
                    r = ZSTD_compressCCtx(cctx, dst.baseAddress, dst.count, input.baseAddress, input.count, Int32(level))
                }
                if ZSTD_isError(r) != 0 { throw CSTPackError("zstd: \(String(cString: ZSTD_getErrorName(r)))") }
                return r
            }
            out.removeSubrange(n...)
            return out
        case .lz4:
            guard input.count < Int(LZ4_MAX_INPUT_SIZE) else { throw CSTPackError("lz4: segment too large") }
            let bound = Int(LZ4_compressBound(Int32(input.count)))
            var out = [UInt8](repeating: 0, count: max(bound, 1))
            let n = out.withUnsafeMutableBytes { dst -> Int32 in
                let src = input.baseAddress?.assumingMemoryBound(to: CChar.self)
                let d = dst.baseAddress!.assumingMemoryBound(to: CChar.self)
                if level > 0 {
                    return LZ4_compress_HC(src, d, Int32(input.count), Int32(dst.count), Int32(level))
                }
                return LZ4_compress_default(src, d, Int32(input.count), Int32(dst.count))
            }
            guard n > 0 || input.count == 0 else { throw CSTPackError("lz4: compression failed") }
            out.removeSubrange(Int(n)...)
            return out
        }
    }

    private func cdictFor(_ dict: (id: Int, bytes: [UInt8])) throws -> OpaquePointer {
        if let d = dictionaries[dict.id] { return d }
        guard let d = dict.bytes.withUnsafeBytes({ ZSTD_createCDict($0.baseAddress, $0.count, Int32(level)) }) else {
            throw CSTPackError("zstd: cannot load dictionary \(dict.id)")
        }
        dictionaries[dict.id] = d
        return d
    }
}

/// A reusable decompressor for one thread. Output sizes come from the segment table and
/// are checked exactly: a segment that decompresses to any other size is corrupt.
package final class Decompressor {
    private let dctx: OpaquePointer?
    private var dictionaries: [Int: OpaquePointer] = [:]

    package init() { dctx = ZSTD_createDCtx() }

    deinit {
        if let d = dctx { ZSTD_freeDCtx(d) }
        for (_, d) in dictionaries { ZSTD_freeDDict(d) }
    }

    /// The first `prefix` bytes of a segment (at least; all of it when `prefix >= rawLength`):
    /// a reader that needs one record near the start stops decompressing after it. The
    /// exact total length is only checked by a whole decompression (`verify` does one).
    package func decompress(_ input: UnsafeRawBufferPointer, codec: Codec, rawLength: Int, prefix: Int,
                           dictionary: (id: Int, bytes: UnsafeRawBufferPointer)? = nil, into out: inout [UInt8]) throws(FormatError) {
        guard prefix < rawLength, codec == .zstd, dictionary == nil, let dctx = dctx else {
            try decompress(input, codec: codec, rawLength: rawLength, dictionary: dictionary, into: &out)
            return
        }
        let want = max(prefix, 0)
        ZSTD_DCtx_reset(dctx, ZSTD_reset_session_only)
        var produced = 0
        var failure: String? = nil
        out = [UInt8](unsafeUninitializedCapacity: max(want, 1)) { dst, initialized in
            var inBuffer = ZSTD_inBuffer(src: input.baseAddress, size: input.count, pos: 0)
            var outBuffer = ZSTD_outBuffer(dst: dst.baseAddress, size: want, pos: 0)
            while outBuffer.pos < want {
                let r = ZSTD_decompressStream(dctx, &outBuffer, &inBuffer)
                if ZSTD_isError(r) != 0 { failure = String(cString: ZSTD_getErrorName(r)); break }
                if r == 0 || (inBuffer.pos == inBuffer.size && outBuffer.pos < want) { break } // frame (or input) ended
            }
            produced = outBuffer.pos
            initialized = produced
        }
        if let f = failure { throw FormatError("zstd: \(f)") }
        guard produced == want else { throw FormatError("decompressed to \(produced) bytes, expected at least \(want) of \(rawLength)") }
    }

    package func decompress(_ input: UnsafeRawBufferPointer, codec: Codec, rawLength: Int,
                           dictionary: (id: Int, bytes: UnsafeRawBufferPointer)? = nil, into out: inout [UInt8]) throws(FormatError) {
        out.removeAll(keepingCapacity: true)
        switch codec {
        case .none:
            guard input.count == rawLength else { throw FormatError("stored length \(input.count) differs from raw length \(rawLength)") }
            out.append(contentsOf: input)
        case .zstd:
            var ddict: OpaquePointer? = nil
            if let dict = dictionary {
                if let d = dictionaries[dict.id] { ddict = d } else {
                    guard let d = ZSTD_createDDict(dict.bytes.baseAddress, dict.bytes.count) else {
                        throw FormatError("zstd dictionary \(dict.id) is unusable")
                    }
                    dictionaries[dict.id] = d
                    ddict = d
                }
            }
            // `rawLength` is a claim of the segment table (up to 2^30): the output buffer starts
            // at most 64 times the input (1 MiB at least) and grows only when the frame really
            // decompresses to more, so memory follows the data, not the claim.
            // The buffer is not zero-filled first: zstd writes every byte it reports, and the
            // array's count is set to exactly that (a memset was a page fault per 4 KiB).
            var capacity = min(rawLength, max(input.count * 64, 1 << 20))
            while true {
                var r = 0
                out = [UInt8](unsafeUninitializedCapacity: max(capacity, 1)) { dst, initialized in
                    if let dd = ddict {
                        r = ZSTD_decompress_usingDDict(dctx, dst.baseAddress, capacity, input.baseAddress, input.count, dd)
                    } else {
                        r = ZSTD_decompressDCtx(dctx, dst.baseAddress, capacity, input.baseAddress, input.count)
                    }
                    initialized = ZSTD_isError(r) != 0 ? 0 : r
                }
                if ZSTD_isError(r) != 0 {
                    if ZSTD_getErrorCode(r) == ZSTD_error_dstSize_tooSmall && capacity < rawLength {
                        capacity = min(rawLength, capacity * 4)
                        continue
                    }
                    throw FormatError("zstd: \(String(cString: ZSTD_getErrorName(r)))")
                }
                guard r == rawLength else { throw FormatError("decompressed to \(r) bytes, expected \(rawLength)") }
                break
            }
        case .lz4:
            guard input.count < Int(Int32.max), rawLength < Int(Int32.max) else { throw FormatError("lz4 segment too large") }
            // An LZ4 block expands at most 255 times (a match length grows by 255 per byte):
            // a larger claim is corrupt, and is refused before it sizes the buffer.
            guard rawLength <= input.count * 256 + 64 else {
                throw FormatError("lz4: \(input.count) bytes cannot decompress to \(rawLength)")
            }
            var r: Int32 = 0
            out = [UInt8](unsafeUninitializedCapacity: max(rawLength, 1)) { dst, initialized in
                r = LZ4_decompress_safe(input.baseAddress?.assumingMemoryBound(to: CChar.self),
                                        dst.baseAddress.map { UnsafeMutableRawPointer($0).assumingMemoryBound(to: CChar.self) },
                                        Int32(input.count), Int32(rawLength))
                initialized = r > 0 ? Int(r) : 0
            }
            guard r == Int32(rawLength) else { throw FormatError("lz4: corrupt block (got \(r), expected \(rawLength) bytes)") }
        }
    }
}

/// Metadata sections (index, strings, tables) are compressed as one zstd frame behind a
/// u64 raw length; readers decompress them once into memory they own.
package enum SectionCompression {
    /// Level 19 takes about ten times as long for metadata some 10% smaller: a large share
    /// of an update's time (and a build's) for a fraction of a percent of the archive.
    package static let level: Int32 = 9

    package static func compress(_ raw: [UInt8]) throws -> [UInt8] {
        let c = Compressor(codec: .zstd, level: Int(level))
        return try raw.withUnsafeBytes { try c.compress($0) }
    }

    /// Decompresses exactly `out.count` bytes from `input` into `out`.
    package static func decompress(_ input: UnsafeRawBufferPointer, into out: UnsafeMutableRawBufferPointer) throws(FormatError) {
        let r = ZSTD_decompress(out.baseAddress, out.count, input.baseAddress, input.count)
        if ZSTD_isError(r) != 0 { throw FormatError("zstd: \(String(cString: ZSTD_getErrorName(r)))") }
        guard r == out.count else { throw FormatError("decompressed to \(r) bytes, expected \(out.count)") }
    }
}
