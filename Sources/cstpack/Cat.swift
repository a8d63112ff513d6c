import ArgumentParser
import CommandSupport
import CSTPack

struct Cat: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cat",
        abstract: "Write stored files to standard output, byte for byte (like `git show REV:path`).",
        discussion: "PATH is a stored path or a glob ('*' stays in a folder, '**' crosses folders); files are written in path order."
    )

    @Argument(help: "Stored paths or globs.")
    var paths: [String]

    @OptionGroup var archiveOption: LiveArchiveOption

    func validate() throws {
        if paths.isEmpty { throw ValidationError("name at least one PATH") }
    }

    func run() throws {
        do {
            let archive = try archiveOption.open()
            let reader = ArchiveReader(archive, scanning: true)
            for i in try Locate.select(archive, archiveOption.storedPatterns(paths, archive)) { writeStdout(try Extractor.contents(reader, file: i)) }
        } catch {
            fail(error)
        }
    }
}

struct Extract: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "extract",
        abstract: "Write stored files under a directory (like `tar -x -C DIR`).",
        discussion: """
        Every file, or those PATH selects (stored paths or globs). Nothing is written if any \
        target exists, unless --force; each file is written to a temporary name and renamed.
        """
    )

    @Option(name: .customLong("to"), help: ArgumentHelp("The directory to write into (created if missing).", valueName: "DIR"))
    var directory: String

    @Argument(help: "Stored paths or globs (default: every file).")
    var paths: [String] = []

    @Flag(help: "Overwrite files that exist.")
    var force = false

    @Flag(name: .shortAndLong, help: "Say how many files were written.")
    var verbose = false

    @OptionGroup var archiveOption: LiveArchiveOption

    func run() throws {
        do {
            let archive = try archiveOption.open()
            let reader = ArchiveReader(archive, scanning: true)
            let n = try Extractor.extract(reader, files: try Locate.select(archive, archiveOption.storedPatterns(paths, archive)), to: directory, force: force)
            if verbose { writeStderr("extracted \(n) files to \(directory)\n") }
        } catch {
            fail(error)
        }
    }
}
