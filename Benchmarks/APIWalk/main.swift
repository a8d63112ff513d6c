// cstpack-api-walk: visits every node of every file of an archive through the public API
// (a TreeCursor per file) within a cache budget, checks the walk, and reports peak RSS and
// the cache's hit rate. Driven by scripts/bench-api; not part of the shipped library.
//
//     cstpack-api-walk ARCHIVE [CACHE_MIB] [PASSES]
import CSTPack

#if canImport(Glibc)
import Glibc
#endif

func fail(_ message: String) -> Never {
    let line = "cstpack-api-walk: error: \(message)\n"
    _ = line.utf8CString.withUnsafeBufferPointer { write(2, $0.baseAddress, line.utf8.count) }
    exit(2)
}

/// A field of /proc/self/status in KiB (VmHWM: peak resident set; VmRSS: now).
func status(_ field: String) -> Int {
    guard let f = fopen("/proc/self/status", "r") else { return -1 }
    defer { fclose(f) }
    var line = [CChar](repeating: 0, count: 256)
    while fgets(&line, Int32(line.count), f) != nil {
        let s = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        if s.hasPrefix(field + ":") { return Int(s.dropFirst(field.count + 1).filter(\.isNumber)) ?? -1 }
    }
    return -1
}

/// `x` with `digits` decimals.
func fixed(_ x: Double, _ digits: Int) -> String {
    var scale = 1.0
    for _ in 0..<digits { scale *= 10 }
    let n = Int((x * scale).rounded())
    let whole = String(n / Int(scale)), part = String(n % Int(scale))
    return digits == 0 ? whole : whole + "." + String(repeating: "0", count: digits - part.count) + part
}

func seconds() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_MONOTONIC, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
}

let args = Array(CommandLine.arguments.dropFirst())
guard (1...3).contains(args.count) else { fail("usage: cstpack-api-walk ARCHIVE [CACHE_MIB (16)] [PASSES (1)]") }
guard let mib = Int(args.count > 1 ? args[1] : "16"), mib >= 0, let passes = Int(args.count > 2 ? args[2] : "1"), passes >= 1 else {
    fail("CACHE_MIB and PASSES must be whole numbers (PASSES at least 1)")
}

do {
    let rssBefore = status("VmRSS")
    let began = seconds()
    let archive = try CSTArchive(path: args[0], cacheLimit: mib << 20)
    var nodes = 0, named = 0, largestCache = 0
    for _ in 0..<passes {
        for file in archive.files {
            var cursor = try file.syntaxTree().walk()
            var expected = 0
            repeat {
                // Preorder: the walk meets ids 0, 1, 2, ... in turn.
                guard cursor.nodeID == expected else { fail("\(file.path): the walk met #\(cursor.nodeID), expected #\(expected)") }
                expected += 1
                if cursor.node.isNamed { named += 1 }
                if cursor.gotoFirstChild() { continue }
                while !cursor.gotoNextSibling() {
                    guard cursor.gotoParent() else { break }
                }
            } while cursor.nodeID != 0
            guard expected == file.nodeCount else { fail("\(file.path): walked \(expected) nodes, the index says \(file.nodeCount)") }
            nodes += expected
            largestCache = max(largestCache, archive.cacheStatistics.cachedBytes)
        }
    }
    let elapsed = seconds() - began
    let s = archive.cacheStatistics
    let indexed = archive.files.reduce(0) { $0 + $1.nodeCount } * passes
    guard nodes == indexed else { fail("walked \(nodes) nodes, the index says \(indexed)") }
    print("archive: \(archive.files.count) files, \(nodes / passes) nodes (\(named / passes) named) per pass, \(passes) pass(es)")
    print("cache: limit \(mib) MiB, largest held \(largestCache >> 10) KiB; segments \(s.segmentHits)/\(s.segmentReads) hits, trees \(s.treeHits)/\(s.treeReads) hits; hit rate \(fixed(s.hitRate, 3))")
    print("rss: peak \(status("VmHWM") >> 10) MiB (at start \(rssBefore >> 10) MiB; the archive's mapped pages count once read)")
    print("wall: \(fixed(elapsed, 2)) s (meaningful only on a quiet machine)")
    print("check: every node of every file walked in preorder (\(nodes) = the index's node counts)")
} catch {
    fail("\(error)")
}
