/// Parses text a user or a forger chose (pattern text, an archive's stored source) with a
/// grammar. Grammars' external scanners crash on short hostile text (tree-sitter-markdown's
/// overruns its state buffer on a few hundred `[`, then aborts or corrupts the heap), which no
/// check of ours can prevent. With a helper executable (the CLI passes itself), text is parsed
/// in `cstpack parse-helper`, like files at build, so such a crash is an error; without one
/// (library use) it is parsed in this process. One parser serves a whole search or verify.
package final class UntrustedTextParser {
    private let isolated: IsolatedParser?
    private let reader: TreeSitterParser.Reader

    /// `helper`: a cstpack executable to run `parse-helper` from, or nil to parse in process.
    /// `reader`: how tree-sitter's tree is read (verify reads with the cursor, not with the
    /// build's walker it checks).
    package init(helper: String?, reader: TreeSitterParser.Reader = .cursor) {
        isolated = helper.map { IsolatedParser(executable: $0) }
        self.reader = reader
    }

    /// Starts the helper, if there is one, ahead of the first parse.
    package func prepare() { isolated?.prepare() }

    func parse(_ source: [UInt8], grammar: Grammar, timeoutMicros: UInt64) throws -> CSTTree {
        try source.withUnsafeBytes { raw in
            guard let isolated else {
                return try TreeSitterParser(reader: reader).parse(raw, grammar: grammar, timeoutMicros: timeoutMicros).tree
            }
            guard let result = try isolated.parse(raw, grammar: grammar, timeoutMicros: timeoutMicros, wantTree: true, reader: reader) else {
                throw CSTPackError("the parse helper returned no tree")
            }
            return result.tree
        }
    }
}
