// libFuzzer entry for everything that reads an archive: opening (header, section table,
// strings, languages, bases, tables, build info), then for every file its path, index
// lookup, tree, source, line table, node API and single nodes from checkpoints, then
// `stats` and `verify` (ReadEverything). Built by scripts/fuzz with swiftc together with
// Sources/CSTPack (one module) and run from seed archives built out of Fixtures/tree.
// Not a SwiftPM target. CSTPACK_FUZZ_CHECKSUMS=0 ignores checksum mismatches, so that
// mutations reach the structure checks and decoders behind them.

import Glibc

@_cdecl("LLVMFuzzerInitialize")
public func cstpackFuzzInitialize(_ argc: UnsafeMutablePointer<Int32>,
                                  _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>) -> Int32 {
    if let v = getenv("CSTPACK_FUZZ_CHECKSUMS"), String(cString: v) == "0" { Hash.checksumsEnforced = false }
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func cstpackFuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    ReadEverything.run(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}
