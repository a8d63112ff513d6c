import ArgumentParser
import CommandSupport
import CSTPack
import Glibc

struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check an archive: header, checksums, index, and every file's tree.",
        discussion: """
        Without options: every segment's checksum and size, the index, and each CST decoded \
        and checked for structural invariants. --source DIR also re-parses each file from DIR \
        and compares every node (kind, field, flags, range, parent) with tree-sitter's; \
        --deep does the same from the source stored in the archive. Exits 1 on any problem.
        """
    )

    @OptionGroup var archiveOption: ArchiveOption
    @Option(help: ArgumentHelp("Re-parse files from this tree and compare every node.", valueName: "DIR"))
    var source: String?
    @Flag(help: "Re-parse the stored source and compare every node.")
    var deep = false
    @Flag(help: "Print the report as JSON.")
    var json = false
    @OptionGroup var grammarOptions: GrammarOptions

    func validate() throws {
        if deep && source != nil { throw ValidationError("use either --source DIR or --deep, not both") }
    }

    func run() throws {
        let archive: Archive
        do { archive = try archiveOption.open() } catch { fail(error) }
        if deep && !archive.flags.contains(.sources) {
            fail(CSTPackError("\(archive.path) does not store source text (built with --no-source): --deep has nothing to re-parse; use --source DIR"))
        }
        var options = VerifyOptions()
        options.sourceDirectory = source
        options.deep = deep
        options.parseHelper = ownExecutable()
        let grammars = (deep || source != nil) ? grammarOptions.registry() : nil
        let report = Verifier.run(archive, options: options, grammars: grammars)
        if json {
            print(jsonObject([
                "archive": .string(archive.path), "ok": .bool(report.ok), "files": .int(report.files),
                "unique_files": .int(report.uniqueFiles), "nodes": .int(report.nodes), "segments": .int(report.segments),
                "files_reparsed": .int(report.filesReparsed), "nodes_compared": .int(report.nodesCompared),
                "dead_bytes": .int(report.deadBytes),
                "problems": .array(report.problems.map { .string($0) }),
                "warnings": .array(report.warnings.map { .string($0) }),
            ]))
        } else {
            for w in report.warnings.prefix(50) { writeStderr("cstpack: warning: \(w)\n") }
            for p in report.problems.prefix(50) { print("problem: \(p)") }
            if report.problems.count > 50 { print("... and \(report.problems.count - 50) more problems") }
            var line = "\(archive.path): \(report.ok ? "OK" : "FAILED"): \(report.files) files (\(report.uniqueFiles) unique), \(report.nodes) nodes, \(report.segments) segments"
            if report.deadBytes > 0 { line += ", \(report.deadBytes) dead bytes (left by update)" }
            if deep || source != nil { line += "; re-parsed \(report.filesReparsed) files, \(report.nodesCompared) nodes identical to tree-sitter's" }
            if !report.ok { line += "; \(report.problems.count) problem(s)" }
            print(line)
        }
        if !report.ok { throw ExitCode(1) }
    }
}
