/// Everything `diff` can be told.
package struct DiffOptions: Sendable {
    /// Limit the diff to these paths (a path, a directory prefix, or a shell pattern).
    package var paths: [String] = []
    /// Compute node-level diffs of modified files (off for --name-status and --quiet).
    package var nodeLevel = true
    package var jobs = 1
    package var tree = TreeDiffOptions()
    /// Minimum similarity, in percent, of a file pair to count as a rename; over 100: only
    /// identical content.
    package var renameThreshold = 50
    /// Inexact rename detection is skipped when removed × added files exceed this.
    package var renameLimit = 1_000_000
    // Reading a working tree, as `build` does.
    package var noIgnore = false
    package var excludes: [String] = []
    package var languageOverrides: [String: String] = [:]
    package var maxFileSize = 4 << 20
    package var parseTimeoutMicros: UInt64 = 10_000_000
    /// As `build`'s: files of at least `isolateAbove` bytes parse in the helper process.
    package var parseHelper: String? = nil
    package var isolateAbove = BuildOptions.isolateAboveDefault

    package init() {}
}

/// One file of a snapshot, as file-level matching sees it.
package struct SnapshotFile: Sendable {
    package var path: [UInt8]
    package var hash: ContentHash
    package var language: String
    package var size: Int
    package var lines: Int
    /// The file's index in its archive (-1 in a working tree).
    package var index: Int
    package var displayPath: String { String(decoding: path, as: UTF8.self) }
}

/// One side of a diff: an archive, or a working tree read and hashed as `build` would read it
/// (parsed only for the files that differ).
package final class Snapshot: @unchecked Sendable {
    package enum Origin {
        case archive(Archive)
        case directory(root: String, grammars: GrammarRegistry)
    }
    package let origin: Origin
    /// Files in byte order of their paths.
    package let files: [SnapshotFile]
    package let warnings: [String]
    let maxFileSize: Int
    let parseTimeoutMicros: UInt64
    let parseHelper: String?
    let isolateAbove: Int

    package var label: String {
        switch origin {
        case .archive(let a): return a.path
        case .directory(let root, _): return root
        }
    }

    package init(archive: Archive) throws {
        origin = .archive(archive)
        var files: [SnapshotFile] = []
        files.reserveCapacity(archive.fileCount)
        for i in 0..<archive.fileCount {
            let f = try archive.file(i)
            files.append(SnapshotFile(path: try archive.path(ofFile: i), hash: f.contentHash,
                                      language: archive.languages[Int(f.language)].name,
                                      size: Int(f.sourceLength), lines: Int(f.lineCount), index: i))
        }
        self.files = files
        warnings = []
        maxFileSize = Int(UInt32.max)
        parseTimeoutMicros = 0
        parseHelper = nil
        isolateAbove = 0
    }

    /// Walks `root` as `build` does (git's listing inside a work tree, unless `noIgnore`),
    /// keeps the files of a language that has a grammar here or in `otherLanguages` (the
    /// other side's), and reads and hashes them on `options.jobs` threads.
    package init(directory root: String, grammars: GrammarRegistry, options: DiffOptions,
                otherLanguages: Set<String> = []) throws {
        origin = .directory(root: root, grammars: grammars)
        maxFileSize = options.maxFileSize
        parseTimeoutMicros = options.parseTimeoutMicros
        parseHelper = options.parseHelper
        isolateAbove = options.isolateAbove
        var walker = Walker(root: root)
        walker.noIgnore = options.noIgnore
        walker.excludes = options.excludes
        let walk = try walker.walk()
        var warnings = walk.warnings
        let map = LanguageMap(overrides: options.languageOverrides)
        var chosen: [(WalkedFile, String)] = []
        for f in walk.files {
            let name = Array(f.path.split(separator: UInt8(ascii: "/")).last ?? [])
            guard let lang = map.language(forFileName: name),
                  grammars.grammars[lang] != nil || otherLanguages.contains(lang),
                  f.size <= options.maxFileSize else { continue }
            chosen.append((f, lang))
        }
        let jobs = max(1, options.jobs)
        let queue = OrderedWorkQueue<SourceRead>(total: chosen.count, window: jobs * 64)
        let maxSize = options.maxFileSize
        let paths = chosen.map { $0.0.path }
        let join = startThreads(min(jobs, max(chosen.count, 1))) { _ in
            while let i = queue.take() {
                queue.put(i, WorkList.readSource(root: root, path: paths[i], limit: maxSize))
            }
        }
        var files: [SnapshotFile] = []
        files.reserveCapacity(chosen.count)
        var i = 0
        while let read = queue.next() {
            let (f, lang) = chosen[i]
            i += 1
            switch read {
            case .bytes(let bytes):
                let (hash, lines) = bytes.withUnsafeBytes { (Hash.content($0), Lines.count($0)) }
                files.append(SnapshotFile(path: f.path, hash: hash, language: lang, size: bytes.count, lines: lines, index: -1))
            case .skipped(_, let message):
                if let m = message { warnings.append(m) }
            }
        }
        join()
        self.files = files
        self.warnings = warnings
    }

    /// Languages whose files this snapshot can show as trees.
    package var languageNames: Set<String> {
        switch origin {
        case .archive(let a): return Set(a.languages.map(\.name))
        case .directory(_, let g): return Set(g.grammars.keys)
        }
    }
}

/// Reads files of one snapshot for one thread (an archive reader or a parser of its own).
final class SnapshotLoader {
    let snapshot: Snapshot
    private var reader: ArchiveReader? = nil
    private var parser: FileParser? = nil

    init(_ snapshot: Snapshot) { self.snapshot = snapshot }

    /// The file's text, or nil when its archive does not store it.
    func source(_ f: SnapshotFile) throws -> [UInt8]? {
        switch snapshot.origin {
        case .archive(let archive):
            if reader == nil { reader = ArchiveReader(archive) }
            return try reader!.source(ofFile: f.index)
        case .directory(let root, _):
            switch WorkList.readSource(root: root, path: f.path, limit: snapshot.maxFileSize) {
            case .bytes(let b): return b
            case .skipped(_, let message): throw CSTPackError(message ?? "\(f.displayPath): binary file")
            }
        }
    }

    /// The file's tree (from the archive, or parsed now), with its text.
    func tree(_ f: SnapshotFile) throws -> FileTree {
        switch snapshot.origin {
        case .archive(let archive):
            if reader == nil { reader = ArchiveReader(archive) }
            return try reader!.fileTree(f.index)
        case .directory(_, let grammars):
            guard let grammar = grammars.grammars[f.language] else {
                throw CSTPackError("no grammar for '\(f.language)' here")
            }
            let bytes = try source(f)!
            if parser == nil { parser = FileParser(helper: snapshot.parseHelper, isolateAbove: snapshot.isolateAbove) }
            let tree = try bytes.withUnsafeBytes { raw in
                try parser!.parse(raw, grammar: grammar, timeoutMicros: snapshot.parseTimeoutMicros).tree
            }
            return FileTree(path: f.path, table: grammar.table, tree: tree, source: bytes,
                            lineStarts: bytes.withUnsafeBytes { Lines.starts($0) })
        }
    }
}
