import Glibc

/// `cstpack cat` and `cstpack extract`: stored files written back byte for byte.
package enum Extractor {
    /// The stored bytes of file `i`, or an error saying the archive holds none.
    package static func contents(_ reader: ArchiveReader, file i: Int) throws -> [UInt8] {
        guard let bytes = try reader.source(ofFile: i) else {
            throw CSTPackError("\(String(decoding: try reader.archive.path(ofFile: i), as: UTF8.self)): the archive does not store its text (built with --no-source)")
        }
        return bytes
    }

    /// A stored path as a path under a directory: relative, no `.`, `..` or empty component
    /// (a forged archive could name `../../etc/passwd`).
    static func safeRelative(_ path: [UInt8]) throws -> [UInt8] {
        let parts = path.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false)
        guard !parts.isEmpty, path.first != UInt8(ascii: "/"), !path.contains(0),
              parts.allSatisfy({ !$0.isEmpty && $0.elementsEqual([UInt8(ascii: ".")]) == false && $0.elementsEqual([UInt8(ascii: "."), UInt8(ascii: ".")]) == false }) else {
            throw CSTPackError("stored path '\(String(decoding: path, as: UTF8.self))' is not a plain relative path: refusing to write it")
        }
        return path
    }

    /// Writes files `files` under `directory` (created if missing). Every target is checked
    /// before anything is written: an existing one is an error unless `force`. Each file is
    /// written to a temporary name and renamed, so a reader never sees half a file.
    /// Returns the number of files written.
    package static func extract(_ reader: ArchiveReader, files: [Int], to directory: String, force: Bool) throws -> Int {
        let root = Array(directory.utf8)
        var targets: [(Int, [UInt8])] = []
        for i in files {
            let rel = try safeRelative(try reader.archive.path(ofFile: i))
            let full = root + [UInt8(ascii: "/")] + rel
            var st = stat()
            if full.withCString({ lstat($0, &st) }) == 0 {
                if (st.st_mode & S_IFMT) == S_IFDIR { throw CSTPackError("\(String(decoding: full, as: UTF8.self)): a directory is in the way") }
                if !force { throw CSTPackError("\(String(decoding: full, as: UTF8.self)) exists (use --force to overwrite)") }
            }
            targets.append((i, full))
        }
        for (i, full) in targets {
            let bytes = try contents(reader, file: i)
            try makeParents(of: full)
            let temp = full + Array(".cstpack-tmp-\(getpid())".utf8)
            let fd = temp.withCString { open($0, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0o644) }
            guard fd >= 0 else { throw CSTPackError("\(String(decoding: full, as: UTF8.self)): cannot create: \(errnoText())") }
            let code = bytes.withUnsafeBytes { writeAll(fd, $0) }
            close(fd)
            guard code == 0 else {
                _ = temp.withCString { unlink($0) }
                throw CSTPackError("\(String(decoding: full, as: UTF8.self)): cannot write: \(errnoText(code))")
            }
            let renamed = temp.withCString { t in full.withCString { rename(t, $0) } }
            guard renamed == 0 else {
                let e = errno
                _ = temp.withCString { unlink($0) }
                throw CSTPackError("\(String(decoding: full, as: UTF8.self)): cannot write: \(errnoText(e))")
            }
        }
        return targets.count
    }

    /// mkdir -p of the directory holding `path`.
    static func makeParents(of path: [UInt8]) throws {
        var k = path.startIndex
        while let slash = path[(k + 1)...].firstIndex(of: UInt8(ascii: "/")) {
            let dir = Array(path[..<slash])
            if dir.withCString({ mkdir($0, 0o755) }) != 0 && errno != EEXIST {
                throw CSTPackError("\(String(decoding: dir, as: UTF8.self)): cannot create directory: \(errnoText())")
            }
            k = slash
        }
    }
}
