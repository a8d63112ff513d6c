// Fuzz target `query`: a query string is untrusted input. Each input is a byte that picks
// one of the small files of the archive named by CSTPACK_FUZZ_ARCHIVE (a seed built from
// Fixtures/tree), then query text: parsed against that file's language (QueryParser),
// compiled to tables (QueryMatcher) and matched over the file's tree. Errors are expected;
// a trap, a hang or an oversized allocation is a finding.

import Glibc

enum FuzzQuery {
    /// Trees small enough that matching stays far below the per-input timeout.
    static let maxNodes = 3000
    nonisolated(unsafe) static var trees: [FileTree] = []

    static func initialize() {
        guard let p = getenv("CSTPACK_FUZZ_ARCHIVE") else {
            fputs("fuzz: the query target needs CSTPACK_FUZZ_ARCHIVE=PATH (an archive of Fixtures/tree)\n", stderr)
            exit(2)
        }
        let path = String(cString: p)
        do {
            let archive = try Archive(path: path)
            let reader = ArchiveReader(archive)
            for i in 0..<archive.fileCount where try archive.file(i).nodeCount <= maxNodes {
                trees.append(try reader.fileTree(i))
            }
        } catch {
            fputs("fuzz: \(path): \(error)\n", stderr)
            exit(2)
        }
        guard !trees.isEmpty else {
            fputs("fuzz: \(path) holds no file of at most \(maxNodes) nodes\n", stderr)
            exit(2)
        }
    }

    static func run(_ input: UnsafeRawBufferPointer) {
        guard let pick = input.first else { return }
        let ft = trees[Int(pick) % trees.count]
        let text = String(decoding: input.dropFirst(), as: UTF8.self)
        guard let query = try? QueryParser.parse(text, table: ft.table),
              let matcher = try? QueryMatcher(query, kindCount: ft.table.kindCount) else { return }
        _ = try? matcher.matchList(in: ft)
    }
}
