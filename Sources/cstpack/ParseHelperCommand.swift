import ArgumentParser
import CSTPack
import Glibc

/// The process `build` parses large files in (IsolatedParser), so that a tree-sitter crash
/// costs one file, not the build. Not for people: it speaks a binary protocol on stdin/stdout.
struct ParseHelperCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "parse-helper",
        abstract: "Parse files for `build` in a separate process (internal).",
        shouldDisplay: false
    )

    func run() throws {
        Glibc.exit(ParseHelper.serve())
    }
}
