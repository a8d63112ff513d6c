/// A `.cstpack` archive opened for reading: its files, and their syntax trees decoded on
/// demand without parsing again.
///
/// Opening maps the file read-only and validates its header, section table and metadata
/// (every file entry included); each segment is checked when it is first read. Trees and
/// source text are copied out of the mapping, so nothing handed out reads the mapping
/// after the archive is gone.
///
/// ```swift
/// let archive = try CSTArchive(path: "index.cstpack")
/// for file in archive.files where file.language == "python" {
///     let tree = try file.syntaxTree()
///     print(file.path, tree.root.kind, tree.nodeCount)
/// }
/// ```
///
/// An archive keeps recently decompressed segments and decoded trees in a least recently
/// used cache within ``cacheLimit`` bytes. It may be shared between threads: its reads are
/// serialized.
public final class CSTArchive: Sendable {
    /// The path the archive was opened from.
    public let path: String
    /// The archive's files, in stored order (sorted by the bytes of their paths).
    public let files: [ArchiveFile]
    /// The byte budget of the cache of decompressed segments and decoded trees.
    ///
    /// Segments take at most half of it; trees are evicted, least recently used first,
    /// while segments and trees together exceed it. The cache keeps at least the last item
    /// read even when that item alone is larger. Trees and nodes that callers hold are
    /// not counted: they live as long as the callers keep them.
    public let cacheLimit: Int
    /// What files and trees share (files must not hold the archive: it holds them).
    let reading: ArchiveReading

    /// The default ``cacheLimit``: 64 MiB.
    public static let defaultCacheLimit = 64 << 20

    /// Opens and validates the archive at `path`, with the default cache budget.
    ///
    /// - Parameter path: The archive's file path.
    /// - Throws: ``CSTPackError`` when the file cannot be read or is not a valid archive.
    public convenience init(path: String) throws {
        try self.init(path: path, cacheLimit: Self.defaultCacheLimit)
    }

    /// Opens and validates the archive at `path`, caching decompressed segments and
    /// decoded trees within `cacheLimit` bytes.
    ///
    /// - Parameters:
    ///   - path: The archive's file path.
    ///   - cacheLimit: The cache's byte budget (0 keeps only the last segment read).
    /// - Throws: ``CSTPackError`` when the file cannot be read or is not a valid archive.
    public convenience init(path: String, cacheLimit: Int) throws {
        try self.init(opened: try ArchiveReading.translatingErrors(path) { try Archive(path: path) }, path: path, cacheLimit: cacheLimit)
    }

    /// An archive already opened (and validated) by the reader: what the fuzz targets hand
    /// the public API, forged bytes included.
    package init(opened archive: Archive, path: String, cacheLimit: Int) throws {
        self.path = path
        self.cacheLimit = max(0, cacheLimit)
        let reading = ArchiveReading(archive, cacheLimit: self.cacheLimit)
        self.reading = reading
        var files: [ArchiveFile] = []
        files.reserveCapacity(archive.fileCount)
        try ArchiveReading.translatingErrors(path) {
            for i in 0..<archive.fileCount {
                let entry = try archive.file(i)
                files.append(ArchiveFile(reading: reading, index: i, entry: entry, path: try archive.path(ofFile: i),
                                         language: archive.languages[Int(entry.language)].name))
            }
        }
        self.files = files
    }

    /// The stored file whose path is exactly `path` (as ``ArchiveFile/path`` gives it),
    /// or nil.
    public func file(path: String) -> ArchiveFile? {
        guard let i = try? reading.archive.fileIndex(path: Array(path.utf8)) else { return nil }
        return files[i]
    }

    /// Whether the archive stores the files' source text (it was not built with
    /// `--no-source`). Without it, ``SyntaxNode/text`` is nil and queries with text
    /// predicates fail.
    public var storesSource: Bool { reading.archive.flags.contains(.sources) }

    /// How the cache has served reads so far.
    public var cacheStatistics: CacheStatistics { reading.statistics }

    deinit { reading.stopCachingTrees() }
}

