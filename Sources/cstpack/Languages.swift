import ArgumentParser
import CommandSupport
import CSTPack

struct Languages: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "languages",
        abstract: "List the grammars found, their extensions, ABI and where they were loaded from."
    )
    @OptionGroup var grammarOptions: GrammarOptions
    @Flag(help: "Print JSON Lines, one object per grammar.")
    var json = false

    func run() throws {
        let registry = grammarOptions.registry()
        let specs = Dictionary(uniqueKeysWithValues: LanguageSpecs.all.map { ($0.name, $0) })
        if !json {
            print("searched: " + registry.searchedDirectories.joined(separator: ", "))
        }
        var rows: [[String]] = [["language", "ABI", "extensions", "library"]]
        for name in registry.grammars.keys.sorted() {
            let g = registry.grammars[name]!
            let spec = specs[name]
            let ext = ((spec?.extensions.map { "." + $0 } ?? []) + (spec?.fileNames ?? [])).joined(separator: " ")
            if json {
                print(jsonObject(["language": .string(name), "abi": .int(Int(g.abi)), "extensions": .array((spec?.extensions ?? []).map { .string($0) }),
                                  "file_names": .array((spec?.fileNames ?? []).map { .string($0) }), "library": .string(g.libraryPath)]))
            } else {
                rows.append([name, "\(g.abi)", ext.isEmpty ? "(use --lang EXT=\(name))" : ext, g.libraryPath])
            }
        }
        if !json {
            if registry.grammars.isEmpty {
                print("no grammars found: run scripts/setup-grammars, or pass --grammars DIR")
            } else {
                for line in textTable(rows, numeric: [1]) { print(line) }
            }
            for p in registry.problems { print("problem: \(p)") }
        }
    }
}
