// Fuzz target `archive`: everything that reads an archive: opening (header, section table,
// strings, languages, bases, tables, build info), then for every file its path, index
// lookup, tree, source, line table, node API and single nodes from checkpoints, then
// `stats` and `verify` (ReadEverything). Built by scripts/fuzz with swiftc together with
// Sources/CSTPack and Sources/CSTPackForgery (one module) and run from seed archives built
// out of Fixtures/tree. Not a SwiftPM target. CSTPACK_FUZZ_RESEAL=1 recomputes every
// checksum of the mutated input first (Reseal), as a forger would, so that mutations
// reach the structure checks and decoders behind them; the reader is the shipped one.

import Glibc

enum FuzzArchive {
    nonisolated(unsafe) static var reseal = false

    static func initialize() {
        if let v = getenv("CSTPACK_FUZZ_RESEAL"), String(cString: v) == "1" { reseal = true }
    }

    static func run(_ input: UnsafeRawBufferPointer) {
        if reseal {
            Reseal.resealed(Array(input)).withUnsafeBytes { _ = ReadEverything.run($0) }
        } else {
            ReadEverything.run(input)
        }
    }
}
