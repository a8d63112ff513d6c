import Foundation
import Glibc

/// A file found by the walker: its path relative to the root as raw bytes ('/'-separated;
/// names need not be UTF-8), and its size when listed.
package struct WalkedFile: Sendable {
    package var path: [UInt8]
    package var size: Int
    /// lstat's view of the file when it was listed, before anything read it.
    package var stamp: FileStamp
    package var displayPath: String { String(decoding: path, as: UTF8.self) }
}

/// Lists the files of a source tree, in byte order of their paths.
/// Inside a git work tree it asks git (`ls-files --cached --others --exclude-standard`), so
/// `.gitignore` is honoured; elsewhere it walks the directories itself, skipping hidden
/// entries. Symbolic links are never followed (no loops), only counted.
package struct Walker {
    package let root: String
    /// Walk the directories even inside a git work tree (ignore files are not read).
    package var noIgnore = false
    /// Shell patterns (fnmatch) matched against each relative path and each of its names.
    package var excludes: [String] = []
    /// Whether a file of this name will be read: files it rejects are listed without their
    /// size and stamp (both 0), which saves an lstat each.
    package var wants: (@Sendable ([UInt8]) -> Bool)? = nil

    package struct Result: Sendable {
        package var files: [WalkedFile] = []
        package var symlinks: Int { symlinkPaths.count }
        /// Symbolic links met (not followed), for `build -v`.
        package var symlinkPaths: [[UInt8]] = []
        package var warnings: [String] = []
        package var usedGit = false
        /// Files excluded, and directories excluded whole (not walked).
        package var excluded = 0
    }

    package init(root: String) { self.root = root }

    package func walk() throws -> Result {
        var st = stat()
        guard stat(root, &st) == 0 else { throw CSTPackError("\(root): \(errnoText())") }
        guard (st.st_mode & S_IFMT) == S_IFDIR else { throw CSTPackError("\(root): not a directory") }
        var result = Result()
        if !noIgnore, let listed = gitListing() {
            result.usedGit = true
            for path in listed { classify(path, into: &result) }
            if !excludes.isEmpty {
                let before = result.files.count
                result.files.removeAll { isExcluded($0.path) }
                result.excluded += before - result.files.count
            }
        } else {
            walkDirectories(into: &result)
        }
        result.files.sort { $0.path.lexicographicallyPrecedes($1.path) }
        return result
    }

    private func classify(_ path: [UInt8], into result: inout Result) {
        var st = stat()
        let full = rootBytes + [UInt8(ascii: "/")] + path
        let ok = full.withCString { lstat($0, &st) == 0 }
        guard ok else { return } // listed by git but deleted from the work tree
        switch st.st_mode & S_IFMT {
        case S_IFREG: result.files.append(WalkedFile(path: path, size: Int(st.st_size), stamp: FileStamp(st)))
        case S_IFLNK: result.symlinkPaths.append(path)
        default: break
        }
    }

    /// Whether a pattern matches `path`, any name in it, or the path of a folder it is in
    /// (as the directory walk, which does not enter an excluded folder, decides).
    func isExcluded(_ path: [UInt8]) -> Bool {
        let slash = UInt8(ascii: "/")
        let folders = path.indices.filter { path[$0] == slash }.map { Array(path[..<$0]) }
        let parts = [path] + path.split(separator: slash).map(Array.init) + folders
        return excludes.contains { pattern in
            parts.contains { part in part.withCString { fnmatch(pattern, $0, 0) == 0 } }
        }
    }

    /// `isExcluded` for a file met while walking, whose folders were checked when they were
    /// entered: only its own path and name are left to match.
    func isExcluded(file path: [UInt8], name: [UInt8]) -> Bool {
        path.withCString { p in name.withCString { n in
            excludes.contains { fnmatch($0, p, 0) == 0 || fnmatch($0, n, 0) == 0 }
        } }
    }

    var rootBytes: [UInt8] { Array(root.utf8) }

    /// Paths from git, or nil when `root` is not inside a work tree (or git is missing).
    private func gitListing() -> [[UInt8]]? {
        guard let inside = runGit(["rev-parse", "--is-inside-work-tree"]),
              String(decoding: inside, as: UTF8.self).hasPrefix("true") else { return nil }
        guard let out = runGit(["ls-files", "--cached", "--others", "--exclude-standard", "-z"]) else { return nil }
        var seen = Set<[UInt8]>()
        return out.split(separator: 0).map(Array.init).filter { seen.insert($0).inserted }
    }

    private func runGit(_ args: [String]) -> [UInt8]? {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["git", "-C", root] + args
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = FileHandle.nullDevice
        p.standardInput = FileHandle.nullDevice
        do { try p.run() } catch { return nil }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return p.terminationStatus == 0 ? [UInt8](data) : nil
    }

    private func walkDirectories(into result: inout Result) {
        var pending: [[UInt8]] = [[]] // relative directory paths, explicit stack
        while let rel = pending.popLast() {
            let dirPath = rel.isEmpty ? rootBytes : rootBytes + [UInt8(ascii: "/")] + rel
            guard let dir = dirPath.withCString({ opendir($0) }) else {
                result.warnings.append("\(String(decoding: dirPath, as: UTF8.self)): cannot read directory: \(errnoText())")
                continue
            }
            var names: [(name: [UInt8], type: UInt8)] = []
            while let entry = readdir(dir) {
                let name = entryName(entry)
                if name.first == UInt8(ascii: ".") { continue } // ".", "..", hidden files and VCS folders
                names.append((name, entry.pointee.d_type))
            }
            // Entries are stat'ed relative to the open directory: the kernel then resolves
            // one name, not the whole path, for each (the staleness check of every glob
            // query walks the tree).
            let fd = dirfd(dir)
            defer { closedir(dir) }
            for (name, type) in names.sorted(by: { $0.name.lexicographicallyPrecedes($1.name) }) {
                let childRel = rel.isEmpty ? name : rel + [UInt8(ascii: "/")] + name
                if type == UInt8(DT_REG), !excludes.isEmpty, isExcluded(file: childRel, name: name) {
                    result.excluded += 1
                    continue
                }
                // A regular file nobody wants (no grammar reads its name) needs no lstat: the
                // directory entry's type says what it is (a query's staleness check walks the
                // tree every time, and most files of a tree are not source).
                if type == UInt8(DT_REG), let wants, !wants(name) {
                    result.files.append(WalkedFile(path: childRel, size: 0, stamp: FileStamp(size: 0, mtimeNanos: 0, ctimeNanos: 0, inode: 0)))
                    continue
                }
                var st = stat()
                guard name.withCString({ fstatat(fd, $0, &st, AT_SYMLINK_NOFOLLOW) }) == 0 else { continue }
                switch st.st_mode & S_IFMT {
                case S_IFDIR:
                    // An excluded directory excludes everything under it: not walked at all.
                    if !excludes.isEmpty && isExcluded(childRel) { result.excluded += 1; continue }
                    pending.append(childRel)
                case S_IFREG:
                    // A file of unknown entry type (DT_UNKNOWN), or one a grammar reads.
                    if type != UInt8(DT_REG), !excludes.isEmpty, isExcluded(file: childRel, name: name) { result.excluded += 1; continue }
                    result.files.append(WalkedFile(path: childRel, size: Int(st.st_size), stamp: FileStamp(st)))
                case S_IFLNK: result.symlinkPaths.append(childRel)
                default: break
                }
            }
        }
    }
}

extension Array where Element == UInt8 {
    /// Calls `body` with this byte string as a NUL-terminated C string.
    func withCString<R>(_ body: (UnsafePointer<CChar>) throws -> R) rethrows -> R {
        var z = self
        z.append(0)
        return try z.withUnsafeBufferPointer { try $0.withMemoryRebound(to: CChar.self) { try body($0.baseAddress!) } }
    }
}
