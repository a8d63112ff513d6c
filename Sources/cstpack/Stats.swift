import ArgumentParser
import CommandSupport
import CSTPack

struct Stats: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stats",
        abstract: "Sizes per language and in total, sections, segments and what each phase contributes.",
        discussion: """
        cst_bytes is everything in the archive except stored source text. Per language it is an \
        estimate (marked "est."; cst_bytes_basis "estimated" in JSON): a segment's compressed \
        size is shared out over its records in proportion to their raw size, and the index and \
        tables in proportion to node counts. --measure measures it instead: each language's \
        records compressed on their own, plus its tag model.
        """
    )
    @OptionGroup var archiveOption: ArchiveOption
    @Flag(help: "Print JSON (keys: total, languages.<name>, sections, segments, phases, phase2, skipped).")
    var json = false
    @Flag(help: "Also measure phase 2: re-encode every tree without it and compress alike (takes about as long as `verify`).")
    var measure = false

    func run() throws {
        do {
            let report = try StatsReport.compute(try archiveOption.open(), measure: measure)
            print(json ? try report.json() : report.text())
        } catch {
            fail(error)
        }
    }
}
