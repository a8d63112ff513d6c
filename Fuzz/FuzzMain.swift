// libFuzzer entry points of the fuzz binary that scripts/fuzz builds. One binary holds
// every target (building Sources/CSTPack with ASan takes minutes; once is enough); the
// environment picks one: CSTPACK_FUZZ_TARGET=archive (default), forged, query, pattern or arguments.

import Glibc

private enum Target { case archive, forged, query, pattern, arguments }
nonisolated(unsafe) private var target = Target.archive

@_cdecl("LLVMFuzzerInitialize")
public func cstpackFuzzInitialize(_ argc: UnsafeMutablePointer<Int32>,
                                  _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>) -> Int32 {
    let name = getenv("CSTPACK_FUZZ_TARGET").map { String(cString: $0) } ?? "archive"
    switch name {
    case "archive": target = .archive; FuzzArchive.initialize()
    case "forged": target = .forged; FuzzForged.initialize()
    case "query": target = .query; FuzzQuery.initialize()
    case "pattern": target = .pattern; FuzzPattern.initialize()
    case "arguments": target = .arguments
    default:
        fputs("fuzz: unknown CSTPACK_FUZZ_TARGET '\(name)' (archive, forged, query, pattern or arguments)\n", stderr)
        exit(2)
    }
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func cstpackFuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let input = UnsafeRawBufferPointer(start: data, count: size)
    switch target {
    case .archive, .forged: FuzzArchive.run(input)
    case .query: FuzzQuery.run(input)
    case .pattern: FuzzPattern.run(input)
    case .arguments: FuzzArguments.run(input)
    }
    return 0
}

/// Only the `forged` target mutates structures; the others keep libFuzzer's own mutations.
@_cdecl("LLVMFuzzerCustomMutator")
public func cstpackFuzzMutate(_ data: UnsafeMutablePointer<UInt8>, _ size: Int, _ maxSize: Int, _ seed: UInt32) -> Int {
    if target == .forged { return FuzzForged.mutate(data, size: size, maxSize: maxSize, seed: seed) }
    return libFuzzerMutate(data, size, maxSize)
}
