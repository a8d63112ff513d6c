// Fuzz target `archive`: everything that reads an archive: opening (header, section table,
// strings, languages, bases, tables, build info), then for every file its path, index
// lookup, tree, source, line table, node API and single nodes from checkpoints, then
// `stats` and `verify` (ReadEverything). Built by scripts/fuzz with swiftc together with
// Sources/CSTPack (one module) and run from seed archives built out of Fixtures/tree.
// Not a SwiftPM target. CSTPACK_FUZZ_CHECKSUMS=0 ignores checksum mismatches, so that
// mutations reach the structure checks and decoders behind them.

import Glibc

enum FuzzArchive {
    static func initialize() {
        if let v = getenv("CSTPACK_FUZZ_CHECKSUMS"), String(cString: v) == "0" { Hash.checksumsEnforced = false }
    }

    static func run(_ input: UnsafeRawBufferPointer) {
        ReadEverything.run(input)
    }
}
