/// How `build` and `diff` parse a file: in the parse helper process (IsolatedParser), where
/// a crash in tree-sitter or a grammar costs one file instead of the build, when the file
/// has at least `isolateAbove` bytes (by default every file does); else in this process.
/// One per worker thread.
final class FileParser {
    let local = TreeSitterParser()
    let isolated: IsolatedParser?
    let isolateAbove: Int

    init(helper: String?, isolateAbove: Int) {
        isolated = helper.map { IsolatedParser(executable: $0) }
        self.isolateAbove = isolateAbove
    }

    convenience init(options: BuildOptions) {
        self.init(helper: options.parseHelper, isolateAbove: options.isolateAbove)
    }

    private func isolates(_ source: UnsafeRawBufferPointer) -> Bool {
        isolated != nil && source.count >= isolateAbove
    }

    func parse(_ source: UnsafeRawBufferPointer, grammar: Grammar, timeoutMicros: UInt64) throws -> TreeSitterParser.Result {
        if isolates(source), let helper = isolated {
            return try helper.parse(source, grammar: grammar, timeoutMicros: timeoutMicros, wantTree: true)!
        }
        return try local.parse(source, grammar: grammar, timeoutMicros: timeoutMicros)
    }

    func parseOnly(_ source: UnsafeRawBufferPointer, grammar: Grammar, timeoutMicros: UInt64) throws {
        if isolates(source), let helper = isolated {
            _ = try helper.parse(source, grammar: grammar, timeoutMicros: timeoutMicros, wantTree: false)
            return
        }
        try local.parseOnly(source, grammar: grammar, timeoutMicros: timeoutMicros)
    }
}

/// One FileParser per worker thread, handed from one parallel stage to the next (each is
/// used by one thread at a time: the stages do not overlap).
final class FileParsers: @unchecked Sendable {
    private let parsers: [FileParser]

    init(count: Int, options: BuildOptions) {
        parsers = (0..<max(1, count)).map { _ in FileParser(options: options) }
    }

    var count: Int { parsers.count }
    subscript(worker: Int) -> FileParser { parsers[worker] }
}
