// libFuzzer entry points of the fuzz binary that scripts/fuzz builds. One binary holds
// every target (building Sources/CSTPack with ASan takes minutes; once is enough); the
// environment picks one: CSTPACK_FUZZ_TARGET=archive (default), query or arguments.

import Glibc

private enum Target { case archive, query, arguments }
nonisolated(unsafe) private var target = Target.archive

@_cdecl("LLVMFuzzerInitialize")
public func cstpackFuzzInitialize(_ argc: UnsafeMutablePointer<Int32>,
                                  _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>) -> Int32 {
    let name = getenv("CSTPACK_FUZZ_TARGET").map { String(cString: $0) } ?? "archive"
    switch name {
    case "archive": target = .archive; FuzzArchive.initialize()
    case "query": target = .query; FuzzQuery.initialize()
    case "arguments": target = .arguments
    default:
        fputs("fuzz: unknown CSTPACK_FUZZ_TARGET '\(name)' (archive, query or arguments)\n", stderr)
        exit(2)
    }
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func cstpackFuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let input = UnsafeRawBufferPointer(start: data, count: size)
    switch target {
    case .archive: FuzzArchive.run(input)
    case .query: FuzzQuery.run(input)
    case .arguments: FuzzArguments.run(input)
    }
    return 0
}
