import Glibc

/// Reads a whole file with POSIX calls; the path is raw bytes. Fails on files that
/// grew past `limit` while being read. The file may have changed since the walk listed it:
/// a symbolic link is not followed (O_NOFOLLOW) and a FIFO or device is refused without
/// blocking (O_NONBLOCK at open; regular files read as usual).
func readFile(_ path: [UInt8], limit: Int) throws -> [UInt8] {
    let fd = path.withCString { open($0, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK) }
    guard fd >= 0 else { throw CSTPackError("cannot open: \(errnoText())") }
    defer { close(fd) }
    var st = stat()
    guard fstat(fd, &st) == 0 else { throw CSTPackError("cannot stat: \(errnoText())") }
    guard (st.st_mode & S_IFMT) == S_IFREG else { throw CSTPackError("not a regular file") }
    var out = [UInt8](repeating: 0, count: min(Int(st.st_size), limit) + 1)
    var filled = 0
    while true {
        if filled == out.count {
            guard out.count <= limit else { throw CSTPackError("grew past the size limit while being read") }
            out.append(contentsOf: repeatElement(0, count: max(4096, out.count)))
        }
        let n = out.withUnsafeMutableBytes { read(fd, $0.baseAddress! + filled, $0.count - filled) }
        if n < 0 {
            if errno == EINTR { continue }
            throw CSTPackError("read failed: \(errnoText())")
        }
        if n == 0 { break }
        filled += n
    }
    guard filled <= limit else { throw CSTPackError("grew past the size limit while being read") }
    out.removeSubrange(filled...)
    return out
}

/// Writes all of `bytes` to `fd`, retrying short writes; returns 0, or the errno of the
/// write that failed (ENOSPC, EFBIG, EIO, ...).
func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) -> Int32 {
    var done = 0
    while done < bytes.count {
        let n = write(fd, bytes.baseAddress! + done, bytes.count - done)
        if n < 0 {
            let code = errno
            if code == EINTR { continue }
            return code
        }
        done += n
    }
    return 0
}

/// Line facts of a source text. Lines end with "\n"; a final line without one counts.
package enum Lines {
    package static func count(_ bytes: UnsafeRawBufferPointer) -> Int {
        guard !bytes.isEmpty else { return 0 }
        var n = 0
        for b in bytes where b == 0x0A { n += 1 }
        return bytes.last == 0x0A ? n : n + 1
    }

    /// Byte offset where each row starts, tree-sitter's way: row r starts after the r-th
    /// "\n" (so a text ending in "\n" has an empty last row).
    package static func starts(_ bytes: UnsafeRawBufferPointer) -> [UInt32] {
        var s: [UInt32] = [0]
        guard let base = bytes.baseAddress else { return s }
        s.reserveCapacity(bytes.count / 32 + 1)
        // memchr scans a word at a time; a byte loop was most of a warm lookup's time.
        var p = base
        let end = base + bytes.count
        while p < end, let hit = memchr(p, 0x0A, end - p) {
            let next = UnsafeRawPointer(hit) + 1
            s.append(UInt32(next - base))
            p = next
        }
        return s
    }
}

/// A directory entry's name, read in place. `d_name` is declared 256 bytes long, but glibc
/// allocates each entry only as long as its name: copying the field out (as
/// `entry.pointee.d_name` does) read past the record (AddressSanitizer: heap-buffer-overflow).
func entryName(_ entry: UnsafeMutablePointer<dirent>) -> [UInt8] {
    let name = UnsafeRawPointer(entry) + MemoryLayout<dirent>.offset(of: \dirent.d_name)!
    return Array(UnsafeBufferPointer(start: name.assumingMemoryBound(to: UInt8.self), count: strlen(name.assumingMemoryBound(to: CChar.self))))
}
