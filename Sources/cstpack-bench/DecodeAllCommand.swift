import ArgumentParser
import CommandSupport
import CSTPack

struct DecodeAllCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "decode-all",
        abstract: "Decode every stored tree of an archive (a benchmark of reading without re-parsing)."
    )
    @OptionGroup var archiveOption: ArchiveOption
    @Option(name: .short, help: ArgumentHelp("Parallel workers (default: all cores).", valueName: "N"), transform: saturatingInt)
    var jobs: Int?
    @Flag(help: "Print JSON.")
    var json = false
    @Flag(help: "Instead, time encoding every decoded tree again on one thread (the encoder's benchmark).")
    var encode = false

    func run() throws {
        do {
            try checkRange(jobs, 1...256, "-j")
            let archive = try archiveOption.open()
            let r = encode ? try EncodeAll.run(archive) : try DecodeAll.run(archive, jobs: jobs ?? defaultJobs())
            if json {
                print(jsonObject(["files": .int(r.files), "nodes": .int(r.nodes), "seconds": .double(r.seconds),
                                  "ns_per_node": .double(r.seconds * 1e9 / Double(max(r.nodes, 1)))]))
            } else {
                print("\(encode ? "encoded" : "decoded") \(r.files) files, \(r.nodes) nodes in \(fmt(r.seconds, 3)) s (\(fmt(r.seconds * 1e9 / Double(max(r.nodes, 1)), 1)) ns/node)")
            }
        } catch {
            fail(error)
        }
    }
}
