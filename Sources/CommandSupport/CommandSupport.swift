import ArgumentParser
import CSTPack
import Glibc

// What the command-line programs (the shipped `cstpack` and the `cstpack-bench` drivers)
// share: the archive option, the shape of a failure and of number options.

package struct ArchiveOption: ParsableArguments {
    @Option(name: [.short, .long], help: ArgumentHelp("The archive to read (default: $CSTPACK_ARCHIVE, else ./index.cstpack).", valueName: "PATH"))
    package var archive: String?

    package init() {}

    package func open() throws -> Archive { try Archive.open(explicit: archive) }

    /// The path `open` would read (for commands that replace the archive).
    package func path() throws -> String { try Archive.resolvePath(explicit: archive) }
}

/// Prints a one-line error (`PROGRAM: error: ...`) and exits 2: the shape of every failure.
package func fail(_ error: Error, program: String) -> Never {
    writeStderr("\(program): error: \(error)\n")
    exit(2)
}

package func defaultJobs() -> Int { max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))) }
