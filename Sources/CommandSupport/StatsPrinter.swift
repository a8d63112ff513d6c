import CSTPack
import Foundation

// `cstpack stats`'s two forms of a StatsReport: a table for people and JSON.

extension StatsReport {
    /// A table for people.
    package func text() -> String {
        var out: [String] = []
        func mb(_ b: Int) -> String { fmt(Double(b) / 1_000_000, 2) + " MB" }
        out.append("archive \(archive) (format \(format_version)): \(mb(total.archive_bytes)), \(total.files) files (\(total.unique_files) unique), \(total.lines) lines, \(total.nodes) nodes")
        out.append("")
        let estimated = languages.values.contains { $0.cst_bytes_basis == "estimated" }
        let header = ["language", "files", "lines", "nodes", "source", estimated ? "cst (est.)" : "cst (measured)",
                      estimated ? "B/node (est.)" : "B/node", "lines/MB"]
        var rows: [[String]] = []
        for (name, t) in languages.sorted(by: { ($0.value.nodes, $1.key) > ($1.value.nodes, $0.key) }) {
            rows.append([name, "\(t.files)", "\(t.lines)", "\(t.nodes)", mb(t.source_bytes), mb(t.cst_bytes), fmt(t.bytes_per_node, 3), fmt(t.lines_per_mb_of_cst, 0)])
        }
        rows.append(["total", "\(total.files)", "\(total.lines)", "\(total.nodes)", mb(total.source_bytes), mb(total.cst_bytes), fmt(total.bytes_per_node, 3), fmt(total.lines_per_mb_of_cst, 0)])
        out += textTable([header] + rows)
        if estimated {
            out.append("(est.: per language, each segment's compressed size is shared out over its records by raw size, and the index and tables by node count; --measure compresses each language's records on their own; the total is measured)")
        } else {
            out.append("(per language: its CST records compressed on their own, and its tag model; the index and tables only in the total)")
        }
        out.append("")
        out.append("what each phase contributes (CSTs only):")
        out += textTable([["stage", "bytes", "B/node"]] + phases.map { [$0.phase, "\($0.bytes)", fmt($0.bytes_per_node, 3)] })
        out.append("")
        let models = phase2.bases.map { "\($0.language) \($0.bytes) B" }
        out.append("phase 2: " + (phase2.applied ? "applied" : "not applied (built with --phases 1,3)")
                   + "; tag models: " + (models.isEmpty ? "none" : models.joined(separator: ", ")))
        out.append("  raw bytecode saved: tag models \(phase2.tag_models_raw_saved) B, identical files \(phase2.identical_files_raw_saved) B")
        if let m = phase2.measured {
            out.append("  measured: CST segments \(m.cst_segments_without_phase2) B without phase 2 -> \(m.cst_segments_with_phase2) B with it; "
                       + "saved by tag models \(m.tag_models_saved) B (net of the bases), by identical files \(m.identical_files_saved) B "
                       + "(measured on trees without tag models)")
            out.append("  archive CST bytes: \(m.cst_bytes_without_phase2) B without phase 2 -> \(total.cst_bytes) B: \(fmt(m.reduction * 100, 1))% less")
        } else if phase2.applied {
            out.append("  (--measure re-encodes every tree without phase 2 to measure its compressed gain)")
        }
        if summary_bytes > 0 {
            out.append("search summaries (kind counts, leaf-text filters; not in the CST bytes): \(summary_bytes) B, \(fmt(Double(summary_bytes) / Double(max(total.nodes, 1)), 3)) B/node, \(fmt(Double(summary_bytes) * 100 / Double(max(total.archive_bytes, 1)), 1))% of the archive")
        }
        out.append("segments: \(segments.cst_segments) CST + \(segments.source_segments) source, \(segments.codec) level \(segments.level), size \(segments.segment_size), mean fill \(fmt(segments.mean_fill * 100, 1))%")
        out.append("  CST: \(mb(segments.cst_raw_bytes)) raw -> \(mb(segments.cst_stored_bytes)) stored; source: \(mb(segments.source_raw_bytes)) raw -> \(mb(segments.source_stored_bytes)) stored")
        out.append("sections: " + sections.sorted(by: { $0.key < $1.key }).map { "\($0.key) \($0.value)" }.joined(separator: ", "))
        let skippedText = skipped.filter { $0.value > 0 }.sorted(by: { $0.key < $1.key }).map { "\($0.key) \($0.value)" }
        out.append("skipped at build: " + (skippedText.isEmpty ? "none" : skippedText.joined(separator: ", ")))
        return out.joined(separator: "\n")
    }

    package func json() throws -> String {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        return String(decoding: try e.encode(self), as: UTF8.self)
    }
}

/// Columns padded to their widest cell: text left-aligned, the columns in `numeric`
/// (default: all but the first) right-aligned. Trailing spaces are trimmed.
package func textTable(_ rows: [[String]], numeric: Set<Int>? = nil) -> [String] {
    guard let first = rows.first else { return [] }
    let widths = first.indices.map { c in rows.map { $0[c].count }.max() ?? 0 }
    let right = numeric ?? Set(first.indices.dropFirst())
    return rows.map { row in
        var line = row.enumerated().map { c, cell in
            let pad = String(repeating: " ", count: widths[c] - cell.count)
            return right.contains(c) ? pad + cell : cell + pad
        }.joined(separator: "  ")
        while line.last == " " { line.removeLast() }
        return line
    }
}
