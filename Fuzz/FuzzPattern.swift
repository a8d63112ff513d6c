// Fuzz target `pattern`: ast-grep pattern text and rule files (YAML) are untrusted input
// too. Each input is a byte that picks one of the small files of the archive named by
// CSTPACK_FUZZ_ARCHIVE (as the query target), a byte whose low bit says pattern or rule
// file (and whose next bits pick a strictness), then the text. It is compiled as
// `query --pattern` / `--rule` would (parsed with the file's grammar, metavariables and
// keys checked) and run over the file, rendered as `--json` (metavariables included).
// Errors are expected; a trap, a hang or an oversized allocation is a finding. Pattern text
// is parsed as the CLI parses it: in the parse helper of CSTPACK_FUZZ_PARSE_HELPER (a cstpack
// executable), since grammars' scanners crash on some text and only the helper contains that.

import Glibc

enum FuzzPattern {
    nonisolated(unsafe) static var archive: Archive! = nil
    nonisolated(unsafe) static var files: [Int] = []
    nonisolated(unsafe) static var parser: UntrustedTextParser! = nil

    static func initialize() {
        guard let p = getenv("CSTPACK_FUZZ_ARCHIVE") else {
            fputs("fuzz: the pattern target needs CSTPACK_FUZZ_ARCHIVE=PATH (an archive of Fixtures/tree)\n", stderr)
            exit(2)
        }
        guard let helper = getenv("CSTPACK_FUZZ_PARSE_HELPER") else {
            fputs("fuzz: the pattern target needs CSTPACK_FUZZ_PARSE_HELPER=PATH (a cstpack executable)\n", stderr)
            exit(2)
        }
        parser = UntrustedTextParser(helper: String(cString: helper))
        let path = String(cString: p)
        do {
            archive = try Archive(path: path)
            for i in 0..<archive.fileCount where try archive.file(i).nodeCount <= FuzzQuery.maxNodes {
                let language = archive.languages[Int(try archive.file(i).language)].name
                // Only files whose grammar is here: a pattern is parsed with it.
                if GrammarRegistry.loadedOnce(language).grammars[language] != nil { files.append(i) }
            }
        } catch {
            fputs("fuzz: \(path): \(error)\n", stderr)
            exit(2)
        }
        guard !files.isEmpty else {
            fputs("fuzz: \(path) holds no file of at most \(FuzzQuery.maxNodes) nodes with a grammar here\n", stderr)
            exit(2)
        }
    }

    static func run(_ input: UnsafeRawBufferPointer) {
        guard input.count >= 2 else { return }
        let file = files[Int(input[0]) % files.count]
        let mode = input[1]
        let text = String(decoding: input.dropFirst(2), as: UTF8.self)
        let search: StructuralSearch
        do {
            if mode & 1 == 0 {
                let strictness = PatternStrictness.allCases[Int(mode >> 1) % PatternStrictness.allCases.count]
                search = try StructuralSearch.pattern(text, language: nil, strictness: strictness, archive: archive, files: [file], parser: parser)
            } else {
                search = StructuralSearch(rules: try RuleFileCompiler.compile(text, path: "fuzz.yml", onlyLanguage: nil, archive: archive, parser: parser))
            }
        } catch {
            return
        }
        var options = QueryOptions()
        options.variables = true
        // What a printer reads of each match (the CLI's printers are not linked here).
        _ = try? QueryRunner.run(archive, files: [file], search: search, options: options, each: { m in
            guard let ft = m.tree else { return 0 }
            var bytes = 0
            for hit in m.hits {
                for n in [hit.node] + (hit.variables?.entries.flatMap(\.nodes) ?? []) {
                    bytes += ft.text(n)?.count ?? 0
                    _ = ft.point(ft.tree.starts[n]); _ = ft.point(ft.tree.ends[n])
                }
            }
            return bytes
        }, outputSize: { $0 }, sink: { _ in })
    }
}
