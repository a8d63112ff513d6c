import Glibc

/// The tree as it is now, read through an archive: files changed since the archive was
/// built are parsed for this answer, deleted ones left out, new ones included, so that a
/// reading command is never answered from a stale snapshot.
package enum LiveView {
    package struct Result {
        /// The archive to answer from: the base itself when the tree is as it records, else
        /// a merged archive (written to a temporary file, already unlinked).
        package let archive: Archive
        /// Lines for the user (stderr): what was read fresh, or why the archive answers as built.
        package let notes: [String]
        package let summary: UpdateSummary?
    }

    /// A parse for one answer is worth suggesting `update` from this many files on.
    static let suggestUpdateAt = 20

    /// Whether an answer that reads only the stored files `paths` may come from `base`
    /// without walking the tree: each is on disk with its recorded stamp (a point lookup in
    /// a large tree then costs a few lstat calls, not a walk, nor loading the grammars).
    package static func isCurrent(_ base: Archive, paths: [[UInt8]]) throws -> Bool {
        guard let state = base.treeState, !state.root.isEmpty, state.machine == TreeState.machineID(), !paths.isEmpty else { return false }
        return try paths.allSatisfy { path in
            guard let i = try base.fileIndex(path: path) else { return false }
            var st = stat()
            let full = state.root + [UInt8(ascii: "/")] + path
            guard full.withCString({ lstat($0, &st) }) == 0, (st.st_mode & S_IFMT) == S_IFREG else { return false }
            let stamp = FileStamp(st)
            return stamp == state.files[i].stamp && !stamp.isRacy(takenAt: base.modifiedAt)
        }
    }

    /// `changed` is called as soon as the tree is known to differ from `base` (before the
    /// changed files are parsed): work done from `base` meanwhile is wasted from then on.
    package static func open(_ base: Archive, grammars: GrammarRegistry, parseHelper: String?, jobs: Int,
                             changed: () -> Void = {}) throws -> Result {
        guard let state = base.treeState, !state.root.isEmpty else { return Result(archive: base, notes: [], summary: nil) }
        let asBuilt = "answering from the archive as built (--as-built says so and skips this check)"
        guard state.machine == TreeState.machineID() else {
            return Result(archive: base, notes: ["\(base.path) was built on another machine: \(asBuilt)"], summary: nil)
        }
        var st = stat()
        guard stat(state.rootPath, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR else {
            return Result(archive: base, notes: ["\(state.rootPath), the directory \(base.path) was built from, does not exist: \(asBuilt)"], summary: nil)
        }
        if let why = Updater.fullBuildReason(base, grammars: grammars) {
            return Result(archive: base, notes: ["\(why): \(asBuilt); `cstpack update` rebuilds it"], summary: nil)
        }
        let temporary = temporaryPath()
        var options = Updater.Options(output: temporary)
        options.jobs = jobs
        options.parseHelper = parseHelper
        options.durable = false
        options.ephemeral = true
        let plan: Updater.Plan
        do {
            plan = try Updater.plan(base, options: options, grammars: grammars, events: { _ in })
        } catch {
            return Result(archive: base, notes: ["\(error): \(asBuilt)"], summary: nil)
        }
        guard plan.summary.contentChanged else { return Result(archive: base, notes: [], summary: plan.summary) }
        changed()
        var written = plan
        try Updater.write(plan: &written, base: base, options: options, grammars: grammars, events: { _ in })
        defer { unlink(temporary) }
        let merged = try Archive(path: temporary)
        let s = written.summary
        var note = "\(s.changed + s.added + s.renamed) file(s) changed since \(base.path) was built were read fresh "
            + "(\(s.changed) changed, \(s.added) added, \(s.deleted) deleted, \(s.renamed) renamed; \(s.parsed) parsed)"
        if s.parsed >= suggestUpdateAt { note += "; `cstpack update` makes the archive current" }
        return Result(archive: merged, notes: [note], summary: s)
    }

    /// `open`, run on a thread of its own while the answer is worked out from `base`: the
    /// answer is held back until `wait` tells whether `base` was current (almost always: a
    /// tree's walk then costs no wall time beside the answer's own work).
    package final class Pending: @unchecked Sendable {
        private var outcome: Swift.Result<LiveView.Result, Error>? = nil
        private var join: (() -> Void)?
        private let lock = Mutex()
        private var known = false

        package init(_ base: Archive, grammars: @escaping @Sendable () -> GrammarRegistry, parseHelper: String?, jobs: Int) {
            join = startThreads(1) { [self] _ in
                let result = Swift.Result {
                    try LiveView.open(base, grammars: grammars(), parseHelper: parseHelper, jobs: jobs,
                                      changed: { lock.locked { known = true } })
                }
                lock.locked { outcome = result }
            }
        }

        /// Whether the check has ended (`wait` then returns at once).
        package var isFinished: Bool { lock.locked { outcome != nil } }

        /// Whether the tree is already known to differ from the base (its answer is then
        /// wasted work: stop it, and `wait` for the fresh archive).
        package var knownStale: Bool { lock.locked { known } }

        /// The check's result, once its thread has ended.
        package func wait() throws -> LiveView.Result {
            if let j = join { j(); join = nil }
            return try lock.locked { outcome }!.get()
        }
    }

    /// A new path in $TMPDIR (else /tmp) for the merged archive.
    static func temporaryPath() -> String {
        let dir = getenv("TMPDIR").map { String(cString: $0) }.flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
        var template = Array("\(dir)/cstpack-live-XXXXXX".utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        if fd >= 0 { close(fd) }
        return String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
