import ArgumentParser
import CommandSupport
import CSTPack

struct List: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ls",
        abstract: "List the files stored in an archive, with language, lines and nodes."
    )
    @Argument(help: "Stored paths, directories or globs to list ('*' stays in a folder, '**' crosses folders; ':!GLOB' leaves out). Default: every file.")
    var paths: [String] = []

    @Option(help: ArgumentHelp("Leave out paths matching this glob (repeatable).", valueName: "GLOB"))
    var exclude: [String] = []

    @OptionGroup var archiveOption: LiveArchiveOption
    @Flag(help: "Print JSON Lines: path, language, bytes, lines, nodes, syntax_errors, same_as.")
    var json = false
    @Flag(name: .customLong("null"), help: "Print only paths, each ended by a NUL byte (for xargs -0).")
    var nul = false

    func run() throws {
        do {
            let archive = try archiveOption.open()
            for i in try Locate.select(archive, archiveOption.storedPatterns(paths, archive), excludes: exclude) {
                let f = try archive.file(i)
                let pathBytes = try archive.path(ofFile: i)
                let path = String(decoding: pathBytes, as: UTF8.self)
                let lang = archive.languages[Int(f.language)].name
                if nul {
                    writeStdout(pathBytes + [0])
                } else if json {
                    let sameAs: JSONValue = try f.sameAs.map { .string(String(decoding: try archive.path(ofFile: $0.index), as: UTF8.self)) } ?? .null
                    print(jsonObject(["path": .string(path), "language": .string(lang), "bytes": .int(Int(f.sourceLength)),
                                      "lines": .int(Int(f.lineCount)), "nodes": .int(Int(f.nodeCount)),
                                      "syntax_errors": .bool(f.flags.contains(.syntaxErrors)), "same_as": sameAs]))
                } else {
                    print("\(path)\t\(lang)\t\(plural(Int(f.lineCount), "line"))\t\(plural(Int(f.nodeCount), "node"))\(f.flags.contains(.syntaxErrors) ? "\tsyntax errors" : "")")
                }
            }
        } catch {
            fail(error)
        }
    }
}
