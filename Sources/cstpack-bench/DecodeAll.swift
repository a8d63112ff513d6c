import CSTPack

/// Decodes every stored CST of an archive on `jobs` threads: the read-side counterpart of
/// parsing every file (`cstpack-bench decode-all`).
enum DecodeAll {
    struct Result: Sendable {
        var files = 0
        var nodes = 0
        /// Encoded bytes (EncodeAll only).
        var bytes = 0
        var seconds = 0.0
    }

    static func run(_ archive: Archive, jobs: Int) throws -> Result {
        let started = monotonicSeconds()
        final class Shared: @unchecked Sendable {
            let lock = Mutex()
            var next = 0
            var files = 0
            var nodes = 0
            var error: Error?
        }
        let shared = Shared()
        let join = startThreads(max(1, jobs)) { _ in
            let reader = ArchiveReader(archive, cacheLimit: 8 << 20, scanning: true)
            var buffers = TreeDecoder.Buffers(capacity: 1 << 16)
            var files = 0, nodes = 0
            // Runs of consecutive files: their records share segments, which each thread
            // would otherwise decompress again (files alternating between threads did so).
            let run = 64
            while true {
                let first: Int = shared.lock.locked {
                    defer { shared.next += run }
                    return shared.error == nil ? shared.next : archive.fileCount
                }
                guard first < archive.fileCount else { break }
                for i in first..<min(first + run, archive.fileCount) {
                    do {
                        guard try archive.file(i).sameAs == nil else { continue }
                        buffers = try reader.decode(file: i, reusing: buffers)
                        files += 1
                        nodes += buffers.count
                    } catch {
                        shared.lock.locked { shared.error = shared.error ?? error }
                        break
                    }
                }
            }
            shared.lock.locked { shared.files += files; shared.nodes += nodes }
        }
        join()
        if let e = shared.error { throw e }
        return Result(files: shared.files, nodes: shared.nodes, seconds: monotonicSeconds() - started)
    }
}

/// Encodes every stored CST again, as the build does (same tag models and record limit),
/// timing only the encoding: the encoder's benchmark (`cstpack-bench decode-all --encode`).
enum EncodeAll {
    static func run(_ archive: Archive) throws -> DecodeAll.Result {
        let reader = ArchiveReader(archive, cacheLimit: 8 << 20, scanning: true)
        var trees: [(tree: CSTTree, language: Int)] = []
        for i in 0..<archive.fileCount {
            let f = try archive.file(i)
            guard f.sameAs == nil else { continue }
            trees.append((try reader.tree(ofFile: i), Int(f.language)))
        }
        let models = try archive.languages.indices.map { try archive.tagModel(language: $0) }
        let limit = BuildOptions(root: "", output: "", jobs: 1).recordLimit
        let started = monotonicSeconds()
        var result = DecodeAll.Result()
        for (tree, language) in trees {
            let e = try TreeCodec.encode(tree, table: archive.languages[language], model: models[language], recordLimit: limit)
            result.files += 1
            result.nodes += tree.count
            result.bytes += e.byteCount
        }
        result.seconds = monotonicSeconds() - started
        return result
    }
}
