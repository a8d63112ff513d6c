import ArgumentParser
import CommandSupport
import CSTPack

/// How a source directory is walked and parsed: `build`'s tree, `diff`'s NEW directory.
struct WalkOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Skip files larger than this.", valueName: "BYTES"), transform: saturatingInt)
    var maxFileSize: Int = 4 << 20

    @Option(help: ArgumentHelp("Give up parsing a file after this many milliseconds (0: never).", valueName: "MS"), transform: saturatingInt)
    var parseTimeout: Int = 10_000

    @Option(name: .customLong("lang"), help: ArgumentHelp("Map an extension to a grammar, e.g. --lang inc=cpp (repeatable).", valueName: "EXT=NAME"))
    var languageOverrides: [String] = []

    @Flag(help: "Walk the directory itself even inside a git work tree (.gitignore is not read).")
    var noIgnore = false

    @Option(help: ArgumentHelp("Skip paths or names matching this shell pattern, e.g. --exclude site-packages (repeatable).", valueName: "GLOB"))
    var exclude: [String] = []

    /// Every number in its range, as a `cstpack: error:` (exit 2).
    func checkNumbers() throws {
        try checkRange(maxFileSize, 1...(Int(UInt32.max) - 1), "--max-file-size")
        try checkRange(parseTimeout, 0...maxMilliseconds, "--parse-timeout", unit: " ms (0: never)")
    }

    /// `--lang EXT=NAME` as extension to grammar name.
    func overrides() throws -> [String: String] { try LanguageMap.parseOverrides(languageOverrides) }

    var parseTimeoutMicros: UInt64 { microseconds(milliseconds: parseTimeout) }
}
