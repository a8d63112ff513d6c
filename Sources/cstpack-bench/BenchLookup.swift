import ArgumentParser
import CommandSupport
import CSTPack

/// Measures single-node lookups inside one process (what `query FILE LINE:COL` does after
/// the archive is open), for scripts/bench-query.
struct BenchLookup: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-lookup",
        abstract: "Time LINE:COL lookups in random stored files."
    )
    @OptionGroup var archiveOption: ArchiveOption
    @Option(help: "Number of lookups.", transform: saturatingInt) var count = 2000
    @Option(help: "Random seed.") var seed: UInt64 = 1
    @Option(help: "Rounds of the warm measurement (for profiling it).", transform: saturatingInt) var warmRounds = 1

    func run() throws {
        do {
            try checkRange(count, 0...10_000_000, "--count")
            try checkRange(warmRounds, 1...1000, "--warm-rounds")
            let archive = try archiveOption.open()
            guard archive.fileCount > 0 else { throw CSTPackError("\(archive.path) holds no files") }
            var state = seed
            func next() -> Int {
                state &+= 0x9E37_79B9_7F4A_7C15
                var z = state
                z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
                z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
                return Int(truncatingIfNeeded: (z ^ (z >> 31)) >> 1)
            }
            // Picks: a stored path and a line:column inside it.
            var picks: [(String, Int, Int)] = []
            for _ in 0..<count {
                let i = next() % archive.fileCount
                let f = try archive.file(i)
                guard f.lineCount > 0 else { continue }
                picks.append((String(decoding: try archive.path(ofFile: i), as: UTF8.self), 1 + next() % Int(f.lineCount), 1 + next() % 8))
            }
            // Cold: a new reader per lookup (no segment decompressed yet). Warm: one reader
            // whose cache already holds the segments (an untimed pass first).
            let warmReader = ArchiveReader(archive)
            warmReader.treeCacheLimit = 0
            for (path, line, column) in picks {
                guard let i = try Locate.files(archive, matching: path).first else { continue }
                _ = try warmReader.fileTree(i, line: line, column: column)
            }
            for warm in [false] + Array(repeating: true, count: max(1, warmRounds)) {
                var found = 0
                var times: [Double] = []
                times.reserveCapacity(picks.count)
                let started = monotonicSeconds()
                for (path, line, column) in picks {
                    let t0 = monotonicSeconds()
                    let reader = warm ? warmReader : ArchiveReader(archive)
                    reader.treeCacheLimit = 0
                    guard let i = try Locate.files(archive, matching: path).first else { continue }
                    // As `query FILE LINE:COL` does: the tree only as far as the node.
                    if let (_, node) = try reader.fileTree(i, line: line, column: column) {
                        found += node >= 0 ? 1 : 0
                    }
                    times.append(monotonicSeconds() - t0)
                }
                let us = (monotonicSeconds() - started) * 1e6 / Double(max(picks.count, 1))
                times.sort()
                func percentile(_ q: Double) -> String { times.isEmpty ? "-" : fmt(times[min(times.count - 1, Int(q * Double(times.count)))] * 1e6, 1) }
                print("first lookup in a file, \(warm ? "warm" : "cold") segment cache: \(picks.count) lookups (\(found) inside a line), \(fmt(us, 1)) µs per lookup (median \(percentile(0.5)), p90 \(percentile(0.9)), max \(percentile(1)))")
            }
            // An editor asks many points of one open file: later lookups reuse its decoded tree.
            let reader = ArchiveReader(archive)
            var total = 0
            let started = monotonicSeconds()
            for (path, line, column) in picks {
                guard let i = try Locate.files(archive, matching: path).first else { continue }
                let ft = try reader.fileTree(i)
                for l in 0..<10 {
                    if let b = ft.byteOffset(line: 1 + (line + l * 7) % max(ft.lineStarts?.count ?? 1, 1), column: column) {
                        total += ft.deepestNode(at: b)
                    }
                }
            }
            let per = (monotonicSeconds() - started) * 1e6 / Double(max(picks.count * 10, 1))
            print("ten lookups per file (the file decoded once): \(fmt(per, 1)) µs per lookup (checksum \(total % 1000))")
        } catch {
            fail(error)
        }
    }
}