/// The archive, its reader and the cache, shared by a ``CSTArchive`` and everything it
/// hands out.
final class ArchiveReading: @unchecked Sendable {
    let archive: Archive
    let cacheLimit: Int
    /// Guards `reader`, the tree cache and the counters: the reader is single-threaded.
    private let lock = Mutex()
    private let reader: ArchiveReader
    private var trees: [Int: (storage: TreeStorage, lastUse: Int)] = [:]
    private var treeBytes = 0
    private var clock = 0
    private var treeRequests = 0, treeHits = 0
    /// Cached trees hold their files, which hold this: once the CSTArchive is gone, trees
    /// are no longer cached, so that nothing keeps this alive but what callers hold.
    private var cachesTrees = true

    init(_ archive: Archive, cacheLimit: Int) {
        self.archive = archive
        self.cacheLimit = cacheLimit
        reader = ArchiveReader(archive, cacheLimit: cacheLimit / 2, scanning: true)
        reader.treeCacheLimit = 0 // trees are cached here, by their bytes
    }

    var statistics: CacheStatistics {
        lock.locked {
            CacheStatistics(segmentReads: reader.segmentRequests, segmentHits: reader.segmentHits,
                            treeReads: treeRequests, treeHits: treeHits,
                            cachedBytes: reader.cachedBytes + treeBytes, limit: cacheLimit)
        }
    }

    /// A file's decoded tree, from the cache or decoded (and then cached).
    func treeStorage(_ file: ArchiveFile) throws -> TreeStorage {
        try lock.locked { () throws -> TreeStorage in
            clock += 1
            treeRequests += 1
            if let hit = trees[file.index] {
                trees[file.index]!.lastUse = clock
                treeHits += 1
                return hit.storage
            }
            let context = "\(archive.path): \(file.path)"
            let decoded = try Self.translatingErrors(context) { try reader.fileTree(file.index) }
            guard decoded.lineStarts != nil else {
                throw CSTPackError("\(context): the archive stores neither its text nor its line table")
            }
            let storage = TreeStorage(file: file, tree: decoded)
            guard cachesTrees else { return storage }
            trees[file.index] = (storage, clock)
            treeBytes += storage.byteCost
            evictTrees()
            return storage
        }
    }

    /// Drops the least recently used trees while the cache is over its budget (never the
    /// tree just read, unless the budget is 0).
    private func evictTrees() {
        while treeBytes + reader.cachedBytes > cacheLimit, trees.count > 1,
              let victim = trees.min(by: { $0.value.lastUse < $1.value.lastUse }) {
            treeBytes -= victim.value.storage.byteCost
            trees.removeValue(forKey: victim.key)
        }
        if cacheLimit == 0 {
            trees.removeAll()
            treeBytes = 0
        }
    }

    func stopCachingTrees() {
        lock.locked {
            cachesTrees = false
            trees.removeAll()
            treeBytes = 0
        }
    }

    /// A file's source text, or nil when the archive does not store it.
    func source(_ file: ArchiveFile) throws -> [UInt8]? {
        try lock.locked { () throws -> [UInt8]? in
            if let hit = trees[file.index] { return hit.storage.tree.source }
            return try Self.translatingErrors("\(archive.path): \(file.path)") { try reader.source(ofFile: file.index) }
        }
    }

    /// Runs `body`, turning the reader's format errors into ``CSTPackError``s that name
    /// `context`.
    static func translatingErrors<T>(_ context: String, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let e as CSTPackError {
            throw e
        } catch let e as FormatError {
            throw CSTPackError(e.description.hasPrefix(context) ? e.description : "\(context): \(e.description)")
        } catch {
            throw CSTPackError("\(context): \(error)")
        }
    }
}

/// How a ``CSTArchive``'s cache has served reads.
public struct CacheStatistics: Sendable, Equatable {
    /// Segment reads (each record of a tree or text read is one).
    public var segmentReads: Int
    /// Segment reads answered from the cache, without decompressing.
    public var segmentHits: Int
    /// Tree reads (``ArchiveFile/syntaxTree()`` calls).
    public var treeReads: Int
    /// Tree reads answered from the cache, without decoding.
    public var treeHits: Int
    /// Bytes the cache holds now: decompressed segments and decoded trees.
    public var cachedBytes: Int
    /// The cache's budget, ``CSTArchive/cacheLimit``.
    public var limit: Int

    /// The share of segment and tree reads the cache answered, from 0 to 1 (0 before
    /// any read).
    public var hitRate: Double {
        let reads = segmentReads + treeReads
        return reads == 0 ? 0 : Double(segmentHits + treeHits) / Double(reads)
    }
}

