import ArgumentParser
import CommandSupport

/// Benchmark drivers for scripts/bench, scripts/bench-query and scripts/bench-phase2: not
/// part of the shipped `cstpack`.
@main
struct CSTPackBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cstpack-bench",
        abstract: "Benchmark drivers of cstpack (decoding every tree, single-node lookups).",
        subcommands: [DecodeAllCommand.self, BenchLookup.self]
    )
}

/// Prints a one-line `cstpack-bench: error:` and exits 2.
func fail(_ error: Error) -> Never { fail(error, program: "cstpack-bench") }
