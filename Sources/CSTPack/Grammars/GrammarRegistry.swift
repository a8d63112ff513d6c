import CTreeSitter
import CTreeSitterSupport
import Foundation
import Glibc

/// A loaded tree-sitter grammar. The TSLanguage tables live inside the shared library,
/// which is never closed, so the pointer stays valid for the process.
package struct Grammar: @unchecked Sendable {
    package let name: String
    package let libraryPath: String
    package let abi: UInt32
    let language: OpaquePointer
    package let table: LanguageTable
}

/// Finds grammar libraries and loads the grammars in them with dlopen, as editors do.
///
/// Search order (all existing directories are read; the first grammar found for a name wins):
/// 1. `--grammars DIR`
/// 2. `CSTPACK_GRAMMARS` (colon-separated directories)
/// 3. the per-user directory `$XDG_DATA_HOME/cstpack/grammars` (default `~/.local/share/cstpack/grammars`)
/// 4. beside the executable: `<bin>/grammars` and `<bin>/../share/cstpack/grammars`
package final class GrammarRegistry: @unchecked Sendable {
    package static let minABI: UInt32 = 13
    package static let maxABI: UInt32 = 14

    package private(set) var grammars: [String: Grammar] = [:]
    /// Libraries or grammars that could not be used, each a one-line explanation.
    package private(set) var problems: [String] = []
    package let searchedDirectories: [String]
    private var handles: [(path: String, handle: UnsafeMutableRawPointer)] = []

    package static func searchDirectories(explicit: String?) -> [String] {
        var dirs: [String] = []
        if let e = explicit { dirs.append(e) }
        if let env = getenv("CSTPACK_GRAMMARS").map({ String(cString: $0) }), !env.isEmpty {
            dirs += env.split(separator: ":").map(String.init)
        }
        if let xdg = getenv("XDG_DATA_HOME").map({ String(cString: $0) }), !xdg.isEmpty {
            dirs.append(xdg + "/cstpack/grammars")
        } else if let home = getenv("HOME").map({ String(cString: $0) }) {
            dirs.append(home + "/.local/share/cstpack/grammars")
        }
        if let exe = executableDirectory() {
            dirs.append(exe + "/grammars")
            dirs.append(exe + "/../share/cstpack/grammars")
        }
        return dirs
    }

    static func executableDirectory() -> String? {
        var buf = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buf, buf.count - 1)
        guard n > 0 else { return nil }
        let path = String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        guard let slash = path.lastIndex(of: "/") else { return nil }
        return String(path[..<slash])
    }

    /// The default directories' registry holding only grammar `name`, loaded once per
    /// process: what a query's check, a pattern and each rule of a rule file parse with.
    package static func loadedOnce(_ name: String) -> GrammarRegistry {
        onceLock.lock()
        defer { onceLock.unlock() }
        if let r = loaded[name] { return r }
        let r = GrammarRegistry(directories: searchDirectories(explicit: nil), only: [name])
        loaded[name] = r
        return r
    }
    nonisolated(unsafe) private static var loaded: [String: GrammarRegistry] = [:]
    private static let onceLock = NSLock()

    /// Loads every `*.so` in the directories. `extraNames` are grammar names (from
    /// `--lang EXT=NAME`) to look for beyond the built-in list; `only`, when given, is the
    /// whole list (a pattern needs one grammar, not the tables of all of them).
    package init(directories: [String], extraNames: [String] = [], only: Set<String>? = nil) {
        searchedDirectories = directories
        let wanted = only ?? Set(LanguageSpecs.all.map(\.name) + extraNames)
        for dir in directories {
            guard let entries = try? listDirectory(dir) else { continue }
            for file in entries.sorted() where file.hasSuffix(".so") || file.contains(".so.") {
                load(path: dir + "/" + file, fileName: file, wanted: wanted)
            }
        }
    }

    private func load(path: String, fileName: String, wanted: Set<String>) {
        guard let handle = dlopen(path, RTLD_NOW | RTLD_LOCAL) else {
            let why = dlerror().map { String(cString: $0) } ?? "unknown error"
            problems.append("\(path): cannot load: \(why)")
            return
        }
        handles.append((path, handle))
        var names = wanted
        // libtree-sitter-NAME.so, tree-sitter-NAME.so and NAME.so name their grammar.
        var stem = String(fileName.prefix { $0 != "." })
        for prefix in ["libtree-sitter-", "tree-sitter-", "libtree_sitter_", "tree_sitter_"] where stem.hasPrefix(prefix) {
            stem = String(stem.dropFirst(prefix.count))
        }
        names.insert(stem.split(separator: "-", omittingEmptySubsequences: false).joined(separator: "_"))
        var found = 0
        for name in names.sorted() where grammars[name] == nil {
            guard let sym = dlsym(handle, "tree_sitter_" + name) else { continue }
            found += 1
            typealias LanguageFunction = @convention(c) () -> OpaquePointer?
            let fn = unsafeBitCast(sym, to: LanguageFunction.self)
            guard let loaded = fn() else {
                problems.append("\(path): tree_sitter_\(name)() returned no language")
                continue
            }
            // A grammar whose scanner is known to break determinism is used mended.
            let lang = cst_mended_language(loaded, name) ?? loaded
            let abi = ts_language_version(lang)
            guard abi >= Self.minABI && abi <= Self.maxABI else {
                problems.append("\(path): grammar '\(name)' has ABI \(abi); this tree-sitter (0.20.7) reads ABI \(Self.minABI)–\(Self.maxABI), so it is not used")
                continue
            }
            grammars[name] = Grammar(name: name, libraryPath: path, abi: abi, language: lang,
                                     table: Self.table(name: name, abi: abi, language: lang))
        }
        if found == 0 {
            problems.append("\(path): no tree_sitter_<name> grammar function found")
        }
    }

    static func table(name: String, abi: UInt32, language: OpaquePointer) -> LanguageTable {
        let symbolCount = Int(ts_language_symbol_count(language))
        var kinds: [String] = []
        var named: [Bool] = []
        for s in 0..<symbolCount {
            let sym = TSSymbol(s)
            kinds.append(ts_language_symbol_name(language, sym).map { String(cString: $0) } ?? "")
            named.append(ts_language_symbol_type(language, sym) == TSSymbolTypeRegular)
        }
        kinds.append("ERROR")
        named.append(true)
        var fields = [""]
        let fieldCount = Int(ts_language_field_count(language))
        if fieldCount > 0 {
            for f in 1...fieldCount {
                fields.append(ts_language_field_name_for_id(language, TSFieldId(f)).map { String(cString: $0) } ?? "")
            }
        }
        return LanguageTable(name: name, abi: abi, kindNames: kinds, kindNamed: named, fieldNames: fields)
    }
}

/// Names in a directory (not `.`/`..`), or throws when it cannot be opened.
func listDirectory(_ path: String) throws -> [String] {
    guard let dir = opendir(path) else { throw CSTPackError("\(path): \(errnoText())") }
    defer { closedir(dir) }
    var names: [String] = []
    while let entry = readdir(dir) {
        let name = String(decoding: entryName(entry), as: UTF8.self)
        if name != "." && name != ".." { names.append(name) }
    }
    return names
}
